import {
  summarizeError,
  type Actor,
  type Clock,
  type EdgeCheckTrigger,
  type EventPublisher,
  type KeyrotLogger,
  type ObserveResult,
  type Target,
} from '@keyrot/shared';
import type { EdgeConfigStore } from './edge-config';

export interface ObserveDeps {
  /** Read only: checkEdge's role may not write a distribution. */
  readonly edge: Pick<EdgeConfigStore, 'readHeader'>;
  readonly events: EventPublisher;
  readonly clock: Clock;
  readonly log: KeyrotLogger;
  readonly actor: Actor;
  /** The targets whose drift guard is on (keyrot.targets.yml). */
  readonly targets: readonly Target[];
}

/** One or more targets' headers could not be read (each is named in the log). */
export class ObservationError extends Error {
  override readonly name = 'ObservationError';
  constructor(readonly targets: readonly string[]) {
    super(`could not read the header of ${targets.join(', ')}`);
  }
}

/**
 * The drift guard's eyes at the edge: reads the header each affected target's origin sends
 * (by fingerprint) and announces it as `EdgeObserved`; the API side judges it. A CloudTrail
 * record of an `UpdateDistribution` affects the targets on that distribution (none, if
 * it is not a driftGuard target's); the hourly schedule affects every driftGuard target.
 * The header is read now, not taken from the event: what counts is what the edge sends.
 * A target that cannot be read is logged and the others still checked; then it throws, so
 * Lambda retries (and, past its retries, dead-letters) the event.
 */
export async function observeEdge(
  trigger: EdgeCheckTrigger,
  deps: ObserveDeps,
): Promise<ObserveResult> {
  const targets =
    trigger.trigger === 'cloudtrail'
      ? deps.targets.filter((t) => t.distributionId === trigger.distributionId)
      : deps.targets;
  const unread: string[] = [];
  for (const target of targets) {
    try {
      const { fingerprint } = await deps.edge.readHeader(target);
      await deps.events.publish('EdgeObserved', {
        version: 1,
        target,
        fingerprint,
        observedAt: deps.clock.now().toISOString(),
        trigger: trigger.trigger,
        actor: deps.actor,
      });
      deps.log.info('edge observed', {
        target: target.name,
        fingerprint,
        trigger: trigger.trigger,
      });
    } catch (error) {
      unread.push(target.name);
      deps.log.error('reading the edge failed', {
        target: target.name,
        error: summarizeError(error),
      });
    }
  }
  if (unread.length > 0) throw new ObservationError(unread);
  return { status: 'observed', targets: targets.length };
}
