import {
  AwsCallError,
  KEY_TAGS,
  KeyNotAcceptedError,
  PublishError,
  rotationContext,
  SecretValue,
  type KeyCreated,
  type RotationFailed,
  invocationOf,
} from '@keyrot/shared';
import { issueKey, type IssuerDeps, type IssueRequest, type KeyReadiness } from '../src/issue-key';
import { useFakeWorld } from '../../../test/support/fakes';
import {
  actor,
  API_ACCOUNT,
  EDGE_KMS_KEY_ARN,
  onlyOne,
  ROTATION_ID,
  TARGET,
} from '../../../test/support/fixtures';

const PLAN = TARGET.usagePlanId;
const LOCK_SECONDS = 3600;

const world = useFakeWorld('key-issuer', (w) => {
  w.keys.addPlan(PLAN);
});

function deps(overrides: Partial<IssuerDeps> = {}): IssuerDeps {
  const { keys, sealer, ledger, events, clock, logs } = world();
  return {
    keys,
    sealer,
    ledger,
    events,
    clock,
    log: logs.log,
    // Each call is another delivery: its own invocation, as Lambda would run it.
    invocation: invocationOf(clock),
    actor: actor(API_ACCOUNT, 'keyrot-key-issuer'),
    edgeKmsKeyArn: EDGE_KMS_KEY_ARN,
    lockSeconds: LOCK_SECONDS,
    ...overrides,
  };
}

function request(rotationId = ROTATION_ID): IssueRequest {
  return { rotationId, target: TARGET, reason: 'scheduled' };
}

function onlyKeyCreated(): KeyCreated {
  return onlyOne(world().events.ofType('KeyCreated'));
}

function onlyRotationFailed(): RotationFailed {
  return onlyOne(world().events.ofType('RotationFailed'));
}

