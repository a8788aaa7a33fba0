import type { Actor } from '../events';
import type { Clock } from '../runtime';
import { recordsStep, type Recorder } from './rules';
import type { Step, StepFields, StepOf } from './steps';

/**
 * Builds the step entries one service records for one rotation, stamped with the actor and
 * the current time. A step the service may not record (see `STEP_RULES`) does not build.
 */
export function stepsOf(
  recorder: Recorder,
  about: { readonly rotationId: string; readonly target: string },
  actor: Actor,
  clock: Clock,
) {
  return <S extends Step>(step: S, fields: StepFields<S>): StepOf<S> => {
    if (!recordsStep(recorder, step)) {
      throw new Error(`protocol: ${recorder} does not record ${step}`);
    }
    return {
      rotationId: about.rotationId,
      target: about.target,
      at: clock.now().toISOString(),
      actor,
      step,
      ...fields,
    } as unknown as StepOf<S>;
  };
}
