import type { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import {
  ApiGatewayKeyStore,
  createLogger,
  DynamoDbLedger,
  DEFAULT_LOCK_SECONDS,
  envVar,
  functionConfigFields,
  EventBridgePublisher,
  kmsKeyArnSchema,
  KmsKeySealer,
  OneTimeSchedules,
  schedulesOptionsFrom,
  type Clock,
  type KeyrotMetrics,
  type RequestFanOut,
} from '@keyrot/shared';
import * as z from 'zod/mini';
import { ReadinessByTarget } from './adapters/http-readiness';
import { SchedulerRequestRetries } from './adapters/scheduler-retries';
import type { IssuerDeps } from './issue-key';

/**
 * The issuer's configuration, as its Lambda environment states it. Every default is stated
 * here and only here: the Lambda entry and the local harness both read it through this schema.
 */
export const configSchema = z.object({
  ...functionConfigFields,
  LEDGER_TABLE_NAME: envVar.name(),
  EDGE_KMS_KEY_ARN: kmsKeyArnSchema,
  LOCK_SECONDS: envVar.number(DEFAULT_LOCK_SECONDS, 60),
  HEALTH_CHECK_URL: envVar.optionalUrl(),
  /** Target name → readiness URL (JSON), from keyrot.targets.yml; HEALTH_CHECK_URL for others. */
  HEALTH_CHECK_URLS: z._default(
    z.pipe(
      z.string(),
      z.transform((text, ctx): Record<string, string> => {
        const urls = readinessUrls(text);
        if (urls) return urls;
        ctx.issues.push({
          code: 'custom',
          input: text,
          message: 'must be a JSON object of target name to http(s) URL',
        });
        return z.NEVER;
      }),
    ),
    {},
  ),
  READINESS_TIMEOUT_SECONDS: envVar.number(60, 1, 600),
  /** Scheduler group, role and bus of the requests' later tries (all three, or none). */
  RETRY_SCHEDULE_GROUP: z.optional(z.string()),
  RETRY_ROLE_ARN: z.optional(z.string()),
  RETRY_BUS_ARN: z.optional(z.string()),
  /** Dead-letter queue of a retry Scheduler could not deliver (optional). */
  RETRY_DLQ_ARN: z.optional(z.string()),
});

export type IssuerConfig = z.output<typeof configSchema>;

const readinessUrlsSchema = z.record(z.string(), z.url({ protocol: /^https?$/ }));

function readinessUrls(text: string): Record<string, string> | undefined {
  if (text.trim() === '') return {};
  try {
    const parsed = readinessUrlsSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** What the handler needs; {@link buildIssuerDeps} builds it, tests inject it. */
export type IssuerEnvironment = Omit<IssuerDeps, 'actor' | 'invocation'> & {
  readonly metrics?: KeyrotMetrics;
  readonly apiAccountId: string;
  /** Puts one request per target of a `targets` list; default: `events`, if it can. */
  readonly fanOut?: RequestFanOut;
};

/**
 * The SDK clients the issuer calls, built by the caller: on Lambda counted and paced
 * (`lambdaClients`), in the harness pointed at the local accounts. `kms` must reach the edge
 * account's key (`EDGE_KMS_KEY_ARN`).
 */
export interface IssuerClients {
  readonly apiGateway: APIGatewayClient;
  readonly kms: KMSClient;
  readonly dynamodb: DynamoDBClient;
  readonly eventBridge: EventBridgeClient;
  /** Made only when the configuration names the retries' schedule group. */
  readonly scheduler: () => SchedulerClient;
}

export interface IssuerRuntime {
  readonly clock: Clock;
  readonly metrics?: KeyrotMetrics;
}

/** The issuer's dependencies from its configuration and clients: one place, for every caller. */
export function buildIssuerDeps(
  config: IssuerConfig,
  clients: IssuerClients,
  runtime: IssuerRuntime,
): IssuerEnvironment {
  const { clock, metrics } = runtime;
  const events = new EventBridgePublisher(clients.eventBridge, config.EVENT_BUS_NAME);
  const readiness = new ReadinessByTarget(
    config.HEALTH_CHECK_URLS,
    config.HEALTH_CHECK_URL || undefined,
    config.READINESS_TIMEOUT_SECONDS * 1000,
    clock,
  );
  return {
    apiAccountId: config.API_ACCOUNT_ID,
    keys: new ApiGatewayKeyStore(clients.apiGateway),
    sealer: new KmsKeySealer(clients.kms),
    ledger: new DynamoDbLedger(clients.dynamodb, config.LEDGER_TABLE_NAME),
    events,
    fanOut: events,
    clock,
    ...(metrics && { metrics }),
    log: createLogger('key-issuer'),
    edgeKmsKeyArn: config.EDGE_KMS_KEY_ARN,
    lockSeconds: config.LOCK_SECONDS,
    ...(readiness.probesAny && { readiness }),
    ...retriesFrom(config, clients.scheduler),
  };
}

/** The requests' later tries, when the configuration names their group, role and bus. */
function retriesFrom(
  config: IssuerConfig,
  client: () => SchedulerClient,
): { retries?: SchedulerRequestRetries } {
  const options = schedulesOptionsFrom('RETRY', config);
  if (!options) return {};
  return { retries: new SchedulerRequestRetries(new OneTimeSchedules(client(), options)) };
}
