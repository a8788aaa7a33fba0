import { createHash } from 'node:crypto';
import {
  ConflictException,
  CreateScheduleCommand,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { AwsCallError, InvalidInputError } from '../errors';
import { DETAIL_SCHEMAS, EVENT_SOURCE, type DetailType } from '../events';

export interface OneTimeSchedulesOptions {
  /** Schedule group the function may create schedules in (its IAM policy names it). */
  readonly groupName: string;
  /** Role EventBridge Scheduler assumes to put the event on the bus. */
  readonly roleArn: string;
  /** The account's keyrot bus, where the function listens for the event. */
  readonly busArn: string;
  /**
   * Queue for an event Scheduler could not put on the bus after its retries (the service's
   * dead-letter queue, which an alarm watches). Without it such an event is dropped.
   */
  readonly deadLetterArn?: string;
}

/** A short, stable digest of a rotation id, for schedule names (at most 64 characters). */
export const scheduleDigest = (rotationId: string) =>
  createHash('sha256').update(rotationId, 'utf8').digest('hex').slice(0, 24);

/** `at(...)` of EventBridge Scheduler, in UTC, rounded up to the second. */
export function atExpression(at: Date): string {
  const rounded = new Date(Math.ceil(at.getTime() / 1000) * 1000);
  return `at(${rounded.toISOString().slice(0, 19)})`;
}

/**
 * A function's later tries, in its own account: a one-time EventBridge Scheduler schedule
 * that puts one keyrot event on the account's bus at a given time and deletes itself after
 * it ran. A name already taken schedules nothing (a duplicate invocation asked before).
 */
export class OneTimeSchedules {
  constructor(
    private readonly client: SchedulerClient,
    private readonly options: OneTimeSchedulesOptions,
  ) {}

  /** `detail` is validated against `detailType`'s schema before anything is created. */
  async schedule(
    detailType: DetailType,
    detail: unknown,
    name: string,
    description: string,
    at: Date,
  ): Promise<'scheduled' | 'already-scheduled'> {
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
      return 'scheduled';
    } catch (error) {
      if (error instanceof ConflictException) return 'already-scheduled';
      throw new AwsCallError('CreateSchedule', `schedule ${name}`, error);
    }
  }
}

/**
 * The options of {@link OneTimeSchedules} from a function's environment, whose variables are
 * `<prefix>_SCHEDULE_GROUP`, `<prefix>_ROLE_ARN`, `<prefix>_BUS_ARN` and (optional)
 * `<prefix>_DLQ_ARN`: all three, or none (undefined: no later tries). A partial set is an
 * error naming the missing variable.
 */
export function schedulesOptionsFrom(
  prefix: string,
  env: object,
): OneTimeSchedulesOptions | undefined {
  const read = (name: string) => {
    const value = (env as Record<string, unknown>)[`${prefix}_${name}`];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const groupName = read('SCHEDULE_GROUP');
  const roleArn = read('ROLE_ARN');
  const busArn = read('BUS_ARN');
  const deadLetterArn = read('DLQ_ARN');
  if (!groupName && !roleArn && !busArn) return undefined;
  if (!groupName) throw new InvalidInputError(`${prefix}_SCHEDULE_GROUP`, 'must be set');
  if (!roleArn) throw new InvalidInputError(`${prefix}_ROLE_ARN`, 'must be set');
  if (!busArn) throw new InvalidInputError(`${prefix}_BUS_ARN`, 'must be set');
  return { groupName, roleArn, busArn, ...(deadLetterArn && { deadLetterArn }) };
}
