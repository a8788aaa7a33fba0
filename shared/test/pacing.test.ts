import {
  APIGatewayClient,
  CreateApiKeyCommand,
  GetApiKeysCommand,
} from '@aws-sdk/client-api-gateway';
import { Readable } from 'node:stream';
import { paceCalls, PacingRegistry, TokenBucket, type PacingClock } from '../src/aws/pacing';

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
