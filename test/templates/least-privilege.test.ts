import { currentKeySecretName, ledgerTableDefinition } from '@keyrot/shared';
import {
  actionsOf,
  asList,
  functionRoleIds,
  functionStatements,
  loadTemplate,
  onlyResource,
  resourcesOfType,
  resourceText,
  roleStatements,
  type Json,
  type Statement,
  type Template,
} from './template';

const API = '111111111111';
const EDGE = '222222222222';
const SERVICES = ['key-issuer', 'edge-updater', 'key-reaper'] as const;
const TEMPLATES = [
  ...SERVICES,
  'key-issuer.single-account',
  'edge-updater.single-account',
] as const;

const templates = Object.fromEntries(TEMPLATES.map((n) => [n, loadTemplate(n)])) as Record<
  (typeof TEMPLATES)[number],
  Template
>;

describe.each(TEMPLATES)('the %s template', (name) => {
  const template = templates[name];

  it('gives every role statement specific actions and specific resources', () => {
    const statements = roleStatements(template);
    expect(statements.length).toBeGreaterThan(0);
    for (const { role, statement } of statements) {
      for (const action of asList(statement.Action)) {
        expect({ role, action }).toEqual({
          role,
          action: expect.stringMatching(/^[a-z0-9-]+:[A-Za-z]+$/),
        });
      }
      for (const resource of asList(statement.Resource)) {
        expect({ role, resource }).not.toEqual({ role, resource: '*' });
      }
    }
  });

  it('runs every function on nodejs24.x, arm64', () => {
    for (const [, fn] of resourcesOfType(template, 'AWS::Lambda::Function')) {
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'] });
    }
  });

  it('gives every rule target a retry policy and a dead-letter queue', () => {
    // Event-driven rules only; the reaper's hourly check is a schedule whose missed runs
    // the key-age alarm notices (missing data counts as breaching). A target's dead-letter
    // queue only gets what EventBridge could not hand to Lambda; what a function fails on
    // reaches the same queue through its on-failure destination (failed-invocations.test.ts).
    const targets = resourcesOfType(template, 'AWS::Events::Rule')
      .filter(([, rule]) => rule.Properties!.EventPattern !== undefined)
      .flatMap(([, rule]) => rule.Properties!.Targets as Record<string, Json>[]);
    expect(targets.length).toBeGreaterThan(0);
    for (const target of targets) {
      expect(target).toMatchObject({
        RetryPolicy: { MaximumRetryAttempts: expect.any(Number) },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] } },
      });
    }
  });
});

/** The patterns of the rules that invoke the service's function on an event. */
function functionRulePatterns(template: Template) {
  return resourcesOfType(template, 'AWS::Events::Rule')
    .filter(([, rule]) => JSON.stringify(rule.Properties!.Targets).includes('LambdaFunction'))
    .flatMap(([, rule]) => (rule.Properties!.EventPattern ? [rule.Properties!.EventPattern] : []));
}

describe('pacing across execution environments', () => {
  /** What the template gives function `logicalId` for pacing. */
  function pacingOf(template: Template, logicalId: string) {
    const [, fn] = resourcesOfType(template, 'AWS::Lambda::Function').find(
      ([id]) => id === logicalId,
    )!;
    const props = fn.Properties as {
      ReservedConcurrentExecutions?: number;
      Environment?: { Variables?: Record<string, string> };
    };
    return {
      reserved: props.ReservedConcurrentExecutions,
      share: props.Environment?.Variables?.RESERVED_CONCURRENCY,
      maxWait: props.Environment?.Variables?.DEPLOY_MAX_WAIT_SECONDS,
    };
  }

  it.each([
    ['key-issuer', 'IssueKeyLambdaFunction'],
    ['key-issuer.single-account', 'IssueKeyLambdaFunction'],
    ['key-reaper', 'RetireKeysLambdaFunction'],
    ['edge-updater', 'UpdateEdgeLambdaFunction'],
    ['edge-updater.single-account', 'UpdateEdgeLambdaFunction'],
  ] as const)('%s caps %s and tells each environment its share of the limit', (name, id) => {
    const { reserved, share } = pacingOf(templates[name], id);
    expect(reserved).toBeGreaterThanOrEqual(1);
    expect(share).toBe(String(reserved));
  });

  it('the capped edge function hands the wait for Deployed on at once; the uncapped one waits', () => {
    const template = templates['edge-updater'];
    expect(pacingOf(template, 'UpdateEdgeLambdaFunction').maxWait).toBe('0');
    expect(pacingOf(template, 'AwaitDeploymentLambdaFunction')).toEqual({
      reserved: undefined,
      share: undefined,
      maxWait: undefined,
    });
  });
});

