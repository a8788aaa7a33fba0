/**
 * Fault injection for the chaos tests, as SDK middleware on the functions' clients (through
 * `decorateClient` in local-keyrot.ts) and hooks of the event runner; never a branch in
 * product code. Test infrastructure only.
 *
 * - Throttling, 5xx and access denied are answered in place of AWS, below the SDK's
 *   deserializer and inside its retry loop: the real deserializer turns them into the
 *   service's own exceptions, and the SDK's retry strategy sees every attempt (so "2 times"
 *   is absorbed by a retry, "every time" reaches the function).
 * - A crash is a process that dies: from the chosen call on (after it took effect, or
 *   before), every call of the invocation fails and the runner discards its outcome and
 *   redelivers the event, as Lambda does when the runtime exits.
 *
 * Each invocation has its own state (which function runs, whether its process died), kept
 * in an async context, so concurrent invocations (duplicate deliveries in separate
 * execution environments) never see each other's crash.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { HandlerExecutionContext, MetadataBearer, MiddlewareStack } from '@smithy/types';
import type { InvocationHooks } from './runner';
import type { ServiceName } from './subscriptions';

export type Fault =
  | 'throttle'
  | 'server-error'
  | 'access-denied'
  | 'crash-after'
  | 'crash-before'
  /** Runs `action` right after the call took effect (someone else acts at that moment). */
  | 'action-after';

/** An AWS service as its SDK client names it (`KMSClient` → `KMS`). */
export type AwsService =
  'APIGateway' | 'CloudFront' | 'DynamoDB' | 'EventBridge' | 'KMS' | 'Scheduler' | 'SecretsManager';

export interface FaultRule {
  readonly fault: Fault;
  /** AWS operations, e.g. `CreateApiKey`, `UpdateDistribution`, `PutItem`; all when absent. */
  readonly operations?: readonly string[];
  /** Only calls to this AWS service. */
  readonly awsService?: AwsService;
  /** Only calls made by this function's invocations. */
  readonly service?: ServiceName;
  /** Only calls whose input (as JSON) contains this text, e.g. a ledger step's sort key. */
  readonly inputContains?: string;
  /** Only these attempts of each call (1 = the first; the SDK's retries are 2, 3…). */
  readonly attempts?: readonly number[];
  /** Let this many matching calls through first (default 0). */
  readonly skip?: number;
  /** Matching calls (SDK attempts) to fail; default 1 (with `forMs`: every one). `Infinity`: every one. */
  readonly times?: number;
  /**
   * Fail matching calls for this long from the first one (on the injector's clock): AWS
   * throttling for minutes, longer than any one invocation's retries.
   */
  readonly forMs?: number;
  /** For `action-after`. */
  readonly action?: () => Promise<void>;
}

/** Thrown by every call of an invocation whose process has died. */
export class SimulatedCrash extends Error {
  constructor(where: string) {
    super(`simulated crash: the process died ${where}`);
    this.name = 'SimulatedCrash';
  }
}

/** One AWS call a function made (each SDK call once, whatever its retries). */
export interface Call {
  readonly awsService: string;
  readonly operation: string;
  readonly service: ServiceName | undefined;
  /** Whether it succeeded. */
  readonly ok: boolean;
}

export interface Injection {
  readonly awsService: string;
  readonly operation: string;
  readonly fault: Fault;
  readonly service: ServiceName | undefined;
}

/** `KMSClient` → `KMS`; the DynamoDB document client counts as DynamoDB. */
export function awsServiceOf(clientName: string | undefined): string {
  return (clientName ?? '').replace(/DocumentClient$|Client$/, '');
}

/** The attempt number the SDK's retry middleware wrote in `amz-sdk-request`. */
function attemptOf(request: unknown): number {
  const headers = (request as { headers?: Record<string, string> } | undefined)?.headers ?? {};
  const header = headers['amz-sdk-request'] ?? '';
  const attempt = /attempt=(\d+)/.exec(header)?.[1];
  return attempt === undefined ? 1 : Number(attempt);
}

