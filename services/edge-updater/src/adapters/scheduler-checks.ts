import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import {
  OneTimeSchedules,
  scheduleDigest,
  type EdgeDeploymentCheck,
  type EdgeUpdateRetry,
  type OneTimeSchedulesOptions,
} from '@keyrot/shared';
import type { DeploymentChecks } from '../deployment-checks';

export type SchedulerChecksOptions = OneTimeSchedulesOptions;
export { atExpression } from '@keyrot/shared';

/** Schedule name of a rotation's n-th check: stable, so a duplicate request conflicts. */
export function checkScheduleName(rotationId: string, check: number): string {
  return `keyrot-check-${scheduleDigest(rotationId)}-${check}`;
}

/** Schedule name of a rotation's n-th retry of the header write. */
export function retryScheduleName(rotationId: string, attempt: number): string {
  return `keyrot-retry-${scheduleDigest(rotationId)}-${attempt}`;
}

/**
 * {@link DeploymentChecks} on EventBridge Scheduler: a one-time schedule that puts the check
 * (or the retry) on the edge bus and deletes itself after it ran.
 *
 * @example
 * const checks = new SchedulerDeploymentChecks(new SchedulerClient({}), {
 *   groupName: 'keyrot-deploy-checks-prod',
 *   roleArn: 'arn:aws:iam::222222222222:role/keyrot-deploy-check-prod',
 *   busArn: 'arn:aws:events:us-east-1:222222222222:event-bus/keyrot',
 * });
 */
export class SchedulerDeploymentChecks implements DeploymentChecks {
  private readonly schedules: OneTimeSchedules;

  constructor(client: SchedulerClient, options: SchedulerChecksOptions) {
    this.schedules = new OneTimeSchedules(client, options);
  }

  schedule(check: EdgeDeploymentCheck, at: Date) {
    return this.schedules.schedule(
      'EdgeDeploymentCheck',
      check,
      checkScheduleName(check.rotationId, check.check),
      `keyrot: check ${check.check} of the deployment of ${check.rotationId}`,
      at,
    );
  }

  retry(retry: EdgeUpdateRetry, at: Date) {
    return this.schedules.schedule(
      'EdgeUpdateRetry',
      retry,
      retryScheduleName(retry.rotationId, retry.attempt),
      `keyrot: retry ${retry.attempt} of the header write of ${retry.rotationId}`,
      at,
    );
  }
}
