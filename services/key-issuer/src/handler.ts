import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import {
  acceptEvent,
  accountIdSchema,
  actorOf,
  ApiGatewayKeyStore,
  createLogger,
  lambdaClients,
  lazyHandler,
  envVar,
  DynamoDbLedger,
  invocationOf,
  isFanOut,
  EventBridgePublisher,
  kmsKeyArnSchema,
  KmsKeySealer,
  readConfig,
  rotationIdFor,
  systemClock,
  withStepLogging,
  type HandlerResult,
  type KeyrotMetrics,
  type RequestFanOut,
} from '@keyrot/shared';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { HttpReadinessProbe } from './adapters/http-readiness';
import { fanOut } from './fan-out';
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
export type IssuerEnvironment = Omit<IssuerDeps, 'actor' | 'invocation'> & {
  readonly metrics?: KeyrotMetrics;
  readonly apiAccountId: string;
  /** Puts one request per target of a `targets` list; default: `events`, if it can. */
  readonly fanOut?: RequestFanOut;
};

function canFanOut(events: object): events is RequestFanOut {
  return typeof (events as Partial<RequestFanOut>).publishRequests === 'function';
}

/** The issuer's Lambda handler over injected dependencies. */
export function createHandler(env: IssuerEnvironment) {
  return async (raw: unknown, context?: Context): Promise<HandlerResult> => {
    const deps = {
      ...env,
      ledger: withStepLogging(env.ledger, env.log),
      actor: actorOf(env.apiAccountId, context),
      invocation: invocationOf(env.clock, context),
      ...(context && { context }),
    };
    return acceptEvent(
      raw,
      { accounts: [env.apiAccountId], detailTypes: ['KeyRotationRequested'] },
      deps,
      (event) => {
        const requestRotationId = () =>
          rotationIdFor(event.id, event.time ? new Date(event.time) : deps.clock.now());
        if (isFanOut(event.detail)) {
          const publisher = env.fanOut ?? (canFanOut(env.events) ? env.events : undefined);
          if (!publisher) throw new Error('issuer: no publisher for fanned-out requests');
          return fanOut(event.detail, requestRotationId(), { fanOut: publisher, log: deps.log });
        }
        const { target, reason, requestedBy } = event.detail;
        const rotationId = event.detail.rotationId ?? requestRotationId();
        deps.log.appendKeys({ rotationId });
        return issueKey({ rotationId, target, reason, requestedBy, eventId: event.id }, deps);
      },
    );
  };
}

/** Builds the issuer's dependencies from its Lambda environment. */
export function environmentFromProcess(env: NodeJS.ProcessEnv = process.env): IssuerEnvironment {
  const config = readConfig(configSchema, env);
  const { aws, metrics, counted: client, paced } = lambdaClients('key-issuer', env);
  const events = new EventBridgePublisher(
    client(new EventBridgeClient(aws)),
    config.EVENT_BUS_NAME,
  );
  return {
    apiAccountId: config.API_ACCOUNT_ID,
    // CreateApiKey is paced to this environment's share of API Gateway's 5 requests/s.
    keys: new ApiGatewayKeyStore(paced(client(new APIGatewayClient(aws)))),
    sealer: new KmsKeySealer(client(new KMSClient(aws))),
    ledger: new DynamoDbLedger(client(new DynamoDBClient(aws)), config.LEDGER_TABLE_NAME),
    events,
    fanOut: events,
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

/** Lambda entry point: clients are built once per execution environment. */
export const handler = lazyHandler(() => createHandler(environmentFromProcess()));
