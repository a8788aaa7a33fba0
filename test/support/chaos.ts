/**
 * The chaos tests' world: the local two-account AWS on moto, keyrot's handlers on compressed
 * time, the origin and edge simulators with live traffic through them, and fault injection.
 * Each test gets a fresh world on its file's moto server; `judge` reads back the end state and
 * checks it, and `recordRow` keeps the row for the table `npm run chaos` prints.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { APIGatewayClient, GetUsagePlanKeysCommand } from '@aws-sdk/client-api-gateway';
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { errorOf, fingerprintOf, type Step, type StepRecord } from '@keyrot/shared';
import { clientConfig } from '../../harness/accounts';
import { correctUsagePlanKeys } from '../../harness/apigateway-sim';
import { CloudFrontSimulator } from '../../harness/cloudfront-sim';
import { FaultInjector, type FaultRule } from '../../harness/faults';
import {
  keyFingerprint,
  ledgerOf,
  readCurrentKeyReference,
  rotationIds,
  TARGET_NAME,
} from '../../harness/inspect';
import type { LocalEnvironment } from '../../harness/local-env';
import type { LocalKeyrotOptions } from '../../harness/local-keyrot';
import { startMoto, type MotoServer } from '../../harness/moto';
import { ORIGIN_ID } from '../../harness/provision';
import {
  LAMBDA_RETRY_DELAYS_MS,
  type ConcurrentDuplicates,
  type EventRunnerOptions,
} from '../../harness/runner';
import { ScaledClock, seededRandom } from '../../harness/sim-clock';
import { EdgeProxy } from '../../harness/traffic/edge-proxy';
import { LoadClient, type LoadOptions, type LoadReport } from '../../harness/traffic/load';
import { OriginSimulator } from '../../harness/traffic/origin';
import { startLocalEnvironment } from '../../harness/local-env';
import { findLeaks, currentKeyValues } from './local';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

export interface ChaosOptions {
  /** Simulated ms per real ms (default 200: a minute takes 0.3 s). */
  readonly scale?: number;
  /** CloudFront's propagation window, simulated (default 1 minute). */
  readonly propagationMs?: number;
  readonly edgeLocations?: number;
  /** False: CloudFront's IfMatch check is not atomic with the write (a negative control). */
  readonly atomicEdgeUpdates?: boolean;
  /** Seed of the edge locations' adoption delays. */
  readonly seed?: number;
  /** API Gateway's delay before it honours a new key, and after it stops (simulated). */
  readonly activationDelayMs?: number;
  readonly deactivationDelayMs?: number;
  /** The issuer's readiness probe against the origin (default on). */
  readonly readiness?: boolean;
  readonly readinessTimeoutMs?: number;
  /** The reaper's grace after Deployed (simulated, default 30 s). */
  readonly graceMs?: number;
  readonly faults?: readonly FaultRule[];
  /**
   * Every delivery of `detailType` goes to `copies` environments at once; the other copies
   * start right after the first copy's call matching `after` took effect (at the same
   * instant when absent).
   */
  readonly concurrentDuplicates?: {
    readonly detailType: string;
    readonly copies: number;
    readonly after?: Omit<FaultRule, 'fault' | 'action' | 'times' | 'skip'>;
  };
  readonly runner?: Omit<EventRunnerOptions, 'clock' | 'hooks'>;
  readonly keyrot?: Omit<
    LocalKeyrotOptions,
    'clock' | 'cloudFront' | 'decorateClient' | 'healthCheckUrl' | 'graceSeconds'
  >;
  readonly load?: LoadOptions;
  /** Emulate CloudTrail's UpdateDistribution records for the drift guard (default off). */
  readonly cloudTrail?: boolean;
}

/** One chaos world: moto accounts, handlers, simulators, traffic and faults. */
export class ChaosWorld {
  load: LoadClient | undefined;

  private constructor(
    /** Every key value seen (initial, created, read back): what must never leak. */
    readonly keyValues: Set<string>,
    readonly env: LocalEnvironment,
    readonly clock: ScaledClock,
    readonly cloudFront: CloudFrontSimulator,
    readonly origin: OriginSimulator,
    readonly proxy: EdgeProxy,
    readonly faults: FaultInjector,
    readonly otherClientFingerprint: string | null,
    private readonly loadOptions: LoadOptions,
  ) {}

