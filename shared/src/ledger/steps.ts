import type { Actor } from '../events';
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
