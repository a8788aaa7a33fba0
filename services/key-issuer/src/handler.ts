import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import {
  acceptEvent,
  accountIdSchema,
  actorOf,
  ApiGatewayKeyStore,
  awsClientConfigFromEnv,
  createLogger,
  createMetrics,
  countRetries,
  envVar,
  DynamoDbLedger,
  EventBridgePublisher,
  kmsKeyArnSchema,
  KmsKeySealer,
  readConfig,
  rotationIdFor,
  systemClock,
  withStepLogging,
  type HandlerResult,
  type KeyrotMetrics,
} from '@keyrot/shared';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { HttpReadinessProbe } from './adapters/http-readiness';
import { issueKey, type IssuerDeps } from './issue-key';

export const configSchema = z.object({
  API_ACCOUNT_ID: accountIdSchema,
  EVENT_BUS_NAME: envVar.name(),
  LEDGER_TABLE_NAME: envVar.name(),
  EDGE_KMS_KEY_ARN: kmsKeyArnSchema,
  LOCK_SECONDS: envVar.number(6 * 3600, 60),
  HEALTH_CHECK_URL: envVar.optionalUrl(),
  READINESS_TIMEOUT_SECONDS: envVar.number(60, 1, 600),
});

/** What the handler needs; the Lambda entry builds it from the environment, tests inject it. */
export type IssuerEnvironment = Omit<IssuerDeps, 'actor'> & {
  readonly metrics?: KeyrotMetrics;
  readonly apiAccountId: string;
};

/** The issuer's Lambda handler over injected dependencies. */
export function createHandler(env: IssuerEnvironment) {
  return async (raw: unknown, context?: Context): Promise<HandlerResult> => {
    const deps = {
      ...env,
      ledger: withStepLogging(env.ledger, env.log),
      actor: actorOf(env.apiAccountId, context),
      ...(context && { context }),
    };
    return acceptEvent(
      raw,
      { accounts: [env.apiAccountId], detailTypes: ['KeyRotationRequested'] },
      deps,
      (event) => {
        const { target, reason, requestedBy } = event.detail;
        const rotationId =
          event.detail.rotationId ??
          rotationIdFor(event.id, event.time ? new Date(event.time) : deps.clock.now());
        deps.log.appendKeys({ rotationId });
        return issueKey({ rotationId, target, reason, requestedBy, eventId: event.id }, deps);
      },
    );
  };
}

/** Builds the issuer's dependencies from its Lambda environment. */
export function environmentFromProcess(env: NodeJS.ProcessEnv = process.env): IssuerEnvironment {
  const config = readConfig(configSchema, env);
  const aws = awsClientConfigFromEnv(env);
  const metrics = createMetrics('key-issuer');
  const client = <C extends Parameters<typeof countRetries>[0]>(c: C) => countRetries(c, metrics);
  return {
    apiAccountId: config.API_ACCOUNT_ID,
    keys: new ApiGatewayKeyStore(client(new APIGatewayClient(aws))),
    sealer: new KmsKeySealer(client(new KMSClient(aws))),
    ledger: new DynamoDbLedger(client(new DynamoDBClient(aws)), config.LEDGER_TABLE_NAME),
    events: new EventBridgePublisher(client(new EventBridgeClient(aws)), config.EVENT_BUS_NAME),
    clock: systemClock,
    metrics,
    log: createLogger('key-issuer'),
    edgeKmsKeyArn: config.EDGE_KMS_KEY_ARN,
    lockSeconds: config.LOCK_SECONDS,
    ...(config.HEALTH_CHECK_URL && {
      readiness: new HttpReadinessProbe(
        config.HEALTH_CHECK_URL,
        'x-api-key',
        config.READINESS_TIMEOUT_SECONDS * 1000,
        systemClock,
      ),
    }),
  };
}

let instance: ReturnType<typeof createHandler> | undefined;

/** Lambda entry point: clients are built once per execution environment. */
export const handler = (event: unknown, context: Context) =>
  (instance ??= createHandler(environmentFromProcess()))(event, context);
