import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  acceptEvent,
  byDetailType,
  actorOf,
  lambdaClients,
  readConfig,
  systemClock,
  type DetailOf,
  type HandlerResult,
  type Trust,
} from '@keyrot/shared';
import type { Context } from 'aws-lambda';
import { buildEdgeDeps, configSchema, type EdgeEnvironment } from './deps';
import {
  checkDeployment as checkDeploymentOf,
  retryEdgeUpdate,
  updateEdge as updateEdgeFor,
  type EdgeDeps,
} from './update-edge';

export type { EdgeEnvironment } from './deps';

/** Time kept in reserve at the end of an invocation to report the outcome. */
const RESERVE_MS = 20_000;

/**
 * The edge-updater's two functions: each takes its detail type only from its sender
 * (`updateEdge` also its own retries, from the edge account).
 */
type EdgeDetailType = 'KeyCreated' | 'EdgeDeploymentCheck' | 'EdgeUpdateRetry';

export type EdgeHandler = (raw: unknown, context?: Context) => Promise<HandlerResult>;

export interface EdgeHandlers {
  /**
   * Function `updateEdge`: `KeyCreated`, from the API account only, and `EdgeUpdateRetry`
   * (its own later try, which EventBridge Scheduler puts on the edge bus), from the edge
   * account only.
   */
  readonly updateEdge: EdgeHandler;
  /**
   * Function `awaitDeployment`: `EdgeDeploymentCheck`, from the edge account only (EventBridge
   * Scheduler puts it on the edge's own bus).
   */
  readonly checkDeployment: EdgeHandler;
}

/** Who may send a detail type to the edge-updater. */
function trustOf<T extends EdgeDetailType>(env: EdgeEnvironment, detailType: T): Trust<T> {
  const sender = detailType === 'KeyCreated' ? env.apiAccountId : env.edgeAccountId;
  return { accounts: [sender], detailTypes: [detailType] };
}

/** One function's handler: accepts `detailType` only, and hands its detail to `handle`. */
function createFunction<T extends EdgeDetailType>(
  env: EdgeEnvironment,
  detailType: T,
  handle: (detail: DetailOf[T], deps: EdgeDeps) => Promise<HandlerResult>,
): EdgeHandler {
  return async (raw, context) => {
    const remaining = context?.getRemainingTimeInMillis?.();
    const deps: EdgeDeps = {
      ...env,
      actor: actorOf(env.edgeAccountId, context),
      maxWaitMs:
        remaining === undefined ? env.maxWaitMs : Math.min(env.maxWaitMs, remaining - RESERVE_MS),
    };
    return acceptEvent(
      raw,
      trustOf(env, detailType),
      { ...deps, ...(context && { context }) },
      (event) => handle(event.detail, deps),
    );
  };
}

/** The edge-updater's handlers over injected dependencies, one per function. */
export function createHandlers(env: EdgeEnvironment): EdgeHandlers {
  return {
    // A claimed retry goes to the handler that accepts it from the edge account only;
    // anything else to the one that accepts only KeyCreated from the API account.
    updateEdge: byDetailType(
      { EdgeUpdateRetry: createFunction(env, 'EdgeUpdateRetry', retryEdgeUpdate) },
      createFunction(env, 'KeyCreated', (event, deps) => updateEdgeFor(event, deps)),
    ),
    checkDeployment: createFunction(env, 'EdgeDeploymentCheck', checkDeploymentOf),
  };
}

/** The edge-updater's dependencies from its Lambda environment, with counted clients. */
export function environmentFromProcess(env: NodeJS.ProcessEnv = process.env): EdgeEnvironment {
  const config = readConfig(configSchema, env);
  const { aws, metrics, counted, paced } = lambdaClients('edge-updater', env);
  return buildEdgeDeps(
    config,
    {
      // UpdateDistribution is paced (shared/src/aws/pacing.ts); CloudFront publishes no rate.
      cloudFront: paced(counted(new CloudFrontClient(aws))),
      kms: counted(new KMSClient(aws)),
      secretsManager: counted(new SecretsManagerClient(aws)),
      eventBridge: counted(new EventBridgeClient(aws)),
      scheduler: () => counted(new SchedulerClient(aws)),
    },
    { clock: systemClock, metrics },
  );
}

/** Clients are built once per execution environment, by its first invocation. */
let built: EdgeHandlers | undefined;
const handlers = (): EdgeHandlers => (built ??= createHandlers(environmentFromProcess()));

/** Lambda entry point of function `updateEdge` (serverless.yml): `KeyCreated` only. */
export const updateEdge: EdgeHandler = (raw, context) => handlers().updateEdge(raw, context);

/** Lambda entry point of function `awaitDeployment` (serverless.yml): `EdgeDeploymentCheck` only. */
export const checkDeployment: EdgeHandler = (raw, context) =>
  handlers().checkDeployment(raw, context);
