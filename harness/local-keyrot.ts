/**
 * keyrot's three handlers wired to the local two-account world: the same `createHandler`
 * the Lambda entry points use, with clients acting in each side's moto account.
 * Test infrastructure only.
 */
import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import {
  ApiGatewayKeyStore,
  AWS_RETRY,
  createLogger,
  createMetrics,
  DynamoDbLedger,
  EventBridgePublisher,
  KmsKeySealer,
  systemClock,
  type Clock,
  type HandlerResult,
} from '@keyrot/shared';
import type { Context } from 'aws-lambda';
import { createHandler as createEdgeUpdater } from '../services/edge-updater/src/handler';
import { CloudFrontEdgeConfig } from '../services/edge-updater/src/adapters/cloudfront-edge';
import { SchedulerDeploymentChecks } from '../services/edge-updater/src/adapters/scheduler-checks';
import { HttpReadinessProbe } from '../services/key-issuer/src/adapters/http-readiness';
import { createHandler as createIssuer } from '../services/key-issuer/src/handler';
import { createHandler as createReaper } from '../services/key-reaper/src/handler';
import { clientConfig } from './accounts';
import { correctUsagePlanKeys } from './apigateway-sim';
import { CloudFrontSimulator } from './cloudfront-sim';
import type { LocalWorld } from './provision';
import type { ServiceName } from './subscriptions';

export type LocalHandler = (event: unknown, context?: Context) => Promise<HandlerResult>;

export interface LocalKeyrotOptions {
  /** Reaper's grace after `Deployed` (default 0 locally). */
  readonly graceSeconds?: number;
  /** Reaper's grace for an emergency rotation (default: the reaper's own, at most `graceSeconds`). */
  readonly emergencyGraceSeconds?: number;
  /** Edge-updater's pause between deployment checks (default 50 ms locally). */
  readonly pollIntervalMs?: number;
  /** Edge-updater's longest wait for `Deployed` in one invocation (default 30 s locally). */
  readonly maxWaitMs?: number;
  /** Edge-updater's pause before a scheduled deployment re-check (default 60 s). */
  readonly recheckDelayMs?: number;
  /** How long after issuance the edge-updater waits for `Deployed` (default 2 h). */
  readonly deployDeadlineMs?: number;
  /**
   * The issuer's readiness probe (`HEALTH_CHECK_URL`): the stage URL it GETs with the new key
   * until a 2xx, before announcing it. Off when absent, as in production.
   */
  readonly healthCheckUrl?: string;
  /** `READINESS_TIMEOUT_SECONDS` in ms (default 60 s), and the pause between probes (1 s). */
  readonly readinessTimeoutMs?: number;
  readonly readinessIntervalMs?: number;
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
}

/** Builds the issuer, edge-updater and reaper handlers for a provisioned world. */
export function buildHandlers(
  world: LocalWorld,
  options: LocalKeyrotOptions = {},
): Record<ServiceName, LocalHandler> {
  const retry = options.lambdaRetry ? AWS_RETRY : {};
  const api = { ...clientConfig(world.api.session), ...retry };
  const edge = { ...clientConfig(world.edge.session), ...retry };
  const decorate = options.decorateClient ?? ((client) => client);
  const clock = options.clock ?? systemClock;
  const apiLedger = new DynamoDbLedger(
    decorate(new DynamoDBClient(api), 'api'),
    world.api.ledgerTableName,
  );
  const apiKeys = new ApiGatewayKeyStore(
    decorate(correctUsagePlanKeys(new APIGatewayClient(api)), 'api'),
  );
  const publisher = (side: 'api' | 'edge') =>
    new EventBridgePublisher(
      decorate(new EventBridgeClient(side === 'api' ? api : edge), side),
      side === 'api' ? world.api.busName : world.edge.busName,
    );
  return {
    'key-issuer': createIssuer({
      apiAccountId: world.api.session.accountId,
      keys: apiKeys,
      // moto looks a key ARN up in the caller's account, so the local issuer calls KMS as the
      // edge account; on AWS the edge key's policy grants the issuer role kms:Encrypt.
      sealer: new KmsKeySealer(decorate(new KMSClient(edge), 'api')),
      ledger: apiLedger,
      events: publisher('api'),
      clock,
      log: createLogger('key-issuer'),
      metrics: createMetrics('key-issuer'),
      edgeKmsKeyArn: world.edge.kmsKeyArn,
      lockSeconds: options.lockSeconds ?? 3600,
      ...(options.healthCheckUrl && {
        readiness: new HttpReadinessProbe(
          options.healthCheckUrl,
          'x-api-key',
          options.readinessTimeoutMs ?? 60_000,
          clock,
          options.readinessIntervalMs ?? 1000,
        ),
      }),
    }),
    'edge-updater': createEdgeUpdater({
      apiAccountId: world.api.session.accountId,
      edgeAccountId: world.edge.session.accountId,
      edge: new CloudFrontEdgeConfig(
        decorate(
          (options.cloudFront ?? new CloudFrontSimulator()).attach(new CloudFrontClient(edge)),
          'edge',
        ),
      ),
      sealer: new KmsKeySealer(decorate(new KMSClient(edge), 'edge')),
      events: publisher('edge'),
      clock,
      log: createLogger('edge-updater'),
      metrics: createMetrics('edge-updater'),
      pollIntervalMs: options.pollIntervalMs ?? 50,
      maxWaitMs: options.maxWaitMs ?? 30_000,
      // As deployed: a longer wait continues in a one-time schedule the runner delivers.
      deployChecks: new SchedulerDeploymentChecks(decorate(new SchedulerClient(edge), 'edge'), {
        groupName: world.edge.deployCheckGroupName,
        roleArn: world.edge.deployCheckRoleArn,
        busArn: world.edge.busArn,
      }),
      ...(options.recheckDelayMs !== undefined && { recheckDelayMs: options.recheckDelayMs }),
      ...(options.deployDeadlineMs !== undefined && {
        deployDeadlineMs: options.deployDeadlineMs,
      }),
    }),
    'key-reaper': createReaper({
      apiAccountId: world.api.session.accountId,
      edgeAccountId: world.edge.session.accountId,
      keys: apiKeys,
      ledger: apiLedger,
      events: publisher('api'),
      clock,
      log: createLogger('key-reaper'),
      metrics: createMetrics('key-reaper'),
      graceMs: (options.graceSeconds ?? 0) * 1000,
      ...(options.emergencyGraceSeconds !== undefined && {
        emergencyGraceMs: options.emergencyGraceSeconds * 1000,
      }),
    }),
  };
}
