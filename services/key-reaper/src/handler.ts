import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
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
  readConfig,
  systemClock,
  withStepLogging,
  type HandlerResult,
  type KeyrotMetrics,
} from '@keyrot/shared';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { closeFailedRotation, retireKeys, type ReaperDeps } from './retire-keys';

export const configSchema = z.object({
  API_ACCOUNT_ID: accountIdSchema,
  EDGE_ACCOUNT_ID: accountIdSchema,
  EVENT_BUS_NAME: envVar.name(),
  LEDGER_TABLE_NAME: envVar.name(),
  /** Kept short of the Lambda timeout: the reaper waits it out in one invocation. */
  GRACE_SECONDS: envVar.number(60, 0, 600),
});

export type ReaperEnvironment = Omit<ReaperDeps, 'actor'> & {
  readonly metrics?: KeyrotMetrics;
  readonly apiAccountId: string;
  readonly edgeAccountId: string;
};

/** The reaper's Lambda handler over injected dependencies. */
export function createHandler(env: ReaperEnvironment) {
  return async (raw: unknown, context?: Context): Promise<HandlerResult> => {
    const deps: ReaperDeps & { context?: Context } = {
      ...env,
      ledger: withStepLogging(env.ledger, env.log),
      actor: actorOf(env.apiAccountId, context),
      ...(context && { context }),
    };
    return acceptEvent(
      raw,
      { accounts: [env.edgeAccountId], detailTypes: ['EdgeUpdated', 'RotationFailed'] },
      deps,
      (event) => {
        return event.detailType === 'RotationFailed'
          ? closeFailedRotation(event.detail, deps)
          : retireKeys(event.detail, deps);
      },
    );
  };
}

/** Builds the reaper's dependencies from its Lambda environment. */
export function environmentFromProcess(env: NodeJS.ProcessEnv = process.env): ReaperEnvironment {
  const config = readConfig(configSchema, env);
  const aws = awsClientConfigFromEnv(env);
  const metrics = createMetrics('key-reaper');
  const client = <C extends Parameters<typeof countRetries>[0]>(c: C) => countRetries(c, metrics);
  return {
    apiAccountId: config.API_ACCOUNT_ID,
    edgeAccountId: config.EDGE_ACCOUNT_ID,
    keys: new ApiGatewayKeyStore(client(new APIGatewayClient(aws))),
    ledger: new DynamoDbLedger(client(new DynamoDBClient(aws)), config.LEDGER_TABLE_NAME),
    events: new EventBridgePublisher(client(new EventBridgeClient(aws)), config.EVENT_BUS_NAME),
    clock: systemClock,
    metrics,
    log: createLogger('key-reaper'),
    graceMs: config.GRACE_SECONDS * 1000,
  };
}

let instance: ReturnType<typeof createHandler> | undefined;

/** Lambda entry point: clients are built once per execution environment. */
export const handler = (event: unknown, context: Context) =>
  (instance ??= createHandler(environmentFromProcess()))(event, context);
