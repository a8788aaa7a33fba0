import type { KeyrotLogger } from '../log';
import type { Step } from '../rotation/steps';
import type { Ledger } from './types';

/**
 * The ledger, with each step it records also set as the `step` key of the function's log
 * lines, so every line after it says where the rotation is.
 */
export function withStepLogging(ledger: Ledger, log: KeyrotLogger): Ledger {
  const note = (step: Step) => log.appendKeys({ step });
  return {
    timeline: (rotationId) => ledger.timeline(rotationId),
    history: (target, limit) => ledger.history(target, limit),
    lockOf: (target) => ledger.lockOf(target),
    adoptedKeys: (target) => ledger.adoptedKeys(target),
    ownedKeys: (target) => ledger.ownedKeys(target),
    claim: (lease, now) => ledger.claim(lease, now),
    release: (lease) => ledger.release(lease),
    interrupt: (lease) => ledger.interrupt(lease),
    async begin(requested, lockSeconds) {
      const result = await ledger.begin(requested, lockSeconds);
      note(result.status === 'refused' ? 'REFUSED' : requested.step);
      return result;
    },
    async record(step) {
      const written = await ledger.record(step);
      note(step.step);
      return written;
    },
    async finish(outcome) {
      await ledger.finish(outcome);
      note(outcome.step);
    },
  };
}
