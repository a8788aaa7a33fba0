/**
 * `npm run bench` (`-- --smoke` for the fast version the tests run): measures keyrot on the
 * local emulator and writes bench/results.json and the table in BENCHMARKS.md. Timings are
 * medians or ratios of one run on this machine, printed with it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { paceCalls } from '@keyrot/shared';
import { clientConfig } from '../harness/accounts';
import { rotationIds, reportRotation } from '../harness/inspect';
import { startLocalEnvironment } from '../harness/local-env';
import { startMoto, type MotoServer } from '../harness/moto';
import { keyrotBundle, naiveCjsBundle, SERVICES } from '../scripts/bundles';
import { CallCounter, CapacityEstimate, decorator } from './instrument';
import { API_GATEWAY_QUOTAS } from '../harness/quota-sim';
import { EMULATED_UPDATE_DISTRIBUTION, KEYROT_SHARE, scale, type ScaleRun } from './scale';
import {
  keyrotUnderTraffic,
  seedUnderTraffic,
  type ClientTraffic,
  type TrafficSettings,
} from './traffic-world';

const root = path.resolve(__dirname, '..');

export interface BenchOptions {
  readonly smoke: boolean;
  readonly controlPlaneRuns: number;
  readonly coldRuns: number;
  /** (4): fleet sizes, and the unpaced negative control. */
  readonly scale: readonly ScaleRun[];
  readonly propagationMs: number;
  readonly edgeLocations: number;
  /** Write bench/results.json and BENCHMARKS.md's table. */
  readonly write: boolean;
}

/** 100 targets with CloudFront at 1 UpdateDistribution per 10 s (a burst of 5, as by default). */
const CLOUDFRONT_SLOW = {
  targets: 100,
  clockScale: 10,
  updateDistribution: { perSecond: 0.1, burst: 5 },
} as const;

export const FULL: BenchOptions = {
  smoke: false,
  controlPlaneRuns: 20,
  coldRuns: 10,
  // A compressed clock where real time would take minutes (the pacing, the emulated quotas
  // and the functions all read it; BENCHMARKS.md, figure 4). The negative control runs in
  // real time, as the SDK's retry delays do.
  scale: [
    { targets: 1 },
    { targets: 10 },
    { targets: 100, clockScale: 2 },
    { targets: 1000, clockScale: 4 },
    // CloudFront at 1 UpdateDistribution per 10 s: keyrot lowered to that rate, as
    // docs/decisions.md advises, then left at its default of 1/s (the SDK's retries and
    // keyrot's own handling of throttling must absorb the difference).
    { ...CLOUDFRONT_SLOW, keyrotUpdatesPerSecond: CLOUDFRONT_SLOW.updateDistribution.perSecond },
    CLOUDFRONT_SLOW,
    { targets: 100, clockScale: 2, ownerCallsPerSecond: 3 },
    { targets: 100, unpaced: true },
  ],
  propagationMs: 60_000,
  edgeLocations: 10,
  write: true,
};
export const SMOKE: BenchOptions = {
  smoke: true,
  controlPlaneRuns: 1,
  coldRuns: 1,
  scale: [{ targets: 1 }, { targets: 3, clockScale: 5, ownerCallsPerSecond: 3 }],
  propagationMs: 600,
  edgeLocations: 4,
  write: false,
};

const median = (xs: number[]) => quantile(xs, 0.5);
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const i = Math.min(s.length - 1, Math.ceil(q * s.length) - 1);
  return s[Math.max(0, i)]!;
}
const r1 = (n: number) => Math.round(n * 10) / 10;

