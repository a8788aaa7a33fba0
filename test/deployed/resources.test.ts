/**
 * keyrot's stacks as users deploy them: `serverless deploy` of the three services onto moto
 * (harness/deployed/deploy.ts), in two-account and single-account mode, then every resource of
 * every deployed template read back by SDK and compared with the template
 * (test/deployed/read-back.ts). A resource type the read-back has no reader for fails, and two
 * negative controls show that the read-back catches what a deploy does not: a forwarding rule
 * whose target bus does not exist (CloudFormation, here and on AWS, accepts it) and a resource
 * deleted behind the stack's back.
 */
import {
  CloudFormationClient,
  CreateChangeSetCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
  ListStackResourcesCommand,
} from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, DeleteAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { GetFunctionEventInvokeConfigCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { clientConfig, type AccountSession } from '../../harness/accounts';
import { deployLocal, type DeployedStack, type DeployedWorld } from '../../harness/deployed/deploy';
import { startMoto, type MotoServer } from '../../harness/moto';
import { problemsOf, readBackStack, type StackReport } from './read-back';

jest.setTimeout(120_000);
// The machine runs Node 20 (Lambda runs 24); the SDK's notice about it is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const MODES = [
  // Single-account mode also subscribes an alarm e-mail, so the conditional
  // AWS::SNS::Subscription is deployed and read back in one of the two modes.
  { mode: 'two-account', singleAccount: false, params: {} },
  { mode: 'single-account', singleAccount: true, params: { alarmEmail: 'oncall@example.com' } },
] as const;

/** One emulator per mode, deployed at the same time (their packagings take turns, see deploy.ts). */
const servers: MotoServer[] = [];
const deployments = new Map<string, DeployedWorld>();

beforeAll(async () => {
  servers.push(...(await Promise.all(MODES.map(() => startMoto()))));
  const worlds = await Promise.all(
    MODES.map(({ singleAccount, params }, i) =>
      deployLocal(servers[i]!.endpoint, { singleAccount, params }),
    ),
  );
  MODES.forEach(({ mode }, i) => deployments.set(mode, worlds[i]!));
}, 170_000);

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
});

