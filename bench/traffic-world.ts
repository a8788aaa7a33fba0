/**
 * Figure 5's world: the local two-account AWS on moto with the traffic harness of the chaos
 * tests (harness/traffic: the origin with API Gateway's activation and deactivation delays,
 * the edge proxy whose locations adopt a config within the CloudFront simulator's propagation
 * window, the load client) on a compressed clock. keyrot and the seed baseline each rotate in
 * a fresh one of these, with the same settings. Bench code only.
 *
 * Besides the edge's traffic, a partner client calls the origin directly with its own key
 * (the other key on the usage plan), so what a rotation does to another client shows too.
 * Key values stay in memory: only counts and times are reported.
 */
import { performance } from 'node:perf_hooks';
import {
  APIGatewayClient,
  CreateUsagePlanKeyCommand,
  DeleteUsagePlanKeyCommand,
  GetApiKeyCommand,
  GetUsagePlanKeysCommand,
} from '@aws-sdk/client-api-gateway';
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { fingerprintOf, SecretValue, type AnyClient, type SeedInput } from '@keyrot/shared';
import { clientConfig } from '../harness/accounts';
import { correctUsagePlanKeys } from '../harness/apigateway-sim';
import { CloudFrontSimulator } from '../harness/cloudfront-sim';
import { keyFingerprint, reportRotation, rotationIds } from '../harness/inspect';
import { startLocalEnvironment, type LocalEnvironment } from '../harness/local-env';
import type { MotoServer } from '../harness/moto';
import { API_KEY_HEADER_NAME, ORIGIN_ID, STAGE_NAME, type LocalWorld } from '../harness/provision';
import { ScaledClock, seededRandom } from '../harness/sim-clock';
import { EdgeProxy } from '../harness/traffic/edge-proxy';
import { LoadClient, type LoadReport } from '../harness/traffic/load';
import { OriginSimulator } from '../harness/traffic/origin';
import { CallCounter, decorator } from './instrument';
import { seedRotation } from './seed-baseline';

const SECOND = 1000;
/** Traffic flows this long (simulated) before a rotation starts. */
const LEAD_MS = SECOND;

/** Everything both sides of the comparison share. Durations are simulated ms. */
export interface TrafficSettings {
  /** Simulated ms per real ms. */
  readonly clockScale: number;
  readonly propagationMs: number;
  readonly edgeLocations: number;
  /** Seed of the edge locations' adoption delays: the same for every run. */
  readonly adoptionSeed: number;
  /** API Gateway: how long before a newly associated key is honoured, and a removed one stops. */
  readonly activationDelayMs: number;
  readonly deactivationDelayMs: number;
  /** Requests through the edge: loops in flight and each loop's real pause between requests. */
  readonly load: { readonly concurrency: number; readonly pauseMs: number };
  /** The partner client's requests straight to the origin with its own key. */
  readonly partnerLoad: { readonly concurrency: number; readonly pauseMs: number };
  /** keyrot's reaper grace after `Deployed`. */
  readonly graceMs: number;
}

/** Which key the usage plan lists first: moto lists them in the order they were added. */
export type PlanOrder = 'edge-key-first' | 'other-key-first';

/** What one client's requests saw. Outage: first to last failed request, simulated seconds. */
export interface ClientTraffic {
  readonly requests: number;
  readonly failedRequests: number;
  readonly outageSeconds: number;
  /** Failed requests by HTTP status. */
  readonly failures: Readonly<Record<string, number>>;
}

export interface EdgeTraffic extends ClientTraffic {
  readonly failedByEdge: readonly number[];
  /**
   * Failed requests by the key the edge location sent: the key it sent before the rotation
   * (refused once deleted) or a key written since (refused until API Gateway honours it).
   */
  readonly failedWith: { readonly previousKey: number; readonly newKey: number };
}

export interface TrafficOutcome {
  readonly edge: EdgeTraffic;
  readonly partner: ClientTraffic;
}

export class TrafficWorld {
  private edgeLoad: LoadClient | undefined;
  private partnerLoad: LoadClient | undefined;

  private constructor(
    readonly env: LocalEnvironment,
    readonly clock: ScaledClock,
    readonly cloudFront: CloudFrontSimulator,
    readonly origin: OriginSimulator,
    readonly proxy: EdgeProxy,
    private readonly settings: TrafficSettings,
    private readonly partnerKey: SecretValue,
  ) {}