function machine() {
  return {
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}`,
    memoryGiB: r1(os.totalmem() / 2 ** 30),
    node: process.version,
  };
}

/** (1) and (2): calls and capacity per rotation, control-plane time of 20 rotations. */
async function rotations(moto: MotoServer, options: BenchOptions) {
  const calls = new CallCounter();
  const capacity = new CapacityEstimate();
  const env = await startLocalEnvironment({
    moto,
    keyrot: {
      decorateClient: decorator((client) => capacity.attach(calls.attach(paceCalls(client)))),
    },
  });
  try {
    const times: number[] = [];
    for (let i = 0; i < options.controlPlaneRuns; i++) {
      const started = performance.now();
      await env.runner.fireSchedule();
      await env.runner.drain();
      times.push(performance.now() - started);
      if (i === 0) {
        const ids = await rotationIds(env.world);
        const report = await reportRotation(env.world, ids.at(-1)!);
        if (report.status !== 'COMPLETED') throw new Error(`rotation ended ${report.status}`);
      }
    }
    const n = options.controlPlaneRuns;
    const callsPerRotation = calls.byService(n);
    return {
      callsPerRotation,
      // Every one counts against API Gateway's total of 10 management calls/s per account.
      apiGatewayCallsPerRotation: Object.values(callsPerRotation.APIGateway ?? {}).reduce(
        (a, b) => a + b,
        0,
      ),
      dynamoDbUnitsPerRotation: {
        method: 'computed from item sizes (moto reports a constant ConsumedCapacity)',
        readUnits: Math.round((capacity.readUnits / n) * 10) / 10,
        writeUnits: Math.round((capacity.writeUnits / n) * 10) / 10,
      },
      controlPlaneMs: {
        runs: n,
        median: Math.round(median(times)),
        p95: Math.round(quantile(times, 0.95)),
      },
    };
  } finally {
    await env.stop();
  }
}

/** (3): bundle bytes and cold init (fresh node: import + first invocation), both bundles. */
async function bundles(moto: MotoServer, options: BenchOptions) {
  const env = await startLocalEnvironment({ moto });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'keyrot-bench-'));
  try {
    const session = env.world.api.session;
    const config = clientConfig(session);
    const credentials = config.credentials as {
      accessKeyId: string;
      secretAccessKey: string;
      sessionToken?: string;
    };
    const childEnv = {
      PATH: process.env.PATH ?? '',
      AWS_REGION: session.region,
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      ...(credentials.sessionToken && { AWS_SESSION_TOKEN: credentials.sessionToken }),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      API_ACCOUNT_ID: env.world.api.session.accountId,
      EDGE_ACCOUNT_ID: env.world.edge.session.accountId,
      KEYROT_STAGE: env.world.edge.keyrotStage,
      EVENT_BUS_NAME: env.world.api.busName,
      LEDGER_TABLE_NAME: env.world.api.ledgerTableName,
      EDGE_KMS_KEY_ARN: env.world.edge.kmsKeyArn,
      POWERTOOLS_LOG_LEVEL: 'CRITICAL',
      POWERTOOLS_METRICS_DISABLED: 'true',
    };
    const bytes: Record<string, { keyrot: number; naiveCjs: number; ratio: number }> = {};
    const cold: Record<string, { keyrot: number; naiveCjs: number; ratio: number }> = {};
    for (const service of SERVICES) {
      const files = {
        keyrot: path.join(dir, `${service}.mjs`),
        naiveCjs: path.join(dir, `${service}.cjs`),
      };
      const [esm, cjs] = await Promise.all([keyrotBundle(service), naiveCjsBundle(service)]);
      writeFileSync(files.keyrot, esm);
      writeFileSync(files.naiveCjs, cjs);
      bytes[service] = {
        keyrot: esm.length,
        naiveCjs: cjs.length,
        ratio: r3(esm.length / cjs.length),
      };
      const times = { keyrot: [] as number[], naiveCjs: [] as number[] };
      for (let i = 0; i < options.coldRuns; i++) {
        for (const kind of ['keyrot', 'naiveCjs'] as const) {
          times[kind].push(coldStart(files[kind], COLD_START_EXPORT[service], childEnv));
        }
      }
      const k = median(times.keyrot);
      const c = median(times.naiveCjs);
      cold[service] = { keyrot: r1(k), naiveCjs: r1(c), ratio: r3(k / c) };
    }
    return { bundleBytes: bytes, coldInitMs: { runs: options.coldRuns, ...cold } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await env.stop();
  }
}
const r3 = (n: number) => Math.round(n * 1000) / 1000;

/** The export each cold start invokes: a service's one handler, the edge-updater's `updateEdge`. */
const COLD_START_EXPORT: Record<(typeof SERVICES)[number], string> = {
  'key-issuer': 'handler',
  'edge-updater': 'updateEdge',
  'key-reaper': 'handler',
};

/** One fresh Node process: import the bundle and invoke `exportName` once; returns ms. */
function coldStart(file: string, exportName: string, env: Record<string, string>): number {
  // The event comes from a source keyrot does not trust: the handler builds its clients,
  // rejects it and records the rejection (a ledger write), touching no key.
  const script = `
    const { performance } = require('node:perf_hooks');
    const t0 = performance.now();
    import(${JSON.stringify(file)}).then(async (m) => {
      const event = { id: 'bench-cold', account: '000000000000', source: 'bench', 'detail-type': 'KeyRotationRequested', detail: {} };
      await m[${JSON.stringify(exportName)}](event, { functionName: 'bench', awsRequestId: 'bench', getRemainingTimeInMillis: () => 900000 });
      process.stdout.write(String(performance.now() - t0));
    });`;
  const out = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
  const ms = Number(out.stdout);
  if (out.status !== 0 || !Number.isFinite(ms)) {
    throw new Error(`cold start of ${path.basename(file)} failed: ${out.stderr.slice(0, 500)}`);
  }
  return ms;
}

/**
 * (5): keyrot and the seed's Lambda, each in a fresh local world with the traffic harness of
 * the chaos tests (bench/traffic-world.ts), in the same propagation, API Gateway and traffic
 * settings. The headline is the case the seed was built for, its edge key listed first on the
 * usage plan; then the seed once more with the partner's key listed first.
 */
export async function traffic(moto: MotoServer, options: BenchOptions) {
  const settings: TrafficSettings = {
    // A simulated second takes 0.2 s: short enough to keep the smoke run fast, slow enough
    // that the seed's own calls (moto's time, 5 times over) leave its outage open on a busy
    // machine.
    clockScale: 5,
    propagationMs: options.propagationMs,
    edgeLocations: options.edgeLocations,
    adoptionSeed: 5,
    // As in the chaos tests (test/support/chaos.ts).
    activationDelayMs: 10_000,
    deactivationDelayMs: 5_000,
    load: { concurrency: 4, pauseMs: 5 },
    partnerLoad: { concurrency: 1, pauseMs: 10 },
    graceMs: 2_000,
  };
  const keyrot = await keyrotUnderTraffic(moto, settings);
  const seed = await seedUnderTraffic(moto, settings, 'edge-key-first');
  if (!seed.oldKeyDeleted || seed.otherClientKeyDeleted) {
    throw new Error('traffic: the seed baseline did not delete the edge key it was built for');
  }
  const otherFirst = await seedUnderTraffic(moto, settings, 'other-key-first');
  const client = (t: ClientTraffic) => ({
    requests: t.requests,
    failedRequests: t.failedRequests,
    outageSeconds: t.outageSeconds,
    failures: t.failures,
  });
  return {
    model:
      `harness/traffic on a ${settings.clockScale}x compressed clock: ${settings.edgeLocations} CloudFront edge locations ` +
      `adopting an update within ${settings.propagationMs / 1000} s, API Gateway honouring a new key after ` +
      `${settings.activationDelayMs / 1000} s and a deleted one for ${settings.deactivationDelayMs / 1000} s; ` +
      `${settings.load.concurrency} request loops through the edge, 1 partner loop to the origin with its own key`,
    settings,
    keyrot: {
      ...client(keyrot.edge),
      readinessCheck: true,
      oldKeyDeleted: keyrot.oldKeyDeleted,
      partner: client(keyrot.partner),
      otherClientKeyDeleted: keyrot.otherClientKeyDeleted,
    },
    seedBaseline: {
      ...client(seed.edge),
      failedWith: seed.edge.failedWith,
      failedByEdge: seed.edge.failedByEdge,
      statusCode: seed.statusCode,
      oldKeyDeleted: seed.oldKeyDeleted,
      callsPerRotation: seed.callsPerRotation,
      partner: client(seed.partner),
      otherClientKeyDeleted: seed.otherClientKeyDeleted,
      // The same Lambda when GetUsagePlanKeys lists the partner's key first: it deletes that.
      otherClientKeyFirst: {
        statusCode: otherFirst.statusCode,
        edge: { ...client(otherFirst.edge), failedWith: otherFirst.edge.failedWith },
        partner: client(otherFirst.partner),
        edgeKeyDeleted: otherFirst.oldKeyDeleted,
        otherClientKeyDeleted: otherFirst.otherClientKeyDeleted,
      },
    },
  };
}

export async function runBench(options: BenchOptions) {
  const moto = await startMoto();
  try {
    const log = (what: string) => process.stderr.write(`bench: ${what}\n`);
    const host = machine();
    log(`machine: ${host.os}, ${host.cpus}, ${host.memoryGiB} GiB, Node ${host.node}`);
    log('calls per rotation and control-plane time');
    const perRotation = await rotations(moto, options);
    log('bundles and cold init');
    const sizes = await bundles(moto, options);
    const scaleRows = [];
    for (const run of options.scale) {
      log(`scale: ${run.targets} targets${run.unpaced ? ', without pacing' : ''}`);
      scaleRows.push(await scale(moto, run));
    }
    log('traffic: keyrot and the seed baseline');
    const trafficResult = await traffic(moto, options);
    return {
      machine: host,
      smoke: options.smoke,
      measuredAt: new Date().toISOString(),
      quotas: QUOTAS,
      ...perRotation,
      ...sizes,
      scale: scaleRows,
      traffic: trafficResult,
    };
  } finally {
    await moto.stop();
  }
}

/** The quotas the scale runs are held to, and keyrot's configured share of them. */
const QUOTAS = {
  apiGatewayTotalPerSecond: API_GATEWAY_QUOTAS['apigateway:total'].perSecond,
  apiGatewayTotalBurst: API_GATEWAY_QUOTAS['apigateway:total'].burst,
  createApiKeyPerSecond: API_GATEWAY_QUOTAS['apigateway:CreateApiKey'].perSecond,
  deleteApiKeyPerSecond: API_GATEWAY_QUOTAS['apigateway:DeleteApiKey'].perSecond,
  /** Per-operation bursts: not published; one second's worth assumed. */
  createDeleteApiKeyBurst: API_GATEWAY_QUOTAS['apigateway:CreateApiKey'].burst,
  keyrotShare: KEYROT_SHARE.keyrotShare,
  keyrotFunctionShare: KEYROT_SHARE.functionShare,
  /** CloudFront's, as emulated unless a row says otherwise (CloudFront publishes none). */
  updateDistributionPerSecond: EMULATED_UPDATE_DISTRIBUTION.perSecond,
  updateDistributionBurst: EMULATED_UPDATE_DISTRIBUTION.burst,
  keyrotUpdateDistributionPerSecond: KEYROT_SHARE.cloudFrontUpdatesPerSecond,
};

export type BenchResults = Awaited<ReturnType<typeof runBench>>;

if (require.main === module) {
  const smoke = process.argv.includes('--smoke');
  const scaleArg = process.argv.indexOf('--scale');
  const options = {
    ...(smoke ? SMOKE : FULL),
    // e.g. `--scale 1,10,100` to measure fewer fleet sizes.
    ...(scaleArg > 0 && {
      scale: (process.argv[scaleArg + 1] ?? '').split(',').map((n) => ({ targets: Number(n) })),
    }),
  };
  const resultsFile = path.join(root, 'bench', 'results.json');
  const run = process.argv.includes('--table-only')
    ? // Rewrites the table from the committed results, measuring nothing.
      writeTable(JSON.parse(readFileSync(resultsFile, 'utf8')) as BenchResults)
    : runBench(options).then(async (results) => {
        const json = `${JSON.stringify(results, null, 2)}\n`;
        process.stdout.write(json);
        if (options.write) {
          writeFileSync(resultsFile, await formatted(resultsFile, json));
          await writeTable(results);
        }
      });
  run.catch((error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}

/** Replaces the generated table in BENCHMARKS.md (between its markers), formatted. */
async function writeTable(r: BenchResults): Promise<void> {
  const cold = r.coldInitMs as unknown as Record<
    string,
    { keyrot: number; naiveCjs: number; ratio: number }
  >;
  const file = path.join(root, 'BENCHMARKS.md');
  const lines = [
    `Measured ${r.measuredAt} on ${r.machine.os}, ${r.machine.cpus}, Node ${r.machine.node}.`,
    '',
    '| figure | keyrot | comparison |',
    '| --- | --- | --- |',
    `| AWS calls per rotation | ${Object.entries(r.callsPerRotation)
      .map(([s, ops]) => `${s} ${Object.values(ops).reduce((a, b) => a + b, 0)}`)
      .join(', ')} (API Gateway: ${Object.entries(r.callsPerRotation.APIGateway ?? {})
      .map(([op, n]) => `${op} ${n}`)
      .join(', ')}) | seed: ${Object.entries(r.traffic.seedBaseline.callsPerRotation)
      .map(([s, ops]) => `${s} ${Object.values(ops).reduce((a, b) => a + b, 0)}`)
      .join(', ')}, no ledger, no events |`,
    `| DynamoDB units per rotation (computed) | ${r.dynamoDbUnitsPerRotation.readUnits} RCU, ${r.dynamoDbUnitsPerRotation.writeUnits} WCU | seed: no ledger |`,
    `| control-plane time of one rotation (${r.controlPlaneMs.runs} runs) | median ${r.controlPlaneMs.median} ms, p95 ${r.controlPlaneMs.p95} ms | |`,
    ...SERVICES.map(
      (s) =>
        `| ${s} bundle / cold init (median of ${r.coldInitMs.runs}) | ${(r.bundleBytes[s]!.keyrot / 1024).toFixed(0)} KiB / ${cold[s]!.keyrot} ms | naive CJS ${(r.bundleBytes[s]!.naiveCjs / 1024).toFixed(0)} KiB / ${cold[s]!.naiveCjs} ms (ratios ${(r.bundleBytes[s]!.ratio * 100).toFixed(0)}% / ${(cold[s]!.ratio * 100).toFixed(0)}%) |`,
    ),
    ...r.scale.map((s) => `| ${scaleFigure(s)} | ${scaleResult(s)} | ${scaleComparison(s)} |`),
    `| requests failed during one rotation (simulated ${r.traffic.settings.propagationMs / 1000} s propagation, ${r.traffic.settings.edgeLocations} edge locations) | ${r.traffic.keyrot.failedRequests} of ${r.traffic.keyrot.requests}; partner client ${r.traffic.keyrot.partner.failedRequests} of ${r.traffic.keyrot.partner.requests} | seed: ${r.traffic.seedBaseline.failedRequests} of ${r.traffic.seedBaseline.requests}, outage ${r.traffic.seedBaseline.outageSeconds} s; with the partner's key listed first it deletes that key: partner ${r.traffic.seedBaseline.otherClientKeyFirst.partner.failedRequests} of ${r.traffic.seedBaseline.otherClientKeyFirst.partner.requests}, edge ${r.traffic.seedBaseline.otherClientKeyFirst.edge.failedRequests} of ${r.traffic.seedBaseline.otherClientKeyFirst.edge.requests} |`,
  ];
  const text = readFileSync(file, 'utf8');
  const start = '<!-- bench:table -->';
  const end = '<!-- /bench:table -->';
  const before = text.slice(0, text.indexOf(start) + start.length);
  const after = text.slice(text.indexOf(end));
  writeFileSync(file, await formatted(file, `${before}\n\n${lines.join('\n')}\n\n${after}`));
}

