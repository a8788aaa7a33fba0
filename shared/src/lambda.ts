import * as z from 'zod/mini';
import { awsClientConfigFromEnv } from './aws/config';
import {
  AWS_CALL_QUOTAS,
  DEFAULT_FUNCTION_BUDGET_SHARE,
  paceCalls,
  PacingRegistry,
  shareOf,
} from './aws/pacing';
import { countRetries, createMetrics, type AnyClient } from './metrics';
import { envVar, readConfig } from './runtime';

const pacingConfig = z.object({
  /**
   * The function's reserved concurrency (serverless.yml sets both from one parameter): how
   * many execution environments may call API Gateway or CloudFront at once, each paced to
   * its share of the account's limit.
   */
  RESERVED_CONCURRENCY: envVar.count(1, 1, 1000),
  /**
   * The fraction of the API account's API Gateway quotas this function may use. keyrot
   * leaves the owner at least half: the two functions that call API Gateway (issuer and
   * reaper) default to a quarter each.
   */
  API_BUDGET_SHARE: envVar.number(DEFAULT_FUNCTION_BUDGET_SHARE, 0.01, 1),
  /** UpdateDistribution calls per second per account (CloudFront publishes no rate). */
  CLOUDFRONT_UPDATES_PER_SECOND: envVar.number(
    AWS_CALL_QUOTAS['cloudfront:UpdateDistribution'].perSecond,
    0.01,
    100,
  ),
});

/**
 * What a function's Lambda entry builds its SDK clients with: the environment's AWS config,
 * its metrics, `counted`, which makes a client's retries count as `ThrottlingRetries`, and
 * `paced`, which paces a client's rate-limited calls (shared/src/aws/pacing.ts) with this
 * execution environment's buckets.
 */
export function lambdaClients(serviceName: string, env: NodeJS.ProcessEnv) {
  const aws = awsClientConfigFromEnv(env);
  const metrics = createMetrics(serviceName);
  const config = readConfig(pacingConfig, env);
  const pacing = new PacingRegistry(
    shareOf(AWS_CALL_QUOTAS, {
      environments: config.RESERVED_CONCURRENCY,
      budgetShare: config.API_BUDGET_SHARE,
      perSecond: { 'cloudfront:UpdateDistribution': config.CLOUDFRONT_UPDATES_PER_SECOND },
    }),
  );
  return {
    aws,
    metrics,
    counted: <C extends AnyClient>(client: C) => countRetries(client, metrics),
    paced: <C extends AnyClient>(client: C) => paceCalls(client, { registry: pacing }),
  };
}

/**
 * A Lambda entry point that builds its handler (clients included) on first use and reuses it
 * for the execution environment's later invocations.
 */
export function lazyHandler<A extends unknown[], R>(build: () => (...args: A) => R) {
  let instance: ((...args: A) => R) | undefined;
  return (...args: A): R => (instance ??= build())(...args);
}
