import { SecretValue, type EdgeDeploymentCheck } from '@keyrot/shared';
import { createHandlers, type EdgeEnvironment } from '../src/handler';
import { useFakeWorld } from '../../../test/support/fakes';
import {
  API_ACCOUNT,
  EDGE_ACCOUNT,
  envelope,
  keyCreated,
  lambdaContext,
  OTHER_ACCOUNT,
  ROTATION_ID,
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

function handlers(overrides: Partial<EdgeEnvironment> = {}) {
  const { edge, currentKey, sealer, events, clock, logs } = world();
  return createHandlers({
    currentKey,
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

/** Function `updateEdge`, which `KeyCreated` invokes. */
function handler(overrides: Partial<EdgeEnvironment> = {}) {
  return handlers(overrides).updateEdge;
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

describe('each edge-updater function trusts only its own event', () => {
  const NEW = { id: 'newkey0001', fingerprint: new SecretValue(NEW_VALUE).fingerprint };

  /** A valid re-check, as Scheduler would put it on the edge's bus. */
  function deploymentCheck(): EdgeDeploymentCheck {
    return {
      version: 1,
      rotationId: ROTATION_ID,
      target: TARGET,
      newKey: NEW,
      previousFingerprint: OLD.fingerprint,
      updatedAt: '2026-11-25T09:00:05.000Z',
      deadline: '2026-11-25T11:00:00.000Z',
      check: 1,
    };
  }

  function expectUntouched() {
    expect(world().edge.writeAttempts).toEqual([]);
    expect(world().sealer.openCalls).toEqual([]);
    expect(world().events.published).toEqual([]);
    expect(apiHeaders()).toEqual([{ name: 'x-api-key', value: OLD_VALUE }]);
  }

  // One account for both sides (single-account mode): the sender is trusted either way, so
  // what refuses the event is the detail type alone.
  const SINGLE = { apiAccountId: API_ACCOUNT, edgeAccountId: API_ACCOUNT };

  it('updateEdge rejects an EdgeDeploymentCheck, naming the detail-type', async () => {
    const raw = envelope('EdgeDeploymentCheck', deploymentCheck(), { account: API_ACCOUNT });

    await expect(handlers(SINGLE).updateEdge(raw, lambdaContext())).resolves.toEqual({
      status: 'rejected',
    });
    expect(rejectionLog()).toMatchObject({
      error: { name: 'UntrustedEventError', field: 'detail-type' },
    });
    expectUntouched();
  });

  it('checkDeployment rejects a KeyCreated, naming the detail-type', async () => {
    const raw = envelope('KeyCreated', await keyCreatedDetail(), { account: API_ACCOUNT });

    await expect(handlers(SINGLE).checkDeployment(raw, lambdaContext())).resolves.toEqual({
      status: 'rejected',
    });
    expect(rejectionLog()).toMatchObject({
      error: { name: 'UntrustedEventError', field: 'detail-type' },
    });
    expectUntouched();
  });

  it("with two accounts, each rejects the other's event from the other's sender", async () => {
    const check = envelope('EdgeDeploymentCheck', deploymentCheck(), { account: EDGE_ACCOUNT });
    const created = envelope('KeyCreated', await keyCreatedDetail(), { account: API_ACCOUNT });

    const results = [
      await handlers().updateEdge(check, lambdaContext()),
      await handlers().checkDeployment(created, lambdaContext()),
    ];

    expect(results).toEqual([{ status: 'rejected' }, { status: 'rejected' }]);
    expectUntouched();
  });

  it('control: each accepts its own event', async () => {
    world().edge.deployDelayMs = 0;
    const created = envelope('KeyCreated', await keyCreatedDetail());
    const check = envelope('EdgeDeploymentCheck', deploymentCheck(), { account: EDGE_ACCOUNT });

    const results = [
      await handlers().updateEdge(created, lambdaContext()),
      await handlers().checkDeployment(check, lambdaContext()),
    ];

    expect(results.map((r) => r.status)).not.toContain('rejected');
    expect(results[0]).toMatchObject({ status: 'updated' });
  });
});
