import {
  MAX_RETRY_DELAY_MS,
  SecretValue,
  type EdgeDeploymentCheck,
  type EdgeUpdateRetry,
} from '@keyrot/shared';
import type { DeploymentChecks } from '../src/deployment-checks';
import { createHandlers, environmentFromProcess } from '../src/handler';
import { checkDeployment, retryEdgeUpdate, updateEdge, type EdgeDeps } from '../src/update-edge';
import { useFakeWorld } from '../../../test/support/fakes';
import {
  actor,
  API_ACCOUNT,
  EDGE_ACCOUNT,
  envelope,
  failureOf,
  keyCreated,
  lambdaContext,
  onlyOne,
  TARGET,
} from '../../../test/support/fixtures';

const OLD_VALUE = 'CHECKoldKEYvalue000000000000000000000000';
const NEW_VALUE = 'CHECKnewKEYvalue111111111111111111111111';
const OTHER_VALUE = 'CHECKotherKEYvalue2222222222222222222222';
const OLD = { id: 'oldkey0001', fingerprint: new SecretValue(OLD_VALUE).fingerprint };

const MINUTE = 60_000;
const POLL_MS = 20_000;
/** One Lambda run's wait: 15 minutes less the reserve. */
const MAX_WAIT_MS = 14 * MINUTE;
const RECHECK_MS = MINUTE;

/** Scheduled checks, as EventBridge Scheduler keeps them: one per name. */
class FakeDeploymentChecks implements DeploymentChecks {
  readonly scheduled: { check: EdgeDeploymentCheck; at: Date }[] = [];

  async schedule(check: EdgeDeploymentCheck, at: Date) {
    const exists = this.scheduled.some(
      (s) => s.check.rotationId === check.rotationId && s.check.check === check.check,
    );
    if (exists) return 'already-scheduled' as const;
    this.scheduled.push({ check: JSON.parse(JSON.stringify(check)) as EdgeDeploymentCheck, at });
    return 'scheduled' as const;
  }

  last(): { check: EdgeDeploymentCheck; at: Date } {
    return this.scheduled[this.scheduled.length - 1]!;
  }

  readonly retries: { retry: EdgeUpdateRetry; at: Date }[] = [];

  async retry(retry: EdgeUpdateRetry, at: Date) {
    const exists = this.retries.some(
      (r) => r.retry.rotationId === retry.rotationId && r.retry.attempt === retry.attempt,
    );
    if (exists) return 'already-scheduled' as const;
    this.retries.push({ retry: JSON.parse(JSON.stringify(retry)) as EdgeUpdateRetry, at });
    return 'scheduled' as const;
  }
}

let checks: FakeDeploymentChecks;

const world = useFakeWorld('edge-updater', (w) => {
  for (const value of [OLD_VALUE, NEW_VALUE, OTHER_VALUE]) w.addSecret(value);
  w.edge.addDistribution(TARGET.distributionId, {
    [TARGET.originId]: [{ name: 'x-api-key', value: OLD_VALUE }],
  });
  checks = new FakeDeploymentChecks();
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
    deployChecks: checks,
    recheckDelayMs: RECHECK_MS,
    deployDeadlineMs: 2 * 60 * MINUTE,
    ...overrides,
  };
}

async function keyCreatedEvent() {
  return keyCreated(world().sealer, { value: NEW_VALUE, superseded: [OLD] });
}

/** Runs the scheduled check when it is due, as Scheduler and the runner would. */
async function runDueCheck(overrides: Partial<EdgeDeps> = {}) {
  const { check, at } = checks.last();
  const { clock } = world();
  clock.advance(Math.max(0, at.getTime() - clock.now().getTime()));
  return checkDeployment(check, deps(overrides));
}

