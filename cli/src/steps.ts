import {
  errorOf,
  keysOf as listedKeys,
  newKeyOf,
  rotationState,
  type KeyRef,
  type StepRecord,
} from '@keyrot/shared';

/** The step that ended a rotation (COMPLETED, FAILED, REFUSED, REJECTED), if any. */
export const outcomeOf = (steps: readonly StepRecord[]) => rotationState(steps).outcome;

/** The target a REJECTED entry is recorded under: the event was not trusted (docs/ledger.md). */
export const REJECTED_TARGET = '-';

/** Whether a step opens a rotation's record (the first step it can have). */
export const opensRotation = (step: StepRecord): boolean =>
  step.step === 'REQUESTED' ||
  step.step === 'REFUSED' ||
  step.step === 'REJECTED' ||
  step.step === 'ADOPTED' ||
  step.step === 'DRIFT';

/** The keys a step is about: the listed, retired or rolled-back keys, else its new key. */
export function keysOf(step: StepRecord): readonly KeyRef[] {
  if (
    step.step === 'KEYS_LISTED' ||
    step.step === 'KEYS_RETIRED' ||
    step.step === 'ROLLED_BACK' ||
    step.step === 'ADOPTED'
  ) {
    return listedKeys(step) ?? [];
  }
  const newKey = newKeyOf(step);
  return newKey ? [newKey] : [];
}

export const keyIds = (keys: readonly KeyRef[]): string => keys.map((k) => k.id).join(' ');
export const fingerprints = (keys: readonly KeyRef[]): string =>
  keys.map((k) => k.fingerprint).join(' ');

/** `function@account`, the function's `keyrot-` prefix dropped. */
export const actorText = (step: StepRecord): string =>
  `${step.actor.function.replace(/^keyrot-/, '')}@${step.actor.account}`;

const keyText = (keys: readonly KeyRef[]) =>
  keys.map((k) => `${k.id} (${k.fingerprint})`).join(', ') || 'none';

/** One line saying what a step did, in an operator's words. Never a key value: there is none. */
export function describeStep(step: StepRecord): string {
  switch (step.step) {
    case 'REQUESTED':
      return `lock taken, rotation requested (${step.reason}${
        step.requestedBy !== undefined ? ` by ${step.requestedBy}` : ''
      })`;
    case 'KEYS_LISTED':
      return `keys to supersede: ${keyText(step.keys)}`;
    case 'KEY_CREATED':
      return `new key ${keyText(keysOf(step))}`;
    case 'KEY_ASSOCIATED':
      return 'new key added to the usage plan';
    case 'KEY_READY':
      return 'API Gateway accepts the new key';
    case 'KEY_SENT':
      return 'new key sealed for the edge, KeyCreated sent';
    case 'EDGE_UPDATED':
      return 'the edge sends the new key everywhere (Deployed)';
    case 'KEYS_RETIRED':
      return `superseded keys deleted: ${keyText(step.keys)}`;
    case 'ROLLED_BACK':
      return `new key deleted again: ${keyText(step.keys)}`;
    case 'COMPLETED':
      return 'rotation completed, lock released';
    case 'FAILED':
      return `failed at ${step.stage}: ${errorText(step)}`;
    case 'REFUSED':
      return `refused: ${refusalText(step)}`;
    case 'REJECTED':
      return `event rejected: ${errorText(step)}`;
    case 'ADOPTED':
      return `key ${keyText(step.keys)} named ${step.keyName} adopted by ${step.requestedBy}${
        step.atEdge ? ' (the edge sent it)' : ' (--force: the edge did not send it)'
      }; the next rotation retires it`;
    case 'DRIFT':
      return `edge drift (${step.trigger}): the edge sends ${step.observedFingerprint ?? 'no header'}, not the current key ${step.expectedFingerprint}; ${
        step.observedKeyLive
          ? 'that key is live: alarmed, not overwritten'
          : step.healing
            ? 'that key is not live: healing'
            : 'that key is not live; a rotation is in flight'
      }`;
    case 'HEALED':
      return `healed: the edge sends the current key ${keyText([step.newKey])} everywhere again (was ${step.previousFingerprint ?? 'no header'})`;
    case 'HEAL_FAILED':
      return `heal failed: ${errorText(step)}`;
  }
}

/** Why a request was refused: `target locked by <rotation> until <time>`. */
export function refusalText(step: StepRecord & { step: 'REFUSED' }): string {
  return `target locked by ${step.lockedBy} until ${step.lockExpiresAt}`;
}

/** `Name: message`, the error's field and rollback in words. */
export function errorText(step: StepRecord): string {
  const error = errorOf(step);
  if (!error) return 'no error recorded';
  const rolledBack = step.step === 'FAILED' && step.rolledBack ? '; new key rolled back' : '';
  return `${error.name}: ${error.message}${rolledBack}`;
}
