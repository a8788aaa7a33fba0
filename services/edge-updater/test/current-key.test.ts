import {
  AwsCallError,
  currentKeyVersionId,
  SecretValue,
  type EdgeUpdateRetry,
  type RotationFailed,
} from '@keyrot/shared';
import type { DeploymentChecks } from '../src/deployment-checks';
import type { EdgeConfigStore } from '../src/edge-config';
import { retryEdgeUpdate, updateEdge, type EdgeDeps } from '../src/update-edge';
import { FakeCurrentKey, useFakeWorld } from '../../../test/support/fakes';
import {
  actor,
  EDGE_ACCOUNT,
  keyCreated,
  onlyOne,
  ROTATION_ID,
  TARGET,
} from '../../../test/support/fixtures';

const OLD_VALUE = 'REFoldKEYvalue00000000000000000000000000';
const NEW_VALUE = 'REFnewKEYvalue11111111111111111111111111';
const OTHER_VALUE = 'REFotherKEYvalue222222222222222222222222';
const OLD = { id: 'oldkey0001', fingerprint: new SecretValue(OLD_VALUE).fingerprint };
const NEW_FINGERPRINT = new SecretValue(NEW_VALUE).fingerprint;

/** Later tries, as EventBridge Scheduler keeps them (deployment checks are not needed here). */
class FakeRetries implements DeploymentChecks {
  readonly retries: EdgeUpdateRetry[] = [];
  async schedule(): Promise<'scheduled'> {
    return 'scheduled';
  }
  async retry(retry: EdgeUpdateRetry) {
    this.retries.push(JSON.parse(JSON.stringify(retry)) as EdgeUpdateRetry);
    return 'scheduled' as const;
  }
}

let retries: FakeRetries;

const world = useFakeWorld('edge-updater', (w) => {
  for (const value of [OLD_VALUE, NEW_VALUE, OTHER_VALUE]) w.addSecret(value);
  w.edge.addDistribution(TARGET.distributionId, {
    [TARGET.originId]: [{ name: 'x-api-key', value: OLD_VALUE }],
  });
  retries = new FakeRetries();
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
    pollIntervalMs: 20_000,
    maxWaitMs: 840_000,
    deployChecks: retries,
    recheckDelayMs: 60_000,
    ...overrides,
  };
}

const event = () => keyCreated(world().sealer, { value: NEW_VALUE, superseded: [OLD] });

/** The reference as `keyrot adopt` leaves it: it names the key the edge sends. */
async function referenceNamesOldKey() {
  await world().currentKey.put(TARGET.name, new SecretValue(OLD_VALUE), 'adopted-version');
}

const reference = () => world().currentKey.currentFingerprint(TARGET.name);
const apiHeader = () => world().edge.headersOf(TARGET.distributionId, TARGET.originId)[0]?.value;
const onlyRotationFailed = (): RotationFailed => onlyOne(world().events.ofType('RotationFailed'));

const throttled = (operation: string) =>
  new AwsCallError(
    operation,
    'secret',
    Object.assign(new Error('Rate exceeded'), {
      name: 'ThrottlingException',
      $metadata: { httpStatusCode: 400 },
    }),
  );
const denied = (operation: string) =>
  new AwsCallError(
    operation,
    'resource',
    Object.assign(new Error('denied'), {
      name: 'AccessDeniedException',
      $metadata: { httpStatusCode: 400 },
    }),
  );

/** The fake edge, but every header write fails with `error` (nothing is written). */
function edgeWhoseWritesFail(error: Error): EdgeConfigStore {
  const { edge } = world();
  return {
    readHeader: (target) => edge.readHeader(target),
    deployment: (target) => edge.deployment(target),
    writeHeader: async () => {
      throw error;
    },
  };
}

