/**
 * Reads every resource of a deployed CloudFormation template back from the emulator, by SDK,
 * and compares it with the template: names, patterns, targets, retry policies, dead-letter
 * configs, policies (bus, queue, topic, bucket, key, role), alarms, schedules, functions, log
 * groups, tables. Intrinsics (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::If) are resolved against
 * the stack: Ref through ListStackResources, GetAtt by reading the referenced resource, so a
 * reference to something missing is a finding too. References to other resources (a rule's
 * target bus, an alarm's topic, a schedule's role, a destination queue) must exist, in whichever
 * local account they name.
 *
 * A resource type without a reader here is a finding: a new type cannot slip through unchecked.
 */
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createHash } from 'node:crypto';
import {
  CloudFormationClient,
  DescribeStacksCommand,
  ListStackResourcesCommand,
} from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeEventBusCommand,
  DescribeRuleCommand,
  EventBridgeClient,
  ListTargetsByRuleCommand,
} from '@aws-sdk/client-eventbridge';
import {
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import {
  DescribeKeyCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  KMSClient,
  ListAliasesCommand,
} from '@aws-sdk/client-kms';
import {
  GetFunctionCommand,
  GetFunctionConcurrencyCommand,
  GetFunctionEventInvokeConfigCommand,
  GetPolicyCommand,
  LambdaClient,
  ListVersionsByFunctionCommand,
} from '@aws-sdk/client-lambda';
import {
  GetBucketEncryptionCommand,
  GetBucketPolicyCommand,
  GetObjectCommand,
  HeadBucketCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  GetScheduleCommand,
  GetScheduleGroupCommand,
  SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { clientConfig, type AccountSession } from '../../harness/accounts';

/** What the read-back needs of a stack (a `DeployedStack` has it all). */
export interface StackToRead {
  readonly stackName: string;
  readonly session: AccountSession;
  readonly template: unknown;
}

/** The findings for one resource of the template. */
export interface ResourceReport {
  readonly logicalId: string;
  readonly type: string;
  readonly physicalId: string;
  /** Empty when the resource read back as the template says. */
  readonly problems: readonly string[];
  /** How many properties were compared (a reader that compares nothing is a finding). */
  readonly checks: number;
}

export interface StackReport {
  readonly stackName: string;
  readonly resources: readonly ResourceReport[];
  /** Stack-level findings: resources listed by the stack that the template does not create. */
  readonly problems: readonly string[];
}

/** Every finding of a stack report, one line each (`<stack>/<logicalId> (<type>): ...`). */
export function problemsOf(report: StackReport): string[] {
  return [
    ...report.problems.map((p) => `${report.stackName}: ${p}`),
    ...report.resources.flatMap((r) =>
      r.problems.map((p) => `${report.stackName}/${r.logicalId} (${r.type}): ${p}`),
    ),
  ];
}

/** The resource types this module can read back. */
export function readableTypes(): string[] {
  return Object.keys(READERS).sort();
}

/**
 * Reads back every resource of `stack.template` whose Condition holds. `sessions` maps each
 * local account id to a session, for references into another account.
 */
export async function readBackStack(
  stack: StackToRead,
  sessions: ReadonlyMap<string, AccountSession>,
): Promise<StackReport> {
  const template = asTemplate(stack.template);
  const clients = new Clients(sessions);
  try {
    const cfn = clients.of(stack.session, CloudFormationClient);
    const [described, listed] = await Promise.all([
      cfn.send(new DescribeStacksCommand({ StackName: stack.stackName })),
      listResources(cfn, stack.stackName),
    ]);
    const parameters = new Map<string, string>(
      (described.Stacks?.[0]?.Parameters ?? []).map((p) => [
        p.ParameterKey ?? '',
        p.ParameterValue ?? '',
      ]),
    );
    const physicalIds = new Map(listed.map((r) => [r.logicalId, r.physicalId]));
    const resolver = new Resolver(stack, template, parameters, physicalIds, clients);
    const wanted = Object.entries(template.Resources).filter(
      ([, resource]) => resource.Condition === undefined || resolver.condition(resource.Condition),
    );
    const resources = await Promise.all(
      wanted.map(([logicalId, resource]) =>
        readResource(logicalId, resource, physicalIds.get(logicalId), resolver, clients, stack),
      ),
    );
    const created = new Set(wanted.map(([logicalId]) => logicalId));
    const problems = listed
      .filter((r) => !created.has(r.logicalId))
      .map((r) => `the stack lists ${r.logicalId} (${r.type}), which the template does not create`);
    return { stackName: stack.stackName, resources, problems };
  } finally {
    clients.destroy();
  }
}

// --- the template ---------------------------------------------------------------------------

interface TemplateResource {
  readonly Type: string;
  readonly Condition?: string;
  readonly Properties?: Record<string, unknown>;
}

interface Template {
  readonly Resources: Record<string, TemplateResource>;
  readonly Conditions?: Record<string, unknown>;
  readonly Parameters?: Record<string, { Default?: unknown }>;
}

function asTemplate(value: unknown): Template {
  if (!isRecord(value) || !isRecord(value['Resources'])) {
    throw new Error('not a CloudFormation template (no Resources)');
  }
  return value as unknown as Template;
}

async function listResources(cfn: CloudFormationClient, stackName: string) {
  const out: { logicalId: string; physicalId: string; type: string }[] = [];
  let NextToken: string | undefined;
  do {
    const page = await cfn.send(new ListStackResourcesCommand({ StackName: stackName, NextToken }));
    for (const r of page.StackResourceSummaries ?? []) {
      out.push({
        logicalId: r.LogicalResourceId ?? '',
        physicalId: r.PhysicalResourceId ?? '',
        type: r.ResourceType ?? '',
      });
    }
    NextToken = page.NextToken;
  } while (NextToken);
  return out;
}

// --- one resource ---------------------------------------------------------------------------

/** What a reader gets: the resolved properties, the physical id and the ways to report. */
class ResourceCheck {
  readonly problems: string[] = [];
  checks = 0;

  constructor(
    readonly logicalId: string,
    readonly type: string,
    readonly physicalId: string,
    /** The template's properties with every intrinsic resolved (AWS::NoValue removed). */
    readonly props: Record<string, unknown>,
    readonly session: AccountSession,
    readonly clients: Clients,
    readonly resolver: Resolver,
  ) {}

  problem(message: string): void {
    this.problems.push(message);
  }

  /** `actual` must contain `expected` (objects: every expected key; arrays: element-wise). */
  like(what: string, actual: unknown, expected: unknown): void {
    this.checks += 1;
    const mismatch = firstMismatch(actual, expected, false);
    if (mismatch !== undefined) this.problem(`${what}: ${mismatch}`);
  }

  /** `actual` must equal `expected` exactly (policy documents: no statement more or less). */
  same(what: string, actual: unknown, expected: unknown): void {
    this.checks += 1;
    const mismatch = firstMismatch(actual, expected, true);
    if (mismatch !== undefined) this.problem(`${what}: ${mismatch}`);
  }

  /** Compares each listed template property that is set with the value `read` gives for it. */
  properties(names: readonly string[], read: (name: string) => unknown): void {
    for (const name of names) {
      if (this.props[name] !== undefined) this.like(name, read(name), this.props[name]);
    }
  }

  /** A referenced resource must exist: `arn` is read in the account it names. */
  async referenced(what: string, arn: unknown): Promise<void> {
    this.checks += 1;
    if (typeof arn !== 'string') {
      this.problem(`${what}: no ARN (${JSON.stringify(arn)})`);
      return;
    }
    const missing = await missingReference(arn, this.clients);
    if (missing) this.problem(`${what} ${arn}: ${missing}`);
  }
}

type Reader = (r: ResourceCheck) => Promise<void>;

async function readResource(
  logicalId: string,
  resource: TemplateResource,
  physicalId: string | undefined,
  resolver: Resolver,
  clients: Clients,
  stack: StackToRead,
): Promise<ResourceReport> {
  const type = resource.Type;
  const report = (problems: string[], checks = 0, physical = physicalId ?? '') => ({
    logicalId,
    type,
    physicalId: physical,
    problems,
    checks,
  });
  const reader = READERS[type];
  if (!reader) return report([`no reader for ${type}: add one to test/deployed/read-back.ts`]);
  if (physicalId === undefined) return report(['not among the stack resources (not created)']);
  if (physicalId === '') return report(['created without a physical id']);
  let props: Record<string, unknown>;
  try {
    props = asRecord(await resolver.resolve(resource.Properties ?? {}));
  } catch (error) {
    return report([`cannot resolve its properties: ${messageOf(error)}`]);
  }
  const check = new ResourceCheck(
    logicalId,
    type,
    physicalId,
    props,
    stack.session,
    clients,
    resolver,
  );
  try {
    await reader(check);
    if (check.checks === 0 && check.problems.length === 0) {
      check.problem('the reader compared nothing');
    }
  } catch (error) {
    check.problem(`reading it back failed: ${messageOf(error)}`);
  }
  return report(check.problems, check.checks);
}

// --- the readers, one per resource type ---------------------------------------------------------

const READERS: Record<string, Reader> = {
  'AWS::S3::Bucket': async (r) => {
    const s3 = r.clients.of(r.session, S3Client);
    await s3.send(new HeadBucketCommand({ Bucket: r.physicalId }));
    const { ServerSideEncryptionConfiguration: config } = await s3.send(
      new GetBucketEncryptionCommand({ Bucket: r.physicalId }),
    );
    const expected = asRecord(r.props['BucketEncryption'] ?? {});
    const rules = asArray(expected['ServerSideEncryptionConfiguration'] ?? []);
    // CloudFormation's ServerSideEncryptionByDefault is the API's ApplyServerSideEncryptionByDefault.
    r.like(
      'BucketEncryption',
      config?.Rules ?? [],
      rules.map((rule) => ({
        ApplyServerSideEncryptionByDefault: asRecord(rule)['ServerSideEncryptionByDefault'],
      })),
    );
  },

  'AWS::S3::BucketPolicy': async (r) => {
    const s3 = r.clients.of(r.session, S3Client);
    const { Policy } = await s3.send(
      new GetBucketPolicyCommand({ Bucket: String(r.props['Bucket']) }),
    );
    r.same('PolicyDocument', parseJson(Policy), r.props['PolicyDocument']);
  },

  'AWS::Logs::LogGroup': async (r) => {
    const logs = r.clients.of(r.session, CloudWatchLogsClient);
    const { logGroups = [] } = await logs.send(
      new DescribeLogGroupsCommand({ logGroupNamePrefix: r.physicalId }),
    );
    const group = logGroups.find((g) => g.logGroupName === r.physicalId);
    if (!group) return r.problem(`log group ${r.physicalId} does not exist`);
    r.properties(['LogGroupName', 'RetentionInDays', 'KmsKeyId'], (name) =>
      name === 'LogGroupName'
        ? group.logGroupName
        : name === 'RetentionInDays'
          ? group.retentionInDays
          : group.kmsKeyId,
    );
  },

  'AWS::IAM::Role': async (r) => {
    const iam = r.clients.of(r.session, IAMClient);
    const { Role: role } = await iam.send(new GetRoleCommand({ RoleName: r.physicalId }));
    r.properties(
      ['RoleName', 'Path', 'Description', 'MaxSessionDuration'],
      (name) => role?.[name as 'RoleName' | 'Path' | 'Description' | 'MaxSessionDuration'],
    );
    r.same(
      'AssumeRolePolicyDocument',
      parsePolicyDocument(role?.AssumeRolePolicyDocument),
      r.props['AssumeRolePolicyDocument'],
    );
    const expected = asArray(r.props['Policies'] ?? []).map(asRecord);
    const { PolicyNames = [] } = await iam.send(
      new ListRolePoliciesCommand({ RoleName: r.physicalId }),
    );
    r.same(
      'inline policy names',
      [...PolicyNames].sort(),
      expected.map((p) => String(p['PolicyName'])).sort(),
    );
    await Promise.all(
      expected.map(async (policy) => {
        const name = String(policy['PolicyName']);
        const { PolicyDocument } = await iam.send(
          new GetRolePolicyCommand({ RoleName: r.physicalId, PolicyName: name }),
        );
        r.same(
          `inline policy ${name}`,
          parsePolicyDocument(PolicyDocument),
          policy['PolicyDocument'],
        );
      }),
    );
    const { AttachedPolicies = [] } = await iam.send(
      new ListAttachedRolePoliciesCommand({ RoleName: r.physicalId }),
    );
    r.same(
      'ManagedPolicyArns',
      AttachedPolicies.map((p) => p.PolicyArn).sort(),
      asArray(r.props['ManagedPolicyArns'] ?? [])
        .map(String)
        .sort(),
    );
  },

  'AWS::Lambda::Function': async (r) => {
    const lambda = r.clients.of(r.session, LambdaClient);
    const { Configuration: config } = await lambda.send(
      new GetFunctionCommand({ FunctionName: r.physicalId }),
    );
    if (!config) return r.problem(`function ${r.physicalId} has no configuration`);
    r.properties(
      ['FunctionName', 'Handler', 'Runtime', 'Role', 'Timeout', 'MemorySize', 'Architectures'],
      (name) => config[name as keyof typeof config],
    );
    r.same(
      'Environment.Variables',
      config.Environment?.Variables ?? {},
      asRecord(asRecord(r.props['Environment'] ?? {})['Variables'] ?? {}),
    );
    const { ReservedConcurrentExecutions } = await lambda.send(
      new GetFunctionConcurrencyCommand({ FunctionName: r.physicalId }),
    );
    r.same(
      'ReservedConcurrentExecutions',
      ReservedConcurrentExecutions ?? null,
      r.props['ReservedConcurrentExecutions'] ?? null,
    );
    // The code: the zip in the deployment bucket, whose SHA-256 is the function's CodeSha256.
    const code = asRecord(r.props['Code']);
    const s3 = r.clients.of(r.session, S3Client);
    const object = await s3.send(
      new GetObjectCommand({ Bucket: String(code['S3Bucket']), Key: String(code['S3Key']) }),
    );
    const zip = await object.Body?.transformToByteArray();
    if (!zip) return r.problem('the code object is empty');
    r.same('CodeSha256 (of the zip in S3)', config.CodeSha256, sha256Base64(zip));
  },

  'AWS::Lambda::Version': async (r) => {
    const lambda = r.clients.of(r.session, LambdaClient);
    const { Versions = [] } = await lambda.send(
      new ListVersionsByFunctionCommand({ FunctionName: String(r.props['FunctionName']) }),
    );
    const version = Versions.find((v) => v.FunctionArn === r.physicalId);
    if (!version) return r.problem(`version ${r.physicalId} was not published`);
    r.properties(['CodeSha256', 'Description'], (name) =>
      name === 'CodeSha256' ? version.CodeSha256 : version.Description,
    );
  },

  'AWS::Lambda::Permission': async (r) => {
    const lambda = r.clients.of(r.session, LambdaClient);
    const { Policy } = await lambda.send(
      new GetPolicyCommand({ FunctionName: String(r.props['FunctionName']) }),
    );
    const statements = asArray(asRecord(parseJson(Policy))['Statement']).map(asRecord);
    const statement = statements.find((s) => s['Sid'] === r.physicalId);
    if (!statement) return r.problem(`no statement ${r.physicalId} in the function's policy`);
    r.like('Action', statement['Action'], r.props['Action']);
    r.like('Principal', statement['Principal'], principalOf(r.props['Principal']));
    if (r.props['SourceArn'] !== undefined) {
      r.like('SourceArn', statement['Condition'], {
        ArnLike: { 'AWS:SourceArn': r.props['SourceArn'] },
      });
    }
    if (r.props['SourceAccount'] !== undefined) {
      r.like('SourceAccount', statement['Condition'], {
        StringEquals: { 'AWS:SourceAccount': r.props['SourceAccount'] },
      });
    }
  },

  'AWS::Lambda::EventInvokeConfig': async (r) => {
    const lambda = r.clients.of(r.session, LambdaClient);
    const config = await lambda.send(
      new GetFunctionEventInvokeConfigCommand({
        FunctionName: String(r.props['FunctionName']),
        Qualifier: String(r.props['Qualifier'] ?? '$LATEST'),
      }),
    );
    r.properties(
      ['MaximumRetryAttempts', 'MaximumEventAgeInSeconds', 'DestinationConfig'],
      (name) =>
        config[name as 'MaximumRetryAttempts' | 'MaximumEventAgeInSeconds' | 'DestinationConfig'],
    );
    const destinations = asRecord(r.props['DestinationConfig'] ?? {});
    for (const [when, destination] of Object.entries(destinations)) {
      await r.referenced(`${when} destination`, asRecord(destination)['Destination']);
    }
  },

  'AWS::Events::EventBus': async (r) => {
    const events = r.clients.of(r.session, EventBridgeClient);
    const bus = await events.send(new DescribeEventBusCommand({ Name: r.physicalId }));
    r.like('Name', bus.Name, r.props['Name']);
    r.like('Arn', bus.Arn, eventBusArn(r.session, r.physicalId));
  },

  'AWS::Events::EventBusPolicy': async (r) => {
    const events = r.clients.of(r.session, EventBridgeClient);
    const bus = await events.send(
      new DescribeEventBusCommand({ Name: String(r.props['EventBusName'] ?? 'default') }),
    );
    const statements = asArray(asRecord(parseJson(bus.Policy ?? '{"Statement":[]}'))['Statement']);
    const sid = String(r.props['StatementId']);
    const statement = statements.map(asRecord).find((s) => s['Sid'] === sid);
    if (!statement) return r.problem(`the bus policy has no statement ${sid}`);
    r.same(`statement ${sid}`, statement, { Sid: sid, ...asRecord(r.props['Statement']) });
  },

  'AWS::Events::Rule': async (r) => {
    const events = r.clients.of(r.session, EventBridgeClient);
    const busName = String(r.props['EventBusName'] ?? 'default');
    const rule = await events.send(
      new DescribeRuleCommand({ Name: r.physicalId, EventBusName: busName }),
    );
    r.like('Name', rule.Name, r.props['Name'] ?? r.physicalId);
    r.like('State', rule.State, r.props['State'] ?? 'ENABLED');
    r.like('EventBusName', rule.EventBusName, busName.split('/').pop());
    if (r.props['EventPattern'] !== undefined) {
      r.same('EventPattern', parseJson(rule.EventPattern), r.props['EventPattern']);
    }
    r.properties(
      ['ScheduleExpression', 'Description', 'RoleArn'],
      (name) => rule[name as 'ScheduleExpression' | 'Description' | 'RoleArn'],
    );
    const { Targets = [] } = await events.send(
      new ListTargetsByRuleCommand({ Rule: r.physicalId, EventBusName: busName }),
    );
    const expected = asArray(r.props['Targets'] ?? []).map(asRecord);
    r.same('target ids', Targets.map((t) => t.Id).sort(), expected.map((t) => t['Id']).sort());
    for (const target of expected) {
      const actual = Targets.find((t) => t.Id === target['Id']);
      if (!actual) continue;
      r.like(`target ${String(target['Id'])}`, actual, target);
      await r.referenced(`target ${String(target['Id'])}`, target['Arn']);
      if (target['RoleArn'] !== undefined) await r.referenced('target role', target['RoleArn']);
      const deadLetter = asRecord(target['DeadLetterConfig'] ?? {})['Arn'];
      if (deadLetter !== undefined) await r.referenced('target dead-letter queue', deadLetter);
    }
  },

  'AWS::SQS::Queue': async (r) => {
    const sqs = r.clients.of(r.session, SQSClient);
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: r.physicalId, AttributeNames: ['All'] }),
    );
    r.like('QueueName', Attributes['QueueArn']?.split(':').pop(), r.props['QueueName']);
    for (const [name, value] of Object.entries(r.props)) {
      if (name === 'QueueName' || name === 'Tags') continue;
      const attribute = (Attributes as Record<string, string | undefined>)[name];
      r.like(name, attribute, typeof value === 'object' ? JSON.stringify(value) : value);
    }
  },

  'AWS::SQS::QueuePolicy': async (r) => {
    const sqs = r.clients.of(r.session, SQSClient);
    for (const queueUrl of asArray(r.props['Queues']).map(String)) {
      const { Attributes = {} } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['Policy'] }),
      );
      r.same(`Policy of ${queueUrl}`, parseJson(Attributes['Policy']), r.props['PolicyDocument']);
    }
  },

  'AWS::SNS::Topic': async (r) => {
    const attributes = await topicAttributes(r.session, r.physicalId);
    if (!attributes) return r.problem(`topic ${r.physicalId} does not exist`);
    r.like('TopicName', attributes['TopicArn']?.split(':').pop(), r.props['TopicName']);
    r.properties(['DisplayName', 'KmsMasterKeyId'], (name) => attributes[name]);
  },

  'AWS::SNS::TopicPolicy': async (r) => {
    for (const topicArn of asArray(r.props['Topics']).map(String)) {
      const attributes = await topicAttributes(r.session, topicArn);
      if (!attributes) {
        r.problem(`topic ${topicArn} does not exist`);
        continue;
      }
      r.same(`Policy of ${topicArn}`, parseJson(attributes['Policy']), r.props['PolicyDocument']);
    }
  },

  'AWS::SNS::Subscription': async (r) => {
    const subscriptions = await topicSubscriptions(r.session, String(r.props['TopicArn']));
    const subscription = subscriptions.find((s) => s['SubscriptionArn'] === r.physicalId);
    if (!subscription) return r.problem(`subscription ${r.physicalId} does not exist`);
    r.properties(['Protocol', 'Endpoint', 'TopicArn'], (name) => subscription[name]);
  },

  'AWS::CloudWatch::Alarm': async (r) => {
    const cloudwatch = r.clients.of(r.session, CloudWatchClient);
    const { MetricAlarms = [] } = await cloudwatch.send(
      new DescribeAlarmsCommand({ AlarmNames: [r.physicalId] }),
    );
    const alarm = MetricAlarms.find((a) => a.AlarmName === r.physicalId);
    if (!alarm) return r.problem(`alarm ${r.physicalId} does not exist`);
    r.properties(
      [
        'AlarmName',
        'AlarmDescription',
        'Namespace',
        'MetricName',
        'Statistic',
        'Period',
        'EvaluationPeriods',
        'DatapointsToAlarm',
        'Threshold',
        'ComparisonOperator',
        'TreatMissingData',
      ],
      (name) => alarm[name as keyof typeof alarm],
    );
    const byName = (a: unknown, b: unknown) =>
      String(asRecord(a)['Name']).localeCompare(String(asRecord(b)['Name']));
    r.same(
      'Dimensions',
      [...(alarm.Dimensions ?? [])].sort(byName),
      asArray(r.props['Dimensions'] ?? []).sort(byName),
    );
    r.same('AlarmActions', alarm.AlarmActions ?? [], r.props['AlarmActions'] ?? []);
    for (const action of asArray(r.props['AlarmActions'] ?? [])) {
      await r.referenced('alarm action', action);
    }
  },

  'AWS::KMS::Key': async (r) => {
    const kms = r.clients.of(r.session, KMSClient);
    const { KeyMetadata: key } = await kms.send(new DescribeKeyCommand({ KeyId: r.physicalId }));
    if (!key) return r.problem(`key ${r.physicalId} does not exist`);
    r.properties(
      ['Description', 'Enabled', 'KeyUsage', 'KeySpec', 'MultiRegion'],
      (name) => key[name as 'Description' | 'Enabled' | 'KeyUsage' | 'KeySpec' | 'MultiRegion'],
    );
    const { KeyRotationEnabled } = await kms.send(
      new GetKeyRotationStatusCommand({ KeyId: r.physicalId }),
    );
    r.like('EnableKeyRotation', KeyRotationEnabled, r.props['EnableKeyRotation'] ?? false);
    const { Policy } = await kms.send(
      new GetKeyPolicyCommand({ KeyId: r.physicalId, PolicyName: 'default' }),
    );
    r.same('KeyPolicy', parseJson(Policy), r.props['KeyPolicy']);
  },

  'AWS::KMS::Alias': async (r) => {
    const kms = r.clients.of(r.session, KMSClient);
    const { Aliases = [] } = await kms.send(new ListAliasesCommand({}));
    const alias = Aliases.find((a) => a.AliasName === r.props['AliasName']);
    if (!alias) return r.problem(`alias ${String(r.props['AliasName'])} does not exist`);
    r.like('TargetKeyId', alias.TargetKeyId, r.props['TargetKeyId']);
  },

  'AWS::SecretsManager::Secret': async (r) => {
    const secrets = r.clients.of(r.session, SecretsManagerClient);
    const secret = await secrets.send(new DescribeSecretCommand({ SecretId: r.physicalId }));
    r.like('ARN', secret.ARN, r.physicalId);
    r.properties(
      ['Name', 'Description', 'KmsKeyId'],
      (name) => secret[name as 'Name' | 'Description' | 'KmsKeyId'],
    );
  },

  'AWS::Scheduler::ScheduleGroup': async (r) => {
    const scheduler = r.clients.of(r.session, SchedulerClient);
    const group = await scheduler.send(new GetScheduleGroupCommand({ Name: r.physicalId }));
    r.like('Name', group.Name, r.props['Name'] ?? r.physicalId);
    r.like('State', group.State, 'ACTIVE');
  },

  'AWS::Scheduler::Schedule': async (r) => {
    const scheduler = r.clients.of(r.session, SchedulerClient);
    const schedule = await scheduler.send(
      new GetScheduleCommand({
        Name: r.physicalId,
        GroupName: String(r.props['GroupName'] ?? 'default'),
      }),
    );
    r.properties(
      [
        'Name',
        'Description',
        'ScheduleExpression',
        'ScheduleExpressionTimezone',
        'State',
        'FlexibleTimeWindow',
        'ActionAfterCompletion',
      ],
      (name) => schedule[name as keyof typeof schedule],
    );
    const target = asRecord(r.props['Target']);
    r.like('Target', schedule.Target, target);
    r.like('Target.Input', schedule.Target?.Input, target['Input']);
    await r.referenced('Target', target['Arn']);
    await r.referenced('Target.RoleArn', target['RoleArn']);
    const deadLetter = asRecord(target['DeadLetterConfig'] ?? {})['Arn'];
    if (deadLetter !== undefined) await r.referenced('Target.DeadLetterConfig', deadLetter);
  },

  'AWS::DynamoDB::Table': async (r) => {
    const dynamodb = r.clients.of(r.session, DynamoDBClient);
    const { Table: table } = await dynamodb.send(
      new DescribeTableCommand({ TableName: r.physicalId }),
    );
    if (!table) return r.problem(`table ${r.physicalId} does not exist`);
    r.like('TableName', table.TableName, r.props['TableName'] ?? r.physicalId);
    r.same('KeySchema', table.KeySchema, r.props['KeySchema']);
    const byAttribute = (a: unknown, b: unknown) =>
      String(asRecord(a)['AttributeName']).localeCompare(String(asRecord(b)['AttributeName']));
    r.same(
      'AttributeDefinitions',
      [...(table.AttributeDefinitions ?? [])].sort(byAttribute),
      asArray(r.props['AttributeDefinitions'] ?? []).sort(byAttribute),
    );
    const indexes = asArray(r.props['GlobalSecondaryIndexes'] ?? []).map(asRecord);
    r.same(
      'GlobalSecondaryIndexes',
      (table.GlobalSecondaryIndexes ?? [])
        .map((i) => ({ IndexName: i.IndexName, KeySchema: i.KeySchema, Projection: i.Projection }))
        .sort((a, b) => String(a.IndexName).localeCompare(String(b.IndexName))),
      indexes
        .map((i) => ({
          IndexName: i['IndexName'],
          KeySchema: i['KeySchema'],
          Projection: i['Projection'],
        }))
        .sort((a, b) => String(a.IndexName).localeCompare(String(b.IndexName))),
    );
    r.like(
      'BillingMode',
      table.BillingModeSummary?.BillingMode ?? 'PROVISIONED',
      r.props['BillingMode'] ?? 'PROVISIONED',
    );
    r.like(
      'DeletionProtectionEnabled',
      table.DeletionProtectionEnabled ?? false,
      r.props['DeletionProtectionEnabled'] ?? false,
    );
    const sse = asRecord(r.props['SSESpecification'] ?? {});
    if (sse['SSEEnabled'] !== undefined) {
      r.like('SSESpecification', table.SSEDescription?.Status === 'ENABLED', sse['SSEEnabled']);
    }
    const ttl = asRecord(r.props['TimeToLiveSpecification'] ?? {});
    if (ttl['AttributeName'] !== undefined) {
      const { TimeToLiveDescription } = await dynamodb.send(
        new DescribeTimeToLiveCommand({ TableName: r.physicalId }),
      );
      r.like('TimeToLiveSpecification', TimeToLiveDescription, {
        AttributeName: ttl['AttributeName'],
        TimeToLiveStatus: isTrue(ttl['Enabled']) ? 'ENABLED' : 'DISABLED',
      });
    }
    const recovery = asRecord(r.props['PointInTimeRecoverySpecification'] ?? {});
    if (recovery['PointInTimeRecoveryEnabled'] !== undefined) {
      const { ContinuousBackupsDescription } = await dynamodb.send(
        new DescribeContinuousBackupsCommand({ TableName: r.physicalId }),
      );
      r.like(
        'PointInTimeRecoverySpecification',
        ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus,
        isTrue(recovery['PointInTimeRecoveryEnabled']) ? 'ENABLED' : 'DISABLED',
      );
    }
  },
};

