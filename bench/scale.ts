/**
 * Benchmark part 4: a fleet of N targets rotated from one `KeyRotationRequested`, under the
 * emulated service throttling (bench/instrument.ts). Each function runs in execution
 * environments of its own, as on Lambda: as many as its reserved concurrency in
 * serverless.yml allows (issuer and reaper), each with its own pacing buckets at its share of
 * the limit, as `lambdaClients` builds them; the edge-updater, unreserved, gets an environment
 * per concurrent event (up to 64).
 */
import { performance } from 'node:perf_hooks';
import {
  AWS_CALL_QUOTAS,
  DEFAULT_FUNCTION_BUDGET_SHARE,
  paceCalls,
  PacingRegistry,
  shareOf,
} from '@keyrot/shared';
import { CloudFrontSimulator } from '../harness/cloudfront-sim';
import { startLocalEnvironment } from '../harness/local-env';
import { buildFunctions, functionOf } from '../harness/local-keyrot';
import type { MotoServer } from '../harness/moto';
import { dispatchConcurrently, type EnvironmentFactory } from './dispatch';
import { decorator, EMULATED_LIMITS, ServiceThrottle } from './instrument';
import { provisionTargets } from './targets';

export interface ScaleRun {
  readonly targets: number;
  /**
   * The negative control: keyrot without its pacing and reserved concurrency (every function
   * gets an environment per concurrent event), to show that the emulated throttling bites.
   */
  readonly unpaced?: boolean;
}

/** Environments an unreserved function may have at once in the benchmark. */
const UNRESERVED_LIMIT = 64;

const r1 = (n: number) => Math.round(n * 10) / 10;

export async function scale(moto: MotoServer, run: ScaleRun) {
  const { targets, unpaced = false } = run;
  const throttle = new ServiceThrottle(EMULATED_LIMITS);
  const cloudFront = new CloudFrontSimulator();
  const env = await startLocalEnvironment({ moto, keyrot: { cloudFront } });
  const environment: EnvironmentFactory = (sub, reserved) => {
    // What lambdaClients builds in each execution environment: its own buckets, at its share.
    const registry = new PacingRegistry(
      shareOf(AWS_CALL_QUOTAS, {
        environments: reserved ?? 1,
        budgetShare: DEFAULT_FUNCTION_BUDGET_SHARE,
      }),
    );
    const functions = buildFunctions(env.world, {
      cloudFront,
      lambdaRetry: true,
      decorateClient: decorator((client, account) =>
        throttle.attach(unpaced ? client : paceCalls(client, { registry }), account),
      ),
    });
    return functionOf(functions, sub);
  };
  try {
    const list = await provisionTargets(env.world, targets, 'fleet');
    const cpuBefore = moto.cpuSeconds();
    const started = performance.now();
    await env.runner.putOnApiBus('KeyRotationRequested', { targets: list });
    const { outcomes, environments } = await dispatchConcurrently(env.world, environment, {
      unreservedLimit: UNRESERVED_LIMIT,
      ignoreReservedConcurrency: unpaced,
    });
    const wallSeconds = (performance.now() - started) / 1000;
    const cpuAfter = moto.cpuSeconds();
    const completed = outcomes.filter(
      (o) => o.service === 'key-reaper' && o.result.status === 'completed',
    ).length;
    const slowest = Math.max(...Object.values(EMULATED_LIMITS).map((l) => 1 / l.perSecond));
    return {
      targets,
      ...(unpaced && { unpaced }),
      wallSeconds: r1(wallSeconds),
      // The limits allow one CreateApiKey, DeleteApiKey and UpdateDistribution per 200 ms.
      idealSeconds: r1((targets - 1) * slowest),
      failures: targets - completed,
      throttledCalls: throttle.total(),
      throttledByOperation: Object.fromEntries(throttle.throttled),
      environments,
      ...(cpuBefore !== undefined &&
        cpuAfter !== undefined && { emulatorCpuSeconds: r1(cpuAfter - cpuBefore) }),
    };
  } finally {
    await env.stop();
  }
}