describe('each function reacts only to its event from its partner account', () => {
  it.each([
    ['key-issuer', 'KeyRotationRequested', API],
    ['edge-updater', ['KeyCreated', 'EdgeHealRequested'], API],
    ['key-reaper', ['EdgeUpdated', 'RotationFailed'], EDGE],
    ['key-reaper', ['EdgeObserved', 'EdgeHealed', 'EdgeHealFailed'], EDGE],
  ] as const)('%s', (name, detailType, account) => {
    expect(functionRulePatterns(templates[name])).toContainEqual({
      source: ['keyrot'],
      'detail-type': asList<string>(detailType as string | string[]),
      account: [account],
    });
  });

  it("besides, the edge-updater hears only its own account's retries and deployment re-checks, and CloudTrail's record of an update of a driftGuard target's distribution", () => {
    expect(functionRulePatterns(templates['edge-updater'])).toEqual([
      { source: ['keyrot'], 'detail-type': ['KeyCreated', 'EdgeHealRequested'], account: [API] },
      { source: ['keyrot'], 'detail-type': ['EdgeUpdateRetry'], account: [EDGE] },
      { source: ['keyrot'], 'detail-type': ['EdgeDeploymentCheck'], account: [EDGE] },
      {
        source: ['aws.cloudfront'],
        'detail-type': ['AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['cloudfront.amazonaws.com'],
          eventName: ['UpdateDistribution'],
          requestParameters: { id: ['E1MTSB8DGIOBI2'] },
        },
      },
    ]);
  });

  it.each(['edge-updater', 'edge-updater.single-account'] as const)(
    '%s: each rule invokes the function whose export takes that detail-type (and its own retry)',
    (name) => {
      const template = templates[name];
      const handlerOf = (logicalId: string) =>
        (
          resourcesOfType(template, 'AWS::Lambda::Function').find(([id]) => id === logicalId)?.[1]
            .Properties as { Handler?: string } | undefined
        )?.Handler;
      const routes = resourcesOfType(template, 'AWS::Events::Rule').flatMap(([, rule]) => {
        const targets = JSON.stringify(rule.Properties!.Targets);
        const fn = /"([A-Za-z0-9]+LambdaFunction)"/.exec(targets)?.[1];
        const pattern = rule.Properties!.EventPattern as { 'detail-type'?: string[] } | undefined;
        return fn && pattern ? [[pattern['detail-type'], handlerOf(fn)]] : [];
      });
      expect(routes).toEqual([
        [['KeyCreated', 'EdgeHealRequested'], 'src/handler.updateEdge'],
        [['EdgeUpdateRetry'], 'src/handler.updateEdge'],
        [['EdgeDeploymentCheck'], 'src/handler.checkDeployment'],
        [['AWS API Call via CloudTrail'], 'src/handler.checkEdge'],
      ]);
    },
  );
});

