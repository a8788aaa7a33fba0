/**
 * Benchmark part 4: a fleet of N targets rotated from one `KeyRotationRequested`, under AWS's
 * rate quotas as the services answer them (harness/quota-sim.ts). Each function runs in
 * execution environments of its own, as on Lambda: as many as its reserved concurrency in
 * serverless.yml allows, each with its own pacing buckets at its share of keyrot's budget,
 * as `lambdaClients` builds them; an unreserved function gets an environment per concurrent
 * event (up to 64). Optionally on a compressed clock (harness/sim-clock.ts), which the
 * pacing, the emulated quotas and the functions all read; times are then simulated seconds.
 */
import { APIGatewayClient, GetUsagePlanCommand } from '@aws-sdk/client-api-gateway';
import {
  AWS_CALL_QUOTAS,
  DEFAULT_FUNCTION_BUDGET_SHARE,
  paceCalls,
  PacingRegistry,
  shareOf,
} from '@keyrot/shared';
import { clientConfig } from '../harness/accounts';
import { CloudFrontSimulator } from '../harness/cloudfront-sim';
import { startLocalEnvironment } from '../harness/local-env';
import { buildFunctions, functionOf, type LocalHandler } from '../harness/local-keyrot';
import type { MotoServer } from '../harness/moto';
import { awsQuotas, QuotaThrottle, type QuotaRate } from '../harness/quota-sim';
import { ScaledClock } from '../harness/sim-clock';
import { DEFAULT_KEYROT_BUDGET_SHARE, type CallQuota } from '../shared/src/aws/pacing';
import { dispatchConcurrently, type EnvironmentFactory } from './dispatch';
import { quotaFloor, type FunctionLoad } from './floor';
import { CallCounter, decorator } from './instrument';
import { provisionTargets } from './targets';

export interface ScaleRun {
  readonly targets: number;
  /**
   * The negative control: keyrot without its pacing and reserved concurrency (every function
   * gets an environment per concurrent event), to show that the emulated throttling bites.
   */
  readonly unpaced?: boolean;
  /** Simulated ms per real ms (default 1: real time). */
  readonly clockScale?: number;
  /** CloudFront's emulated UpdateDistribution quota (default {@link EMULATED_UPDATE_DISTRIBUTION}). */
  readonly updateDistribution?: QuotaRate;
  /**
   * keyrot's `CLOUDFRONT_UPDATES_PER_SECOND` for this run (default: keyrot's default), e.g.
   * lowered to CloudFront's rate as docs/decisions.md advises when CloudFront throttles.
   */
  readonly keyrotUpdatesPerSecond?: number;
  /** The account owner's own API Gateway management calls per second, from a second client. */
  readonly ownerCallsPerSecond?: number;
}

/**
 * CloudFront's UpdateDistribution as the bench emulates it by default: what keyrot's default
 * pacing assumes (1/s per account), with a burst of one call per environment of the
 * edge-updater (its five environments may each send their first at once). CloudFront
 * publishes no rate; a run can set a stricter one.
 */
export const EMULATED_UPDATE_DISTRIBUTION: QuotaRate = { perSecond: 1, burst: 5 };

/** keyrot's configured share, as deployed with the defaults (serverless.yml parameters). */
export const KEYROT_SHARE = {
  /** Of each owner-shared quota, all of keyrot together (issuer and reaper). */
  keyrotShare: DEFAULT_KEYROT_BUDGET_SHARE,
  /** `API_BUDGET_SHARE` of each function. */
  functionShare: DEFAULT_FUNCTION_BUDGET_SHARE,
  /** `CLOUDFRONT_UPDATES_PER_SECOND`. */
  cloudFrontUpdatesPerSecond: AWS_CALL_QUOTAS['cloudfront:UpdateDistribution'].perSecond,
};

/** Environments an unreserved function may have at once in the benchmark. */
const UNRESERVED_LIMIT = 64;
/** Real time the dispatcher waits for a later try to come due before it calls the run over. */
const SCHEDULE_WAIT_REAL_MS = 10 * 60_000;

const r1 = (n: number) => Math.round(n * 10) / 10;
const r2 = (n: number) => Math.round(n * 100) / 100;

/** One function's pacing in each of its environments, as `lambdaClients` builds it. */
const pacingOf = (
  reserved: number | undefined,
  updatesPerSecond: number,
): Record<string, CallQuota> =>
  shareOf(AWS_CALL_QUOTAS, {
    environments: reserved ?? 1,
    budgetShare: KEYROT_SHARE.functionShare,
    perSecond: { 'cloudfront:UpdateDistribution': updatesPerSecond },
  });

