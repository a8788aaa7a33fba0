/**
 * keyrot's real IAM documents, read from the services' serverless.yml and resources/*.yml
 * (stage prod, the files' default parameters) and, for the function roles, built from a
 * targets manifest by services/manifest/stacks.ts exactly as `serverless package` builds
 * them, with the few `Ref`/`Fn::GetAtt`/`Fn::Sub` they use resolved to the ARNs the stacks
 * create. An intrinsic this file does not know throws, so the tests follow the templates
 * rather than a copy of them.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseTargetsManifest, type TargetsManifest } from '@keyrot/shared';
import { parse } from 'yaml';
import {
  FUNCTIONS,
  functionRoles,
  roleLogicalId,
  roleName,
  type StackParams,
} from '../../../services/manifest/stacks';
import type { PolicyDocument, PolicyStatement, PrincipalPolicies } from '../../iam/simulate';

export const API = '111111111111';
export const EDGE = '222222222222';
export const REGION = 'us-east-1';
export const STAGE = 'prod';

const ROOT = path.resolve(__dirname, '../../..');

export const ARNS = {
  issuerRole: `arn:aws:iam::${API}:role/keyrot-key-issuer-${STAGE}-${REGION}`,
  reaperRole: `arn:aws:iam::${API}:role/keyrot-key-reaper-${STAGE}-${REGION}-retireKeys`,
  monitorRole: `arn:aws:iam::${API}:role/keyrot-key-reaper-${STAGE}-${REGION}-checkRotations`,
  driftRole: `arn:aws:iam::${API}:role/keyrot-key-reaper-${STAGE}-${REGION}-checkDrift`,
  checkEdgeRole: `arn:aws:iam::${EDGE}:role/keyrot-edge-updater-${STAGE}-${REGION}-checkEdge`,
  awaitDeploymentRole: `arn:aws:iam::${EDGE}:role/keyrot-edge-updater-${STAGE}-${REGION}-awaitDeployment`,
  edgeUpdaterRole: `arn:aws:iam::${EDGE}:role/keyrot-edge-updater-${STAGE}-${REGION}`,
  deployCheckRole: `arn:aws:iam::${EDGE}:role/keyrot-edge-updater-${STAGE}-DeployCheckSchedulerRole`,
  edgeForwardRole: `arn:aws:iam::${EDGE}:role/keyrot-edge-updater-${STAGE}-ForwardRole`,
  apiForwardRole: `arn:aws:iam::${API}:role/keyrot-key-issuer-${STAGE}-ForwardRole`,
  apiSchedulerRole: `arn:aws:iam::${API}:role/keyrot-key-issuer-${STAGE}-SchedulerRole`,
  table: `arn:aws:dynamodb:${REGION}:${API}:table/keyrot-ledger`,
  apiBus: `arn:aws:events:${REGION}:${API}:event-bus/keyrot`,
  edgeBus: `arn:aws:events:${REGION}:${EDGE}:event-bus/keyrot`,
  /** key-issuer's default `edgeKmsKeyArn` parameter: the edge stack's EdgeKey. */
  edgeKey: `arn:aws:kms:${REGION}:${EDGE}:key/00000000-0000-0000-0000-000000000000`,
  edgeDlq: `arn:aws:sqs:${REGION}:${EDGE}:keyrot-edge-updater-${STAGE}-dlq`,
  apiDlq: `arn:aws:sqs:${REGION}:${API}:keyrot-key-issuer-${STAGE}-dlq`,
  reaperDlq: `arn:aws:sqs:${REGION}:${API}:keyrot-key-reaper-${STAGE}-dlq`,
  distribution: `arn:aws:cloudfront::${EDGE}:distribution/E1MTSB8DGIOBI2`,
  checkGroup: `keyrot-deploy-checks-${STAGE}`,
} as const;

type Service = 'key-issuer' | 'edge-updater' | 'key-reaper';

/** What `Ref`, `Fn::GetAtt` and pseudo parameters resolve to in each service's stack. */
const STACKS: Record<
  Service,
  { account: string; refs: Record<string, string>; atts: Record<string, string> }
> = {
  'key-issuer': {
    account: API,
    refs: { KeyrotBus: 'keyrot', 'AWS::AccountId': API, DeadLetterQueue: 'api-dlq-url' },
    atts: {
      'LedgerTable.Arn': ARNS.table,
      'KeyrotBus.Arn': ARNS.apiBus,
      'SchedulerRole.Arn': ARNS.apiSchedulerRole,
      'ForwardRole.Arn': ARNS.apiForwardRole,
      'DeadLetterQueue.Arn': ARNS.apiDlq,
    },
  },
  'edge-updater': {
    account: EDGE,
    refs: {
      'AWS::AccountId': EDGE,
      DeployCheckScheduleGroup: ARNS.checkGroup,
      DeadLetterQueue: 'edge-dlq-url',
    },
    atts: {
      'EdgeKey.Arn': ARNS.edgeKey,
      'DeployCheckSchedulerRole.Arn': ARNS.deployCheckRole,
      'ForwardRole.Arn': ARNS.edgeForwardRole,
      'DeadLetterQueue.Arn': ARNS.edgeDlq,
    },
  },
  'key-reaper': {
    account: API,
    refs: { 'AWS::AccountId': API },
    atts: { 'DeadLetterQueue.Arn': ARNS.reaperDlq },
  },
};

