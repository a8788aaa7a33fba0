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
