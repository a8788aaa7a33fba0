/**
 * What the targets manifest (keyrot.targets.yml) makes of each service's stack: one IAM role
 * per function, scoped to exactly the manifest's usage plans, distributions and target names;
 * the rotation schedules; the per-target alarms; the issuer's per-target readiness URLs and
 * the monitor's target list. `resolver.cjs` hands these to osls as `${file(...)}` variables,
 * and the IAM simulation tests (harness/test/iam) evaluate the same documents, so what is
 * proven is what is deployed.
 *
 * Pure functions of the manifest and the stack's parameters; CloudFormation intrinsics
 * (`Fn::GetAtt`, `Ref`) only for resources of the same stack.
 */
import { createHash } from 'node:crypto';
import { currentKeySecretArnPattern, currentKeySecretName } from '../../shared/src/aws/current-key';
import {
  DEFAULT_ROTATION_SCHEDULE,
  targetOf,
  type ManifestTarget,
  type TargetsManifest,
} from '../../shared/src/manifest';

export type Cfn = null | boolean | number | string | Cfn[] | { [key: string]: Cfn };

/** The parameters of a stack the generated resources use (from serverless.yml's params). */
export interface StackParams {
  readonly stage: string;
  readonly region: string;
  readonly apiAccountId: string;
  readonly edgeAccountId: string;
  readonly busName: string;
  readonly ledgerTableName: string;
  /** key-issuer and key-reaper (checkDrift seals a heal's key). */
  readonly edgeKmsKeyArn?: string;
  /** key-reaper's alarms. */
  readonly maxRotationMinutes?: string;
}

export interface Statement {
  readonly Sid: string;
  readonly Effect: 'Allow';
  readonly Action: string[];
  readonly Resource: Cfn[];
  readonly Condition?: Record<string, Record<string, Cfn>>;
}

/** The tags keyrot puts on the keys it creates (shared/src/aws/key-store.ts, KEY_TAGS). */
export const KEYROT_TAG_KEYS = ['keyrot:managed', 'keyrot:target', 'keyrot:rotation'] as const;

/** The functions of each service, as serverless.yml names them. */
export const FUNCTIONS = {
  'key-issuer': ['issueKey'],
  'edge-updater': ['updateEdge', 'awaitDeployment', 'checkEdge'],
  'key-reaper': ['retireKeys', 'checkRotations', 'checkDrift'],
} as const;
export type Service = keyof typeof FUNCTIONS;

/** A function's role logical id: `issueKey` → `IssueKeyRole`. */
export const roleLogicalId = (fn: string) => `${fn.charAt(0).toUpperCase()}${fn.slice(1)}Role`;

/**
 * A function's role name. The issuer's and updateEdge's are the names the edge account's KMS
 * key policy names (docs/decisions.md, "Naming"); the others follow the same pattern.
 */
export function roleName(service: Service, fn: string, p: StackParams): string {
  const base = `keyrot-${service}-${p.stage}-${p.region}`;
  return fn === 'issueKey' || fn === 'updateEdge' ? base : `${base}-${fn}`;
}

const unique = <T>(values: readonly T[]) => [...new Set(values)];
const apigw = (p: StackParams, path: string) => `arn:aws:apigateway:${p.region}::${path}`;
const names = (m: TargetsManifest) => m.targets.map((t) => t.name);
const plans = (m: TargetsManifest) => unique(m.targets.map((t) => t.usagePlanId));
const distributions = (m: TargetsManifest) => unique(m.targets.map((t) => t.distributionId));
/** The targets whose drift guard is on (`driftGuard`, default true). */
const guarded = (m: TargetsManifest) => m.targets.filter((t) => t.driftGuard);

/**
 * API Gateway's tag-on-create resource for a new API key: `/tags/<URL-encoded ARN of the new
 * key>`, whose id is not known yet and appears as a literal `*`. IAM's `?` matches that one
 * character and no API key id (ten characters), so this grants tagging a key being created,
 * never an existing key or any other resource (REST APIs, stages, usage plans).
 */
export function newKeyTagsResource(p: StackParams): string {
  const newKey = encodeURIComponent(`arn:aws:apigateway:${p.region}::/apikeys/`);
  return apigw(p, `/tags/${newKey}?`);
}

