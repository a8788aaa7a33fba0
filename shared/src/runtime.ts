import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { InvalidInputError, UntrustedEventError, summarizeError } from './errors';
import type { EventPublisher } from './aws/publisher';
import {
  parseEvent,
  targetNameSchema,
  type Actor,
  type DetailOf,
  type DetailType,
  type RotationFailed,
  type Target,
  type Trust,
  type TrustedEvent,
} from './events';
import type { Ledger } from './ledger';
import { rejectedRotationId } from './rotation/steps';
import { MetricUnit, recordResult, type KeyrotMetrics } from './metrics';
import type { KeyrotLogger } from './log';

/** Time, injectable so tests and the local runner control it. */
export interface Clock {
  now(): Date;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Who acts: the function, its account and the invocation (for the ledger). */
export function actorOf(account: string, context?: Pick<Context, 'functionName' | 'awsRequestId'>) {
  const actor: Actor = {
    function: context?.functionName ?? process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'local',
    account,
    ...(context?.awsRequestId && { requestId: context.awsRequestId }),
  };
  return actor;
}

/**
 * Rotation id for a request that did not bring one: derived from the event's time and id, so
 * a redelivered event (same id) resumes the same rotation instead of starting a second one.
 */
export function rotationIdFor(eventId: string, time: Date): string {
  const stamp = time.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const suffix = eventId
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, 12)
    .toLowerCase();
  return `rot_${stamp}_${suffix}`;
}

/**
 * Reads a service's configuration from the environment; an error names the variable.
 */
export function readConfig<S extends z.ZodMiniType>(
  schema: S,
  env: NodeJS.ProcessEnv,
): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const [issue] = result.error.issues;
  const field = issue?.path.map(String).join('.') || 'environment';
  throw new InvalidInputError(field, issue?.message ?? 'invalid');
}

export const accountIdSchema = z
  .string()
  .check(z.regex(/^\d{12}$/, { error: 'must be a 12-digit account id' }));

/**
 * The environment every keyrot function reads, spread into each service's schema: the API
 * account (the sender it trusts for requests and the ledger's owner) and its own bus.
 */
export const functionConfigFields = {
  API_ACCOUNT_ID: accountIdSchema,
  EVENT_BUS_NAME: z
    .string({ error: 'must be set' })
    .check(z.minLength(1, { error: 'must be set' })),
};

function boundedNumber(
  fallback: number,
  min: number,
  max: number,
  ...checks: z.core.$ZodCheck<number>[]
) {
  return z._default(
    z.coerce
      .number()
      .check(
        ...checks,
        z.gte(min, { error: `must be at least ${min}` }),
        z.lte(max, { error: `must be at most ${max}` }),
      ),
    fallback,
  );
}