// --- references to other resources --------------------------------------------------------------

/** Why the resource an ARN names cannot be found (undefined: it exists). */
async function missingReference(arn: string, clients: Clients): Promise<string | undefined> {
  const parts = arn.split(':');
  const [, , service = '', region = '', account = '', ...rest] = parts;
  const resource = rest.join(':');
  const session = clients.sessionOf(account);
  if (!session) return `account ${account} is not a local account`;
  if (region && region !== session.region) return `region ${region} is not ${session.region}`;
  try {
    switch (service) {
      case 'events': {
        if (!resource.startsWith('event-bus/')) return `not an event bus`;
        const name = resource.slice('event-bus/'.length);
        const bus = await clients
          .of(session, EventBridgeClient)
          .send(new DescribeEventBusCommand({ Name: name }));
        return bus.Arn === arn ? undefined : `DescribeEventBus answered ${bus.Arn}`;
      }
      case 'sqs': {
        const { QueueUrl } = await clients
          .of(session, SQSClient)
          .send(new GetQueueUrlCommand({ QueueName: resource, QueueOwnerAWSAccountId: account }));
        return QueueUrl ? undefined : 'no queue URL';
      }
      case 'sns':
        return (await topicAttributes(session, arn)) ? undefined : 'topic does not exist';
      case 'lambda': {
        await clients.of(session, LambdaClient).send(new GetFunctionCommand({ FunctionName: arn }));
        return undefined;
      }
      case 'iam': {
        if (!resource.startsWith('role/')) return 'not a role';
        const { Role } = await clients
          .of(session, IAMClient)
          .send(new GetRoleCommand({ RoleName: resource.split('/').pop() }));
        return Role?.Arn === arn ? undefined : `GetRole answered ${Role?.Arn}`;
      }
      default:
        return `no existence check for ${service} ARNs`;
    }
  } catch (error) {
    return `does not exist in ${account} (${errorName(error)})`;
  }
}