/** Only keyrot's tags, keyrot:managed=true, and a target of the manifest. */
function keyrotTagsOnly(m: TargetsManifest): Record<string, Record<string, Cfn>> {
  return {
    StringEquals: {
      'aws:RequestTag/keyrot:managed': 'true',
      'aws:RequestTag/keyrot:target': names(m),
    },
    'ForAllValues:StringEquals': { 'aws:TagKeys': [...KEYROT_TAG_KEYS] },
  };
}

const logGroupArn = (service: Service, fn: string, account: string, p: StackParams) =>
  `arn:aws:logs:${p.region}:${account}:log-group:/aws/lambda/keyrot-${service}-${p.stage}-${fn}:*`;

/** Every function: its own log group, and its failures to the service's dead-letter queue. */
function plumbing(service: Service, fn: string, account: string, p: StackParams): Statement[] {
  return [
    {
      Sid: 'WriteOwnLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: [logGroupArn(service, fn, account, p)],
    },
    {
      Sid: 'FailuresToDeadLetterQueue',
      Effect: 'Allow',
      Action: ['sqs:SendMessage'],
      Resource: [{ 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] }],
    },
  ];
}

const ledgerArn = (p: StackParams) =>
  `arn:aws:dynamodb:${p.region}:${p.apiAccountId}:table/${p.ledgerTableName}`;

