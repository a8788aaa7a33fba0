import { scheduleDigest, type OneTimeSchedules, type RetireRetry } from '@keyrot/shared';
import type { RetireRetries } from '../retire-keys';

/**
 * {@link RetireRetries} on EventBridge Scheduler: a one-time schedule that puts `RetireRetry`
 * on the API bus, where the reaper's own rule delivers it (from the API account only).
 */
export class SchedulerRetireRetries implements RetireRetries {
  constructor(private readonly schedules: OneTimeSchedules) {}

  retry(retry: RetireRetry, at: Date) {
    return this.schedules.schedule(
      'RetireRetry',
      retry,
      `keyrot-retire-${scheduleDigest(retry.rotationId)}-${retry.attempt}`,
      `keyrot: retry ${retry.attempt} of the deletes of ${retry.rotationId}`,
      at,
    );
  }
}
