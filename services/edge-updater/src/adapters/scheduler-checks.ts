import { createHash } from 'node:crypto';
import {
  ConflictException,
  CreateScheduleCommand,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import {
  AwsCallError,
  DETAIL_SCHEMAS,
  EVENT_SOURCE,
  InvalidInputError,
  type DetailType,
  type EdgeDeploymentCheck,
  type EdgeUpdateRetry,
} from '@keyrot/shared';
import type { DeploymentChecks } from '../deployment-checks';

export interface SchedulerChecksOptions {
  /** Schedule group the edge-updater may create schedules in (its IAM policy names it). */
  readonly groupName: string;
  /** Role EventBridge Scheduler assumes to put the check on the bus. */
  readonly roleArn: string;
  /** The edge account's keyrot bus, where the edge-updater listens for the check. */
  readonly busArn: string;
  /**
   * Queue for a check Scheduler could not put on the bus after its retries (the service's
   * dead-letter queue, which an alarm watches). Without it such a check is dropped.
   */
  readonly deadLetterArn?: string;
}

/** Schedule name of a rotation's n-th check: stable, so a duplicate request conflicts. */
export function checkScheduleName(rotationId: string, check: number): string {
  return `keyrot-check-${digestOf(rotationId)}-${check}`;
}

/** Schedule name of a rotation's n-th retry of the header write. */
export function retryScheduleName(rotationId: string, attempt: number): string {
  return `keyrot-retry-${digestOf(rotationId)}-${attempt}`;
}

const digestOf = (rotationId: string) =>
  createHash('sha256').update(rotationId, 'utf8').digest('hex').slice(0, 24);

/** `at(...)` of EventBridge Scheduler, in UTC, rounded up to the second. */
export function atExpression(at: Date): string {
  const rounded = new Date(Math.ceil(at.getTime() / 1000) * 1000);
  return `at(${rounded.toISOString().slice(0, 19)})`;
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
  constructor(
    private readonly client: SchedulerClient,
    private readonly options: SchedulerChecksOptions,
  ) {}

  async schedule(check: EdgeDeploymentCheck, at: Date) {
    return this.create(
      'EdgeDeploymentCheck',
      check,
      checkScheduleName(check.rotationId, check.check),
      `keyrot: check ${check.check} of the deployment of ${check.rotationId}`,
      at,
    );
  }

  async retry(retry: EdgeUpdateRetry, at: Date) {
    return this.create(
      'EdgeUpdateRetry',
      retry,
      retryScheduleName(retry.rotationId, retry.attempt),
      `keyrot: retry ${retry.attempt} of the header write of ${retry.rotationId}`,
      at,
    );
  }

  /** A one-time schedule that puts `detail` on the edge bus at `at`, then deletes itself. */
  private async create<T extends 'EdgeDeploymentCheck' | 'EdgeUpdateRetry'>(
    detailType: T & DetailType,
    detail: unknown,
    name: string,
    description: string,
    at: Date,
  ) {
    const valid = DETAIL_SCHEMAS[detailType].safeParse(detail);
    if (!valid.success) throw new InvalidInputError(detailType, valid.error.message);
    try {
      await this.client.send(
        new CreateScheduleCommand({
          Name: name,
          GroupName: this.options.groupName,
          Description: description,
          ScheduleExpression: atExpression(at),
          ScheduleExpressionTimezone: 'UTC',
          FlexibleTimeWindow: { Mode: 'OFF' },
          ActionAfterCompletion: 'DELETE',
          Target: {
            Arn: this.options.busArn,
            RoleArn: this.options.roleArn,
            Input: JSON.stringify(detail),
            EventBridgeParameters: { DetailType: detailType, Source: EVENT_SOURCE },
            RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 20 },
            ...(this.options.deadLetterArn && {
              DeadLetterConfig: { Arn: this.options.deadLetterArn },
            }),
          },
        }),
      );
      return 'scheduled' as const;
    } catch (error) {
      if (error instanceof ConflictException) return 'already-scheduled' as const;
      throw new AwsCallError('CreateSchedule', `schedule ${name}`, error);
    }
  }
}