describe('each role holds only its own side of the rotation', () => {
  const issuer = functionStatements(templates['key-issuer']);
  const edge = functionStatements(templates['edge-updater']);
  const reaper = functionStatements(templates['key-reaper']);
  const prefixes = (statements: Statement[]) =>
    [...new Set(actionsOf(statements).map((a) => a.split(':')[0]))].sort();

  it('the issuer never touches CloudFront', () => {
    // iam and scheduler: it schedules its own retries (CreateSchedule in its group, PassRole of
    // the Scheduler role only).
    expect(prefixes(issuer)).toEqual([
      'apigateway',
      'dynamodb',
      'events',
      'iam',
      'kms',
      'logs',
      'scheduler',
      'sqs',
    ]);
    expect(
      actionsOf(issuer)
        .filter((a) => /^(iam|scheduler):/.test(a))
        .sort(),
    ).toEqual(['iam:PassRole', 'scheduler:CreateSchedule']);
    expect(actionsOf(issuer).filter((a) => a.startsWith('kms:'))).toEqual(['kms:Encrypt']);
  });

  it('the edge-updater never touches API Gateway or DynamoDB, and puts events on its own bus only', () => {
    expect(prefixes(edge)).toEqual([
      'cloudfront',
      'events',
      'iam',
      'kms',
      'logs',
      'scheduler',
      'secretsmanager',
      'sqs',
    ]);
    // Decrypt sealed keys; GenerateDataKey only for Secrets Manager (the current-key references).
    expect(
      actionsOf(edge)
        .filter((a) => a.startsWith('kms:'))
        .sort(),
    ).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    const putEvents = edge.filter((s) => asList(s.Action).includes('events:PutEvents'));
    expect([...new Set(putEvents.flatMap((s) => asList(s.Resource).map(resourceText)))]).toEqual([
      `arn:aws:events:us-east-1:${EDGE}:event-bus/keyrot`,
    ]);
    const cloudFront = edge.filter((s) => actionsOf([s]).some((a) => a.startsWith('cloudfront:')));
    expect([...new Set(cloudFront.flatMap((s) => asList(s.Resource)))]).toEqual([
      `arn:aws:cloudfront::${EDGE}:distribution/E1MTSB8DGIOBI2`,
    ]);
  });

  it('the edge-updater schedules its re-checks in its own group, through a role that can only put them on its bus', () => {
    const template = templates['edge-updater'];
    // Both functions schedule re-checks (updateEdge the first, awaitDeployment the next).
    const scheduling = edge.filter((s) => actionsOf([s]).some((a) => a.startsWith('scheduler:')));
    expect(scheduling).toHaveLength(2);
    expect([...new Set(actionsOf(scheduling))]).toEqual(['scheduler:CreateSchedule']);
    for (const statement of scheduling) {
      expect(asList(statement.Resource)).toEqual([
        `arn:aws:scheduler:us-east-1:${EDGE}:schedule/keyrot-deploy-checks-dev/*`,
      ]);
    }
    const passRole = edge.filter((s) => asList(s.Action).includes('iam:PassRole'));
    expect(passRole).toHaveLength(2);
    expect(asList(passRole[0]!.Resource)).toEqual([
      { 'Fn::GetAtt': ['DeployCheckSchedulerRole', 'Arn'] },
    ]);
    expect(passRole[0]!.Condition).toEqual({
      StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' },
    });
    expect(onlyResource(template, 'AWS::Scheduler::ScheduleGroup')).toEqual({
      Name: 'keyrot-deploy-checks-dev',
    });
    const role = template.Resources.DeployCheckSchedulerRole!.Properties!;
    expect(JSON.stringify(role.AssumeRolePolicyDocument)).toContain('scheduler.amazonaws.com');
    expect(roleStatements(template).filter((s) => s.role === 'DeployCheckSchedulerRole')).toEqual([
      {
        role: 'DeployCheckSchedulerRole',
        statement: {
          Effect: 'Allow',
          Action: ['events:PutEvents'],
          Resource: [`arn:aws:events:us-east-1:${EDGE}:event-bus/keyrot`],
        },
      },
      {
        role: 'DeployCheckSchedulerRole',
        statement: {
          Effect: 'Allow',
          Action: ['sqs:SendMessage'],
          Resource: [{ 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] }],
        },
      },
    ]);
  });

  it('sends a re-check Scheduler cannot deliver to the dead-letter queue the DLQ alarm watches', () => {
    for (const [, fn] of resourcesOfType(templates['edge-updater'], 'AWS::Lambda::Function')) {
      const variables = (fn.Properties as { Environment: { Variables: Record<string, Json> } })
        .Environment.Variables;
      expect(variables.DEPLOY_CHECK_DLQ_ARN).toEqual({ 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] });
    }
  });

  it("the reaper's delete permission covers API keys only, never usage plans or APIs", () => {
    // iam and scheduler: its own retries (CreateSchedule in the retry group, PassRole of the
    // API account's Scheduler role only); kms: the drift guard's checkDrift seals a heal's
    // key for the edge (Encrypt only).
    expect(prefixes(reaper)).toEqual([
      'apigateway',
      'dynamodb',
      'events',
      'iam',
      'kms',
      'logs',
      'scheduler',
      'sqs',
    ]);
    expect(actionsOf(reaper).filter((a) => a.startsWith('kms:'))).toEqual(['kms:Encrypt']);
    expect(
      actionsOf(reaper)
        .filter((a) => /^(iam|scheduler):/.test(a))
        .sort(),
    ).toEqual(['iam:PassRole', 'scheduler:CreateSchedule']);
    const deletes = reaper.filter((s) => asList(s.Action).includes('apigateway:DELETE'));
    expect(deletes.flatMap((s) => asList(s.Resource))).toEqual([
      'arn:aws:apigateway:us-east-1::/apikeys/*',
    ]);
    // ...and only keys tagged as keyrot's: never another client's (untagged) key.
    expect(deletes.map((s) => s.Condition)).toEqual([
      { StringEquals: { 'aws:ResourceTag/keyrot:managed': 'true' } },
    ]);
  });

  it('the issuer may delete only keys tagged as keyrot-managed (its own rollback)', () => {
    const deletes = issuer.filter((s) => asList(s.Action).includes('apigateway:DELETE'));
    expect(deletes).toHaveLength(1);
    expect(deletes[0]!.Condition).toEqual({
      StringEquals: {
        'aws:ResourceTag/keyrot:managed': 'true',
        'aws:ResourceTag/keyrot:target': ['kloudpepper-api-key'],
      },
    });
  });

  it('the issuer tags only keys it is creating, only with keyrot’s tags, for a manifest target', () => {
    const tagging = issuer.filter((s) => asList(s.Action).includes('apigateway:PUT'));
    expect(tagging.flatMap((s) => asList(s.Resource))).toEqual([
      'arn:aws:apigateway:us-east-1::/tags/arn%3Aaws%3Aapigateway%3Aus-east-1%3A%3A%2Fapikeys%2F?',
    ]);
    const creates = issuer.filter((s) =>
      asList(s.Resource).includes('arn:aws:apigateway:us-east-1::/apikeys'),
    );
    const onlyKeyrotTags = {
      StringEquals: {
        'aws:RequestTag/keyrot:managed': 'true',
        'aws:RequestTag/keyrot:target': ['kloudpepper-api-key'],
      },
      'ForAllValues:StringEquals': {
        'aws:TagKeys': ['keyrot:managed', 'keyrot:target', 'keyrot:rotation'],
      },
    };
    const posts = creates.filter((s) => asList(s.Action).includes('apigateway:POST'));
    expect([...tagging, ...posts].map((s) => s.Condition)).toEqual([
      onlyKeyrotTags,
      onlyKeyrotTags,
    ]);
  });
});