// --- resolving intrinsics -------------------------------------------------------------------

const NO_VALUE = Symbol('AWS::NoValue');

/** Resolves a template value against the deployed stack. */
class Resolver {
  private readonly attributes = new Map<string, Promise<unknown>>();

  constructor(
    private readonly stack: StackToRead,
    private readonly template: Template,
    private readonly parameters: ReadonlyMap<string, string>,
    private readonly physicalIds: ReadonlyMap<string, string>,
    private readonly clients: Clients,
  ) {}

  async resolve(value: unknown): Promise<unknown> {
    const resolved = await this.resolveOrNoValue(value);
    return resolved === NO_VALUE ? undefined : resolved;
  }

  condition(name: string): boolean {
    const condition = this.template.Conditions?.[name];
    if (condition === undefined) throw new Error(`no condition ${name}`);
    return this.evaluate(condition);
  }

  private evaluate(condition: unknown): boolean {
    if (typeof condition === 'boolean') return condition;
    const record = asRecord(condition);
    if ('Condition' in record) return this.condition(String(record['Condition']));
    const [operator, operands] = Object.entries(record)[0] ?? [];
    const args = asArray(operands);
    switch (operator) {
      case 'Fn::Equals':
        return String(this.literal(args[0])) === String(this.literal(args[1]));
      case 'Fn::Not':
        return !this.evaluate(args[0]);
      case 'Fn::And':
        return args.every((a) => this.evaluate(a));
      case 'Fn::Or':
        return args.some((a) => this.evaluate(a));
      default:
        throw new Error(`unsupported condition ${String(operator)}`);
    }
  }