describe('issueKey', () => {
  it('supersedes a key adopted for the target under another name, never a partner key', async () => {
    const { keys, ledger } = world();
    const hand = keys.seedKey({
      name: 'hand-made-key',
      plans: [PLAN],
      tags: { [KEY_TAGS.managed]: 'true', [KEY_TAGS.target]: TARGET.name },
    });
    const partner = keys.seedKey({
      name: 'partner-client-key',
      plans: [PLAN],
      tags: { owner: 'partner' },
    });
    ledger.adopted.set(TARGET.name, [hand.id, 'deletedkey1']);

    const result = await issueKey(request(), deps());

    const superseded = [{ id: hand.id, fingerprint: hand.fingerprint }];
    expect(result).toMatchObject({ status: 'sent', supersededKeys: superseded });
    // The edge is told the adopted key is the one it may replace (no EdgeDriftError there).
    expect(onlyKeyCreated().supersededKeys).toEqual(superseded);
    expect(ledger.find(ROTATION_ID, 'KEYS_LISTED')?.keys).toEqual(superseded);
    expect(JSON.stringify(onlyKeyCreated())).not.toContain(partner.id);
  });

  it('does not supersede a key the ledger says was adopted if its tags do not say so', async () => {
    const { keys, ledger } = world();
    const hand = keys.seedKey({ name: 'hand-made-key', plans: [PLAN] });
    ledger.adopted.set(TARGET.name, [hand.id]);

    const result = await issueKey(request(), deps());

    expect(result).toMatchObject({ status: 'sent', supersededKeys: [] });
  });

  it('creates the first key on an empty plan and announces it with nothing superseded', async () => {
    const result = await issueKey(request(), deps());

    expect(result).toMatchObject({ status: 'sent', rotationId: ROTATION_ID, supersededKeys: [] });
    expect(world().keys.created).toHaveLength(1);
    const newKeyId = world().keys.created[0]!;
    expect(world().keys.planKeyIds(PLAN)).toEqual([newKeyId]);
    const announced = onlyKeyCreated();
    expect(announced).toMatchObject({
      rotationId: ROTATION_ID,
      target: TARGET,
      newKey: {
        id: newKeyId,
        fingerprint: new SecretValue(world().keys.valueOf(newKeyId)!).fingerprint,
      },
      supersededKeys: [],
      kmsKeyArn: EDGE_KMS_KEY_ARN,
    });
  });

  it('tags the new key as keyrot-owned for the target and the rotation', async () => {
    await issueKey(request(), deps());

    const newKeyId = world().keys.created[0]!;
    expect(world().keys.tagsOf(newKeyId)).toEqual({
      [KEY_TAGS.managed]: 'true',
      [KEY_TAGS.target]: TARGET.name,
      [KEY_TAGS.rotation]: ROTATION_ID,
    });
  });

  it('seals the value for the edge account, bound to the rotation, target and key', async () => {
    await issueKey(request(), deps());

    const announced = onlyKeyCreated();
    const context = rotationContext(ROTATION_ID, TARGET.name, announced.newKey.id);
    const opened = await world().sealer.open(EDGE_KMS_KEY_ARN, announced.encryptedValue, context);
    expect(opened.reveal()).toBe(world().keys.valueOf(announced.newKey.id));
    await expect(
      world().sealer.open(
        EDGE_KMS_KEY_ARN,
        announced.encryptedValue,
        rotationContext('rot_someone_else', TARGET.name, announced.newKey.id),
      ),
    ).rejects.toBeInstanceOf(AwsCallError);
  });

  it('records every step by key id and fingerprint and keeps the lock for the edge', async () => {
    await issueKey(request(), deps());

    expect(world().ledger.steps(ROTATION_ID)).toEqual([
      'REQUESTED',
      'KEYS_LISTED',
      'KEY_CREATED',
      'KEY_ASSOCIATED',
      'KEY_SENT',
    ]);
    expect(world().ledger.find(ROTATION_ID, 'REQUESTED')).toMatchObject({
      reason: 'scheduled',
      targetSpec: TARGET,
      actor: { account: API_ACCOUNT },
    });
    await expect(world().ledger.lockOf(TARGET.name)).resolves.toMatchObject({
      rotationId: ROTATION_ID,
    });
  });

  it('lists every key of the target name on the plan as superseded, and no other', async () => {
    const seed = world().keys.seedKey({ name: TARGET.apiKeyName, plans: [PLAN] });
    const previous = world().keys.seedKey({
      name: TARGET.apiKeyName,
      plans: [PLAN],
      tags: { [KEY_TAGS.managed]: 'true', [KEY_TAGS.target]: TARGET.name },
    });
    const stray = world().keys.seedKey({ name: TARGET.apiKeyName, plans: [PLAN] });
    const partner = world().keys.seedKey({ name: 'partner-client', plans: [PLAN] });
    const offPlan = world().keys.seedKey({ name: TARGET.apiKeyName });

    const result = await issueKey(request(), deps());

    const expected = [seed, previous, stray].map(({ id, fingerprint }) => ({ id, fingerprint }));
    expect(result).toMatchObject({ status: 'sent', supersededKeys: expected });
    expect(onlyKeyCreated().supersededKeys).toEqual(expected);
    expect(world().ledger.find(ROTATION_ID, 'KEYS_LISTED')?.keys).toEqual(expected);
    const listed = JSON.stringify(onlyKeyCreated());
    expect(listed).not.toContain(partner.id);
    expect(listed).not.toContain(offPlan.id);
  });

  it('leaves every existing key live and on the plan (I1)', async () => {
    const old = world().keys.seedKey({ name: TARGET.apiKeyName, plans: [PLAN] });
    const partner = world().keys.seedKey({ name: 'partner-client', plans: [PLAN] });

    await issueKey(request(), deps());

    expect(world().keys.deleteCalls).toEqual([]);
    expect(world().keys.planKeyIds(PLAN)).toEqual(expect.arrayContaining([old.id, partner.id]));
  });

  it('creates one key when the same rotation is requested twice, announcing only that key', async () => {
    const old = world().keys.seedKey({ name: TARGET.apiKeyName, plans: [PLAN] });

    const first = await issueKey(request(), deps());
    const second = await issueKey(request(), deps());

    expect(first.status).toBe('sent');
    expect(second.status).not.toBe('failed');
    expect(world().keys.created).toHaveLength(1);
    const newKeyId = world().keys.created[0]!;
    const announced = world().events.ofType('KeyCreated');
    expect(announced.length).toBeGreaterThanOrEqual(1);
    for (const event of announced) {
      expect(event.newKey.id).toBe(newKeyId);
      expect(event.supersededKeys).toEqual([{ id: old.id, fingerprint: old.fingerprint }]);
    }
    expect(world().keys.deleteCalls).toEqual([]);
    expect(world().events.ofType('RotationFailed')).toEqual([]);
  });

  it('never rolls back a key an earlier delivery already announced when a redelivery fails', async () => {
    const old = world().keys.seedKey({ name: TARGET.apiKeyName, plans: [PLAN] });
    await issueKey(request(), deps());
    const newKeyId = world().keys.created[0]!;
    // The edge may already send the new key when the request is delivered again and a
    // transient error (API Gateway throttling) hits the redelivery.
    const throttled = Object.assign(new Error('Too Many Requests'), {
      name: 'TooManyRequestsException',
      $metadata: { httpStatusCode: 429 },
    });
    world().keys.failNext(
      'addToPlan',
      new AwsCallError('CreateUsagePlanKey', `usage plan ${PLAN}`, throttled),
    );

    await issueKey(request(), deps());

    expect(world().keys.has(newKeyId)).toBe(true);
    expect(world().keys.planKeyIds(PLAN)).toEqual([old.id, newKeyId]);
    for (const failed of world().events.ofType('RotationFailed')) {
      expect(failed).toMatchObject({ newKeyMayBeAtEdge: true, rolledBack: false });
    }
  });

  it('does nothing for a request redelivered after the rotation was closed', async () => {
    await issueKey(request(), deps());
    const newKeyId = world().keys.created[0]!;
    await world().ledger.finish({
      rotationId: ROTATION_ID,
      target: TARGET.name,
      step: 'FAILED',
      at: world().clock.now().toISOString(),
      actor: actor(API_ACCOUNT, 'keyrot-key-reaper'),
      stage: 'retire',
      error: { name: 'AwsCallError', message: 'DeleteApiKey failed', retryable: true },
      rolledBack: false,
      newKeyMayBeAtEdge: true,
    });
    const published = world().events.published.length;

    const again = await issueKey(request(), deps());

    expect(again).toEqual({ status: 'duplicate', rotationId: ROTATION_ID });
    expect(world().keys.created).toEqual([newKeyId]);
    expect(world().events.published).toHaveLength(published);
    await expect(world().ledger.lockOf(TARGET.name)).resolves.toBeUndefined();
  });

  it('resumes a rotation interrupted after creating its key, without a second key', async () => {
    // A first run took the lock, listed the keys and created the key, then its Lambda died.
    const old = world().keys.seedKey({ name: TARGET.apiKeyName, plans: [PLAN] });
    const at = world().clock.now().toISOString();
    const who = actor(API_ACCOUNT, 'keyrot-key-issuer');
    await world().ledger.begin(
      {
        rotationId: ROTATION_ID,
        target: TARGET.name,
        step: 'REQUESTED',
        at,
        actor: who,
        reason: 'scheduled',
        targetSpec: TARGET,
      },
      LOCK_SECONDS,
    );
    const orphan = world().keys.seedKey({
      name: TARGET.apiKeyName,
      tags: {
        [KEY_TAGS.managed]: 'true',
        [KEY_TAGS.target]: TARGET.name,
        [KEY_TAGS.rotation]: ROTATION_ID,
      },
    });

    const result = await issueKey(request(), deps());

    expect(world().keys.created).toEqual([]);
    expect(result).toMatchObject({
      status: 'sent',
      newKey: { id: orphan.id, fingerprint: orphan.fingerprint },
      supersededKeys: [{ id: old.id, fingerprint: old.fingerprint }],
    });
    expect(world().keys.planKeyIds(PLAN)).toEqual(expect.arrayContaining([old.id, orphan.id]));
  });

  it('refuses a second rotation of a locked target: records REFUSED and creates no key', async () => {
    await issueKey(request(ROTATION_ID), deps());
    const second = 'rot_20261125T091500Z_second01';

    const result = await issueKey(request(second), deps());

    expect(result).toEqual({ status: 'refused', rotationId: second, lockedBy: ROTATION_ID });
    expect(world().keys.created).toHaveLength(1);
    expect(world().ledger.steps(second)).toEqual(['REFUSED']);
    expect(world().ledger.find(second, 'REFUSED')).toMatchObject({ lockedBy: ROTATION_ID });
    await expect(world().ledger.lockOf(TARGET.name)).resolves.toMatchObject({
      rotationId: ROTATION_ID,
    });
    expect(world().events.types()).toEqual(['KeyCreated']);
  });

  it('takes over a lock left by a rotation that outlived the lock time', async () => {
    await issueKey(request(ROTATION_ID), deps());
    world().clock.advance((LOCK_SECONDS + 1) * 1000);
    const second = 'rot_20261125T101500Z_second01';

    const result = await issueKey(request(second), deps());

    expect(result.status).toBe('sent');
    await expect(world().ledger.lockOf(TARGET.name)).resolves.toMatchObject({ rotationId: second });
  });

  it('fails naming USAGE_PLAN_ID when the plan does not exist, creating nothing', async () => {
    const target = { ...TARGET, usagePlanId: 'nope00' };

    const result = await issueKey({ ...request(), target }, deps());

    expect(result).toMatchObject({ status: 'failed', error: 'ResourceNotFoundError' });
    expect(world().keys.created).toEqual([]);
    expect(world().ledger.find(ROTATION_ID, 'FAILED')?.error).toMatchObject({
      field: 'USAGE_PLAN_ID',
    });
    await expect(world().ledger.lockOf(TARGET.name)).resolves.toBeUndefined();
    const failed = onlyRotationFailed();
    expect(failed).toMatchObject({
      stage: 'issue',
      error: { field: 'USAGE_PLAN_ID' },
      newKeyMayBeAtEdge: false,
      rolledBack: false,
    });
    expect(failed.newKey).toBeUndefined();
    expect(world().keys.keyIds()).toEqual([]);
  });

  it('rolls the new key back when sealing fails before KeyCreated', async () => {
    const old = world().keys.seedKey({ name: TARGET.apiKeyName, plans: [PLAN] });
    world().sealer.failNext(
      'seal',
      new AwsCallError('kms:Encrypt', EDGE_KMS_KEY_ARN, new Error('x')),
    );

    const result = await issueKey(request(), deps());

    expect(result.status).toBe('failed');
    const newKeyId = world().keys.created[0]!;
    expect(world().keys.has(newKeyId)).toBe(false);
    expect(world().keys.planKeyIds(PLAN)).toEqual([old.id]);
    expect(world().ledger.steps(ROTATION_ID)).toEqual(
      expect.arrayContaining(['KEY_CREATED', 'ROLLED_BACK', 'FAILED']),
    );
    await expect(world().ledger.lockOf(TARGET.name)).resolves.toBeUndefined();
    expect(world().events.types()).toEqual(['RotationFailed']);
    expect(onlyRotationFailed()).toMatchObject({
      stage: 'issue',
      newKey: { id: newKeyId },
      newKeyMayBeAtEdge: false,
      rolledBack: true,
    });
  });

  it('rolls the new key back when API Gateway never accepts it', async () => {
    const readiness: KeyReadiness = {
      waitUntilAccepted: async () => {
        throw new KeyNotAcceptedError('https://api.example.com/health', 403, 60);
      },
    };

    await issueKey(request(), deps({ readiness }));

    expect(world().keys.has(world().keys.created[0]!)).toBe(false);
    expect(onlyRotationFailed()).toMatchObject({
      error: { name: 'KeyNotAcceptedError', field: 'HEALTH_CHECK_URL' },
      rolledBack: true,
      newKeyMayBeAtEdge: false,
    });
    expect(world().events.ofType('KeyCreated')).toEqual([]);
  });

  it('announces the key only after API Gateway accepts it', async () => {
    const probed: SecretValue[] = [];
    const readiness: KeyReadiness = {
      waitUntilAccepted: async (value) => {
        probed.push(value);
        expect(world().events.published).toEqual([]);
      },
    };

    await issueKey(request(), deps({ readiness }));

    const announced = onlyKeyCreated();
    expect(probed.map((v) => v.fingerprint)).toEqual([announced.newKey.fingerprint]);
    expect(world().ledger.steps(ROTATION_ID)).toContain('KEY_READY');
  });

  it('rolls the new key back when EventBridge certainly refused KeyCreated', async () => {
    world().events.failNext(
      'KeyCreated',
      new PublishError('keyrot-api', 'KeyCreated', true, new Error('AccessDenied')),
    );

    await issueKey(request(), deps());

    expect(world().keys.has(world().keys.created[0]!)).toBe(false);
    expect(onlyRotationFailed()).toMatchObject({ rolledBack: true, newKeyMayBeAtEdge: false });
    await expect(world().ledger.lockOf(TARGET.name)).resolves.toBeUndefined();
  });

  it('keeps the new key when KeyCreated may have reached the edge', async () => {
    const old = world().keys.seedKey({ name: TARGET.apiKeyName, plans: [PLAN] });
    world().events.failNext(
      'KeyCreated',
      new PublishError('keyrot-api', 'KeyCreated', false, new Error('socket hang up')),
    );

    const result = await issueKey(request(), deps());

    expect(result.status).toBe('failed');
    const newKeyId = world().keys.created[0]!;
    expect(world().keys.deleteCalls).toEqual([]);
    expect(world().keys.planKeyIds(PLAN)).toEqual([old.id, newKeyId]);
    expect(world().ledger.outcomes(ROTATION_ID)).toEqual(['FAILED']);
    expect(world().ledger.steps(ROTATION_ID)).not.toContain('ROLLED_BACK');
    await expect(world().ledger.lockOf(TARGET.name)).resolves.toBeUndefined();
    expect(onlyRotationFailed()).toMatchObject({
      newKey: { id: newKeyId },
      newKeyMayBeAtEdge: true,
      rolledBack: false,
    });
  });

  it('rolls the new key back when KeyCreated is refused by validation before sending', async () => {
    // An alias ARN works for kms:Encrypt and passes the issuer's config check, but the
    // KeyCreated contract wants a key ARN: the event is never put on the bus.
    const aliasArn = 'arn:aws:kms:eu-west-1:222222222222:alias/keyrot-edge';

    const result = await issueKey(request(), deps({ edgeKmsKeyArn: aliasArn }));

    expect(result.status).toBe('failed');
    expect(world().events.ofType('KeyCreated')).toEqual([]);
    expect(world().keys.has(world().keys.created[0]!)).toBe(false);
    expect(onlyRotationFailed()).toMatchObject({ newKeyMayBeAtEdge: false, rolledBack: true });
  });
});