  /**
   * A fresh world on `moto` (reset). With `keyrot`, its handlers run on the world's clock and
   * simulators, with the readiness check on as production is advised to run (HEALTH_CHECK_URL).
   */
  static async start(
    moto: MotoServer,
    settings: TrafficSettings,
    options: { readonly order: PlanOrder; readonly keyrot: boolean },
  ): Promise<TrafficWorld> {
    const clock = new ScaledClock(settings.clockScale);
    const cloudFront = new CloudFrontSimulator({
      propagationMs: settings.propagationMs,
      edgeLocations: settings.edgeLocations,
      now: () => clock.now().getTime(),
      random: seededRandom(settings.adoptionSeed),
    });
    const origin = await OriginSimulator.listen({
      clock,
      activationDelayMs: settings.activationDelayMs,
      deactivationDelayMs: settings.deactivationDelayMs,
    });
    let env: LocalEnvironment | undefined;
    let proxy: EdgeProxy | undefined;
    try {
      env = await startLocalEnvironment({
        moto,
        ...(options.keyrot && {
          keyrot: {
            clock,
            cloudFront,
            graceSeconds: settings.graceMs / SECOND,
            pollIntervalMs: SECOND,
            maxWaitMs: 14 * 60 * SECOND,
            healthCheckUrl: origin.healthUrl,
            // Also long in real time: a busy machine must not time the probe out.
            readinessTimeoutMs: Math.max(5 * 60 * SECOND, 5 * SECOND * clock.scale),
            decorateClient: decorator((client) => observeKeyChanges(client, origin)),
          },
        }),
      });
      await orderPlan(env.world, options.order);
      await origin.watch(env.world);
      const tracker = new CloudFrontClient(clientConfig(env.world.edge.session));
      try {
        await cloudFront.track(tracker, env.world.edge.distributionId);
      } finally {
        tracker.destroy();
      }
      proxy = await EdgeProxy.start({
        cloudFront,
        distributionId: env.world.edge.distributionId,
        originBaseUrl: origin.baseUrl,
      });
      const partnerKey = await keyValue(env.world, env.world.api.otherClientKeyId);
      return new TrafficWorld(env, clock, cloudFront, origin, proxy, settings, partnerKey);
    } catch (error) {
      await proxy?.stop();
      await origin.stop();
      await env?.stop();
      throw error;
    }
  }

  /** The seed's clients as its Lambda has them, on this world's simulators and origin. */
  seedClients(): { apigateway: APIGatewayClient; cloudfront: CloudFrontClient } {
    const { world } = this.env;
    return {
      apigateway: observeKeyChanges(
        // Lists a plan's keys as AWS does after a delete (see harness/apigateway-sim.ts).
        correctUsagePlanKeys(new APIGatewayClient(clientConfig(world.api.session))),
        this.origin,
      ),
      cloudfront: this.cloudFront.attach(new CloudFrontClient(clientConfig(world.edge.session))),
    };
  }

  /** Starts the edge's traffic (every location) and the partner's. */
  startTraffic(): void {
    const { settings, clock } = this;
    this.edgeLoad = new LoadClient(this.proxy.baseUrl, {
      ...settings.load,
      edgeLocations: settings.edgeLocations,
      clock,
      maxDurationMs: 300_000,
    });
    this.partnerLoad = new LoadClient(this.origin.baseUrl, {
      ...settings.partnerLoad,
      path: `/${STAGE_NAME}/hello`,
      headers: { [API_KEY_HEADER_NAME]: this.partnerKey.reveal() },
      clock,
      maxDurationMs: 300_000,
    });
    this.edgeLoad.start();
    this.partnerLoad.start();
  }

  /**
   * Waits (simulated) until the distribution is `Deployed` and the origin honours the key
   * every edge location sends: the end of any outage a rotation causes at the edge.
   */
  async untilEdgeServed(realTimeoutMs = 120_000): Promise<void> {
    const deadline = performance.now() + realTimeoutMs;
    const { distributionId } = this.env.world.edge;
    const served = () =>
      this.cloudFront.status(distributionId) === 'Deployed' &&
      Array.from(
        { length: this.settings.edgeLocations },
        (_, edge) => this.cloudFront.adoptedOrigins(distributionId, edge)?.get(ORIGIN_ID)?.headers,
      ).every((headers) => this.origin.accepts(headers?.get(API_KEY_HEADER_NAME)));
    while (!served()) {
      if (performance.now() > deadline) throw new Error('traffic: the edge was never served');
      await this.clock.sleep(SECOND / 4);
    }
  }

  /** Keeps the traffic on for `trailingMs` more (simulated), stops it and reports. */
  async stopTraffic(trailingMs: number): Promise<TrafficOutcome> {
    await this.clock.sleep(trailingMs);
    const [edge, partner] = await Promise.all([this.edgeLoad!.stop(), this.partnerLoad!.stop()]);
    const previous = fingerprintOf(this.env.world.initialKeyValue.reveal());
    const failedWith = { previousKey: 0, newKey: 0 };
    for (const [fingerprint, count] of this.proxy.keysRefused()) {
      failedWith[fingerprint === previous ? 'previousKey' : 'newKey'] += count;
    }
    return {
      edge: { ...summary(edge), failedByEdge: edge.failedByEdge, failedWith },
      partner: summary(partner),
    };
  }

  async stop(): Promise<void> {
    await Promise.all([this.edgeLoad?.stop(), this.partnerLoad?.stop()]);
    await this.proxy.stop();
    await this.origin.stop();
    await this.env.stop();
  }
}

