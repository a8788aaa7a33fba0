/**
 * Fault matrix, drift guard (issue 15): after a rotation, someone else's `UpdateDistribution`
 * (a redeploy of the user's own template, a hand edit) changes the header the edge sends.
 * CloudTrail's record of it (emulated: moto has none, harness/runner.ts) triggers checkEdge;
 * checkDrift judges it against the ledger. A dead key (the rotation's deleted previous key)
 * is healed without an operator, with failed requests only until the heal deployed; a live
 * key (the other client's) is recorded and alarmed, never overwritten. Control: with the
 * target's drift guard off, the dead key stays and every request keeps failing. keyrot's own
 * write during a rotation is no drift.
 */
import { APIGatewayClient, GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import {
  CloudFrontClient,
  GetDistributionConfigCommand,
  UpdateDistributionCommand,
} from '@aws-sdk/client-cloudfront';
import { fingerprintOf, type StepOf, type StepRecord } from '@keyrot/shared';
import { clientConfig } from '../../harness/accounts';
import { ledgerOf, TARGET_NAME } from '../../harness/inspect';
import type { ChaosWorld, Check } from '../support/chaos';
import { defineCases, MINUTE, ROTATED, SECOND, type Case } from './cases';

/** When each world's header was changed behind keyrot's back (simulated ms). */
const changedAt = new WeakMap<ChaosWorld, number>();

/**
 * A direct UpdateDistribution (through the simulated CloudFront, so its edge locations adopt
 * it and CloudTrail records it) that sets the target's header to `value`; with `propagated`,
 * then waits until every edge location sends it.
 */
async function setHeaderBehindKeyrot(
  world: ChaosWorld,
  value: string,
  propagated: boolean,
): Promise<void> {
  const { edge } = world.env.world;
  const cloudFront = world.cloudFront.attach(new CloudFrontClient(clientConfig(edge.session)));
  try {
    const current = await cloudFront.send(
      new GetDistributionConfigCommand({ Id: edge.distributionId }),
    );
    const config = current.DistributionConfig!;
    const origin = config.Origins!.Items!.find((o) => o.Id === edge.originId)!;
    origin.CustomHeaders!.Items!.find((h) => h.HeaderName === 'x-api-key')!.HeaderValue = value;
    await cloudFront.send(
      new UpdateDistributionCommand({
        Id: edge.distributionId,
        IfMatch: current.ETag!,
        DistributionConfig: config,
      }),
    );
  } finally {
    cloudFront.destroy();
  }
  changedAt.set(world, world.clock.now().getTime());
  if (propagated) await world.clock.sleep(world.cloudFront.propagationMs + SECOND);
}

/** The other client's key value (live on the plan, not the target's). */
async function otherClientKeyValue(world: ChaosWorld): Promise<string> {
  const { api } = world.env.world;
  const client = new APIGatewayClient(clientConfig(api.session));
  try {
    const key = await client.send(
      new GetApiKeyCommand({ apiKey: api.otherClientKeyId, includeValue: true }),
    );
    world.keyValues.add(key.value!);
    return key.value!;
  } finally {
    client.destroy();
  }
}

/**
 * Rotates, lets the origin stop honouring the deleted key, then reverts the header to it and
 * delivers what follows at once: CloudTrail's record arrives while the edge locations are
 * still adopting the revert, as on AWS.
 */
async function revertToDeletedKey(world: ChaosWorld): Promise<void> {
  await world.rotate();
  await world.clock.sleep(10 * SECOND);
  await setHeaderBehindKeyrot(world, world.env.world.initialKeyValue.reveal(), false);
  await world.env.runner.drain();
  // The control heals nothing: let every edge location adopt the revert before judging.
  await world.clock.sleep(world.cloudFront.propagationMs + SECOND);
}

async function targetHistory(world: ChaosWorld): Promise<StepRecord[]> {
  return ledgerOf(world.env.world).history(TARGET_NAME);
}

const drifts = (history: readonly StepRecord[]) =>
  history.filter((s): s is StepOf<'DRIFT'> => s.step === 'DRIFT');

/** The EdgeDrift metric checkDrift emitted, with the target's dimension (EMF log lines). */
function edgeDriftMetric(world: ChaosWorld): Check {
  const raised = world.env.logs.lines.some((line) => {
    if (!line.includes('"EdgeDrift"')) return false;
    try {
      const record = JSON.parse(line) as { EdgeDrift?: number; target?: string; service?: string };
      return (record.EdgeDrift ?? 0) >= 1 && record.target === TARGET_NAME;
    } catch {
      return false;
    }
  });
  return { name: 'EdgeDrift metric raised for the target', ok: raised };
}

function noEdgeDriftMetric(world: ChaosWorld): Check {
  const control = edgeDriftMetric(world);
  return { name: 'no EdgeDrift metric', ok: !control.ok };
}

const initialFingerprint = (world: ChaosWorld) =>
  fingerprintOf(world.env.world.initialKeyValue.reveal());

const cases: Case[] = [
  {
    id: 'rotation-is-no-drift',
    group: 'drift guard',
    fault: "none: keyrot's own UpdateDistribution during a rotation (CloudTrail records it too)",
    options: { cloudTrail: true },
    expect: { ...ROTATED, withoutSteps: ['FAILED'] },
    checks: async (world) => [
      {
        name: 'checkEdge ran on the rotation’s own CloudTrail record',
        ok: world.env.runner.deliveries.some(
          (d) => d.functionName === 'checkEdge' && d.result.status === 'observed',
        ),
      },
      { name: 'no DRIFT recorded', ok: drifts(await targetHistory(world)).length === 0 },
      noEdgeDriftMetric(world),
    ],
  },
  {
    id: 'revert-to-deleted-key',
    group: 'drift guard',
    fault:
      'after a rotation, a direct UpdateDistribution sets the header to the deleted previous key',
    options: { cloudTrail: true },
    act: revertToDeletedKey,
    expect: { ...ROTATED, failedRequests: 'until-healed' },
    checks: async (world) => {
      const history = await targetHistory(world);
      const [drift] = drifts(history);
      const healed = history.find((s) => s.step === 'HEALED');
      const changed = changedAt.get(world) ?? Infinity;
      return [
        {
          name: 'DRIFT recorded: the deleted key, not live, healing',
          ok:
            drift !== undefined &&
            drift.observedFingerprint === initialFingerprint(world) &&
            !drift.observedKeyLive &&
            drift.healing &&
            drift.trigger === 'cloudtrail',
          detail: JSON.stringify(drift && { ...drift, actor: undefined }),
        },
        {
          name: 'checked within a minute of the change',
          ok: drift !== undefined && Date.parse(drift.observedAt) - changed < MINUTE,
        },
        {
          name: 'HEALED recorded on the drift record',
          ok: healed !== undefined && healed.rotationId === drift?.rotationId,
        },
        edgeDriftMetric(world),
      ];
    },
  },
  {
    id: 'revert-missed-by-cloudtrail',
    group: 'drift guard',
    fault: 'the same revert, its CloudTrail record lost: the hourly check finds and heals it',
    // No CloudTrail emulation: the record never arrives.
    act: async (world) => {
      await world.rotate();
      await world.clock.sleep(10 * SECOND);
      await setHeaderBehindKeyrot(world, world.env.world.initialKeyValue.reveal(), true);
      await world.env.runner.drain();
      await world.env.runner.fireEdgeCheckSchedule();
    },
    expect: { ...ROTATED, failedRequests: 'until-healed' },
    checks: async (world) => {
      const history = await targetHistory(world);
      const [drift] = drifts(history);
      return [
        {
          name: 'DRIFT recorded by the scheduled check, healed',
          ok:
            drift?.trigger === 'schedule' &&
            history.some((s) => s.step === 'HEALED' && s.rotationId === drift.rotationId),
        },
        edgeDriftMetric(world),
      ];
    },
  },
  {
    id: 'drift-to-live-key',
    group: 'drift guard',
    fault:
      "after a rotation, a direct UpdateDistribution sets the header to the other client's (live) key",
    options: { cloudTrail: true },
    act: async (world) => {
      await world.rotate();
      await setHeaderBehindKeyrot(world, await otherClientKeyValue(world), true);
      await world.env.runner.drain();
    },
    // The rotation completed; the edge now sends the other client's key: not overwritten.
    expect: { outcome: 'COMPLETED', edgeSends: 'any' },
    checks: async (world) => {
      const history = await targetHistory(world);
      const [drift] = drifts(history);
      const other = await otherClientKeyValue(world);
      const proxyHeaders = Array.from({ length: world.cloudFront.edgeLocations }, (_, edge) =>
        world.cloudFront
          .adoptedOrigins(world.env.world.edge.distributionId, edge)
          ?.get(world.env.world.edge.originId)
          ?.headers.get('x-api-key'),
      );
      return [
        {
          name: 'DRIFT recorded: a live key, not healed',
          ok:
            drifts(history).length === 1 &&
            drift !== undefined &&
            drift.observedKeyLive &&
            !drift.healing,
        },
        {
          name: 'no heal: no HEALED, no EdgeHealRequested',
          ok:
            !history.some((s) => s.step === 'HEALED' || s.step === 'HEAL_FAILED') &&
            !world.env.runner.events.some((e) => e['detail-type'] === 'EdgeHealRequested'),
        },
        {
          name: 'the edge still sends the other client’s key (not overwritten)',
          ok: proxyHeaders.every((value) => value === other),
        },
        edgeDriftMetric(world),
      ];
    },
  },
  {
    id: 'drift-guard-off',
    group: 'drift guard',
    fault: 'control: the same revert to the deleted key, with the target’s driftGuard off',
    options: { cloudTrail: true, keyrot: { driftGuard: false } },
    act: revertToDeletedKey,
    expect: {
      outcome: 'COMPLETED',
      edgeSends: 'any',
      edgeKeyLive: false,
      failedRequests: 'some',
    },
    checks: async (world) => [
      {
        name: 'control: nothing recorded, nothing healed',
        ok: (await targetHistory(world)).every((s) => s.step !== 'DRIFT' && s.step !== 'HEALED'),
      },
      noEdgeDriftMetric(world),
    ],
  },
];

defineCases(__filename, cases);
