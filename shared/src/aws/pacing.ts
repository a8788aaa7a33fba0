import type { AnyClient } from '../metrics';

/** A request rate: `perSecond` on average, at most `burst` back to back. */
export interface RateLimit {
  readonly perSecond: number;
  readonly burst: number;
}

/**
 * The calls keyrot paces, by SDK command name. API Gateway's `CreateApiKey` and `DeleteApiKey`
 * are limited to 5 requests/s per account and region (hard limits); keyrot sends them one at a
 * time, 200 ms apart. CloudFront publishes no rate for `UpdateDistribution` and throttles it
 * with `Throttling`: keyrot sends those one at a time too, at most 5 per second per account
 * (no burst), and leaves any throttling beyond that to adaptive retry. Everything else
 * (reads, KMS, DynamoDB, EventBridge) is left to adaptive retry.
 */
export const AWS_CALL_LIMITS: Readonly<Record<string, RateLimit>> = {
  CreateApiKeyCommand: { perSecond: 5, burst: 1 },
  DeleteApiKeyCommand: { perSecond: 5, burst: 1 },
  UpdateDistributionCommand: { perSecond: 5, burst: 1 },
};

/** Time as the bucket sees it; injectable for tests. */
export interface PacingClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: PacingClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * A token bucket in its GCRA form: each caller reserves the next free slot and waits for it,
 * so callers are served in order and never more than `burst` at once, `perSecond` on average.
 *
 * @example
 * const bucket = new TokenBucket({ perSecond: 5, burst: 1 });
 * await bucket.take(); // returns at once, the next call 200 ms later
 */
export class TokenBucket {
  private readonly intervalMs: number;
  private readonly toleranceMs: number;
  /** When the bucket is next due empty (the GCRA's theoretical arrival time). */
  private due = Number.NEGATIVE_INFINITY;

  constructor(
    readonly limit: RateLimit,
    private readonly clock: PacingClock = realClock,
  ) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) {
      throw new RangeError('a rate limit needs perSecond > 0 and burst >= 1');
    }
    this.intervalMs = 1000 / limit.perSecond;
    this.toleranceMs = (limit.burst - 1) * this.intervalMs;
  }

  /** Resolves when the caller may send; returns how long it waited (ms). */
  async take(): Promise<number> {
    const now = this.clock.now();
    const due = Math.max(this.due, now);
    const sendAt = Math.max(now, due - this.toleranceMs);
    this.due = due + this.intervalMs;
    const wait = sendAt - now;
    if (wait > 0) await this.clock.sleep(wait);
    return wait;
  }
}

/**
 * `limits` divided among `environments` execution environments that may run at once (a
 * function's reserved concurrency): each environment paces to its share, so together they
 * never exceed the account's limit. Bursts stay as they are (keyrot's are 1).
 */
export function shareOf(
  limits: Readonly<Record<string, RateLimit>>,
  environments: number,
): Record<string, RateLimit> {
  if (!Number.isInteger(environments) || environments < 1) {
    throw new RangeError('environments must be a whole number of at least 1');
  }
  return Object.fromEntries(
    Object.entries(limits).map(([command, limit]) => [
      command,
      { perSecond: limit.perSecond / environments, burst: limit.burst },
    ]),
  );
}

/**
 * Token buckets by scope and command. Every client paced with one registry shares its
 * buckets: a Lambda entry builds one per execution environment (`lambdaClients`), so the
 * rotations that environment runs, one after another, draw from the same buckets, each paced
 * to the environment's share of the account's limit. See docs/decisions.md ("Pacing").
 */
export class PacingRegistry {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly limits: Readonly<Record<string, RateLimit>> = AWS_CALL_LIMITS,
    private readonly clock: PacingClock = realClock,
  ) {}

  /** The bucket of `command` in `scope` (an account), or undefined if it is not paced. */
  bucketFor(scope: string, command: string): TokenBucket | undefined {
    const limit = this.limits[command];
    if (!limit) return undefined;
    const key = `${scope}/${command}`;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(limit, this.clock);
      this.buckets.set(key, bucket);
    }
    return bucket;
  }
}

const processPacing = new PacingRegistry();

export interface PacingOptions {
  /** Whose limit the calls count against: the account (default: this environment's). */
  readonly scope?: string;
  /** Whose buckets: default, one registry for the whole process. */
  readonly registry?: PacingRegistry;
}

/**
 * Paces `client`'s calls to the limits of {@link AWS_CALL_LIMITS}: SDK middleware that waits
 * for a token before each attempt of a paced command (it sits below the retry middleware, so
 * a retried attempt waits for a token too). Returns the client.
 */
export function paceCalls<C extends AnyClient>(client: C, options: PacingOptions = {}): C {
  const registry = options.registry ?? processPacing;
  const scope = options.scope ?? 'default';
  client.middlewareStack.add(
    (next, context) => async (args) => {
      await registry.bucketFor(scope, context.commandName ?? '')?.take();
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'keyrotPacing', override: true },
  );
  return client;
}
