/**
 * Fault matrix, concurrent duplicates: each of keyrot's events delivered to two and three
 * execution environments at once, as EventBridge's and Lambda's at-least-once delivery may.
 * The other copies start at the same instant as the first, or right after one of the first
 * copy's calls took effect: at every step boundary of the function. Of the copies exactly one
 * acts (the rotation's lease in the API account; CloudFront's IfMatch and the deployment
 * check's idempotent schedule at the edge) and the rotation ends as if it had been delivered
 * once: one new key, one distribution update, the old key deleted once, 0 failed requests.
 */
import type { ServiceName } from '../../harness/subscriptions';
import type { ChaosWorld, Check, Expectation } from '../support/chaos';
import {
  defineCases,
  FAILED_ROLLED_BACK,
  LONG_DEPLOY,
  newKeyGone,
  oneNewKey,
  oneUpdate,
  ROTATED,
  type Case,
} from './cases';

/** Ledger sort key of a step, as the conditional put writes it. */
const step = (n: number, name: string) => `STEP#${String(n).padStart(2, '0')}#${name}`;

/** Where the other copies start: after this call of the first copy took effect. */
interface Boundary {
  readonly id: string;
  readonly after: string;
  readonly operations?: readonly string[];
  readonly inputContains?: string;
}

const AT_ONCE: Boundary = { id: 'at-once', after: 'at the same instant' };
const ledgerWrite = (n: number, name: string, operation = 'PutItem'): Boundary => ({
  id: name.toLowerCase().replace(/_/g, '-'),
  after: `after ${name}`,
  operations: [operation],
  inputContains: step(n, name),
});
const call = (operation: string): Boundary => ({
  id: operation.replace(/[A-Z]/g, (c, i: number) => `${i ? '-' : ''}${c.toLowerCase()}`),
  after: `after ${operation}`,
  operations: [operation],
});
const LEASE: Boundary = {
  id: 'lease',
  after: 'after taking the lease',
  operations: ['PutItem'],
  inputContains: '"LEASE"',
};

interface EventUnderTest {
  readonly detailType: string;
  readonly service: ServiceName;
  readonly boundaries: readonly Boundary[];
  readonly options?: Case['options'];
  readonly expect: Expectation;
  readonly checks: (world: ChaosWorld) => Promise<Check[]>;
}

/** A normal rotation, delivered once: one key created, the old one deleted once. */
const rotated = async (world: ChaosWorld): Promise<Check[]> => [
  await oneNewKey(world),
  oneUpdate(world),
  callsMade(world, 'CreateApiKey', 1),
  callsMade(world, 'DeleteApiKey', 1),
];

const EVENTS: readonly EventUnderTest[] = [
  {
    detailType: 'KeyRotationRequested',
    service: 'key-issuer',
    boundaries: [
      AT_ONCE,
      LEASE,
      ledgerWrite(1, 'REQUESTED', 'TransactWriteItems'),
      call('GetUsagePlanKeys'),
      ledgerWrite(2, 'KEYS_LISTED'),
      call('CreateApiKey'),
      ledgerWrite(3, 'KEY_CREATED'),
      call('CreateUsagePlanKey'),
      ledgerWrite(4, 'KEY_ASSOCIATED'),
      ledgerWrite(5, 'KEY_READY'),
      call('Encrypt'),
      ledgerWrite(6, 'KEY_SENT'),
      call('PutEvents'),
    ],
    expect: ROTATED,
    checks: rotated,
  },
  {
    detailType: 'KeyCreated',
    service: 'edge-updater',
    boundaries: [
      AT_ONCE,
      call('Decrypt'),
      call('GetDistributionConfig'),
      call('UpdateDistribution'),
      call('GetDistribution'),
      call('PutEvents'),
    ],
    expect: ROTATED,
    checks: rotated,
  },
  {
    // Only a deployment that outlasts one invocation continues in a scheduled check.
    detailType: 'EdgeDeploymentCheck',
    service: 'edge-updater',
    options: LONG_DEPLOY,
    boundaries: [AT_ONCE, call('GetDistribution'), call('PutEvents')],
    expect: ROTATED,
    checks: rotated,
  },
  {
    detailType: 'EdgeUpdated',
    service: 'key-reaper',
    boundaries: [
      AT_ONCE,
      LEASE,
      ledgerWrite(7, 'EDGE_UPDATED'),
      call('DeleteApiKey'),
      ledgerWrite(8, 'KEYS_RETIRED'),
      ledgerWrite(10, 'COMPLETED', 'TransactWriteItems'),
      call('PutEvents'),
    ],
    expect: ROTATED,
    checks: rotated,
  },
  {
    // The edge cannot decrypt the new key: it announces RotationFailed, and the reaper rolls
    // the new key back once and closes the rotation.
    detailType: 'RotationFailed',
    service: 'key-reaper',
    options: { faults: [{ fault: 'access-denied', operations: ['Decrypt'], times: Infinity }] },
    boundaries: [
      AT_ONCE,
      LEASE,
      call('DeleteApiKey'),
      ledgerWrite(9, 'ROLLED_BACK'),
      ledgerWrite(10, 'FAILED', 'TransactWriteItems'),
    ],
    expect: FAILED_ROLLED_BACK,
    checks: async (world) => [
      await newKeyGone(world),
      callsMade(world, 'CreateApiKey', 1),
      callsMade(world, 'DeleteApiKey', 1),
      { name: 'distribution never updated', ok: world.cloudFront.updates === 0 },
    ],
  },
];