interface ServerlessFile {
  service: string;
  params: { default: Record<string, string | number> };
  custom?: { keyrot?: { side?: string } };
}

const read = (file: string): unknown => parse(readFileSync(path.join(ROOT, file), 'utf8'));
const serverless = (service: Service) =>
  read(`services/${service}/serverless.yml`) as ServerlessFile;

function resolver(service: Service) {
  const file = serverless(service);
  const stack = STACKS[service];
  const variables: Record<string, string> = {
    'sls:stage': STAGE,
    'self:service': file.service,
    'self:custom.keyrot.side': file.custom?.keyrot?.side ?? '',
    ...Object.fromEntries(
      Object.entries(file.params.default).map(([k, v]) => [`param:${k}`, String(v)]),
    ),
  };
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::Region': REGION,
    'AWS::AccountId': stack.account,
  };
  const resolve = (node: unknown): unknown => {
    if (typeof node === 'string') {
      return node.replace(/\$\{((?:param|sls|self):[^}]+)\}/g, (whole, name: string) => {
        const value = variables[name];
        if (value === undefined) throw new Error(`${service}: no value for ${whole}`);
        return value;
      });
    }
    if (Array.isArray(node)) return node.map(resolve);
    if (typeof node !== 'object' || node === null) return node;
    const entries = Object.entries(node);
    const [first] = entries;
    if (entries.length === 1 && first) {
      const [key, value] = first;
      if (key === 'Ref') return known(stack.refs, String(value), 'Ref');
      if (key === 'Fn::GetAtt') {
        return known(stack.atts, (value as string[]).join('.'), 'Fn::GetAtt');
      }
      if (key === 'Fn::Sub') {
        return String(resolve(value)).replace(/\$\{([^}]+)\}/g, (_, name: string) =>
          known(pseudo, name, 'Fn::Sub'),
        );
      }
      if (key.startsWith('Fn::')) throw new Error(`${service}: ${key} is not resolved here`);
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v)]));
  };
  const known = (table: Record<string, string>, name: string, what: string) => {
    const value = table[name];
    if (value === undefined) throw new Error(`${service}: ${what} ${name} is not resolved here`);
    return value;
  };
  return { file, resolve };
}

/** A CloudFormation resource's Properties from one of the service's resource files. */
function resourceProperties(service: Service, file: string, logicalId: string) {
  const { resolve } = resolver(service);
  const doc = read(file) as { Resources: Record<string, { Properties: unknown }> };
  const resource = doc.Resources[logicalId];
  if (!resource) throw new Error(`${file}: no resource ${logicalId}`);
  return resolve(resource.Properties) as Record<string, unknown>;
}

/** The repository's own keyrot.targets.yml. */
export function repositoryManifest(): TargetsManifest {
  return parseTargetsManifest(read('keyrot.targets.yml'));
}

/**
 * The 3-target fleet of the IAM simulation: two targets on one distribution (different
 * origins, different plans), and one on another plan and another distribution.
 */
export const FLEET = parseTargetsManifest({
  targets: [
    {
      API_KEY_NAME: 'kloudpepper-api-key',
      USAGE_PLAN_ID: '0aj0l3',
      DISTRIBUTION_ID: 'E1MTSB8DGIOBI2',
      ORIGIN_ID: 'api-gateway-origin',
    },
    {
      name: 'kloudpepper-admin',
      apiKeyName: 'kloudpepper-admin-key',
      usagePlanId: '9adm1n',
      distributionId: 'E1MTSB8DGIOBI2',
      originId: 'admin-api-origin',
      schedule: 'cron(0 3 15 * ? *)',
    },
    {
      name: 'shop-api',
      apiKeyName: 'shop-api-key',
      usagePlanId: '7xq2mm',
      distributionId: 'E2SHOP0000001',
      originId: 'shop-origin',
      healthCheckUrl: 'https://shop.example.com/prod/health',
    },
  ],
});

/** A usage plan, a distribution and a target name no manifest here names. */
export const FOREIGN = {
  usagePlanId: 'f0r3gn',
  distributionId: 'E9FOREIGN0001',
  targetName: 'someone-else',
} as const;

