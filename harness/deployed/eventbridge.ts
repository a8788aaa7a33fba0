/**
 * EventBridge, Scheduler and Lambda's asynchronous invocation for the deployed stacks: the
 * data plane moto lacks (it stores rules, targets, schedules and invoke configs, but cannot
 * invoke a function, and rewrites `account` when it forwards across accounts). Everything is
 * read back from what `serverless deploy` created, and delivered only as it allows:
 *
 * - an event put on a bus runs that bus's enabled rules (patterns as deployed); each target
 *   gets it as AWS delivers: a function only if its resource policy lets `events.amazonaws.com`
 *   invoke it from that rule; another account's bus only if the target's role may put there
 *   (trust and identity policy) and the receiving bus's policy accepts the sender, the event
 *   keeping the sender's `account`; a target that cannot take it sends it to the target's
 *   dead-letter queue (if the queue's policy lets the rule send), else it is lost;
 * - a function runs as Lambda's asynchronous invocation does: 1 + MaximumRetryAttempts tries,
 *   then the on-failure destination (sent with the function's role), else lost;
 * - a schedule puts its input on its target with its role (trust and identity policy checked),
 *   or sends it to its dead-letter queue.
 *
 * Time is compressed, named as such: Lambda's and EventBridge's retry back-offs (minutes on
 * AWS) are not waited out. Test infrastructure only.
 */
import { randomUUID } from 'node:crypto';
import {
  DescribeEventBusCommand,
  EventBridgeClient,
  ListRulesCommand,
  ListTargetsByRuleCommand,
  ResourceNotFoundException,
  type Target,
} from '@aws-sdk/client-eventbridge';
import { GetPolicyCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  DeleteScheduleCommand,
  GetScheduleCommand,
  ListSchedulesCommand,
  SchedulerClient,
} from '@aws-sdk/client-scheduler';
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { clientConfig, type AccountSession } from '../accounts';
import { matchesPattern, type EventPattern } from '../event-pattern';
import type { EventSink, PutEventsEntry } from './aws-front';
import type { EnvironmentPool, InvocationOutcome } from './environments';
import type { DeployedFunction } from './functions';

/** An EventBridge envelope as a target receives it. */
export interface Envelope {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: Record<string, unknown>;
}

