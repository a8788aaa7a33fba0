/**
 * Fault matrix, the current-key reference (issue 15): the edge-updater sets the target's
 * Secrets Manager secret before the header, so a redeploy of the user's template sends the
 * current key. The judge checks, in every case of every matrix, that once the edge sends the
 * new key the reference names it, and that after a rollback it never names the deleted key
 * (test/support/chaos.ts, `referenceChecks`). Here: a reference write throttled for minutes, a
 * rollback after the reference was set, and the controls that show the checks can fail.
 */
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { currentKeySecretName, fingerprintOf } from '@keyrot/shared';
import { clientConfig } from '../../harness/accounts';
import { readCurrentKeyReference, TARGET_NAME } from '../../harness/inspect';
import { judge, referenceChecks, useChaos, type ChaosWorld } from '../support/chaos';
import {
  defineCases,
  FAILED_ROLLED_BACK,
  failedWith,
  MINUTE,
  newKeyGone,
  oneNewKey,
  oneUpdate,
  ROTATED,
  type Case,
} from './cases';

/** Writes `value` as the reference's current version, as `keyrot adopt` or an operator would. */
async function setReference(world: ChaosWorld, value: string, version: string): Promise<void> {
  const local = world.env.world;
  const client = new SecretsManagerClient(clientConfig(local.edge.session));
  try {
    await client.send(
      new PutSecretValueCommand({
        SecretId: currentKeySecretName(local.edge.keyrotStage, TARGET_NAME),
        SecretString: value,
        ClientRequestToken: version,
      }),
    );
  } finally {
    client.destroy();
  }
}

const initialValue = (world: ChaosWorld) => world.env.world.initialKeyValue.reveal();

const cases: Case[] = [
  {
    id: 'put-secret-value-throttled-minutes',
    group: 'current-key reference',
    fault:
      "Secrets Manager PutSecretValue throttled for 10 minutes (longer than one run's retries)",
    options: {
      faults: [{ fault: 'throttle', operations: ['PutSecretValue'], forMs: 10 * MINUTE }],
    },
    // The header waits for the reference: the later try writes both.
    expect: ROTATED,
    checks: async (world) => {
      const ran = world.env.runner.schedulesRun.filter((s) => s.detailType === 'EdgeUpdateRetry');
      return [
        await oneNewKey(world),
        oneUpdate(world),
        { name: 'tried again later (EdgeUpdateRetry)', ok: ran.length >= 1 },
      ];
    },
  },
  {
    id: 'update-distribution-denied-reference-restored',
    group: 'current-key reference',
    fault: 'reference set to the first key (as adopt would); UpdateDistribution denied every time',
    setup: (world) =>
      setReference(world, initialValue(world), '00000000-0000-4000-8000-000000000001'),
    options: {
      faults: [{ fault: 'access-denied', operations: ['UpdateDistribution'], times: Infinity }],
    },
    // No delivery can write the header: the new key is rolled back, the reference put back.
    expect: FAILED_ROLLED_BACK,
    checks: async (world) => [
      await failedWith(world, 'AwsCallError', 'edge'),
      await newKeyGone(world),
      {
        name: 'reference names the first key again',
        ok: (await readCurrentKeyReference(world.env.world)) === fingerprintOf(initialValue(world)),
      },
    ],
  },
];

defineCases(__filename, cases);

describe('the reference checks fail when they should (negative controls)', () => {
  const chaos = useChaos();

  it('control: a reference overwritten right after the edge-updater set it fails the judge', async () => {
    const world = await chaos();
    // Someone (or a lost write) puts the old key back into the reference just after the
    // edge-updater wrote it: a redeploy would send a key keyrot then deletes.
    world.faults.add({
      fault: 'action-after',
      operations: ['PutSecretValue'],
      service: 'edge-updater',
      action: () =>
        setReference(world, initialValue(world), '00000000-0000-4000-8000-00000000000c'),
    });

    await world.rotate();
    const { failedChecks } = await judge(
      world,
      { id: 'reference-control', group: 'control', fault: 'reference overwritten' },
      { ...ROTATED, failedRequests: 'not-measured' },
      undefined,
    );

    expect(failedChecks.map((c) => c.name)).toEqual(['reference names the new key']);
  }, 120_000);

  it('control: after a rollback, a reference naming the deleted key fails', () => {
    const [oldFp, newFp] = ['0123456789ab', 'ba9876543210'];
    expect(referenceChecks([oldFp, oldFp], newFp, true, newFp)).toEqual([
      expect.objectContaining({ ok: false }),
    ]);
    expect(referenceChecks([oldFp, oldFp], newFp, true, oldFp)).toEqual([
      expect.objectContaining({ ok: true }),
    ]);
    // Edge locations that disagree: no check on the new key yet (not every one sends it).
    expect(referenceChecks([oldFp, newFp], newFp, false, oldFp)).toEqual([]);
  });
});
