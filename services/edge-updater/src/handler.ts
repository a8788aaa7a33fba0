import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import {
  acceptEvent,
  accountIdSchema,
  actorOf,
  awsClientConfigFromEnv,
  createLogger,
  createMetrics,
  countRetries,
  envVar,
  EventBridgePublisher,
  KmsKeySealer,
  readConfig,
  systemClock,
  type HandlerResult,
  type KeyrotMetrics,
} from '@keyrot/shared';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { CloudFrontEdgeConfig } from './adapters/cloudfront-edge';
import { updateEdge, type EdgeDeps } from './update-edge';

export const configSchema = z.object({
  API_ACCOUNT_ID: accountIdSchema,
  EDGE_ACCOUNT_ID: accountIdSchema,
  EVENT_BUS_NAME: envVar.name(),
  DEPLOY_POLL_SECONDS: envVar.number(20, 0, 300),
  /** Upper bound of the wait for `Deployed` in one invocation; the Lambda timeout also bounds it. */
  DEPLOY_MAX_WAIT_SECONDS: envVar.number(840, 0, 900),
});

/** Time kept in reserve at the end of an invocation to report the outcome. */
const RESERVE_MS = 20_000;

export type EdgeEnvironment = Omit<EdgeDeps, 'actor'> & {
  readonly metrics?: KeyrotMetrics;
  readonly apiAccountId: string;
  readonly edgeAccountId: string;
};

/** The edge-updater's Lambda handler over injected dependencies. */
export function createHandler(env: EdgeEnvironment) {
  return async (raw: unknown, context?: Context): Promise<HandlerResult> => {
    const remaining = context?.getRemainingTimeInMillis?.();
    const deps: EdgeDeps = {
      ...env,
      actor: actorOf(env.edgeAccountId, context),
      maxWaitMs:
        remaining === undefined ? env.maxWaitMs : Math.min(env.maxWaitMs, remaining - RESERVE_MS),
    };
    return acceptEvent(
      raw,
      { accounts: [env.apiAccountId], detailTypes: ['KeyCreated'] },
      { ...deps, ...(context && { context }) },
      (event) => updateEdge(event.detail, deps),
    );
  };
}

/** Builds the edge-updater's dependencies from its Lambda environment. */
export function environmentFromProcess(env: NodeJS.ProcessEnv = process.env): EdgeEnvironment {
  const config = readConfig(configSchema, env);
  const aws = awsClientConfigFromEnv(env);
  const metrics = createMetrics('edge-updater');
  const client = <C extends Parameters<typeof countRetries>[0]>(c: C) => countRetries(c, metrics);
  return {
    apiAccountId: config.API_ACCOUNT_ID,
    edgeAccountId: config.EDGE_ACCOUNT_ID,
    edge: new CloudFrontEdgeConfig(client(new CloudFrontClient(aws))),
    sealer: new KmsKeySealer(client(new KMSClient(aws))),
    events: new EventBridgePublisher(client(new EventBridgeClient(aws)), config.EVENT_BUS_NAME),
    clock: systemClock,
    metrics,
    log: createLogger('edge-updater'),
    pollIntervalMs: config.DEPLOY_POLL_SECONDS * 1000,
    maxWaitMs: config.DEPLOY_MAX_WAIT_SECONDS * 1000,
  };
}

let instance: ReturnType<typeof createHandler> | undefined;

/** Lambda entry point: clients are built once per execution environment. */
export const handler = (event: unknown, context: Context) =>
  (instance ??= createHandler(environmentFromProcess()))(event, context);
