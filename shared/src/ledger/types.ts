import type { ErrorSummary } from '../errors';
import type { Actor, KeyRef, RotationReason, Target } from '../events';

/** Steps of a rotation in the order they happen; the number orders them in the table. */
export const STEP_ORDER = {
  REQUESTED: 1,
  KEYS_LISTED: 2,
  KEY_CREATED: 3,
  KEY_ASSOCIATED: 4,
  KEY_READY: 5,
  KEY_SENT: 6,
  EDGE_UPDATED: 7,
  KEYS_RETIRED: 8,
  ROLLED_BACK: 9,
  COMPLETED: 10,
  FAILED: 10,
  REFUSED: 10,
  /** An event rejected before it could be trusted (no rotation to attach it to). */
  REJECTED: 10,
} as const;
export type Step = keyof typeof STEP_ORDER;
export type Outcome = Extract<Step, 'COMPLETED' | 'FAILED' | 'REFUSED' | 'REJECTED'>;
export const OUTCOMES: readonly Outcome[] = ['COMPLETED', 'FAILED', 'REFUSED', 'REJECTED'];

/**
 * One ledger entry. Keys appear by id and fingerprint only: the type has no place for a
 * value, so none can be stored.
 */
export interface StepRecord {
  readonly rotationId: string;
  /** The target's name. */
  readonly target: string;
  readonly step: Step;
  /** ISO-8601 time the step happened (for the edge's steps, the edge's own clock). */
  readonly at: string;
  readonly actor: Actor;
  readonly newKey?: KeyRef;
  /** Keys the step is about: superseded keys when listed, deleted keys when retired. */
  readonly keys?: readonly KeyRef[];
  readonly reason?: RotationReason;
  /** The full target, recorded on REQUESTED for audit and on COMPLETED as proven to work. */
  readonly targetSpec?: Target;
  /** Short facts about the step (ETag, previous fingerprint, the lock holder…). */
  readonly facts?: Readonly<Record<string, string | number | boolean | null>>;
  readonly error?: ErrorSummary;
}

export interface Lock {
  readonly target: string;
  readonly rotationId: string;
  readonly acquiredAt: string;
  readonly expiresAt: string;
}

export type BeginResult =
  { readonly status: 'started' } | { readonly status: 'refused'; readonly holder: Lock };

/** Port: the rotation ledger. */
export interface Ledger {
  /** Every step of one rotation, in order. */
  timeline(rotationId: string): Promise<StepRecord[]>;
  /** A target's steps across rotations, newest first (at most `limit`). */
  history(target: string, limit?: number): Promise<StepRecord[]>;
  /**
   * Takes the target's lock and records REQUESTED, atomically (I2). If another rotation holds
   * an unexpired lock, records REFUSED for this one instead.
   */
  begin(requested: StepRecord, lockSeconds: number): Promise<BeginResult>;
  /** Appends a step; false when it was already recorded (a redelivery). */
  record(step: StepRecord): Promise<boolean>;
  /** Records the outcome and releases the lock if this rotation still holds it. */
  finish(outcome: StepRecord & { step: 'COMPLETED' | 'FAILED' }): Promise<void>;
  lockOf(target: string): Promise<Lock | undefined>;
}
