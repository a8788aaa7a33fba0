import { type OneTimeSchedules, scheduleDigest } from '@keyrot/shared';
import type { IssueRequest, RequestRetries } from '../issue-key';

/**
 * {@link RequestRetries} on EventBridge Scheduler: a one-time schedule that puts the same
 * request (`KeyRotationRequested`, same rotation id) on the API bus, where the issuer's own
 * rule delivers it and the issuer resumes the rotation from the ledger.
 */
export class SchedulerRequestRetries implements RequestRetries {
  constructor(private readonly schedules: OneTimeSchedules) {}

  retry(request: IssueRequest, at: Date) {
    const { rotationId, target, reason, requestedBy } = request;
    return this.schedules.schedule(
      'KeyRotationRequested',
      { version: 1, rotationId, target, reason, ...(requestedBy && { requestedBy }) },
      // One name per try: the time names it (two tries of one rotation never share a second).
      `keyrot-retry-${scheduleDigest(rotationId)}-${Math.ceil(at.getTime() / 1000)}`,
      `keyrot: retry of the request of ${rotationId}`,
      at,
    );
  }
}
