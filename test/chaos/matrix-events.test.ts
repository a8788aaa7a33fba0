/**
 * Fault matrix, events: duplicate, replayed and out-of-order deliveries, a bad event per
 * field, events from the wrong account or source, and concurrent rotation requests.
 */
import { ledgerOf, rotationIds, TARGET_NAME } from '../../harness/inspect';
import type { Envelope } from '../../harness/runner';
import type { ChaosWorld, Check } from '../support/chaos';
import {
  defineCases,
  edgeUpdatedFor,
  envelopeOf,
  keyCreatedFor,
  nothingChanged,
  oneNewKey,
  oneUpdate,
  rejectedNaming,
  rejectionRecorded,
  rotationFailedFor,
  targetOf,
  type Case,
} from './cases';

const ROTATED = {
  outcome: 'COMPLETED',
  steps: ['KEY_READY', 'KEY_SENT', 'EDGE_UPDATED', 'KEYS_RETIRED'],
  edgeSends: 'new',
} as const;
const UNCHANGED = { outcome: 'NONE', edgeSends: 'old' } as const;

/** The envelopes of one detail-type seen so far on the buses, oldest first. */
function seen(world: ChaosWorld, detailType: string): Envelope[] {
  return world.env.runner.events.filter((e) => e['detail-type'] === detailType);
}

/** Delivers `envelope` again to every function whose rule matches it, then drains. */
async function redeliver(world: ChaosWorld, envelope: Envelope): Promise<void> {
  for (const sub of world.env.runner.subscribersOf(envelope)) {
    await world.env.runner.invoke(sub, envelope);
  }
  await world.env.runner.drain();
}

async function rotations(world: ChaosWorld): Promise<number> {
  return (await rotationIds(world.env.world)).length;
}

/** A bad `detail` put on a bus as its rightful sender would: rejected, naming the field. */
function badField(
  id: string,
  field: string,
  problem: string,
  put: (world: ChaosWorld) => Promise<void>,
  recorded: boolean,
): Case {
  return {
    id: `bad-${id}`,
    group: 'bad event',
    fault: `${field}: ${problem}`,
    act: async (world) => {
      await put(world);
      await world.env.runner.drain();
    },
    expect: UNCHANGED,
    checks: async (world) => [
      await rejectedNaming(world, field),
      ...(recorded ? [await rejectionRecorded(world, field)] : []),
      await nothingChanged(world),
    ],
  };
}

const requestWith = (world: ChaosWorld, change: Record<string, string | undefined>) => {
  const input: Record<string, string | undefined> = { ...world.env.world.scheduleInput, ...change };
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
};

/** An event from the wrong sender: no rule delivers it, and the function refuses it anyway. */
function untrusted(
  id: string,
  fault: string,
  service: 'key-issuer' | 'edge-updater' | 'key-reaper',
  field: 'account' | 'source',
  make: (world: ChaosWorld) => Envelope,
): Case {
  let verdict = { subscribers: -1, status: '' };
  return {
    id: `untrusted-${id}`,
    group: 'untrusted sender',
    fault,
    act: async (world) => {
      const envelope = make(world);
      const subscribers = world.env.runner.subscribersOf(envelope).length;
      const { status } = await world.env.handlers[service](envelope);
      verdict = { subscribers, status };
      await world.env.runner.drain();
    },
    expect: UNCHANGED,
    checks: async (world) => [
      { name: 'no rule delivers it', ok: verdict.subscribers === 0 },
      { name: `${service} refuses it`, ok: verdict.status === 'rejected' },
      await rejectedNaming(world, field),
      await nothingChanged(world),
    ],
  };
}

