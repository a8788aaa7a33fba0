import { KEY_TAGS } from '@keyrot/shared';
import { createHandler, type ReaperEnvironment } from '../src/handler';
import { issuerSent, useFakeWorld, type SeededKey } from '../../../test/support/fakes';
import {
  API_ACCOUNT,
  EDGE_ACCOUNT,
  edgeUpdated,
  envelope,
  keyRef,
  lambdaContext,
  onlyOne,
  ROTATION_ID,
  rotationFailed,
  TARGET,
} from '../../../test/support/fixtures';

const PLAN = TARGET.usagePlanId;
const OWNED_TAGS = { [KEY_TAGS.managed]: 'true', [KEY_TAGS.target]: TARGET.name };

let old: SeededKey;
let fresh: SeededKey;

const world = useFakeWorld('key-reaper', async (w) => {
  w.keys.addPlan(PLAN);
  old = w.keys.seedKey({ name: TARGET.apiKeyName, plans: [PLAN], tags: OWNED_TAGS });
  fresh = w.keys.seedKey({ name: TARGET.apiKeyName, plans: [PLAN], tags: OWNED_TAGS });
  await issuerSent(w, keyRef(fresh), [keyRef(old)]);
});

function handler(overrides: Partial<ReaperEnvironment> = {}) {
  const { keys, ledger, events, clock, logs } = world();
  return createHandler({
    apiAccountId: API_ACCOUNT,
    edgeAccountId: EDGE_ACCOUNT,
    keys,
    ledger,
    events,
    clock,
    log: logs.log,
    graceMs: 60_000,
    ...overrides,
  });
}

function edgeUpdatedDetail() {
  return edgeUpdated({
    newKey: keyRef(fresh),
    previousFingerprint: old.fingerprint,
    deployedAt: world().clock.now().toISOString(),
  });
}

/** The one REJECTED record the ledger holds. */
function rejection() {
  const { ledger } = world();
  return onlyOne(ledger.records().filter((r) => r.step === 'REJECTED'));
}

function expectNothingChanged() {
  expect(world().keys.deleteCalls).toEqual([]);
  expect(world().events.published).toEqual([]);
  expect(world().ledger.steps(ROTATION_ID)).not.toContain('EDGE_UPDATED');
  expect(world().ledger.outcomes(ROTATION_ID)).toEqual([]);
}

describe('key-reaper handler', () => {
  it('retires the superseded keys on EdgeUpdated from the edge account', async () => {
    const raw = envelope('EdgeUpdated', edgeUpdatedDetail(), { account: EDGE_ACCOUNT });

    const result = await handler()(raw, lambdaContext());

    expect(result).toMatchObject({ status: 'completed', rotationId: ROTATION_ID });
    expect(world().keys.planKeyIds(PLAN)).toEqual([fresh.id]);
    expect(world().events.types()).toEqual(['KeyRetired']);
    await expect(world().ledger.lockOf(TARGET.name)).resolves.toBeUndefined();
  });

  it('deletes once when EdgeUpdated is delivered twice', async () => {
    const raw = envelope('EdgeUpdated', edgeUpdatedDetail(), { account: EDGE_ACCOUNT });

    await handler()(raw);
    const second = await handler()(raw);

    expect(second.status).toBe('duplicate');
    expect(world().keys.deleteCalls.map((c) => c.id)).toEqual([old.id]);
    expect(world().events.types()).toEqual(['KeyRetired']);
  });

  it('rolls the new key back on RotationFailed from the edge account when the edge never sent it', async () => {
    const detail = rotationFailed({ newKeyMayBeAtEdge: false, newKey: keyRef(fresh) });
    const raw = envelope('RotationFailed', detail, { account: EDGE_ACCOUNT });

    const result = await handler()(raw);

    expect(result).toMatchObject({ status: 'rolled-back' });
    expect(world().keys.planKeyIds(PLAN)).toEqual([old.id]);
    expect(world().ledger.outcomes(ROTATION_ID)).toEqual(['FAILED']);
    await expect(world().ledger.lockOf(TARGET.name)).resolves.toBeUndefined();
  });

  it('keeps both keys on RotationFailed when the edge may be sending the new key', async () => {
    const detail = rotationFailed({ newKeyMayBeAtEdge: true, newKey: keyRef(fresh) });

    const result = await handler()(envelope('RotationFailed', detail, { account: EDGE_ACCOUNT }));

    expect(result).toMatchObject({ status: 'closed' });
    expect(world().keys.deleteCalls).toEqual([]);
  });

  it('rejects EdgeUpdated from the API account: only the edge may report the edge', async () => {
    const raw = envelope('EdgeUpdated', edgeUpdatedDetail(), { account: API_ACCOUNT });

    await expect(handler()(raw)).resolves.toEqual({ status: 'rejected' });
    expectNothingChanged();
    expect(rejection().error).toMatchObject({ name: 'UntrustedEventError', field: 'account' });
  });

  it('rejects a RetireRetry from the edge account: only the reaper retries its own deletes', async () => {
    const retry = { version: 1, rotationId: ROTATION_ID, target: TARGET, attempt: 1 };
    const raw = envelope('RetireRetry', retry, { account: EDGE_ACCOUNT });

    await expect(handler()(raw)).resolves.toEqual({ status: 'rejected' });
    expectNothingChanged();
    expect(rejection().error).toMatchObject({ name: 'UntrustedEventError', field: 'account' });
  });

  it('rejects an event from another source', async () => {
    const raw = envelope('EdgeUpdated', edgeUpdatedDetail(), {
      account: EDGE_ACCOUNT,
      source: 'aws.cloudfront',
    });

    await expect(handler()(raw)).resolves.toEqual({ status: 'rejected' });
    expectNothingChanged();
    expect(rejection().error).toMatchObject({ field: 'source' });
  });

  it('rejects a malformed EdgeUpdated naming the field, changing nothing', async () => {
    const raw = envelope(
      'EdgeUpdated',
      { ...edgeUpdatedDetail(), version: 2 },
      {
        account: EDGE_ACCOUNT,
      },
    );

    await expect(handler()(raw)).resolves.toEqual({ status: 'rejected' });
    expectNothingChanged();
    expect(rejection()).toMatchObject({
      error: { name: 'InvalidInputError', field: 'detail.version' },
      eventId: raw.id,
    });
    await expect(world().ledger.lockOf(TARGET.name)).resolves.toMatchObject({
      rotationId: ROTATION_ID,
    });
  });

  it('rejects a KeyCreated: not an event the reaper handles', async () => {
    const raw = envelope('KeyCreated', {}, { account: EDGE_ACCOUNT });

    await expect(handler()(raw)).resolves.toEqual({ status: 'rejected' });
    expectNothingChanged();
    expect(rejection().error).toMatchObject({ field: 'detail-type' });
  });
});
