import type { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  accountIdSchema,
  createLogger,
  envVar,
  functionConfigFields,
  EventBridgePublisher,
  schedulesOptionsFrom,
  KmsKeySealer,
  parseDriftGuardTargets,
  SecretsManagerCurrentKey,
  type Clock,
  type Target,
  type KeyrotMetrics,
} from '@keyrot/shared';
import * as z from 'zod/mini';
import { CloudFrontEdgeConfig } from './adapters/cloudfront-edge';
import { SchedulerDeploymentChecks } from './adapters/scheduler-checks';
import type { EdgeDeps } from './update-edge';

/**
 * The edge-updater's configuration, as its Lambda environment states it. Every default is
 * stated here and only here: the Lambda entry and the local harness both read it through this
 * schema.
 */
export const configSchema = z.object({
  ...functionConfigFields,
  EDGE_ACCOUNT_ID: accountIdSchema,
  /** keyrot's stage: the current-key secrets are `keyrot/<stage>/<target name>/current-key`. */
  KEYROT_STAGE: envVar.name(),
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
  /**
   * checkEdge's targets: those of keyrot.targets.yml whose drift guard is on, as a JSON list
   * (services/manifest/stacks.ts). Empty or unset: checkEdge watches nothing.
   */
  DRIFT_GUARD_TARGETS: z.optional(z.string()),
});

export type EdgeConfig = z.output<typeof configSchema>;

export type EdgeEnvironment = Omit<EdgeDeps, 'actor'> & {
  readonly metrics?: KeyrotMetrics;
  readonly apiAccountId: string;
  readonly edgeAccountId: string;
  /** The targets whose drift guard is on (checkEdge's; none when absent). */
  readonly driftGuardTargets?: readonly Target[];
};

/**
 * The SDK clients the edge-updater calls, built by the caller: on Lambda counted (and
 * `UpdateDistribution` paced, `lambdaClients`), in the harness pointed at the local edge
 * account. `scheduler` is built only if the configuration names the re-checks.
 */
export interface EdgeClients {
  readonly cloudFront: CloudFrontClient;
  readonly kms: KMSClient;
  readonly secretsManager: SecretsManagerClient;
  readonly eventBridge: EventBridgeClient;
  readonly scheduler: () => SchedulerClient;
}

export interface EdgeRuntime {
  readonly clock: Clock;
  readonly metrics?: KeyrotMetrics;
}

/** The edge-updater's dependencies from its configuration and clients: one place, for all. */
export function buildEdgeDeps(
  config: EdgeConfig,
  clients: EdgeClients,
  runtime: EdgeRuntime,
): EdgeEnvironment {
  const { clock, metrics } = runtime;
  return {
    apiAccountId: config.API_ACCOUNT_ID,
    edgeAccountId: config.EDGE_ACCOUNT_ID,
    driftGuardTargets: parseDriftGuardTargets(config.DRIFT_GUARD_TARGETS),
    edge: new CloudFrontEdgeConfig(clients.cloudFront),
    currentKey: new SecretsManagerCurrentKey(clients.secretsManager, config.KEYROT_STAGE),
    sealer: new KmsKeySealer(clients.kms),
    events: new EventBridgePublisher(clients.eventBridge, config.EVENT_BUS_NAME),
    clock,
    ...(metrics && { metrics }),
    log: createLogger('edge-updater'),
    pollIntervalMs: config.DEPLOY_POLL_SECONDS * 1000,
    maxWaitMs: config.DEPLOY_MAX_WAIT_SECONDS * 1000,
    recheckDelayMs: config.DEPLOY_RECHECK_SECONDS * 1000,
    deployDeadlineMs: config.DEPLOY_DEADLINE_SECONDS * 1000,
    ...deployChecksFrom(config, clients.scheduler),
  };
}

/** The scheduled re-checks and retries, when the configuration names their group, role and bus. */
function deployChecksFrom(
  config: EdgeConfig,
  client: () => SchedulerClient,
): { deployChecks?: SchedulerDeploymentChecks } {
  const options = schedulesOptionsFrom('DEPLOY_CHECK', config);
  return options ? { deployChecks: new SchedulerDeploymentChecks(client(), options) } : {};
}