  static async start(moto: MotoServer, options: ChaosOptions = {}): Promise<ChaosWorld> {
    const clock = new ScaledClock(options.scale ?? 200);
    const cloudFront = new CloudFrontSimulator({
      propagationMs: options.propagationMs ?? MINUTE,
      edgeLocations: options.edgeLocations ?? 4,
      now: () => clock.now().getTime(),
      random: seededRandom(options.seed ?? 1),
      atomicUpdates: options.atomicEdgeUpdates ?? true,
    });
    const origin = await OriginSimulator.listen({
      clock,
      activationDelayMs: options.activationDelayMs ?? 10 * SECOND,
      deactivationDelayMs: options.deactivationDelayMs ?? 5 * SECOND,
    });
    const faults = new FaultInjector(options.faults ?? [], () => clock.now().getTime());
    const keyValues = new Set<string>();
    const env = await startLocalEnvironment({
      moto,
      ...(options.cloudTrail && { cloudTrail: true }),
      keyrot: {
        lockSeconds: 6 * 3600,
        pollIntervalMs: 20 * SECOND,
        maxWaitMs: 14 * MINUTE,
        ...options.keyrot,
        clock,
        cloudFront,
        graceSeconds: (options.graceMs ?? 30 * SECOND) / SECOND,
        decorateClient: (client) =>
          observeKeyChanges(tapKeyValues(faults.decorateClient(client), keyValues), () =>
            origin.refresh(),
          ),
        ...((options.readiness ?? true) && {
          healthCheckUrl: origin.healthUrl,
          // A timeout in real seconds too: a busy machine must not fire it.
          readinessTimeoutMs:
            options.readinessTimeoutMs ?? Math.max(5 * MINUTE, 5 * SECOND * clock.scale),
        }),
      },
      runner: {
        retryDelaysMs: LAMBDA_RETRY_DELAYS_MS,
        ...options.runner,
        ...(options.concurrentDuplicates && {
          concurrentDuplicates: concurrentDuplicates(options.concurrentDuplicates, faults),
        }),
        hooks: faults.hooks,
      },
    });
    try {
      await origin.watch(env.world);
      await cloudFront.track(
        new CloudFrontClient(clientConfig(env.world.edge.session)),
        env.world.edge.distributionId,
      );
      const proxy = await EdgeProxy.start({
        cloudFront,
        distributionId: env.world.edge.distributionId,
        originBaseUrl: origin.baseUrl,
      });
      const world = new ChaosWorld(
        keyValues,
        env,
        clock,
        cloudFront,
        origin,
        proxy,
        faults,
        await keyFingerprint(env.world, env.world.api.otherClientKeyId),
        {
          edgeLocations: cloudFront.edgeLocations,
          // Failures are timed on the functions' clock, comparable with the ledger's times.
          clock,
          concurrency: 2,
          pauseMs: 10,
          maxDurationMs: 120_000,
          ...options.load,
        },
      );
      for (const value of await currentKeyValues(env)) keyValues.add(value);
      return world;
    } catch (error) {
      await origin.stop();
      await env.stop();
      throw error;
    }
  }

  /** Starts the live traffic through the edges. */
  startTraffic(): void {
    this.load = new LoadClient(this.proxy.baseUrl, this.loadOptions);
    this.load.start();
  }

  /**
   * Keeps the traffic on long enough for a deleted key to stop working at the origin (its
   * deactivation delay and two reads of the plan), then stops it and reports.
   */
  async stopTraffic(): Promise<LoadReport | undefined> {
    if (!this.load) return undefined;
    await this.clock.sleep(10 * SECOND);
    await new Promise((resolve) => setTimeout(resolve, 150));
    return this.load.stop();
  }

  /** Fires the monthly schedule and delivers events until all is quiet. */
  async rotate(): Promise<void> {
    await this.env.runner.fireSchedule();
    await this.env.runner.drain();
  }

  /** The newest rotation of the target, if any. */
  async latestRotationId(): Promise<string | undefined> {
    return (await rotationIds(this.env.world)).at(-1);
  }

  async stop(): Promise<void> {
    if (this.load) await this.load.stop();
    await this.proxy.stop();
    await this.origin.stop();
    await this.env.stop();
  }
}

/** The runner's concurrent duplicates, gated (per delivery) on the first copy's call. */
function concurrentDuplicates(
  { detailType, copies, after }: NonNullable<ChaosOptions['concurrentDuplicates']>,
  faults: FaultInjector,
): ConcurrentDuplicates {
  if (!after) return { detailType, copies };
  return {
    detailType,
    copies,
    startOthers: () =>
      new Promise<void>((open) =>
        faults.add({ ...after, fault: 'action-after', action: async () => open() }),
      ),
  };
}