/** The statements of one function's role (without the log and dead-letter plumbing). */
export function functionStatements(
  service: Service,
  fn: string,
  m: TargetsManifest,
  p: StackParams,
): Statement[] {
  const apiBus = `arn:aws:events:${p.region}:${p.apiAccountId}:event-bus/${p.busName}`;
  const edgeBus = `arn:aws:events:${p.region}:${p.edgeAccountId}:event-bus/${p.busName}`;
  const distributionArns = distributions(m).map(
    (id) => `arn:aws:cloudfront::${p.edgeAccountId}:distribution/${id}`,
  );
  const scheduleChecks: Statement[] = [
    {
      Sid: 'ScheduleDeploymentChecks',
      Effect: 'Allow',
      Action: ['scheduler:CreateSchedule'],
      Resource: [
        `arn:aws:scheduler:${p.region}:${p.edgeAccountId}:schedule/keyrot-deploy-checks-${p.stage}/*`,
      ],
    },
    {
      Sid: 'HandTheCheckRoleToScheduler',
      Effect: 'Allow',
      Action: ['iam:PassRole'],
      Resource: [{ 'Fn::GetAtt': ['DeployCheckSchedulerRole', 'Arn'] }],
      Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    },
    {
      Sid: 'AnnounceOnOwnBus',
      Effect: 'Allow',
      Action: ['events:PutEvents'],
      Resource: [edgeBus],
    },
  ];
  /**
   * A transient failure's later try in the API account: schedules in the retry group only,
   * delivered by the API account's Scheduler role (`schedulerRole`: in the issuer's stack by
   * reference, elsewhere by its fixed name).
   */
  const apiRetries = (schedulerRole: Cfn): Statement[] => [
    {
      Sid: 'ScheduleRetries',
      Effect: 'Allow',
      Action: ['scheduler:CreateSchedule'],
      Resource: [
        `arn:aws:scheduler:${p.region}:${p.apiAccountId}:schedule/keyrot-retries-${p.stage}/*`,
      ],
    },
    {
      Sid: 'HandTheSchedulerRoleToScheduler',
      Effect: 'Allow',
      Action: ['iam:PassRole'],
      Resource: [schedulerRole],
      Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    },
  ];
  const key = `${service}.${fn}`;
  switch (key) {
    case 'key-issuer.issueKey':
      return [
        {
          Sid: 'ListKeysOfThePlans',
          Effect: 'Allow',
          Action: ['apigateway:GET'],
          Resource: [
            ...plans(m).map((id) => apigw(p, `/usageplans/${id}/keys`)),
            apigw(p, '/apikeys'),
            apigw(p, '/apikeys/*'),
          ],
        },
        {
          Sid: 'CreateKeysTaggedForATarget',
          Effect: 'Allow',
          Action: ['apigateway:POST'],
          Resource: [apigw(p, '/apikeys')],
          Condition: keyrotTagsOnly(m),
        },
        {
          Sid: 'TagOnlyKeysBeingCreated',
          Effect: 'Allow',
          Action: ['apigateway:PUT'],
          Resource: [newKeyTagsResource(p)],
          Condition: keyrotTagsOnly(m),
        },
        {
          Sid: 'AddKeysToThePlans',
          Effect: 'Allow',
          Action: ['apigateway:POST'],
          Resource: plans(m).map((id) => apigw(p, `/usageplans/${id}/keys`)),
        },
        {
          Sid: 'RollBackOwnNewKey',
          Effect: 'Allow',
          Action: ['apigateway:DELETE'],
          Resource: [apigw(p, '/apikeys/*')],
          Condition: {
            StringEquals: {
              'aws:ResourceTag/keyrot:managed': 'true',
              'aws:ResourceTag/keyrot:target': names(m),
            },
          },
        },
        {
          Sid: 'SealForTheEdgeAccount',
          Effect: 'Allow',
          Action: ['kms:Encrypt'],
          Resource: [p.edgeKmsKeyArn ?? ''],
          Condition: { Null: { 'kms:EncryptionContext:keyrot:rotationId': 'false' } },
        },
        {
          Sid: 'WriteTheLedger',
          Effect: 'Allow',
          Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:Query'],
          Resource: [{ 'Fn::GetAtt': ['LedgerTable', 'Arn'] }],
        },
        {
          Sid: 'AnnounceOnOwnBus',
          Effect: 'Allow',
          Action: ['events:PutEvents'],
          Resource: [{ 'Fn::GetAtt': ['KeyrotBus', 'Arn'] }],
        },
        ...apiRetries({ 'Fn::GetAtt': ['SchedulerRole', 'Arn'] }),
      ];
    case 'key-reaper.retireKeys':
      return [
        {
          // Keys only: no usage plan, stage or API resource is ever named here.
          // The tags of a superseded key the ledger does not vouch for (retire-keys.ts).
          Sid: 'ReadKeysTags',
          Effect: 'Allow',
          Action: ['apigateway:GET'],
          Resource: [apigw(p, '/apikeys/*')],
        },
        {
          Sid: 'DeleteKeyrotManagedKeys',
          Effect: 'Allow',
          Action: ['apigateway:DELETE'],
          Resource: [apigw(p, '/apikeys/*')],
          Condition: { StringEquals: { 'aws:ResourceTag/keyrot:managed': 'true' } },
        },
        ...apiRetries(`arn:aws:iam::${p.apiAccountId}:role/keyrot-${p.stage}-api-scheduler`),
        {
          Sid: 'WriteTheLedger',
          Effect: 'Allow',
          Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:Query'],
          Resource: [ledgerArn(p), `${ledgerArn(p)}/index/GSI1`],
        },
        {
          Sid: 'AnnounceOnOwnBus',
          Effect: 'Allow',
          Action: ['events:PutEvents'],
          Resource: [apiBus],
        },
      ];
    case 'key-reaper.checkRotations':
      return [
        {
          Sid: 'ReadTheLedger',
          Effect: 'Allow',
          Action: ['dynamodb:GetItem', 'dynamodb:Query'],
          Resource: [ledgerArn(p), `${ledgerArn(p)}/index/GSI1`],
        },
      ];
    case 'edge-updater.updateEdge':
      return [
        {
          // The calls of shared/src/aws/current-key.ts, on the manifest's targets' secrets only.
          Sid: 'SetTheCurrentKeyReferences',
          Effect: 'Allow',
          Action: [
            'secretsmanager:PutSecretValue',
            'secretsmanager:DescribeSecret',
            'secretsmanager:UpdateSecretVersionStage',
          ],
          Resource: currentKeySecretArns(m, p),
        },
        {
          // Secrets Manager encrypts each new version with a data key of keyrot's edge key.
          Sid: 'EncryptTheCurrentKeyReferences',
          Effect: 'Allow',
          Action: ['kms:GenerateDataKey'],
          Resource: [{ 'Fn::GetAtt': ['EdgeKey', 'Arn'] }],
          Condition: {
            StringEquals: { 'kms:ViaService': `secretsmanager.${p.region}.amazonaws.com` },
          },
        },
        {
          Sid: 'ReadAndUpdateTheDistributions',
          Effect: 'Allow',
          Action: [
            'cloudfront:GetDistribution',
            'cloudfront:GetDistributionConfig',
            'cloudfront:UpdateDistribution',
          ],
          Resource: distributionArns,
        },
        {
          Sid: 'OpenSealedKeys',
          Effect: 'Allow',
          Action: ['kms:Decrypt'],
          Resource: [{ 'Fn::GetAtt': ['EdgeKey', 'Arn'] }],
          Condition: { Null: { 'kms:EncryptionContext:keyrot:rotationId': 'false' } },
        },
        ...scheduleChecks,
      ];
    case 'key-reaper.checkDrift': {
      const targets = guarded(m);
      if (targets.length === 0) return [];
      return [
        {
          // The plan's keys (to tell whether the edge's key is live) and one key's value (the
          // current key, to seal for a heal): GetUsagePlanKeys and GetApiKey only.
          Sid: 'ReadKeysOfThePlans',
          Effect: 'Allow',
          Action: ['apigateway:GET'],
          Resource: [
            ...unique(targets.map((t) => t.usagePlanId)).map((id) =>
              apigw(p, `/usageplans/${id}/keys`),
            ),
            apigw(p, '/apikeys/*'),
          ],
        },
        {
          Sid: 'SealForTheEdgeAccount',
          Effect: 'Allow',
          Action: ['kms:Encrypt'],
          Resource: [p.edgeKmsKeyArn ?? ''],
          Condition: { Null: { 'kms:EncryptionContext:keyrot:rotationId': 'false' } },
        },
        {
          Sid: 'RecordDrift',
          Effect: 'Allow',
          Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'],
          Resource: [ledgerArn(p), `${ledgerArn(p)}/index/GSI1`],
        },
        {
          Sid: 'AnnounceOnOwnBus',
          Effect: 'Allow',
          Action: ['events:PutEvents'],
          Resource: [apiBus],
        },
      ];
    }
    case 'edge-updater.checkEdge': {
      const targets = guarded(m);
      if (targets.length === 0) return [];
      return [
        {
          // Reads only: checkEdge never writes a distribution (a heal is updateEdge's).
          Sid: 'ReadTheGuardedDistributions',
          Effect: 'Allow',
          Action: ['cloudfront:GetDistributionConfig'],
          Resource: unique(targets.map((t) => t.distributionId)).map(
            (id) => `arn:aws:cloudfront::${p.edgeAccountId}:distribution/${id}`,
          ),
        },
        {
          Sid: 'AnnounceOnOwnBus',
          Effect: 'Allow',
          Action: ['events:PutEvents'],
          Resource: [edgeBus],
        },
      ];
    }
    case 'edge-updater.awaitDeployment':
      return [
        {
          Sid: 'ReadTheDistributions',
          Effect: 'Allow',
          Action: ['cloudfront:GetDistribution', 'cloudfront:GetDistributionConfig'],
          Resource: distributionArns,
        },
        ...scheduleChecks,
      ];
    default:
      throw new Error(`no role for ${key}`);
  }
}

