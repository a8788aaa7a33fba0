import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { EventPattern } from './event-pattern';
import type { LocalWorld } from './provision';

/** keyrot's services, in the order a rotation reaches them. */
export const SERVICES = ['key-issuer', 'edge-updater', 'key-reaper'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** One function's EventBridge trigger, as its serverless.yml declares it. */
export interface Subscription {
  readonly service: ServiceName;
  readonly functionName: string;
  /**
   * The export of the service's `src/handler.ts` the function runs: serverless.yml's
   * `handler: src/handler.<export>`, as the Lambda runtime resolves it.
   */
  readonly handler: string;
  /** Account and bus name of the rule, from the `eventBus` ARN. */
  readonly account: string;
  readonly busName: string;
  readonly pattern: EventPattern;
  /** The function's reserved concurrency, if it has one. */
  readonly reservedConcurrency?: number;
  /**
   * How often Lambda retries an invocation that fails (`maximumRetryAttempts`; Lambda's
   * default, 2, if the function states none) before it sends the event to the function's
   * on-failure destination.
   */
  readonly maximumRetryAttempts: number;
  /** The function's `timeout` in seconds (osls's default, 6, if it states none). */
  readonly timeoutSeconds: number;
}

/** Lambda's default for `maximumRetryAttempts` of an asynchronous invocation. */
const LAMBDA_DEFAULT_RETRY_ATTEMPTS = 2;
/** The Serverless Framework's default function timeout, in seconds. */
const SERVERLESS_DEFAULT_TIMEOUT_SECONDS = 6;

/** A rule's bus: an ARN, a name (created by the stack), or a `Ref` to the stack's own bus. */
type EventBusRef = string | { Ref: string };

interface ServerlessFile {
  params?: { default?: Record<string, string | number> };
  custom?: { keyrot?: { account?: string } };
  functions?: Record<
    string,
    {
      handler?: string;
      reservedConcurrency?: number | string;
      maximumRetryAttempts?: number | string;
      timeout?: number | string;
      events?: { eventBridge?: { eventBus: EventBusRef; pattern: EventPattern } }[];
    }
  >;
}

/**
 * Reads each service's `serverless.yml` and returns its EventBridge subscriptions with
 * `${param:…}` resolved (the file's defaults overridden by `params`). The local runner
 * routes events by exactly these rules, so the deployed wiring is the tested one.
 */
export function loadSubscriptions(
  repoRoot: string,
  params: Readonly<Record<string, string>>,
): Subscription[] {
  return SERVICES.flatMap((service) => {
    const file = path.join(repoRoot, 'services', service, 'serverless.yml');
    const doc = parse(readFileSync(file, 'utf8')) as ServerlessFile;
    const values = { ...doc.params?.default, ...params };
    const resolve = <T>(node: T): T => resolveParams(node, values, file);
    return Object.entries(doc.functions ?? {}).flatMap(([functionName, fn]) =>
      (fn.events ?? []).flatMap(({ eventBridge }) => {
        if (!eventBridge) return [];
        const bus = busOf(
          resolve(eventBridge.eventBus),
          resolve(doc.custom?.keyrot?.account),
          values.busName === undefined ? undefined : String(values.busName),
        );
        if (!bus.account || !bus.name) {
          throw new Error(`${file}: ${functionName}: cannot tell the account and bus of its rule`);
        }
        const handler = handlerExportOf(fn.handler, `${file}: ${functionName}`);
        const reserved = fn.reservedConcurrency && Number(resolve(fn.reservedConcurrency));
        const retries = Number(resolve(fn.maximumRetryAttempts ?? LAMBDA_DEFAULT_RETRY_ATTEMPTS));
        return [
          {
            service,
            functionName,
            handler,
            account: bus.account,
            busName: bus.name,
            pattern: resolve(eventBridge.pattern),
            ...(reserved && { reservedConcurrency: reserved }),
            maximumRetryAttempts: retries,
            timeoutSeconds: Number(resolve(fn.timeout ?? SERVERLESS_DEFAULT_TIMEOUT_SECONDS)),
          },
        ];
      }),
    );
  });
}

/** The subscriptions as deployed into `world`'s accounts, region and bus. */
export function worldSubscriptions(
  world: LocalWorld,
  repoRoot = path.resolve(__dirname, '..'),
): Subscription[] {
  return loadSubscriptions(repoRoot, {
    region: world.api.session.region,
    apiAccountId: world.api.session.accountId,
    edgeAccountId: world.edge.session.accountId,
    busName: world.api.busName,
  });
}

/** Every function's handler is an export of the service's one module, `src/handler`. */
const HANDLER_MODULE = 'src/handler';

/** The export name in a `handler: src/handler.<export>` (what the harness can invoke). */
function handlerExportOf(handler: string | undefined, where: string): string {
  const dot = handler?.lastIndexOf('.') ?? -1;
  if (!handler || dot < 0 || handler.slice(0, dot) !== HANDLER_MODULE) {
    throw new Error(`${where}: handler ${handler} is not ${HANDLER_MODULE}.<export>`);
  }
  return handler.slice(dot + 1);
}

/**
 * The account and name of a rule's bus. An ARN names both; a bus name or a `Ref` to the
 * stack's bus (whose name is the `busName` parameter) is in the service's own account, which
 * each serverless.yml states as `custom.keyrot.account`.
 */
function busOf(
  eventBus: EventBusRef,
  ownAccount: string | undefined,
  ownBusName: string | undefined,
) {
  if (typeof eventBus === 'string') {
    const arn = /^arn:aws:events:[^:]+:(\d{12}):event-bus\/(.+)$/.exec(eventBus);
    if (arn) return { account: arn[1], name: arn[2] };
    return { account: ownAccount, name: eventBus };
  }
  return { account: ownAccount, name: ownBusName };
}

function resolveParams<T>(
  node: T,
  values: Readonly<Record<string, string | number>>,
  file: string,
): T {
  if (typeof node === 'string') {
    return node.replace(/\$\{param:([A-Za-z0-9]+)\}/g, (_, name: string) => {
      const value = values[name];
      if (value === undefined) throw new Error(`${file}: no value for \${param:${name}}`);
      return String(value);
    }) as T;
  }
  if (Array.isArray(node)) return node.map((n: unknown) => resolveParams(n, values, file)) as T;
  if (typeof node === 'object' && node !== null) {
    return Object.fromEntries(
      Object.entries(node).map(([k, v]) => [k, resolveParams(v, values, file)]),
    ) as T;
  }
  return node;
}

/**
 * One function's settings (its handler export, retries and timeout) as its serverless.yml
 * states them, for a trigger that is not an `eventBridge` event there: the drift guard's
 * CloudTrail rule (generated from the manifest, services/manifest/stacks.ts) and its
 * schedule. The runner routes those with the function's own settings.
 */
export function functionSettings(
  repoRoot: string,
  service: ServiceName,
  functionName: string,
): Omit<Subscription, 'account' | 'busName' | 'pattern'> {
  const file = path.join(repoRoot, 'services', service, 'serverless.yml');
  const doc = parse(readFileSync(file, 'utf8')) as ServerlessFile;
  const fn = doc.functions?.[functionName];
  if (!fn) throw new Error(`${file}: no function ${functionName}`);
  const values = doc.params?.default ?? {};
  const resolve = <T>(node: T): T => resolveParams(node, values, file);
  return {
    service,
    functionName,
    handler: handlerExportOf(fn.handler, `${file}: ${functionName}`),
    maximumRetryAttempts: Number(resolve(fn.maximumRetryAttempts ?? LAMBDA_DEFAULT_RETRY_ATTEMPTS)),
    timeoutSeconds: Number(resolve(fn.timeout ?? SERVERLESS_DEFAULT_TIMEOUT_SECONDS)),
  };
}
