import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import {
  acceptEvent,
  actorOf,
  lambdaClients,
  invocationOf,
  lazyHandler,
  isFanOut,
  readConfig,
  rotationIdFor,
  systemClock,
  withStepLogging,
  type HandlerResult,
  type RequestFanOut,
} from '@keyrot/shared';
import type { Context } from 'aws-lambda';
import { buildIssuerDeps, configSchema, type IssuerEnvironment } from './deps';
import { fanOut } from './fan-out';
import { issueKey } from './issue-key';

export type { IssuerEnvironment } from './deps';

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

/** The issuer's dependencies from its Lambda environment, with counted and paced clients. */
export function environmentFromProcess(env: NodeJS.ProcessEnv = process.env): IssuerEnvironment {
  const config = readConfig(configSchema, env);
  const { aws, metrics, counted, paced } = lambdaClients('key-issuer', env);
  return buildIssuerDeps(
    config,
    {
      // CreateApiKey is paced to this environment's share of API Gateway's 5 requests/s.
      apiGateway: paced(counted(new APIGatewayClient(aws))),
      kms: counted(new KMSClient(aws)),
      dynamodb: counted(new DynamoDBClient(aws)),
      eventBridge: counted(new EventBridgeClient(aws)),
      scheduler: () => counted(new SchedulerClient(aws)),
    },
    { clock: systemClock, metrics },
  );
}

/** Lambda entry point: clients are built once per execution environment. */
export const handler = lazyHandler(() => createHandler(environmentFromProcess()));