/** The stack parameters `functionRole` builds with: the serverless.yml defaults, stage prod. */
export function stackParams(service: Service): StackParams {
  const defaults = serverless(service).params.default;
  const text = (name: string) => {
    const value = defaults[name];
    if (value === undefined) throw new Error(`${service}: no default for param ${name}`);
    return String(value);
  };
  return {
    stage: STAGE,
    region: text('region'),
    apiAccountId: text('apiAccountId'),
    edgeAccountId: text('edgeAccountId'),
    busName: text('busName'),
    ledgerTableName: service === 'edge-updater' ? '' : text('ledgerTableName'),
    ...(service !== 'edge-updater' && { edgeKmsKeyArn: text('edgeKmsKeyArn') }),
  };
}

/**
 * The role of function `fn` of a service (default: its first, the rotation step), as
 * `serverless package` builds it from `manifest` (default: the repository's own).
 */
export function functionRole(
  service: Service,
  fn: string = FUNCTIONS[service][0],
  manifest: TargetsManifest = repositoryManifest(),
): PrincipalPolicies {
  const { resolve } = resolver(service);
  const p = stackParams(service);
  const role = functionRoles(service, manifest, p)[roleLogicalId(fn)] as unknown as {
    Properties: {
      AssumeRolePolicyDocument: PolicyDocument;
      Policies: { PolicyName: string; PolicyDocument: PolicyDocument }[];
    };
  };
  const account = service === 'edge-updater' ? p.edgeAccountId : p.apiAccountId;
  return {
    roleArn: `arn:aws:iam::${account}:role/${roleName(service, fn, p)}`,
    trustPolicy: role.Properties.AssumeRolePolicyDocument,
    inlinePolicies: role.Properties.Policies.map((policy) => ({
      name: policy.PolicyName,
      document: resolve(policy.PolicyDocument) as PolicyDocument,
    })),
    managedPolicies: [],
  };
}

/** An `AWS::IAM::Role` of the templates, with its inline policies. */
function templateRole(service: Service, file: string, logicalId: string, roleArn: string) {
  const properties = resourceProperties(service, file, logicalId);
  const policies = properties.Policies as { PolicyName: string; PolicyDocument: PolicyDocument }[];
  return {
    roleArn,
    trustPolicy: properties.AssumeRolePolicyDocument as PolicyDocument,
    inlinePolicies: policies.map((p) => ({ name: p.PolicyName, document: p.PolicyDocument })),
    managedPolicies: [],
  } satisfies PrincipalPolicies;
}

export const deployCheckRole = () =>
  templateRole(
    'edge-updater',
    'services/edge-updater/resources/edge-account.yml',
    'DeployCheckSchedulerRole',
    ARNS.deployCheckRole,
  );

export const edgeForwardRole = () =>
  templateRole(
    'edge-updater',
    'services/edge-updater/resources/two-account.yml',
    'ForwardRole',
    ARNS.edgeForwardRole,
  );

export const apiForwardRole = () =>
  templateRole(
    'key-issuer',
    'services/key-issuer/resources/two-account.yml',
    'ForwardRole',
    ARNS.apiForwardRole,
  );

export const apiSchedulerRole = () =>
  templateRole(
    'key-issuer',
    'services/key-issuer/resources/api-account.yml',
    'SchedulerRole',
    ARNS.apiSchedulerRole,
  );

/** The edge account's EdgeKey key policy. */
export function edgeKeyPolicy(): PolicyDocument {
  return resourceProperties(
    'edge-updater',
    'services/edge-updater/resources/edge-account.yml',
    'EdgeKey',
  ).KeyPolicy as PolicyDocument;
}

/** The bus policy an `AWS::Events::EventBusPolicy` (StatementId + Statement) makes. */
function busPolicy(service: Service, file: string, logicalId: string): PolicyDocument {
  const properties = resourceProperties(service, file, logicalId);
  const statement = properties.Statement as PolicyStatement;
  return {
    Version: '2012-10-17',
    Statement: [{ Sid: String(properties.StatementId), ...statement }],
  };
}

/** The API account bus's policy: the edge account may put EdgeUpdated / RotationFailed. */
export const apiBusPolicy = () =>
  busPolicy('key-issuer', 'services/key-issuer/resources/two-account.yml', 'KeyrotBusPolicy');

/** The edge account bus's policy: the API account may put KeyCreated. */
export const edgeBusPolicy = () =>
  busPolicy('edge-updater', 'services/edge-updater/resources/two-account.yml', 'EdgeBusPolicy');

/** The dead-letter queue's policy (services/resources/dead-letter-queue.yml) in `service`'s stack. */
export function deadLetterQueuePolicy(service: Service): PolicyDocument {
  return resourceProperties(
    service,
    'services/resources/dead-letter-queue.yml',
    'DeadLetterQueuePolicy',
  ).PolicyDocument as PolicyDocument;
}
