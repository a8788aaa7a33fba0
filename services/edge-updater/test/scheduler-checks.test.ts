import {
  ConflictException,
  CreateScheduleCommand,
  SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { AwsCallError, type EdgeDeploymentCheck } from '@keyrot/shared';
import { mockClient } from 'aws-sdk-client-mock';
import {
  atExpression,
  checkScheduleName,
  SchedulerDeploymentChecks,
} from '../src/adapters/scheduler-checks';
import { failureOf, ROTATION_ID, TARGET } from '../../../test/support/fixtures';

const scheduler = mockClient(SchedulerClient);
afterEach(() => scheduler.reset());

const OPTIONS = {
  groupName: 'keyrot-deploy-checks-prod',
  roleArn: 'arn:aws:iam::222222222222:role/keyrot-deploy-check-prod',
  busArn: 'arn:aws:events:us-east-1:222222222222:event-bus/keyrot',
};

const CHECK: EdgeDeploymentCheck = {
  version: 1,
  rotationId: ROTATION_ID,
  target: TARGET,
  newKey: { id: 'newkey0001', fingerprint: '0123456789ab' },
  previousFingerprint: 'ba9876543210',
  updatedAt: '2026-11-25T09:01:00.000Z',
  deadline: '2026-11-25T11:00:00.000Z',
  check: 2,
};

describe('SchedulerDeploymentChecks', () => {
  it('creates a one-time schedule that puts the check on the edge bus, then deletes itself', async () => {
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn' });
    const checks = new SchedulerDeploymentChecks(new SchedulerClient({}), OPTIONS);

    const result = await checks.schedule(CHECK, new Date('2026-11-25T09:16:00.250Z'));

    expect(result).toBe('scheduled');
    const [call] = scheduler.commandCalls(CreateScheduleCommand);
    const input = call!.args[0].input;
    expect(input).toMatchObject({
      Name: checkScheduleName(ROTATION_ID, 2),
      GroupName: OPTIONS.groupName,
      ScheduleExpression: 'at(2026-11-25T09:16:01)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      Target: {
        Arn: OPTIONS.busArn,
        RoleArn: OPTIONS.roleArn,
        EventBridgeParameters: { DetailType: 'EdgeDeploymentCheck', Source: 'keyrot' },
      },
    });
    expect(JSON.parse(input.Target!.Input!)).toEqual(CHECK);
  });

  it('sends a check it cannot deliver to the dead-letter queue, when one is configured', async () => {
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn' });
    const deadLetterArn = 'arn:aws:sqs:us-east-1:222222222222:keyrot-edge-updater-prod-dlq';
    const withQueue = new SchedulerDeploymentChecks(new SchedulerClient({}), {
      ...OPTIONS,
      deadLetterArn,
    });
    const without = new SchedulerDeploymentChecks(new SchedulerClient({}), OPTIONS);

    await withQueue.schedule(CHECK, new Date('2026-11-25T09:16:00Z'));
    await without.schedule(CHECK, new Date('2026-11-25T09:16:00Z'));

    const [queued, dropped] = scheduler.commandCalls(CreateScheduleCommand);
    expect(queued!.args[0].input.Target!.DeadLetterConfig).toEqual({ Arn: deadLetterArn });
    expect(dropped!.args[0].input.Target!.DeadLetterConfig).toBeUndefined();
  });

  it('reports a check scheduled already (a duplicate) without creating another', async () => {
    scheduler
      .on(CreateScheduleCommand)
      .rejects(new ConflictException({ message: 'exists', Message: 'exists', $metadata: {} }));
    const checks = new SchedulerDeploymentChecks(new SchedulerClient({}), OPTIONS);

    expect(await checks.schedule(CHECK, new Date())).toBe('already-scheduled');
  });

  it('wraps any other failure in AwsCallError naming the schedule', async () => {
    scheduler.on(CreateScheduleCommand).rejects(
      Object.assign(new Error('Rate exceeded'), {
        name: 'ThrottlingException',
        $metadata: { httpStatusCode: 429 },
      }),
    );
    const checks = new SchedulerDeploymentChecks(new SchedulerClient({}), OPTIONS);

    const error = await failureOf(checks.schedule(CHECK, new Date()));

    expect(error).toBeInstanceOf(AwsCallError);
    expect(error).toMatchObject({ retryable: true });
    expect((error as Error).message).toContain(checkScheduleName(ROTATION_ID, 2));
  });

  it('refuses a check that breaks the event contract, before any call', async () => {
    const checks = new SchedulerDeploymentChecks(new SchedulerClient({}), OPTIONS);

    const error = await failureOf(checks.schedule({ ...CHECK, check: 0 }, new Date()));

    expect(error).toMatchObject({ name: 'InvalidInputError' });
    expect(scheduler.commandCalls(CreateScheduleCommand)).toHaveLength(0);
  });

  it('names schedules within Scheduler limits, one per rotation and check', () => {
    const name = checkScheduleName(`rot_${'x'.repeat(92)}`, 10_000);
    expect(name).toMatch(/^[0-9a-zA-Z_.-]{1,64}$/);
    expect(checkScheduleName(ROTATION_ID, 1)).not.toBe(checkScheduleName(ROTATION_ID, 2));
    expect(atExpression(new Date('2026-11-25T09:16:00.000Z'))).toBe('at(2026-11-25T09:16:00)');
  });
});