/** `operation` succeeded exactly `count` times, whichever copy made it. */
function callsMade(world: ChaosWorld, operation: string, count: number): Check {
  const made = world.faults.calls.filter((c) => c.operation === operation && c.ok).length;
  return { name: `${operation} made ${count} time(s)`, ok: made === count, detail: `${made}` };
}

/**
 * The copies ran at the same time (the boundary was reached in at least one delivery of the
 * event; a later delivery may end before it, e.g. a deployment check that schedules the
 * next), and none hit an IntegrityError.
 */
function ranConcurrently(world: ChaosWorld, detailType: string, copies: number): Check[] {
  const runs = world.env.runner.duplicateRuns.filter((r) => r.detailType === detailType);
  const integrity = world.env.logs.lines.filter((line) => line.includes('IntegrityError'));
  return [
    {
      name: `${copies} copies ran at once`,
      ok: runs.every((r) => r.copies === copies) && runs.some((r) => r.overlapped),
      detail: `${runs.length} deliveries, ${runs.filter((r) => r.overlapped).length} overlapped`,
    },
    { name: 'no IntegrityError', ok: integrity.length === 0, detail: integrity[0] },
  ];
}

function concurrentCase(event: EventUnderTest, boundary: Boundary, copies: number): Case {
  return {
    id: `concurrent-${event.detailType}-${boundary.id}-x${copies}`,
    group: `concurrent ${event.detailType}`,
    fault: `${copies} copies of ${event.detailType}, the others ${boundary.after}`,
    options: {
      ...event.options,
      concurrentDuplicates: {
        detailType: event.detailType,
        copies,
        ...(boundary.operations && {
          after: {
            service: event.service,
            operations: boundary.operations,
            ...(boundary.inputContains !== undefined && { inputContains: boundary.inputContains }),
          },
        }),
      },
    },
    expect: event.expect,
    checks: async (world) => [
      ...ranConcurrently(world, event.detailType, copies),
      ...(await event.checks(world)),
    ],
  };
}

/**
 * Negative control: with CloudFront's IfMatch check and write made two steps (as moto alone
 * has them), two copies of KeyCreated both write the header, and the checks see it.
 */
const control: Case = {
  id: 'concurrent-control-non-atomic-ifmatch',
  group: 'concurrent KeyCreated',
  fault: 'control: 2 copies of KeyCreated at once, IfMatch not atomic with the write',
  options: {
    atomicEdgeUpdates: false,
    concurrentDuplicates: { detailType: 'KeyCreated', copies: 2 },
  },
  // The first writer is held between its IfMatch check and its write (real time, far longer
  // than the other copy's read and write), so both pass the check with the same ETag.
  setup: (world) =>
    world.cloudFront.beforeNextUpdate(() => new Promise((resolve) => setTimeout(resolve, 500))),
  expect: ROTATED,
  checks: (world) => [
    { ...oneUpdate(world), name: 'control: the duplicate wrote too', ok: !oneUpdate(world).ok },
  ],
};

defineCases(__filename, [
  ...EVENTS.flatMap((event) =>
    event.boundaries.flatMap((boundary) =>
      [2, 3].map((copies) => concurrentCase(event, boundary, copies)),
    ),
  ),
  control,
]);