/** The raw answer of each service's protocol for a fault (what AWS would send). */
const ANSWERS: Record<string, Record<'throttle' | 'server-error' | 'access-denied', Answer>> = {
  APIGateway: {
    throttle: restJson(429, 'TooManyRequestsException', 'Too Many Requests'),
    'server-error': restJson(503, 'ServiceUnavailableException', 'Service Unavailable'),
    'access-denied': restJson(403, 'AccessDeniedException', 'not authorized'),
  },
  Scheduler: {
    throttle: restJson(429, 'ThrottlingException', 'Rate exceeded'),
    'server-error': restJson(500, 'InternalServerException', 'Internal error'),
    'access-denied': restJson(403, 'AccessDeniedException', 'not authorized'),
  },
  CloudFront: {
    throttle: restXml(400, 'Throttling', 'Rate exceeded'),
    'server-error': restXml(503, 'ServiceUnavailable', 'Service Unavailable'),
    'access-denied': restXml(403, 'AccessDenied', 'not authorized'),
  },
  DynamoDB: {
    throttle: awsJson(400, '1.0', 'com.amazonaws.dynamodb.v20120810#ThrottlingException'),
    'server-error': awsJson(500, '1.0', 'com.amazonaws.dynamodb.v20120810#InternalServerError'),
    'access-denied': awsJson(400, '1.0', 'com.amazon.coral.service#AccessDeniedException'),
  },
  EventBridge: {
    throttle: awsJson(400, '1.1', 'ThrottlingException'),
    'server-error': awsJson(500, '1.1', 'InternalException'),
    'access-denied': awsJson(400, '1.1', 'AccessDeniedException'),
  },
  KMS: {
    throttle: awsJson(400, '1.1', 'ThrottlingException'),
    'server-error': awsJson(500, '1.1', 'KMSInternalException'),
    'access-denied': awsJson(400, '1.1', 'AccessDeniedException'),
  },
  SecretsManager: {
    throttle: awsJson(400, '1.1', 'ThrottlingException'),
    'server-error': awsJson(500, '1.1', 'InternalServiceError'),
    'access-denied': awsJson(400, '1.1', 'AccessDeniedException'),
  },
};

interface Answer {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

function restJson(statusCode: number, type: string, message: string): Answer {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'x-amzn-errortype': type },
    body: JSON.stringify({ message }),
  };
}

function restXml(statusCode: number, code: string, message: string): Answer {
  const type = statusCode >= 500 ? 'Receiver' : 'Sender';
  return {
    statusCode,
    headers: { 'content-type': 'text/xml' },
    body:
      `<?xml version="1.0"?><ErrorResponse><Error><Type>${type}</Type><Code>${code}</Code>` +
      `<Message>${message}</Message></Error><RequestId>keyrot-chaos</RequestId></ErrorResponse>`,
  };
}

function awsJson(statusCode: number, version: '1.0' | '1.1', type: string): Answer {
  return {
    statusCode,
    headers: { 'content-type': `application/x-amz-json-${version}` },
    body: JSON.stringify({ __type: type, message: 'injected by the chaos harness' }),
  };
}

/** `PutItemCommand` → `PutItem`; the document client's `PutCommand` → `PutItem`. */
export function operationOf(commandName: string | undefined): string {
  const name = (commandName ?? '').replace(/Command$/, '');
  const documentClient: Record<string, string> = {
    Put: 'PutItem',
    Get: 'GetItem',
    Delete: 'DeleteItem',
    Update: 'UpdateItem',
    TransactWrite: 'TransactWriteItems',
    TransactGet: 'TransactGetItems',
    BatchWrite: 'BatchWriteItem',
    BatchGet: 'BatchGetItem',
  };
  return documentClient[name] ?? name;
}

type AnyStack = MiddlewareStack<object, MetadataBearer>;
type Rule = FaultRule & { seen: number; failed: number; startedAt?: number };

/**
 * Faults to inject into one local world. Pass {@link decorateClient} as the
 * `decorateClient` option of `buildHandlers` and {@link hooks} to the event runner.
 */
export class FaultInjector {
  private readonly rules: Rule[];
  /** The invocation the current call belongs to (none: the harness's own calls). */
  private readonly invocation = new AsyncLocalStorage<{
    readonly service: ServiceName;
    crashed?: string;
  }>();
  /** Every fault injected, in order. */
  readonly injections: Injection[] = [];
  /** Every AWS call the functions made, in order of completion. */
  readonly calls: Call[] = [];
  /** Invocations that died (their outcome discarded, the event redelivered). */
  readonly crashes: { service: ServiceName; where: string }[] = [];

  constructor(
    rules: readonly FaultRule[] = [],
    /** The clock of `forMs` (the functions' clock; default real time). */
    private readonly now: () => number = Date.now,
  ) {
    this.rules = rules.map((rule) => ({ ...rule, seen: 0, failed: 0 }));
  }

  /** Adds a rule while the world runs. */
  add(rule: FaultRule): void {
    this.rules.push({ ...rule, seen: 0, failed: 0 });
  }

