import type { KeyRef } from '../events';

/** What the issuer's handler did with a request. */
export type IssueResult =
  | { status: 'sent'; rotationId: string; newKey: KeyRef; supersededKeys: KeyRef[] }
  | { status: 'duplicate'; rotationId: string }
  | { status: 'refused'; rotationId: string; lockedBy: string }
  /** A transient failure: the request is delivered again later and resumes. */
  | { status: 'retrying'; rotationId: string; error: string }
  | { status: 'failed'; rotationId: string; error: string };

/** A request naming many targets, put back as one request per target. */
export interface FanOutResult {
  status: 'fanned-out';
  rotationId: string;
}

/** What the edge-updater did with `KeyCreated` or a deployment check. */
export type EdgeResult =
  | {
      status: 'updated' | 'already-updated';
      rotationId: string;
      previousFingerprint: string | null;
      durationsMs: { EdgeDeploy: number };
    }
  | { status: 'deploying'; rotationId: string; check: number }
  /** A transient failure (throttling, a 5xx): the header write is tried again later. */
  | { status: 'retrying'; rotationId: string; attempt: number; error: string }
  | { status: 'failed'; rotationId: string; error: string };

/** What the reaper did with `EdgeUpdated` or `RotationFailed`. */
export type ReaperResult =
  | {
      status: 'completed';
      rotationId: string;
      retiredKeys: KeyRef[];
      /** Request to completion, and each side's part of it (for metrics). */
      durationsMs: Record<'Rotation' | 'Issue' | 'EdgeDeploy' | 'Retire', number>;
    }
  | { status: 'rolled-back' | 'closed'; rotationId: string }
  | { status: 'duplicate' | 'unknown-rotation' | 'late'; rotationId: string }
  /** A transient failure: the deletes are tried again later. */
  | { status: 'retrying'; rotationId: string; error: string }
  | { status: 'failed'; rotationId: string; error: string };

/** What the edge-updater's checkEdge did: observed this many targets' headers. */
export interface ObserveResult {
  status: 'observed';
  targets: number;
}

/** What the edge-updater did with `EdgeHealRequested` or a heal's deployment check. */
export type HealEdgeResult =
  | {
      status: 'healed-at-edge';
      rotationId: string;
      previousFingerprint: string | null;
      durationsMs: { EdgeHeal: number };
    }
  | { status: 'deploying'; rotationId: string; check: number }
  | { status: 'heal-failed'; rotationId: string; error: string };

/** What the drift guard's checkDrift did with `EdgeObserved`, `EdgeHealed` or `EdgeHealFailed`. */
export type DriftResult =
  /** The edge sends a key it may send, or there is nothing to compare it with. */
  | { status: 'no-drift'; reason: 'acceptable' | 'no-current-key' | 'guard-off' }
  /** Drift, recorded (or continuing an open record); a heal was asked for if `heal`. */
  | { status: 'drift'; rotationId: string; heal: boolean; recorded: boolean }
  | { status: 'healed' | 'heal-failed'; rotationId: string }
  /** A heal result for a record that has one already (a redelivery). */
  | { status: 'duplicate' | 'unknown-rotation'; rotationId: string };

/** An event the handler would not act on (untrusted sender, invalid detail). */
export interface RejectedResult {
  status: 'rejected';
}

export type RotationResult =
  | IssueResult
  | FanOutResult
  | EdgeResult
  | ReaperResult
  | RejectedResult
  | ObserveResult
  | HealEdgeResult
  | DriftResult;
export type ResultStatus = RotationResult['status'];

/** The CloudWatch metrics keyrot's alarms and dashboards read (docs/operations.md). */
export type OutcomeMetric =
  | 'RotationsStarted'
  | 'RotationsRefused'
  | 'RotationsFannedOut'
  | 'EdgeUpdates'
  | 'RotationRetries'
  | 'RotationsCompleted'
  | 'RotationsFailed'
  | 'DuplicateEvents'
  | 'EventsRejected'
  /** The drift guard saw the edge send a key that is not the current one (per target). */
  | 'EdgeDrift'
  /** Heals: the current key back at the edge, or a heal that failed. */
  | 'EdgeHeals'
  | 'EdgeHealsFailed';

/**
 * What each handler outcome counts as (null: no count). Keyed by every status a service's
 * result type can have, so a new outcome does not compile until it has its metric.
 */
export const OUTCOME_METRICS: { readonly [S in ResultStatus]: OutcomeMetric | null } = {
  sent: 'RotationsStarted',
  refused: 'RotationsRefused',
  'fanned-out': 'RotationsFannedOut',
  updated: 'EdgeUpdates',
  'already-updated': 'EdgeUpdates',
  deploying: null,
  retrying: 'RotationRetries',
  completed: 'RotationsCompleted',
  failed: 'RotationsFailed',
  'rolled-back': 'RotationsFailed',
  closed: 'RotationsFailed',
  duplicate: 'DuplicateEvents',
  late: 'DuplicateEvents',
  'unknown-rotation': 'EventsRejected',
  // Counted where the event is rejected (acceptEvent), before any handler runs.
  rejected: null,
  observed: null,
  'healed-at-edge': null,
  'heal-failed': 'EdgeHealsFailed',
  'no-drift': null,
  // Counted on every observation of a drift, recorded or not: the alarm stays on while it lasts.
  drift: 'EdgeDrift',
  healed: 'EdgeHeals',
};