/**
 * Notes every key value that API Gateway hands the functions (created keys, values read
 * back), so the leak check knows keys that were deleted again before the end of the test.
 */
function tapKeyValues<C extends { middlewareStack: unknown }>(client: C, values: Set<string>): C {
  const stack = client.middlewareStack as APIGatewayClient['middlewareStack'];
  stack.add(
    (next) => async (args) => {
      const result = await next(args);
      const output = result.output as { value?: unknown; items?: { value?: unknown }[] };
      if (typeof output.value === 'string') values.add(output.value);
      for (const item of output.items ?? []) {
        if (typeof item.value === 'string') values.add(item.value);
      }
      return result;
    },
    { step: 'initialize', name: 'keyrotChaosValueTap' },
  );
  return client;
}

const KEY_CHANGES = [
  'CreateUsagePlanKeyCommand',
  'DeleteApiKeyCommand',
  'DeleteUsagePlanKeyCommand',
];

/**
 * Tells the origin to read the plan again after a function changed it, as API Gateway's
 * control plane learns of a change at once; its activation delay runs from there. (The
 * origin also reads the plan on its own, for changes made by anyone else.)
 */
function observeKeyChanges<C extends { middlewareStack: unknown }>(
  client: C,
  changed: () => void,
): C {
  const stack = client.middlewareStack as APIGatewayClient['middlewareStack'];
  stack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } finally {
        if (KEY_CHANGES.includes(context.commandName ?? '')) changed();
      }
    },
    { step: 'initialize', name: 'keyrotChaosObserveKeyChanges' },
  );
  return client;
}

/** Starts moto once for the file and gives each test a fresh chaos world, stopped after it. */
export function useChaos(): (options?: ChaosOptions) => Promise<ChaosWorld> {
  let moto: MotoServer | undefined;
  const open: ChaosWorld[] = [];
  beforeAll(async () => {
    moto = await startMoto();
  }, 60_000);
  afterEach(async () => {
    await Promise.all(open.splice(0).map((world) => world.stop()));
  });
  afterAll(async () => {
    await moto?.stop();
  });
  return async (options) => {
    const world = await ChaosWorld.start(moto!, options);
    open.push(world);
    return world;
  };
}

/** `IN_PROGRESS`: started, no outcome yet; `NONE`: no rotation started. */
export type Outcome = 'COMPLETED' | 'FAILED' | 'REFUSED' | 'IN_PROGRESS' | 'NONE';

/** What a row expects of the end state. */
export interface Expectation {
  /** The newest rotation's outcome (`NONE`: no rotation started). */
  readonly outcome: Outcome;
  /** Steps the rotation must have recorded (besides the outcome). */
  readonly steps?: readonly Step[];
  /** Steps it must not have recorded. */
  readonly withoutSteps?: readonly Step[];
  /** Which key every edge location must send at the end (`any`: each a live one). */
  readonly edgeSends: 'new' | 'old' | 'any';
  /** False when the usage plan itself is gone (no key can be live on it). */
  readonly edgeKeyLive?: boolean;
  /** Whether the lock must still be held by the rotation at the end (default: released). */
  readonly lockHeld?: boolean;
  /**
   * `zero` (default): every request succeeds; `some`: a negative control, failures expected;
   * `until-healed`: requests fail after the edge drifted to a dead key, and none sent after
   * the drift guard's heal deployed (the target's HEALED entry) fails.
   */
  readonly failedRequests?: 'zero' | 'some' | 'until-healed' | 'not-measured';
}

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail?: string;
}

export interface Row {
  readonly id: string;
  readonly group: string;
  readonly fault: string;
  readonly endState: string;
  readonly requests: { readonly sent: number; readonly failed: number } | null;
  /** True for a negative control: its failed requests are the point, not a defect. */
  readonly control: boolean;
  /**
   * True for a case whose fault is itself an outage (a header reverted to a deleted key):
   * requests fail until keyrot heals it, which its checks bound; not counted as a defect.
   */
  readonly untilHealed?: boolean;
  readonly injected: number;
  readonly leaks: number;
  readonly checks: readonly Check[];
  readonly passed: boolean;
  /** Real seconds the case took. */
  readonly seconds?: number;
}

export interface Judged {
  readonly row: Row;
  readonly steps: StepRecord[];
  readonly failedChecks: readonly Check[];
}

