import { KEY_TAGS, type KeyRef, type StepRecord } from '@keyrot/shared';
import { createHandler, type ReaperEnvironment } from '../src/handler';
import { FakeWorld, type SeededKey } from '../../../test/support/fakes';
import {
  actor,
  API_ACCOUNT,
  EDGE_ACCOUNT,
  edgeUpdated,
  envelope,
  keyRef,
  lambdaContext,
  ROTATION_ID,
  rotationFailed,
  TARGET,
} from '../../../test/support/fixtures';

const PLAN = TARGET.usagePlanId;
const OWNED_TAGS = { [KEY_TAGS.managed]: 'true', [KEY_TAGS.target]: TARGET.name };

let world: FakeWorld;
let old: SeededKey;
let fresh: SeededKey;

function handler(overrides: Partial<ReaperEnvironment> = {}) {
  return createHandler({
    apiAccountId: API_ACCOUNT,
    edgeAccountId: EDGE_ACCOUNT,
    keys: world.keys,
    ledger: world.ledger,
    events: world.events,
    clock: world.clock,
    log: world.logs.log,
    graceMs: 60_000,
    ...overrides,
  });
}

/** The ledger as the issuer leaves it once KeyCreated is sent. */
async function issuerSent(newKey: KeyRef, superseded: readonly KeyRef[]) {
  const base = {
    rotationId: ROTATION_ID,
    target: TARGET.name,
    at: world.clock.now().toISOString(),
    actor: actor(API_ACCOUNT, 'keyrot-key-issuer'),
  };
  const step = (name: StepRecord['step'], fields: Partial<StepRecord> = {}): StepRecord => ({
    ...base,
    step: name,
    ...fields,
  });
  await world.ledger.begin(step('REQUESTED', { reason: 'scheduled' }), 3600);
  await world.ledger.record(step('KEYS_LISTED', { keys: superseded }));
  await world.ledger.record(step('KEY_CREATED', { newKey }));
  await world.ledger.record(step('KEY_SENT', { newKey, keys: superseded }));
}

function edgeUpdatedDetail() {
  return edgeUpdated({
    newKey: keyRef(fresh),
    previousFingerprint: old.fingerprint,
    deployedAt: world.clock.now().toISOString(),
  });
}

function rejection() {
  const rejected = world.ledger.records().filter((r) => r.step === 'REJECTED');
  expect(rejected).toHaveLength(1);
  return rejected[0]!;
}

function expectNothingChanged() {
  expect(world.keys.deleteCalls).toEqual([]);
  expect(world.events.published).toEqual([]);
  expect(world.ledger.steps(ROTATION_ID)).not.toContain('EDGE_UPDATED');
  expect(world.ledger.outcomes(ROTATION_ID)).toEqual([]);
}

beforeEach(async () => {
  world = new FakeWorld('key-reaper');
  world.keys.addPlan(PLAN);
  old = world.keys.seedKey({ name: TARGET.apiKeyName, plans: [PLAN], tags: OWNED_TAGS });
  fresh = world.keys.seedKey({ name: TARGET.apiKeyName, plans: [PLAN], tags: OWNED_TAGS });
  await issuerSent(keyRef(fresh), [keyRef(old)]);
});

afterEach(() => {
  try {
    world.expectNoSecretLeaks();
  } finally {
    world.dispose();
  }
});

describe('key-reaper handler', () => {
  it('retires the superseded keys on EdgeUpdated from the edge account', async () => {
    const raw = envelope('EdgeUpdated', edgeUpdatedDetail(), { account: EDGE_ACCOUNT });

    const result = await handler()(raw, lambdaContext());

    expect(result).toMatchObject({ status: 'completed', rotationId: ROTATION_ID });
    expect(world.keys.planKeyIds(PLAN)).toEqual([fresh.id]);
    expect(world.events.types()).toEqual(['KeyRetired']);
    await expect(world.ledger.lockOf(TARGET.name)).resolves.toBeUndefined();
  });

  it('deletes once when EdgeUpdated is delivered twice', async () => {
    const raw = envelope('EdgeUpdated', edgeUpdatedDetail(), { account: EDGE_ACCOUNT });

    await handler()(raw);
    const second = await handler()(raw);

    expect(second.status).toBe('duplicate');
    expect(world.keys.deleteCalls.map((c) => c.id)).toEqual([old.id]);
    expect(world.events.types()).toEqual(['KeyRetired']);
  });

  it('rolls the new key back on RotationFailed from the edge account when the edge never sent it', async () => {
    const detail = rotationFailed({ edgeUpdated: false, newKey: keyRef(fresh) });
    const raw = envelope('RotationFailed', detail, { account: EDGE_ACCOUNT });

    const result = await handler()(raw);

    expect(result).toMatchObject({ status: 'rolled-back' });
    expect(world.keys.planKeyIds(PLAN)).toEqual([old.id]);
    expect(world.ledger.outcomes(ROTATION_ID)).toEqual(['FAILED']);
    await expect(world.ledger.lockOf(TARGET.name)).resolves.toBeUndefined();
  });

  it('keeps both keys on RotationFailed when the edge may be sending the new key', async () => {
    const detail = rotationFailed({ edgeUpdated: true, newKey: keyRef(fresh) });

    const result = await handler()(envelope('RotationFailed', detail, { account: EDGE_ACCOUNT }));

    expect(result).toMatchObject({ status: 'closed' });
    expect(world.keys.deleteCalls).toEqual([]);
  });

  it('rejects EdgeUpdated from the API account: only the edge may report the edge', async () => {
    const raw = envelope('EdgeUpdated', edgeUpdatedDetail(), { account: API_ACCOUNT });

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
      facts: { eventId: raw.id },
    });
    await expect(world.ledger.lockOf(TARGET.name)).resolves.toMatchObject({
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
