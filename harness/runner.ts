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
import {
  DeleteScheduleCommand,
  GetScheduleCommand,
  ListSchedulesCommand,
  SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { systemClock, type Clock, type HandlerResult } from '@keyrot/shared';
import type { Context } from 'aws-lambda';
import { clientConfig, type AccountSession } from './accounts';
import { matchesPattern } from './event-pattern';
import { functionOf, type LocalFunctions } from './local-keyrot';
import { readScheduledRotation, type LocalWorld } from './provision';
import {
  functionSettings,
  worldSubscriptions,
  type ServiceName,
  type Subscription,
} from './subscriptions';
import type { CloudFrontSimulator } from './cloudfront-sim';
import { cloudTrailPattern } from '../services/manifest/stacks';
import type { ManifestTarget } from '@keyrot/shared';
import { EventTaps } from './taps';

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

/**
 * Lambda's waits before the retries of a failed asynchronous invocation: one minute before
 * the first, two before the second (Lambda developer guide, "Error handling and automatic
 * retries in Lambda").
 */
export const LAMBDA_RETRY_DELAYS_MS: readonly number[] = [60_000, 120_000];

/** Lets a test see (and end) each invocation, e.g. to simulate a process that dies. */
export interface InvocationHooks {
  /**
   * Runs one invocation (`invoke` never throws). `died`: its process died during it, so its
   * outcome is discarded.
   */
  run<R>(service: ServiceName, invoke: () => Promise<R>): Promise<{ result: R; died: boolean }>;
}

/**
 * Concurrent duplicates: EventBridge and Lambda deliver at least once, and a duplicate may run
 * at the same moment as the original, in another execution environment.
 */
export interface ConcurrentDuplicates {
  /** Every delivery of this detail-type goes to `copies` environments at once. */
  readonly detailType: string;
  readonly copies: number;
  /**
   * When the other copies start, per delivery: once the promise this returns resolves (e.g.
   * when the first copy's call took effect), or when the first copy ends, whichever comes
   * first. Absent: all copies start at the same instant.
   */
  readonly startOthers?: () => Promise<void>;
}

/** One delivery to several environments, and whether they ran at the same time. */
export interface DuplicateRun {
  readonly detailType: string;
  readonly functionName: string;
  readonly copies: number;
  /** False if the first copy ended before the others started: they did not overlap. */
  readonly overlapped: boolean;
}

export interface EventRunnerOptions {
  /** The functions' clock: Lambda's remaining time and one-time schedules follow it. */
  readonly clock?: Clock;
  readonly hooks?: InvocationHooks;
  /** Deliver every event twice, as EventBridge's at-least-once delivery may. */
  readonly duplicateDeliveries?: boolean;
  readonly concurrentDuplicates?: ConcurrentDuplicates;
  /**
   * Waits on the functions' clock before each retry of a failed invocation (default none:
   * on real time a test cannot wait minutes). {@link LAMBDA_RETRY_DELAYS_MS} are Lambda's.
   */
  readonly retryDelaysMs?: readonly number[];
  /** Longest real wait for a one-time schedule to come due, per drain (default 60 s). */
  readonly maxScheduleWaitMs?: number;
  /**
   * Harness difference, named as such: moto produces no CloudTrail events. With this set,
   * every `UpdateDistribution` the simulator sees (keyrot's own included, as CloudTrail
   * records every call) puts an `AWS API Call via CloudTrail` record on the edge account's
   * default bus after `delayMs` (on the functions' clock; default 20 s, CloudTrail usually
   * delivers within a minute), delivered to the drift guard's rule as generated from the
   * manifest (its targets: `targets`).
   */
  readonly cloudTrail?: {
    readonly cloudFront: Pick<CloudFrontSimulator, 'onUpdate'>;
    readonly targets: readonly ManifestTarget[];
    readonly delayMs?: number;
  };
}

/** CloudTrail's usual delivery delay in the harness (simulated). */
export const CLOUDTRAIL_DELAY_MS = 20_000;

export class EventRunner {
  /** Every event seen on a bus, in order. */
  readonly events: Envelope[] = [];
  readonly deliveries: Delivery[] = [];
  /**
   * Invocations that failed every attempt: the events Lambda sends to the function's
   * on-failure destination, the service's dead-letter queue (serverless.yml `destinations`),
   * where the DLQ alarm sees them.
   */
  readonly deadLetters: Delivery[] = [];
  /** One-time schedules the runner ran, as EventBridge Scheduler would. */
  readonly schedulesRun: { name: string; detailType: string }[] = [];
  /** Deliveries made to several environments at once ({@link ConcurrentDuplicates}). */
  readonly duplicateRuns: DuplicateRun[] = [];
  private readonly subscriptions: Subscription[];
  private readonly taps: EventTaps;
  private readonly clock: Clock;
  /** Clients per account, made once (each new client costs a few ms on every call path). */
  private readonly clients = new Map<
    string,
    { events: EventBridgeClient; scheduler: SchedulerClient }
  >();

  /** CloudTrail records not delivered yet ({@link EventRunnerOptions.cloudTrail}). */
  private readonly pendingTrail: { distributionId: string; dueAt: number }[] = [];
  /** checkEdge, the drift guard's function: its schedule and its CloudTrail rule. */
  private readonly checkEdge: Omit<Subscription, 'account' | 'busName' | 'pattern'>;
  /** The CloudTrail rule's subscription; undefined when no target has the guard on. */
  private readonly trailRule: Subscription | undefined;

  constructor(
    private readonly world: LocalWorld,
    /** Each function's handler, by the export its serverless.yml names. */
    private readonly functions: LocalFunctions,
    repoRoot = path.resolve(__dirname, '..'),
    private readonly options: EventRunnerOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.subscriptions = worldSubscriptions(world, repoRoot);
    this.taps = new EventTaps(world);
    this.checkEdge = functionSettings(repoRoot, 'edge-updater', 'checkEdge');
    const trail = options.cloudTrail;
    const pattern = trail && cloudTrailPattern({ targets: trail.targets });
    this.trailRule = pattern && {
      ...this.checkEdge,
      account: world.edge.session.accountId,
      busName: 'default',
      pattern: pattern as Subscription['pattern'],
    };
    trail?.cloudFront.onUpdate((distributionId) => {
      this.pendingTrail.push({
        distributionId,
        dueAt: this.clock.now().getTime() + (trail.delayMs ?? CLOUDTRAIL_DELAY_MS),
      });
    });
  }

  /**
   * Fires checkEdge's hourly schedule as EventBridge would (a `Scheduled Event` from the edge
   * account) and delivers every event until all is quiet. Harness difference: the runner
   * leaves recurring schedules to the tests, which fire them when the hour is due.
   */
  async fireEdgeCheckSchedule(): Promise<Delivery[]> {
    const envelope: Envelope = {
      id: randomUUID(),
      account: this.world.edge.session.accountId,
      source: 'aws.events',
      'detail-type': 'Scheduled Event',
      time: this.clock.now().toISOString(),
      detail: {},
    };
    this.events.push(envelope);
    const sub: Subscription = {
      ...this.checkEdge,
      account: envelope.account,
      busName: 'default',
      pattern: {},
    };
    const first = await this.invoke(sub, envelope);
    return [first, ...(await this.drain())];
  }

  /**
   * Delivers the earliest pending CloudTrail record once it is due (waiting for it on the
   * functions' clock); false when none is pending.
   */
  private async deliverCloudTrail(): Promise<boolean> {
    this.pendingTrail.sort((a, b) => a.dueAt - b.dueAt);
    const next = this.pendingTrail.shift();
    if (!next) return false;
    const waitMs = next.dueAt - this.clock.now().getTime();
    if (waitMs > 0) await this.clock.sleep(waitMs);
    const envelope: Envelope = {
      id: randomUUID(),
      account: this.world.edge.session.accountId,
      source: 'aws.cloudfront',
      'detail-type': 'AWS API Call via CloudTrail',
      time: this.clock.now().toISOString(),
      detail: {
        eventSource: 'cloudfront.amazonaws.com',
        eventName: 'UpdateDistribution',
        awsRegion: 'us-east-1',
        requestParameters: { id: next.distributionId },
      },
    };
    this.events.push(envelope);
    if (this.trailRule && matchesPattern(this.trailRule.pattern, envelope)) {
      await this.invoke(this.trailRule, envelope);
    }
    return true;
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
    await this.putEvent(
      api.session,
      schedule.busArn,
      schedule.source,
      schedule.detailType,
      schedule.input,
    );
  }

  /** Puts an event on the API account's bus as an operator (or the CLI) would. */
  async putOnApiBus(detailType: string, detail: unknown, source = 'keyrot'): Promise<void> {
    await this.putOnBus('api', detailType, detail, source);
  }

  /** Puts an event on one account's bus, as that account (e.g. a replayed or forged event). */
  async putOnBus(
    side: 'api' | 'edge',
    detailType: string,
    detail: unknown,
    source = 'keyrot',
  ): Promise<void> {
    const { session, busName } = this.world[side];
    await this.putEvent(session, busName, source, detailType, JSON.stringify(detail));
  }

  /**
   * Delivers events until every bus is quiet and no one-time schedule is pending (waiting, on
   * the functions' clock, for the next one to come due); returns the deliveries made.
   */
  async drain(maxEvents = 200): Promise<Delivery[]> {
    const start = this.deliveries.length;
    const scheduleDeadline = Date.now() + (this.options.maxScheduleWaitMs ?? 60_000);
    for (let seen = 0; seen < maxEvents;) {
      const batch = await this.taps.take();
      if (batch.length === 0) {
        if (await this.deliverCloudTrail()) continue;
        if (await this.runNextSchedule(scheduleDeadline)) continue;
        return this.deliveries.slice(start);
      }
      for (const envelope of batch) {
        seen++;
        this.events.push(envelope);
        const rounds = this.options.duplicateDeliveries ? 2 : 1;
        for (let round = 0; round < rounds; round++) {
          for (const sub of this.subscriptions.filter((s) => matchesPattern(s.pattern, envelope))) {
            const concurrent = this.options.concurrentDuplicates;
            if (concurrent?.detailType === envelope['detail-type']) {
              await this.invokeConcurrently(sub, envelope, concurrent);
            } else {
              await this.invoke(sub, envelope);
            }
          }
        }
      }
    }
    throw new Error(`runner: more than ${maxEvents} events without quiescence`);
  }

  /**
   * Delivers one envelope to `copies` environments of the function at once, each with
   * Lambda's retries ({@link invoke}); see {@link ConcurrentDuplicates}.
   */
  async invokeConcurrently(
    sub: Subscription,
    envelope: Envelope,
    { copies, startOthers }: ConcurrentDuplicates,
  ): Promise<Delivery[]> {
    let firstEnded = false;
    const gate = startOthers?.() ?? Promise.resolve();
    const first = this.invoke(sub, envelope).finally(() => {
      firstEnded = true;
    });
    await Promise.race([gate, first]);
    const overlapped = !firstEnded;
    const others = Array.from({ length: copies - 1 }, () => this.invoke(sub, envelope));
    const deliveries = await Promise.all([first, ...others]);
    this.duplicateRuns.push({
      detailType: envelope['detail-type'],
      functionName: sub.functionName,
      copies,
      overlapped,
    });
    return deliveries;
  }

  /** Subscriptions whose pattern matches the envelope (the functions it would invoke). */
  subscribersOf(envelope: Envelope): Subscription[] {
    return this.subscriptions.filter((s) => matchesPattern(s.pattern, envelope));
  }

  /**
   * Invokes one function with an envelope, retrying errors as Lambda's async invoke does (the
   * function's `maximumRetryAttempts` from its serverless.yml), then records the event as a
   * dead letter. An invocation whose process died (see {@link InvocationHooks}) counts as an
   * error.
   */
  async invoke(sub: Subscription, envelope: Envelope): Promise<Delivery> {
    let delivery: Delivery | undefined;
    for (let attempt = 1; attempt <= 1 + sub.maximumRetryAttempts; attempt++) {
      const delay = attempt > 1 ? this.options.retryDelaysMs?.[attempt - 2] : undefined;
      if (delay) await this.clock.sleep(delay);
      const endsAt = this.clock.now().getTime() + sub.timeoutSeconds * 1000;
      const context = {
        functionName: `keyrot-${sub.service}-local-${sub.functionName}`,
        awsRequestId: randomUUID(),
        getRemainingTimeInMillis: () => Math.max(0, endsAt - this.clock.now().getTime()),
      } as unknown as Context;
      const run = async (): Promise<Delivery['result']> => {
        try {
          return await functionOf(this.functions, sub)(envelope, context);
        } catch (error) {
          const name = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          return { status: 'error', error: name };
        }
      };
      const { hooks } = this.options;
      const ran = hooks ? await hooks.run(sub.service, run) : { result: await run(), died: false };
      const result: Delivery['result'] = ran.died
        ? { status: 'error', error: 'Runtime.ExitError: the process died' }
        : ran.result;
      delivery = this.note(sub, envelope, attempt, result);
      if (result.status !== 'error') break;
    }
    if (delivery!.result.status === 'error') this.deadLetters.push(delivery!);
    return delivery!;
  }

  /**
   * Runs the earliest pending one-time schedule (`at(...)`) of either account as EventBridge
   * Scheduler would: waits until it is due on the functions' clock, puts its input on its
   * target bus with its source and detail-type, and deletes it if it asks to be. Returns false
   * when none is pending (or the next one is not due before `deadline`, in real time).
   */
  private async runNextSchedule(deadline: number): Promise<boolean> {
    const sessions = this.world.singleAccount
      ? [this.world.api.session]
      : [this.world.api.session, this.world.edge.session];
    let next: { session: AccountSession; name: string; group: string; at: number } | undefined;
    for (const session of sessions) {
      const { scheduler } = this.clientsOf(session);
      const { Schedules } = await scheduler.send(new ListSchedulesCommand({}));
      for (const summary of Schedules ?? []) {
        const key = `${session.accountId}/${summary.GroupName}/${summary.Name}`;
        if (this.recurring.has(key)) continue;
        const schedule = await scheduler.send(
          new GetScheduleCommand({ Name: summary.Name, GroupName: summary.GroupName }),
        );
        const at = /^at\((.+)\)$/.exec(schedule.ScheduleExpression ?? '')?.[1];
        if (at === undefined) {
          this.recurring.add(key);
          continue;
        }
        const due = Date.parse(`${at}Z`);
        if (!next || due < next.at) {
          next = { session, name: summary.Name!, group: summary.GroupName!, at: due };
        }
      }
    }
    if (!next) return false;
    const waitMs = next.at - this.clock.now().getTime();
    if (waitMs > 0) {
      if (Date.now() + this.realMs(waitMs) > deadline) return false;
      await this.clock.sleep(waitMs);
    }
    const { scheduler } = this.clientsOf(next.session);
    const schedule = await scheduler.send(
      new GetScheduleCommand({ Name: next.name, GroupName: next.group }),
    );
    const target = schedule.Target;
    const parameters = target?.EventBridgeParameters;
    if (!target?.Arn || !parameters?.DetailType || !parameters.Source) {
      throw new Error(`runner: schedule ${next.group}/${next.name} has no EventBridge target`);
    }
    await this.putEvent(
      next.session,
      target.Arn,
      parameters.Source,
      parameters.DetailType,
      target.Input ?? '{}',
    );
    this.schedulesRun.push({ name: next.name, detailType: parameters.DetailType });
    if (schedule.ActionAfterCompletion === 'DELETE') {
      await scheduler.send(new DeleteScheduleCommand({ Name: next.name, GroupName: next.group }));
    }
    return true;
  }

  /**
   * Runs the next one-time schedule (a later try, a deployment check) as EventBridge
   * Scheduler would, waiting on the functions' clock until it is due, for at most
   * `maxRealWaitMs` real milliseconds; false if none is pending within that wait. For
   * drivers that deliver events themselves (the benchmark's dispatcher).
   */
  async runNextOneTimeSchedule(maxRealWaitMs: number): Promise<boolean> {
    return this.runNextSchedule(Date.now() + maxRealWaitMs);
  }

  /** Releases the runner's clients (their keep-alive sockets). */
  close(): void {
    for (const { events, scheduler } of this.clients.values()) {
      events.destroy();
      scheduler.destroy();
    }
    this.clients.clear();
    this.taps.close();
  }

  /** Schedules seen to be recurring (cron, rate): the runner leaves those to the tests. */
  private readonly recurring = new Set<string>();

  private clientsOf(session: AccountSession) {
    let clients = this.clients.get(session.accountId);
    if (!clients) {
      clients = {
        events: new EventBridgeClient(clientConfig(session)),
        scheduler: new SchedulerClient(clientConfig(session)),
      };
      this.clients.set(session.accountId, clients);
    }
    return clients;
  }

  /** PutEvents as the account (what a rule, Scheduler or an operator would put). */
  private async putEvent(
    session: AccountSession,
    bus: string,
    source: string,
    detailType: string,
    detail: string,
  ): Promise<void> {
    const out = await this.clientsOf(session).events.send(
      new PutEventsCommand({
        Entries: [{ EventBusName: bus, Source: source, DetailType: detailType, Detail: detail }],
      }),
    );
    if (out.FailedEntryCount) throw new Error(`PutEvents ${detailType} on ${bus} failed`);
  }

  /** Real ms a wait of `ms` on the functions' clock takes. */
  private realMs(ms: number): number {
    const scaled = this.clock as Clock & { toReal?: (ms: number) => number };
    return scaled.toReal ? scaled.toReal(ms) : ms;
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
}
