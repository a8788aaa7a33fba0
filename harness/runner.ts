/**
 * Delivers keyrot's events between the two local accounts as EventBridge would. Handlers put
 * events on their own bus in moto; a catch-all rule copies each to the bus's tap queue, from
 * which the runner reads the real envelope (`id`, `account`, `source`, `detail-type`) and
 * invokes, in process, every function whose serverless.yml pattern matches. moto itself
 * cannot do the last hop (Lambda targets fail, cross-account forwarding rewrites `account`):
 * see docs/decisions.md. Test and demo infrastructure, not product code.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { HandlerResult } from '@keyrot/shared';
import type { Context } from 'aws-lambda';
import { clientConfig, type AccountSession } from './accounts';
import { matchesPattern } from './event-pattern';
import type { LocalHandler } from './local-keyrot';
import { readScheduledRotation, type LocalWorld } from './provision';
import { loadSubscriptions, type ServiceName, type Subscription } from './subscriptions';

/** An EventBridge envelope as a rule's target receives it. */
export interface Envelope {
  readonly id: string;
  readonly account: string;
  readonly source: string;
  readonly 'detail-type': string;
  readonly time: string;
  readonly detail: Record<string, unknown>;
}

export interface Delivery {
  readonly service: ServiceName;
  readonly functionName: string;
  readonly eventId: string;
  readonly detailType: string;
  readonly attempt: number;
  readonly result: HandlerResult | { status: 'error'; error: string };
}

/** Lambda's asynchronous invocation retries an error twice before giving up. */
const ASYNC_ATTEMPTS = 3;

export class EventRunner {
  /** Every event seen on a bus, in order. */
  readonly events: Envelope[] = [];
  readonly deliveries: Delivery[] = [];
  private readonly subscriptions: Subscription[];
  private readonly taps: { sqs: SQSClient; queueUrl: string }[];

  constructor(
    private readonly world: LocalWorld,
    private readonly handlers: Record<ServiceName, LocalHandler>,
    repoRoot = path.resolve(__dirname, '..'),
  ) {
    this.subscriptions = loadSubscriptions(repoRoot, {
      region: world.api.session.region,
      apiAccountId: world.api.session.accountId,
      edgeAccountId: world.edge.session.accountId,
      busName: world.api.busName,
    });
    const sides = world.singleAccount ? [world.api] : [world.api, world.edge];
    this.taps = sides.map((side) => ({
      sqs: new SQSClient(clientConfig(side.session)),
      queueUrl: side.tapQueueUrl,
    }));
  }

  /**
   * Fires the monthly schedule as EventBridge Scheduler would: reads the stored schedule and
   * puts its input on its target bus with its source and detail-type.
   */
  async fireSchedule(): Promise<void> {
    const { api } = this.world;
    const schedule = await readScheduledRotation(
      api.session,
      api.scheduleName,
      api.scheduleGroupName,
    );
    await putEvent(
      api.session,
      schedule.busArn,
      schedule.source,
      schedule.detailType,
      schedule.input,
    );
  }

  /** Puts an event on the API account's bus as an operator (or the CLI) would. */
  async putOnApiBus(detailType: string, detail: unknown, source = 'keyrot'): Promise<void> {
    const { api } = this.world;
    await putEvent(api.session, api.busName, source, detailType, JSON.stringify(detail));
  }

  /** Delivers events until every bus is quiet; returns the deliveries made. */
  async drain(maxEvents = 200): Promise<Delivery[]> {
    const start = this.deliveries.length;
    for (let seen = 0; seen < maxEvents;) {
      const batch = await this.receive();
      if (batch.length === 0) return this.deliveries.slice(start);
      for (const envelope of batch) {
        seen++;
        this.events.push(envelope);
        for (const sub of this.subscriptions.filter((s) => matchesPattern(s.pattern, envelope))) {
          await this.invoke(sub, envelope);
        }
      }
    }
    throw new Error(`runner: more than ${maxEvents} events without quiescence`);
  }

  /** Invokes one function with an envelope, retrying errors as Lambda's async invoke does. */
  async invoke(sub: Subscription, envelope: Envelope): Promise<Delivery> {
    let delivery: Delivery | undefined;
    for (let attempt = 1; attempt <= ASYNC_ATTEMPTS; attempt++) {
      const context = {
        functionName: `keyrot-${sub.service}-local-${sub.functionName}`,
        awsRequestId: randomUUID(),
        getRemainingTimeInMillis: () => 900_000,
      } as unknown as Context;
      try {
        const result = await this.handlers[sub.service](envelope, context);
        delivery = this.note(sub, envelope, attempt, result);
        break;
      } catch (error) {
        const name = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        delivery = this.note(sub, envelope, attempt, { status: 'error', error: name });
      }
    }
    return delivery!;
  }

  private note(sub: Subscription, envelope: Envelope, attempt: number, result: Delivery['result']) {
    const delivery: Delivery = {
      service: sub.service,
      functionName: sub.functionName,
      eventId: envelope.id,
      detailType: envelope['detail-type'],
      attempt,
      result,
    };
    this.deliveries.push(delivery);
    return delivery;
  }

  private async receive(): Promise<Envelope[]> {
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
}

async function putEvent(
  session: AccountSession,
  bus: string,
  source: string,
  detailType: string,
  detail: string,
): Promise<void> {
  const client = new EventBridgeClient(clientConfig(session));
  const out = await client.send(
    new PutEventsCommand({
      Entries: [{ EventBusName: bus, Source: source, DetailType: detailType, Detail: detail }],
    }),
  );
  if (out.FailedEntryCount) throw new Error(`PutEvents ${detailType} on ${bus} failed`);
}