/** The ARNs (as IAM matches them) of the manifest's targets' current-key secrets. */
export function currentKeySecretArns(m: TargetsManifest, p: StackParams): string[] {
  return m.targets.map((t) =>
    currentKeySecretArnPattern(p.region, p.edgeAccountId, p.stage, t.name),
  );
}

/**
 * The edge stack's current-key reference of each target (docs/deploy.md, "Reference the current
 * key from your templates"): a secret with no value yet, encrypted with keyrot's edge KMS key,
 * which updateEdge sets to each rotation's new key before the header. Its ARN is an output.
 */
export function currentKeySecrets(
  m: TargetsManifest,
  p: StackParams,
): { Resources: Record<string, Cfn>; Outputs: Record<string, Cfn> } {
  const suffixes = logicalSuffixes(m);
  const Resources: Record<string, Cfn> = {};
  const Outputs: Record<string, Cfn> = {};
  for (const t of m.targets) {
    const id = `CurrentKeySecret${suffixes.get(t.name)}`;
    const name = currentKeySecretName(p.stage, t.name);
    Resources[id] = {
      Type: 'AWS::SecretsManager::Secret',
      Properties: {
        Name: name,
        Description: `keyrot: the API key the distribution of target ${t.name} should send (set by the edge-updater)`,
        KmsKeyId: { 'Fn::GetAtt': ['EdgeKey', 'Arn'] },
      },
    };
    Outputs[id] = {
      Description: `Current-key reference of target ${t.name}: secret ${name}`,
      Value: { Ref: id },
    };
  }
  return { Resources, Outputs };
}

const LAMBDA_TRUST: Cfn = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { Service: ['lambda.amazonaws.com'] },
      Action: ['sts:AssumeRole'],
    },
  ],
};

