import type { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import {
  accountIdSchema,
  ApiGatewayKeyStore,
  createLogger,
  DynamoDbLedger,
  envVar,
  functionConfigFields,
  EventBridgePublisher,
  KmsKeySealer,
  kmsKeyArnSchema,
  OneTimeSchedules,
  parseDriftGuardTargets,
  schedulesOptionsFrom,
  type Clock,
  type KeyrotMetrics,
} from '@keyrot/shared';
import * as z from 'zod/mini';
import { SchedulerRetireRetries } from './adapters/scheduler-retries';
import type { DriftDeps } from './check-drift';
import type { ReaperDeps } from './retire-keys';

/**
 * The reaper's configuration, as its Lambda environment states it. Every default is stated
 * here and only here: the Lambda entry and the local harness both read it through this schema.
 */
export const configSchema = z.object({
  ...functionConfigFields,
  EDGE_ACCOUNT_ID: accountIdSchema,
  LEDGER_TABLE_NAME: envVar.name(),
  /** Kept short of the Lambda timeout: the reaper waits it out in one invocation. */
  GRACE_SECONDS: envVar.number(60, 0, 600),
  /** Scheduler group, role and bus of the deletes' later tries (all three, or none). */
  RETRY_SCHEDULE_GROUP: z.optional(z.string()),
  RETRY_ROLE_ARN: z.optional(z.string()),
  RETRY_BUS_ARN: z.optional(z.string()),
  RETRY_DLQ_ARN: z.optional(z.string()),
});

export type ReaperConfig = z.output<typeof configSchema>;

export type ReaperEnvironment = Omit<ReaperDeps, 'actor' | 'invocation'> & {
  readonly metrics?: KeyrotMetrics;
  readonly apiAccountId: string;
  readonly edgeAccountId: string;
};

/**
 * The SDK clients the reaper calls, built by the caller: on Lambda counted and paced
 * (`lambdaClients`), in the harness pointed at the local API account.
 */
export interface ReaperClients {
  readonly apiGateway: APIGatewayClient;
  readonly dynamodb: DynamoDBClient;
  readonly eventBridge: EventBridgeClient;
  /** Made only when the configuration names the retries' schedule group. */
  readonly scheduler: () => SchedulerClient;
}

export interface ReaperRuntime {
  readonly clock: Clock;
  readonly metrics?: KeyrotMetrics;
}

/** The reaper's dependencies from its configuration and clients: one place, for every caller. */
export function buildReaperDeps(
  config: ReaperConfig,
  clients: ReaperClients,
  runtime: ReaperRuntime,
): ReaperEnvironment {
  const { clock, metrics } = runtime;
  return {
    apiAccountId: config.API_ACCOUNT_ID,
    edgeAccountId: config.EDGE_ACCOUNT_ID,
    keys: new ApiGatewayKeyStore(clients.apiGateway),
    ledger: new DynamoDbLedger(clients.dynamodb, config.LEDGER_TABLE_NAME),
    events: new EventBridgePublisher(clients.eventBridge, config.EVENT_BUS_NAME),
    clock,
    ...(metrics && { metrics }),
    log: createLogger('key-reaper'),
    graceMs: config.GRACE_SECONDS * 1000,
    ...retriesFrom(config, clients.scheduler),
  };
}

/** The deletes' later tries, when the configuration names their group, role and bus. */
function retriesFrom(
  config: ReaperConfig,
  client: () => SchedulerClient,
): { retries?: SchedulerRetireRetries } {
  const options = schedulesOptionsFrom('RETRY', config);
  if (!options) return {};
  return { retries: new SchedulerRetireRetries(new OneTimeSchedules(client(), options)) };
}

/** The scheduled check's configuration (its own function, environment and role). */
export const checkConfigSchema = z.object({
  LEDGER_TABLE_NAME: envVar.name(),
  /** Comma-separated target names to watch. */
  TARGET_NAMES: envVar.name(),
});

export type CheckConfig = z.output<typeof checkConfigSchema>;

export interface CheckEnvironment {
  readonly ledger: ReaperDeps['ledger'];
  readonly clock: ReaperDeps['clock'];
  readonly log: ReaperDeps['log'];
  readonly metrics: KeyrotMetrics;
  readonly targets: readonly string[];
}

/** The scheduled check's dependencies from its configuration and ledger client. */
export function buildCheckDeps(
  config: CheckConfig,
  clients: Pick<ReaperClients, 'dynamodb'>,
  runtime: Required<ReaperRuntime>,
): CheckEnvironment {
  return {
    ledger: new DynamoDbLedger(clients.dynamodb, config.LEDGER_TABLE_NAME),
    clock: runtime.clock,
    log: createLogger('key-reaper'),
    metrics: runtime.metrics,
    targets: config.TARGET_NAMES.split(',')
      .map((t) => t.trim())
      .filter(Boolean),
  };
}

/**
 * The drift guard's checkDrift: its own function, environment and role (it reads the plan's
 * keys, the ledger, seals a heal's key for the edge and puts `EdgeHealRequested`).
 */
export const driftConfigSchema = z.object({
  ...functionConfigFields,
  EDGE_ACCOUNT_ID: accountIdSchema,
  LEDGER_TABLE_NAME: envVar.name(),
  EDGE_KMS_KEY_ARN: kmsKeyArnSchema,
  /** The targets whose drift guard is on, a JSON list (services/manifest/stacks.ts). */
  DRIFT_GUARD_TARGETS: z.optional(z.string()),
});

export type DriftConfig = z.output<typeof driftConfigSchema>;

export type DriftEnvironment = Omit<DriftDeps, 'actor'> & {
  readonly metrics?: KeyrotMetrics;
  readonly apiAccountId: string;
  readonly edgeAccountId: string;
};

/** The SDK clients checkDrift calls. */
export interface DriftClients {
  readonly apiGateway: APIGatewayClient;
  readonly dynamodb: DynamoDBClient;
  readonly eventBridge: EventBridgeClient;
  readonly kms: KMSClient;
}

/** checkDrift's dependencies from its configuration and clients (Lambda entry and harness). */
export function buildDriftDeps(
  config: DriftConfig,
  clients: DriftClients,
  runtime: ReaperRuntime,
): DriftEnvironment {
  const { clock, metrics } = runtime;
  const targets = parseDriftGuardTargets(config.DRIFT_GUARD_TARGETS);
  return {
    apiAccountId: config.API_ACCOUNT_ID,
    edgeAccountId: config.EDGE_ACCOUNT_ID,
    keys: new ApiGatewayKeyStore(clients.apiGateway),
    ledger: new DynamoDbLedger(clients.dynamodb, config.LEDGER_TABLE_NAME),
    events: new EventBridgePublisher(clients.eventBridge, config.EVENT_BUS_NAME),
    sealer: new KmsKeySealer(clients.kms),
    clock,
    ...(metrics && { metrics }),
    log: createLogger('key-reaper'),
    edgeKmsKeyArn: config.EDGE_KMS_KEY_ARN,
    targets: new Map(targets.map((t) => [t.name, t])),
  };
}
