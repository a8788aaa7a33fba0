import { createHandler, type IssuerEnvironment } from '../src/handler';
import { useFakeWorld } from '../../../test/support/fakes';
import {
  API_ACCOUNT,
  EDGE_ACCOUNT,
  EDGE_KMS_KEY_ARN,
  envelope,
  lambdaContext,
  omit,
  onlyOne,
  OTHER_ACCOUNT,
  SEED_INPUT,
  TARGET,
} from '../../../test/support/fixtures';

const world = useFakeWorld('key-issuer', (w) => {
  w.keys.addPlan(TARGET.usagePlanId);
  w.keys.seedKey({ name: TARGET.apiKeyName, plans: [TARGET.usagePlanId] });
});

function handler(overrides: Partial<IssuerEnvironment> = {}) {
  const { keys, sealer, ledger, events, clock, logs } = world();
  return createHandler({
    apiAccountId: API_ACCOUNT,
    keys,
    sealer,
    ledger,
    events,
    clock,
    log: logs.log,
    edgeKmsKeyArn: EDGE_KMS_KEY_ARN,
    lockSeconds: 3600,
    ...overrides,
  });
}

/** The one REJECTED record the ledger holds. */
function rejection() {
  const { ledger } = world();
  return onlyOne(ledger.records().filter((r) => r.step === 'REJECTED'));
}

function expectNothingChanged() {
  const { keys, events, ledger } = world();
  expect(keys.created).toEqual([]);
  expect(keys.deleteCalls).toEqual([]);
  expect(events.published).toEqual([]);
  expect(ledger.records().filter((r) => r.step !== 'REJECTED')).toEqual([]);
}

describe('key-issuer handler', () => {
  it("rotates the target of the seed's flat scheduler input", async () => {
    const result = await handler()(
      envelope('KeyRotationRequested', { ...SEED_INPUT }),
      lambdaContext(),
    );

    expect(result.status).toBe('sent');
    const [announced] = world().events.ofType('KeyCreated');
    expect(announced?.rotationId).toBe(result.rotationId);
    expect(announced?.target).toEqual(TARGET);
    expect(world().ledger.find(result.rotationId!, 'REQUESTED')).toMatchObject({
      reason: 'scheduled',
      actor: { account: API_ACCOUNT, function: 'keyrot-test', requestId: 'req-0001' },
    });
  });

  it('uses the rotation id a structured request brings', async () => {
    const detail = { version: 1, target: TARGET, rotationId: 'rot_manual_20261125_01' };

    const result = await handler()(envelope('KeyRotationRequested', detail));

    expect(result).toMatchObject({ status: 'sent', rotationId: 'rot_manual_20261125_01' });
    expect(world().ledger.find('rot_manual_20261125_01', 'REQUESTED')?.reason).toBe('manual');
  });

  it('treats a redelivered scheduler event as the same rotation and creates one key', async () => {
    const raw = envelope('KeyRotationRequested', { ...SEED_INPUT });

    const first = await handler()(raw);
    const second = await handler()(raw);

    expect(first.status).toBe('sent');
    expect(second.rotationId).toBe(first.rotationId);
    expect(second.status).not.toBe('failed');
    expect(world().keys.created).toHaveLength(1);
    const announced = world().events.ofType('KeyCreated');
    expect(new Set(announced.map((e) => e.newKey.id))).toEqual(new Set(world().keys.created));
    expect(world().events.ofType('RotationFailed')).toEqual([]);
  });

  it('refuses a second request for a target whose rotation is in flight', async () => {
    await handler()(envelope('KeyRotationRequested', { ...SEED_INPUT }));

    const second = await handler()(envelope('KeyRotationRequested', { ...SEED_INPUT }));

    expect(second.status).toBe('refused');
    expect(world().keys.created).toHaveLength(1);
    expect(world().ledger.steps(second.rotationId!)).toEqual(['REFUSED']);
  });

  it('rejects a malformed detail naming the field, records it and changes nothing', async () => {
    const raw = envelope('KeyRotationRequested', omit(SEED_INPUT, 'USAGE_PLAN_ID'));

    const result = await handler()(raw);

    expect(result).toEqual({ status: 'rejected' });
    expectNothingChanged();
    expect(rejection()).toMatchObject({
      error: { name: 'InvalidInputError', field: 'detail.USAGE_PLAN_ID', retryable: false },
      eventId: raw.id,
    });
    await expect(world().ledger.lockOf(TARGET.name)).resolves.toBeUndefined();
  });

  it('rejects a request from another account', async () => {
    const raw = envelope('KeyRotationRequested', { ...SEED_INPUT }, { account: OTHER_ACCOUNT });

    await expect(handler()(raw)).resolves.toEqual({ status: 'rejected' });
    expectNothingChanged();
    expect(rejection().error).toMatchObject({ name: 'UntrustedEventError', field: 'account' });
  });

  it('rejects a request from the edge account too: only the API account may ask', async () => {
    const raw = envelope('KeyRotationRequested', { ...SEED_INPUT }, { account: EDGE_ACCOUNT });

    await expect(handler()(raw)).resolves.toEqual({ status: 'rejected' });
    expectNothingChanged();
  });

  it('rejects a request from another source', async () => {
    const raw = envelope('KeyRotationRequested', { ...SEED_INPUT }, { source: 'custom.ops' });

    await expect(handler()(raw)).resolves.toEqual({ status: 'rejected' });
    expectNothingChanged();
    expect(rejection().error).toMatchObject({ name: 'UntrustedEventError', field: 'source' });
  });

  it('rejects an event type the issuer does not handle', async () => {
    const raw = envelope('KeyRetired', { ...SEED_INPUT });

    await expect(handler()(raw)).resolves.toEqual({ status: 'rejected' });
    expectNothingChanged();
    expect(rejection().error).toMatchObject({ field: 'detail-type' });
  });

  it('logs the rejection with the field at fault', async () => {
    await handler()(envelope('KeyRotationRequested', { ...SEED_INPUT, ORIGIN_ID: '' }));

    const { logs } = world();
    const entry = logs.entries().find((e) => e.message === 'event rejected');
    expect(entry).toMatchObject({ error: { field: 'detail.ORIGIN_ID' } });
  });
});