type ScaleRow = BenchResults['scale'][number];

function scaleFigure(s: ScaleRow): string {
  const conditions = [
    'updateDistributionPerSecond' in s &&
      `CloudFront throttling at ${s.updateDistributionPerSecond} UpdateDistribution/s, keyrot pacing at ${'keyrotUpdatesPerSecond' in s ? s.keyrotUpdatesPerSecond : `its default ${KEYROT_SHARE.cloudFrontUpdatesPerSecond}`}/s`,
    'ownerCallsPerSecond' in s && `the owner's ${s.ownerCallsPerSecond} calls/s alongside`,
    'unpaced' in s && '**without pacing** (negative control)',
  ].filter(Boolean);
  const clock = 'clockScale' in s ? ` (${s.clockScale}× clock)` : '';
  return `${s.targets} target(s) under AWS's quotas${conditions.length ? `, ${conditions.join(', ')}` : ''}${clock}`;
}

function scaleResult(s: ScaleRow): string {
  const owner =
    'ownerCalls' in s
      ? `; owner: ${s.ownerThrottledCalls} of ${s.ownerCalls} calls throttled, ${s.ownerFailedCalls} failed`
      : '';
  return `${s.wallSeconds} s, ${s.failures} failures, ${s.throttledCalls} calls throttled${owner} (moto CPU ${s.emulatorCpuSeconds ?? '?'} s)`;
}

function scaleComparison(s: ScaleRow): string {
  const ratio =
    s.idealSeconds > 0 ? ` (${Math.round((s.wallSeconds / s.idealSeconds) * 100)} %)` : '';
  return `floor ${s.idealSeconds} s${ratio}, set by ${s.idealBoundBy}`;
}

/** `text` as prettier formats `file` (npm run lint checks the files the bench writes). */
async function formatted(file: string, text: string): Promise<string> {
  // Loaded here, not at the top: prettier 3 imports its plugins dynamically, which jest's
  // CommonJS runtime refuses, and the bench's smoke test (under jest) never writes.
  const prettier = await import('prettier');
  const config = await prettier.resolveConfig(file);
  return prettier.format(text, { ...config, filepath: file });
}
