import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MiddlewareStack } from '@smithy/types';
import { awsClientConfigFromEnv } from './aws/config';
import type { HandlerResult } from './runtime';

export const METRICS_NAMESPACE = 'keyrot';
export type KeyrotMetrics = Metrics;
export { MetricUnit };

/**
 * CloudWatch metrics in Embedded Metric Format (Powertools Metrics): every function emits in
 * namespace `keyrot` with its `service` dimension; alarms (docs/operations.md) watch them.
 */
export function createMetrics(serviceName: string): Metrics {
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName });
}

/**
 * Counts the retries the SDK made (throttling and server errors; adaptive retry mode) as
 * `ThrottlingRetries`, from each call's `$metadata.attempts`.
 */
// Each SDK client's middleware stack is generic over its own input and output unions; this
// middleware only reads `$metadata`, so it takes any client's stack.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyClient = { middlewareStack: MiddlewareStack<any, any> };

export function countRetries<C extends AnyClient>(client: C, metrics: Metrics): C {
  client.middlewareStack.add(
    (next) => async (args) => {
      const note = (metadata: { attempts?: number } | undefined) => {
        const retries = (metadata?.attempts ?? 1) - 1;
        if (retries > 0) metrics.addMetric('ThrottlingRetries', MetricUnit.Count, retries);
      };
      try {
        const result = await next(args);
        note((result.output as { $metadata?: { attempts?: number } }).$metadata);
        return result;
      } catch (error) {
        note((error as { $metadata?: { attempts?: number } }).$metadata);
        throw error;
      }
    },
    { step: 'initialize', name: 'keyrotCountRetries' },
  );
  return client;
}

/** What each handler outcome counts as. */
const OUTCOME_METRICS: Readonly<Record<string, string>> = {
  sent: 'RotationsStarted',
  refused: 'RotationsRefused',
  'fanned-out': 'RotationsFannedOut',
  updated: 'EdgeUpdates',
  'already-updated': 'EdgeUpdates',
  completed: 'RotationsCompleted',
  failed: 'RotationsFailed',
  'rolled-back': 'RotationsFailed',
  closed: 'RotationsFailed',
  duplicate: 'DuplicateEvents',
  late: 'DuplicateEvents',
  'unknown-rotation': 'EventsRejected',
};

/** Adds the metrics of one handler result: its outcome count and its durations. */
export function recordResult(metrics: Metrics, result: HandlerResult): void {
  const name = OUTCOME_METRICS[result.status];
  if (name) metrics.addMetric(name, MetricUnit.Count, 1);
  for (const [what, ms] of Object.entries(result.durationsMs ?? {})) {
    metrics.addMetric(`${what}Duration`, MetricUnit.Milliseconds, ms);
  }
}

/**
 * What a function's Lambda entry builds its SDK clients with: the environment's AWS config,
 * its metrics, and `counted`, which makes a client's retries count as `ThrottlingRetries`.
 */
export function lambdaClients(serviceName: string, env: NodeJS.ProcessEnv) {
  const aws = awsClientConfigFromEnv(env);
  const metrics = createMetrics(serviceName);
  return {
    aws,
    metrics,
    counted: <C extends AnyClient>(client: C) => countRetries(client, metrics),
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
