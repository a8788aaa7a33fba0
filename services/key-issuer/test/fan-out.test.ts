import type { RequestFanOut, RotationRequest } from '@keyrot/shared';
import { createHandler } from '../src/handler';
import { fannedOutRotationId } from '../src/fan-out';
import { API_ACCOUNT, envelope, SEED_INPUT, TARGET } from '../../../test/support/fixtures';
import { captureLogger, type CapturedLogger } from '../../../test/support/fakes';

/** Records what the issuer fans out; touches nothing else. */
function recordingFanOut(): RequestFanOut & { put: RotationRequest[] } {
  const put: RotationRequest[] = [];
  return { put, publishRequests: async (requests) => void put.push(...requests) };
}

const logs: CapturedLogger[] = [];
afterEach(() => logs.splice(0).forEach((l) => l.stop()));

function issuerWith(fanOut: RequestFanOut) {
  const captured = captureLogger('key-issuer');
  logs.push(captured);
  const unused = new Proxy(
    {},
    {
      get: () => {
        throw new Error('a fan-out request must not touch keys, ledger or KMS');
      },
    },
  );
  return createHandler({
    apiAccountId: API_ACCOUNT,
    fanOut,
    keys: unused as never,
    sealer: unused as never,
    ledger: unused as never,
    events: unused as never,
    clock: { now: () => new Date('2026-12-01T00:00:00Z'), sleep: async () => undefined },
    log: captured.log,
    edgeKmsKeyArn: 'arn:aws:kms:us-east-1:222222222222:key/00000000-0000-0000-0000-000000000000',
    lockSeconds: 3600,
  });
}

describe('fan-out of a targets list', () => {
  const targets = [SEED_INPUT, { ...TARGET, name: 'shop-api', apiKeyName: 'shop-key' }];
  const request = () =>
    envelope('KeyRotationRequested', { targets }, { account: API_ACCOUNT, id: 'evt-fan-0001' });

  it('puts one structured request per target, each with its own rotation id', async () => {
    const fanOut = recordingFanOut();
    const result = await issuerWith(fanOut)(request());

    expect(result.status).toBe('fanned-out');
    expect(fanOut.put).toEqual([
      expect.objectContaining({
        target: expect.objectContaining({ name: SEED_INPUT.API_KEY_NAME }),
        reason: 'scheduled',
        rotationId: fannedOutRotationId(result.rotationId!, 0),
      }),
      expect.objectContaining({
        target: expect.objectContaining({ name: 'shop-api', apiKeyName: 'shop-key' }),
        rotationId: fannedOutRotationId(result.rotationId!, 1),
      }),
    ]);
  });

  it('puts the same rotation ids again for a redelivered request', async () => {
    const first = recordingFanOut();
    const again = recordingFanOut();
    await issuerWith(first)(request());
    await issuerWith(again)(request());

    expect(again.put.map((r) => r.rotationId)).toEqual(first.put.map((r) => r.rotationId));
  });
});
