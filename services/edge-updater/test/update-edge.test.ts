import { AwsCallError, SecretValue, type KeyCreated, type RotationFailed } from '@keyrot/shared';
import { updateEdge, type EdgeDeps } from '../src/update-edge';
import { useFakeWorld, type FakeHeader } from '../../../test/support/fakes';
import {
  actor,
  EDGE_ACCOUNT,
  EDGE_KMS_KEY_ARN,
  keyCreated,
  onlyOne,
  TARGET,
} from '../../../test/support/fixtures';

const OLD_VALUE = 'EDGEoldKEYvalue000000000000000000000000';
const NEW_VALUE = 'EDGEnewKEYvalue111111111111111111111111';
const OTHER_VALUE = 'EDGEotherKEYvalue2222222222222222222222';
const SITE_SECRET = 'EDGEsiteORIGINsecret3333333333333333333';
const OLD = { id: 'oldkey0001', fingerprint: new SecretValue(OLD_VALUE).fingerprint };

const POLL_MS = 20_000;
const MAX_WAIT_MS = 840_000;

const world = useFakeWorld('edge-updater', (w) => {
  for (const value of [OLD_VALUE, NEW_VALUE, OTHER_VALUE, SITE_SECRET]) w.addSecret(value);
  w.edge.deployDelayMs = 5 * 60_000;
});

function deps(overrides: Partial<EdgeDeps> = {}): EdgeDeps {
  const { edge, currentKey, sealer, events, clock, logs } = world();
  return {
    edge,
    currentKey,
    sealer,
    events,
    clock,
    log: logs.log,
    actor: actor(EDGE_ACCOUNT, 'keyrot-edge-updater'),
    pollIntervalMs: POLL_MS,
    maxWaitMs: MAX_WAIT_MS,
    writeAttempts: 3,
    ...overrides,
  };
}

/** The distribution with the API origin sending `apiHeaders`, next to another origin. */
function givenDistribution(apiHeaders: FakeHeader[]) {
  world().edge.addDistribution(TARGET.distributionId, {
    'site-origin': [
      { name: 'x-api-key', value: SITE_SECRET },
      { name: 'x-site-token', value: 'site-token' },
    ],
    [TARGET.originId]: apiHeaders,
  });
}

function apiHeaders(): FakeHeader[] {
  return world().edge.headersOf(TARGET.distributionId, TARGET.originId);
}

function onlyRotationFailed(): RotationFailed {
  return onlyOne(world().events.ofType('RotationFailed'));
}

async function eventFor(overrides: Partial<Parameters<typeof keyCreated>[1]> = {}) {
  return keyCreated(world().sealer, { value: NEW_VALUE, superseded: [OLD], ...overrides });
}

