import type { AnyClient } from '../metrics';

/** A request rate: `perSecond` on average, at most `burst` back to back. */
export interface RateLimit {
  readonly perSecond: number;
  readonly burst: number;
}

/**
 * A rate quota on some of one service's calls, per account and region.
 * `commands: 'all'` counts every call of the client (its SDK client name, `service`).
 */
export interface CallQuota extends RateLimit {
  readonly service: string;
  readonly commands: readonly string[] | 'all';
  /** The account owner's own calls (deploys, consoles, CI) count against it too. */
  readonly sharedWithOwner: boolean;
}

/**
 * What keyrot paces, with the numbers' sources (docs/decisions.md, "Pacing"):
 * - API Gateway's fixed quotas for managing APIs ("Amazon API Gateway quotas", quotas for
 *   creating, deploying and managing an API; they cannot be increased): CreateApiKey and
 *   DeleteApiKey 5 requests/s per account, and "Total operations: 10 requests per second,
 *   burst 40" over every management call together (GetUsagePlanKeys, GetApiKeys,
 *   CreateUsagePlanKey, GetApiKey, TagResource... count too). keyrot sends the per-operation
 *   ones one at a time (burst 1).
 * - CloudFront publishes no rate for UpdateDistribution and throttles it with `Throttling`;
 *   users report `Rate exceeded` after a few calls within a minute. keyrot's default is one
 *   call per second per account, one at a time, configurable (`CLOUDFRONT_UPDATES_PER_SECOND`);
 *   what CloudFront still throttles is retried.
 * Reads, KMS, DynamoDB and EventBridge are left to the SDK's adaptive retry.
 */
export const AWS_CALL_QUOTAS = {
  'apigateway:total': {
    service: 'APIGatewayClient',
    commands: 'all',
    perSecond: 10,
    burst: 40,
    sharedWithOwner: true,
  },
  'apigateway:CreateApiKey': {
    service: 'APIGatewayClient',
    commands: ['CreateApiKeyCommand'],
    perSecond: 5,
    burst: 1,
    sharedWithOwner: true,
  },
  'apigateway:DeleteApiKey': {
    service: 'APIGatewayClient',
    commands: ['DeleteApiKeyCommand'],
    perSecond: 5,
    burst: 1,
    sharedWithOwner: true,
  },
  'cloudfront:UpdateDistribution': {
    service: 'CloudFrontClient',
    commands: ['UpdateDistributionCommand'],
    perSecond: 1,
    burst: 1,
    sharedWithOwner: false,
  },
} as const satisfies Readonly<Record<string, CallQuota>>;

/** The share of each owner-shared quota keyrot leaves itself by default: half, at most. */
export const DEFAULT_KEYROT_BUDGET_SHARE = 0.5;

/** Each of the two functions that call API Gateway (issuer, reaper) takes half of that. */
export const DEFAULT_FUNCTION_BUDGET_SHARE = DEFAULT_KEYROT_BUDGET_SHARE / 2;

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

/** How one function's execution environments divide the account's quotas. */
export interface PacingShare {
  /** Environments that may run at once (the function's reserved concurrency). */
  readonly environments: number;
  /**
   * The fraction of each owner-shared quota this function may use, all its environments
   * together (the functions of one account add up to keyrot's budget; default 1).
   */
  readonly budgetShare?: number;
  /** The account's rate for a quota, by id, where the deployment sets its own (no published one). */
  readonly perSecond?: Readonly<Partial<Record<string, number>>>;
}

/**
 * `quotas` as one execution environment paces them: each owner-shared quota scaled to the
 * function's budget share, then every rate divided among the environments, so together they
 * never exceed it. A burst is scaled the same way, never below 1.
 */
export function shareOf(
  quotas: Readonly<Record<string, CallQuota>>,
  share: PacingShare,
): Record<string, CallQuota> {
  const { environments, budgetShare = 1, perSecond: rates = {} } = share;
  if (!Number.isInteger(environments) || environments < 1) {
    throw new RangeError('environments must be a whole number of at least 1');
  }
  if (!(budgetShare > 0 && budgetShare <= 1)) {
    throw new RangeError('budgetShare must be above 0 and at most 1');
  }
  return Object.fromEntries(
    Object.entries(quotas).map(([id, quota]) => {
      const perSecond = rates[id] ?? quota.perSecond;
      const factor = (quota.sharedWithOwner ? budgetShare : 1) / environments;
      return [
        id,
        {
          ...quota,
          perSecond: perSecond * factor,
          burst: Math.max(1, Math.floor(quota.burst * factor)),
        },
      ];
    }),
  );
}

/**
 * Token buckets by scope (an account) and quota. Every client paced with one registry shares
 * its buckets: a Lambda entry builds one per execution environment (`lambdaClients`), so the
 * rotations that environment runs, one after another, draw from the same buckets, each paced
 * to the environment's share of the account's quotas. See docs/decisions.md ("Pacing").
 */
export class PacingRegistry {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly quotas: Readonly<Record<string, CallQuota>> = AWS_CALL_QUOTAS,
    private readonly clock: PacingClock = realClock,
  ) {}

  /** The buckets a call of `command` on a `service` client draws from in `scope`. */
  bucketsFor(scope: string, service: string, command: string): TokenBucket[] {
    return Object.entries(this.quotas)
      .filter(
        ([, quota]) =>
          quota.service === service &&
          (quota.commands === 'all' || quota.commands.includes(command)),
      )
      .map(([id, quota]) => {
        const key = `${scope}/${id}`;
        let bucket = this.buckets.get(key);
        if (!bucket) {
          bucket = new TokenBucket(quota, this.clock);
          this.buckets.set(key, bucket);
        }
        return bucket;
      });
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
 * Paces `client`'s calls to the quotas of {@link AWS_CALL_QUOTAS}: SDK middleware that waits
 * for a token of every quota the call counts against before each attempt (it sits below the
 * retry middleware, so a retried attempt waits too). Returns the client.
 */
export function paceCalls<C extends AnyClient>(client: C, options: PacingOptions = {}): C {
  const registry = options.registry ?? processPacing;
  const scope = options.scope ?? 'default';
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const buckets = registry.bucketsFor(
        scope,
        context.clientName ?? '',
        context.commandName ?? '',
      );
      for (const bucket of buckets) await bucket.take();
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'keyrotPacing', override: true },
  );
  return client;
}