describe('a deployment that outlasts one Lambda run', () => {
  it('as deployed: updateEdge (no wait) hands off at once, awaitDeployment waits it out', async () => {
    world().edge.deployDelayMs = 3 * MINUTE;
    const event = await keyCreatedEvent();
    const started = world().clock.now().getTime();

    const first = await updateEdge(event, deps({ maxWaitMs: 0 }));

    expect(first).toEqual({ status: 'deploying', rotationId: event.rotationId, check: 1 });
    expect(world().clock.now().getTime()).toBe(started);
    expect(world().edge.writes).toHaveLength(1);

    const second = await runDueCheck({ maxWaitMs: 840_000 });

    expect(second).toMatchObject({ status: 'updated' });
    expect(onlyOne(world().events.ofType('EdgeUpdated')).newKey).toEqual(event.newKey);
    expect(checks.scheduled).toHaveLength(1);
    expect(world().edge.writes).toHaveLength(1);
  });

  it('continues in a scheduled check and is announced once Deployed', async () => {
    world().edge.deployDelayMs = 25 * MINUTE;
    const event = await keyCreatedEvent();
    const writtenAt = world().clock.now().toISOString();

    const first = await updateEdge(event, deps());

    expect(first).toEqual({ status: 'deploying', rotationId: event.rotationId, check: 1 });
    expect(world().events.published).toEqual([]);
    const { check, at } = onlyOne(checks.scheduled);
    expect(check).toEqual({
      version: 1,
      rotationId: event.rotationId,
      target: TARGET,
      newKey: event.newKey,
      previousFingerprint: OLD.fingerprint,
      updatedAt: writtenAt,
      deadline: '2026-11-25T11:00:00.000Z',
      check: 1,
    });
    expect(at.getTime() - world().clock.now().getTime()).toBe(RECHECK_MS);

    const second = await runDueCheck();

    expect(second).toMatchObject({ status: 'updated', previousFingerprint: OLD.fingerprint });
    const announced = onlyOne(world().events.ofType('EdgeUpdated'));
    expect(announced).toMatchObject({ newKey: event.newKey, updatedAt: writtenAt });
    expect(Date.parse(announced.deployedAt) - Date.parse(writtenAt)).toBeGreaterThanOrEqual(
      25 * MINUTE,
    );
    expect(world().edge.writes).toHaveLength(1);
  });

  it('schedules the next check when a check runs out of time as well', async () => {
    world().edge.deployDelayMs = 40 * MINUTE;
    await updateEdge(await keyCreatedEvent(), deps());

    const second = await runDueCheck();
    const third = await runDueCheck();

    expect([second.status, third.status]).toEqual(['deploying', 'updated']);
    expect(checks.scheduled.map((s) => s.check.check)).toEqual([1, 2]);
    expect(world().events.types()).toEqual(['EdgeUpdated']);
  });

  it('schedules the next check once when a check is delivered twice', async () => {
    world().edge.deployDelayMs = 60 * MINUTE;
    await updateEdge(await keyCreatedEvent(), deps());
    const { check } = checks.last();

    await checkDeployment(check, deps());
    await checkDeployment(check, deps());

    expect(checks.scheduled.map((s) => s.check.check)).toEqual([1, 2]);
    expect(world().events.published).toEqual([]);
  });

  it('gives up at the deadline: RotationFailed, both keys stay live', async () => {
    world().edge.deployDelayMs = 10 * 60 * MINUTE;
    const deadlineMs = 45 * MINUTE;
    let result = await updateEdge(await keyCreatedEvent(), deps({ deployDeadlineMs: deadlineMs }));
    for (let i = 0; result.status === 'deploying' && i < 10; i++) {
      result = await runDueCheck({ deployDeadlineMs: deadlineMs });
    }

    expect(result).toMatchObject({ status: 'failed', error: 'DeploymentTimeoutError' });
    expect(world().clock.now().getTime() - Date.parse('2026-11-25T09:00:00Z')).toBeLessThanOrEqual(
      deadlineMs,
    );
    expect(onlyOne(world().events.ofType('RotationFailed'))).toMatchObject({
      stage: 'edge',
      error: { name: 'DeploymentTimeoutError', field: 'target.distributionId' },
      newKeyMayBeAtEdge: true,
      rolledBack: false,
    });
    expect(world().events.ofType('EdgeUpdated')).toEqual([]);
    expect(checks.scheduled.length).toBeGreaterThan(1);
  });

  it('reports drift found by a check, and never announces a key the edge does not send', async () => {
    world().edge.deployDelayMs = 25 * MINUTE;
    await updateEdge(await keyCreatedEvent(), deps());
    world().edge.setHeaderOutOfBand(TARGET, OTHER_VALUE);

    const result = await runDueCheck();

    expect(result).toMatchObject({ status: 'failed', error: 'EdgeDriftError' });
    expect(onlyOne(world().events.ofType('RotationFailed'))).toMatchObject({
      error: { name: 'EdgeDriftError' },
      newKeyMayBeAtEdge: true,
    });
    expect(world().events.ofType('EdgeUpdated')).toEqual([]);
  });

  it('without scheduled checks, ends the wait with DeploymentTimeoutError as before', async () => {
    world().edge.deployDelayMs = 25 * MINUTE;

    const result = await updateEdge(await keyCreatedEvent(), deps({ deployChecks: undefined }));

    expect(result).toMatchObject({ status: 'failed', error: 'DeploymentTimeoutError' });
    expect(checks.scheduled).toEqual([]);
  });
});