  /** Ref to parameters and pseudo parameters only (what conditions may use). */
  private literal(value: unknown): unknown {
    if (isRecord(value) && typeof value['Ref'] === 'string') return this.ref(value['Ref']);
    return value;
  }

  private ref(name: string): unknown {
    const pseudo: Record<string, unknown> = {
      'AWS::AccountId': this.stack.session.accountId,
      'AWS::Region': this.stack.session.region,
      'AWS::Partition': 'aws',
      'AWS::StackName': this.stack.stackName,
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::NoValue': NO_VALUE,
    };
    if (name in pseudo) return pseudo[name];
    if (this.parameters.has(name)) return this.parameters.get(name);
    const parameter = this.template.Parameters?.[name];
    if (parameter !== undefined) return parameter.Default;
    const physicalId = this.physicalIds.get(name);
    if (physicalId !== undefined) return physicalId;
    throw new Error(`Ref ${name}: no such parameter or created resource`);
  }

  private async resolveOrNoValue(value: unknown): Promise<unknown> {
    if (Array.isArray(value)) {
      const items = await Promise.all(value.map((v) => this.resolveOrNoValue(v)));
      return items.filter((v) => v !== NO_VALUE);
    }
    if (!isRecord(value)) return value;
    const keys = Object.keys(value);
    if (keys.length === 1) {
      const [key] = keys as [string];
      const arg = value[key];
      switch (key) {
        case 'Ref':
          return this.ref(String(arg));
        case 'Fn::GetAtt': {
          const [logicalId, attribute] = typeof arg === 'string' ? arg.split('.') : asArray(arg);
          return this.getAtt(String(logicalId), String(attribute));
        }
        case 'Fn::Join': {
          const [separator, items] = asArray(arg);
          const resolved = asArray(await this.resolve(items));
          return resolved.map(String).join(String(separator));
        }
        case 'Fn::Sub':
          return this.sub(arg);
        case 'Fn::If': {
          const [condition, whenTrue, whenFalse] = asArray(arg);
          return this.resolveOrNoValue(this.condition(String(condition)) ? whenTrue : whenFalse);
        }
        case 'Fn::Select': {
          const [index, items] = asArray(arg);
          return asArray(await this.resolve(items))[Number(index)];
        }
        case 'Fn::Split': {
          const [separator, text] = asArray(arg);
          return String(await this.resolve(text)).split(String(separator));
        }
        default:
          if (key.startsWith('Fn::')) throw new Error(`unsupported intrinsic ${key}`);
      }
    }
    const entries = await Promise.all(
      Object.entries(value).map(async ([k, v]) => [k, await this.resolveOrNoValue(v)] as const),
    );
    return Object.fromEntries(entries.filter(([, v]) => v !== NO_VALUE));
  }