describe.each(MODES)('$mode', ({ mode, singleAccount }) => {
  let deployed: DeployedWorld;
  let sessions: Map<string, AccountSession>;

  beforeAll(() => {
    deployed = deployments.get(mode)!;
    sessions = new Map(deployed.stacks.map((s) => [s.accountId, s.session]));
  });

  it('deploys edge-updater, key-issuer and key-reaper into the accounts of the mode', () => {
    const accounts = deployed.stacks.map((s) => [s.service, s.accountId]);
    expect(accounts).toEqual(
      singleAccount
        ? [
            ['edge-updater', '111111111111'],
            ['key-issuer', '111111111111'],
            ['key-reaper', '111111111111'],
          ]
        : [
            ['edge-updater', '222222222222'],
            ['key-issuer', '111111111111'],
            ['key-reaper', '111111111111'],
          ],
    );
    expect(deployed.world.api.scheduleName).toBe('keyrot-local-monthly-rotation');
    expect(deployed.world.edge.kmsKeyArn).toMatch(
      new RegExp(`^arn:aws:kms:us-east-1:${deployed.world.edge.session.accountId}:key/`),
    );
  });

  it('reads every resource of every deployed template back as the template says', async () => {
    const reports = await Promise.all(deployed.stacks.map((s) => readBackStack(s, sessions)));
    expect(reports.flatMap(problemsOf)).toEqual([]);
    for (const [i, report] of reports.entries()) {
      // Every resource of the template whose Condition holds was read back.
      expect(report.resources.map((r) => r.logicalId).sort()).toEqual(
        createdLogicalIds(deployed.stacks[i]!).sort(),
      );
    }
    // The resource types the templates use, all of them readable (the list documents them).
    const types = new Set(reports.flatMap((r) => r.resources.map((x) => x.type)));
    expect([...types].sort()).toEqual(
      expect.arrayContaining([
        'AWS::CloudWatch::Alarm',
        'AWS::DynamoDB::Table',
        'AWS::Events::EventBus',
        'AWS::Events::Rule',
        'AWS::IAM::Role',
        'AWS::KMS::Alias',
        'AWS::KMS::Key',
        'AWS::Lambda::Function',
        'AWS::Lambda::Permission',
        'AWS::Lambda::Version',
        'AWS::Logs::LogGroup',
        'AWS::S3::Bucket',
        'AWS::S3::BucketPolicy',
        'AWS::SNS::Topic',
        'AWS::SNS::TopicPolicy',
        'AWS::SQS::Queue',
        'AWS::SQS::QueuePolicy',
        'AWS::Scheduler::Schedule',
        'AWS::Scheduler::ScheduleGroup',
        ...(singleAccount ? ['AWS::SNS::Subscription'] : ['AWS::Events::EventBusPolicy']),
      ]),
    );
  });

  if (singleAccount) return;

  it('deploys an AWS::Lambda::EventInvokeConfig with an on-failure queue, readable back', async () => {
    const edge = stackOf(deployed, 'edge-updater');
    const template = onFailureTemplate(edge);
    const report = await deployAndReadBack(
      edge.session,
      'keyrot-probe-on-failure',
      template,
      sessions,
    );
    expect(problemsOf(report)).toEqual([]);
    const lambda = new LambdaClient(clientConfig(edge.session));
    try {
      const config = await lambda.send(
        new GetFunctionEventInvokeConfigCommand({
          FunctionName: 'keyrot-probe-on-failure',
          Qualifier: '$LATEST',
        }),
      );
      expect(config).toMatchObject({
        MaximumRetryAttempts: 2,
        DestinationConfig: {
          OnFailure: {
            Destination: `arn:aws:sqs:us-east-1:222222222222:keyrot-edge-updater-local-dlq`,
          },
        },
      });
    } finally {
      lambda.destroy();
    }
  });

  it('negative control: a forwarding rule whose target bus does not exist deploys, and fails the read-back', async () => {
    const issuer = stackOf(deployed, 'key-issuer');
    const template = await seededDefect(issuer);
    const report = await deployAndReadBack(
      issuer.session,
      'keyrot-seeded-defect',
      template,
      sessions,
    );
    expect(problemsOf(report)).toEqual([
      expect.stringMatching(
        /^keyrot-seeded-defect\/ForwardKeyCreatedRule \(AWS::Events::Rule\): target edge-account-bus arn:aws:events:us-east-1:222222222222:event-bus\/keyrot-typo: does not exist in 222222222222/,
      ),
    ]);
  });

  it('negative control: an alarm deleted behind the stack’s back fails the read-back', async () => {
    const reaper = stackOf(deployed, 'key-reaper');
    const cloudwatch = new CloudWatchClient(clientConfig(reaper.session));
    try {
      await cloudwatch.send(
        new DeleteAlarmsCommand({
          AlarmNames: ['keyrot-local-rotation-failed-kloudpepper-api-key'],
        }),
      );
    } finally {
      cloudwatch.destroy();
    }
    expect(problemsOf(await readBackStack(reaper, sessions))).toEqual([
      'keyrot-key-reaper-local/RotationFailedAlarmKloudpepperApiKey (AWS::CloudWatch::Alarm): alarm keyrot-local-rotation-failed-kloudpepper-api-key does not exist',
    ]);
  });

  it('a resource that fails leaves a failed stack whose events name it (as osls reports it)', async () => {
    const edge = stackOf(deployed, 'edge-updater');
    const template = onFailureTemplate(edge) as Resources;
    template.Resources['ProbeVersion'] = {
      Type: 'AWS::Lambda::Version',
      Properties: { FunctionName: { Ref: 'ProbeLambdaFunction' }, CodeSha256: 'bm90IHRoZSB6aXA=' },
    };
    // Another function name: the on-failure probe above exists already.
    (template.Resources['ProbeLambdaFunction']!.Properties as Record<string, unknown>)[
      'FunctionName'
    ] = 'keyrot-probe-bad-version';
    await expect(
      deployAndReadBack(edge.session, 'keyrot-probe-bad-version', template, sessions),
    ).rejects.toThrow(
      /^keyrot-probe-bad-version: CREATE_FAILED: ProbeVersion InvalidParameterValueException: CodeSha256 \(bm90IHRoZSB6aXA=\) is different from current CodeSha256/,
    );
  });

  it('fails a resource type it has no reader for', async () => {
    const issuer = stackOf(deployed, 'key-issuer');
    const template = {
      Resources: {
        Marker: {
          Type: 'AWS::SSM::Parameter',
          Properties: { Name: '/keyrot/probe', Type: 'String', Value: 'x' },
        },
      },
    };
    const report = await deployAndReadBack(
      issuer.session,
      'keyrot-unread-type',
      template,
      sessions,
    );
    expect(problemsOf(report)).toEqual([
      'keyrot-unread-type/Marker (AWS::SSM::Parameter): no reader for AWS::SSM::Parameter: add one to test/deployed/read-back.ts',
    ]);
  });
});

// --- helpers ----------------------------------------------------------------------------------

interface Resources {
  Resources: Record<string, { Type: string; Condition?: string; Properties?: unknown }>;
  Conditions?: Record<string, unknown>;
}

function stackOf(deployed: DeployedWorld, service: DeployedStack['service']): DeployedStack {
  const stack = deployed.stacks.find((s) => s.service === service);
  if (!stack) throw new Error(`no ${service} stack`);
  return stack;
}

/** The logical ids the stack must have created: the template's, minus false Conditions. */
function createdLogicalIds(stack: DeployedStack): string[] {
  const template = stack.template as Resources;
  // keyrot's conditions: TwoAccounts (account ids differ), HasAlarmEmail (alarmEmail set).
  const holds: Record<string, boolean> = {
    TwoAccounts: stack.params['apiAccountId'] !== stack.params['edgeAccountId'],
    HasAlarmEmail: (stack.params['alarmEmail'] ?? '') !== '',
  };
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Condition === undefined || holds[r.Condition])
    .map(([logicalId]) => logicalId);
}

/**
 * Deploys `template` as a stack through a change set (as osls does), expects it complete, and
 * reads it back.
 */
