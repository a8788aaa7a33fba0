/**
 * Delivers the local world's events as Lambda runs a fleet rotation (the harness's
 * EventRunner delivers one event at a time, which would hide any contention): reads both
 * taps and invokes every function whose serverless.yml pattern matches, each invocation in an
 * execution environment of its own function. A function with reserved concurrency has at
 * most that many environments and an event waits for a free one, as Lambda's asynchronous
 * queue holds a throttled event; others get a new environment whenever all are busy, up to
 * `unreservedLimit`. An invocation that throws is retried twice, like asynchronous invocation.
 * When the buses are quiet, the next one-time schedule runs (`nextSchedule`).
 */
import type { HandlerResult } from '@keyrot/shared';
import type { Context } from 'aws-lambda';
import { matchesPattern } from '../harness/event-pattern';
import type { LocalHandler } from '../harness/local-keyrot';
import type { LocalWorld } from '../harness/provision';
import type { Envelope } from '../harness/runner';
import { worldSubscriptions, type ServiceName, type Subscription } from '../harness/subscriptions';
import { EventTaps } from '../harness/taps';

/** Empty polls in a row, with nothing in flight, that count as quiescence. */
const QUIET_POLLS = 5;
const QUIET_POLL_PAUSE_MS = 100;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface DispatchOutcome {
  readonly service: ServiceName;
  readonly detailType: string;
  readonly result: HandlerResult | { status: 'error'; error: string };
}

/**
 * A new execution environment of a subscription's function: its own handler (the export its
 * serverless.yml names), clients and pacing buckets.
 */
export type EnvironmentFactory = (sub: Subscription, reservedConcurrency?: number) => LocalHandler;

/** One function's execution environments, created on demand up to `size`. */
class EnvironmentPool {
  private readonly idle: LocalHandler[] = [];
  private readonly waiting: ((handler: LocalHandler) => void)[] = [];
  created = 0;

  constructor(
    private readonly size: number,
    private readonly create: () => LocalHandler,
  ) {}

  async acquire(): Promise<LocalHandler> {
    const handler = this.idle.pop();
    if (handler) return handler;
    if (this.created < this.size) {
      this.created++;
      return this.create();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(handler: LocalHandler): void {
    const next = this.waiting.shift();
    if (next) next(handler);
    else this.idle.push(handler);
  }
}

export interface DispatchReport {
  readonly outcomes: DispatchOutcome[];
  /** Execution environments each function used, by `service/function`. */
  readonly environments: Record<string, number>;
}

export interface DispatchOptions {
  /** Environments a function without reserved concurrency may have at once. */
  readonly unreservedLimit: number;
  /** Treat every function as unreserved (the benchmark's negative control). */
  readonly ignoreReservedConcurrency?: boolean;
  /**
   * Runs the next pending one-time schedule (a later try after throttling, a deployment
   * check) once the buses are quiet, as Scheduler would; true if it ran one. Without it, a
   * rotation waiting for a later try would count as a failure.
   */
  readonly nextSchedule?: () => Promise<boolean>;
}

export async function dispatchConcurrently(
  world: LocalWorld,
  createEnvironment: EnvironmentFactory,
  options: DispatchOptions,
): Promise<DispatchReport> {
  const subscriptions = worldSubscriptions(world);
  const taps = new EventTaps(world);
  const outcomes: DispatchOutcome[] = [];
  const inFlight = new Set<Promise<void>>();
  const pools = new Map<string, EnvironmentPool>();
  const poolOf = (sub: Subscription) => {
    const name = `${sub.service}/${sub.functionName}`;
    let pool = pools.get(name);
    if (!pool) {
      const reserved = options.ignoreReservedConcurrency ? undefined : sub.reservedConcurrency;
      pool = new EnvironmentPool(reserved ?? options.unreservedLimit, () =>
        createEnvironment(sub, reserved),
      );
      pools.set(name, pool);
    }
    return pool;
  };
  const invoke = async (sub: Subscription, envelope: Envelope) => {
    const { service, functionName } = sub;
    const pool = poolOf(sub);
    const handler = await pool.acquire();
    let result: DispatchOutcome['result'] = { status: 'error', error: 'not invoked' };
    // Lambda's asynchronous retries, as the function's serverless.yml states them.
    for (let attempt = 1; attempt <= 1 + sub.maximumRetryAttempts; attempt++) {
      const context = {
        functionName: `keyrot-${service}-bench-${functionName}`,
        awsRequestId: `${envelope.id}-${attempt}`,
        getRemainingTimeInMillis: () => 900_000,
      } as unknown as Context;
      try {
        result = await handler(envelope, context);
        break;
      } catch (error) {
        result = { status: 'error', error: error instanceof Error ? error.name : String(error) };
      }
    }
    pool.release(handler);
    outcomes.push({ service, detailType: envelope['detail-type'], result });
  };
  const report = (): DispatchReport => ({
    outcomes,
    environments: Object.fromEntries([...pools].map(([name, pool]) => [name, pool.created])),
  });
  let quietPolls = 0;
  try {
    for (;;) {
      const envelopes = await taps.take();
      if (envelopes.length > 0) quietPolls = 0;
      for (const envelope of envelopes) {
        for (const sub of subscriptions.filter((s) => matchesPattern(s.pattern, envelope))) {
          const run: Promise<void> = invoke(sub, envelope).finally(() => inFlight.delete(run));
          inFlight.add(run);
        }
      }
      if (envelopes.length === 0) {
        if (inFlight.size > 0) {
          // Until an invocation ends (it may put events) or a moment has passed.
          await Promise.race([...inFlight, pause(QUIET_POLL_PAUSE_MS)]);
          quietPolls = 0;
        } else if (++quietPolls >= QUIET_POLLS) {
          if (options.nextSchedule && (await options.nextSchedule())) quietPolls = 0;
          else return report();
        } else {
          // moto copies an event to the tap queue a moment after PutEvents returns.
          await pause(QUIET_POLL_PAUSE_MS);
        }
      }
    }
  } finally {
    await Promise.all(inFlight);
    taps.close();
  }
}