  private async sub(arg: unknown): Promise<string> {
    const [text, variables] = typeof arg === 'string' ? [arg, {}] : asArray(arg);
    const bound = asRecord(await this.resolve(variables ?? {}));
    let out = '';
    const pattern = /\$\{(!?)([^}]+)\}/g;
    let last = 0;
    const source = String(text);
    for (const match of source.matchAll(pattern)) {
      out += source.slice(last, match.index);
      last = (match.index ?? 0) + match[0].length;
      const [, literal, name = ''] = match;
      if (literal) out += `\${${name}}`;
      else if (name in bound) out += String(bound[name]);
      else if (name.includes('.')) {
        const [logicalId, attribute] = name.split('.');
        out += String(await this.getAtt(String(logicalId), String(attribute)));
      } else out += String(this.ref(name));
    }
    return out + source.slice(last);
  }

  private getAtt(logicalId: string, attribute: string): Promise<unknown> {
    const key = `${logicalId}.${attribute}`;
    let value = this.attributes.get(key);
    if (!value) {
      value = this.readAttribute(logicalId, attribute);
      this.attributes.set(key, value);
    }
    return value;
  }

  /** GetAtt by reading the resource (so the referenced resource must exist). */
  private async readAttribute(logicalId: string, attribute: string): Promise<unknown> {
    const type = this.template.Resources[logicalId]?.Type;
    const id = this.physicalIds.get(logicalId);
    if (!type || id === undefined) throw new Error(`GetAtt ${logicalId}.${attribute}: not created`);
    const session = this.stack.session;
    const c = this.clients;
    switch (`${type}.${attribute}`) {
      case 'AWS::SQS::Queue.Arn': {
        const { Attributes } = await c
          .of(session, SQSClient)
          .send(new GetQueueAttributesCommand({ QueueUrl: id, AttributeNames: ['QueueArn'] }));
        return Attributes?.['QueueArn'];
      }
      case 'AWS::SQS::Queue.QueueName':
        return id.split('/').pop();
      case 'AWS::SQS::Queue.QueueUrl':
        return id;
      case 'AWS::Lambda::Function.Arn': {
        const { Configuration } = await c
          .of(session, LambdaClient)
          .send(new GetFunctionCommand({ FunctionName: id }));
        return Configuration?.FunctionArn;
      }
      case 'AWS::IAM::Role.Arn': {
        const { Role } = await c.of(session, IAMClient).send(new GetRoleCommand({ RoleName: id }));
        return Role?.Arn;
      }
      case 'AWS::KMS::Key.Arn': {
        const { KeyMetadata } = await c
          .of(session, KMSClient)
          .send(new DescribeKeyCommand({ KeyId: id }));
        return KeyMetadata?.Arn;
      }
      case 'AWS::Events::EventBus.Arn': {
        const bus = await c
          .of(session, EventBridgeClient)
          .send(new DescribeEventBusCommand({ Name: id }));
        return bus.Arn;
      }
      case 'AWS::Events::EventBus.Name':
        return id;
      case 'AWS::Events::Rule.Arn': {
        const properties = asRecord(this.template.Resources[logicalId]?.Properties ?? {});
        const bus = await this.resolve(properties['EventBusName'] ?? 'default');
        const rule = await c
          .of(session, EventBridgeClient)
          .send(new DescribeRuleCommand({ Name: id, EventBusName: String(bus) }));
        return rule.Arn;
      }
      case 'AWS::DynamoDB::Table.Arn': {
        const { Table } = await c
          .of(session, DynamoDBClient)
          .send(new DescribeTableCommand({ TableName: id }));
        return Table?.TableArn;
      }
      case 'AWS::Scheduler::ScheduleGroup.Arn': {
        const group = await c
          .of(session, SchedulerClient)
          .send(new GetScheduleGroupCommand({ Name: id }));
        return group.Arn;
      }
      case 'AWS::SNS::Topic.TopicArn':
        return id;
      case 'AWS::SNS::Topic.TopicName':
        return id.split(':').pop();
      default:
        throw new Error(`GetAtt ${logicalId}.${attribute}: no reader for ${type}.${attribute}`);
    }
  }
}