  readonly hooks: InvocationHooks = {
    run: async (service, invoke) => {
      const state: { service: ServiceName; crashed?: string } = { service };
      const result = await this.invocation.run(state, invoke);
      if (state.crashed !== undefined) this.crashes.push({ service, where: state.crashed });
      return { result, died: state.crashed !== undefined };
    },
  };

  private get current(): ServiceName | undefined {
    return this.invocation.getStore()?.service;
  }

  readonly decorateClient = <C extends { middlewareStack: unknown }>(client: C): C => {
    const stack = client.middlewareStack as AnyStack;
    // Outermost, above the SDK's retries: a crash is not an AWS error to retry.
    stack.add(
      (next, context) => async (args) => {
        const call = {
          aws: awsServiceOf(context.clientName),
          operation: operationOf(context.commandName),
        };
        const crashed = this.invocation.getStore()?.crashed;
        if (crashed !== undefined) throw new SimulatedCrash(crashed);
        const rule = this.match(call, args.input, 1, [
          'crash-before',
          'crash-after',
          'action-after',
        ]);
        if (rule?.fault === 'crash-before') this.crash(`before ${call.operation}`, rule, call);
        const seen = { awsService: call.aws, operation: call.operation, service: this.current };
        let result: Awaited<ReturnType<typeof next>>;
        try {
          result = await next(args);
        } catch (error) {
          this.calls.push({ ...seen, ok: false });
          throw error;
        }
        this.calls.push({ ...seen, ok: true });
        if (rule?.fault === 'crash-after') this.crash(`after ${call.operation}`, rule, call);
        if (rule?.fault === 'action-after') {
          this.note(rule, call);
          await rule.action?.();
        }
        return result;
      },
      { step: 'initialize', priority: 'high', name: 'keyrotChaosCrash' },
    );
    // Innermost, below the deserializer: each attempt of the SDK's retry loop comes here.
    stack.add(
      (next, context: HandlerExecutionContext) => async (args) => {
        const call = {
          aws: awsServiceOf(context.clientName),
          operation: operationOf(context.commandName),
        };
        const rule = this.match(call, args.input, attemptOf(args.request), [
          'throttle',
          'server-error',
          'access-denied',
        ]);
        if (!rule) return next(args);
        const fault = rule.fault as 'throttle' | 'server-error' | 'access-denied';
        const answer = ANSWERS[call.aws]?.[fault];
        if (!answer) throw new Error(`faults: no ${fault} answer for ${call.aws}`);
        this.note(rule, call);
        return {
          response: {
            statusCode: answer.statusCode,
            reason: 'injected',
            headers: { ...answer.headers },
            body: Buffer.from(answer.body, 'utf8'),
          },
        };
      },
      { step: 'deserialize', priority: 'low', name: 'keyrotChaosFault' },
    );
    return client;
  };

  private match(
    call: { aws: string; operation: string },
    input: unknown,
    attempt: number,
    faults: readonly Fault[],
  ): Rule | undefined {
    for (const rule of this.rules) {
      if (!faults.includes(rule.fault)) continue;
      if (rule.operations && !rule.operations.includes(call.operation)) continue;
      if (rule.awsService !== undefined && rule.awsService !== call.aws) continue;
      if (rule.service !== undefined && rule.service !== this.current) continue;
      if (rule.attempts && !rule.attempts.includes(attempt)) continue;
      if (rule.inputContains !== undefined && !JSON.stringify(input).includes(rule.inputContains))
        continue;
      rule.seen++;
      if (rule.forMs !== undefined) {
        rule.startedAt ??= this.now();
        if (this.now() - rule.startedAt > rule.forMs) continue;
      }
      const times = rule.times ?? (rule.forMs === undefined ? 1 : Infinity);
      if (rule.seen <= (rule.skip ?? 0) || rule.failed >= times) continue;
      return rule;
    }
    return undefined;
  }

  private note(rule: Rule, call: { aws: string; operation: string }): void {
    rule.failed++;
    this.injections.push({
      awsService: call.aws,
      operation: call.operation,
      fault: rule.fault,
      service: this.current,
    });
  }

  private crash(where: string, rule: Rule, call: { aws: string; operation: string }): never {
    this.note(rule, call);
    const crashed = `${where} in ${this.current ?? 'the harness'}`;
    const state = this.invocation.getStore();
    if (state) state.crashed = crashed;
    throw new SimulatedCrash(crashed);
  }
}
