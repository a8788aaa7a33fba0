import { rotationState } from '@keyrot/shared';
import { CloudFrontSimulator } from '../../harness/cloudfront-sim';
import {
  keyFingerprint,
  ledgerOf,
  liveKeysOnPlan,
  readEdge,
  reportRotation,
  rotationIds,
  TARGET_NAME,
} from '../../harness/inspect';
import type { LocalEnvironment } from '../../harness/local-env';
import { currentKeyValues, findLeaks, useMoto } from '../support/local';

jest.setTimeout(60_000);

const fixture = useMoto();

async function latestReport(env: LocalEnvironment) {
  const ids = await rotationIds(env.world);
  return reportRotation(env.world, ids[ids.length - 1]!);
}

/** The edge still sends the initial key, which is still live and on the plan. */
async function expectOldKeyServing(env: LocalEnvironment) {
  const initialFp = await keyFingerprint(env.world, env.world.api.initialKeyId);
  expect(initialFp).not.toBeNull();
  expect((await readEdge(env.world)).apiKeyFingerprint).toBe(initialFp);
  expect(await liveKeysOnPlan(env.world)).toEqual(
    expect.arrayContaining([env.world.api.initialKeyId, env.world.api.otherClientKeyId]),
  );
}

describe('a rotation that cannot complete', () => {
  it.each([
    ['ORIGIN_ID', { ORIGIN_ID: 'no-such-origin' }, 'OriginNotFoundError'],
    ['DISTRIBUTION_ID', { DISTRIBUTION_ID: 'ENOSUCHDIST1' }, 'ResourceNotFoundError'],
  ])(
    'with an unknown %s fails, rolls the new key back and leaves the old key serving',
    async (field, override, errorName) => {
      const env = await fixture.world();
      await env.runner.putOnApiBus('KeyRotationRequested', {
        ...env.world.scheduleInput,
        ...override,
      });
      await env.runner.drain();

      const report = await latestReport(env);
      expect(report.status).toBe('FAILED');
      const failed = rotationState(report.steps).step('FAILED')!;
      expect(failed.error).toMatchObject({ name: errorName, field });
      expect(failed).toMatchObject({ stage: 'edge', rolledBack: true });
      expect(report.steps.map((s) => s.step)).toContain('ROLLED_BACK');
      expect(await keyFingerprint(env.world, report.newKeyId!)).toBeNull();
      expect(report.lockReleased).toBe(true);
      expect(env.runner.events.map((e) => e['detail-type'])).toContain('RotationFailed');
      await expectOldKeyServing(env);
    },
  );

  it('can be retried by the operator once the input is right', async () => {
    const env = await fixture.world();
    await env.runner.putOnApiBus('KeyRotationRequested', {
      ...env.world.scheduleInput,
      ORIGIN_ID: 'no-such-origin',
    });
    await env.runner.drain();
    await env.runner.fireSchedule();
    await env.runner.drain();

    const report = await latestReport(env);
    expect(report).toMatchObject({ status: 'COMPLETED', edgeHeaderMatchesNewKey: true });
    expect(report.oldKeyIds).toEqual([env.world.api.initialKeyId]);
  });
});

describe('events keyrot must not act on', () => {
  it('rejects a malformed request naming the missing field, and records it', async () => {
    const env = await fixture.world();
    const keysBefore = await liveKeysOnPlan(env.world);
    const incomplete: Record<string, string> = { ...env.world.scheduleInput };
    delete incomplete.USAGE_PLAN_ID;
    await env.runner.putOnApiBus('KeyRotationRequested', incomplete);
    const deliveries = await env.runner.drain();

    expect(deliveries.map((d) => d.result.status)).toEqual(['rejected']);
    expect(await liveKeysOnPlan(env.world)).toEqual(keysBefore);
    await expectOldKeyServing(env);
    const logLine = env.logs.lines.find((l) => l.includes('event rejected'));
    expect(logLine).toContain('detail.USAGE_PLAN_ID');
    const rejected = (await ledgerOf(env.world).history('-')).find((s) => s.step === 'REJECTED');
    expect(rejected?.error).toMatchObject({
      name: 'InvalidInputError',
      field: 'detail.USAGE_PLAN_ID',
    });
  });

  it('never delivers a request from another source, and the issuer refuses another account', async () => {
    const env = await fixture.world();
    await env.runner.putOnApiBus('KeyRotationRequested', env.world.scheduleInput, 'not-keyrot');
    expect(await env.runner.drain()).toEqual([]);

    const result = await env.handlers['key-issuer']({
      id: '33333333-cccc-4ccc-8ccc-333333333333',
      account: '999999999999',
      source: 'keyrot',
      'detail-type': 'KeyRotationRequested',
      time: new Date().toISOString(),
      detail: env.world.scheduleInput,
    });
    expect(result.status).toBe('rejected');
    expect(await rotationIds(env.world)).toEqual([]);
    await expectOldKeyServing(env);
  });
});

describe('redelivered events', () => {
  it('change nothing twice: one key, one distribution update, one completion', async () => {
    const cloudFront = new CloudFrontSimulator(0);
    const env = await fixture.world({ keyrot: { cloudFront } });
    const values = [env.world.initialKeyValue.reveal()];
    await env.runner.fireSchedule();
    // Deliver every event twice, as EventBridge's at-least-once delivery may.
    const delivered = new Set<string>();
    for (let round = 0; round < 10; round++) {
      const before = env.runner.events.length;
      await env.runner.drain();
      for (const event of env.runner.events.slice(before)) {
        if (delivered.has(event.id)) continue;
        delivered.add(event.id);
        for (const service of ['key-issuer', 'edge-updater', 'key-reaper'] as const) {
          await env.handlers[service](event);
        }
      }
      if (env.runner.events.length === before) break;
      values.push(...(await currentKeyValues(env)));
    }

    const report = await latestReport(env);
    expect(report).toMatchObject({ status: 'COMPLETED', edgeHeaderMatchesNewKey: true });
    expect(cloudFront.updates).toBe(1);
    expect(await rotationIds(env.world, TARGET_NAME)).toHaveLength(1);
    expect((await liveKeysOnPlan(env.world)).sort()).toEqual(
      [env.world.api.otherClientKeyId, report.newKeyId].sort(),
    );
    const completions = env.runner.events.filter((e) => e['detail-type'] === 'KeyRetired');
    expect(completions).toHaveLength(1);
    expect(await findLeaks(env, values)).toEqual([]);
  });
});