// --- clients --------------------------------------------------------------------------------

interface Destroyable {
  destroy(): void;
}

/** SDK clients per account session, created on first use and destroyed together. */
class Clients {
  private readonly open = new Map<string, Destroyable>();

  constructor(private readonly sessions: ReadonlyMap<string, AccountSession>) {}

  sessionOf(accountId: string): AccountSession | undefined {
    return this.sessions.get(accountId);
  }

  of<C extends Destroyable>(
    session: AccountSession,
    Client: new (config: ReturnType<typeof clientConfig>) => C,
  ): C {
    const key = `${session.accountId}/${Client.name}`;
    let client = this.open.get(key);
    if (!client) {
      client = new Client(clientConfig(session));
      this.open.set(key, client);
    }
    return client as C;
  }

  destroy(): void {
    for (const client of this.open.values()) client.destroy();
    this.open.clear();
  }
}

/**
 * SNS through its query API: the repository has no SNS SDK client (none of its code publishes
 * or subscribes). moto selects the account by the credential in the Authorization header and
 * does not check signatures, so the header carries the session's access key unsigned.
 */
async function snsQuery(
  session: AccountSession,
  action: string,
  params: Record<string, string>,
): Promise<{ status: number; body: string }> {
  const body = new URLSearchParams({ Action: action, Version: '2010-03-31', ...params });
  const response = await fetch(`${session.endpoint}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `AWS4-HMAC-SHA256 Credential=${session.credentials.accessKeyId}/20200101/${session.region}/sns/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: body.toString(),
  });
  return { status: response.status, body: await response.text() };
}