describe('updateEdge and the current-key reference', () => {
  it('sets the reference to the new key before it writes the header', async () => {
    await referenceNamesOldKey();
    const headerWhenReferenced: (string | undefined)[] = [];
    const { currentKey } = world();
    const put = currentKey.put.bind(currentKey);
    currentKey.put = async (...args) => {
      headerWhenReferenced.push(apiHeader());
      return put(...args);
    };

    const result = await updateEdge(await event(), deps());

    expect(result.status).toBe('updated');
    expect(headerWhenReferenced).toEqual([OLD_VALUE]);
    expect(reference()).toBe(NEW_FINGERPRINT);
    expect(apiHeader()).toBe(NEW_VALUE);
    expect(currentKey.versionIds(TARGET.name)).toEqual([
      'adopted-version',
      currentKeyVersionId(ROTATION_ID),
    ]);
  });

  it('writes the same version on a redelivery', async () => {
    const keyCreatedEvent = await event();

    await updateEdge(keyCreatedEvent, deps());
    const again = await updateEdge(keyCreatedEvent, deps());

    expect(again.status).toBe('already-updated');
    const puts = world().currentKey.calls.filter((c) => c.method === 'put');
    expect(puts.map((c) => c.versionId)).toEqual([
      currentKeyVersionId(ROTATION_ID),
      currentKeyVersionId(ROTATION_ID),
    ]);
    expect(world().currentKey.versionIds(TARGET.name)).toHaveLength(1);
    expect(reference()).toBe(NEW_FINGERPRINT);
  });

  it('sets the reference when the header already holds the new key', async () => {
    await referenceNamesOldKey();
    world().edge.setHeaderOutOfBand(TARGET, NEW_VALUE);

    const result = await updateEdge(await event(), deps());

    expect(result.status).toBe('already-updated');
    expect(world().edge.writes).toEqual([]);
    expect(reference()).toBe(NEW_FINGERPRINT);
  });

  it('tries again later when the reference write is throttled, without writing the header', async () => {
    await referenceNamesOldKey();
    world().currentKey.failNext('put', throttled('secretsmanager:PutSecretValue'));

    const first = await updateEdge(await event(), deps());

    expect(first).toMatchObject({ status: 'retrying', attempt: 1 });
    expect(world().edge.writeAttempts).toEqual([]);
    expect(reference()).toBe(OLD.fingerprint);
    expect(world().events.ofType('RotationFailed')).toEqual([]);

    const second = await retryEdgeUpdate(retries.retries[0]!, deps());

    expect(second.status).toBe('updated');
    expect(reference()).toBe(NEW_FINGERPRINT);
    expect(apiHeader()).toBe(NEW_VALUE);
  });

  it('fails without writing the header when the target has no reference (not in the edge stack)', async () => {
    const result = await updateEdge(await event(), deps({ currentKey: new FakeCurrentKey([]) }));

    expect(result).toMatchObject({ status: 'failed', error: 'ResourceNotFoundError' });
    expect(world().edge.writeAttempts).toEqual([]);
    expect(onlyRotationFailed()).toMatchObject({
      error: { name: 'ResourceNotFoundError', field: 'TARGET_NAME' },
      newKeyMayBeAtEdge: false,
    });
  });

  it('puts the reference back before it lets the API side delete the new key', async () => {
    await referenceNamesOldKey();

    await updateEdge(
      await event(),
      deps({ edge: edgeWhoseWritesFail(denied('UpdateDistribution')) }),
    );

    expect(onlyRotationFailed()).toMatchObject({
      error: { name: 'AwsCallError' },
      newKeyMayBeAtEdge: false,
    });
    expect(apiHeader()).toBe(OLD_VALUE);
    expect(reference()).toBe(OLD.fingerprint);
  });

  it('puts back what an earlier delivery wrote, when a later one fails', async () => {
    await referenceNamesOldKey();
    // The first delivery sets the reference, then its header write is throttled.
    await updateEdge(
      await event(),
      deps({ edge: edgeWhoseWritesFail(throttled('UpdateDistribution')) }),
    );
    expect(reference()).toBe(NEW_FINGERPRINT);
    // Meanwhile the edge moved to a key this rotation does not supersede: the retry refuses.
    world().edge.setHeaderOutOfBand(TARGET, OTHER_VALUE);

    const result = await retryEdgeUpdate(retries.retries[0]!, deps());

    expect(result).toMatchObject({ status: 'failed', error: 'EdgeDriftError' });
    expect(onlyRotationFailed().newKeyMayBeAtEdge).toBe(false);
    expect(reference()).toBe(OLD.fingerprint);
  });

  it('keeps the new key live when the reference cannot be put back', async () => {
    await referenceNamesOldKey();
    world().currentKey.failNext('restore', denied('secretsmanager:UpdateSecretVersionStage'));

    await updateEdge(
      await event(),
      deps({ edge: edgeWhoseWritesFail(denied('UpdateDistribution')) }),
    );

    expect(apiHeader()).toBe(OLD_VALUE);
    // The reference still names the new key: it must not be deleted.
    expect(reference()).toBe(NEW_FINGERPRINT);
    expect(onlyRotationFailed().newKeyMayBeAtEdge).toBe(true);
  });

  it('keeps the new key live when the reference was empty before this rotation', async () => {
    await updateEdge(
      await event(),
      deps({ edge: edgeWhoseWritesFail(denied('UpdateDistribution')) }),
    );

    expect(reference()).toBe(NEW_FINGERPRINT);
    expect(onlyRotationFailed().newKeyMayBeAtEdge).toBe(true);
  });

  it('lets the API side delete the new key at once when no delivery wrote the reference', async () => {
    await referenceNamesOldKey();
    world().edge.setHeaderOutOfBand(TARGET, OTHER_VALUE);

    await updateEdge(await event(), deps());

    expect(onlyRotationFailed()).toMatchObject({
      error: { name: 'EdgeDriftError' },
      newKeyMayBeAtEdge: false,
    });
    expect(world().currentKey.calls.map((c) => c.method)).toEqual(['put', 'restore']);
    expect(reference()).toBe(OLD.fingerprint);
  });
});
