/**
 * Helpers for the deployed-stack tests: one moto server and one `serverless deploy` of every
 * service per test file (per mode, or per fleet), and the deployed runner over it.
 */
import { APIGatewayClient, GetApiKeysCommand } from '@aws-sdk/client-api-gateway';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  PurgeQueueCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { clientConfig, type AccountSession } from '../../harness/accounts';
import { deployLocal, type DeployedWorld } from '../../harness/deployed/deploy';
import { DeployedRunner } from '../../harness/deployed/runner';
import { startMoto, type MotoServer } from '../../harness/moto';

export interface DeployedFixture {
  readonly moto: MotoServer;
  readonly deployed: DeployedWorld;
  readonly runner: DeployedRunner;
}

/** Deploys the stacks once for the file (`beforeAll`) and runs them; stops everything after. */
export function useDeployedStacks(
  options: { singleAccount?: boolean; fleet?: number } = {},
): () => DeployedFixture {
  let fixture: DeployedFixture | undefined;
  let moto: MotoServer | undefined;
  beforeAll(async () => {
    moto = await startMoto();
    const deployed = await deployLocal(moto.endpoint, {
      singleAccount: options.singleAccount ?? false,
      ...(options.fleet !== undefined && { fleet: options.fleet }),
    });
    const runner = await DeployedRunner.start(deployed);
    fixture = { moto, deployed, runner };
  }, 300_000);
  afterAll(async () => {
    await fixture?.runner.stop();
    await moto?.stop();
  });
  return () => {
    if (!fixture) throw new Error('the deployed stacks did not come up (see beforeAll)');
    return fixture;
  };
}

/** Values of every API key in the API account (to look for leaks). */
export async function apiKeyValues(session: AccountSession): Promise<string[]> {
  const client = new APIGatewayClient(clientConfig(session));
  try {
    const out = await client.send(new GetApiKeysCommand({ includeValues: true, limit: 500 }));
    return (out.items ?? []).map((k) => k.value ?? '').filter(Boolean);
  } finally {
    client.destroy();
  }
}

/** Each deployed dead-letter queue (one per stack) with the number of messages it holds. */
export async function deadLetterCounts(deployed: DeployedWorld): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const stack of deployed.stacks) {
    const url = stack.outputs.DeadLetterQueueUrl;
    if (!url) continue;
    const sqs = new SQSClient(clientConfig(stack.session));
    try {
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      counts[`${stack.service}`] =
        Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
        Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
    } finally {
      sqs.destroy();
    }
  }
  return counts;
}

/** Empties every deployed dead-letter queue (between negative controls). */
export async function purgeDeadLetters(deployed: DeployedWorld): Promise<void> {
  for (const stack of deployed.stacks) {
    const url = stack.outputs.DeadLetterQueueUrl;
    if (!url) continue;
    const sqs = new SQSClient(clientConfig(stack.session));
    try {
      await sqs.send(new PurgeQueueCommand({ QueueUrl: url }));
    } finally {
      sqs.destroy();
    }
  }
}

/**
 * What the dead-letter alarm of a stack would see now: it reads its metric's queue (the
 * `QueueName` dimension) the way CloudWatch's `ApproximateNumberOfMessagesVisible` does, and
 * compares it with the alarm's own threshold.
 */
export async function deadLetterAlarmWouldFire(
  session: AccountSession,
  stackService: string,
): Promise<{ alarmName: string; queueName: string; visible: number; fires: boolean }> {
  const cloudwatch = new CloudWatchClient(clientConfig(session));
  const sqs = new SQSClient(clientConfig(session));
  try {
    const { MetricAlarms = [] } = await cloudwatch.send(new DescribeAlarmsCommand({}));
    const alarm = MetricAlarms.find(
      (a) =>
        a.Namespace === 'AWS/SQS' &&
        a.MetricName === 'ApproximateNumberOfMessagesVisible' &&
        (a.AlarmName ?? '').includes(stackService),
    );
    if (!alarm) throw new Error(`no dead-letter alarm of ${stackService} in ${session.accountId}`);
    const queueName = alarm.Dimensions?.find((d) => d.Name === 'QueueName')?.Value ?? '';
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queueName }));
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    const visible = Number(Attributes?.ApproximateNumberOfMessages ?? 0);
    return {
      alarmName: alarm.AlarmName!,
      queueName,
      visible,
      fires: visible >= (alarm.Threshold ?? Infinity),
    };
  } finally {
    cloudwatch.destroy();
    sqs.destroy();
  }
}
