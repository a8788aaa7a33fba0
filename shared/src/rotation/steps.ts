import type { ErrorSummary } from '../errors';
import type { Actor, KeyRef, ObservationTrigger, RotationReason, Target } from '../events';
import type { FAILURE_STAGES } from '../events/schemas';

/** Steps of a rotation in the order they happen; the number orders them in the ledger. */
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
  /**
   * Not a rotation's step: the operator handed an existing key to keyrot (`keyrot adopt`).
   * Its own record (`adopt_<key id>`), opened and closed by this one step.
   */
  ADOPTED: 1,
  /**
   * Not a rotation's step: the drift guard saw the edge send a key that is not the target's
   * current one (nor one a rotation in flight may send). Its own record (`drift_<time>_<id>`),
   * opened by this step; a heal closes it with HEALED or HEAL_FAILED.
   */
  DRIFT: 1,
  HEALED: 2,
  HEAL_FAILED: 2,
} as const;
export type Step = keyof typeof STEP_ORDER;
export type Outcome = Extract<Step, 'COMPLETED' | 'FAILED' | 'REFUSED' | 'REJECTED'>;
export const OUTCOMES: readonly Outcome[] = ['COMPLETED', 'FAILED', 'REFUSED', 'REJECTED'];
export const isOutcome = (step: Step): step is Outcome =>
  (OUTCOMES as readonly string[]).includes(step);

export type FailureStage = (typeof FAILURE_STAGES)[number];

/** What every ledger entry has: which rotation, which target, when, and who acted. */
interface StepBase {
  readonly rotationId: string;
  /** The target's name (`-` for an event rejected before its target was known). */
  readonly target: string;
  /** ISO-8601 time the step happened (for the edge's steps, the edge's own clock). */
  readonly at: string;
  readonly actor: Actor;
}

/** Who asked for the rotation and with which event, as the request said (for audit). */
interface RequestFields {
  readonly reason: RotationReason;
  /** The full target, as requested. */
  readonly targetSpec: Target;
  readonly requestedBy?: string;
  /** Id of the EventBridge event that carried the request (to trace it in CloudTrail). */
  readonly eventId?: string;
}

type Entry<S extends Step, F> = StepBase & { readonly step: S } & F;

/**
 * One ledger entry: a discriminated union on `step`, each step with its own fields. Keys
 * appear by id and fingerprint only: no step has a place for a value, so none can be stored.
 */
export type StepRecord =
  /** The target's lock was taken and the rotation began. */
  | Entry<'REQUESTED', RequestFields>
  /** The keys of the target's name on its usage plan: the ones this rotation supersedes. */
  | Entry<'KEYS_LISTED', { readonly keys: readonly KeyRef[] }>
  | Entry<'KEY_CREATED', { readonly newKey: KeyRef }>
  | Entry<'KEY_ASSOCIATED', { readonly newKey: KeyRef }>
  | Entry<'KEY_READY', { readonly newKey: KeyRef }>
  /** Recorded just before `KeyCreated` is put: from here on the new key may be at the edge. */
  | Entry<'KEY_SENT', { readonly newKey: KeyRef; readonly keys: readonly KeyRef[] }>
  /** The edge sends the new key everywhere (`at` is the edge's `deployedAt`). */
  | Entry<
      'EDGE_UPDATED',
      {
        readonly newKey: KeyRef;
        /** When the edge wrote the header. */
        readonly updatedAt: string;
        readonly previousFingerprint: string | null;
      }
    >
  | Entry<
      'KEYS_RETIRED',
      {
        readonly newKey: KeyRef;
        /** The keys deleted. */
        readonly keys: readonly KeyRef[];
        readonly previousFingerprint: string | null;
        /** Superseded keys left in place because another keyrot target owns them. */
        readonly protected: number;
        readonly graceSeconds: number;
      }
    >
  /** The new key was deleted again: the edge never sent it. */
  | Entry<'ROLLED_BACK', { readonly newKey: KeyRef; readonly keys: readonly KeyRef[] }>
  | Entry<
      'COMPLETED',
      {
        readonly newKey: KeyRef;
        readonly keys: readonly KeyRef[];
        /** The target as this rotation proved it works. */
        readonly targetSpec: Target;
        /** When the new key was created (the key's age counts from here). */
        readonly keyCreatedAt?: string;
      }
    >
  | Entry<
      'FAILED',
      {
        readonly stage: FailureStage;
        readonly error: ErrorSummary;
        readonly newKey?: KeyRef;
        readonly rolledBack: boolean;
        /** Whether the edge may send the new key (so it was kept live). */
        readonly newKeyMayBeAtEdge: boolean;
        /** When, and by whom, the failure was reported (the edge's report, for stage `edge`). */
        readonly failedAt?: string;
        readonly reportedBy?: string;
        readonly reportedByFunction?: string;
        readonly reportedByRequestId?: string;
      }
    >
  /** The target was locked by another rotation. */
  | Entry<
      'REFUSED',
      Partial<RequestFields> & { readonly lockedBy: string; readonly lockExpiresAt: string }
    >
  | Entry<
      'REJECTED',
      {
        readonly error: ErrorSummary;
        readonly eventId?: string;
        /**
         * The target the rejected request named, as it claimed it (a well-formed name, not
         * trusted: the request was not), so `status` can show the rejection on that target.
         */
        readonly claimedTarget?: string;
      }
    >
  /**
   * The operator handed an existing key keyrot did not create to the target (`keyrot adopt`):
   * it is tagged as the target's, so the target's next rotation supersedes and retires it.
   */
  | Entry<
      'ADOPTED',
      {
        /** The adopted key (one). */
        readonly keys: readonly KeyRef[];
        /** Its name in API Gateway (may differ from the target's `apiKeyName`). */
        readonly keyName: string;
        /** The target as adopted. */
        readonly targetSpec: Target;
        /** Whether the edge sent this key when it was adopted. */
        readonly atEdge: boolean;
        /** Adopted with `--force` although the edge did not send it. */
        readonly forced: boolean;
        /** Who adopted it: the caller's IAM ARN. */
        readonly requestedBy: string;
      }
    >
  /**
   * The edge sends a key that is not the target's current key (docs/operations.md, "Drift
   * guard"). Recorded once per drift: while it lasts, later checks see the open record.
   */
  | Entry<
      'DRIFT',
      {
        /** What the edge sends (null: no header at all). */
        readonly observedFingerprint: string | null;
        /** The target's current key: what the edge should send. */
        readonly expectedFingerprint: string;
        readonly trigger: ObservationTrigger;
        /** Whether the observed key is an existing, enabled key on the target's usage plan. */
        readonly observedKeyLive: boolean;
        /** When the edge-updater read the header. */
        readonly observedAt: string;
        /** Whether keyrot puts the current key back (only when the observed one is not live). */
        readonly healing: boolean;
      }
    >
  /** The current key is back at the edge, deployed everywhere (`at` is the edge's `deployedAt`). */
  | Entry<
      'HEALED',
      {
        readonly newKey: KeyRef;
        readonly previousFingerprint: string | null;
        readonly updatedAt: string;
      }
    >
  | Entry<'HEAL_FAILED', { readonly newKey: KeyRef; readonly error: ErrorSummary }>;

