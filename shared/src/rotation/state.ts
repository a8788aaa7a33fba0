import type { KeyRef } from '../events';
import {
  isOutcome,
  STEP_ORDER,
  type Outcome,
  type Step,
  type StepOf,
  type StepRecord,
} from './steps';

/**
 * Where a rotation is, from its recorded steps alone:
 * - `none`: nothing recorded;
 * - `issuing`: the lock is taken, the issuer is making and adding the new key;
 * - `at-edge`: `KeyCreated` may have been put; the edge is setting and deploying the header;
 * - `retiring`: the edge sends the new key everywhere; the reaper deletes the superseded keys;
 * - `ended`: an outcome is recorded (see {@link RotationState.outcome}).
 */
export type Phase = 'none' | 'issuing' | 'at-edge' | 'retiring' | 'ended';

export interface RotationState {
  readonly phase: Phase;
  /** The entry of a step, if recorded. */
  step<S extends Step>(step: S): StepOf<S> | undefined;
  has(step: Step): boolean;
  readonly requested?: StepOf<'REQUESTED'>;
  /** The key this rotation created, once recorded. */
  readonly newKey?: KeyRef;
  /** The keys this rotation supersedes, as announced to the edge (or as listed, before). */
  readonly supersededKeys: readonly KeyRef[];
  /**
   * Whether the edge may send the new key: from the moment `KeyCreated` may have been put,
   * the new key is never deleted by a rollback. Only a failure that says it never got there
   * (the announcement was refused) lowers it again.
   */
  readonly newKeyMayBeAtEdge: boolean;
  /** The step that ended the rotation. */
  readonly outcome?: StepOf<Outcome>;
  /** The latest step in the protocol's order. */
  readonly lastStep?: StepRecord;
}

/** The state of one rotation from its recorded steps (any order; duplicates ignored). */
export function rotationState(steps: readonly StepRecord[]): RotationState {
  const byStep = new Map<Step, StepRecord>();
  for (const s of steps) if (!byStep.has(s.step)) byStep.set(s.step, s);
  const step = <S extends Step>(name: S) => byStep.get(name) as StepOf<S> | undefined;
  const has = (name: Step) => byStep.has(name);
  const outcome = steps.find((s) => isOutcome(s.step)) as StepOf<Outcome> | undefined;
  const sent = step('KEY_SENT');
  const newKey = step('KEY_CREATED')?.newKey ?? sent?.newKey;
  const failed = outcome?.step === 'FAILED' ? outcome : undefined;
  const phase: Phase = outcome
    ? 'ended'
    : has('EDGE_UPDATED')
      ? 'retiring'
      : sent
        ? 'at-edge'
        : has('REQUESTED')
          ? 'issuing'
          : 'none';
  const ordered = [...byStep.values()];
  return {
    phase,
    step,
    has,
    ...(step('REQUESTED') && { requested: step('REQUESTED') }),
    ...(newKey && { newKey }),
    supersededKeys: sent?.keys ?? step('KEYS_LISTED')?.keys ?? [],
    newKeyMayBeAtEdge: failed
      ? failed.newKeyMayBeAtEdge && !has('ROLLED_BACK')
      : sent !== undefined || has('EDGE_UPDATED'),
    ...(outcome && { outcome }),
    ...(ordered.length > 0 && { lastStep: ordered.reduce(later) }),
  };
}

/**
 * The newest completed rotation in a target's history (newest first, across rotations): the
 * one that made its current key. Its time is the key's age for the key-age alarm.
 */
export function lastCompletion(history: readonly StepRecord[]): StepOf<'COMPLETED'> | undefined {
  return history.find((s): s is StepOf<'COMPLETED'> => s.step === 'COMPLETED');
}

/** The later of two steps in the protocol's order (equal order: the later time). */
const later = (a: StepRecord, b: StepRecord) =>
  STEP_ORDER[b.step] > STEP_ORDER[a.step] ||
  (STEP_ORDER[b.step] === STEP_ORDER[a.step] && b.at > a.at)
    ? b
    : a;
