import {
  APIGatewayClient,
  CreateApiKeyCommand,
  GetApiKeysCommand,
} from '@aws-sdk/client-api-gateway';
import { Readable } from 'node:stream';
import { lambdaClients } from '../src/lambda';
import {
  AWS_CALL_QUOTAS,
  DEFAULT_FUNCTION_BUDGET_SHARE,
  paceCalls,
  PacingRegistry,
  shareOf,
  TokenBucket,
  type PacingClock,
} from '../src/aws/pacing';

/** A clock that only moves when someone sleeps on it. */
function manualClock(): PacingClock & { at: number } {
  const clock = {
    at: 0,
    now: () => clock.at,
    sleep: async (ms: number) => {
      clock.at += ms;
    },
  };
  return clock;
}

describe('TokenBucket', () => {
  it('spaces calls 1/perSecond apart when no burst is allowed', async () => {
    const clock = manualClock();
    const bucket = new TokenBucket({ perSecond: 5, burst: 1 }, clock);
    const sentAt: number[] = [];
    for (let i = 0; i < 5; i++) {
      await bucket.take();
      sentAt.push(clock.at);
    }
    expect(sentAt).toEqual([0, 200, 400, 600, 800]);
  });

  it('lets a burst through at once, then the steady rate', async () => {
    const clock = manualClock();
    const bucket = new TokenBucket({ perSecond: 5, burst: 3 }, clock);
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) waits.push(await bucket.take());
    expect(waits).toEqual([0, 0, 0, 200, 200]);
  });

  it('refills while idle', async () => {
    const clock = manualClock();
    const bucket = new TokenBucket({ perSecond: 2, burst: 1 }, clock);
    await bucket.take();
    clock.at += 10_000;
    expect(await bucket.take()).toBe(0);
  });

  it('serves concurrent callers in order, one slot each', async () => {
    const clock = { now: () => 0, sleep: jest.fn(async () => undefined) };
    const bucket = new TokenBucket({ perSecond: 4, burst: 1 }, clock);
    const waits = await Promise.all([bucket.take(), bucket.take(), bucket.take()]);
    expect(waits).toEqual([0, 250, 500]);
  });

  it('refuses a limit that cannot be met', () => {
    expect(() => new TokenBucket({ perSecond: 0, burst: 1 })).toThrow(RangeError);
  });
});

describe('PacingRegistry', () => {
  it('shares one bucket per scope and quota, and paces a call by every quota it counts against', () => {
    const registry = new PacingRegistry();
    const create = registry.bucketsFor('api', 'APIGatewayClient', 'CreateApiKeyCommand');
    const read = registry.bucketsFor('api', 'APIGatewayClient', 'GetApiKeysCommand');
    expect(create.map((b) => b.limit)).toEqual([
      expect.objectContaining({ perSecond: 10, burst: 40 }),
      expect.objectContaining({ perSecond: 5, burst: 1 }),
    ]);
    // Total operations: the read and the create draw from the same bucket.
    expect(read).toEqual([create[0]]);
    expect(registry.bucketsFor('api', 'APIGatewayClient', 'CreateApiKeyCommand')).toEqual(create);
    expect(registry.bucketsFor('edge', 'APIGatewayClient', 'CreateApiKeyCommand')[0]).not.toBe(
      create[0],
    );
    expect(registry.bucketsFor('edge', 'CloudFrontClient', 'GetDistributionCommand')).toEqual([]);
    expect(registry.bucketsFor('api', 'KMSClient', 'EncryptCommand')).toEqual([]);
  });
});

describe('shareOf', () => {
  const rates = (quotas: Record<string, { perSecond: number; burst: number }>) =>
    Object.fromEntries(
      Object.entries(quotas).map(([id, q]) => [id, { perSecond: q.perSecond, burst: q.burst }]),
    );

  it("divides each quota's rate and burst among the environments (burst at least 1)", () => {
    expect(rates(shareOf(AWS_CALL_QUOTAS, { environments: 5 }))).toEqual({
      'apigateway:total': { perSecond: 2, burst: 8 },
      'apigateway:CreateApiKey': { perSecond: 1, burst: 1 },
      'apigateway:DeleteApiKey': { perSecond: 1, burst: 1 },
      'cloudfront:UpdateDistribution': { perSecond: 0.2, burst: 1 },
    });
    expect(shareOf(AWS_CALL_QUOTAS, { environments: 1 })).toEqual(AWS_CALL_QUOTAS);
  });

  it("takes only keyrot's budget share of the quotas the owner shares, and the edge rate as set", () => {
    expect(
      rates(
        shareOf(AWS_CALL_QUOTAS, {
          environments: 5,
          budgetShare: 0.25,
          perSecond: { 'cloudfront:UpdateDistribution': 0.5 },
        }),
      ),
    ).toEqual({
      'apigateway:total': { perSecond: 0.5, burst: 2 },
      'apigateway:CreateApiKey': { perSecond: 0.25, burst: 1 },
      'apigateway:DeleteApiKey': { perSecond: 0.25, burst: 1 },
      'cloudfront:UpdateDistribution': { perSecond: 0.1, burst: 1 },
    });
  });

  it('keeps the whole of keyrot, issuer and reaper together, within half of each API Gateway quota', () => {
    const perFunction = shareOf(AWS_CALL_QUOTAS, {
      environments: 5,
      budgetShare: DEFAULT_FUNCTION_BUDGET_SHARE,
    });
    for (const [id, quota] of Object.entries(AWS_CALL_QUOTAS)) {
      if (!quota.sharedWithOwner) continue;
      // Two functions, five environments each.
      expect(2 * 5 * perFunction[id]!.perSecond).toBeLessThanOrEqual(quota.perSecond / 2);
    }
  });

  it.each([0, 1.5, Number.NaN])('refuses %p environments', (n) => {
    expect(() => shareOf(AWS_CALL_QUOTAS, { environments: n })).toThrow(RangeError);
  });

  it.each([0, 1.5, Number.NaN])('refuses a budget share of %p', (budgetShare) => {
    expect(() => shareOf(AWS_CALL_QUOTAS, { environments: 1, budgetShare })).toThrow(RangeError);
  });
});

