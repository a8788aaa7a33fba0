/**
 * The fault matrix's case runner and the helpers its cases share. Each case is one jest test
 * and one row of the table: a fresh world, live traffic, the case's faults and actions, then
 * the common checks of `judge` plus the case's own.
 */
import {
  ROTATION_FAILED_VERSION,
  rotationState,
  fingerprintOf,
  type EdgeUpdated,
  type KeyCreated,
  type RotationFailed,
  type Target,
} from '@keyrot/shared';
import { keyFingerprint, ledgerOf, liveKeysOnPlan, TARGET_NAME } from '../../harness/inspect';
import type { Envelope } from '../../harness/runner';
import type { ServiceName } from '../../harness/subscriptions';
import {
  judge,
  recordRow,
  useChaos,
  type ChaosOptions,
  type ChaosWorld,
  type Check,
  type Expectation,
} from '../support/chaos';

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;

/** A rotation that completed as it should, readiness check included. */
export const ROTATED = {
  outcome: 'COMPLETED',
  steps: ['KEY_READY', 'KEY_SENT', 'EDGE_UPDATED', 'KEYS_RETIRED'],
  edgeSends: 'new',
} as const;

export interface Case {
  readonly id: string;
  readonly group: string;
  /** The fault, as the table's row states it. */
  readonly fault: string;
  readonly options?: ChaosOptions;
  /** Prepares faults or hooks that need the world (e.g. an action on its resources). */
  readonly setup?: (world: ChaosWorld) => void | Promise<void>;
  /** What happens (default: the monthly schedule fires and every event is delivered). */
  readonly act?: (world: ChaosWorld) => Promise<void>;
  readonly expect: Expectation;
  /** The case's own checks, besides the common ones. */
  readonly checks?: (world: ChaosWorld) => Promise<Check[]> | Check[];
  /** Whether the case must have injected a fault (default: when it configures any). */
  readonly injects?: boolean;
}

/** One jest test per case; each records its row and fails on any failed check. */
export function defineCases(file: string, cases: readonly Case[], timeoutMs = 120_000): void {
  const chaos = useChaos();
  it.each(cases.map((c) => [`${c.id}: ${c.fault}`, c] as const))(
    '%s',
    async (_, c) => {
      const started = Date.now();
      const world = await chaos(c.options);
      await c.setup?.(world);
      const measured = c.expect.failedRequests !== 'not-measured';
      if (measured) world.startTraffic();
      await (c.act ?? ((w: ChaosWorld) => w.rotate()))(world);
      const traffic = measured ? await world.stopTraffic() : undefined;
      const checks = [...(c.checks ? await c.checks(world) : [])];
      if (c.injects ?? (c.options?.faults?.length ?? 0) > 0) {
        checks.push({
          name: 'the fault happened',
          ok: world.faults.injections.length > 0,
          detail: summarizeInjections(world),
        });
      }
      const { row, failedChecks } = await judge(
        world,
        { id: c.id, group: c.group, fault: c.fault },
        c.expect,
        traffic,
        checks,
      );
      recordRow(file, { ...row, seconds: (Date.now() - started) / 1000 });
      expect(failedChecks).toEqual([]);
    },
    timeoutMs,
  );
}

/** `KMS Encrypt×2, …`: what was injected. */
export function summarizeInjections(world: ChaosWorld): string {
  const counts = new Map<string, number>();
  for (const i of world.faults.injections) {
    const key = `${i.awsService} ${i.operation} ${i.fault}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k}×${n}`).join(', ');
}

/** The plan holds the other client's key and exactly one key of the target: the new one. */
export async function oneNewKey(world: ChaosWorld): Promise<Check> {
  const { world: local } = world.env;
  const rotationId = await world.latestRotationId();
  const steps = rotationId ? await ledgerOf(local).timeline(rotationId) : [];
  const newKey = steps.find((s) => s.step === 'KEY_CREATED')?.newKey?.id;
  const onPlan = (await liveKeysOnPlan(local)).sort();
  return {
    name: 'exactly one new key, no orphan',
    ok:
      newKey !== undefined &&
      JSON.stringify(onPlan) === JSON.stringify([local.api.otherClientKeyId, newKey].sort()),
    detail: `${onPlan.length} keys on the plan`,
  };
}

