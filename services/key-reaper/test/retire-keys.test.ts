import {
  AwsCallError,
  KEY_TAGS,
  PublishError,
  type KeyRef,
  type RetireRetry,
  invocationOf,
} from '@keyrot/shared';
import { closeFailedRotation, retireKeys, retryRetire, type ReaperDeps } from '../src/retire-keys';
import { issuerSent, useFakeWorld, type SeededKey } from '../../../test/support/fakes';
import {
  actor,
  API_ACCOUNT,
  edgeUpdated,
  keyRef,
  ROTATION_ID,
  rotationFailed,
  TARGET,
} from '../../../test/support/fixtures';

const PLAN = TARGET.usagePlanId;
const GRACE_MS = 60_000;
const OWNED_TAGS = { [KEY_TAGS.managed]: 'true', [KEY_TAGS.target]: TARGET.name };

const world = useFakeWorld('key-reaper', (w) => {
  w.keys.addPlan(PLAN);
});

function deps(overrides: Partial<ReaperDeps> = {}): ReaperDeps {
  const { keys, ledger, events, clock, logs } = world();
  return {
    keys,
    ledger,
    events,
    clock,
    log: logs.log,
    // Each call is another delivery: its own invocation, as Lambda would run it.
    invocation: invocationOf(clock),
    actor: actor(API_ACCOUNT, 'keyrot-key-reaper'),
    graceMs: GRACE_MS,
    ...overrides,
  };
}

function newKeyOnPlan(): SeededKey {
  return world().keys.seedKey({
    name: TARGET.apiKeyName,
    plans: [PLAN],
    tags: { ...OWNED_TAGS, [KEY_TAGS.rotation]: ROTATION_ID },
  });
}

/** EdgeUpdated, deployed at clock time `at` (by default now). */
function deployedNow(
  newKey: KeyRef,
  previousFingerprint: string | null,
  at = world().clock.now().getTime(),
) {
  return edgeUpdated({ newKey, previousFingerprint, deployedAt: new Date(at).toISOString() });
}

/**
 * The target's previous key (keyrot-owned) and the new key on the plan, and the ledger as the
 * issuer leaves it once it has sent the new key.
 */
async function sentRotation(): Promise<{ old: SeededKey; fresh: SeededKey }> {
  const old = world().keys.seedKey({ name: TARGET.apiKeyName, plans: [PLAN], tags: OWNED_TAGS });
  const fresh = newKeyOnPlan();
  await issuerSent(world(), keyRef(fresh), [keyRef(old)]);
  return { old, fresh };
}