describe('issueKey after a transient failure (throttling that outlasted the SDK retries)', () => {
  const throttled = () =>
    new AwsCallError(
      'CreateApiKey',
      'apikeys',
      Object.assign(new Error('Too Many Requests'), {
        name: 'TooManyRequestsException',
        $metadata: { httpStatusCode: 429 },
      }),
    );

  /** Retries as Scheduler keeps them: the request and when it comes back. */
  function retries() {
    const scheduled: { request: IssueRequest; at: Date }[] = [];
    return {
      scheduled,
      retry: async (req: IssueRequest, at: Date) => {
        scheduled.push({ request: req, at });
        return 'scheduled' as const;
      },
    };
  }

  it('delivers the request again later, undoes nothing, and the retry completes the issuing', async () => {
    const later = retries();
    world().keys.failNext('createKey', throttled());

    const first = await issueKey(request(), deps({ retries: later }));

    expect(first).toEqual({
      status: 'retrying',
      rotationId: ROTATION_ID,
      error: 'AwsCallError',
    });
    expect(world().events.published).toEqual([]);
    const [retry] = later.scheduled;
    expect(retry?.request).toEqual(request());
    expect(retry!.at.getTime() - world().clock.now().getTime()).toBe(60_000);
    // The lock stays with the rotation; nothing failed, nothing rolled back.
    const steps = (await world().ledger.timeline(ROTATION_ID)).map((s) => s.step);
    expect(steps).not.toContain('FAILED');
    expect(await world().ledger.lockOf(TARGET.name)).toMatchObject({ rotationId: ROTATION_ID });

    world().clock.advance(60_000);
    const second = await issueKey(retry!.request, deps({ retries: later }));

    expect(second).toMatchObject({ status: 'sent' });
    expect(onlyKeyCreated().rotationId).toBe(ROTATION_ID);
  });

  it('doubles the delay, and fails the rotation once half its lock is gone', async () => {
    const later = retries();
    const start = world().clock.now().getTime();
    let result = await (async () => {
      world().keys.failNext('createKey', throttled());
      return issueKey(request(), deps({ retries: later }));
    })();
    while (result.status === 'retrying') {
      const { at } = later.scheduled[later.scheduled.length - 1]!;
      world().clock.advance(at.getTime() - world().clock.now().getTime());
      world().keys.failNext('createKey', throttled());
      result = await issueKey(request(), deps({ retries: later }));
    }

    expect(result).toMatchObject({ status: 'failed', error: 'AwsCallError' });
    const offsets = later.scheduled.map((s) => (s.at.getTime() - start) / 60_000);
    expect(offsets.slice(0, 4)).toEqual([1, 2, 4, 8]);
    expect(Math.max(...offsets)).toBeLessThanOrEqual(LOCK_SECONDS / 2 / 60);
    expect(onlyRotationFailed()).toMatchObject({ stage: 'issue', error: { retryable: true } });
  });

  it('fails at once without a scheduler (the negative control), and on a permanent cause', async () => {
    world().keys.failNext('createKey', throttled());
    expect(await issueKey(request(), deps())).toMatchObject({ status: 'failed' });

    const later = retries();
    world().keys.failNext(
      'createKey',
      new AwsCallError(
        'CreateApiKey',
        'apikeys',
        Object.assign(new Error('denied'), {
          name: 'AccessDeniedException',
          $metadata: { httpStatusCode: 403 },
        }),
      ),
    );
    expect(
      await issueKey(request('rot_20261125T100000Z_other0001'), deps({ retries: later })),
    ).toMatchObject({ status: 'failed' });
    expect(later.scheduled).toEqual([]);
  });
});
