import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import {
  acceptEvent,
  accountIdSchema,
  actorOf,
  createLogger,
  lambdaClients,
  lazyHandler,
  envVar,
  EventBridgePublisher,
  InvalidInputError,
  KmsKeySealer,
  readConfig,
  systemClock,
  type HandlerResult,
  type KeyrotMetrics,
} from '@keyrot/shared';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { CloudFrontEdgeConfig } from './adapters/cloudfront-edge';
import { SchedulerDeploymentChecks } from './adapters/scheduler-checks';
import { checkDeployment, updateEdge, type EdgeDeps } from './update-edge';

export const configSchema = z.object({
  API_ACCOUNT_ID: accountIdSchema,
  EDGE_ACCOUNT_ID: accountIdSchema,
  EVENT_BUS_NAME: envVar.name(),
  DEPLOY_POLL_SECONDS: envVar.number(20, 0, 300),
  /** Upper bound of the wait for `Deployed` in one invocation; the Lambda timeout also bounds it. */
  DEPLOY_MAX_WAIT_SECONDS: envVar.number(840, 0, 900),
  /** Pause before a scheduled re-check of a deployment that outlasted an invocation. */
  DEPLOY_RECHECK_SECONDS: envVar.number(60, 1, 3600),
  /** How long after the key was issued the edge waits for `Deployed` before it gives up. */
  DEPLOY_DEADLINE_SECONDS: envVar.number(7200, 60, 86_400),
  /** Scheduler group, role and target bus of the re-checks (all three, or none: no re-check). */
  DEPLOY_CHECK_SCHEDULE_GROUP: z.optional(z.string()),
  DEPLOY_CHECK_ROLE_ARN: z.optional(z.string()),
  DEPLOY_CHECK_BUS_ARN: z.optional(z.string()),
  /** Dead-letter queue of a re-check Scheduler could not deliver (optional). */
  DEPLOY_CHECK_DLQ_ARN: z.optional(z.string()),
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
      {
        accounts: [env.apiAccountId],
        detailTypes: ['KeyCreated', 'EdgeDeploymentCheck'],
        // The re-check is the edge's own event, put on its bus by EventBridge Scheduler.
        accountsOf: { EdgeDeploymentCheck: [env.edgeAccountId] },
      },
      { ...deps, ...(context && { context }) },
      (event) =>
        event.detailType === 'KeyCreated'
          ? updateEdge(event.detail, deps)
          : checkDeployment(event.detail, deps),
    );
  };
}

/** Builds the edge-updater's dependencies from its Lambda environment. */
export function environmentFromProcess(env: NodeJS.ProcessEnv = process.env): EdgeEnvironment {
  const config = readConfig(configSchema, env);
  const { aws, metrics, counted: client, paced } = lambdaClients('edge-updater', env);
  return {
    apiAccountId: config.API_ACCOUNT_ID,
    edgeAccountId: config.EDGE_ACCOUNT_ID,
    // UpdateDistribution is paced (shared/src/aws/pacing.ts); CloudFront publishes no rate.
    edge: new CloudFrontEdgeConfig(paced(client(new CloudFrontClient(aws)))),
    sealer: new KmsKeySealer(client(new KMSClient(aws))),
    events: new EventBridgePublisher(client(new EventBridgeClient(aws)), config.EVENT_BUS_NAME),
    clock: systemClock,
    metrics,
    log: createLogger('edge-updater'),
    pollIntervalMs: config.DEPLOY_POLL_SECONDS * 1000,
    maxWaitMs: config.DEPLOY_MAX_WAIT_SECONDS * 1000,
    recheckDelayMs: config.DEPLOY_RECHECK_SECONDS * 1000,
    deployDeadlineMs: config.DEPLOY_DEADLINE_SECONDS * 1000,
    ...deployChecksFrom(config, () => client(new SchedulerClient(aws))),
  };
}

/** The scheduled re-checks, when the environment names their group, role and bus. */
function deployChecksFrom(
  config: z.output<typeof configSchema>,
  client: () => SchedulerClient,
): { deployChecks?: SchedulerDeploymentChecks } {
  const {
    DEPLOY_CHECK_SCHEDULE_GROUP: groupName,
    DEPLOY_CHECK_ROLE_ARN: roleArn,
    DEPLOY_CHECK_BUS_ARN: busArn,
    DEPLOY_CHECK_DLQ_ARN: deadLetterArn,
  } = config;
  if (!groupName && !roleArn && !busArn) return {};
  if (!groupName) throw new InvalidInputError('DEPLOY_CHECK_SCHEDULE_GROUP', 'must be set');
  if (!roleArn) throw new InvalidInputError('DEPLOY_CHECK_ROLE_ARN', 'must be set');
  if (!busArn) throw new InvalidInputError('DEPLOY_CHECK_BUS_ARN', 'must be set');
  return {
    deployChecks: new SchedulerDeploymentChecks(client(), {
      groupName,
      roleArn,
      busArn,
      ...(deadLetterArn && { deadLetterArn }),
    }),
  };
}

/** Lambda entry point: clients are built once per execution environment. */
export const handler = lazyHandler(() => createHandler(environmentFromProcess()));