/** A verdict of the IAM simulation. */
export type Verdict =
  { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

/** A request a role makes, with the resource's policy where the caller has it at hand. */
export interface RoleRequest {
  readonly action: string;
  readonly resource: string;
  readonly context?: Readonly<Record<string, string | readonly string[]>>;
  readonly resourcePolicy?: string;
}

/** A request an AWS service principal makes on a resource, on behalf of `sourceArn`. */
export interface ServiceRequest {
  readonly policy: string | undefined;
  readonly service: string;
  readonly action: string;
  readonly resource: string;
  readonly sourceArn: string;
  readonly sourceAccount: string;
}

/** A PutEvents from another account's principal onto a bus. */
export interface BusRequest {
  readonly policy: string | undefined;
  readonly principalArn: string;
  readonly busArn: string;
  readonly source: string;
  readonly detailType: string;
}

/** The policy checks the data plane needs (harness/deployed/authorizer.ts implements them). */
export interface DeliveryPolicies {
  /** May `service` assume the role for `sourceAccount` (the role's trust policy)? */
  canAssume(roleArn: string, service: string, sourceAccount: string): Promise<Verdict>;
  /** May the role make the request (identity policy, and the resource's policy if any)? */
  roleMay(roleArn: string, request: RoleRequest): Promise<Verdict>;
  /** Does a resource policy let an AWS service principal act, from `sourceArn`? */
  serviceMay(request: ServiceRequest): Promise<Verdict>;
  /** Does a bus policy accept PutEvents from another account's principal? */
  busAccepts(request: BusRequest): Promise<Verdict>;
}

/** What happened to one event at one target or invocation. */
export type DeliveryRecord =
  | {
      readonly kind: 'invoked';
      readonly functionName: string;
      readonly eventId: string;
      readonly detailType: string;
      readonly attempt: number;
      readonly outcome: InvocationOutcome;
    }
  | {
      readonly kind: 'dead-lettered' | 'lost';
      readonly by: 'eventbridge' | 'lambda' | 'scheduler';
      readonly eventId: string;
      readonly detailType: string;
      readonly target: string;
      readonly reason: string;
      readonly queueArn?: string;
    };

interface Rule {
  readonly name: string;
  readonly arn: string;
  readonly pattern: EventPattern;
  readonly targets: readonly Target[];
}

interface Bus {
  readonly accountId: string;
  readonly name: string;
  readonly arn: string;
  readonly policy: string | undefined;
}

export interface DataPlaneOptions {
  readonly region: string;
  /** A session per account of the world (the harness's own, to read what was deployed). */
  readonly sessions: readonly AccountSession[];
  readonly functions: readonly DeployedFunction[];
  readonly pool: EnvironmentPool;
  readonly policies: DeliveryPolicies;
}

type Work = () => Promise<void>;

export class EventDataPlane implements EventSink {
  /** Every event put on a bus, with the bus it was put on. */
  readonly events: (Envelope & { readonly bus: string })[] = [];
  readonly deliveries: DeliveryRecord[] = [];
  /** One-time schedules run, as Scheduler would. */
  readonly schedulesRun: string[] = [];
  private readonly queue: Work[] = [];
  private inFlight = 0;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly failures: unknown[] = [];
  private readonly clients = new Map<string, Clients>();
  private readonly rules = new Map<string, Promise<Rule[]>>();
  private readonly buses = new Map<string, Promise<Bus | undefined>>();
  private readonly sessions: ReadonlyMap<string, AccountSession>;
  private readonly ran = new Set<string>();

  constructor(private readonly options: DataPlaneOptions) {
    this.sessions = new Map(options.sessions.map((s) => [s.accountId, s]));
  }

  /** Forget what was read of rules and buses (after a test changed them). */
  refresh(): void {
    this.rules.clear();
    this.buses.clear();
  }

  /** PutEvents from a function (through the front): accepted now, delivered by `drain`. */
  async putEvents(callerAccountId: string, entries: readonly PutEventsEntry[]) {
    const results: ({ EventId: string } | { ErrorCode: string; ErrorMessage: string })[] = [];
    for (const entry of entries) {
      const busRef = entry.EventBusName ?? 'default';
      const bus = await this.bus(busRef, callerAccountId);
      if (!bus) {
        results.push({
          ErrorCode: 'ResourceNotFoundException',
          ErrorMessage: `Event bus ${busRef} does not exist.`,
        });
        continue;
      }
      const envelope = this.envelope(callerAccountId, entry);
      results.push({ EventId: envelope.id });
      this.enqueue(() => this.deliverOnBus(bus, envelope));
    }
    return results;
  }

  /** Puts an event on a bus as an account (an operator, a forged or replayed event). */
  async put(accountId: string, entry: PutEventsEntry): Promise<string> {
    const [result] = await this.putEvents(accountId, [entry]);
    if (!result || 'ErrorCode' in result) throw new Error(`put: ${JSON.stringify(result)}`);
    return result.EventId;
  }

  /**
   * Runs a stored schedule now, as EventBridge Scheduler does when it comes due: assumes the
   * schedule's role and puts its input on its target bus, or sends it to its dead-letter queue.
   */
  async fireSchedule(accountId: string, name: string, group = 'default'): Promise<void> {
    const scheduler = this.clientsOf(accountId).scheduler;
    const schedule = await scheduler.send(new GetScheduleCommand({ Name: name, GroupName: group }));
    const target = schedule.Target;
    const parameters = target?.EventBridgeParameters;
    if (!target?.Arn || !target.RoleArn || !parameters?.DetailType || !parameters.Source) {
      throw new Error(`schedule ${group}/${name} has no EventBridge target with a role`);
    }
    const envelope = this.envelope(accountId, {
      Source: parameters.Source,
      DetailType: parameters.DetailType,
      Detail: target.Input ?? '{}',
    });
    const refused = await this.roleMayPut(target.RoleArn, 'scheduler.amazonaws.com', accountId, {
      busRef: target.Arn,
      envelope,
    });
    const bus = await this.bus(target.Arn, accountId);
    const failure = refused ?? (bus ? undefined : `target bus ${target.Arn} does not exist`);
    if (failure) {
      await this.deadLetter(
        'scheduler',
        envelope,
        target.Arn,
        failure,
        target.DeadLetterConfig?.Arn,
        // Scheduler sends to its dead-letter queue with the schedule's execution role.
        { roleArn: target.RoleArn },
      );
      return;
    }
    this.enqueue(() => this.deliverOnBus(bus!, envelope));
  }

  /** Runs a scheduled rule (a `schedule` event of serverless.yml) now. */
  async fireRule(accountId: string, ruleName: string, busName = 'default'): Promise<void> {
    const bus = await this.bus(busName, accountId);
    const rule = bus && (await this.rulesOf(bus, true)).find((r) => r.name === ruleName);
    if (!bus || !rule) throw new Error(`no rule ${ruleName} on bus ${busName} of ${accountId}`);
    const envelope = this.envelope(accountId, {
      Source: 'aws.events',
      DetailType: 'Scheduled Event',
      Detail: '{}',
      Resources: [rule.arn],
    });
    this.enqueue(() => this.deliverToTargets(bus, rule, envelope));
  }

  /**
   * Delivers until nothing is queued or running and no one-time schedule comes due within
   * `maxScheduleWaitMs` (real time); then rethrows the first harness failure, if any.
   */
  async drain(maxScheduleWaitMs = 30_000): Promise<void> {
    for (;;) {
      await this.idle();
      if (!(await this.runDueSchedule(Date.now() + maxScheduleWaitMs))) break;
    }
    const [failure] = this.failures.splice(0);
    if (failure) throw failure;
  }

  close(): void {
    for (const c of this.clients.values()) {
      c.events.destroy();
      c.lambda.destroy();
      c.scheduler.destroy();
      c.sqs.destroy();
    }
    this.clients.clear();
  }

  private envelope(accountId: string, entry: PutEventsEntry): Envelope {
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': entry.DetailType ?? '',
      source: entry.Source ?? '',
      account: accountId,
      time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      region: this.options.region,
      resources: entry.Resources ?? [],
      detail: JSON.parse(entry.Detail ?? '{}') as Record<string, unknown>,
    };
  }

  private async deliverOnBus(bus: Bus, envelope: Envelope): Promise<void> {
    this.events.push({ ...envelope, bus: bus.arn });
    for (const rule of await this.rulesOf(bus)) {
      if (matchesPattern(rule.pattern, envelope)) await this.deliverToTargets(bus, rule, envelope);
    }
  }

  private async deliverToTargets(bus: Bus, rule: Rule, envelope: Envelope): Promise<void> {
    for (const target of rule.targets) {
      const failure = await this.deliverToTarget(bus, rule, target, envelope);
      if (failure) {
        await this.deadLetter(
          'eventbridge',
          envelope,
          target.Arn!,
          failure,
          target.DeadLetterConfig?.Arn,
          {
            service: 'events.amazonaws.com',
            sourceArn: rule.arn,
            sourceAccount: bus.accountId,
            rule: rule.arn,
          },
        );
      }
    }
  }

  /** Hands the event to one target; returns why it could not, if it could not. */
  private async deliverToTarget(
    bus: Bus,
    rule: Rule,
    target: Target,
    envelope: Envelope,
  ): Promise<string | undefined> {
    const arn = target.Arn ?? '';
    if (arn.startsWith('arn:aws:lambda:')) {
      const fn = this.options.functions.find(
        (f) => f.arn === arn || f.arn === arn.replace(/:\$LATEST$/, ''),
      );
      if (!fn) return `ResourceNotFoundException: function ${arn} does not exist`;
      const policy = await this.functionPolicy(fn);
      const verdict = await this.options.policies.serviceMay({
        policy,
        service: 'events.amazonaws.com',
        action: 'lambda:InvokeFunction',
        resource: fn.arn,
        sourceArn: rule.arn,
        sourceAccount: bus.accountId,
      });
      if (!verdict.allowed) return `AccessDeniedException: ${verdict.reason}`;
      this.enqueue(() => this.invokeAsync(fn, envelope));
      return undefined;
    }
    if (arn.includes(':event-bus/')) {
      if (!target.RoleArn) return `target ${arn} has no role`;
      const refused = await this.roleMayPut(target.RoleArn, 'events.amazonaws.com', bus.accountId, {
        busRef: arn,
        envelope,
      });
      if (refused) return refused;
      const next = await this.bus(arn, bus.accountId);
      if (!next) return `ResourceNotFoundException: event bus ${arn} does not exist`;
      // Across accounts the event keeps its sender's account, as on AWS.
      this.enqueue(() => this.deliverOnBus(next, envelope));
      return undefined;
    }
    if (arn.startsWith('arn:aws:sqs:')) {
      return this.sendToQueue(arn, JSON.stringify(envelope), {
        service: 'events.amazonaws.com',
        sourceArn: rule.arn,
        sourceAccount: bus.accountId,
      });
    }
    return `the local data plane cannot deliver to ${arn}`;
  }

  /**
   * May `roleArn`, assumed by `service`, put `envelope` on `busRef`? Checks the trust policy,
   * the identity policy, and across accounts the receiving bus's policy. Returns why not.
   */
  private async roleMayPut(
    roleArn: string,
    service: string,
    sourceAccount: string,
    { busRef, envelope }: { busRef: string; envelope: Envelope },
  ): Promise<string | undefined> {
    const trust = await this.options.policies.canAssume(roleArn, service, sourceAccount);
    if (!trust.allowed) return `${service} cannot assume ${roleArn}: ${trust.reason}`;
    const bus = await this.bus(busRef, sourceAccount);
    const busArn = bus?.arn ?? busRef;
    const identity = await this.options.policies.roleMay(roleArn, {
      action: 'events:PutEvents',
      resource: busArn,
      context: { 'events:source': envelope.source, 'events:detail-type': envelope['detail-type'] },
    });
    if (!identity.allowed) return `AccessDeniedException: ${identity.reason}`;
    if (bus && bus.accountId !== accountOf(roleArn)) {
      const accepted = await this.options.policies.busAccepts({
        policy: bus.policy,
        principalArn: roleArn,
        busArn: bus.arn,
        source: envelope.source,
        detailType: envelope['detail-type'],
      });
      if (!accepted.allowed) return `AccessDeniedException: ${accepted.reason}`;
    }
    return undefined;
  }

  /** Lambda's asynchronous invocation: tries, then the on-failure destination. */
  private async invokeAsync(fn: DeployedFunction, envelope: Envelope): Promise<void> {
    const attempts = 1 + fn.maximumRetryAttempts;
    let last: (InvocationOutcome & { requestId: string }) | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      last = await this.options.pool.invoke(fn, envelope);
      this.deliveries.push({
        kind: 'invoked',
        functionName: fn.name,
        eventId: envelope.id,
        detailType: envelope['detail-type'],
        attempt,
        outcome: last,
      });
      if (last.ok) return;
    }
    if (!last || last.ok) return;
    const reason = `${last.errorType}: ${last.errorMessage}`;
    if (!fn.onFailure) {
      this.deliveries.push({
        kind: 'lost',
        by: 'lambda',
        eventId: envelope.id,
        detailType: envelope['detail-type'],
        target: fn.arn,
        reason: `${reason} (no on-failure destination)`,
      });
      return;
    }
    const record = {
      version: '1.0',
      timestamp: new Date().toISOString(),
      requestContext: {
        requestId: last.requestId,
        functionArn: `${fn.arn}:$LATEST`,
        condition: 'RetriesExhausted',
        approximateInvokeCount: attempts,
      },
      requestPayload: envelope,
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: { errorType: last.errorType, errorMessage: last.errorMessage },
    };
    // Lambda sends to a destination with the function's execution role.
    const failed = await this.sendToQueue(fn.onFailure, JSON.stringify(record), {
      roleArn: fn.roleArn,
    });
    this.deliveries.push({
      kind: failed ? 'lost' : 'dead-lettered',
      by: 'lambda',
      eventId: envelope.id,
      detailType: envelope['detail-type'],
      target: fn.arn,
      reason: failed ? `${reason}; destination ${fn.onFailure}: ${failed}` : reason,
      queueArn: fn.onFailure,
    });
  }

  private async deadLetter(
    by: 'eventbridge' | 'scheduler',
    envelope: Envelope,
    target: string,
    reason: string,
    queueArn: string | undefined,
    sender: QueueSender & { rule?: string },
  ): Promise<void> {
    const base = { by, eventId: envelope.id, detailType: envelope['detail-type'], target, reason };
    if (!queueArn) {
      this.deliveries.push({ kind: 'lost', ...base, reason: `${reason} (no dead-letter queue)` });
      return;
    }
    const [code, ...message] = reason.split(': ');
    const failed = await this.sendToQueue(queueArn, JSON.stringify(envelope), sender, {
      ...(sender.rule && { RULE_ARN: sender.rule }),
      TARGET_ARN: target,
      ERROR_CODE: message.length > 0 ? code! : 'DeliveryFailed',
      ERROR_MESSAGE: message.length > 0 ? message.join(': ') : reason,
    });
    this.deliveries.push(
      failed
        ? { kind: 'lost', ...base, reason: `${reason}; dead-letter queue ${queueArn}: ${failed}` }
        : { kind: 'dead-lettered', ...base, queueArn },
    );
  }

  /**
   * Sends to a queue (by ARN) as `sender` (see {@link QueueSender}). Returns why not.
   */
  private async sendToQueue(
    queueArn: string,
    body: string,
    sender: QueueSender,
    attributes: Record<string, string> = {},
  ): Promise<string | undefined> {
    const [, , , , accountId, name] = queueArn.split(':');
    const sqs = this.clientsOf(accountId!).sqs;
    const url = await sqs
      .send(new GetQueueUrlCommand({ QueueName: name }))
      .then((out) => out.QueueUrl)
      .catch(() => undefined);
    if (!url) return `queue ${queueArn} does not exist`;
    if ('roleArn' in sender) {
      const verdict = await this.options.policies.roleMay(sender.roleArn, {
        action: 'sqs:SendMessage',
        resource: queueArn,
      });
      if (!verdict.allowed) return `AccessDenied: ${verdict.reason}`;
    } else {
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['Policy'] }),
      );
      const verdict = await this.options.policies.serviceMay({
        policy: Attributes?.Policy,
        service: sender.service,
        action: 'sqs:SendMessage',
        resource: queueArn,
        sourceArn: sender.sourceArn,
        sourceAccount: sender.sourceAccount,
      });
      if (!verdict.allowed)
        return `the queue's policy refuses ${sender.service}: ${verdict.reason}`;
    }
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: body,
        MessageAttributes: Object.fromEntries(
          Object.entries(attributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v }]),
        ),
      }),
    );
    return undefined;
  }

  /** Runs the earliest one-time schedule of any account if it comes due before `deadline`. */
  private async runDueSchedule(deadline: number): Promise<boolean> {
    let next: { accountId: string; name: string; group: string; at: number } | undefined;
    for (const accountId of this.sessions.keys()) {
      const scheduler = this.clientsOf(accountId).scheduler;
      const { Schedules = [] } = await scheduler.send(new ListSchedulesCommand({}));
      for (const s of Schedules) {
        const schedule = await scheduler.send(
          new GetScheduleCommand({ Name: s.Name, GroupName: s.GroupName }),
        );
        const at = /^at\((.+)\)$/.exec(schedule.ScheduleExpression ?? '')?.[1];
        if (at === undefined || schedule.State === 'DISABLED') continue;
        const due = Date.parse(`${at}Z`);
        // A one-time schedule runs once; one kept after completion stays, ended.
        if (this.ran.has(`${accountId}/${s.GroupName}/${s.Name}/${due}`)) continue;
        if (!next || due < next.at)
          next = { accountId, name: s.Name!, group: s.GroupName!, at: due };
      }
    }
    if (!next || next.at > deadline) return false;
    this.ran.add(`${next.accountId}/${next.group}/${next.name}/${next.at}`);
    if (next.at > Date.now()) await new Promise((r) => setTimeout(r, next.at - Date.now()));
    const scheduler = this.clientsOf(next.accountId).scheduler;
    const schedule = await scheduler.send(
      new GetScheduleCommand({ Name: next.name, GroupName: next.group }),
    );
    await this.fireSchedule(next.accountId, next.name, next.group);
    this.schedulesRun.push(`${next.group}/${next.name}`);
    if (schedule.ActionAfterCompletion === 'DELETE') {
      await scheduler.send(new DeleteScheduleCommand({ Name: next.name, GroupName: next.group }));
    }
    return true;
  }

  private enqueue(work: Work): void {
    this.inFlight++;
    void work()
      .catch((error: unknown) => {
        this.failures.push(error);
      })
      .finally(() => {
        this.inFlight--;
        if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      });
  }

  private idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** A bus by name or ARN, as seen from `accountId`; undefined if it does not exist. */
  private bus(ref: string, accountId: string): Promise<Bus | undefined> {
    const arn = /^arn:aws:events:[^:]+:(\d{12}):event-bus\/(.+)$/.exec(ref);
    const owner = arn ? arn[1]! : accountId;
    const name = arn ? arn[2]! : ref;
    const key = `${owner}/${name}`;
    let bus = this.buses.get(key);
    if (!bus) {
      bus = this.readBus(owner, name);
      this.buses.set(key, bus);
    }
    return bus;
  }

  private async readBus(accountId: string, name: string): Promise<Bus | undefined> {
    if (!this.sessions.has(accountId)) return undefined;
    try {
      const out = await this.clientsOf(accountId).events.send(
        new DescribeEventBusCommand({ Name: name }),
      );
      return { accountId, name, arn: out.Arn!, policy: out.Policy };
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }

  /** A bus's rules with their targets; scheduled rules only when asked for. */
  private async rulesOf(bus: Bus, scheduled = false): Promise<Rule[]> {
    const key = `${bus.arn}|${scheduled}`;
    let rules = this.rules.get(key);
    if (!rules) {
      rules = this.readRules(bus, scheduled);
      this.rules.set(key, rules);
    }
    return rules;
  }

  private async readRules(bus: Bus, scheduled: boolean): Promise<Rule[]> {
    const events = this.clientsOf(bus.accountId).events;
    const { Rules = [] } = await events.send(new ListRulesCommand({ EventBusName: bus.name }));
    const out: Rule[] = [];
    for (const rule of Rules) {
      // moto fires disabled rules; EventBridge does not.
      if (rule.State !== 'ENABLED') continue;
      if (!scheduled && !rule.EventPattern) continue;
      const { Targets = [] } = await events.send(
        new ListTargetsByRuleCommand({ Rule: rule.Name, EventBusName: bus.name }),
      );
      out.push({
        name: rule.Name!,
        arn: rule.Arn!,
        pattern: rule.EventPattern ? (JSON.parse(rule.EventPattern) as EventPattern) : {},
        targets: Targets,
      });
    }
    return out;
  }

  private async functionPolicy(fn: DeployedFunction): Promise<string | undefined> {
    return this.clientsOf(fn.accountId)
      .lambda.send(new GetPolicyCommand({ FunctionName: fn.name }))
      .then((out) => out.Policy)
      .catch(() => undefined);
  }

  private clientsOf(accountId: string): Clients {
    let clients = this.clients.get(accountId);
    if (!clients) {
      const session = this.sessions.get(accountId);
      if (!session) throw new Error(`no local session for account ${accountId}`);
      const config = clientConfig(session);
      clients = {
        events: new EventBridgeClient(config),
        lambda: new LambdaClient(config),
        scheduler: new SchedulerClient(config),
        sqs: new SQSClient(config),
      };
      this.clients.set(accountId, clients);
    }
    return clients;
  }
}

/**
 * Who sends to a queue: an AWS service under the queue's resource policy (EventBridge for a
 * rule's dead-letter queue), or a role under its identity policy (Lambda's destinations and
 * Scheduler's dead-letter queue use the function's or schedule's role).
 */
type QueueSender =
  | { readonly service: string; readonly sourceArn: string; readonly sourceAccount: string }
  | { readonly roleArn: string };

interface Clients {
  events: EventBridgeClient;
  lambda: LambdaClient;
  scheduler: SchedulerClient;
  sqs: SQSClient;
}

const accountOf = (arn: string) => arn.split(':')[4] ?? '';