/** Nothing changed: the plan holds the two keys it started with, the edge was not updated. */
export async function nothingChanged(world: ChaosWorld): Promise<Check> {
  const { world: local } = world.env;
  const onPlan = (await liveKeysOnPlan(local)).sort();
  const before = [local.api.initialKeyId, local.api.otherClientKeyId].sort();
  return {
    name: 'nothing changed',
    ok: JSON.stringify(onPlan) === JSON.stringify(before) && world.cloudFront.updates === 0,
    detail: `${onPlan.length} keys on the plan, ${world.cloudFront.updates} distribution updates`,
  };
}

/** The distribution was updated exactly once (a redelivery found the header set). */
export function oneUpdate(world: ChaosWorld): Check {
  return {
    name: 'one distribution update',
    ok: world.cloudFront.updates === 1,
    detail: `${world.cloudFront.updates} updates`,
  };
}

/** The process died once, in `service`, and the event was delivered again. */
export function crashedAndRedelivered(world: ChaosWorld, service: ServiceName): Check {
  const again = world.env.runner.deliveries.some((d) => d.service === service && d.attempt > 1);
  return {
    name: `${service} died once and its event was redelivered`,
    ok: world.faults.crashes.length === 1 && world.faults.crashes[0]!.service === service && again,
    detail: world.faults.crashes.map((c) => c.where).join(', '),
  };
}

/** The function logged the rejection, naming `field` (the edge account has no ledger). */
export async function rejectedNaming(world: ChaosWorld, field: string): Promise<Check> {
  const named = new RegExp(`"field":\\s*"${field.replace(/\./g, '\\.')}"`);
  const logged = world.env.logs.lines.some(
    (line) => line.includes('event rejected') && named.test(line),
  );
  return { name: `rejected, naming ${field}`, ok: logged };
}

/** The ledger recorded the rejection (for the API account's functions). */
export async function rejectionRecorded(world: ChaosWorld, field: string): Promise<Check> {
  const rejected = (await ledgerOf(world.env.world).history('-')).filter(
    (s) => s.step === 'REJECTED' && s.error?.field === field,
  );
  return { name: 'rejection recorded in the ledger', ok: rejected.length === 1 };
}

/** The target as the seed's schedule names it in this world (structured form). */
export function targetOf(world: ChaosWorld): Target {
  const input = world.env.world.scheduleInput;
  return {
    name: TARGET_NAME,
    apiKeyName: input.API_KEY_NAME!,
    usagePlanId: input.USAGE_PLAN_ID!,
    distributionId: input.DISTRIBUTION_ID!,
    originId: input.ORIGIN_ID!,
    headerName: 'x-api-key',
  };
}

/** An envelope as EventBridge would deliver it, for direct invocations. */
export function envelopeOf(
  world: ChaosWorld,
  detailType: string,
  detail: unknown,
  from: { account?: string; source?: string; id?: string } = {},
): Envelope {
  return {
    id: from.id ?? `chaos-${Math.random().toString(16).slice(2)}-0000-4000-8000-000000000000`,
    account: from.account ?? world.env.world.api.session.accountId,
    source: from.source ?? 'keyrot',
    'detail-type': detailType,
    time: world.clock.now().toISOString(),
    detail: detail as Record<string, unknown>,
  };
}

const BAD_ROTATION = 'rot_chaos_badevent01';

