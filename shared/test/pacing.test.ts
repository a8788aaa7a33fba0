import {
  APIGatewayClient,
  CreateApiKeyCommand,
  GetApiKeysCommand,
} from '@aws-sdk/client-api-gateway';
import { Readable } from 'node:stream';
import { lambdaClients } from '../src/lambda';
import {
  AWS_CALL_LIMITS,
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
  it('shares one bucket per scope and command, and paces only listed commands', () => {
    const registry = new PacingRegistry({ CreateApiKeyCommand: { perSecond: 5, burst: 1 } });
    const a = registry.bucketFor('api', 'CreateApiKeyCommand');
    expect(registry.bucketFor('api', 'CreateApiKeyCommand')).toBe(a);
    expect(registry.bucketFor('edge', 'CreateApiKeyCommand')).not.toBe(a);
    expect(registry.bucketFor('api', 'GetApiKeysCommand')).toBeUndefined();
  });
});

describe('shareOf', () => {
  it("divides each limit's rate among the environments, keeping the burst", () => {
    expect(shareOf(AWS_CALL_LIMITS, 5)).toEqual({
      CreateApiKeyCommand: { perSecond: 1, burst: 1 },
      DeleteApiKeyCommand: { perSecond: 1, burst: 1 },
      UpdateDistributionCommand: { perSecond: 1, burst: 1 },
    });
    expect(shareOf(AWS_CALL_LIMITS, 1)).toEqual(AWS_CALL_LIMITS);
  });

  it.each([0, 1.5, Number.NaN])('refuses %p environments', (n) => {
    expect(() => shareOf(AWS_CALL_LIMITS, n)).toThrow(RangeError);
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
  async function createTimes(reservedConcurrency: string | undefined, count: number) {
    const sentAt: number[] = [];
    const { paced } = lambdaClients('key-issuer', {
      ...env,
      ...(reservedConcurrency !== undefined && { RESERVED_CONCURRENCY: reservedConcurrency }),
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
    const [first, second] = await createTimes('5', 2);
    expect(second! - first!).toBeGreaterThanOrEqual(990);
  });

  it('without reserved concurrency, paces to the whole limit (200 ms apart)', async () => {
    const [first, second] = await createTimes(undefined, 2);
    expect(second! - first!).toBeGreaterThanOrEqual(190);
    expect(second! - first!).toBeLessThan(990);
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