/** The `AWS::IAM::Role` of each function of the service, by logical id. */
export function functionRoles(
  service: Service,
  m: TargetsManifest,
  p: StackParams,
): Record<string, Cfn> {
  const account = service === 'edge-updater' ? p.edgeAccountId : p.apiAccountId;
  return Object.fromEntries(
    FUNCTIONS[service].map((fn) => [
      roleLogicalId(fn),
      {
        Type: 'AWS::IAM::Role',
        Properties: {
          RoleName: roleName(service, fn, p),
          AssumeRolePolicyDocument: LAMBDA_TRUST,
          Policies: [
            {
              PolicyName: `keyrot-${service}-${p.stage}-${fn}`,
              PolicyDocument: {
                Version: '2012-10-17',
                Statement: [
                  ...functionStatements(service, fn, m, p),
                  ...plumbing(service, fn, account, p),
                ] as unknown as Cfn[],
              },
            },
          ],
        },
      },
    ]),
  );
}

// ---------------------------------------------------------------------------------------
// Schedules, alarms, environment.

/** Target name → a part of a logical id (letters and digits), unique within the manifest. */
export function logicalSuffixes(m: TargetsManifest): Map<string, string> {
  const out = new Map<string, string>();
  const used = new Set<string>();
  for (const { name } of m.targets) {
    const plain = name
      .split(/[^A-Za-z0-9]+/)
      .filter(Boolean)
      .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
      .join('')
      .slice(0, 48);
    const suffix = used.has(plain) || plain === '' ? `${plain}${hash8(name)}` : plain;
    used.add(suffix);
    out.set(name, suffix);
  }
  return out;
}

const hash8 = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 8);

/** The schedule input of one target: the seed's flat form, as the seed's scheduler sent it. */
export function seedInputOf(t: ManifestTarget): Record<string, string> {
  return {
    API_KEY_NAME: t.apiKeyName,
    DISTRIBUTION_ID: t.distributionId,
    ORIGIN_ID: t.originId,
    USAGE_PLAN_ID: t.usagePlanId,
    ...(t.name !== t.apiKeyName && { TARGET_NAME: t.name }),
    ...(t.headerName !== 'x-api-key' && { HEADER_NAME: t.headerName }),
  };
}

/**
 * One schedule per distinct expression, in manifest order: a single target's input is the
 * seed's flat form; several targets go as one `targets` list, which the issuer fans out to
 * one request per target. The first is `RotationSchedule` (`keyrot-<stage>-monthly-rotation`
 * when it is the default monthly one).
 */
export function rotationSchedules(m: TargetsManifest, p: StackParams) {
  const groups = new Map<string, ManifestTarget[]>();
  for (const t of m.targets) groups.set(t.schedule, [...(groups.get(t.schedule) ?? []), t]);
  return [...groups.entries()].map(([expression, targets], i) => ({
    logicalId: i === 0 ? 'RotationSchedule' : `RotationSchedule${i + 1}`,
    name:
      expression === DEFAULT_ROTATION_SCHEDULE
        ? `keyrot-${p.stage}-monthly-rotation`
        : `keyrot-${p.stage}-rotation-${i + 1}`,
    expression,
    input:
      targets.length === 1 && targets[0]
        ? seedInputOf(targets[0])
        : { targets: targets.map(targetOf) },
    targets: targets.map((t) => t.name),
  }));
}

function scheduleResources(m: TargetsManifest, p: StackParams): Record<string, Cfn> {
  return Object.fromEntries(
    rotationSchedules(m, p).map((s) => [
      s.logicalId,
      {
        Type: 'AWS::Scheduler::Schedule',
        Properties: {
          Name: s.name,
          Description: `keyrot rotation of ${s.targets.join(', ')}`.slice(0, 512),
          ScheduleExpression: s.expression,
          FlexibleTimeWindow: { Mode: 'OFF' },
          State: 'ENABLED',
          Target: {
            Arn: { 'Fn::GetAtt': ['KeyrotBus', 'Arn'] },
            RoleArn: { 'Fn::GetAtt': ['SchedulerRole', 'Arn'] },
            EventBridgeParameters: { Source: 'keyrot', DetailType: 'KeyRotationRequested' },
            Input: JSON.stringify(s.input),
            RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 10 },
          },
        },
      },
    ]),
  );
}

