/**
 * keyrot's functions wired to the local two-account world: each service's own dependency
 * builder (`buildIssuerDeps`, `buildEdgeDeps`, `buildReaperDeps`, the ones the Lambda entry
 * points use) over a configuration read through the service's own schema, with clients
 * acting in each side's moto account, and the same `createHandler(s)` the entries export.
 * A setting the options leave out takes the schema's default, as deployed. Test
 * infrastructure only.
 */
import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  AWS_RETRY,
  createMetrics,
  DEFAULT_KEY_AGE_POLICY_DAYS,
  DEFAULT_ROTATION_SCHEDULE,
  type ManifestTarget,
  readConfig,
  systemClock,
  type Clock,
  type HandlerResult,
} from '@keyrot/shared';
import type { Context } from 'aws-lambda';
import { buildEdgeDeps, configSchema as edgeConfigSchema } from '../services/edge-updater/src/deps';
import { createHandlers as createEdgeUpdater } from '../services/edge-updater/src/handler';
import {
  buildIssuerDeps,
  configSchema as issuerConfigSchema,
  type IssuerConfig,
} from '../services/key-issuer/src/deps';
import { createHandler as createIssuer } from '../services/key-issuer/src/handler';
import {
  buildDriftDeps,
  buildReaperDeps,
  configSchema as reaperConfigSchema,
  driftConfigSchema,
} from '../services/key-reaper/src/deps';
import {
  createDriftHandler,
  createHandler as createReaper,
} from '../services/key-reaper/src/handler';
import { clientConfig } from './accounts';
import { correctUsagePlanKeys } from './apigateway-sim';
import { CloudFrontSimulator } from './cloudfront-sim';
import { matchesPattern } from './event-pattern';
import { API_KEY_HEADER_NAME, INITIAL_KEY_NAME, ORIGIN_ID, type LocalWorld } from './provision';
import { worldSubscriptions, type ServiceName, type Subscription } from './subscriptions';

export type LocalHandler = (event: unknown, context?: Context) => Promise<HandlerResult>;

/**
 * Each service's functions by the export of its `src/handler.ts` that its serverless.yml
 * names (`handler: src/handler.<export>`): the runner invokes a function through it.
 */
export type LocalFunctions = Record<ServiceName, Readonly<Record<string, LocalHandler>>>;

/**
 * Where the local world deliberately differs from a deployment, to run in seconds: the only
 * settings the harness states itself (as environment values, checked by the same schemas).
 * Everything else is the schema's default.
 */
export const LOCAL_SPEED = {
  GRACE_SECONDS: 0,
  DEPLOY_POLL_SECONDS: 0.05,
  DEPLOY_MAX_WAIT_SECONDS: 30,
  LOCK_SECONDS: 3600,
} as const;

export interface LocalKeyrotOptions {
  /** Reaper's grace after `Deployed` (`GRACE_SECONDS`; 0 locally, {@link LOCAL_SPEED}). */
  readonly graceSeconds?: number;
  /** Reaper's grace for an emergency rotation (default: the reaper's own, at most `graceSeconds`). */
  readonly emergencyGraceSeconds?: number;
  /** Edge-updater's pause between deployment checks (50 ms locally, {@link LOCAL_SPEED}). */
  readonly pollIntervalMs?: number;
  /** Edge-updater's longest wait for `Deployed` in one run (30 s locally, {@link LOCAL_SPEED}). */
  readonly maxWaitMs?: number;
  /** Edge-updater's pause before a scheduled deployment re-check (default: the edge-updater's). */
  readonly recheckDelayMs?: number;
  /** How long after issuance the edge-updater waits for `Deployed` (default: the edge-updater's). */
  readonly deployDeadlineMs?: number;
  /**
   * The issuer's readiness probe (`HEALTH_CHECK_URL`): the stage URL it GETs with the new key
   * until a 2xx, before announcing it. Off when absent, as in production.
   */
  readonly healthCheckUrl?: string;
  /**
   * `READINESS_TIMEOUT_SECONDS`, in ms (default: the issuer's). Not bounded by the schema:
   * compressed time needs more simulated seconds than a deployment may set.
   */
  readonly readinessTimeoutMs?: number;
  /** The issuer's `LOCK_SECONDS` (1 h locally, {@link LOCAL_SPEED}). */
  readonly lockSeconds?: number;
  readonly clock?: Clock;
  /** Supplies CloudFront's ETags and propagation window, which moto lacks. */
  readonly cloudFront?: CloudFrontSimulator;
  /**
   * Give the functions' clients the SDK retry settings they have on Lambda (adaptive, 5
   * attempts). Off by default: the SDK's standard retry, so injected faults reach the code.
   */
  readonly lambdaRetry?: boolean;
  /** Extra SDK middleware hook, e.g. to inject faults. */
  readonly decorateClient?: <C extends { middlewareStack: unknown }>(
    client: C,
    account: 'api' | 'edge',
  ) => C;
  /**
   * The world's target's `driftGuard` (default true, as in keyrot.targets.yml): off, checkEdge
   * and checkDrift are given no target (`DRIFT_GUARD_TARGETS` empty), as the stacks would be.
   */
  readonly driftGuard?: boolean;
}

