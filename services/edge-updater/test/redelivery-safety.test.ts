import { AwsCallError, SecretValue } from '@keyrot/shared';
import { updateEdge, type EdgeDeps } from '../src/update-edge';
import { useFakeWorld } from '../../../test/support/fakes';
import { actor, EDGE_ACCOUNT, keyCreated, onlyOne, TARGET } from '../../../test/support/fixtures';

// Found by the fault matrix (test/chaos, row "failure report before a duplicate's success"):
// a KeyCreated whose first delivery failed transiently reported newKeyMayBeAtEdge: false, the reaper
// deleted the new key, and a duplicate delivery then wrote that deleted key to the edge.

const OLD_VALUE = 'SAFEoldKEYvalue0000000000000000000000000';
const NEW_VALUE = 'SAFEnewKEYvalue1111111111111111111111111';
const OLD = { id: 'oldkey0001', fingerprint: new SecretValue(OLD_VALUE).fingerprint };

const world = useFakeWorld('edge-updater', (w) => {
  w.addSecret(OLD_VALUE);
  w.addSecret(NEW_VALUE);
  w.edge.addDistribution(TARGET.distributionId, {
    [TARGET.originId]: [{ name: 'x-api-key', value: OLD_VALUE }],
  });
});

function deps(): EdgeDeps {
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
  };
}

const awsError = (name: string, httpStatusCode: number) =>
  new AwsCallError(
    'kms:Decrypt',
    'key',
    Object.assign(new Error(name), { name, $metadata: { httpStatusCode } }),
  );

describe('whether the edge lets the API side roll the new key back', () => {
  it('keeps the key when the failure may pass on a redelivery, which then installs it', async () => {
    const event = await keyCreated(world().sealer, { value: NEW_VALUE, superseded: [OLD] });
    world().sealer.failNext('open', awsError('ThrottlingException', 400));

    const first = await updateEdge(event, deps());
    const duplicate = await updateEdge(event, deps());

    expect(first).toMatchObject({ status: 'failed' });
    expect(onlyOne(world().events.ofType('RotationFailed'))).toMatchObject({
      error: { retryable: true },
      newKeyMayBeAtEdge: true,
    });
    expect(duplicate).toMatchObject({ status: 'updated' });
    expect(world().edge.headersOf(TARGET.distributionId, TARGET.originId)).toEqual([
      { name: 'x-api-key', value: NEW_VALUE },
    ]);
  });

  it.each([
    [
      'KMS refuses to decrypt',
      () => world().sealer.failNext('open', awsError('AccessDeniedException', 400)),
    ],
    ['the origin does not exist', () => world().edge.addDistribution(TARGET.distributionId, {})],
  ])('allows the rollback when every delivery fails the same way: %s', async (_, arrange) => {
    const event = await keyCreated(world().sealer, { value: NEW_VALUE, superseded: [OLD] });
    arrange();

    await updateEdge(event, deps());

    expect(onlyOne(world().events.ofType('RotationFailed'))).toMatchObject({
      error: { retryable: false },
      newKeyMayBeAtEdge: false,
    });
    expect(world().edge.writes).toEqual([]);
  });
});
