import { rotationState } from '@keyrot/shared';
import { CloudFrontSimulator } from '../../harness/cloudfront-sim';
import { liveKeysOnPlan, readEdge, reportRotation, rotationIds } from '../../harness/inspect';
import type { LocalEnvironment } from '../../harness/local-env';
import { currentKeyValues, findLeaks, useMoto } from '../support/local';

jest.setTimeout(60_000);

const fixture = useMoto();

/** Fires the stored monthly schedule, lets the rotation run, returns its report. */
async function rotateOnce(env: LocalEnvironment) {
  await env.runner.fireSchedule();
  await env.runner.drain();
  const ids = await rotationIds(env.world);
  return reportRotation(env.world, ids[ids.length - 1]!);
}

const ISSUER_AND_REAPER_STEPS = [
  'REQUESTED',
  'KEYS_LISTED',
  'KEY_CREATED',
  'KEY_ASSOCIATED',
  'KEY_SENT',
  'EDGE_UPDATED',
  'KEYS_RETIRED',
  'COMPLETED',
];

describe('a rotation across two accounts', () => {
  it('replaces the edge key with a new live key, then deletes only the superseded key', async () => {
    const cloudFront = new CloudFrontSimulator(400);
    const env = await fixture.world({ keyrot: { cloudFront } });
    const initialValue = env.world.initialKeyValue.reveal();
    const edgeBefore = await readEdge(env.world);
    const valuesBefore = await currentKeyValues(env);

    const report = await rotateOnce(env);

    expect(report).toMatchObject({
      status: 'COMPLETED',
      oldKeyIds: [env.world.api.initialKeyId],
      edgeHeaderMatchesNewKey: true,
      // A redeploy of a template that references the current key sends the new key.
      referenceMatchesEdge: true,
      otherClientKeySurvived: true,
      oldKeysDeleted: true,
      lockReleased: true,
    });
    expect(report.steps.map((s) => s.step)).toEqual(ISSUER_AND_REAPER_STEPS);
    // The edge's own steps are recorded with its account, and the wait for Deployed was real.
    const edgeStep = rotationState(report.steps).step('EDGE_UPDATED')!;
    expect(edgeStep.actor.account).toBe(env.world.edge.session.accountId);
    const waitedMs = Date.parse(edgeStep.at) - Date.parse(edgeStep.updatedAt);
    expect(waitedMs).toBeGreaterThanOrEqual(400);
    expect(cloudFront.updates).toBe(1);
    // Every other header of every origin is untouched.
    const edgeAfter = await readEdge(env.world);
    expect(edgeAfter.otherHeaders).toEqual(edgeBefore.otherHeaders);
    expect(edgeAfter.originIds).toEqual(edgeBefore.originIds);
    // Events crossed accounts with the sender's account in the envelope.
    expect(env.runner.events.map((e) => [e['detail-type'], e.account])).toEqual([
      ['KeyRotationRequested', env.world.api.session.accountId],
      ['KeyCreated', env.world.api.session.accountId],
      ['EdgeUpdated', env.world.edge.session.accountId],
      ['KeyRetired', env.world.api.session.accountId],
    ]);
    const values = [initialValue, ...valuesBefore, ...(await currentKeyValues(env))];
    expect(await findLeaks(env, values)).toEqual([]);
  });

  it('works the same in single-account mode, on one bus', async () => {
    const env = await fixture.world({ singleAccount: true });
    const report = await rotateOnce(env);
    expect(report).toMatchObject({
      status: 'COMPLETED',
      edgeHeaderMatchesNewKey: true,
      otherClientKeySurvived: true,
      oldKeysDeleted: true,
      lockReleased: true,
    });
    expect(env.world.edge.session.accountId).toBe(env.world.api.session.accountId);
    expect(new Set(env.runner.events.map((e) => e.account)).size).toBe(1);
  });

  it('retires the key the previous rotation created when run twice in a row', async () => {
    const env = await fixture.world();
    const first = await rotateOnce(env);
    const valuesAfterFirst = await currentKeyValues(env);
    const second = await rotateOnce(env);

    expect(first.status).toBe('COMPLETED');
    expect(second).toMatchObject({
      status: 'COMPLETED',
      oldKeyIds: [first.newKeyId],
      edgeHeaderMatchesNewKey: true,
      referenceMatchesEdge: true,
      otherClientKeySurvived: true,
      oldKeysDeleted: true,
    });
    expect(second.newKeyId).not.toBe(first.newKeyId);
    const values = [env.world.initialKeyValue.reveal(), ...valuesAfterFirst];
    expect(await findLeaks(env, [...values, ...(await currentKeyValues(env))])).toEqual([]);
  });

  it('lets exactly one of two concurrent requests for a target run, and records the other', async () => {
    const env = await fixture.world();
    const request = (id: string) => ({
      version: '0',
      id,
      account: env.world.api.session.accountId,
      source: 'keyrot',
      'detail-type': 'KeyRotationRequested',
      time: new Date().toISOString(),
      detail: env.world.scheduleInput,
    });
    const issuer = env.handlers['key-issuer'];
    const results = await Promise.all([
      issuer(request('11111111-aaaa-4aaa-8aaa-111111111111')),
      issuer(request('22222222-bbbb-4bbb-8bbb-222222222222')),
    ]);
    await env.runner.drain();

    expect(results.map((r) => r.status).sort()).toEqual(['refused', 'sent']);
    const winner = results.find((r) => r.status === 'sent')!.rotationId!;
    const loser = results.find((r) => r.status === 'refused')!.rotationId!;
    const [won, lost] = await Promise.all([
      reportRotation(env.world, winner),
      reportRotation(env.world, loser),
    ]);
    expect(won).toMatchObject({ status: 'COMPLETED', edgeHeaderMatchesNewKey: true });
    expect(lost.status).toBe('REFUSED');
    expect(lost.newKeyId).toBeNull();
    const refusal = rotationState(lost.steps).step('REFUSED')!;
    expect(refusal).toMatchObject({ lockedBy: winner });
    // One new key only: the plan holds the other client's key and the winner's.
    expect((await liveKeysOnPlan(env.world)).sort()).toEqual(
      [env.world.api.otherClientKeyId, won.newKeyId].sort(),
    );
  });
});