/** keyrot's whole two-account rotation (schedule to reaper) under traffic. */
export async function keyrotUnderTraffic(moto: MotoServer, settings: TrafficSettings) {
  const world = await TrafficWorld.start(moto, settings, { order: 'edge-key-first', keyrot: true });
  try {
    world.startTraffic();
    await world.clock.sleep(LEAD_MS);
    await world.env.runner.fireSchedule();
    await world.env.runner.drain();
    // The reaper has just deleted the old key: traffic goes on until it has stopped working.
    const traffic = await world.stopTraffic(settings.deactivationDelayMs + 2 * SECOND);
    const local = world.env.world;
    const report = await reportRotation(local, (await rotationIds(local)).at(-1)!);
    if (report.status !== 'COMPLETED') throw new Error(`keyrot rotation ended ${report.status}`);
    return {
      ...traffic,
      oldKeyDeleted: report.oldKeysDeleted,
      otherClientKeyDeleted: !report.otherClientKeySurvived,
    };
  } finally {
    await world.stop();
  }
}

/**
 * The seed's Lambda (bench/seed-baseline.ts) under traffic, with the plan's keys in `order`:
 * it deletes whichever key is listed first. Traffic runs until the edge is served again.
 */
export async function seedUnderTraffic(
  moto: MotoServer,
  settings: TrafficSettings,
  order: PlanOrder,
) {
  const world = await TrafficWorld.start(moto, settings, { order, keyrot: false });
  const clients = world.seedClients();
  try {
    const calls = new CallCounter();
    calls.attach(clients.apigateway);
    calls.attach(clients.cloudfront);
    world.startTraffic();
    await world.clock.sleep(LEAD_MS);
    const input = world.env.world.scheduleInput as SeedInput;
    const { statusCode } = await seedRotation(input, clients);
    const returned = world.clock.now().getTime();
    await world.untilEdgeServed();
    // On until the key it deleted has stopped working too (usually long since), and 2 s more.
    const deactivated = returned + settings.deactivationDelayMs - world.clock.now().getTime();
    const traffic = await world.stopTraffic(Math.max(0, deactivated) + 2 * SECOND);
    const local = world.env.world;
    const [edgeKey, otherKey] = await Promise.all([
      keyFingerprint(local, local.api.initialKeyId),
      keyFingerprint(local, local.api.otherClientKeyId),
    ]);
    return {
      ...traffic,
      statusCode,
      oldKeyDeleted: edgeKey === null,
      otherClientKeyDeleted: otherKey === null,
      callsPerRotation: calls.byService(),
    };
  } finally {
    clients.apigateway.destroy();
    clients.cloudfront.destroy();
    await world.stop();
  }
}

function summary(report: LoadReport): ClientTraffic {
  const { firstFailureAt: first, lastFailureAt: last } = report;
  return {
    requests: report.sent,
    failedRequests: report.failed,
    outageSeconds: first === null || last === null ? 0 : Math.round(last - first) / SECOND,
    failures: report.failures,
  };
}

/**
 * Puts the chosen key first on the usage plan. moto lists a plan's keys in the order they
 * were added and provisioning adds the two concurrently, so their order varies from run to
 * run (AWS documents none); removing a key and adding it again moves it last.
 */
async function orderPlan(world: LocalWorld, order: PlanOrder): Promise<void> {
  const { usagePlanId, initialKeyId, otherClientKeyId } = world.api;
  const [first, last] =
    order === 'edge-key-first'
      ? [initialKeyId, otherClientKeyId]
      : [otherClientKeyId, initialKeyId];
  const client = new APIGatewayClient(clientConfig(world.api.session));
  try {
    await client.send(new DeleteUsagePlanKeyCommand({ usagePlanId, keyId: last }));
    await client.send(
      new CreateUsagePlanKeyCommand({ usagePlanId, keyId: last, keyType: 'API_KEY' }),
    );
    const listed = await client.send(new GetUsagePlanKeysCommand({ usagePlanId }));
    if (listed.items?.[0]?.id !== first) {
      throw new Error(`traffic: could not put ${order} on the usage plan`);
    }
  } finally {
    client.destroy();
  }
}

/** A key's value, for a client that sends it (wrapped: printing the world never shows it). */
async function keyValue(world: LocalWorld, keyId: string): Promise<SecretValue> {
  const client = new APIGatewayClient(clientConfig(world.api.session));
  try {
    const key = await client.send(new GetApiKeyCommand({ apiKey: keyId, includeValue: true }));
    if (!key.value) throw new Error(`traffic: key ${keyId} has no value`);
    return new SecretValue(key.value);
  } finally {
    client.destroy();
  }
}

const KEY_CHANGES = [
  'CreateUsagePlanKeyCommand',
  'DeleteApiKeyCommand',
  'DeleteUsagePlanKeyCommand',
];

/**
 * Tells the origin to read the plan again after a call that changed it, as API Gateway's
 * control plane learns of a change at once (the chaos tests do the same); its activation and
 * deactivation delays run from there.
 */
function observeKeyChanges<C extends AnyClient>(client: C, origin: OriginSimulator): C {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } finally {
        if (KEY_CHANGES.includes(context.commandName ?? '')) origin.refresh();
      }
    },
    { step: 'initialize', name: 'benchObserveKeyChanges', override: true },
  );
  return client;
}
