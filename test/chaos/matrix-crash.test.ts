/**
 * Fault matrix, crashes: the process dies between every pair of consecutive steps of a
 * rotation (right after one step took effect, before the next), and EventBridge delivers the
 * event again as Lambda's retry does. The rotation must end as if nothing had happened: one
 * new key, one distribution update, every step recorded once.
 */
import type { FaultRule } from '../../harness/faults';
import type { ServiceName } from '../../harness/subscriptions';
import type { ChaosWorld, Check } from '../support/chaos';
import { crashedAndRedelivered, defineCases, oneNewKey, oneUpdate, type Case } from './cases';

/** Ledger sort key of a step, as the conditional put writes it. */
const step = (n: number, name: string) => `STEP#${String(n).padStart(2, '0')}#${name}`;

function crashAfter(
  id: string,
  service: ServiceName,
  between: string,
  rule: Omit<FaultRule, 'fault' | 'service'>,
  more: (world: ChaosWorld) => Check[] = () => [],
): Case {
  return {
    id: `crash-${id}`,
    group: 'crash + redelivery',
    fault: `${service} dies between ${between}`,
    options: { faults: [{ fault: 'crash-after', service, ...rule }] },
    expect: {
      outcome: 'COMPLETED',
      steps: ['KEY_READY', 'KEY_SENT', 'EDGE_UPDATED', 'KEYS_RETIRED'],
      edgeSends: 'new',
    },
    checks: async (world) => [
      crashedAndRedelivered(world, service),
      await oneNewKey(world),
      oneUpdate(world),
      ...more(world),
    ],
  };
}

/** The rotation's end was announced (`KeyRetired` on the API bus), once or more. */
function retiredAnnounced(world: ChaosWorld): Check {
  const announced = world.env.runner.events.filter((e) => e['detail-type'] === 'KeyRetired');
  return { name: 'KeyRetired announced', ok: announced.length > 0, detail: `${announced.length}` };
}

const ledgerWrite = (n: number, name: string) => ({
  operations: ['PutItem'],
  inputContains: step(n, name),
});

const cases: Case[] = [
  crashAfter('requested', 'key-issuer', 'REQUESTED (lock taken) and listing the keys', {
    operations: ['TransactWriteItems'],
    inputContains: step(1, 'REQUESTED'),
  }),
  crashAfter(
    'keys-listed',
    'key-issuer',
    'KEYS_LISTED and CreateApiKey',
    ledgerWrite(2, 'KEYS_LISTED'),
  ),
  crashAfter('key-made', 'key-issuer', 'CreateApiKey and KEY_CREATED (key not yet recorded)', {
    operations: ['CreateApiKey'],
  }),
  crashAfter(
    'key-created',
    'key-issuer',
    'KEY_CREATED and CreateUsagePlanKey',
    ledgerWrite(3, 'KEY_CREATED'),
  ),
  crashAfter('key-added', 'key-issuer', 'CreateUsagePlanKey and KEY_ASSOCIATED', {
    operations: ['CreateUsagePlanKey'],
  }),
  crashAfter(
    'key-associated',
    'key-issuer',
    'KEY_ASSOCIATED and the readiness probe',
    ledgerWrite(4, 'KEY_ASSOCIATED'),
  ),
  crashAfter('key-ready', 'key-issuer', 'KEY_READY and KMS Encrypt', ledgerWrite(5, 'KEY_READY')),
  crashAfter(
    'key-sent',
    'key-issuer',
    'KEY_SENT and publishing KeyCreated',
    ledgerWrite(6, 'KEY_SENT'),
  ),
  crashAfter('key-announced', 'key-issuer', 'publishing KeyCreated and returning', {
    operations: ['PutEvents'],
  }),
  crashAfter('decrypted', 'edge-updater', 'KMS Decrypt and reading the distribution', {
    operations: ['Decrypt'],
  }),
  crashAfter('header-written', 'edge-updater', 'UpdateDistribution and the wait for Deployed', {
    operations: ['UpdateDistribution'],
  }),
  crashAfter('edge-announced', 'edge-updater', 'publishing EdgeUpdated and returning', {
    operations: ['PutEvents'],
  }),
  crashAfter(
    'edge-recorded',
    'key-reaper',
    'EDGE_UPDATED and deleting the old key',
    ledgerWrite(7, 'EDGE_UPDATED'),
  ),
  crashAfter('key-deleted', 'key-reaper', 'DeleteApiKey and KEYS_RETIRED', {
    operations: ['DeleteApiKey'],
  }),
  crashAfter(
    'keys-retired',
    'key-reaper',
    'KEYS_RETIRED and COMPLETED',
    ledgerWrite(8, 'KEYS_RETIRED'),
  ),
  // The redelivery finds the rotation closed and announces KeyRetired again.
  crashAfter(
    'completed',
    'key-reaper',
    'COMPLETED (lock released) and publishing KeyRetired',
    { operations: ['TransactWriteItems'], inputContains: step(10, 'COMPLETED') },
    (world) => [retiredAnnounced(world)],
  ),
];

defineCases(__filename, cases);
