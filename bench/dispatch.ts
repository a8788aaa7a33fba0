/**
 * Delivers the local world's events concurrently, as Lambda would run many invocations at
 * once (the harness's EventRunner delivers one at a time, which would hide any contention):
 * reads both taps, invokes every function whose serverless.yml pattern matches, up to
 * `concurrency` invocations in flight, retrying an error twice like asynchronous invocation.
 */
import path from 'node:path';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { HandlerResult } from '@keyrot/shared';
import type { Context } from 'aws-lambda';
import { clientConfig } from '../harness/accounts';
import { matchesPattern } from '../harness/event-pattern';
import type { LocalHandler } from '../harness/local-keyrot';
import type { LocalWorld } from '../harness/provision';
import type { Envelope } from '../harness/runner';
import { loadSubscriptions, type ServiceName } from '../harness/subscriptions';

/** Empty polls in a row, with nothing in flight, that count as quiescence. */
const QUIET_POLLS = 5;
const QUIET_POLL_PAUSE_MS = 100;

export interface DispatchOutcome {
  readonly service: ServiceName;
  readonly detailType: string;
  readonly result: HandlerResult | { status: 'error'; error: string };
}

export async function dispatchConcurrently(
  world: LocalWorld,
  handlers: Record<ServiceName, LocalHandler>,
  concurrency: number,
): Promise<DispatchOutcome[]> {
  const subscriptions = loadSubscriptions(path.resolve(__dirname, '..'), {
    region: world.api.session.region,
    apiAccountId: world.api.session.accountId,
    edgeAccountId: world.edge.session.accountId,
    busName: world.api.busName,
  });
  const sides = world.singleAccount ? [world.api] : [world.api, world.edge];
  const taps = sides.map((side) => ({
    sqs: new SQSClient(clientConfig(side.session)),
    queueUrl: side.tapQueueUrl,
  }));
  const outcomes: DispatchOutcome[] = [];
  const inFlight = new Set<Promise<void>>();
  const invoke = async (service: ServiceName, functionName: string, envelope: Envelope) => {
    let result: DispatchOutcome['result'] = { status: 'error', error: 'not invoked' };
    for (let attempt = 1; attempt <= 3; attempt++) {
      const context = {
        functionName: `keyrot-${service}-bench-${functionName}`,
        awsRequestId: `${envelope.id}-${attempt}`,
        getRemainingTimeInMillis: () => 900_000,
      } as unknown as Context;
      try {
        result = await handlers[service](envelope, context);
        break;
      } catch (error) {
        result = { status: 'error', error: error instanceof Error ? error.name : String(error) };
      }
    }
    outcomes.push({ service, detailType: envelope['detail-type'], result });
  };
  let quietPolls = 0;
  try {
    for (;;) {
      let received = 0;
      for (const tap of taps) {
        if (inFlight.size >= concurrency) break;
        const out = await tap.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: tap.queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 0,
          }),
        );
        const messages = out.Messages ?? [];
        received += messages.length;
        if (messages.length === 0) continue;
        quietPolls = 0;
        await tap.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: tap.queueUrl,
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
          }),
        );
        for (const message of messages) {
          const envelope = JSON.parse(message.Body ?? '{}') as Envelope;
          for (const sub of subscriptions.filter((s) => matchesPattern(s.pattern, envelope))) {
            const run: Promise<void> = invoke(sub.service, sub.functionName, envelope).finally(() =>
              inFlight.delete(run),
            );
            inFlight.add(run);
          }
        }
      }
      if (received === 0) {
        if (inFlight.size > 0) {
          await Promise.race(inFlight);
          quietPolls = 0;
        } else if (++quietPolls >= QUIET_POLLS) {
          return outcomes;
        } else {
          // moto copies an event to the tap queue a moment after PutEvents returns.
          await new Promise((resolve) => setTimeout(resolve, QUIET_POLL_PAUSE_MS));
        }
      } else if (inFlight.size >= concurrency) {
        await Promise.race(inFlight);
      }
    }
  } finally {
    await Promise.all(inFlight);
    for (const tap of taps) tap.sqs.destroy();
  }
}