/** Builders for the schemas of the functions' environment variables. */
export const envVar = {
  /** A name that must be set (bus, table). */
  name: () => z.string({ error: 'must be set' }).check(z.minLength(1, { error: 'must be set' })),
  /** A number of seconds with bounds and a default. */
  number: (fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
    boundedNumber(fallback, min, max),
  /** A whole number (a count) with bounds and a default. */
  count: (fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
    boundedNumber(fallback, min, max, z.int({ error: 'must be a whole number' })),
  /** An optional URL; empty counts as unset (serverless passes empty parameters as ''). */
  optionalUrl: () => z.optional(z.union([z.literal(''), z.url({ error: 'must be a URL' })])),
};

export interface HandlerResult {
  readonly status: string;
  readonly rotationId?: string;
  /** Durations worth a metric (ms), by name: a step, the whole rotation, the deploy wait. */
  readonly durationsMs?: Readonly<Record<string, number>>;
}

/**
 * The one way a keyrot handler accepts an event: check its origin and schema, and reject
 * anything else with a log line naming the field (and a ledger entry where there is a
 * ledger) instead of acting on it. A rejected event is not retried: no retry can fix it.
 */
export async function acceptEvent<T extends DetailType>(
  raw: unknown,
  trust: Trust<T>,
  deps: {
    log: KeyrotLogger;
    metrics?: KeyrotMetrics;
    ledger?: Ledger;
    actor: Actor;
    clock: Clock;
    context?: Context;
  },
  handle: (event: TrustedEvent<T>) => Promise<HandlerResult>,
): Promise<HandlerResult> {
  const { log, metrics } = deps;
  // Keys appended in an earlier invocation of this execution environment must not leak in.
  log.resetKeys();
  if (deps.context) log.addContext(deps.context);
  log.appendKeys({ account: deps.actor.account, eventId: eventIdOf(raw), step: 'RECEIVED' });
  try {
    let event: TrustedEvent<T>;
    try {
      event = parseEvent(raw, trust);
    } catch (error) {
      if (!(error instanceof UntrustedEventError || error instanceof InvalidInputError))
        throw error;
      const eventId = eventIdOf(raw);
      const claimedTarget = claimedTargetOf(raw);
      log.error('event rejected', { error: summarizeError(error) });
      metrics?.addMetric('EventsRejected', MetricUnit.Count, 1);
      await deps.ledger?.record({
        rotationId: rejectedRotationId(eventId),
        target: '-',
        step: 'REJECTED',
        at: deps.clock.now().toISOString(),
        actor: deps.actor,
        error: summarizeError(error),
        eventId,
        ...(claimedTarget !== undefined && { claimedTarget }),
      });
      return { status: 'rejected' };
    }
    // A fan-out request names many targets and has no rotation of its own.
    const { rotationId, target } = event.detail as { rotationId?: string; target?: Target };
    log.appendKeys({ detailType: event.detailType, target: target?.name, rotationId });
    if (target) metrics?.addDimension('target', target.name);
    const result = await handle(event);
    if (metrics) recordResult(metrics, result);
    return result;
  } finally {
    metrics?.publishStoredMetrics();
  }
}

/**
 * The target name a raw event claims (`target.name`, or the seed's `TARGET_NAME` or
 * `API_KEY_NAME`), when it is a well-formed name: recorded with a rejection so the operator
 * sees it on that target. Not trusted: only a name is kept, never other input.
 */
function claimedTargetOf(raw: unknown): string | undefined {
  const detail = (raw as { detail?: unknown } | null)?.detail;
  if (typeof detail !== 'object' || detail === null) return undefined;
  const d = detail as {
    target?: { name?: unknown };
    TARGET_NAME?: unknown;
    API_KEY_NAME?: unknown;
  };
  const claimed = d.target?.name ?? d.TARGET_NAME ?? d.API_KEY_NAME;
  const name = targetNameSchema.safeParse(claimed);
  return name.success ? name.data : undefined;
}

function eventIdOf(raw: unknown): string {
  const id = (raw as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id.length > 0 ? id : `unknown-${randomUUID()}`;
}

/**
 * Emits an event whose facts the ledger already holds. An event that cannot be put is logged
 * rather than thrown: a retry would only find the rotation closed.
 */
export async function publishOrLog<
  T extends Exclude<DetailType, 'KeyRotationRequested' | 'EdgeObserved'>,
>(
  deps: { events: EventPublisher; log: KeyrotLogger },
  detailType: T,
  detail: DetailOf[T],
): Promise<void> {
  try {
    await deps.events.publish(detailType, detail);
  } catch (error) {
    deps.log.error(`could not emit ${detailType}`, {
      rotationId: detail.rotationId,
      error: summarizeError(error),
    });
  }
}

/** Emits `RotationFailed` (see {@link publishOrLog}). */
export function publishFailure(
  deps: { events: EventPublisher; log: KeyrotLogger },
  detail: RotationFailed,
): Promise<void> {
  return publishOrLog(deps, 'RotationFailed', detail);
}

/**
 * One Lambda function that takes more than one detail type, each with its own trust: the
 * envelope's `detail-type` picks the handler (`routes`), and anything else goes to
 * `otherwise`. Each handler still checks sender and schema itself (acceptEvent), so a claim
 * in the envelope only decides which check applies.
 */
export function byDetailType<A extends unknown[], R>(
  routes: Readonly<Partial<Record<DetailType, (raw: unknown, ...rest: A) => R>>>,
  otherwise: (raw: unknown, ...rest: A) => R,
): (raw: unknown, ...rest: A) => R {
  return (raw, ...rest) => {
    const detailType = (raw as { 'detail-type'?: unknown } | null)?.['detail-type'];
    const route = typeof detailType === 'string' ? routes[detailType as DetailType] : undefined;
    return (route ?? otherwise)(raw, ...rest);
  };
}