/** Reads the end state back from moto and the simulators and checks it against `expect`. */
export async function judge(
  world: ChaosWorld,
  meta: { id: string; group: string; fault: string },
  expect: Expectation,
  traffic: LoadReport | undefined,
  extra: readonly Check[] = [],
): Promise<Judged> {
  const { world: local } = world.env;
  const rotationId = await world.latestRotationId();
  const ledger = ledgerOf(local);
  const steps = rotationId ? await ledger.timeline(rotationId) : [];
  const recorded = new Set(steps.map((s) => s.step));
  const outcome: Outcome =
    (['COMPLETED', 'FAILED', 'REFUSED'] as const).find((o) => recorded.has(o)) ??
    (rotationId ? 'IN_PROGRESS' : 'NONE');
  const newKey = steps.find((s) => s.step === 'KEY_CREATED')?.newKey;
  const failed = steps.find((s) => s.step === 'FAILED');
  const lock = await ledger.lockOf(TARGET_NAME);
  const live = await liveKeyFingerprints(world);
  const edgeKeys = edgeFingerprints(world);
  const initialFp = fingerprintOf(local.initialKeyValue.reveal());
  const expectedEdgeKey = expect.edgeSends === 'new' ? newKey?.fingerprint : initialFp;
  const leaks = await findLeaks(world.env, [...world.keyValues]);
  const otherNow = await keyFingerprint(local, local.api.otherClientKeyId);
  const reference = await readCurrentKeyReference(local);
  const failedRequests = expect.failedRequests ?? 'zero';

  const checks: Check[] = [
    {
      name: 'outcome',
      ok: outcome === expect.outcome,
      detail: `${outcome}, expected ${expect.outcome}`,
    },
    {
      name: 'ledger steps',
      ok:
        (expect.steps ?? []).every((s) => recorded.has(s)) &&
        (expect.withoutSteps ?? []).every((s) => !recorded.has(s)),
      detail: [...recorded].join(' '),
    },
    ...(expect.edgeKeyLive === false
      ? []
      : [
          {
            name: "edge's key is live on the plan",
            ok: edgeKeys.length > 0 && edgeKeys.every((fp) => fp !== null && live.has(fp)),
            detail: `${new Set(edgeKeys).size} key(s) at ${edgeKeys.length} edge locations`,
          },
        ]),
    ...(expect.edgeSends === 'any'
      ? []
      : [
          {
            name: `edge sends the ${expect.edgeSends} key`,
            ok: expectedEdgeKey !== undefined && edgeKeys.every((fp) => fp === expectedEdgeKey),
          },
        ]),
    ...referenceChecks(edgeKeys, newKey?.fingerprint, recorded.has('ROLLED_BACK'), reference),
    {
      name: expect.lockHeld ? 'lock still held' : 'lock released',
      ok: expect.lockHeld
        ? lock?.rotationId === rotationId
        : lock === undefined || lock.rotationId !== rotationId,
      detail: lock ? `held by ${lock.rotationId}` : 'free',
    },
    {
      name: "other client's key untouched",
      ok:
        otherNow !== null &&
        otherNow === world.otherClientFingerprint &&
        (live.size === 0 || live.has(otherNow)),
    },
    {
      name: 'no key value in logs, ledger or events',
      ok: leaks.length === 0,
      detail: leaks.join(', '),
    },
  ];
  if (failedRequests !== 'not-measured') {
    const sent = traffic?.sent ?? 0;
    const failedCount = traffic?.failed ?? 0;
    checks.push({ name: 'traffic flowed', ok: sent > 0, detail: `${sent} requests` });
    const healedAt = (await ledger.history(TARGET_NAME)).find((s) => s.step === 'HEALED')?.at;
    checks.push(
      failedRequests === 'until-healed'
        ? {
            name: 'requests failed only until the heal deployed',
            ok:
              failedCount > 0 &&
              healedAt !== undefined &&
              traffic?.lastFailureAt !== null &&
              traffic?.lastFailureAt !== undefined &&
              traffic.lastFailureAt <= Date.parse(healedAt),
            detail: `${failedCount} failed, the last at ${
              traffic?.lastFailureAt ? new Date(traffic.lastFailureAt).toISOString() : 'none'
            }, healed at ${healedAt ?? 'never'}`,
          }
        : failedRequests === 'zero'
          ? {
              name: '0 failed requests',
              ok: failedCount === 0,
              detail: JSON.stringify(traffic?.failures),
            }
          : {
              name: 'control: requests failed',
              ok: failedCount > 0,
              detail: `${failedCount} failed`,
            },
    );
  }
  checks.push(...extra);

  const endState = describe(outcome, failed, steps, edgeKeys, newKey?.fingerprint, initialFp, lock);
  const row: Row = {
    ...meta,
    endState,
    requests:
      failedRequests === 'not-measured' || !traffic
        ? null
        : { sent: traffic.sent, failed: traffic.failed },
    control: failedRequests === 'some',
    ...(failedRequests === 'until-healed' && { untilHealed: true }),
    injected: world.faults.injections.length,
    leaks: leaks.length,
    checks,
    passed: checks.every((c) => c.ok),
  };
  return { row, steps, failedChecks: checks.filter((c) => !c.ok) };
}

