/**
 * The IAM simulation as the deployed runner uses it: every call a deployed function makes
 * (from the front) and every delivery the data plane makes for a role or an AWS service,
 * evaluated against the policies as deployed, read back from the emulator: the role's trust,
 * inline and managed policies (IAM), and the resource's own policy (a KMS key policy, a bus
 * policy, a queue policy, a function's permissions). API keys' tags come from API Gateway for
 * `aws:ResourceTag/*`. Everything read is cached until `refresh()`. Test infrastructure only.
 */
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { APIGatewayClient, GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { DescribeEventBusCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import { GetKeyPolicyCommand, KMSClient } from '@aws-sdk/client-kms';
import { GetPolicyCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { clientConfig, type AccountSession } from '../accounts';
import {
  describeCall,
  loadRolePolicies,
  parsePolicyDocument,
  simulate,
  simulateAssumeRole,
  simulateCall,
  simulateServiceRequest,
  UnknownCallError,
  type AssumingService,
  type HttpCall,
  type NamedPolicy,
  type PrincipalPolicies,
  type ResourceLookups,
} from '../iam';
import type { AuthorizedCall, CallAuthorizer, CallerPrincipal } from './aws-front';
import type {
  BusRequest,
  DeliveryPolicies,
  RoleRequest,
  ServiceRequest,
  Verdict,
} from './eventbridge';

export class IamAuthorizer implements CallAuthorizer, DeliveryPolicies {
  private readonly sessions: ReadonlyMap<string, AccountSession>;
  private readonly roles = new Map<string, Promise<PrincipalPolicies>>();
  private readonly resourcePolicies = new Map<string, Promise<NamedPolicy | undefined>>();
  private readonly lookups: ResourceLookups;

  constructor(sessions: readonly AccountSession[]) {
    this.sessions = new Map(sessions.map((s) => [s.accountId, s]));
    this.lookups = {
      resourceTags: (arn) => this.resourceTags(arn),
      secretArn: (name, account) => this.secretArn(name, account),
    };
  }

  /** Forget every policy read (after a test changed one). */
  refresh(): void {
    this.roles.clear();
    this.resourcePolicies.clear();
  }

  async authorize(caller: CallerPrincipal, call: HttpCall): Promise<AuthorizedCall> {
    let described;
    try {
      described = await describeCall(call, caller.accountId, this.lookups);
    } catch (error) {
      if (!(error instanceof UnknownCallError)) throw error;
      // A call no mapping covers is refused: it would go unchecked otherwise.
      return {
        service: error.service,
        operation: error.operation ?? `${error.method} ${error.path}`,
        denial: { action: '(unmapped)', resource: error.path, reason: error.message },
      };
    }
    const result = await simulateCall(described, await this.role(caller.roleArn), {
      resourcePolicyOf: (arn) => this.resourcePolicy(arn),
      sessionName: caller.functionName,
    });
    const [denied] = result.denials;
    return {
      service: described.service,
      operation: described.operation,
      ...(denied && {
        denial: {
          action: denied.request.action,
          resource: denied.request.resource,
          reason: denied.explain(),
        },
      }),
    };
  }

  async canAssume(roleArn: string, service: string, sourceAccount: string): Promise<Verdict> {
    const { trustPolicy } = await this.role(roleArn);
    if (!trustPolicy) return { allowed: false, reason: `${roleArn} has no trust policy` };
    const result = await simulateAssumeRole(trustPolicy, {
      service: service as AssumingService['service'],
      sourceAccount,
      roleArn,
    });
    return verdict(result);
  }

  async roleMay(roleArn: string, request: RoleRequest): Promise<Verdict> {
    const resourcePolicy =
      request.resourcePolicy !== undefined
        ? {
            name: `policy of ${request.resource}`,
            document: parsePolicyDocument(request.resourcePolicy),
          }
        : await this.resourcePolicy(request.resource);
    const result = await simulate(
      { action: request.action, resource: request.resource, context: request.context ?? {} },
      await this.role(roleArn),
      { ...(resourcePolicy && { resourcePolicy }) },
    );
    return verdict(result);
  }

  async serviceMay(request: ServiceRequest): Promise<Verdict> {
    const result = await simulateServiceRequest(
      { action: request.action, resource: request.resource, context: {} },
      {
        service: request.service,
        sourceAccount: request.sourceAccount,
        sourceArn: request.sourceArn,
      },
      request.policy === undefined
        ? undefined
        : { name: `policy of ${request.resource}`, document: parsePolicyDocument(request.policy) },
    );
    return verdict(result);
  }

  busAccepts(request: BusRequest): Promise<Verdict> {
    if (request.policy === undefined) {
      return Promise.resolve({ allowed: false, reason: `${request.busArn} has no policy` });
    }
    return this.roleMay(request.principalArn, {
      action: 'events:PutEvents',
      resource: request.busArn,
      context: { 'events:source': request.source, 'events:detail-type': request.detailType },
      resourcePolicy: request.policy,
    });
  }

  private role(roleArn: string): Promise<PrincipalPolicies> {
    let role = this.roles.get(roleArn);
    if (!role) {
      const iam = new IAMClient(this.config(accountOf(roleArn)));
      role = loadRolePolicies(iam, roleArn).finally(() => iam.destroy());
      this.roles.set(roleArn, role);
    }
    return role;
  }

  /** The policy of the resource `arn` names, for the kinds that have one. */
  private resourcePolicy(arn: string): Promise<NamedPolicy | undefined> {
    let policy = this.resourcePolicies.get(arn);
    if (!policy) {
      policy = this.readResourcePolicy(arn).then((raw) =>
        raw ? { name: `policy of ${arn}`, document: parsePolicyDocument(raw) } : undefined,
      );
      this.resourcePolicies.set(arn, policy);
    }
    return policy;
  }

  private async readResourcePolicy(arn: string): Promise<string | undefined> {
    const [, , service, , account = '', resource = ''] = arn.split(':');
    if (!this.sessions.has(account)) return undefined;
    const config = this.config(account);
    if (service === 'kms' && resource.startsWith('key/')) {
      const kms = new KMSClient(config);
      const out = await kms
        .send(new GetKeyPolicyCommand({ KeyId: arn, PolicyName: 'default' }))
        .finally(() => kms.destroy());
      return out.Policy;
    }
    if (service === 'events' && resource.startsWith('event-bus/')) {
      const events = new EventBridgeClient(config);
      const out = await events
        .send(new DescribeEventBusCommand({ Name: resource.slice('event-bus/'.length) }))
        .catch(() => undefined)
        .finally(() => events.destroy());
      return out?.Policy;
    }
    if (service === 'sqs') {
      const sqs = new SQSClient(config);
      try {
        const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: resource }));
        const { Attributes } = await sqs.send(
          new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['Policy'] }),
        );
        return Attributes?.Policy;
      } catch {
        return undefined;
      } finally {
        sqs.destroy();
      }
    }
    if (service === 'lambda') {
      const lambda = new LambdaClient(config);
      const out = await lambda
        .send(new GetPolicyCommand({ FunctionName: arn }))
        .catch(() => undefined)
        .finally(() => lambda.destroy());
      return out?.Policy;
    }
    return undefined;
  }

  /** Tags of an API key (`aws:ResourceTag/*`), read from the API account's API Gateway. */
  private async resourceTags(arn: string): Promise<Readonly<Record<string, string>> | undefined> {
    const key = /^arn:aws:apigateway:[^:]+::\/apikeys\/([^/]+)$/.exec(arn)?.[1];
    if (!key) return undefined;
    for (const session of this.sessions.values()) {
      const client = new APIGatewayClient(clientConfig(session));
      try {
        const out = await client.send(new GetApiKeyCommand({ apiKey: key }));
        return out.tags ?? {};
      } catch {
        // Not in this account.
      } finally {
        client.destroy();
      }
    }
    return undefined;
  }

  /** A secret's ARN from its name, read from the account's Secrets Manager (as AWS resolves it). */
  private async secretArn(name: string, accountId: string): Promise<string | undefined> {
    const client = new SecretsManagerClient(this.config(accountId));
    try {
      return (await client.send(new DescribeSecretCommand({ SecretId: name }))).ARN;
    } catch {
      return undefined;
    } finally {
      client.destroy();
    }
  }

  private config(accountId: string) {
    const session = this.sessions.get(accountId);
    if (!session) throw new Error(`no local session for account ${accountId}`);
    return clientConfig(session);
  }
}

function verdict(result: { allowed: boolean; explain(): string }): Verdict {
  return result.allowed ? { allowed: true } : { allowed: false, reason: result.explain() };
}

const accountOf = (arn: string) => arn.split(':')[4] ?? '';
