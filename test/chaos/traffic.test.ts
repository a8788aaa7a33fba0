/**
 * Live traffic through whole two-account rotations: requests keep flowing through the
 * simulated edge locations to the simulated API Gateway stage while keyrot rotates the key,
 * with CloudFront propagation windows from none to many minutes (compressed). Two negative
 * controls show the harness can see an outage: deleting the old key before `Deployed`, and
 * sending a key the origin does not accept yet.
 */
import { rotationState, type EdgeUpdated } from '@keyrot/shared';
import { ledgerOf } from '../../harness/inspect';
import {
  judge,
  recordRow,
  useChaos,
  type ChaosWorld,
  type Expectation,
  type Row,
} from '../support/chaos';

jest.setTimeout(90_000);

const chaos = useChaos();
const SECOND = 1000;
const MINUTE = 60 * SECOND;
/** 4 simulated minutes take 6 s: longer than any step takes, even on a busy machine. */
const CONTROL_SCALE = 40;
/** Denser traffic than the matrix's: this file is the zero-downtime proof. */
const DENSE_LOAD = { concurrency: 4, pauseMs: 4 };
const ROTATED: Expectation = {
  outcome: 'COMPLETED',
  steps: ['KEY_READY', 'KEY_SENT', 'EDGE_UPDATED', 'KEYS_RETIRED'],
  edgeSends: 'new',
};

let started = 0;
beforeEach(() => {
  started = Date.now();
});

async function rotateUnderTraffic(world: ChaosWorld) {
  world.startTraffic();
  await world.rotate();
  return world.stopTraffic();
}

/** Keeps the row for `npm run chaos`, with the real seconds the test took. */
function record(row: Row): void {
  recordRow(__filename, { ...row, seconds: (Date.now() - started) / 1000 });
}

/** Requests went out with the old key before the switch and with the new one after it. */
function crossedTheSwitch(world: ChaosWorld) {
  return {
    name: 'traffic spans the switch of keys',
    ok: world.proxy.keysForwarded().size >= 2,
    detail: `${world.proxy.keysForwarded().size} keys forwarded`,
  };
}

describe('a rotation under continuous traffic', () => {
  it.each([
    ['no propagation delay', 0],
    ['30 s propagation', 30 * SECOND],
    ['2 min propagation', 2 * MINUTE],
    ['5 min propagation', 5 * MINUTE],
    ['12 min propagation', 12 * MINUTE],
  ])('fails no request with %s', async (name, propagationMs) => {
    const world = await chaos({
      propagationMs,
      edgeLocations: 6,
      seed: propagationMs + 7,
      load: DENSE_LOAD,
    });

    const traffic = await rotateUnderTraffic(world);

    const { row, failedChecks } = await judge(
      world,
      { id: `traffic-${propagationMs / SECOND}s`, group: 'traffic', fault: `rotation, ${name}` },
      ROTATED,
      traffic,
      [crossedTheSwitch(world)],
    );
    record(row);
    expect(failedChecks).toEqual([]);
  });
});

describe('negative controls: the harness sees an outage', () => {
  it('when the old key is deleted before the distribution is Deployed', async () => {
    // The reaper is called early, by the harness, as soon as the header is written: the
    // deliberately wrong order. Product code is the same as in every other test.
    const world = await chaos({
      // A slower clock for the controls: the failure window must stay open on a busy machine.
      scale: CONTROL_SCALE,
      propagationMs: 4 * MINUTE,
      edgeLocations: 8,
      seed: 3,
      graceMs: 0,
    });
    const early: Promise<unknown>[] = [];
    world.cloudFront.onUpdate(() => early.push(callReaperEarly(world)));

    const traffic = await rotateUnderTraffic(world);
    await Promise.all(early);

    const { row, failedChecks } = await judge(
      world,
      {
        id: 'control-early-delete',
        group: 'traffic',
        fault: 'control: old key deleted before Deployed',
      },
      { ...ROTATED, failedRequests: 'some' },
      traffic,
    );
    record(row);
    expect(failedChecks).toEqual([]);
    expect(traffic!.failures['403']).toBeGreaterThan(0);
  });

  it('when the edge gets a key before the origin accepts it (readiness check off)', async () => {
    const world = await chaos({
      scale: CONTROL_SCALE,
      readiness: false,
      activationDelayMs: 4 * MINUTE,
      propagationMs: 30 * SECOND,
      edgeLocations: 4,
    });

    const traffic = await rotateUnderTraffic(world);

    const { row, failedChecks } = await judge(
      world,
      {
        id: 'control-not-ready',
        group: 'traffic',
        fault: 'control: key activation (4 min) slower than propagation (30 s), no readiness check',
      },
      { ...ROTATED, steps: ['KEY_SENT', 'EDGE_UPDATED'], failedRequests: 'some' },
      traffic,
    );
    record(row);
    expect(failedChecks).toEqual([]);
    expect(traffic!.failures['403']).toBeGreaterThan(0);
  });

  it("is prevented by keyrot's readiness check: the same world with it on fails nothing", async () => {
    const world = await chaos({
      scale: CONTROL_SCALE,
      readiness: true,
      readinessTimeoutMs: 10 * MINUTE,
      activationDelayMs: 4 * MINUTE,
      propagationMs: 30 * SECOND,
      edgeLocations: 4,
    });

    const traffic = await rotateUnderTraffic(world);

    const steps = await ledgerOf(world.env.world).timeline((await world.latestRotationId())!);
    const at = (step: string) => Date.parse(steps.find((s) => s.step === step)?.at ?? '');
    const { row, failedChecks } = await judge(
      world,
      {
        id: 'readiness-prevents',
        group: 'traffic',
        fault: 'key activation (4 min) slower than propagation (30 s), readiness check on',
      },
      ROTATED,
      traffic,
      [
        {
          // The only requests the origin refused are the probe's, before it accepted the key.
          name: 'the issuer waited for the origin to accept the key',
          ok:
            world.origin.answered.forbidden > 0 &&
            at('KEY_ASSOCIATED') <= at('KEY_READY') &&
            at('KEY_READY') <= at('KEY_SENT'),
          detail: `${world.origin.answered.forbidden} probes refused`,
        },
      ],
    );
    record(row);
    expect(failedChecks).toEqual([]);
  });
});

/** Delivers an `EdgeUpdated` for the rotation in flight to the reaper now, before Deployed. */
async function callReaperEarly(world: ChaosWorld): Promise<void> {
  const { world: local, handlers } = world.env;
  const rotationId = (await world.latestRotationId())!;
  const steps = await ledgerOf(local).timeline(rotationId);
  const state = rotationState(steps);
  const sent = state.step('KEY_SENT')!;
  const now = world.clock.now().toISOString();
  const detail: EdgeUpdated = {
    version: 1,
    rotationId,
    target: state.requested!.targetSpec,
    newKey: sent.newKey,
    previousFingerprint: null,
    updatedAt: now,
    deployedAt: now,
    actor: { function: 'chaos-harness', account: local.edge.session.accountId },
  };
  await handlers['key-reaper']({
    version: '0',
    id: `early-${rotationId}`.slice(0, 60),
    account: local.edge.session.accountId,
    source: 'keyrot',
    'detail-type': 'EdgeUpdated',
    time: now,
    detail,
  });
}