/**
 * The current-key reference (what a redeploy of the user's template would send) against the
 * edge: once every edge location sends the new key, the reference must name it too; after a
 * rollback (the new key deleted) it must name the key the edge sends, or still be empty (it
 * was empty before this rotation), never the deleted key. Exported for its negative controls.
 */
export function referenceChecks(
  edgeKeys: readonly (string | null)[],
  newFp: string | undefined,
  rolledBack: boolean,
  reference: string | null,
): Check[] {
  const sends = new Set(edgeKeys);
  const detail = `reference ${reference ?? 'empty'}, edge ${[...sends].join(' ')}`;
  const checks: Check[] = [];
  if (newFp !== undefined && sends.size === 1 && sends.has(newFp)) {
    checks.push({ name: 'reference names the new key', ok: reference === newFp, detail });
  }
  if (rolledBack) {
    checks.push({
      name: 'rolled back: reference names the key the edge sends',
      ok: reference === null || (sends.size === 1 && sends.has(reference)),
      detail,
    });
  }
  return checks;
}

/** The end state in a few words, from what was read back. */
function describe(
  outcome: Outcome,
  failed: StepRecord | undefined,
  steps: StepRecord[],
  edgeKeys: (string | null)[],
  newFp: string | undefined,
  initialFp: string,
  lock: { rotationId: string } | undefined,
): string {
  const recorded = new Set(steps.map((s) => s.step));
  const parts: string[] = [outcome === 'NONE' ? 'no rotation' : outcome];
  const error = failed && errorOf(failed);
  if (error) parts[0] += ` (${error.name}${error.field ? ` ${error.field}` : ''})`;
  if (recorded.has('ROLLED_BACK')) parts.push('new key rolled back');
  const sends = new Set(edgeKeys);
  const which =
    sends.size === 1 && newFp !== undefined && sends.has(newFp)
      ? 'new key'
      : sends.size === 1 && sends.has(initialFp)
        ? 'old key'
        : `${sends.size} keys`;
  parts.push(`edge sends ${which}`);
  if (outcome === 'COMPLETED') parts.push('old key deleted');
  parts.push(lock ? 'lock held' : 'lock free');
  return parts.join('; ');
}

/** Fingerprints of the keys on the plan that still exist (none if the plan is gone). */
async function liveKeyFingerprints(world: ChaosWorld): Promise<Set<string>> {
  const { world: local } = world.env;
  const client = new APIGatewayClient(clientConfig(local.api.session));
  try {
    const out = await correctUsagePlanKeys(client).send(
      new GetUsagePlanKeysCommand({ usagePlanId: local.api.usagePlanId }),
    );
    return new Set((out.items ?? []).map((k) => fingerprintOf(k.value ?? '')));
  } catch {
    return new Set();
  } finally {
    client.destroy();
  }
}

/** The key each simulated edge location sends now (null: none). */
function edgeFingerprints(world: ChaosWorld): (string | null)[] {
  const { distributionId } = world.env.world.edge;
  return Array.from({ length: world.cloudFront.edgeLocations }, (_, edge) => {
    const value = world.cloudFront
      .adoptedOrigins(distributionId, edge)
      ?.get(ORIGIN_ID)
      ?.headers.get('x-api-key');
    return value === undefined ? null : fingerprintOf(value);
  });
}

const REPORT_DIR =
  process.env.KEYROT_CHAOS_DIR ?? path.resolve(__dirname, '..', '..', 'dist', 'chaos');

/** Keeps a row for the table `npm run chaos` prints (one JSON line per row). */
export function recordRow(file: string, row: Row): void {
  mkdirSync(REPORT_DIR, { recursive: true });
  appendFileSync(
    path.join(REPORT_DIR, `${path.basename(file, '.ts')}.jsonl`),
    `${JSON.stringify(row)}\n`,
  );
}