const cases: Case[] = [
  // Duplicates, replays, order.
  {
    id: 'every-event-twice',
    group: 'duplicate / replay / order',
    fault: 'every event delivered twice',
    options: { runner: { duplicateDeliveries: true } },
    expect: ROTATED,
    checks: async (world) => [
      await oneNewKey(world),
      oneUpdate(world),
      { name: 'one rotation', ok: (await rotations(world)) === 1 },
    ],
  },
  {
    id: 'replayed-request',
    group: 'duplicate / replay / order',
    fault: 'the request redelivered after the rotation completed',
    act: async (world) => {
      await world.rotate();
      await redeliver(world, seen(world, 'KeyRotationRequested')[0]!);
    },
    expect: ROTATED,
    checks: async (world) => [
      { name: 'still one rotation', ok: (await rotations(world)) === 1 },
      await oneNewKey(world),
      oneUpdate(world),
    ],
  },
  {
    id: 'replayed-key-created',
    group: 'duplicate / replay / order',
    fault: "an older rotation's KeyCreated replayed after a newer rotation",
    act: async (world) => {
      await world.rotate();
      await world.rotate();
      const [first] = seen(world, 'KeyCreated');
      await world.env.runner.putOnBus('api', 'KeyCreated', first!.detail);
      await world.env.runner.drain();
    },
    expect: ROTATED,
    checks: async (world) => [
      { name: 'two rotations, both completed', ok: await allCompleted(world, 2) },
      await oneNewKey(world),
      { name: 'no distribution update for the replay', ok: world.cloudFront.updates === 2 },
    ],
  },
  {
    id: 'late-edge-updated',
    group: 'duplicate / replay / order',
    fault: "an older rotation's EdgeUpdated arrives in the middle of the next rotation",
    act: async (world) => {
      await world.rotate();
      const [late] = seen(world, 'EdgeUpdated');
      await world.env.runner.fireSchedule();
      await redeliver(world, late!);
    },
    expect: ROTATED,
    checks: async (world) => [
      { name: 'two rotations, both completed', ok: await allCompleted(world, 2) },
      await oneNewKey(world),
    ],
  },
  {
    id: 'failure-before-duplicate',
    group: 'duplicate / replay / order',
    fault:
      'KeyCreated fails (KMS throttled), and its duplicate succeeds after the failure was handled',
    options: {
      faults: [{ fault: 'throttle', operations: ['Decrypt'], service: 'edge-updater', times: 3 }],
      // No time for a later try of the edge's own (its first would come after the deadline):
      // the throttled KeyCreated ends the rotation FAILED, as a persistent cause would.
      keyrot: { recheckDelayMs: 15 * 60_000, deployDeadlineMs: 10 * 60_000 },
      // 10 simulated minutes are 3 real seconds at the default scale, too few on a loaded
      // machine for the duplicate to deploy before the deadline: run this case slower.
      scale: 40,
    },
    act: async (world) => {
      await world.rotate();
      await redeliver(world, seen(world, 'KeyCreated')[0]!);
    },
    // The rotation was closed as failed, the duplicate installed the key anyway: it must be
    // live (not rolled back), and the next rotation retires the old one.
    expect: {
      outcome: 'FAILED',
      steps: ['EDGE_UPDATED'],
      withoutSteps: ['ROLLED_BACK'],
      edgeSends: 'new',
    },
  },

  // A bad event per field.
  badField(
    'usage-plan',
    'detail.USAGE_PLAN_ID',
    'missing',
    (w) =>
      w.env.runner.putOnApiBus(
        'KeyRotationRequested',
        requestWith(w, { USAGE_PLAN_ID: undefined }),
      ),
    true,
  ),
  badField(
    'distribution',
    'detail.DISTRIBUTION_ID',
    'has a space',
    (w) =>
      w.env.runner.putOnApiBus(
        'KeyRotationRequested',
        requestWith(w, { DISTRIBUTION_ID: 'E1 BAD' }),
      ),
    true,
  ),
  badField(
    'origin',
    'detail.ORIGIN_ID',
    'empty',
    (w) => w.env.runner.putOnApiBus('KeyRotationRequested', requestWith(w, { ORIGIN_ID: '' })),
    true,
  ),
  badField(
    'key-name',
    'detail.API_KEY_NAME',
    'starts with a space',
    (w) =>
      w.env.runner.putOnApiBus('KeyRotationRequested', requestWith(w, { API_KEY_NAME: ' key' })),
    true,
  ),
  badField(
    'version',
    'detail.version',
    'an unknown schema version',
    (w) => w.env.runner.putOnApiBus('KeyRotationRequested', { version: 2, target: targetOf(w) }),
    true,
  ),
  badField(
    'fingerprint',
    'detail.newKey.fingerprint',
    'not hex',
    (w) =>
      w.env.runner.putOnBus('api', 'KeyCreated', {
        ...keyCreatedFor(w),
        newKey: { id: 'abcdef1234', fingerprint: 'NOT-A-HASH!!' },
      }),
    false,
  ),
  badField(
    'kms-key',
    'detail.kmsKeyArn',
    'an alias, not a key ARN',
    (w) =>
      w.env.runner.putOnBus('api', 'KeyCreated', {
        ...keyCreatedFor(w),
        kmsKeyArn: 'alias/keyrot-edge',
      }),
    false,
  ),
  badField(
    'sealed-value',
    'detail.encryptedValue',
    'empty',
    (w) => w.env.runner.putOnBus('api', 'KeyCreated', { ...keyCreatedFor(w), encryptedValue: '' }),
    false,
  ),
  badField(
    'deployed-at',
    'detail.deployedAt',
    'not a time',
    (w) =>
      w.env.runner.putOnBus('edge', 'EdgeUpdated', {
        ...edgeUpdatedFor(w),
        deployedAt: 'yesterday',
      }),
    true,
  ),
  badField(
    'stage',
    'detail.stage',
    'unknown',
    (w) =>
      w.env.runner.putOnBus('edge', 'RotationFailed', {
        ...rotationFailedFor(w),
        stage: 'somewhere',
      }),
    true,
  ),

  // Well-formed, naming resources that do not exist.
  {
    id: 'unknown-usage-plan',
    group: 'bad event',
    fault: 'USAGE_PLAN_ID of no usage plan',
    act: async (w) => {
      await w.env.runner.putOnApiBus(
        'KeyRotationRequested',
        requestWith(w, { USAGE_PLAN_ID: 'nosuchplan' }),
      );
      await w.env.runner.drain();
    },
    expect: { outcome: 'FAILED', withoutSteps: ['KEY_CREATED'], edgeSends: 'old' },
    checks: async (world) => [
      await failedNaming(world, 'USAGE_PLAN_ID'),
      await nothingChanged(world),
    ],
  },
  {
    id: 'unknown-origin',
    group: 'bad event',
    fault: 'ORIGIN_ID not an origin of the distribution',
    act: async (w) => {
      await w.env.runner.putOnApiBus(
        'KeyRotationRequested',
        requestWith(w, { ORIGIN_ID: 'no-such-origin' }),
      );
      await w.env.runner.drain();
    },
    expect: { outcome: 'FAILED', steps: ['ROLLED_BACK'], edgeSends: 'old' },
    checks: async (world) => [await failedNaming(world, 'ORIGIN_ID'), await nothingChanged(world)],
  },
  {
    id: 'unknown-distribution',
    group: 'bad event',
    fault: 'DISTRIBUTION_ID of no distribution',
    act: async (w) => {
      await w.env.runner.putOnApiBus(
        'KeyRotationRequested',
        requestWith(w, { DISTRIBUTION_ID: 'ENOSUCHDIST1' }),
      );
      await w.env.runner.drain();
    },
    expect: { outcome: 'FAILED', steps: ['ROLLED_BACK'], edgeSends: 'old' },
    checks: async (world) => [
      await failedNaming(world, 'DISTRIBUTION_ID'),
      await nothingChanged(world),
    ],
  },

  // Events from the wrong account or source.
  untrusted(
    'request-account',
    'KeyRotationRequested from another account',
    'key-issuer',
    'account',
    (w) =>
      envelopeOf(w, 'KeyRotationRequested', w.env.world.scheduleInput, { account: '999999999999' }),
  ),
  untrusted(
    'request-source',
    'KeyRotationRequested from another source',
    'key-issuer',
    'source',
    (w) =>
      envelopeOf(w, 'KeyRotationRequested', w.env.world.scheduleInput, { source: 'not-keyrot' }),
  ),
  untrusted(
    'key-created-account',
    'KeyCreated from the edge account itself',
    'edge-updater',
    'account',
    (w) =>
      envelopeOf(w, 'KeyCreated', keyCreatedFor(w), {
        account: w.env.world.edge.session.accountId,
      }),
  ),
  untrusted(
    'edge-updated-account',
    'EdgeUpdated from the API account',
    'key-reaper',
    'account',
    (w) =>
      envelopeOf(w, 'EdgeUpdated', edgeUpdatedFor(w), {
        account: w.env.world.api.session.accountId,
      }),
  ),
  untrusted(
    'deploy-check-account',
    'EdgeDeploymentCheck from the API account',
    'edge-updater',
    'account',
    (w) =>
      envelopeOf(
        w,
        'EdgeDeploymentCheck',
        {
          version: 1,
          rotationId: edgeUpdatedFor(w).rotationId,
          target: targetOf(w),
          newKey: edgeUpdatedFor(w).newKey,
          previousFingerprint: null,
          updatedAt: w.clock.now().toISOString(),
          deadline: w.clock.now().toISOString(),
          check: 1,
        },
        { account: w.env.world.api.session.accountId },
      ),
  ),

  // Two rotations at once.
  {
    id: 'two-requests-at-once',
    group: 'concurrent requests',
    fault: 'two rotation requests at the same instant',
    act: async (world) => {
      const issuer = world.env.handlers['key-issuer'];
      const request = (id: string) =>
        envelopeOf(world, 'KeyRotationRequested', world.env.world.scheduleInput, { id });
      await Promise.all([
        issuer(request('11111111-aaaa-4aaa-8aaa-111111111111')),
        issuer(request('22222222-bbbb-4bbb-8bbb-222222222222')),
      ]);
      await world.env.runner.drain();
    },
    // The newest rotation (by request) may be either; judge the history as a whole.
    expect: { outcome: 'COMPLETED', edgeSends: 'new' },
    checks: async (world) => [await oneCompletedOneRefused(world), await oneNewKey(world)],
  },
  {
    id: 'request-while-deploying',
    group: 'concurrent requests',
    fault: 'a second request while the first waits for Deployed',
    // The second request arrives (and is handled) while the edge-updater waits for Deployed.
    setup: (world) =>
      world.faults.add({
        fault: 'action-after',
        operations: ['GetDistribution'],
        service: 'edge-updater',
        action: async () => {
          await world.env.handlers['key-issuer'](
            envelopeOf(world, 'KeyRotationRequested', world.env.world.scheduleInput, {
              id: '33333333-cccc-4ccc-8ccc-333333333333',
            }),
          );
        },
      }),
    expect: { outcome: 'COMPLETED', edgeSends: 'new' },
    checks: async (world) => [await oneCompletedOneRefused(world), await oneNewKey(world)],
  },
];

