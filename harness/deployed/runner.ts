/**
 * Runs the deployed stacks as AWS would: the functions `serverless deploy` created, from their
 * zips, in child processes with only the deployed environment, Lambda's own variables and
 * the deployed role's credentials; events delivered only as the deployed rules, targets,
 * policies, invoke configs and schedules allow (eventbridge.ts); every AWS call a function
 * makes evaluated against its role and the resource's policy (aws-front.ts, authorizer.ts).
 * Test and demo infrastructure, not product code.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  GetFunctionConfigurationCommand,
  LambdaClient,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { clientConfig, type AccountSession } from '../accounts';
import type { DeployedWorld } from './deploy';
import { AwsFront, type DeniedCall } from './aws-front';
import { IamAuthorizer } from './authorizer';
import { EnvironmentPool, type HarnessVariables, type LogLine } from './environments';
import { EventDataPlane, type DeliveryRecord } from './eventbridge';
import { discoverFunctions, type DeployedFunction } from './functions';

export interface DeployedRunnerOptions {
  /** CloudFront's propagation of an update, in ms (default 1 s). */
  readonly propagationMs?: number;
}

/** A message read back from a dead-letter queue. */
export interface DeadLetter {
  readonly queueArn: string;
  readonly body: string;
  readonly attributes: Readonly<Record<string, string>>;
}

export class DeployedRunner {
  private constructor(
    readonly deployed: DeployedWorld,
    /** Replaced in place by {@link reconfigure}: the data plane reads the same array. */
    readonly functions: DeployedFunction[],
    readonly front: AwsFront,
    readonly plane: EventDataPlane,
    readonly pool: EnvironmentPool,
    readonly authorizer: IamAuthorizer,
    private readonly workDir: string,
  ) {}

  /** Reads the deployed functions, extracts their code and starts the local AWS front. */
  static async start(
    deployed: DeployedWorld,
    options: DeployedRunnerOptions = {},
  ): Promise<DeployedRunner> {
    const { world } = deployed;
    const sessions = world.singleAccount
      ? [world.api.session]
      : [world.api.session, world.edge.session];
    const workDir = mkdtempSync(path.join(tmpdir(), 'keyrot-deployed-'));
    const functions = await discoverFunctions(
      deployed.stacks.map((s) => ({
        service: s.service,
        stackName: s.stackName,
        session: s.session,
      })),
      workDir,
    );
    const authorizer = new IamAuthorizer(sessions);
    const credentials = new Map<string, Record<string, string>>();
    const pool: EnvironmentPool = new EnvironmentPool((fn): Record<string, string> => ({
      ...fn.environment,
      ...lambdaVariables(fn),
      ...credentials.get(fn.name),
      ...harnessVariables(front.endpoint),
    }));
    const plane: EventDataPlane = new EventDataPlane({
      region: world.api.session.region,
      sessions,
      functions,
      pool,
      policies: authorizer,
    });
    const front: AwsFront = new AwsFront({
      motoEndpoint: world.api.session.endpoint,
      authorizer,
      events: plane,
      ...(options.propagationMs !== undefined && { propagationMs: options.propagationMs }),
      // moto has no CloudTrail: the front records every UpdateDistribution for the drift guard.
      cloudTrail: { accountId: world.edge.session.accountId },
    });
    await front.start();
    for (const fn of functions) {
      const session = sessions.find((s) => s.accountId === fn.accountId)!;
      const creds = await assumeDeployedRole(session, fn);
      credentials.set(fn.name, creds);
      front.registerPrincipal(creds.AWS_ACCESS_KEY_ID!, {
        functionName: fn.name,
        roleArn: fn.roleArn,
        accountId: fn.accountId,
      });
      const trust = await authorizer.canAssume(fn.roleArn, 'lambda.amazonaws.com', fn.accountId);
      if (!trust.allowed) {
        front.denied.push({
          functionName: fn.name,
          operation: 'AssumeRole',
          action: 'sts:AssumeRole',
          resource: fn.roleArn,
          reason: `Lambda may not assume the function's role: ${trust.reason}`,
        });
      }
    }
    return new DeployedRunner(deployed, functions, front, plane, pool, authorizer, workDir);
  }

  /** The deployed function of a service whose serverless.yml key is `key` (e.g. `issueKey`). */
  fn(key: string): DeployedFunction {
    const logicalId = `${key.charAt(0).toUpperCase()}${key.slice(1)}LambdaFunction`;
    const fn = this.functions.find((f) => f.logicalId === logicalId);
    if (!fn) throw new Error(`no deployed function ${key} (${logicalId})`);
    return fn;
  }