describe('the edge-updater handler and its re-checks', () => {
  function handlers() {
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
      pollIntervalMs: POLL_MS,
      maxWaitMs: MAX_WAIT_MS,
      deployChecks: checks,
      recheckDelayMs: RECHECK_MS,
    });
  }

  async function pendingCheck(): Promise<EdgeDeploymentCheck> {
    world().edge.deployDelayMs = 20 * MINUTE;
    const result = await handlers().updateEdge(
      envelope('KeyCreated', await keyCreatedEvent()),
      lambdaContext(),
    );
    expect(result).toMatchObject({ status: 'deploying', check: 1 });
    return checks.last().check;
  }

  it('updateEdge takes its retry from its own account only, and KeyCreated from the API account only', async () => {
    world().edge.throttleWritesUntil(world().clock.now().getTime() + RECHECK_MS / 2);
    const first = await handlers().updateEdge(
      envelope('KeyCreated', await keyCreatedEvent()),
      lambdaContext(),
    );
    expect(first).toMatchObject({ status: 'retrying', attempt: 1 });
    const { retry, at } = checks.retries[0]!;
    world().clock.advance(at.getTime() - world().clock.now().getTime());

    const forged = await handlers().updateEdge(
      envelope('EdgeUpdateRetry', retry, { account: API_ACCOUNT }),
      lambdaContext(),
    );
    const ownKeyCreated = await handlers().updateEdge(
      envelope('KeyCreated', retry.keyCreated, { account: EDGE_ACCOUNT }),
      lambdaContext(),
    );
    expect([forged.status, ownKeyCreated.status]).toEqual(['rejected', 'rejected']);
    expect(world().edge.writes).toEqual([]);

    const own = await handlers().updateEdge(
      envelope('EdgeUpdateRetry', retry, { account: EDGE_ACCOUNT }),
      lambdaContext(),
    );
    expect(own).toMatchObject({ status: 'updated' });
    expect(world().edge.writes).toHaveLength(1);
  });

  it("accepts a check from its own account, which Scheduler puts on the edge's bus", async () => {
    const check = await pendingCheck();
    world().clock.advance(RECHECK_MS);

    const result = await handlers().checkDeployment(
      envelope('EdgeDeploymentCheck', check, { account: EDGE_ACCOUNT }),
      lambdaContext(),
    );

    expect(result).toMatchObject({ status: 'updated' });
    expect(world().events.types()).toEqual(['EdgeUpdated']);
  });

  it('rejects a check from the API account, and a KeyCreated from its own account', async () => {
    const check = await pendingCheck();

    const forgedCheck = await handlers().checkDeployment(
      envelope('EdgeDeploymentCheck', check, { account: API_ACCOUNT }),
    );
    const ownKeyCreated = await handlers().updateEdge(
      envelope('KeyCreated', await keyCreatedEvent(), { account: EDGE_ACCOUNT }),
    );

    expect([forgedCheck.status, ownKeyCreated.status]).toEqual(['rejected', 'rejected']);
    expect(world().events.published).toEqual([]);
  });

  it('names the missing variable when the re-check is half configured', async () => {
    const env = {
      AWS_REGION: 'us-east-1',
      API_ACCOUNT_ID: API_ACCOUNT,
      EDGE_ACCOUNT_ID: EDGE_ACCOUNT,
      KEYROT_STAGE: 'prod',
      EVENT_BUS_NAME: 'keyrot',
      DEPLOY_CHECK_SCHEDULE_GROUP: 'keyrot-deploy-checks-prod',
      DEPLOY_CHECK_BUS_ARN: `arn:aws:events:us-east-1:${EDGE_ACCOUNT}:event-bus/keyrot`,
    };

    expect(
      await failureOf(Promise.resolve().then(() => environmentFromProcess(env))),
    ).toMatchObject({ name: 'InvalidInputError', field: 'DEPLOY_CHECK_ROLE_ARN' });
    const complete = environmentFromProcess({
      ...env,
      DEPLOY_CHECK_ROLE_ARN: `arn:aws:iam::${EDGE_ACCOUNT}:role/keyrot-deploy-check`,
    });
    expect(complete.deployChecks).toBeDefined();
    expect(complete).toMatchObject({ recheckDelayMs: 60_000, deployDeadlineMs: 7_200_000 });
  });
});

