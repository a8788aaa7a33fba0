import type { Actor } from '../events';
import type { KeyrotLogger } from '../log';
import type { Clock } from '../runtime';
import type { Ledger, Step, StepRecord } from './types';

/** Builds the step records of one rotation, stamped with the actor and the current time. */
export function stepsOf(rotationId: string, target: string, actor: Actor, clock: Clock) {
  return <S extends Step>(
    step: S,
    fields: Partial<Omit<StepRecord, 'step'>> = {},
  ): StepRecord & { step: S } => ({
    rotationId,
    target,
    step,
    at: clock.now().toISOString(),
    actor,
    ...fields,
  });
}

/** A rotation's recorded steps by name (one Query). */
export async function recordedSteps(
  ledger: Ledger,
  rotationId: string,
): Promise<Map<Step, StepRecord>> {
  return new Map((await ledger.timeline(rotationId)).map((s) => [s.step, s]));
}

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