defineCases(__filename, cases);

async function allCompleted(world: ChaosWorld, count: number): Promise<boolean> {
  const history = await ledgerOf(world.env.world).history(TARGET_NAME);
  const completed = new Set(history.filter((s) => s.step === 'COMPLETED').map((s) => s.rotationId));
  return completed.size === count && !history.some((s) => s.step === 'FAILED');
}

async function failedNaming(world: ChaosWorld, field: string): Promise<Check> {
  const steps = await ledgerOf(world.env.world).timeline((await world.latestRotationId())!);
  const failed = steps.find((s) => s.step === 'FAILED');
  return {
    name: `RotationFailed naming ${field}`,
    ok: failed?.error?.field === field,
    detail: `${failed?.error?.name}: ${failed?.error?.message}`,
  };
}

/** One rotation completed, the other was refused while the first held the lock. */
async function oneCompletedOneRefused(world: ChaosWorld): Promise<Check> {
  const history = await ledgerOf(world.env.world).history(TARGET_NAME);
  const completed = history.filter((s) => s.step === 'COMPLETED');
  const refused = history.filter((s) => s.step === 'REFUSED');
  return {
    name: 'one completed, the other refused naming the lock holder',
    ok:
      completed.length === 1 &&
      refused.length === 1 &&
      refused[0]!.step === 'REFUSED' &&
      refused[0]!.lockedBy === completed[0]!.rotationId,
    detail: `${completed.length} completed, ${refused.length} refused`,
  };
}