  /**
   * Changes a deployed function's configuration in the emulator (UpdateFunctionConfiguration,
   * as a changed template would) and restarts its environments with what was stored.
   */
  async reconfigure(
    key: string,
    change: { handler?: string; environment?: Record<string, string> },
  ): Promise<void> {
    const fn = this.fn(key);
    const lambda = new LambdaClient(clientConfig(this.sessionOf(fn.accountId)));
    try {
      await lambda.send(
        new UpdateFunctionConfigurationCommand({
          FunctionName: fn.name,
          ...(change.handler !== undefined && { Handler: change.handler }),
          ...(change.environment !== undefined && {
            Environment: { Variables: change.environment },
          }),
        }),
      );
      const c = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: fn.name }));
      const index = this.functions.indexOf(fn);
      this.functions[index] = {
        ...fn,
        handler: c.Handler!,
        environment: c.Environment?.Variables ?? {},
      };
    } finally {
      lambda.destroy();
    }
    this.pool.stop(fn.name);
  }

  /** Fires the deployed rotation schedule, as EventBridge Scheduler would on the 1st. */
  async fireRotationSchedule(): Promise<void> {
    const { api } = this.deployed.world;
    await this.plane.fireSchedule(api.session.accountId, api.scheduleName, api.scheduleGroupName);
  }

  /** Delivers until quiet (one-time schedules included). */
  drain(): Promise<void> {
    return this.plane.drain();
  }

  get deniedCalls(): readonly DeniedCall[] {
    return this.front.denied;
  }

  get deliveries(): readonly DeliveryRecord[] {
    return this.plane.deliveries;
  }

  get logs(): readonly LogLine[] {
    return this.pool.logs;
  }

  /** The messages in a queue, read without deleting them (they become visible again). */
  async deadLetters(queueArn: string): Promise<DeadLetter[]> {
    const [, , , , accountId, name] = queueArn.split(':');
    const session = this.sessionOf(accountId!);
    const sqs = new SQSClient(clientConfig(session));
    try {
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
      const out = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 0,
          MessageAttributeNames: ['All'],
        }),
      );
      return (out.Messages ?? []).map((m) => ({
        queueArn,
        body: m.Body ?? '',
        attributes: Object.fromEntries(
          Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue ?? '']),
        ),
      }));
    } finally {
      sqs.destroy();
    }
  }

  async stop(): Promise<void> {
    this.pool.stopAll();
    this.plane.close();
    await this.front.stop();
    rmSync(this.workDir, { recursive: true, force: true });
  }

  private sessionOf(accountId: string): AccountSession {
    const { world } = this.deployed;
    const session = [world.api.session, world.edge.session].find((s) => s.accountId === accountId);
    if (!session) throw new Error(`no session for account ${accountId}`);
    return session;
  }
}

/** The variables Lambda's nodejs runtime sets for a function. */
function lambdaVariables(fn: DeployedFunction): Record<string, string> {
  return {
    AWS_REGION: fn.region,
    AWS_DEFAULT_REGION: fn.region,
    AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
    AWS_LAMBDA_LOG_GROUP_NAME: fn.logGroupName,
    AWS_LAMBDA_LOG_STREAM_NAME: 'local/[$LATEST]0',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    LAMBDA_TASK_ROOT: fn.codeDir,
    LAMBDA_RUNTIME_DIR: '/var/runtime',
    _HANDLER: fn.handler,
    TZ: ':UTC',
    LANG: 'en_US.UTF-8',
    PATH: '/usr/local/bin:/usr/bin/:/bin',
  };
}

function harnessVariables(endpoint: string): HarnessVariables & Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** Credentials of the function's role, as Lambda hands them to the runtime. */
async function assumeDeployedRole(
  session: AccountSession,
  fn: DeployedFunction,
): Promise<Record<string, string>> {
  const sts = new STSClient(clientConfig(session));
  try {
    const { Credentials: c } = await sts.send(
      new AssumeRoleCommand({ RoleArn: fn.roleArn, RoleSessionName: fn.name.slice(0, 64) }),
    );
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) {
      throw new Error(`AssumeRole ${fn.roleArn} returned no credentials`);
    }
    return {
      AWS_ACCESS_KEY_ID: c.AccessKeyId,
      AWS_SECRET_ACCESS_KEY: c.SecretAccessKey,
      AWS_SESSION_TOKEN: c.SessionToken,
    };
  } finally {
    sts.destroy();
  }
}
