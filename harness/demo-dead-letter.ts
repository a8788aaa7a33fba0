/**
 * For the README's first-week CLI session on `npm run demo -- --serve`: puts one dead letter
 * where the deployed stacks would, so `keyrot redrive` has something to show and put back.
 * The demo world has no dead-letter queues (its functions run in process); this creates the
 * issuer's, `keyrot-key-issuer-<stage>-dlq` in the API account, and sends it Lambda's
 * on-failure record (the shape AWS documents: requestContext, requestPayload,
 * responseContext, responsePayload) of a manual KeyRotationRequested the issuer failed on
 * three times, as when the ledger was unreachable.
 *
 *   source .tmp/demo/env.sh && npx tsx harness/demo-dead-letter.ts [--stage prod]
 *
 * Demo infrastructure, not product code: it never touches a real account (it refuses to run
 * without AWS_ENDPOINT_URL).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { EVENT_SOURCE, rotationIdFor, SCHEMA_VERSION, type Target } from '@keyrot/shared';

async function main(): Promise<void> {
  // As the CLI does: the SDK's notice about Node versions is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { values } = parseArgs({ options: { stage: { type: 'string', default: 'prod' } } });
  const endpoint = process.env.AWS_ENDPOINT_URL;
  const targetsFile = process.env.KEYROT_TARGETS;
  if (!endpoint || !targetsFile) {
    throw new Error('run `source .tmp/demo/env.sh` first (AWS_ENDPOINT_URL, KEYROT_TARGETS)');
  }
  const [target] = JSON.parse(readFileSync(targetsFile, 'utf8')) as Target[];
  if (!target) throw new Error(`${targetsFile} names no target`);
  const config = { endpoint, region: process.env.AWS_REGION ?? 'us-east-1' };
  const sts = new STSClient(config);
  const sqs = new SQSClient(config);
  try {
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    const account = identity.Account ?? '111111111111';
    const queueName = `keyrot-key-issuer-${values.stage}-dlq`;
    const { QueueUrl: queueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: queueName }));
    const now = new Date();
    const eventId = randomUUID();
    const rotationId = rotationIdFor(randomUUID(), now);
    const record = {
      version: '1.0',
      timestamp: now.toISOString(),
      requestContext: {
        requestId: randomUUID(),
        functionArn: `arn:aws:lambda:${config.region}:${account}:function:keyrot-key-issuer-${values.stage}-issueKey:$LATEST`,
        condition: 'RetriesExhausted',
        approximateInvokeCount: 3,
      },
      requestPayload: {
        version: '0',
        id: eventId,
        'detail-type': 'KeyRotationRequested',
        source: EVENT_SOURCE,
        account,
        time: now.toISOString().replace(/\.\d+Z$/, 'Z'),
        region: config.region,
        resources: [],
        detail: {
          version: SCHEMA_VERSION,
          rotationId,
          target,
          reason: 'manual',
          requestedBy: identity.Arn ?? `account ${account}`,
        },
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: {
        errorType: 'AwsCallError',
        errorMessage: `TransactWriteItems failed on ledger keyrot-ledger: ProvisionedThroughputExceededException`,
      },
    };
    await sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(record) }),
    );
    console.log(
      `dead letter in ${queueName}: KeyRotationRequested ${rotationId} of ${target.name} (the issuer failed 3 times)`,
    );
    console.log('see it:       npx keyrot redrive --queue key-issuer');
    console.log('put it back:  npx keyrot redrive --queue key-issuer --all');
  } finally {
    sts.destroy();
    sqs.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(`demo-dead-letter: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
