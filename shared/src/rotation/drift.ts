import type { KeyRef } from '../events';
import type { RotationState } from './state';
import type { StepOf, StepRecord } from './steps';

/**
 * What the edge may send for a target, from the ledger alone: the target's current key (the
 * newest COMPLETED rotation's new key, or a key adopted after it), and, while a rotation is in
 * flight, also that rotation's new key and the keys it supersedes (the edge moves from one to
 * the other during it, and keyrot's own write must never read as drift).
 */
export interface EdgeExpectation {
  /** The key the edge should send; undefined when the ledger names none yet. */
  readonly current?: KeyRef;
  /** Fingerprints the edge may send now. */
  readonly acceptable: ReadonlySet<string>;
  /** A rotation of the target holds its lock. */
  readonly inFlight: boolean;
  /** The target's newest drift record, if no heal result closed it. */
  readonly openDrift?: StepOf<'DRIFT'>;
}

/**
 * How long an open drift record stands for the same drift: within it, seeing the same drift
 * again records nothing more (the metric still counts it, so the alarm stays on); past it, a
 * drift that lasts gets a record of its own again, once a day at most.
 */
export const DRIFT_REPEAT_WINDOW_MS = 24 * 3600_000;

/**
 * How long a heal may take before the drift guard asks again: the edge's heal is idempotent
 * (a second request finds the header set and only waits), so a lost request is not fatal.
 */
export const HEAL_RETRY_AFTER_MS = 30 * 60_000;

/**
 * The edge's expectation from the target's history (newest first, across records, as the
 * ledger's `history` returns it) and the state of the rotation holding its lock, if any.
 */
export function edgeExpectation(
  history: readonly StepRecord[],
  inFlight?: RotationState,
): EdgeExpectation {
  const current = currentKeyOf(history);
  const acceptable = new Set<string>();
  if (current) acceptable.add(current.fingerprint);
  const flying = inFlight !== undefined && inFlight.outcome === undefined;
  if (flying) {
    if (inFlight.newKey) acceptable.add(inFlight.newKey.fingerprint);
    for (const key of inFlight.supersededKeys) acceptable.add(key.fingerprint);
  }
  const openDrift = openDriftOf(history);
  return {
    ...(current && { current }),
    acceptable,
    inFlight: flying,
    ...(openDrift && { openDrift }),
  };
}

/** The target's current key: the newest COMPLETED's new key or ADOPTED key, whichever is later. */
export function currentKeyOf(history: readonly StepRecord[]): KeyRef | undefined {
  for (const step of history) {
    if (step.step === 'COMPLETED') return step.newKey;
    if (step.step === 'ADOPTED' && step.keys[0]) return step.keys[0];
  }
  return undefined;
}

function openDriftOf(history: readonly StepRecord[]): StepOf<'DRIFT'> | undefined {
  const newest = history.find((s): s is StepOf<'DRIFT'> => s.step === 'DRIFT');
  if (!newest) return undefined;
  const closed = history.some(
    (s) => s.rotationId === newest.rotationId && (s.step === 'HEALED' || s.step === 'HEAL_FAILED'),
  );
  return closed ? undefined : newest;
}

/** What the drift guard does with one observation of the edge. */
export type DriftDecision =
  /** The edge sends a key it may send: nothing is recorded. */
  | { readonly action: 'none'; readonly reason: 'acceptable' }
  /** The ledger names no current key yet (never rotated, nothing adopted): nothing to compare. */
  | { readonly action: 'none'; readonly reason: 'no-current-key' }
  /**
   * Drift. `record`: a DRIFT entry is written (false: the open record already stands for it).
   * `heal`: keyrot puts the current key back (only when the edge's key is not live and no
   * rotation is in flight); `healId` is the drift record the heal reports to.
   */
  | {
      readonly action: 'drift';
      readonly expected: KeyRef;
      readonly observedKeyLive: boolean;
      readonly record: boolean;
      readonly heal: boolean;
      /** The open record this drift continues, when `record` is false. */
      readonly continues?: StepOf<'DRIFT'>;
    };

/** The observation, as the edge reported it, and whether its key is live on the plan. */
export interface Observation {
  readonly fingerprint: string | null;
  /** When the edge read the header (ISO-8601). */
  readonly observedAt: string;
}

/** Whether the observation needs no liveness check: the edge sends a key it may send. */
export function isAcceptable(expectation: EdgeExpectation, observed: Observation): boolean {
  return observed.fingerprint !== null && expectation.acceptable.has(observed.fingerprint);
}

/**
 * The drift guard's decision. A drift to a key that is still live (another client's key, an
 * older key that was never deleted) is recorded and alarmed, never overwritten: requests
 * still succeed, and only the operator knows which key is right. A key that is not live
 * (deleted, disabled, off the plan, or no header at all) fails every request, so the current
 * key is put back, unless a rotation is in flight (its own write decides the header then).
 */
export function driftDecision(
  expectation: EdgeExpectation,
  observed: Observation,
  observedKeyLive: boolean,
  now: Date,
): DriftDecision {
  if (!expectation.current) return { action: 'none', reason: 'no-current-key' };
  if (isAcceptable(expectation, observed)) return { action: 'none', reason: 'acceptable' };
  const expected = expectation.current;
  const heal = !observedKeyLive && !expectation.inFlight;
  const open = expectation.openDrift;
  const same =
    open !== undefined &&
    open.observedFingerprint === observed.fingerprint &&
    open.expectedFingerprint === expected.fingerprint &&
    now.getTime() - Date.parse(open.at) < DRIFT_REPEAT_WINDOW_MS;
  if (!same) return { action: 'drift', expected, observedKeyLive, record: true, heal };
  // The same drift again: its record stands. Ask for the heal again only if it is overdue.
  const overdue = now.getTime() - Date.parse(open.at) >= HEAL_RETRY_AFTER_MS;
  return {
    action: 'drift',
    expected,
    observedKeyLive,
    record: false,
    heal: heal && (!open.healing || overdue),
    continues: open,
  };
}