/** GetTopicAttributes, or undefined if the topic does not exist. */
async function topicAttributes(
  session: AccountSession,
  topicArn: string,
): Promise<Record<string, string> | undefined> {
  const { status, body } = await snsQuery(session, 'GetTopicAttributes', { TopicArn: topicArn });
  if (status !== 200) return undefined;
  const attributes: Record<string, string> = {};
  for (const entry of body.matchAll(
    /<entry><key>([^<]*)<\/key><value>([^<]*)<\/value><\/entry>/g,
  )) {
    attributes[xmlText(entry[1] ?? '')] = xmlText(entry[2] ?? '');
  }
  return attributes;
}

/** ListSubscriptionsByTopic (first page: keyrot's topics have at most one subscription). */
async function topicSubscriptions(
  session: AccountSession,
  topicArn: string,
): Promise<Record<string, string>[]> {
  const { status, body } = await snsQuery(session, 'ListSubscriptionsByTopic', {
    TopicArn: topicArn,
  });
  if (status !== 200) throw new Error(`ListSubscriptionsByTopic answered HTTP ${status}`);
  return [...body.matchAll(/<member>([\s\S]*?)<\/member>/g)].map((member) => {
    const fields: Record<string, string> = {};
    for (const field of (member[1] ?? '').matchAll(/<(\w+)>([^<]*)<\/\1>/g)) {
      fields[field[1] ?? ''] = xmlText(field[2] ?? '');
    }
    return fields;
  });
}

