import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  acceptEvent,
  accountIdSchema,
  actorOf,
  ApiGatewayKeyStore,
  createLogger,
  lambdaClients,
  lazyHandler,
  envVar,
  invocationOf,
  DynamoDbLedger,
  EventBridgePublisher,
  readConfig,
  systemClock,
  withStepLogging,
  type HandlerResult,
  MetricUnit,
  type KeyrotMetrics,
} from '@keyrot/shared';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { checkRotations, type TargetHealth } from './check-rotations';
import { closeFailedRotation, retireKeys, type ReaperDeps } from './retire-keys';

export const configSchema = z.object({
  API_ACCOUNT_ID: accountIdSchema,
  EDGE_ACCOUNT_ID: accountIdSchema,
  EVENT_BUS_NAME: envVar.name(),
  LEDGER_TABLE_NAME: envVar.name(),
  /** Kept short of the Lambda timeout: the reaper waits it out in one invocation. */
  GRACE_SECONDS: envVar.number(60, 0, 600),
});

export type ReaperEnvironment = Omit<ReaperDeps, 'actor' | 'invocation'> & {
  readonly metrics?: KeyrotMetrics;
  readonly apiAccountId: string;
  readonly edgeAccountId: string;
};

/** The reaper's Lambda handler over injected dependencies. */
export function createHandler(env: ReaperEnvironment) {
  return async (raw: unknown, context?: Context): Promise<HandlerResult> => {
    const deps: ReaperDeps & { context?: Context } = {
      ...env,
      ledger: withStepLogging(env.ledger, env.log),
      actor: actorOf(env.apiAccountId, context),
      invocation: invocationOf(env.clock, context),
      ...(context && { context }),
    };
    return acceptEvent(
      raw,
      { accounts: [env.edgeAccountId], detailTypes: ['EdgeUpdated', 'RotationFailed'] },
      deps,
      (event) => {
        return event.detailType === 'RotationFailed'
          ? closeFailedRotation(event.detail, deps)
          : retireKeys(event.detail, deps);
      },
    );
  };
}

/** Builds the reaper's dependencies from its Lambda environment. */
export function environmentFromProcess(env: NodeJS.ProcessEnv = process.env): ReaperEnvironment {
  const config = readConfig(configSchema, env);
  const { aws, metrics, counted: client, paced } = lambdaClients('key-reaper', env);
  return {
    apiAccountId: config.API_ACCOUNT_ID,
    edgeAccountId: config.EDGE_ACCOUNT_ID,
    // DeleteApiKey is paced to this environment's share of API Gateway's 5 requests/s.
    keys: new ApiGatewayKeyStore(paced(client(new APIGatewayClient(aws)))),
    ledger: new DynamoDbLedger(client(new DynamoDBClient(aws)), config.LEDGER_TABLE_NAME),
    events: new EventBridgePublisher(client(new EventBridgeClient(aws)), config.EVENT_BUS_NAME),
    clock: systemClock,
    metrics,
    log: createLogger('key-reaper'),
    graceMs: config.GRACE_SECONDS * 1000,
  };
}

/** Lambda entry point: clients are built once per execution environment. */
export const handler = lazyHandler(() => createHandler(environmentFromProcess()));

export const checkConfigSchema = z.object({
  LEDGER_TABLE_NAME: envVar.name(),
  /** Comma-separated target names to watch. */
  TARGET_NAMES: envVar.name(),
});

export interface CheckEnvironment {
  readonly ledger: ReaperDeps['ledger'];
  readonly clock: ReaperDeps['clock'];
  readonly log: ReaperDeps['log'];
  readonly metrics: KeyrotMetrics;
  readonly targets: readonly string[];
}

/**
 * The scheduled check: emits each target's key age and in-flight time as metrics (alarms
 * watch them) and logs them.
 */
export function createCheckHandler(env: CheckEnvironment) {
  return async (): Promise<{ status: 'checked'; targets: TargetHealth[] }> => {
    env.log.resetKeys();
    const health = await checkRotations(env.targets, env);
    for (const h of health) {
      const metric = env.metrics.singleMetric();
      metric.addDimension('target', h.target);
      if (h.keyAgeDays !== null) metric.addMetric('KeyAgeDays', MetricUnit.Count, h.keyAgeDays);
      metric.addMetric('RotationInFlightMinutes', MetricUnit.Count, h.inFlightMinutes);
      env.log.info('target checked', { ...h });
    }
    return { status: 'checked', targets: health };
  };
}

/** The check's dependencies from its Lambda environment. */
export function checkEnvironmentFromProcess(
  env: NodeJS.ProcessEnv = process.env,
): CheckEnvironment {
  const config = readConfig(checkConfigSchema, env);
  const { aws, metrics, counted } = lambdaClients('key-reaper', env);
  return {
    ledger: new DynamoDbLedger(counted(new DynamoDBClient(aws)), config.LEDGER_TABLE_NAME),
    clock: systemClock,
    log: createLogger('key-reaper'),
    metrics,
    targets: config.TARGET_NAMES.split(',')
      .map((t) => t.trim())
      .filter(Boolean),
  };
}

/** Lambda entry point of the scheduled check. */
export const check = lazyHandler(() => createCheckHandler(checkEnvironmentFromProcess()));