describe('retireKeys', () => {
  it('deletes the superseded key after the grace period, closes the rotation and announces it', async () => {
    const { old, fresh } = await sentRotation();
    const event = deployedNow(keyRef(fresh), old.fingerprint);

    const result = await retireKeys(event, deps());

    expect(result).toEqual({
      status: 'completed',
      rotationId: ROTATION_ID,
      retiredKeys: [keyRef(old)],
      // Request, issue and deploy take no fake time here; retiring waits out the 60 s grace.
      durationsMs: { Rotation: 60_000, Issue: 0, EdgeDeploy: 0, Retire: 60_000 },
    });
    expect(world().keys.has(old.id)).toBe(false);
    expect(world().keys.planKeyIds(PLAN)).toEqual([fresh.id]);
    expect(world().ledger.steps(ROTATION_ID)).toEqual(
      expect.arrayContaining(['EDGE_UPDATED', 'KEYS_RETIRED', 'COMPLETED']),
    );
    expect(world().ledger.outcomes(ROTATION_ID)).toEqual(['COMPLETED']);
    await expect(world().ledger.lockOf(TARGET.name)).resolves.toBeUndefined();
    expect(world().events.ofType('KeyRetired')).toEqual([
      expect.objectContaining({ newKey: keyRef(fresh), retiredKeys: [keyRef(old)] }),
    ]);
  });

  it('deletes nothing before the grace period after Deployed has passed (I1)', async () => {
    const { old, fresh } = await sentRotation();
    const deployedAt = world().clock.now().getTime();
    world().clock.advance(10_000); // EdgeUpdated arrives 10 s after Deployed.

    await retireKeys(deployedNow(keyRef(fresh), old.fingerprint, deployedAt), deps());

    expect(world().keys.deleteCalls.map((c) => c.id)).toEqual([old.id]);
    expect(world().keys.deleteCalls[0]!.at).toBeGreaterThanOrEqual(deployedAt + GRACE_MS);
  });

  it('does not wait again when the grace period is already over', async () => {
    const { old, fresh } = await sentRotation();
    const deployedAt = world().clock.now().getTime();
    world().clock.advance(GRACE_MS + 1);

    await retireKeys(deployedNow(keyRef(fresh), old.fingerprint, deployedAt), deps());

    expect(world().clock.slept).toBe(0);
    expect(world().keys.has(old.id)).toBe(false);
  });

  it("deletes every superseded key of the target's name, but not one another target owns", async () => {
    const seed = world().keys.seedKey({ name: TARGET.apiKeyName, plans: [PLAN] }); // at the edge
    const owned = world().keys.seedKey({
      name: TARGET.apiKeyName,
      plans: [PLAN],
      tags: OWNED_TAGS,
    });
    const untagged = world().keys.seedKey({ name: TARGET.apiKeyName, plans: [PLAN] });
    const foreignOwned = world().keys.seedKey({
      name: TARGET.apiKeyName,
      plans: [PLAN],
      tags: { [KEY_TAGS.managed]: 'true', [KEY_TAGS.target]: 'another-target' },
    });
    const fresh = newKeyOnPlan();
    const superseded = [seed, owned, untagged, foreignOwned].map(keyRef);
    await issuerSent(world(), keyRef(fresh), superseded);

    const result = await retireKeys(deployedNow(keyRef(fresh), seed.fingerprint), deps());

    const retired = [seed, owned, untagged].map(keyRef);
    expect(result).toMatchObject({ retiredKeys: retired });
    const deleted = world().keys.deleteCalls.map((c) => c.id);
    expect(deleted.sort()).toEqual([seed.id, owned.id, untagged.id].sort());
    expect(world().keys.planKeyIds(PLAN).sort()).toEqual([foreignOwned.id, fresh.id].sort());
    expect(world().ledger.find(ROTATION_ID, 'KEYS_RETIRED')).toMatchObject({
      keys: retired,
      protected: 1,
    });
    // The ledger knows none of them: each was read once for its tags.
    expect([...world().keys.describeCalls].sort()).toEqual(superseded.map((k) => k.id).sort());
  });

  it('reads no key from API Gateway when the ledger vouches for every superseded key', async () => {
    const adopted = world().keys.seedKey({ name: TARGET.apiKeyName, plans: [PLAN] });
    world().ledger.adopted.set(TARGET.name, [adopted.id]);
    const fresh = newKeyOnPlan();
    await issuerSent(world(), keyRef(fresh), [keyRef(adopted)]);

    await retireKeys(deployedNow(keyRef(fresh), adopted.fingerprint), deps());

    expect(world().keys.describeCalls).toEqual([]);
    expect(world().keys.has(adopted.id)).toBe(false);
    expect(world().keys.has(fresh.id)).toBe(true);
  });

  it('retires the key the edge sent even when a redelivered EdgeUpdated arrives first', async () => {
    // A redelivered KeyCreated finds the header already set and reports no previous key.
    const seed = world().keys.seedKey({ name: TARGET.apiKeyName, plans: [PLAN] });
    const fresh = newKeyOnPlan();
    await issuerSent(world(), keyRef(fresh), [keyRef(seed)]);

    await retireKeys(deployedNow(keyRef(fresh), null), deps());

    expect(world().keys.has(seed.id)).toBe(false);
    expect(world().keys.has(fresh.id)).toBe(true);
  });

  it("never deletes another client's key on the plan", async () => {
    const partner = world().keys.seedKey({ name: 'partner-client', plans: [PLAN] });
    const { old, fresh } = await sentRotation();

    await retireKeys(deployedNow(keyRef(fresh), old.fingerprint), deps());

    expect(world().keys.has(partner.id)).toBe(true);
    expect(world().keys.planKeyIds(PLAN)).toContain(partner.id);
    expect(world().keys.deleteCalls.map((c) => c.id)).not.toContain(partner.id);
  });

  it('never deletes the new key, even if it was listed among the superseded', async () => {
    const old = world().keys.seedKey({ name: TARGET.apiKeyName, plans: [PLAN], tags: OWNED_TAGS });
    const fresh = newKeyOnPlan();
    await issuerSent(world(), keyRef(fresh), [keyRef(old), keyRef(fresh)]);

    await retireKeys(deployedNow(keyRef(fresh), old.fingerprint), deps());

    expect(world().keys.has(fresh.id)).toBe(true);
    expect(world().keys.planKeyIds(PLAN)).toEqual([fresh.id]);
  });

  it('completes the first rotation on an empty plan without deleting anything', async () => {
    const fresh = newKeyOnPlan();
    await issuerSent(world(), keyRef(fresh), []);

    const result = await retireKeys(deployedNow(keyRef(fresh), null), deps());

    expect(result).toMatchObject({ status: 'completed', rotationId: ROTATION_ID, retiredKeys: [] });
    expect(world().keys.deleteCalls).toEqual([]);
    await expect(world().ledger.lockOf(TARGET.name)).resolves.toBeUndefined();
  });

  it('deletes once and announces KeyRetired once when EdgeUpdated is delivered twice', async () => {
    const { old, fresh } = await sentRotation();
    const event = deployedNow(keyRef(fresh), old.fingerprint);

    const first = await retireKeys(event, deps());
    const second = await retireKeys(event, deps());

    expect(first.status).toBe('completed');
    expect(second).toEqual({ status: 'duplicate', rotationId: ROTATION_ID });
    expect(world().keys.deleteCalls.map((c) => c.id)).toEqual([old.id]);
    expect(world().events.types()).toEqual(['KeyRetired']);
  });

  it('ignores EdgeUpdated for a rotation this ledger never sent', async () => {
    const old = world().keys.seedKey({ name: TARGET.apiKeyName, plans: [PLAN], tags: OWNED_TAGS });
    const stranger = world().keys.seedKey({ name: TARGET.apiKeyName, plans: [PLAN] });

    const result = await retireKeys(deployedNow(keyRef(stranger), old.fingerprint), deps());

    expect(result.status).toBe('unknown-rotation');
    expect(world().keys.deleteCalls).toEqual([]);
    expect(world().events.published).toEqual([]);
  });

  it('keeps every key when the edge reports after the rotation was closed as failed', async () => {
    const { old, fresh } = await sentRotation();
    await closeFailedRotation(
      rotationFailed({ newKeyMayBeAtEdge: true, newKey: keyRef(fresh) }),
      deps(),
    );

    const result = await retireKeys(deployedNow(keyRef(fresh), old.fingerprint), deps());

    expect(result.status).toBe('late');
    expect(world().keys.deleteCalls).toEqual([]);
    expect(world().ledger.steps(ROTATION_ID)).toContain('EDGE_UPDATED');
    expect(world().events.ofType('KeyRetired')).toEqual([]);
  });

  it('fails without deleting when EdgeUpdated names another new key than the one sent', async () => {
    const old = world().keys.seedKey({ name: TARGET.apiKeyName, plans: [PLAN], tags: OWNED_TAGS });
    const fresh = newKeyOnPlan();
    const impostor = world().keys.seedKey({ name: TARGET.apiKeyName, plans: [PLAN] });
    await issuerSent(world(), keyRef(fresh), [keyRef(old)]);

    const result = await retireKeys(deployedNow(keyRef(impostor), old.fingerprint), deps());

    expect(result).toMatchObject({ status: 'failed', error: 'IntegrityError' });
    expect(world().keys.deleteCalls).toEqual([]);
    expect(world().ledger.outcomes(ROTATION_ID)).toEqual(['FAILED']);
    await expect(world().ledger.lockOf(TARGET.name)).resolves.toBeUndefined();
    expect(world().events.ofType('RotationFailed')).toEqual([
      expect.objectContaining({ stage: 'retire', newKeyMayBeAtEdge: true, rolledBack: false }),
    ]);
  });

  it('records a single outcome when KeyRetired cannot be published after completing', async () => {
    const { old, fresh } = await sentRotation();
    world().events.failNext(
      'KeyRetired',
      new PublishError('keyrot-api', 'KeyRetired', false, new Error('socket hang up')),
    );

    await retireKeys(deployedNow(keyRef(fresh), old.fingerprint), deps());

    expect(world().keys.has(old.id)).toBe(false);
    expect(world().ledger.outcomes(ROTATION_ID)).toEqual(['COMPLETED']);
  });
});