describe('updateEdge', () => {
  it('replaces the superseded key with the new one and announces it once Deployed', async () => {
    givenDistribution([{ name: 'x-api-key', value: OLD_VALUE }]);
    const event = await eventFor();
    const startedAt = world().clock.now().getTime();

    const result = await updateEdge(event, deps());

    expect(result).toEqual({
      status: 'updated',
      rotationId: event.rotationId,
      previousFingerprint: OLD.fingerprint,
      // The fake distribution deploys in 300 s; that wait is the metric.
      durationsMs: { EdgeDeploy: 300_000 },
    });
    expect(apiHeaders()).toEqual([{ name: 'x-api-key', value: NEW_VALUE }]);
    const [announced, ...more] = world().events.ofType('EdgeUpdated');
    expect(more).toEqual([]);
    expect(announced).toMatchObject({
      rotationId: event.rotationId,
      target: TARGET,
      newKey: event.newKey,
      previousFingerprint: OLD.fingerprint,
      actor: { account: EDGE_ACCOUNT },
    });
    // Announced only once every edge location has the new value (I1).
    expect(Date.parse(announced!.deployedAt) - startedAt).toBeGreaterThanOrEqual(5 * 60_000);
  });

  it('adds the header when the origin does not send it yet (first rotation)', async () => {
    givenDistribution([{ name: 'x-origin-verify', value: 'verify' }]);
    const event = await eventFor({ superseded: [] });

    const result = await updateEdge(event, deps());

    expect(result).toMatchObject({ status: 'updated', previousFingerprint: null });
    expect(apiHeaders()).toEqual([
      { name: 'x-origin-verify', value: 'verify' },
      { name: 'x-api-key', value: NEW_VALUE },
    ]);
    expect(world().events.ofType('EdgeUpdated')[0]?.previousFingerprint).toBeNull();
  });

  it('replaces a header whose name differs in case instead of adding a second one', async () => {
    givenDistribution([{ name: 'X-API-Key', value: OLD_VALUE }]);

    await updateEdge(await eventFor(), deps());

    expect(apiHeaders()).toEqual([{ name: 'X-API-Key', value: NEW_VALUE }]);
  });

  it('leaves other headers and other origins untouched', async () => {
    givenDistribution([
      { name: 'x-origin-verify', value: 'verify' },
      { name: 'x-api-key', value: OLD_VALUE },
      { name: 'x-trace', value: 'on' },
    ]);
    const siteBefore = world().edge.headersOf(TARGET.distributionId, 'site-origin');

    await updateEdge(await eventFor(), deps());

    expect(apiHeaders()).toEqual([
      { name: 'x-origin-verify', value: 'verify' },
      { name: 'x-api-key', value: NEW_VALUE },
      { name: 'x-trace', value: 'on' },
    ]);
    expect(world().edge.headersOf(TARGET.distributionId, 'site-origin')).toEqual(siteBefore);
    expect(world().edge.writes).toEqual([expect.objectContaining({ originId: TARGET.originId })]);
  });

  it('fails at stage edge without writing when the origin id is unknown', async () => {
    givenDistribution([{ name: 'x-api-key', value: OLD_VALUE }]);
    const event = await eventFor({ target: { ...TARGET, originId: 'no-such-origin' } });

    const result = await updateEdge(event, deps());

    expect(result).toMatchObject({ status: 'failed', error: 'OriginNotFoundError' });
    expect(world().edge.writeAttempts).toEqual([]);
    expect(onlyRotationFailed()).toMatchObject({
      stage: 'edge',
      error: { name: 'OriginNotFoundError', field: 'ORIGIN_ID' },
      newKey: event.newKey,
      newKeyMayBeAtEdge: false,
      rolledBack: false,
    });
    expect(world().events.ofType('EdgeUpdated')).toEqual([]);
  });

  it('fails naming DISTRIBUTION_ID when the distribution does not exist', async () => {
    givenDistribution([{ name: 'x-api-key', value: OLD_VALUE }]);
    const event = await eventFor({ target: { ...TARGET, distributionId: 'ENOSUCHDIST' } });

    await updateEdge(event, deps());

    expect(world().edge.writeAttempts).toEqual([]);
    expect(onlyRotationFailed()).toMatchObject({
      error: { field: 'DISTRIBUTION_ID' },
      newKeyMayBeAtEdge: false,
    });
  });

  it('reads again and retries when the distribution changed since it was read', async () => {
    givenDistribution([{ name: 'x-api-key', value: OLD_VALUE }]);
    world().edge.changeBeforeNextWrites(1);

    const result = await updateEdge(await eventFor(), deps());

    expect(result.status).toBe('updated');
    expect(world().edge.writeAttempts).toHaveLength(2);
    expect(world().edge.writes).toHaveLength(1);
    expect(apiHeaders()).toEqual([{ name: 'x-api-key', value: NEW_VALUE }]);
  });

  it('gives up after the configured write attempts, leaving the edge as it was', async () => {
    givenDistribution([{ name: 'x-api-key', value: OLD_VALUE }]);
    world().edge.changeBeforeNextWrites(5);

    const result = await updateEdge(await eventFor(), deps({ writeAttempts: 3 }));

    expect(result).toMatchObject({ status: 'failed', error: 'EdgeConfigChangedError' });
    expect(world().edge.writeAttempts).toHaveLength(3);
    expect(world().edge.writes).toEqual([]);
    expect(apiHeaders()).toEqual([{ name: 'x-api-key', value: OLD_VALUE }]);
    expect(onlyRotationFailed()).toMatchObject({
      stage: 'edge',
      error: { name: 'EdgeConfigChangedError' },
    });
    expect(world().events.ofType('EdgeUpdated')).toEqual([]);
  });

  it('reports newKeyMayBeAtEdge true when every write attempt was refused: a redelivery may still write', async () => {
    givenDistribution([{ name: 'x-api-key', value: OLD_VALUE }]);
    world().edge.changeBeforeNextWrites(5);

    await updateEdge(await eventFor(), deps({ writeAttempts: 3 }));

    expect(apiHeaders()).toEqual([{ name: 'x-api-key', value: OLD_VALUE }]);
    expect(onlyRotationFailed().newKeyMayBeAtEdge).toBe(true);
  });

  it('refuses a replayed old KeyCreated when the edge sends a key it does not supersede', async () => {
    // The edge already moved on to a later rotation's key.
    givenDistribution([{ name: 'x-api-key', value: OTHER_VALUE }]);

    const result = await updateEdge(await eventFor(), deps());

    expect(result).toMatchObject({ status: 'failed', error: 'EdgeDriftError' });
    expect(world().edge.writeAttempts).toEqual([]);
    expect(apiHeaders()).toEqual([{ name: 'x-api-key', value: OTHER_VALUE }]);
    expect(onlyRotationFailed()).toMatchObject({ newKeyMayBeAtEdge: false, rolledBack: false });
    expect(world().events.ofType('EdgeUpdated')).toEqual([]);
  });

  it('refuses a value whose fingerprint differs from the announced one', async () => {
    givenDistribution([{ name: 'x-api-key', value: OLD_VALUE }]);
    const event = await eventFor({
      announcedFingerprint: new SecretValue(OTHER_VALUE).fingerprint,
    });

    const result = await updateEdge(event, deps());

    expect(result).toMatchObject({ status: 'failed', error: 'IntegrityError' });
    expect(world().edge.writeAttempts).toEqual([]);
    expect(apiHeaders()).toEqual([{ name: 'x-api-key', value: OLD_VALUE }]);
    expect(onlyRotationFailed()).toMatchObject({
      error: { name: 'IntegrityError' },
      newKeyMayBeAtEdge: false,
    });
  });

  it('cannot open a value sealed for another rotation', async () => {
    givenDistribution([{ name: 'x-api-key', value: OLD_VALUE }]);
    const sealed = await eventFor();
    const moved: KeyCreated = { ...sealed, rotationId: 'rot_20261125T120000Z_replayed' };

    const result = await updateEdge(moved, deps());

    expect(result.status).toBe('failed');
    expect(world().edge.writeAttempts).toEqual([]);
    expect(apiHeaders()).toEqual([{ name: 'x-api-key', value: OLD_VALUE }]);
  });

  it('writes once when the same KeyCreated is delivered twice', async () => {
    givenDistribution([{ name: 'x-api-key', value: OLD_VALUE }]);
    const event = await eventFor();

    const first = await updateEdge(event, deps());
    const second = await updateEdge(event, deps());

    expect(first.status).toBe('updated');
    expect(second.status).toBe('already-updated');
    expect(world().edge.writes).toHaveLength(1);
    expect(apiHeaders()).toEqual([{ name: 'x-api-key', value: NEW_VALUE }]);
    expect(world().events.ofType('RotationFailed')).toEqual([]);
  });

  it('reports newKeyMayBeAtEdge true when a redelivery fails after the first delivery updated the edge', async () => {
    givenDistribution([{ name: 'x-api-key', value: OLD_VALUE }]);
    const event = await eventFor();
    await updateEdge(event, deps());
    world().sealer.failNext(
      'open',
      new AwsCallError(
        'kms:Decrypt',
        EDGE_KMS_KEY_ARN,
        Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }),
      ),
    );

    const again = await updateEdge(event, deps());

    expect(again.status).toBe('failed');
    // The edge does send the new key: the reaper must not roll it back.
    expect(apiHeaders()).toEqual([{ name: 'x-api-key', value: NEW_VALUE }]);
    expect(onlyRotationFailed().newKeyMayBeAtEdge).toBe(true);
  });

  it('fails with newKeyMayBeAtEdge true when Deployed is not reached within maxWaitMs', async () => {
    givenDistribution([{ name: 'x-api-key', value: OLD_VALUE }]);
    world().edge.deployDelayMs = Infinity;

    const result = await updateEdge(await eventFor(), deps({ maxWaitMs: 120_000 }));

    expect(result).toMatchObject({ status: 'failed', error: 'DeploymentTimeoutError' });
    expect(world().clock.slept).toBeLessThanOrEqual(120_000);
    expect(world().clock.sleeps.length).toBeGreaterThan(0);
    expect(apiHeaders()).toEqual([{ name: 'x-api-key', value: NEW_VALUE }]);
    expect(onlyRotationFailed()).toMatchObject({
      stage: 'edge',
      error: { name: 'DeploymentTimeoutError' },
      newKeyMayBeAtEdge: true,
      rolledBack: false,
    });
    expect(world().events.ofType('EdgeUpdated')).toEqual([]);
  });

  it('polls at the configured interval until Deployed', async () => {
    givenDistribution([{ name: 'x-api-key', value: OLD_VALUE }]);
    world().edge.deployDelayMs = 3 * POLL_MS;

    await updateEdge(await eventFor(), deps());

    expect(world().clock.sleeps).toEqual([POLL_MS, POLL_MS, POLL_MS]);
    expect(world().events.ofType('EdgeUpdated')).toHaveLength(1);
  });

  it('never announces a key the edge stopped sending while it deployed', async () => {
    givenDistribution([{ name: 'x-api-key', value: OLD_VALUE }]);
    let checks = 0;
    world().edge.beforeDeploymentCheck = () => {
      checks += 1;
      if (checks === 2) world().edge.setHeaderOutOfBand(TARGET, OTHER_VALUE);
    };

    const result = await updateEdge(await eventFor(), deps());

    expect(result).toMatchObject({ status: 'failed', error: 'EdgeDriftError' });
    expect(world().events.ofType('EdgeUpdated')).toEqual([]);
    expect(onlyRotationFailed()).toMatchObject({ newKeyMayBeAtEdge: true });
  });
});