interface AlarmSpec {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly metric: string;
  readonly statistic: 'Sum' | 'Maximum';
  readonly period: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm?: number;
  readonly threshold: string | number;
  readonly comparison: string;
  readonly missing: 'notBreaching' | 'breaching';
}

const ALARM_RUNBOOK = 'Runbook docs/operations.md';

function alarmSpecs(service: Service, p: StackParams, target: ManifestTarget): AlarmSpec[] {
  const failed = (id: string, name: string, description: string): AlarmSpec => ({
    id,
    name,
    description,
    metric: 'RotationsFailed',
    statistic: 'Sum',
    period: 300,
    evaluationPeriods: 1,
    threshold: 1,
    comparison: 'GreaterThanOrEqualToThreshold',
    missing: 'notBreaching',
  });
  switch (service) {
    case 'key-issuer':
      return [
        failed(
          'IssueFailedAlarm',
          'rotation-failed-issuing',
          `A keyrot rotation failed in the API account; the old key is still live. ${ALARM_RUNBOOK}#rotationfailed`,
        ),
      ];
    case 'edge-updater':
      return [
        failed(
          'EdgeFailedAlarm',
          'rotation-failed-at-edge',
          `The edge-updater could not put the new key on the distribution; the old key is still live. ${ALARM_RUNBOOK}#rotationfailed`,
        ),
      ];
    case 'key-reaper':
      return [
        failed(
          'RotationFailedAlarm',
          'rotation-failed',
          `A keyrot rotation was closed as failed (edge or retire stage); the old key is still live. ${ALARM_RUNBOOK}#rotationfailed`,
        ),
        {
          id: 'RotationStuckAlarm',
          name: 'rotation-in-flight-too-long',
          description: `A keyrot rotation has held its target's lock longer than ${p.maxRotationMinutes} minutes. ${ALARM_RUNBOOK}#rotationstuck`,
          metric: 'RotationInFlightMinutes',
          statistic: 'Maximum',
          period: 3600,
          evaluationPeriods: 1,
          threshold: p.maxRotationMinutes ?? '120',
          comparison: 'GreaterThanThreshold',
          missing: 'notBreaching',
        },
        {
          id: 'KeyTooOldAlarm',
          name: 'key-older-than-policy',
          description: `The key CloudFront sends is older than ${target.keyAgePolicyDays} days (its policy), or the hourly check stopped reporting. ${ALARM_RUNBOOK}#keytooold`,
          metric: 'KeyAgeDays',
          statistic: 'Maximum',
          period: 3600,
          evaluationPeriods: 3,
          datapointsToAlarm: 3,
          threshold: target.keyAgePolicyDays,
          comparison: 'GreaterThanThreshold',
          // No data means the check (or its schedule) is broken: that must page too.
          missing: 'breaching',
        },
        ...(target.driftGuard
          ? [
              {
                id: 'EdgeDriftAlarm',
                name: 'edge-drift',
                description: `The edge sends a key that is not the current one (someone else changed the distribution); keyrot healed it if that key was not live. ${ALARM_RUNBOOK}#edgedrift`,
                metric: 'EdgeDrift',
                statistic: 'Sum',
                period: 300,
                evaluationPeriods: 1,
                threshold: 1,
                comparison: 'GreaterThanOrEqualToThreshold',
                missing: 'notBreaching',
              } satisfies AlarmSpec,
            ]
          : []),
      ];
  }
}

/** Each alarm of the service once per target, its metric's `target` dimension the target's name. */
export function alarmResources(
  service: Service,
  m: TargetsManifest,
  p: StackParams,
): Record<string, Cfn> {
  const suffixes = logicalSuffixes(m);
  const actions: Cfn =
    service === 'key-reaper'
      ? [
          {
            'Fn::Sub': `arn:\${AWS::Partition}:sns:\${AWS::Region}:\${AWS::AccountId}:keyrot-api-alarms-${p.stage}`,
          },
        ]
      : [{ Ref: 'AlarmTopic' }];
  const out: Record<string, Cfn> = {};
  for (const target of m.targets) {
    for (const a of alarmSpecs(service, p, target)) {
      out[`${a.id}${suffixes.get(target.name)}`] = {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: {
          AlarmName: `keyrot-${p.stage}-${a.name}-${target.name}`,
          AlarmDescription: `${target.name}: ${a.description}`,
          Namespace: 'keyrot',
          MetricName: a.metric,
          Dimensions: [
            { Name: 'service', Value: service },
            { Name: 'target', Value: target.name },
          ],
          Statistic: a.statistic,
          Period: a.period,
          EvaluationPeriods: a.evaluationPeriods,
          ...(a.datapointsToAlarm !== undefined && { DatapointsToAlarm: a.datapointsToAlarm }),
          Threshold: a.threshold,
          ComparisonOperator: a.comparison,
          TreatMissingData: a.missing,
          AlarmActions: actions,
        },
      };
    }
  }
  return out;
}