describe('closeFailedRotation', () => {
  it('rolls the new key back when the edge never sent it, and releases the lock', async () => {
    const { old, fresh } = await sentRotation();

    const result = await closeFailedRotation(
      rotationFailed({ newKeyMayBeAtEdge: false, newKey: keyRef(fresh) }),
      deps(),
    );

    expect(result).toEqual({ status: 'rolled-back', rotationId: ROTATION_ID });
    expect(world().keys.has(fresh.id)).toBe(false);
    expect(world().keys.planKeyIds(PLAN)).toEqual([old.id]);
    expect(world().ledger.steps(ROTATION_ID)).toEqual(
      expect.arrayContaining(['ROLLED_BACK', 'FAILED']),
    );
    expect(world().ledger.find(ROTATION_ID, 'FAILED')).toMatchObject({
      error: { name: 'DeploymentTimeoutError' },
      stage: 'edge',
      rolledBack: true,
    });
    await expect(world().ledger.lockOf(TARGET.name)).resolves.toBeUndefined();
  });

  it('deletes nothing when the edge may be sending the new key, and releases the lock', async () => {
    const { old, fresh } = await sentRotation();

    const result = await closeFailedRotation(
      rotationFailed({ newKeyMayBeAtEdge: true, newKey: keyRef(fresh) }),
      deps(),
    );

    expect(result).toEqual({ status: 'closed', rotationId: ROTATION_ID });
    expect(world().keys.deleteCalls).toEqual([]);
    expect(world().keys.planKeyIds(PLAN).sort()).toEqual([old.id, fresh.id].sort());
    expect(world().ledger.outcomes(ROTATION_ID)).toEqual(['FAILED']);
    await expect(world().ledger.lockOf(TARGET.name)).resolves.toBeUndefined();
  });

  it('changes nothing when the same RotationFailed is delivered twice', async () => {
    const fresh = newKeyOnPlan();
    await issuerSent(world(), keyRef(fresh), []);
    const event = rotationFailed({ newKeyMayBeAtEdge: false, newKey: keyRef(fresh) });

    await closeFailedRotation(event, deps());
    const second = await closeFailedRotation(event, deps());

    expect(second).toEqual({ status: 'duplicate', rotationId: ROTATION_ID });
    expect(world().keys.deleteCalls.map((c) => c.id)).toEqual([fresh.id]);
  });

  it('keeps the key of a completed rotation when a stale failure arrives (a replayed KeyCreated)', async () => {
    const { old, fresh } = await sentRotation();
    await retireKeys(deployedNow(keyRef(fresh), old.fingerprint), deps());

    const result = await closeFailedRotation(
      rotationFailed({ newKeyMayBeAtEdge: false, newKey: keyRef(fresh) }),
      deps(),
    );

    expect(result.status).toBe('duplicate');
    expect(world().keys.has(fresh.id)).toBe(true);
    expect(world().ledger.outcomes(ROTATION_ID)).toEqual(['COMPLETED']);
  });

  it('ignores RotationFailed for a rotation this ledger never started', async () => {
    const fresh = newKeyOnPlan();

    const result = await closeFailedRotation(
      rotationFailed({ newKeyMayBeAtEdge: false, newKey: keyRef(fresh) }),
      deps(),
    );

    expect(result.status).toBe('unknown-rotation');
    expect(world().keys.deleteCalls).toEqual([]);
    expect(world().ledger.records()).toEqual([]);
  });
});