/** The world's one target, as keyrot.targets.yml would name it (the seed's). */
export function worldManifestTarget(world: LocalWorld, driftGuard = true): ManifestTarget {
  return {
    schedule: DEFAULT_ROTATION_SCHEDULE,
    keyAgePolicyDays: DEFAULT_KEY_AGE_POLICY_DAYS,
    name: INITIAL_KEY_NAME,
    apiKeyName: INITIAL_KEY_NAME,
    usagePlanId: world.api.usagePlanId,
    distributionId: world.edge.distributionId,
    originId: ORIGIN_ID,
    headerName: API_KEY_HEADER_NAME,
    driftGuard,
  };
}

/** `DRIFT_GUARD_TARGETS` for the world (services/manifest/stacks.ts, driftGuardTargets). */
function driftGuardTargets(world: LocalWorld, driftGuard: boolean): string {
  const { name, apiKeyName, usagePlanId, distributionId, originId, headerName } =
    worldManifestTarget(world, driftGuard);
  const target = { name, apiKeyName, usagePlanId, distributionId, originId, headerName };
  return JSON.stringify(driftGuard ? [target] : []);
}

/**
 * A service's environment as its serverless.yml would set it: the values given, the unset
 * (undefined) ones left to the schema's defaults.
 */
function environment(values: Record<string, string | number | undefined>): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(values).flatMap(([name, value]) =>
      value === undefined ? [] : [[name, String(value)]],
    ),
  );
}

const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

/** Builds every function of the issuer, edge-updater and reaper for a provisioned world. */
export function buildFunctions(
  world: LocalWorld,
  options: LocalKeyrotOptions = {},
): LocalFunctions {
  const retry = options.lambdaRetry ? AWS_RETRY : {};
  const api = { ...clientConfig(world.api.session), ...retry };
  const edge = { ...clientConfig(world.edge.session), ...retry };
  const decorate = options.decorateClient ?? ((client) => client);
  const clock = options.clock ?? systemClock;
  // One client per service and account, shared by the issuer and the reaper as before: a
  // fault decorates each once.
  const apiGateway = decorate(correctUsagePlanKeys(new APIGatewayClient(api)), 'api');
  const dynamodb = decorate(new DynamoDBClient(api), 'api');
  const eventBridge = (side: 'api' | 'edge') =>
    decorate(new EventBridgeClient(side === 'api' ? api : edge), side);

  // As deployed: a transient failure's retry is a one-time schedule the runner delivers.
  const apiRetries = {
    RETRY_SCHEDULE_GROUP: world.api.scheduleGroupName,
    RETRY_ROLE_ARN: `arn:aws:iam::${world.api.session.accountId}:role/keyrot-scheduler`,
    RETRY_BUS_ARN: world.api.busArn,
  };
  const apiScheduler = () => decorate(new SchedulerClient(api), 'api');

  const issuerConfig: IssuerConfig = {
    ...readConfig(
      issuerConfigSchema,
      environment({
        API_ACCOUNT_ID: world.api.session.accountId,
        EVENT_BUS_NAME: world.api.busName,
        LEDGER_TABLE_NAME: world.api.ledgerTableName,
        EDGE_KMS_KEY_ARN: world.edge.kmsKeyArn,
        LOCK_SECONDS: options.lockSeconds ?? LOCAL_SPEED.LOCK_SECONDS,
        HEALTH_CHECK_URL: options.healthCheckUrl,
        ...apiRetries,
      }),
    ),
    // Set past the schema on purpose: on compressed time (test/support/chaos.ts) the probe's
    // timeout must also hold in real seconds, more simulated seconds than a deployment may set.
    ...(options.readinessTimeoutMs !== undefined && {
      READINESS_TIMEOUT_SECONDS: options.readinessTimeoutMs / 1000,
    }),
  };
  const issuer = buildIssuerDeps(
    issuerConfig,
    {
      apiGateway,
      // moto looks a key ARN up in the caller's account, so the local issuer calls KMS as the
      // edge account; on AWS the edge key's policy grants the issuer role kms:Encrypt.
      kms: decorate(new KMSClient(edge), 'api'),
      dynamodb,
      eventBridge: eventBridge('api'),
      scheduler: apiScheduler,
    },
    { clock, metrics: createMetrics('key-issuer') },
  );

  const edgeUpdater = buildEdgeDeps(
    readConfig(
      edgeConfigSchema,
      environment({
        API_ACCOUNT_ID: world.api.session.accountId,
        EDGE_ACCOUNT_ID: world.edge.session.accountId,
        KEYROT_STAGE: world.edge.keyrotStage,
        EVENT_BUS_NAME: world.edge.busName,
        DEPLOY_POLL_SECONDS: seconds(options.pollIntervalMs) ?? LOCAL_SPEED.DEPLOY_POLL_SECONDS,
        DEPLOY_MAX_WAIT_SECONDS: seconds(options.maxWaitMs) ?? LOCAL_SPEED.DEPLOY_MAX_WAIT_SECONDS,
        DEPLOY_RECHECK_SECONDS: seconds(options.recheckDelayMs),
        DEPLOY_DEADLINE_SECONDS: seconds(options.deployDeadlineMs),
        // As deployed: a longer wait continues in a one-time schedule the runner delivers.
        DEPLOY_CHECK_SCHEDULE_GROUP: world.edge.deployCheckGroupName,
        DEPLOY_CHECK_ROLE_ARN: world.edge.deployCheckRoleArn,
        DEPLOY_CHECK_BUS_ARN: world.edge.busArn,
        DRIFT_GUARD_TARGETS: driftGuardTargets(world, options.driftGuard ?? true),
      }),
    ),
    {
      cloudFront: decorate(
        (options.cloudFront ?? new CloudFrontSimulator()).attach(new CloudFrontClient(edge)),
        'edge',
      ),
      kms: decorate(new KMSClient(edge), 'edge'),
      secretsManager: decorate(new SecretsManagerClient(edge), 'edge'),
      eventBridge: eventBridge('edge'),
      scheduler: () => decorate(new SchedulerClient(edge), 'edge'),
    },
    { clock, metrics: createMetrics('edge-updater') },
  );

  const reaper = buildReaperDeps(
    readConfig(
      reaperConfigSchema,
      environment({
        API_ACCOUNT_ID: world.api.session.accountId,
        EDGE_ACCOUNT_ID: world.edge.session.accountId,
        EVENT_BUS_NAME: world.api.busName,
        LEDGER_TABLE_NAME: world.api.ledgerTableName,
        GRACE_SECONDS: options.graceSeconds ?? LOCAL_SPEED.GRACE_SECONDS,
        ...apiRetries,
      }),
    ),
    { apiGateway, dynamodb, eventBridge: eventBridge('api'), scheduler: apiScheduler },
    { clock, metrics: createMetrics('key-reaper') },
  );

  const drift = buildDriftDeps(
    readConfig(
      driftConfigSchema,
      environment({
        API_ACCOUNT_ID: world.api.session.accountId,
        EDGE_ACCOUNT_ID: world.edge.session.accountId,
        EVENT_BUS_NAME: world.api.busName,
        LEDGER_TABLE_NAME: world.api.ledgerTableName,
        EDGE_KMS_KEY_ARN: world.edge.kmsKeyArn,
        DRIFT_GUARD_TARGETS: driftGuardTargets(world, options.driftGuard ?? true),
      }),
    ),
    {
      apiGateway,
      dynamodb,
      eventBridge: eventBridge('api'),
      // As for the issuer: moto looks the key ARN up in the caller's account.
      kms: decorate(new KMSClient(edge), 'api'),
    },
    { clock, metrics: createMetrics('key-reaper') },
  );

  return {
    'key-issuer': { handler: createIssuer(issuer) },
    'edge-updater': { ...createEdgeUpdater(edgeUpdater) },
    'key-reaper': {
      handler: createReaper({
        ...reaper,
        // Not configurable when deployed (a constant of the reaper's); tests shorten it.
        ...(options.emergencyGraceSeconds !== undefined && {
          emergencyGraceMs: options.emergencyGraceSeconds * 1000,
        }),
      }),
      drift: createDriftHandler(drift),
    },
  };
}

