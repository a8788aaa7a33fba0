/**
 * AWS's rate quotas as the services enforce them, which moto lacks (test infrastructure, never
 * product code): a token bucket per account and quota, counting every call of every client
 * attached to it (keyrot's functions and the account owner's own client alike). A call over a
 * quota gets the answer AWS sends, on the wire: API Gateway `429 TooManyRequestsException`
 * (restJson), CloudFront `400 Throttling` (restXml). The middleware sits below the SDK's
 * deserializer and retry middleware, so the real deserializer builds the error and the real
 * retry strategy decides what to do with it, attempt by attempt.
 *
 * Sources (docs/decisions.md, "Pacing"): "Amazon API Gateway quotas", quotas for creating,
 * deploying and managing an API: "Total operations: 10 requests per second, burst 40" (every
 * management call together), CreateApiKey and DeleteApiKey 5 requests per second per account
 * (the page gives them no burst: one second's worth, 5, is assumed). CloudFront publishes no
 * rate for UpdateDistribution: the rate is the caller's to choose.
 */
import type { AnyClient } from '@keyrot/shared';

/** `perSecond` on average, at most `burst` back to back. */
export interface QuotaRate {
  readonly perSecond: number;
  readonly burst: number;
}

/** One quota of one service: `operations: 'all'` counts every call of the service. */
export interface ServiceQuota extends QuotaRate {
  readonly service: 'APIGateway' | 'CloudFront';
  readonly operations: readonly string[] | 'all';
}

/** API Gateway's published management quotas, per account and region. */
export const API_GATEWAY_QUOTAS = {
  'apigateway:total': { service: 'APIGateway', operations: 'all', perSecond: 10, burst: 40 },
  'apigateway:CreateApiKey': {
    service: 'APIGateway',
    operations: ['CreateApiKey'],
    perSecond: 5,
    burst: 5,
  },
  'apigateway:DeleteApiKey': {
    service: 'APIGateway',
    operations: ['DeleteApiKey'],
    perSecond: 5,
    burst: 5,
  },
} as const satisfies Readonly<Record<string, ServiceQuota>>;

/** API Gateway's quotas and CloudFront's UpdateDistribution at `updateDistribution`. */
export function awsQuotas(updateDistribution: QuotaRate): Record<string, ServiceQuota> {
  return {
    ...API_GATEWAY_QUOTAS,
    'cloudfront:UpdateDistribution': {
      service: 'CloudFront',
      operations: ['UpdateDistribution'],
      ...updateDistribution,
    },
  };
}

interface WireAnswer {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** What each service answers a throttled call with. */
const THROTTLED: Record<ServiceQuota['service'], WireAnswer> = {
  APIGateway: {
    statusCode: 429,
    headers: {
      'content-type': 'application/json',
      'x-amzn-errortype': 'TooManyRequestsException',
      'x-amzn-requestid': 'keyrot-quota-sim',
    },
    body: JSON.stringify({ message: 'Too Many Requests' }),
  },
  CloudFront: {
    statusCode: 400,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': 'keyrot-quota-sim' },
    body:
      '<?xml version="1.0"?><ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">' +
      '<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>' +
      '<RequestId>keyrot-quota-sim</RequestId></ErrorResponse>',
  },
};

const serviceOf = (clientName: string | undefined) => (clientName ?? '').replace(/Client$/, '');
const operationOf = (commandName: string | undefined) =>
  (commandName ?? '').replace(/Command$/, '');

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * The services' throttling for the accounts its clients act in. `now` is the clock the
 * buckets refill on (simulated milliseconds on a compressed clock, as the pacing reads it).
 */
export class QuotaThrottle {
  /** Calls refused, by caller (`keyrot`, `owner`...) and `Service.Operation`. */
  readonly refused = new Map<string, Map<string, number>>();
  /** Calls let through to the service, by caller. */
  readonly admitted = new Map<string, number>();
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly quotas: Readonly<Record<string, ServiceQuota>>,
    private readonly now: () => number = Date.now,
  ) {
    for (const [id, q] of Object.entries(quotas)) {
      if (!(q.perSecond > 0) || !(q.burst >= 1)) {
        throw new RangeError(`quota ${id}: needs perSecond > 0 and burst >= 1`);
      }
    }
  }

  /** Throttles `client`'s calls against `account`'s quotas; `caller` labels its refusals. */
  attach<C extends AnyClient>(client: C, account: string, caller = 'keyrot'): C {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const service = serviceOf(context.clientName);
        const operation = operationOf(context.commandName);
        if (this.admit(account, service, operation)) {
          this.admitted.set(caller, (this.admitted.get(caller) ?? 0) + 1);
          return next(args);
        }
        const byOperation = this.refused.get(caller) ?? new Map<string, number>();
        const key = `${service}.${operation}`;
        byOperation.set(key, (byOperation.get(key) ?? 0) + 1);
        this.refused.set(caller, byOperation);
        const answer = THROTTLED[service as ServiceQuota['service']];
        return {
          response: {
            statusCode: answer.statusCode,
            reason: 'throttled',
            headers: { ...answer.headers },
            body: Buffer.from(answer.body, 'utf8'),
          },
        };
      },
      // Below the deserializer (which builds the error) and the retry middleware (which sees
      // every attempt), and below keyrot's pacing: a paced attempt is counted when it is sent.
      { step: 'deserialize', priority: 'low', name: 'keyrotQuotaThrottle', override: true },
    );
    return client;
  }

  /** Calls of `caller` the services refused. */
  refusedCalls(caller = 'keyrot'): number {
    return [...(this.refused.get(caller)?.values() ?? [])].reduce((a, b) => a + b, 0);
  }

  /** `{ 'Service.Operation': refused }` for `caller`. */
  refusedByOperation(caller = 'keyrot'): Record<string, number> {
    return Object.fromEntries([...(this.refused.get(caller) ?? [])].sort());
  }

  /**
   * Whether every quota the call counts against has a token; if so, takes one of each. A
   * refused call takes none (it did nothing).
   */
  private admit(account: string, service: string, operation: string): boolean {
    const now = this.now();
    const applicable = Object.entries(this.quotas).filter(
      ([, q]) =>
        q.service === service && (q.operations === 'all' || q.operations.includes(operation)),
    );
    const buckets = applicable.map(([id, q]) => {
      const key = `${account}/${id}`;
      const bucket = this.buckets.get(key) ?? { tokens: q.burst, at: now };
      bucket.tokens = Math.min(q.burst, bucket.tokens + ((now - bucket.at) / 1000) * q.perSecond);
      bucket.at = now;
      this.buckets.set(key, bucket);
      return bucket;
    });
    // A hair of tolerance: a caller paced to the exact rate must not be refused for rounding.
    if (buckets.some((b) => b.tokens < 1 - 1e-6)) return false;
    for (const b of buckets) b.tokens -= 1;
    return true;
  }
}