export async function scale(moto: MotoServer, run: ScaleRun) {
  const { targets, unpaced = false, clockScale = 1, ownerCallsPerSecond = 0 } = run;
  const updateDistribution = run.updateDistribution ?? EMULATED_UPDATE_DISTRIBUTION;
  const keyrotUpdates = run.keyrotUpdatesPerSecond ?? KEYROT_SHARE.cloudFrontUpdatesPerSecond;
  const clock = new ScaledClock(clockScale);
  const now = () => clock.now().getTime();
  const pacingClock = { now, sleep: (ms: number) => clock.sleep(ms) };
  const serviceQuotas = awsQuotas(updateDistribution);
  const throttle = new QuotaThrottle(serviceQuotas, now);
  const cloudFront = new CloudFrontSimulator({ now });
  // The runner runs the functions' one-time schedules (later tries) on the same clock.
  const env = await startLocalEnvironment({ moto, keyrot: { cloudFront }, runner: { clock } });
  const accountOf = {
    api: env.world.api.session.accountId,
    edge: env.world.edge.session.accountId,
  };
  /** Per function: its calls (every environment's) and how it was paced. */
  const functions = new Map<string, { counter: CallCounter; reserved?: number }>();
  let lastFinished = now();
  const environment: EnvironmentFactory = (sub, reserved) => {
    const name = `${sub.service}/${sub.functionName}`;
    const load = functions.get(name) ?? { counter: new CallCounter(), reserved };
    functions.set(name, load);
    // What lambdaClients builds in each execution environment: its own buckets, at its share.
    const registry = new PacingRegistry(pacingOf(reserved, keyrotUpdates), pacingClock);
    const handler = functionOf(
      buildFunctions(env.world, {
        cloudFront,
        clock,
        lambdaRetry: true,
        decorateClient: decorator((client, account) =>
          throttle.attach(
            load.counter.attach(unpaced ? client : paceCalls(client, { registry })),
            accountOf[account],
          ),
        ),
      }),
      sub,
    );
    const timed: LocalHandler = async (event, context) => {
      try {
        return await handler(event, context);
      } finally {
        lastFinished = Math.max(lastFinished, now());
      }
    };
    return timed;
  };
  const owner = new OwnerTraffic(env.world.api.usagePlanId, ownerCallsPerSecond, clock);
  throttle.attach(owner.client(clientConfig(env.world.api.session)), accountOf.api, 'owner');
  try {
    const list = await provisionTargets(env.world, targets, 'fleet');
    const cpuBefore = moto.cpuSeconds();
    const started = now();
    owner.start();
    await env.runner.putOnApiBus('KeyRotationRequested', { targets: list });
    const { outcomes, environments } = await dispatchConcurrently(env.world, environment, {
      unreservedLimit: UNRESERVED_LIMIT,
      ignoreReservedConcurrency: unpaced,
      nextSchedule: () => env.runner.runNextOneTimeSchedule(SCHEDULE_WAIT_REAL_MS),
    });
    await owner.stop();
    const wallSeconds = (lastFinished - started) / 1000;
    const cpuAfter = moto.cpuSeconds();
    const completed = outcomes.filter(
      (o) => o.service === 'key-reaper' && o.result.status === 'completed',
    ).length;
    const loads: FunctionLoad[] = [...functions].sort().map(([name, { counter, reserved }]) => ({
      name,
      callsPerRotation: Object.fromEntries(
        // Accepted calls: a throttled try took no token, and a later try is counted when it
        // goes through (throttledCalls counts the refused ones).
        [...counter.accepted].sort().map(([call, n]) => [call, r2(n / targets)]),
      ),
      ...(!unpaced && {
        environments: reserved ?? UNRESERVED_LIMIT,
        pacing: pacingOf(reserved, keyrotUpdates),
      }),
    }));
    const floor = quotaFloor(targets, loads, serviceQuotas);
    return {
      targets,
      ...(unpaced && { unpaced }),
      ...(clockScale !== 1 && { clockScale }),
      ...(run.updateDistribution && { updateDistributionPerSecond: updateDistribution.perSecond }),
      ...(run.keyrotUpdatesPerSecond !== undefined && { keyrotUpdatesPerSecond: keyrotUpdates }),
      ...(ownerCallsPerSecond > 0 && { ownerCallsPerSecond }),
      wallSeconds: r1(wallSeconds),
      idealSeconds: r1(floor.seconds),
      idealBoundBy: floor.boundBy,
      failures: targets - completed,
      throttledCalls: throttle.refusedCalls('keyrot'),
      ownerThrottledCalls: throttle.refusedCalls('owner'),
      ...(ownerCallsPerSecond > 0 && { ownerCalls: owner.sent, ownerFailedCalls: owner.failed }),
      throttledByOperation: throttle.refusedByOperation('keyrot'),
      callsPerRotationByFunction: Object.fromEntries(
        loads.map((l) => [l.name, l.callsPerRotation]),
      ),
      environments,
      ...(cpuBefore !== undefined &&
        cpuAfter !== undefined && { emulatorCpuSeconds: r1(cpuAfter - cpuBefore) }),
    };
  } finally {
    await owner.stop();
    await env.stop();
  }
}

/**
 * The account owner's own use of API Gateway while keyrot runs (a console, CI, a deploy): a
 * steady `perSecond` management calls (GetUsagePlan) from a client of its own, with the SDK's
 * standard retry, each sent on schedule whether or not the last has answered.
 */
class OwnerTraffic {
  sent = 0;
  failed = 0;
  private apigw: APIGatewayClient | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;

  constructor(
    private readonly usagePlanId: string,
    private readonly perSecond: number,
    private readonly clock: ScaledClock,
  ) {}

  client(config: ReturnType<typeof clientConfig>): APIGatewayClient {
    this.apigw = new APIGatewayClient(config);
    return this.apigw;
  }

  start(): void {
    if (this.perSecond <= 0 || !this.apigw) return;
    const apigw = this.apigw;
    const interval = 1000 / this.perSecond;
    const inFlight = new Set<Promise<void>>();
    const loop = async () => {
      const start = this.clock.now().getTime();
      for (let i = 0; !this.stopping; i++) {
        const wait = start + i * interval - this.clock.now().getTime();
        if (wait > 0) await this.clock.sleep(wait);
        if (this.stopping) break;
        this.sent++;
        const call: Promise<void> = apigw
          .send(new GetUsagePlanCommand({ usagePlanId: this.usagePlanId }))
          .then(
            () => undefined,
            () => {
              this.failed++;
            },
          )
          .finally(() => inFlight.delete(call));
        inFlight.add(call);
      }
      await Promise.all(inFlight);
    };
    this.running = loop();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
    this.apigw?.destroy();
    this.apigw = undefined;
  }
}
