import { SecretValue } from '@keyrot/shared';
import { createHandler, type EdgeEnvironment } from '../src/handler';
import { useFakeWorld } from '../../../test/support/fakes';
import {
  API_ACCOUNT,
  EDGE_ACCOUNT,
  envelope,
  keyCreated,
  lambdaContext,
  OTHER_ACCOUNT,
  TARGET,
} from '../../../test/support/fixtures';

const OLD_VALUE = 'HANDLERoldVALUE00000000000000000000000';
const NEW_VALUE = 'HANDLERnewVALUE11111111111111111111111';
const OLD = { id: 'oldkey0001', fingerprint: new SecretValue(OLD_VALUE).fingerprint };

const world = useFakeWorld('edge-updater', (w) => {
  w.addSecret(OLD_VALUE);
  w.addSecret(NEW_VALUE);
  w.edge.addDistribution(TARGET.distributionId, {
    [TARGET.originId]: [{ name: 'x-api-key', value: OLD_VALUE }],
  });
  w.edge.deployDelayMs = 60_000;
});

function handler(overrides: Partial<EdgeEnvironment> = {}) {
  const { edge, sealer, events, clock, logs } = world();
  return createHandler({
    apiAccountId: API_ACCOUNT,
    edgeAccountId: EDGE_ACCOUNT,
    edge,
    sealer,
    events,
    clock,
    log: logs.log,
    pollIntervalMs: 20_000,
    maxWaitMs: 840_000,
    ...overrides,
  });
}

async function keyCreatedDetail() {
  return keyCreated(world().sealer, { value: NEW_VALUE, superseded: [OLD] });
}

function apiHeaders() {
  return world().edge.headersOf(TARGET.distributionId, TARGET.originId);
}

function rejectionLog() {
  const { logs } = world();
  return logs.entries().find((e) => e.message === 'event rejected');
}

describe('edge-updater handler', () => {
  it('updates the edge for a KeyCreated from the API account and announces EdgeUpdated', async () => {
    const detail = await keyCreatedDetail();

    const result = await handler()(envelope('KeyCreated', detail), lambdaContext());

    expect(result).toMatchObject({ status: 'updated', rotationId: detail.rotationId });
    expect(apiHeaders()).toEqual([{ name: 'x-api-key', value: NEW_VALUE }]);
    expect(world().events.ofType('EdgeUpdated')).toEqual([
      expect.objectContaining({
        rotationId: detail.rotationId,
        actor: expect.objectContaining({ account: EDGE_ACCOUNT, function: 'keyrot-test' }),
      }),
    ]);
  });

  it('writes once when the same event is delivered twice', async () => {
    const raw = envelope('KeyCreated', await keyCreatedDetail());

    await handler()(raw);
    const second = await handler()(raw);

    expect(second.status).toBe('already-updated');
    expect(world().edge.writes).toHaveLength(1);
  });

  it('rejects a KeyCreated from an account other than the API account', async () => {
    const raw = envelope('KeyCreated', await keyCreatedDetail(), { account: OTHER_ACCOUNT });

    await expect(handler()(raw)).resolves.toEqual({ status: 'rejected' });
    expect(world().edge.writeAttempts).toEqual([]);
    expect(world().sealer.openCalls).toEqual([]);
    expect(world().events.published).toEqual([]);
    expect(rejectionLog()).toMatchObject({ error: { field: 'account' } });
  });

  it('rejects a KeyCreated from another source', async () => {
    const raw = envelope('KeyCreated', await keyCreatedDetail(), { source: 'keyrot.fake' });

    await expect(handler()(raw)).resolves.toEqual({ status: 'rejected' });
    expect(world().edge.writeAttempts).toEqual([]);
    expect(rejectionLog()).toMatchObject({ error: { field: 'source' } });
  });

  it('rejects a malformed KeyCreated naming the field, changing nothing', async () => {
    const detail = await keyCreatedDetail();
    const raw = envelope('KeyCreated', { ...detail, target: { ...detail.target, originId: '' } });

    await expect(handler()(raw)).resolves.toEqual({ status: 'rejected' });
    expect(world().edge.writeAttempts).toEqual([]);
    expect(apiHeaders()).toEqual([{ name: 'x-api-key', value: OLD_VALUE }]);
    expect(world().events.published).toEqual([]);
    expect(rejectionLog()).toMatchObject({ error: { field: 'detail.target.originId' } });
  });

  it('bounds the wait for Deployed by the time the Lambda has left', async () => {
    world().edge.deployDelayMs = Infinity;
    const raw = envelope('KeyCreated', await keyCreatedDetail());

    // 80 s left, 20 s of it kept in reserve to report: at most 60 s of waiting.
    const result = await handler()(raw, lambdaContext(80_000));

    expect(result.status).toBe('failed');
    expect(world().clock.slept).toBeLessThanOrEqual(60_000);
    expect(world().events.ofType('RotationFailed')).toEqual([
      expect.objectContaining({
        error: expect.objectContaining({ name: 'DeploymentTimeoutError' }),
        newKeyMayBeAtEdge: true,
      }),
    ]);
  });
});