/** A well-formed KeyCreated for a rotation that does not exist (to break one field of). */
export function keyCreatedFor(world: ChaosWorld): KeyCreated {
  return {
    version: 1,
    rotationId: BAD_ROTATION,
    target: targetOf(world),
    newKey: { id: 'abcdef1234', fingerprint: '0123456789ab' },
    supersededKeys: [],
    encryptedValue: 'AQIDBAUGBwg=',
    kmsKeyArn: world.env.world.edge.kmsKeyArn,
    issuedAt: world.clock.now().toISOString(),
  };
}

export function edgeUpdatedFor(world: ChaosWorld): EdgeUpdated {
  const now = world.clock.now().toISOString();
  return {
    version: 1,
    rotationId: BAD_ROTATION,
    target: targetOf(world),
    newKey: { id: 'abcdef1234', fingerprint: '0123456789ab' },
    previousFingerprint: null,
    updatedAt: now,
    deployedAt: now,
    actor: { function: 'keyrot-edge-updater', account: world.env.world.edge.session.accountId },
  };
}

export function rotationFailedFor(world: ChaosWorld): RotationFailed {
  return {
    version: ROTATION_FAILED_VERSION,
    rotationId: BAD_ROTATION,
    target: targetOf(world),
    stage: 'edge',
    error: { name: 'EdgeDriftError', message: 'drift', retryable: false },
    newKeyMayBeAtEdge: false,
    rolledBack: false,
    failedAt: world.clock.now().toISOString(),
    actor: { function: 'keyrot-edge-updater', account: world.env.world.edge.session.accountId },
  };
}

/** The key value's fingerprint the edge's config in moto holds (what a reader of the API sees). */
export async function initialKeyStillExists(world: ChaosWorld): Promise<Check> {
  const { world: local } = world.env;
  const fp = await keyFingerprint(local, local.api.initialKeyId);
  return {
    name: 'the old key still exists',
    ok: fp !== null && fp === fingerprintOf(local.initialKeyValue.reveal()),
  };
}

/** The new key this rotation created is still live: not rolled back (the edge may send it). */
export async function newKeyKept(world: ChaosWorld): Promise<Check> {
  const steps = await ledgerOf(world.env.world).timeline((await world.latestRotationId())!);
  const newKey = steps.find((s) => s.step === 'KEY_CREATED')?.newKey;
  const live = await liveKeysOnPlan(world.env.world);
  return { name: 'the new key is kept live', ok: !!newKey && live.includes(newKey.id) };
}

/** The new key this rotation created no longer exists. */
export async function newKeyGone(world: ChaosWorld): Promise<Check> {
  const steps = await ledgerOf(world.env.world).timeline((await world.latestRotationId())!);
  const newKey = steps.find((s) => s.step === 'KEY_CREATED')?.newKey;
  return {
    name: 'the new key was deleted again',
    ok: !!newKey && (await keyFingerprint(world.env.world, newKey.id)) === null,
  };
}

/** The rotation was closed as failed, at `stage`, with this error. */
export async function failedWith(world: ChaosWorld, name: string, stage: string): Promise<Check> {
  const steps = await ledgerOf(world.env.world).timeline((await world.latestRotationId())!);
  const failed = rotationState(steps).step('FAILED');
  return {
    name: `RotationFailed recorded with the reason (${name})`,
    ok: failed?.error.name === name && failed.stage === stage,
    detail: `${failed?.error.name} at ${String(failed?.stage)}: ${failed?.error.message}`,
  };
}

export const FAILED_ROLLED_BACK = {
  outcome: 'FAILED',
  steps: ['ROLLED_BACK'],
  withoutSteps: ['KEYS_RETIRED'],
  edgeSends: 'old',
} as const;

/** A world whose CloudFront takes longer than one Lambda run (15 min) to deploy. */
export const LONG_DEPLOY = {
  scale: 1000,
  propagationMs: 25 * MINUTE,
  edgeLocations: 4,
  // A deadline far beyond the deploy: at this scale a slow machine's seconds are hours.
  keyrot: { recheckDelayMs: MINUTE, deployDeadlineMs: 4 * 60 * MINUTE },
} as const;