/**
 * The ledger id of a drift record: when it was seen and a digest of what was seen, so two
 * checks of the same moment record one drift.
 */
export const driftId = (observedAt: string, digest: string): string =>
  `drift_${observedAt.replace(/[-:]/g, '').replace(/\.\d+/, '')}_${digest.slice(0, 8)}`;

/** The ledger id of a key's adoption record: one per key, so adopting twice records once. */
export const adoptionId = (keyId: string): string => `adopt_${keyId}`;

/** The entry of one step. */
export type StepOf<S extends Step> = Extract<StepRecord, { readonly step: S }>;
/** A step's own fields: what its recorder supplies (the base comes from {@link stepsOf}). */
export type StepFields<S extends Step> = Omit<StepOf<S>, keyof StepBase | 'step'> &
  Partial<Pick<StepBase, 'at' | 'actor'>>;

/**
 * Reads a stored entry. Entries written before the steps had their own fields kept them in
 * a `facts` map under the same names; they read as the typed step. A FAILED entry of that
 * time did not say whether the new key may be at the edge: unless it was rolled back, it may.
 */
export function storedStep(item: Record<string, unknown>): StepRecord {
  const { facts, ...rest } = item as { facts?: Record<string, unknown> };
  const step = { ...(facts ?? {}), ...rest } as Record<string, unknown>;
  if (step.step === 'FAILED' && typeof step.newKeyMayBeAtEdge !== 'boolean') {
    step.newKeyMayBeAtEdge = step.rolledBack !== true && step.newKey !== undefined;
  }
  return step as unknown as StepRecord;
}

/** The new key a step names, if it names one. */
export const newKeyOf = (step: StepRecord): KeyRef | undefined =>
  'newKey' in step ? step.newKey : undefined;
/** The keys a step lists (superseded, retired or rolled back), if it lists any. */
export const keysOf = (step: StepRecord): readonly KeyRef[] | undefined =>
  'keys' in step ? step.keys : undefined;
export const errorOf = (step: StepRecord): ErrorSummary | undefined =>
  'error' in step ? step.error : undefined;
export const reasonOf = (step: StepRecord): RotationReason | undefined =>
  'reason' in step ? step.reason : undefined;

const SHARED_FIELDS: ReadonlySet<string> = new Set([
  'rotationId',
  'target',
  'step',
  'at',
  'actor',
  'newKey',
  'keys',
  'reason',
  'error',
  'targetSpec',
]);

/** A step's own scalar fields (the lock holder, the stage, the grace…), for exports. */
export function detailsOf(step: StepRecord): Record<string, string | number | boolean | null> {
  const details: Record<string, string | number | boolean | null> = {};
  for (const [name, value] of Object.entries(step)) {
    if (SHARED_FIELDS.has(name) || value === undefined) continue;
    if (typeof value === 'object' && value !== null) continue;
    details[name] = value as string | number | boolean | null;
  }
  return details;
}

/** The ledger id under which an event rejected before it was trusted is recorded. */
export const rejectedRotationId = (eventId: string): string =>
  `evt_${eventId.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 80) || 'unknown'}`;