/**
 * The pattern of the drift guard's CloudTrail rule: CloudTrail's record of an
 * `UpdateDistribution` of a driftGuard target's distribution, as CloudTrail delivers it to
 * the edge account's default bus in us-east-1 (CloudFront is a global service whose API
 * calls are recorded there). Undefined when no target has the guard on: no rule.
 */
export function cloudTrailPattern(m: TargetsManifest): Record<string, Cfn> | undefined {
  const ids = unique(guarded(m).map((t) => t.distributionId));
  if (ids.length === 0) return undefined;
  return {
    source: ['aws.cloudfront'],
    'detail-type': ['AWS API Call via CloudTrail'],
    detail: {
      eventSource: ['cloudfront.amazonaws.com'],
      eventName: ['UpdateDistribution'],
      requestParameters: { id: ids },
    },
  };
}

/** The CloudTrail rule to checkEdge and its permission to invoke it (edge-updater). */
function driftGuardResources(m: TargetsManifest, p: StackParams): Record<string, Cfn> {
  const pattern = cloudTrailPattern(m);
  if (!pattern) return {};
  const fn: Cfn = { 'Fn::GetAtt': ['CheckEdgeLambdaFunction', 'Arn'] };
  return {
    CheckEdgeCloudTrailRule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        Name: `keyrot-${p.stage}-edge-drift`,
        Description: 'keyrot drift guard: an UpdateDistribution of a driftGuard target',
        EventBusName: 'default',
        EventPattern: pattern,
        State: 'ENABLED',
        Targets: [
          {
            Id: 'check-edge',
            Arn: fn,
            RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 3 },
            // The queue's policy admits this rule by name (resources/dead-letter-queue.yml).
            DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] } },
          },
        ],
      },
    },
    CheckEdgeCloudTrailPermission: {
      Type: 'AWS::Lambda::Permission',
      Properties: {
        FunctionName: fn,
        Action: 'lambda:InvokeFunction',
        Principal: 'events.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': ['CheckEdgeCloudTrailRule', 'Arn'] },
      },
    },
  };
}

/** The resources the manifest adds to a service's stack. */
export function manifestResources(
  service: Service,
  m: TargetsManifest,
  p: StackParams,
): { Resources: Record<string, Cfn>; Outputs?: Record<string, Cfn> } {
  const resources = { ...functionRoles(service, m, p), ...alarmResources(service, m, p) };
  if (service === 'edge-updater') {
    const references = currentKeySecrets(m, p);
    return {
      Resources: { ...resources, ...driftGuardResources(m, p), ...references.Resources },
      Outputs: references.Outputs,
    };
  }
  if (service !== 'key-issuer') return { Resources: resources };
  return {
    Resources: { ...resources, ...scheduleResources(m, p) },
    Outputs: {
      IssuerRoleArn: { Value: { 'Fn::GetAtt': ['IssueKeyRole', 'Arn'] } },
      // The first schedule (group `default`): what to fire to rotate by hand.
      RotationScheduleName: { Value: { Ref: 'RotationSchedule' } },
    },
  };
}

/** The issuer's `HEALTH_CHECK_URLS`: target name → readiness URL, for targets that have one. */
export function healthCheckUrls(m: TargetsManifest): string {
  return JSON.stringify(
    Object.fromEntries(
      m.targets.flatMap((t) => (t.healthCheckUrl ? [[t.name, t.healthCheckUrl]] : [])),
    ),
  );
}

/** The monitor's `TARGET_NAMES`: every target, comma-separated (names hold no comma). */
export const targetNames = (m: TargetsManifest) => names(m).join(',');

/** checkEdge's and checkDrift's `DRIFT_GUARD_TARGETS`: the driftGuard targets, as JSON. */
export const driftGuardTargets = (m: TargetsManifest) => JSON.stringify(guarded(m).map(targetOf));
