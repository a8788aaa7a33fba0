/**
 * The local world's event taps: a catch-all rule on each account's keyrot bus copies every
 * event to an SQS queue (harness/provision.ts), from which the event runner and the
 * benchmark's dispatcher read what to deliver. Test infrastructure only.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { clientConfig } from './accounts';
import type { LocalWorld } from './provision';
import type { Envelope } from './runner';

export class EventTaps {
  private readonly taps: { sqs: SQSClient; queueUrl: string }[];

  constructor(world: LocalWorld) {
    const sides = world.singleAccount ? [world.api] : [world.api, world.edge];
    this.taps = sides.map((side) => ({
      sqs: new SQSClient(clientConfig(side.session)),
      queueUrl: side.tapQueueUrl,
    }));
  }

  /** Takes the events waiting in the taps (up to 10 per queue), deleting them there. */
  async take(): Promise<Envelope[]> {
    const envelopes: Envelope[] = [];
    for (const tap of this.taps) {
      const out = await tap.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: tap.queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
        }),
      );
      const messages = out.Messages ?? [];
      if (messages.length === 0) continue;
      envelopes.push(...messages.map((m) => JSON.parse(m.Body ?? '{}') as Envelope));
      await tap.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: tap.queueUrl,
          Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
    return envelopes;
  }

  close(): void {
    for (const tap of this.taps) tap.sqs.destroy();
  }
}