describe('a header write throttled longer than the SDK retries', () => {
  /** Runs the newest scheduled retry when it is due, as Scheduler and the runner would. */
  async function runDueRetry() {
    const { retry, at } = checks.retries[checks.retries.length - 1]!;
    const { clock } = world();
    clock.advance(Math.max(0, at.getTime() - clock.now().getTime()));
    return retryEdgeUpdate(retry, deps());
  }

  it('is tried again later, with doubling delays, and the rotation completes once it passes', async () => {
    const event = await keyCreatedEvent();
    const start = world().clock.now().getTime();
    // Throttled for 6 minutes: longer than any one invocation's retries.
    world().edge.throttleWritesUntil(start + 6 * MINUTE);

    const first = await updateEdge(event, deps());

    expect(first).toEqual({
      status: 'retrying',
      rotationId: event.rotationId,
      attempt: 1,
      error: 'AwsCallError',
    });
    expect(world().events.published).toEqual([]);
    expect(await runDueRetry()).toMatchObject({ status: 'retrying', attempt: 2 });
    expect(await runDueRetry()).toMatchObject({ status: 'retrying', attempt: 3 });
    const done = await runDueRetry();

    expect(done).toMatchObject({ status: 'updated' });
    expect(checks.retries.map((r) => (r.at.getTime() - start) / MINUTE)).toEqual([1, 3, 7]);
    expect(checks.retries[0]!.retry).toEqual({
      version: 1,
      rotationId: event.rotationId,
      target: TARGET,
      keyCreated: event,
      attempt: 1,
    });
    expect(world().edge.writes).toHaveLength(1);
    expect(onlyOne(world().events.ofType('EdgeUpdated')).newKey).toEqual(event.newKey);
    expect(world().events.ofType('RotationFailed')).toEqual([]);
  });

  it('caps the delay, and fails the rotation (key kept) once the deadline leaves no time', async () => {
    const event = await keyCreatedEvent();
    world().edge.throttleWritesUntil(Number.MAX_SAFE_INTEGER);

    let result = await updateEdge(event, deps());
    while (result.status === 'retrying') result = await runDueRetry();

    expect(result).toMatchObject({ status: 'failed', error: 'AwsCallError' });
    const delays = checks.retries.map((r, i) =>
      i === 0 ? RECHECK_MS : r.at.getTime() - checks.retries[i - 1]!.at.getTime(),
    );
    expect(Math.max(...delays)).toBe(MAX_RETRY_DELAY_MS);
    // Within the 2 h deadline from issuedAt.
    const last = checks.retries[checks.retries.length - 1]!.at.getTime();
    expect(last).toBeLessThanOrEqual(Date.parse(event.issuedAt) + 2 * 60 * MINUTE);
    expect(onlyOne(world().events.ofType('RotationFailed'))).toMatchObject({
      stage: 'edge',
      newKeyMayBeAtEdge: true,
    });
  });

  it('fails at once without a scheduler to retry with (the negative control)', async () => {
    const event = await keyCreatedEvent();
    world().edge.throttleWritesUntil(Number.MAX_SAFE_INTEGER);

    expect(await updateEdge(event, deps({ deployChecks: undefined }))).toMatchObject({
      status: 'failed',
    });
    expect(checks.retries).toEqual([]);
  });

  it('does not retry a permanent failure (drift)', async () => {
    const event = await keyCreatedEvent();
    world().edge.setHeaderOutOfBand(TARGET, OTHER_VALUE);

    expect(await updateEdge(event, deps())).toMatchObject({
      status: 'failed',
      error: 'EdgeDriftError',
    });
    expect(checks.retries).toEqual([]);
  });
});
