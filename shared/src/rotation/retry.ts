import { summarizeError, type ErrorSummary } from '../errors';
import type { KeyrotLogger } from '../log';

/**
 * When a step that failed on a transient cause (throttling, a 5xx that outlasted the SDK's
 * retries) is tried again: later, in another invocation, after a delay that doubles from a
 * minute up to 15 minutes, until the rotation's deadline. Only a permanent cause or the
 * deadline ends the rotation FAILED.
 */
export const MIN_RETRY_DELAY_MS = 60_000;
export const MAX_RETRY_DELAY_MS = 15 * 60_000;

/** The delay before try `attempt` (1 for the first retry), from `baseMs`. */
export function retryDelayMs(attempt: number, baseMs = MIN_RETRY_DELAY_MS): number {
  return Math.min(baseMs * 2 ** Math.max(0, attempt - 1), MAX_RETRY_DELAY_MS);
}

/**
 * The delay before the next try when only the time since the step's first try is known
 * (`elapsedMs`): as long again, between the bounds, so the delays double.
 */
export function retryDelayAfterMs(elapsedMs: number): number {
  return Math.min(Math.max(elapsedMs, MIN_RETRY_DELAY_MS), MAX_RETRY_DELAY_MS);
}

/** One later try of a step that failed on a transient cause. */
export interface LaterTry {
  readonly rotationId: string;
  /** The failure, summarised (retryable). */
  readonly error: ErrorSummary;
  /** What failed, for the log: `issuing`, `updating the edge`, `retiring`. */
  readonly what: string;
  readonly at: Date;
  /** Epoch milliseconds after which the rotation may not be tried again. */
  readonly deadline: number;
  readonly attempt?: number;
  readonly log: KeyrotLogger;
  /** Creates the schedule that delivers the try. */
  readonly schedule: () => Promise<'scheduled' | 'already-scheduled'>;
}

/**
 * Schedules a later try, if the deadline leaves time for it. True once scheduled (and
 * logged); false when it cannot be (past the deadline, or the schedule could not be made):
 * the caller then ends the rotation FAILED as before.
 */
export async function tryLater(t: LaterTry): Promise<boolean> {
  if (t.at.getTime() > t.deadline) return false;
  const about = {
    rotationId: t.rotationId,
    ...(t.attempt !== undefined && { attempt: t.attempt }),
  };
  try {
    const scheduled = await t.schedule();
    t.log.warn(`${t.what} failed on a transient cause; it is tried again later`, {
      ...about,
      error: t.error,
      at: t.at.toISOString(),
      scheduled,
    });
    return true;
  } catch (scheduleError) {
    t.log.error(`could not schedule the later try of ${t.what}`, {
      ...about,
      error: summarizeError(scheduleError),
    });
    return false;
  }
}
