import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MiddlewareStack } from '@smithy/types';
import { OUTCOME_METRICS, type ResultStatus } from './rotation/results';
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

/** Any SDK v3 client, for middleware meant for every client. */
// Each client's middleware stack is generic over its own input and output unions, which
// middleware for every client cannot name.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyClient = { middlewareStack: MiddlewareStack<any, any> };

/**
 * Counts the retries the SDK made (throttling and server errors; adaptive retry mode) as
 * `ThrottlingRetries`, from each call's `$metadata.attempts`.
 */
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

/** Adds the metrics of one handler result: its outcome count and its durations. */
export function recordResult(metrics: Metrics, result: HandlerResult): void {
  const name = isResultStatus(result.status) ? OUTCOME_METRICS[result.status] : null;
  if (name) metrics.addMetric(name, MetricUnit.Count, 1);
  for (const [what, ms] of Object.entries(result.durationsMs ?? {})) {
    metrics.addMetric(`${what}Duration`, MetricUnit.Milliseconds, ms);
  }
}

const isResultStatus = (status: string): status is ResultStatus =>
  Object.hasOwn(OUTCOME_METRICS, status);