describe('paceCalls', () => {
  /** A client whose calls never leave the process: its HTTP handler answers at once. */
  function offlineClient(sentAt: Array<[string, number]>, clock: PacingClock) {
    return new APIGatewayClient({
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      requestHandler: {
        handle: async (request: { method: string }) => {
          sentAt.push([request.method, clock.now()]);
          return {
            response: { statusCode: 200, headers: {}, body: Readable.from([Buffer.from('{}')]) },
          };
        },
      },
    });
  }

  it('waits for a token before each paced call, shared by clients of one registry', async () => {
    const clock = manualClock();
    const registry = new PacingRegistry(undefined, clock);
    const sentAt: Array<[string, number]> = [];
    const first = paceCalls(offlineClient(sentAt, clock), { registry, scope: 'api' });
    const second = paceCalls(offlineClient(sentAt, clock), { registry, scope: 'api' });
    await first.send(new CreateApiKeyCommand({ name: 'a' }));
    await second.send(new CreateApiKeyCommand({ name: 'b' }));
    await second.send(new GetApiKeysCommand({}));
    await first.send(new CreateApiKeyCommand({ name: 'c' }));
    expect(sentAt).toEqual([
      ['POST', 0],
      ['POST', 200],
      ['GET', 200],
      ['POST', 400],
    ]);
  });
});

describe('lambdaClients', () => {
  const env = {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret',
  };

  /** When the `count` CreateApiKey calls of one environment's `paced` client are sent. */
  async function createTimes(
    reservedConcurrency: string | undefined,
    count: number,
    budgetShare?: string,
  ) {
    const sentAt: number[] = [];
    const { paced } = lambdaClients('key-issuer', {
      ...env,
      ...(reservedConcurrency !== undefined && { RESERVED_CONCURRENCY: reservedConcurrency }),
      ...(budgetShare !== undefined && { API_BUDGET_SHARE: budgetShare }),
    });
    const client = paced(
      new APIGatewayClient({
        region: 'us-east-1',
        credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
        requestHandler: {
          handle: async () => {
            sentAt.push(performance.now());
            return {
              response: { statusCode: 200, headers: {}, body: Readable.from([Buffer.from('{}')]) },
            };
          },
        },
      }),
    );
    for (let i = 0; i < count; i++) await client.send(new CreateApiKeyCommand({ name: `k${i}` }));
    return sentAt;
  }

  it('paces each environment to its share of the limit: 5 environments, 1 call per second', async () => {
    const [first, second] = await createTimes('5', 2, '1');
    expect(second! - first!).toBeGreaterThanOrEqual(990);
  });

  it('without reserved concurrency, paces to the whole limit (200 ms apart)', async () => {
    const [first, second] = await createTimes(undefined, 2, '1');
    expect(second! - first!).toBeGreaterThanOrEqual(190);
    expect(second! - first!).toBeLessThan(990);
  });

  it("by default takes a quarter of the account's quota (issuer and reaper leave the owner half): 800 ms apart", async () => {
    const [first, second] = await createTimes(undefined, 2);
    expect(second! - first!).toBeGreaterThanOrEqual(790);
    expect(second! - first!).toBeLessThan(990);
  });

  it('names API_BUDGET_SHARE when it is not a fraction', () => {
    expect(() => lambdaClients('key-issuer', { ...env, API_BUDGET_SHARE: '2' })).toThrow(
      /API_BUDGET_SHARE/,
    );
  });

  it('names RESERVED_CONCURRENCY when it is not a whole number of at least 1', () => {
    expect(() => lambdaClients('key-issuer', { ...env, RESERVED_CONCURRENCY: '0' })).toThrow(
      /RESERVED_CONCURRENCY/,
    );
    expect(() => lambdaClients('key-issuer', { ...env, RESERVED_CONCURRENCY: 'two' })).toThrow(
      /RESERVED_CONCURRENCY/,
    );
  });
});