describe('retireKeys after a transient failure (DeleteApiKey throttled past the SDK retries)', () => {
  const throttled = () =>
    new AwsCallError(
      'DeleteApiKey',
      'apikeys',
      Object.assign(new Error('Too Many Requests'), {
        name: 'TooManyRequestsException',
        $metadata: { httpStatusCode: 429 },
      }),
    );

  function retries() {
    const scheduled: { retry: RetireRetry; at: Date }[] = [];
    return {
      scheduled,
      retry: async (retry: RetireRetry, at: Date) => {
        scheduled.push({ retry, at });
        return 'scheduled' as const;
      },
    };
  }

  it('tries the deletes again later from the ledger, and completes the rotation', async () => {
    const { old, fresh } = await sentRotation();
    const later = retries();
    world().keys.failNext('deleteKey', throttled());

    const first = await retireKeys(
      deployedNow(keyRef(fresh), old.fingerprint),
      deps({ retries: later }),
    );

    expect(first).toEqual({ status: 'retrying', rotationId: ROTATION_ID, error: 'AwsCallError' });
    const steps = (await world().ledger.timeline(ROTATION_ID)).map((s) => s.step);
    expect(steps).toContain('EDGE_UPDATED');
    expect(steps).not.toContain('FAILED');
    expect(world().keys.has(old.id)).toBe(true);
    const [{ retry, at }] = later.scheduled as [{ retry: RetireRetry; at: Date }];
    expect(retry).toEqual({ version: 1, rotationId: ROTATION_ID, target: TARGET, attempt: 1 });
    world().clock.advance(at.getTime() - world().clock.now().getTime());

    const second = await retryRetire(retry, deps({ retries: later }));

    expect(second).toMatchObject({ status: 'completed', retiredKeys: [keyRef(old)] });
    expect(world().keys.has(old.id)).toBe(false);
    expect(world().keys.has(fresh.id)).toBe(true);
  });

  it('fails the rotation at once without a scheduler (the negative control), every key kept', async () => {
    const { old, fresh } = await sentRotation();
    world().keys.failNext('deleteKey', throttled());

    const result = await retireKeys(deployedNow(keyRef(fresh), old.fingerprint), deps());

    expect(result).toMatchObject({ status: 'failed' });
    expect(world().keys.has(old.id)).toBe(true);
  });

  it('a retry names a rotation only: one whose edge update is not recorded is unknown', async () => {
    await sentRotation();
    const result = await retryRetire(
      { version: 1, rotationId: ROTATION_ID, target: TARGET, attempt: 1 },
      deps(),
    );
    expect(result).toEqual({ status: 'unknown-rotation', rotationId: ROTATION_ID });
  });
});