describe('one role per function', () => {
  it.each(TEMPLATES)(
    '%s: every function has a role of its own, and no shared role exists',
    (name) => {
      const roles = Object.values(functionRoleIds(templates[name]));
      expect(roles.length).toBeGreaterThan(0);
      expect(new Set(roles).size).toBe(roles.length);
      expect(templates[name].Resources.IamRoleLambdaExecution).toBeUndefined();
    },
  );

  it.each(TEMPLATES)('%s: each function writes only its own log group', (name) => {
    const template = templates[name];
    for (const id of Object.keys(functionRoleIds(template))) {
      const fnName = (template.Resources[id]!.Properties as { FunctionName: string }).FunctionName;
      const logs = functionStatements(template, id).filter((s) =>
        actionsOf([s]).some((a) => a.startsWith('logs:')),
      );
      expect(actionsOf(logs).sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
      expect(logs.flatMap((s) => asList(s.Resource))).toEqual([
        expect.stringMatching(new RegExp(`:log-group:/aws/lambda/${fnName}:\\*$`)),
      ]);
    }
  });

  it('the hourly monitor only reads the ledger (and reports its own failures)', () => {
    const monitor = functionStatements(templates['key-reaper'], 'CheckRotationsLambdaFunction');
    expect(actionsOf(monitor).sort()).toEqual([
      'dynamodb:GetItem',
      'dynamodb:Query',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'sqs:SendMessage',
    ]);
  });

  it('awaitDeployment cannot decrypt keys or update distributions', () => {
    const actions = actionsOf(
      functionStatements(templates['edge-updater'], 'AwaitDeploymentLambdaFunction'),
    );
    expect(actions).not.toContain('kms:Decrypt');
    expect(actions).not.toContain('cloudfront:UpdateDistribution');
    expect(actions).toEqual(
      expect.arrayContaining(['cloudfront:GetDistribution', 'scheduler:CreateSchedule']),
    );
  });

  it('the KMS key policy names updateEdge’s role, the one that decrypts', () => {
    const edge = templates['edge-updater'];
    const role = edge.Resources[functionRoleIds(edge).UpdateEdgeLambdaFunction!]!;
    expect(role.Properties!.RoleName).toBe('keyrot-edge-updater-dev-us-east-1');
    const issuer = templates['key-issuer'];
    const issuerRole = issuer.Resources[functionRoleIds(issuer).IssueKeyLambdaFunction!]!;
    expect(issuerRole.Properties!.RoleName).toBe('keyrot-key-issuer-dev-us-east-1');
  });
});

describe('cross-account trust', () => {
  /** The single statement of the template's one bus policy. */
  function busPolicy(template: Template) {
    const policies = resourcesOfType(template, 'AWS::Events::EventBusPolicy');
    expect(policies).toHaveLength(1);
    return policies[0]![1].Properties!.Statement as unknown as Statement;
  }

  it.each([
    [
      'key-issuer',
      EDGE,
      ['EdgeUpdated', 'RotationFailed', 'EdgeObserved', 'EdgeHealed', 'EdgeHealFailed'],
    ],
    ['edge-updater', API, ['KeyCreated', 'EdgeHealRequested']],
  ] as const)(
    'the %s bus admits only the partner account and the keyrot source',
    (name, partner, types) => {
      expect(busPolicy(templates[name])).toMatchObject({
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${partner}:root` },
        Action: 'events:PutEvents',
        Condition: { StringEquals: { 'events:source': 'keyrot', 'events:detail-type': types } },
      });
    },
  );

  it('single-account mode has no bus policy and forwards nothing', () => {
    // The issuer's cross-account resources exist only under TwoAccounts, which is false when
    // the account ids are equal; the edge-updater's are not in its single-account template.
    const issuer = templates['key-issuer.single-account'] as Template & {
      Parameters: Record<string, { Default: string }>;
    };
    expect(issuer.Parameters.ApiAccountId!.Default).toBe(issuer.Parameters.EdgeAccountId!.Default);
    for (const name of ['key-issuer.single-account', 'edge-updater.single-account'] as const) {
      const crossAccount = [
        ...resourcesOfType(templates[name], 'AWS::Events::EventBusPolicy'),
        ...resourcesOfType(templates[name], 'AWS::Events::Rule').filter(([, r]) =>
          String(r.Properties!.Name).startsWith('keyrot-forward'),
        ),
      ];
      for (const [, resource] of crossAccount) expect(resource.Condition).toBe('TwoAccounts');
    }
  });

  it('two-account mode has the issuer bus policy, its condition true as the ids differ', () => {
    const issuer = templates['key-issuer'] as Template & {
      Parameters: Record<string, { Default: string }>;
    };
    expect(issuer.Parameters.ApiAccountId!.Default).not.toBe(
      issuer.Parameters.EdgeAccountId!.Default,
    );
    expect(resourcesOfType(issuer, 'AWS::Events::EventBusPolicy')).toHaveLength(1);
  });

  it('the KMS key lets the issuer role (and the drift guard’s checkDrift) only encrypt and the edge-updater only decrypt', () => {
    const key = {
      Properties: onlyResource<{
        KeyPolicy: { Statement: Statement[] };
        EnableKeyRotation: boolean;
      }>(templates['edge-updater'], 'AWS::KMS::Key'),
    };
    expect(key.Properties.EnableKeyRotation).toBe(true);
    const bySid = Object.fromEntries(key.Properties.KeyPolicy.Statement.map((s) => [s.Sid, s]));
    expect(bySid.IssuerMayOnlyEncrypt).toMatchObject({
      Principal: { AWS: `arn:aws:iam::${API}:root` },
      Action: 'kms:Encrypt',
      Condition: {
        ArnEquals: {
          'aws:PrincipalArn': [
            `arn:aws:iam::${API}:role/keyrot-key-issuer-dev-us-east-1`,
            `arn:aws:iam::${API}:role/keyrot-key-reaper-dev-us-east-1-checkDrift`,
          ],
        },
        Null: { 'kms:EncryptionContext:keyrot:rotationId': 'false' },
      },
    });
    expect(bySid.EdgeUpdaterMayOnlyDecrypt).toMatchObject({
      Action: 'kms:Decrypt',
      Condition: {
        ArnEquals: {
          'aws:PrincipalArn': `arn:aws:iam::${EDGE}:role/keyrot-edge-updater-dev-us-east-1`,
        },
      },
    });
    const grants = key.Properties.KeyPolicy.Statement.flatMap((s) => asList(s.Action));
    expect(grants).not.toContain('kms:*');
    // Every other use of the key goes through Secrets Manager (the current-key references).
    const viaSecretsManager = key.Properties.KeyPolicy.Statement.filter(
      (s) =>
        s.Condition?.StringEquals?.['kms:ViaService'] === 'secretsmanager.us-east-1.amazonaws.com',
    );
    expect(viaSecretsManager.map((s) => s.Sid)).toEqual([
      'EdgeUpdaterMayEncryptCurrentKeys',
      'DeployersMayReadCurrentKeys',
    ]);
    const sealing = key.Properties.KeyPolicy.Statement.filter(
      (s) => !viaSecretsManager.includes(s),
    );
    expect(
      sealing
        .flatMap((s) => asList(s.Action))
        .filter((a) => a === 'kms:Encrypt' || a === 'kms:Decrypt' || a.startsWith('kms:Generate')),
    ).toHaveLength(2);
  });
});

describe('the API account resources', () => {
  const issuer = templates['key-issuer'];

  it('declares the ledger table with the keys the code uses, on demand, PITR, protected', () => {
    const table = { Properties: onlyResource(issuer, 'AWS::DynamoDB::Table') };
    const definition = ledgerTableDefinition('keyrot-ledger');
    expect(table.Properties).toMatchObject({
      TableName: 'keyrot-ledger',
      BillingMode: 'PAY_PER_REQUEST',
      DeletionProtectionEnabled: true,
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      KeySchema: definition.KeySchema,
      AttributeDefinitions: definition.AttributeDefinitions,
      GlobalSecondaryIndexes: definition.GlobalSecondaryIndexes,
    });
  });

  it('schedules the seed input monthly onto the keyrot bus', () => {
    const schedule = { Properties: onlyResource(issuer, 'AWS::Scheduler::Schedule') };
    expect(schedule.Properties).toMatchObject({
      ScheduleExpression: 'cron(0 0 1 * ? *)',
      State: 'ENABLED',
      Target: {
        Arn: { 'Fn::GetAtt': ['KeyrotBus', 'Arn'] },
        EventBridgeParameters: { Source: 'keyrot', DetailType: 'KeyRotationRequested' },
      },
    });
    const input = JSON.parse((schedule.Properties.Target as { Input: string }).Input) as object;
    expect(Object.keys(input).sort()).toEqual([
      'API_KEY_NAME',
      'DISTRIBUTION_ID',
      'ORIGIN_ID',
      'USAGE_PLAN_ID',
    ]);
  });
});

describe('the protected API example', () => {
  const example = loadTemplate('example-protected-api');

  it('requires an API key on its method, and CloudFront sends one to api-gateway-origin', () => {
    expect(onlyResource(example, 'AWS::ApiGateway::Method')).toMatchObject({
      ApiKeyRequired: true,
    });
    const distribution = onlyResource<{ DistributionConfig: { Origins: Record<string, Json>[] } }>(
      example,
      'AWS::CloudFront::Distribution',
    );
    const origins = distribution.DistributionConfig.Origins;
    expect(origins).toEqual([
      expect.objectContaining({
        Id: 'api-gateway-origin',
        OriginCustomHeaders: [expect.objectContaining({ HeaderName: 'x-api-key' })],
      }),
    ]);
    expect(resourcesOfType(example, 'AWS::ApiGateway::UsagePlanKey')).toHaveLength(1);
  });

  it('outputs what keyrot needs', () => {
    expect(Object.keys(example.Outputs ?? {})).toEqual(
      expect.arrayContaining(['USAGEPLANID', 'DISTRIBUTIONID', 'ORIGINID']),
    );
  });

  /** The x-api-key header the distribution sends, as CloudFormation resolves it. */
  function headerValue(firstDeploy: 'true' | 'false' | 'as packaged'): Json {
    const { Parameters, Conditions } = example as unknown as {
      Parameters: Record<string, { Default: string; AllowedValues: string[] }>;
      Conditions: Record<string, Json>;
    };
    const value = firstDeploy === 'as packaged' ? Parameters.FirstDeploy!.Default : firstDeploy;
    expect(Parameters.FirstDeploy!.AllowedValues).toContain(value);
    // The condition is the parameter's value being 'true', and nothing else.
    expect(Conditions).toEqual({ FirstDeploy: { 'Fn::Equals': [{ Ref: 'FirstDeploy' }, 'true'] } });
    const distribution = onlyResource<{
      DistributionConfig: { Origins: { OriginCustomHeaders: { HeaderValue: Json }[] }[] };
    }>(example, 'AWS::CloudFront::Distribution');
    const header = distribution.DistributionConfig.Origins[0]!.OriginCustomHeaders[0]!.HeaderValue;
    const [condition, whenTrue, whenFalse] = (header as { 'Fn::If': [string, Json, Json] })[
      'Fn::If'
    ];
    expect(condition).toBe('FirstDeploy');
    return value === 'true' ? whenTrue : whenFalse;
  }

  it('sends keyrot’s current key by default, so a redeploy never sends a deleted key', () => {
    // The default deploy (as `npm run package` packages it) and an explicit firstDeploy=false.
    for (const firstDeploy of ['as packaged', 'false'] as const) {
      expect(headerValue(firstDeploy)).toBe(
        '{{resolve:secretsmanager:keyrot/prod/kloudpepper-api-key/current-key:SecretString}}',
      );
    }
    // The name is keyrot's own (the example target of keyrot.targets.yml, stage prod).
    expect(currentKeySecretName('prod', 'kloudpepper-api-key')).toBe(
      'keyrot/prod/kloudpepper-api-key/current-key',
    );
  });

  it('sends its own first key only on the first deploy (firstDeploy=true)', () => {
    expect(headerValue('true')).toEqual({
      'Fn::Sub': '{{resolve:secretsmanager:${InitialKeySecret}:SecretString}}',
    });
  });

  it('never replaces or deletes the first key keyrot takes over', () => {
    const retained = Object.entries(example.Resources)
      .filter(([, r]) => r.DeletionPolicy === 'Retain' && r.UpdateReplacePolicy === 'Retain')
      .map(([id]) => id);
    expect(retained.sort()).toEqual(['InitialKey', 'InitialKeyOnPlan', 'InitialKeySecret']);
  });
});

describe('the current-key references (edge-updater)', () => {
  const edge = loadTemplate('edge-updater');

  it('creates one empty secret per target, encrypted with keyrot’s edge key, and outputs it', () => {
    const secrets = resourcesOfType(edge, 'AWS::SecretsManager::Secret');
    expect(secrets.map(([id, r]) => [id, r.Properties])).toEqual([
      [
        'CurrentKeySecretKloudpepperApiKey',
        {
          Name: 'keyrot/dev/kloudpepper-api-key/current-key',
          Description: expect.any(String),
          KmsKeyId: { 'Fn::GetAtt': ['EdgeKey', 'Arn'] },
        },
      ],
    ]);
    expect(edge.Outputs?.CurrentKeySecretKloudpepperApiKey).toMatchObject({
      Value: { Ref: 'CurrentKeySecretKloudpepperApiKey' },
    });
  });

  it('lets only updateEdge write them, and deployers read them only through Secrets Manager', () => {
    const statements = (
      edge.Resources.EdgeKey!.Properties!.KeyPolicy as unknown as { Statement: Statement[] }
    ).Statement;
    const bySid = (sid: string) => statements.find((s) => s.Sid === sid);
    expect(bySid('EdgeUpdaterMayEncryptCurrentKeys')).toMatchObject({
      Action: 'kms:GenerateDataKey',
      Condition: {
        ArnEquals: {
          'aws:PrincipalArn': 'arn:aws:iam::222222222222:role/keyrot-edge-updater-dev-us-east-1',
        },
        StringEquals: { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' },
      },
    });
    expect(bySid('DeployersMayReadCurrentKeys')).toMatchObject({
      Action: 'kms:Decrypt',
      Condition: {
        StringEquals: {
          'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com',
          'kms:CallerAccount': '222222222222',
        },
        StringLike: {
          'kms:EncryptionContext:SecretARN':
            'arn:aws:secretsmanager:us-east-1:222222222222:secret:keyrot/dev/*',
        },
      },
    });
    const secretGrants = roleStatements(edge).filter(({ statement }) =>
      asList(statement.Action).some((a) => a.startsWith('secretsmanager:')),
    );
    expect(secretGrants.map(({ role }) => role)).toEqual(['UpdateEdgeRole']);
    expect(secretGrants[0]!.statement.Resource).toEqual([
      'arn:aws:secretsmanager:us-east-1:222222222222:secret:keyrot/dev/kloudpepper-api-key/current-key-??????',
    ]);
  });
});

describe('alarms and notifications', () => {
  /** Alarm name → its properties, for a template. */
  function alarms(template: Template) {
    return Object.fromEntries(
      resourcesOfType(template, 'AWS::CloudWatch::Alarm').map(([id, alarm]) => [
        id,
        alarm.Properties!,
      ]),
    );
  }
  const notifies = (alarm: Record<string, Json>, side: 'api' | 'edge') => {
    const actions = JSON.stringify(alarm.AlarmActions);
    return (
      actions === JSON.stringify([{ Ref: 'AlarmTopic' }]) ||
      actions.includes(`keyrot-${side}-alarms-`)
    );
  };

  it.each([
    // One of each rotation alarm per target of keyrot.targets.yml (the seed's one here).
    ['key-issuer', 'api', ['DeadLetterQueueAlarm', 'IssueFailedAlarmKloudpepperApiKey']],
    [
      'key-reaper',
      'api',
      [
        'DeadLetterQueueAlarm',
        'KeyTooOldAlarmKloudpepperApiKey',
        'RotationFailedAlarmKloudpepperApiKey',
        'RotationStuckAlarmKloudpepperApiKey',
        // The drift guard's (driftGuard is on by default).
        'EdgeDriftAlarmKloudpepperApiKey',
      ],
    ],
    ['edge-updater', 'edge', ['DeadLetterQueueAlarm', 'EdgeFailedAlarmKloudpepperApiKey']],
  ] as const)('%s has its alarms, each notifying the %s topic', (name, side, expected) => {
    const found = alarms(templates[name]);
    expect(Object.keys(found).sort()).toEqual([...expected].sort());
    for (const alarm of Object.values(found)) expect(notifies(alarm, side)).toBe(true);
  });

  it("alarms at the target's key-age policy (32 days by default), treating a silent check as breaching", () => {
    expect(alarms(templates['key-reaper']).KeyTooOldAlarmKloudpepperApiKey).toMatchObject({
      MetricName: 'KeyAgeDays',
      Dimensions: [
        { Name: 'service', Value: 'key-reaper' },
        { Name: 'target', Value: 'kloudpepper-api-key' },
      ],
      Threshold: 32,
      TreatMissingData: 'breaching',
    });
  });

  it.each(['key-issuer', 'edge-updater'] as const)(
    '%s creates the topic, encrypted, with an optional e-mail subscription',
    (name) => {
      expect(onlyResource(templates[name], 'AWS::SNS::Topic')).toMatchObject({
        KmsMasterKeyId: 'alias/aws/sns',
      });
      const subscriptions = resourcesOfType(templates[name], 'AWS::SNS::Subscription');
      expect(subscriptions.map(([, s]) => s.Condition)).toEqual(['HasAlarmEmail']);
    },
  );
});