/**
 * One handler per service, for tests that hand an event to "the issuer" or "the
 * edge-updater" directly: it goes to the function of the service whose serverless.yml rule
 * takes its detail-type (else to the service's first function, which rejects it as an
 * unexpected detail-type), and that function alone decides whether to trust it.
 */
export function serviceHandlers(
  functions: LocalFunctions,
  subscriptions: readonly Subscription[],
): Record<ServiceName, LocalHandler> {
  const handlerOf = (service: ServiceName): LocalHandler => {
    const own = subscriptions.filter((s) => s.service === service);
    return (event, context) => {
      const takesType = (s: Subscription) => {
        const rule = s.pattern['detail-type'];
        return rule !== undefined && matchesPattern({ 'detail-type': rule }, event);
      };
      const sub = own.find(takesType) ?? own[0];
      if (!sub) throw new Error(`harness: ${service} has no function with an EventBridge rule`);
      return functionOf(functions, sub)(event, context);
    };
  };
  return {
    'key-issuer': handlerOf('key-issuer'),
    'edge-updater': handlerOf('edge-updater'),
    'key-reaper': handlerOf('key-reaper'),
  };
}

/** The export a subscription's function runs, as the Lambda runtime resolves its handler. */
export function functionOf(functions: LocalFunctions, sub: Subscription): LocalHandler {
  const handler = functions[sub.service][sub.handler];
  if (!handler) {
    throw new Error(
      `harness: ${sub.service} function ${sub.functionName}: src/handler.ts exports no ` +
        `handler "${sub.handler}"`,
    );
  }
  return handler;
}

/** {@link serviceHandlers} of a world's functions, routed by its serverless.yml files. */
export function buildHandlers(
  world: LocalWorld,
  options: LocalKeyrotOptions = {},
): Record<ServiceName, LocalHandler> {
  return serviceHandlers(buildFunctions(world, options), worldSubscriptions(world));
}
