/**
 * Concurrent duplicate deliveries on moto: one request delivered to several execution
 * environments at once. The rotation's lease (a conditional write on DynamoDB) lets exactly
 * one of them act; the others wait for it and find its work done.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { liveKeysOnPlan, ledgerOf } from '../../harness/inspect';
import type { Envelope } from '../../harness/runner';
import { useMoto } from '../support/local';

jest.setTimeout(90_000);

const fixture = useMoto();

function contextOf(fn: string): Context {
  return {
    functionName: fn,
    awsRequestId: randomUUID(),
    getRemainingTimeInMillis: () => 120_000,
  } as unknown as Context;
}

describe('concurrent duplicate deliveries', () => {
  it.each([2, 3])(
    'the issuer: %i environments with one request at once create one key',
    async (copies) => {
      const env = await fixture.world();
      const envelope: Envelope = {
        id: randomUUID(),
        account: env.world.api.session.accountId,
        source: 'keyrot',
        'detail-type': 'KeyRotationRequested',
        time: new Date().toISOString(),
        detail: env.world.scheduleInput,
      };
      const issuer = env.handlers['key-issuer'];

      const results = await Promise.all(
        Array.from({ length: copies }, () => issuer(envelope, contextOf('keyrot-key-issuer'))),
      );

      expect(results.map((r) => r.status).sort()).toEqual(
        ['sent', ...Array<string>(copies - 1).fill('duplicate')].sort(),
      );
      const keysOfTarget = (await liveKeysOnPlan(env.world)).filter(
        (id) => id !== env.world.api.otherClientKeyId && id !== env.world.api.initialKeyId,
      );
      expect(keysOfTarget).toHaveLength(1);
    },
  );
});

describe('DynamoDbLedger leases on moto', () => {
  it('grants a lease to one of concurrent claimers; expiry or hand-over lets the next take it over', async () => {
    const env = await fixture.world();
    const ledger = ledgerOf(env.world);
    const lease = (owner: string, expiresAt = '2026-12-01T00:10:00.000Z') => ({
      target: 't',
      rotationId: 'rot_lease_test',
      owner,
      expiresAt,
    });
    const at = '2026-12-01T00:00:00.000Z';

    const claims = await Promise.all(['a', 'b', 'c'].map((o) => ledger.claim(lease(o), at)));
    expect(claims.filter((c) => c.status === 'claimed')).toHaveLength(1);
    const winner = ['a', 'b', 'c'][claims.findIndex((c) => c.status === 'claimed')]!;
    const loser = winner === 'a' ? 'b' : 'a';
    await expect(ledger.claim(lease(loser), at)).resolves.toMatchObject({
      status: 'held',
      holder: { owner: winner },
    });
    // Expired: its holder is gone; the next claimer takes it over.
    await expect(ledger.claim(lease(loser), '2026-12-01T00:11:00.000Z')).resolves.toEqual({
      status: 'claimed',
      takenOver: true,
    });
    await ledger.release(lease(winner)); // no longer its lease: nothing changes
    await expect(ledger.claim(lease('z'), at)).resolves.toMatchObject({ status: 'held' });
    await ledger.interrupt(lease(loser)); // handed over: the next claim takes it at once
    await expect(ledger.claim(lease('z'), at)).resolves.toEqual({
      status: 'claimed',
      takenOver: true,
    });
    await ledger.release(lease('z'));
    await expect(ledger.claim(lease('y'), at)).resolves.toEqual({
      status: 'claimed',
      takenOver: false,
    });
    // Leases are not steps: the rotation's timeline has none.
    await expect(ledger.timeline('rot_lease_test')).resolves.toEqual([]);
  });
});