function xmlText(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

// --- comparing --------------------------------------------------------------------------------

/**
 * The first difference between `actual` and `expected`, or undefined. Scalars compare as
 * strings (templates write `5` or `'5'`, `true` or `'true'`, APIs answer either). `exact`: no
 * extra keys in objects either.
 */
function firstMismatch(
  actual: unknown,
  expected: unknown,
  exact: boolean,
  at = '',
): string | undefined {
  if (expected === undefined) return undefined;
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual))
      return `${at || 'value'} is ${show(actual)}, expected ${show(expected)}`;
    if (actual.length !== expected.length) {
      return `${at || 'value'} has ${actual.length} items, expected ${expected.length}: ${show(actual)} vs ${show(expected)}`;
    }
    for (let i = 0; i < expected.length; i += 1) {
      const mismatch = firstMismatch(actual[i], expected[i], exact, `${at}[${i}]`);
      if (mismatch) return mismatch;
    }
    return undefined;
  }
  if (isRecord(expected)) {
    if (!isRecord(actual)) return `${at || 'value'} is ${show(actual)}, expected ${show(expected)}`;
    for (const [key, value] of Object.entries(expected)) {
      const mismatch = firstMismatch(actual[key], value, exact, at ? `${at}.${key}` : key);
      if (mismatch) return mismatch;
    }
    if (exact) {
      const extra = Object.keys(actual).filter((k) => !(k in expected) && actual[k] !== undefined);
      if (extra.length > 0) return `${at || 'value'} has unexpected ${extra.join(', ')}`;
    }
    return undefined;
  }
  if (actual === undefined || actual === null) {
    return expected === null
      ? undefined
      : `${at || 'value'} is missing, expected ${show(expected)}`;
  }
  return String(actual).toLowerCase() === String(expected).toLowerCase() &&
    (typeof actual !== 'string' || typeof expected !== 'string' || actual === expected)
    ? undefined
    : `${at || 'value'} is ${show(actual)}, expected ${show(expected)}`;
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

// --- small helpers ----------------------------------------------------------------------------

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asRecord(value: unknown): Record<string, unknown> {
  if (!isRecord(value)) throw new Error(`expected an object, got ${show(value)}`);
  return value;
}

function asArray(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new Error(`expected a list, got ${show(value)}`);
  return value;
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  return JSON.parse(text) as unknown;
}

/** IAM returns policy documents URL-encoded (moto: sometimes plain). */
function parsePolicyDocument(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return JSON.parse(decodeURIComponent(text)) as unknown;
  }
}

/** A Lambda permission's principal as its policy statement shows it. */
function principalOf(principal: unknown): unknown {
  if (typeof principal !== 'string') return principal;
  if (principal.endsWith('.amazonaws.com')) return { Service: principal };
  if (/^\d{12}$/.test(principal)) return { AWS: `arn:aws:iam::${principal}:root` };
  return { AWS: principal };
}

function eventBusArn(session: AccountSession, name: string): string {
  return `arn:aws:events:${session.region}:${session.accountId}:event-bus/${name}`;
}

function sha256Base64(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64');
}

function isTrue(value: unknown): boolean {
  return String(value).toLowerCase() === 'true';
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : String(error);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
