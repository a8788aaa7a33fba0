import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import {
  acceptEvent,
  byDetailType,
  actorOf,
  lambdaClients,
  invocationOf,
  lazyHandler,
  readConfig,
  systemClock,
  withStepLogging,
  type HandlerResult,
  MetricUnit,
} from '@keyrot/shared';
import type { Context } from 'aws-lambda';
import { checkRotations, type TargetHealth } from './check-rotations';
import { checkDrift, recordHeal, type DriftDeps } from './check-drift';
import {
  buildCheckDeps,
  buildDriftDeps,
  buildReaperDeps,
  checkConfigSchema,
  configSchema,
  driftConfigSchema,
  type CheckEnvironment,
  type DriftEnvironment,
  type ReaperEnvironment,
} from './deps';
import { closeFailedRotation, retireKeys, retryRetire, type ReaperDeps } from './retire-keys';

export type { CheckEnvironment, DriftEnvironment, ReaperEnvironment } from './deps';

/**
 * The reaper's Lambda handler over injected dependencies: `EdgeUpdated` and `RotationFailed`
 * from the edge account only, and its own `RetireRetry` from the API account only.
 */
export function createHandler(env: ReaperEnvironment) {
  const depsOf = (context?: Context): ReaperDeps & { context?: Context } => ({
    ...env,
    ledger: withStepLogging(env.ledger, env.log),
    actor: actorOf(env.apiAccountId, context),
    invocation: invocationOf(env.clock, context),
    ...(context && { context }),
  });
  const fromEdge = async (raw: unknown, context?: Context): Promise<HandlerResult> => {
    const deps = depsOf(context);
    return acceptEvent(
      raw,
      { accounts: [env.edgeAccountId], detailTypes: ['EdgeUpdated', 'RotationFailed'] },
      deps,
      (event) =>
        event.detailType === 'RotationFailed'
          ? closeFailedRotation(event.detail, deps)
          : retireKeys(event.detail, deps),
    );
  };
  const retry = async (raw: unknown, context?: Context): Promise<HandlerResult> => {
    const deps = depsOf(context);
    return acceptEvent(
      raw,
      { accounts: [env.apiAccountId], detailTypes: ['RetireRetry'] },
      deps,
      (event) => retryRetire(event.detail, deps),
    );
  };
  return byDetailType({ RetireRetry: retry }, fromEdge);
}

/** The reaper's dependencies from its Lambda environment, with counted and paced clients. */
export function environmentFromProcess(env: NodeJS.ProcessEnv = process.env): ReaperEnvironment {
  const config = readConfig(configSchema, env);
  const { aws, metrics, counted, paced } = lambdaClients('key-reaper', env);
  return buildReaperDeps(
    config,
    {
      // DeleteApiKey is paced to this environment's share of API Gateway's 5 requests/s.
      apiGateway: paced(counted(new APIGatewayClient(aws))),
      dynamodb: counted(new DynamoDBClient(aws)),
      eventBridge: counted(new EventBridgeClient(aws)),
      scheduler: () => counted(new SchedulerClient(aws)),
    },
    { clock: systemClock, metrics },
  );
}

/** Lambda entry point: clients are built once per execution environment. */
export const handler = lazyHandler(() => createHandler(environmentFromProcess()));

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
  return buildCheckDeps(
    config,
    { dynamodb: counted(new DynamoDBClient(aws)) },
    { clock: systemClock, metrics },
  );
}

/** Lambda entry point of the scheduled check. */
export const check = lazyHandler(() => createCheckHandler(checkEnvironmentFromProcess()));

/**
 * The drift guard's checkDrift: `EdgeObserved`, `EdgeHealed` and `EdgeHealFailed`, from the
 * edge account only. A drift counts `EdgeDrift` with the target's dimension (acceptEvent),
 * which the per-target drift alarm watches.
 */
export function createDriftHandler(env: DriftEnvironment) {
  return async (raw: unknown, context?: Context): Promise<HandlerResult> => {
    const deps: DriftDeps & { metrics?: DriftEnvironment['metrics']; context?: Context } = {
      ...env,
      ledger: withStepLogging(env.ledger, env.log),
      actor: actorOf(env.apiAccountId, context),
      ...(context && { context }),
    };
    return acceptEvent(
      raw,
      {
        accounts: [env.edgeAccountId],
        detailTypes: ['EdgeObserved', 'EdgeHealed', 'EdgeHealFailed'],
      },
      deps,
      (event) =>
        event.detailType === 'EdgeObserved'
          ? checkDrift(event.detail, deps)
          : recordHeal(event.detail, deps),
    );
  };
}

/** checkDrift's dependencies from its Lambda environment. */
export function driftEnvironmentFromProcess(
  env: NodeJS.ProcessEnv = process.env,
): DriftEnvironment {
  const config = readConfig(driftConfigSchema, env);
  const { aws, metrics, counted } = lambdaClients('key-reaper', env);
  return buildDriftDeps(
    config,
    {
      apiGateway: counted(new APIGatewayClient(aws)),
      dynamodb: counted(new DynamoDBClient(aws)),
      eventBridge: counted(new EventBridgeClient(aws)),
      kms: counted(new KMSClient(aws)),
    },
    { clock: systemClock, metrics },
  );
}

/** Lambda entry point of function `checkDrift` (serverless.yml). */
export const drift = lazyHandler(() => createDriftHandler(driftEnvironmentFromProcess()));