async function deployAndReadBack(
  session: AccountSession,
  stackName: string,
  template: unknown,
  sessions: ReadonlyMap<string, AccountSession>,
): Promise<StackReport> {
  const cfn = new CloudFormationClient(clientConfig(session));
  try {
    await cfn.send(
      new CreateChangeSetCommand({
        StackName: stackName,
        ChangeSetName: `${stackName}-create`,
        ChangeSetType: 'CREATE',
        TemplateBody: JSON.stringify(template),
        Capabilities: ['CAPABILITY_NAMED_IAM'],
      }),
    );
    await cfn.send(
      new ExecuteChangeSetCommand({ StackName: stackName, ChangeSetName: `${stackName}-create` }),
    );
    const { Stacks = [] } = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    if (Stacks[0]?.StackStatus !== 'CREATE_COMPLETE') {
      const { StackEvents = [] } = await cfn.send(
        new DescribeStackEventsCommand({ StackName: stackName }),
      );
      const failed = StackEvents.find(
        (e) =>
          e.ResourceType !== 'AWS::CloudFormation::Stack' && e.ResourceStatus?.endsWith('_FAILED'),
      );
      throw new Error(
        `${stackName}: ${Stacks[0]?.StackStatus}: ${failed?.LogicalResourceId} ${failed?.ResourceStatusReason}`,
      );
    }
  } finally {
    cfn.destroy();
  }
  return readBackStack({ stackName, session, template }, sessions);
}

/**
 * What `destinations.onFailure` in serverless.yml compiles to, on a function of its own: the
 * edge-updater's zip and role, `AWS::Lambda::EventInvokeConfig` with the service's dead-letter
 * queue as on-failure destination and no retries beyond Lambda's two.
 */
function onFailureTemplate(edge: DeployedStack): unknown {
  const deployedTemplate = edge.template as Resources;
  const code = (
    deployedTemplate.Resources['UpdateEdgeLambdaFunction']?.Properties as {
      Code: { S3Key: string };
    }
  ).Code;
  const bucket = edge.outputs['ServerlessDeploymentBucketName'];
  const role = `arn:aws:iam::222222222222:role/keyrot-edge-updater-local-us-east-1`;
  return {
    Resources: {
      ProbeLambdaFunction: {
        Type: 'AWS::Lambda::Function',
        Properties: {
          FunctionName: 'keyrot-probe-on-failure',
          Handler: 'src/handler.updateEdge',
          Runtime: 'nodejs24.x',
          Architectures: ['arm64'],
          Role: role,
          Timeout: 10,
          Code: { S3Bucket: bucket, S3Key: code.S3Key },
        },
      },
      ProbeLambdaEvConf: {
        Type: 'AWS::Lambda::EventInvokeConfig',
        Properties: {
          FunctionName: { Ref: 'ProbeLambdaFunction' },
          Qualifier: '$LATEST',
          MaximumRetryAttempts: 2,
          DestinationConfig: {
            OnFailure: {
              Destination: 'arn:aws:sqs:us-east-1:222222222222:keyrot-edge-updater-local-dlq',
            },
          },
        },
      },
    },
  };
}

/**
 * The key-issuer's forwarding rule with a typo in its target bus name (its role and dead-letter
 * queue as deployed): a defect CloudFormation accepts, since EventBridge does not check that a
 * target bus exists.
 */
async function seededDefect(issuer: DeployedStack): Promise<unknown> {
  const rule = structuredClone(
    (issuer.template as Resources).Resources['ForwardKeyCreatedRule'],
  ) as {
    Type: string;
    Condition?: string;
    Properties: { Name: string; EventBusName: unknown; Targets: Record<string, unknown>[] };
  };
  delete rule.Condition;
  rule.Properties.Name = 'keyrot-forward-to-edge-seeded-defect';
  rule.Properties.EventBusName = 'keyrot';
  const [target] = rule.Properties.Targets;
  rule.Properties.Targets = [
    {
      ...target,
      Arn: 'arn:aws:events:us-east-1:222222222222:event-bus/keyrot-typo',
      RoleArn: `arn:aws:iam::111111111111:role/${await physicalIdOf(issuer, 'ForwardRole')}`,
      DeadLetterConfig: { Arn: 'arn:aws:sqs:us-east-1:111111111111:keyrot-key-issuer-local-dlq' },
    },
  ];
  return { Resources: { ForwardKeyCreatedRule: rule } };
}

/** A deployed resource's physical id (ListStackResources). */
async function physicalIdOf(stack: DeployedStack, logicalId: string): Promise<string> {
  const cfn = new CloudFormationClient(clientConfig(stack.session));
  try {
    const { StackResourceSummaries = [] } = await cfn.send(
      new ListStackResourcesCommand({ StackName: stack.stackName }),
    );
    const resource = StackResourceSummaries.find((r) => r.LogicalResourceId === logicalId);
    if (!resource?.PhysicalResourceId) throw new Error(`${stack.stackName} has no ${logicalId}`);
    return resource.PhysicalResourceId;
  } finally {
    cfn.destroy();
  }
}
