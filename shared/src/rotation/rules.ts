import type { RotationState } from './state';
import type { Step, StepRecord } from './steps';

/** Who records steps: the services, by their stack name, and the operator's CLI (adoption). */
export type Recorder = 'key-issuer' | 'key-reaper' | 'keyrot-cli';

interface StepRule {
  /** Who may record the step (`any`: every service, for events it rejected; not the CLI). */
  readonly by: readonly Recorder[] | 'any';
  /** Steps that must be recorded first. */
  readonly after: readonly Step[];
  /** Whether it may still be recorded once the rotation has an outcome. */
  readonly afterOutcome?: boolean;
  /** Steps after which it may no longer be recorded. */
  readonly notAfter?: readonly Step[];
}

/**
 * Which service may record which step, from which state: the protocol's one table. The
 * edge-updater records nothing (the ledger is in the API account); it reports by events. The
 * CLI records only ADOPTED (`keyrot adopt`), in a record of its own; the drift guard's
 * checkDrift (key-reaper) DRIFT, HEALED and HEAL_FAILED, in a record of its own per drift.
 */
export const STEP_RULES: { readonly [S in Step]: StepRule } = {
  REQUESTED: { by: ['key-issuer'], after: [] },
  REFUSED: { by: ['key-issuer'], after: [] },
  REJECTED: { by: 'any', after: [] },
  KEYS_LISTED: { by: ['key-issuer'], after: ['REQUESTED'] },
  KEY_CREATED: { by: ['key-issuer'], after: ['KEYS_LISTED'] },
  KEY_ASSOCIATED: { by: ['key-issuer'], after: ['KEY_CREATED'] },
  KEY_READY: { by: ['key-issuer'], after: ['KEY_ASSOCIATED'] },
  KEY_SENT: { by: ['key-issuer'], after: ['KEY_ASSOCIATED'] },
  // Also after FAILED: an edge that finished late is recorded, and nothing is deleted.
  EDGE_UPDATED: { by: ['key-reaper'], after: ['KEY_SENT'], afterOutcome: true },
  KEYS_RETIRED: { by: ['key-reaper'], after: ['EDGE_UPDATED'] },
  // Never once the edge is known to send the new key.
  ROLLED_BACK: {
    by: ['key-issuer', 'key-reaper'],
    after: ['KEY_CREATED'],
    notAfter: ['EDGE_UPDATED'],
  },
  COMPLETED: { by: ['key-reaper'], after: ['KEYS_RETIRED'] },
  FAILED: { by: ['key-issuer', 'key-reaper'], after: ['REQUESTED'] },
  // The operator's hand-over of an existing key: its own record, never part of a rotation.
  ADOPTED: { by: ['keyrot-cli'], after: [], notAfter: ['REQUESTED', 'REFUSED', 'REJECTED'] },
  // The drift guard's record: opened by checkDrift (key-reaper), closed by its heal's result.
  DRIFT: { by: ['key-reaper'], after: [], notAfter: ['REQUESTED', 'ADOPTED'] },
  HEALED: { by: ['key-reaper'], after: ['DRIFT'], notAfter: ['HEAL_FAILED'] },
  HEAL_FAILED: { by: ['key-reaper'], after: ['DRIFT'], notAfter: ['HEALED'] },
};

/** Whether `recorder` may record `step` at all (whatever the state). */
export function recordsStep(recorder: Recorder, step: Step): boolean {
  const rule = STEP_RULES[step];
  return rule.by === 'any' ? recorder !== 'keyrot-cli' : rule.by.includes(recorder);
}

/** Why `recorder` may not record `step` in `state`, or undefined if it may. */
export function refusalToRecord(
  recorder: Recorder | 'any',
  step: StepRecord,
  state: RotationState,
): string | undefined {
  const rule = STEP_RULES[step.step];
  if (recorder !== 'any' && !recordsStep(recorder, step.step)) {
    return `${recorder} does not record ${step.step}`;
  }
  const missing = rule.after.filter((s) => !state.has(s));
  if (missing.length > 0) return `${step.step} before ${missing.join(', ')}`;
  if (state.outcome && !rule.afterOutcome && state.outcome.step !== step.step) {
    return `${step.step} after ${state.outcome.step}`;
  }
  const past = rule.notAfter?.find((s) => state.has(s));
  if (past) return `${step.step} after ${past}`;
  return undefined;
}

/** What the issuer does with a request, given the rotation's state. */
export type IssuerAction =
  /** Nothing recorded: take the lock and start. */
  | 'begin'
  /** Started before, not yet announced: continue from the last recorded step. */
  | 'resume'
  /** Announced by a run that died before it ended: announce again. */
  | 'announce-again'
  /** Past the issuer (announced by a run that ended, or closed): nothing to do. */
  | 'done';

/**
 * The issuer's decision. `takenOver`: this run took the rotation's lease over from a run that
 * died holding it (see lease.ts); only then may a recorded KEY_SENT mean "maybe not announced".
 */
export function issuerAction(state: RotationState, takenOver: boolean): IssuerAction {
  if (state.outcome || state.has('EDGE_UPDATED')) return 'done';
  if (state.has('KEY_SENT')) return takenOver ? 'announce-again' : 'done';
  return state.has('REQUESTED') ? 'resume' : 'begin';
}

/** What the reaper does with `EdgeUpdated`. */
export type RetireAction =
  | 'unknown-rotation'
  | 'retire'
  /** The rotation failed before the edge finished: record it, delete nothing. */
  | 'late'
  /** Completed by a run that died before announcing `KeyRetired`. */
  | 'announce-again'
  | 'duplicate';

export function retireAction(state: RotationState, takenOver: boolean): RetireAction {
  if (!state.has('REQUESTED') || !state.step('KEY_SENT')) return 'unknown-rotation';
  if (state.outcome?.step === 'COMPLETED') return takenOver ? 'announce-again' : 'duplicate';
  if (state.outcome) return state.has('EDGE_UPDATED') ? 'duplicate' : 'late';
  return 'retire';
}

/** What the reaper does with `RotationFailed`. */
export type CloseAction = 'unknown-rotation' | 'duplicate' | 'close';

export function closeAction(state: RotationState): CloseAction {
  if (!state.has('REQUESTED')) return 'unknown-rotation';
  return state.outcome ? 'duplicate' : 'close';
}

/**
 * Whether a failed rotation's new key may be deleted: only while neither the ledger nor the
 * failure report says the edge may send it.
 */
export function mayRollBack(state: RotationState, report: { newKeyMayBeAtEdge: boolean }) {
  return state.newKey !== undefined && !report.newKeyMayBeAtEdge && !state.has('EDGE_UPDATED');
}
