import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  acceptEvent,
  byDetailType,
  actorOf,
  InvalidInputError,
  lambdaClients,
  MetricUnit,
  parseEdgeCheckTrigger,
  readConfig,
  summarizeError,
  systemClock,
  UntrustedEventError,
  type DetailOf,
  type HandlerResult,
  type Trust,
} from '@keyrot/shared';
import type { Context } from 'aws-lambda';
import { buildEdgeDeps, configSchema, type EdgeEnvironment } from './deps';
import { checkHealDeployment, healEdge } from './heal-edge';
import { observeEdge } from './observe-edge';
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
type EdgeDetailType =
  'KeyCreated' | 'EdgeDeploymentCheck' | 'EdgeUpdateRetry' | 'EdgeHealRequested';

export type EdgeHandler = (raw: unknown, context?: Context) => Promise<HandlerResult>;

export interface EdgeHandlers {
  /**
   * Function `updateEdge`: `KeyCreated` and the drift guard's `EdgeHealRequested`, from the
   * API account only, and `EdgeUpdateRetry` (its own later try, which EventBridge Scheduler
   * puts on the edge bus), from the edge account only.
   */
  readonly updateEdge: EdgeHandler;
  /**
   * Function `awaitDeployment`: `EdgeDeploymentCheck`, from the edge account only (EventBridge
   * Scheduler puts it on the edge's own bus); a heal's check announces the heal.
   */
  readonly checkDeployment: EdgeHandler;
  /**
   * Function `checkEdge` (the drift guard): CloudTrail's `UpdateDistribution` record or the
   * hourly schedule, from the edge account only; announces `EdgeObserved` per target.
   */
  readonly checkEdge: EdgeHandler;
}

/** Who may send a detail type to the edge-updater. */
function trustOf<T extends EdgeDetailType>(env: EdgeEnvironment, detailType: T): Trust<T> {
  const fromApi = detailType === 'KeyCreated' || detailType === 'EdgeHealRequested';
  const sender = fromApi ? env.apiAccountId : env.edgeAccountId;
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
      {
        EdgeUpdateRetry: createFunction(env, 'EdgeUpdateRetry', retryEdgeUpdate),
        EdgeHealRequested: createFunction(env, 'EdgeHealRequested', healEdge),
      },
      createFunction(env, 'KeyCreated', (event, deps) => updateEdgeFor(event, deps)),
    ),
    checkDeployment: createFunction(env, 'EdgeDeploymentCheck', (check, deps) =>
      check.purpose === 'heal' ? checkHealDeployment(check, deps) : checkDeploymentOf(check, deps),
    ),
    checkEdge: createCheckEdge(env),
  };
}

/**
 * checkEdge's handler: takes the AWS event (not a keyrot one: acceptEvent's source check does
 * not apply) from the edge account only, then observes the affected targets.
 */
function createCheckEdge(env: EdgeEnvironment): EdgeHandler {
  return async (raw, context) => {
    const { log, metrics } = env;
    log.resetKeys();
    if (context) log.addContext(context);
    try {
      let trigger;
      try {
        trigger = parseEdgeCheckTrigger(raw, env.edgeAccountId);
      } catch (error) {
        if (!(error instanceof UntrustedEventError || error instanceof InvalidInputError)) {
          throw error;
        }
        log.error('event rejected', { error: summarizeError(error) });
        metrics?.addMetric('EventsRejected', MetricUnit.Count, 1);
        return { status: 'rejected' };
      }
      log.appendKeys({ step: 'EDGE_CHECK', trigger: trigger.trigger, eventId: trigger.eventId });
      return await observeEdge(trigger, {
        edge: env.edge,
        events: env.events,
        clock: env.clock,
        log,
        actor: actorOf(env.edgeAccountId, context),
        targets: env.driftGuardTargets ?? [],
      });
    } finally {
      metrics?.publishStoredMetrics();
    }
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

/** Lambda entry point of function `checkEdge` (serverless.yml): the drift guard's look. */
export const checkEdge: EdgeHandler = (raw, context) => handlers().checkEdge(raw, context);
