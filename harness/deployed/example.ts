/**
 * Deploys the repository's own examples/protected-api onto the local emulator as a user would:
 * `serverless deploy` of the example (with its params) against moto (`AWS_ENDPOINT_URL`), with
 * one account's credentials, the way deploy.ts deploys keyrot's services; then reads back what
 * the stack created (REST API, usage plan, API key, distribution, origin). Test infrastructure
 * only; moto must be started through harness/moto_server.py (the example's resource types and
 * its `{{resolve:secretsmanager:...}}` references come from harness/moto_cloudformation.py).
 *
 * The deploy runs in `.serverless-deploy-example-<stage>/`, from a copy of the example's
 * serverless.yml (osls keeps its scratch `.serverless` there, so the example folder stays as
 * `npm run package` left it). `edit` changes the copy's resources before the deploy, as a user
 * edits their template between deploys (a new Comment, a cache behaviour).
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  CloudFormationClient,
  DescribeStacksCommand,
  ListStackResourcesCommand,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { AccountSession } from '../accounts';
import { clientConfig } from '../accounts';
import { deployFailure, runServerless } from './deploy';

const ROOT = path.resolve(__dirname, '..', '..');
const EXAMPLE_DIR = path.join(ROOT, 'examples', 'protected-api');
const NODE_BIN = path.join(ROOT, 'node_modules', '.bin');
/** How often osls polls the stack while deploying (ms; as deploy.ts). */
const MONITORING_FREQUENCY_MS = '250';

/** One resource of the example's template, as `edit` sees it. */
export interface ExampleResource {
  Type: string;
  Properties?: Record<string, unknown>;
  [attribute: string]: unknown;
}

export interface DeployExampleOptions {
  /** `--stage` (default `prod`, the example's own default). */
  readonly stage?: string;
  /** `--param name=value` for each entry (e.g. `{ firstDeploy: 'true' }`). */
  readonly params?: Readonly<Record<string, string>>;
  /** Changes the copy's `resources.Resources` before the deploy (the example folder is untouched). */
  readonly edit?: (resources: Record<string, ExampleResource>) => void;
  /** One line per step. */
  readonly log?: (line: string) => void;
}

/** What the example's stack created, read back from the stack (ListStackResources, Outputs). */
export interface DeployedExample {
  readonly stackName: string;
  readonly stage: string;
  readonly session: AccountSession;
  readonly restApiId: string;
  readonly usagePlanId: string;
  /**
   * The physical id of the stack's `AWS::ApiGateway::ApiKey` (the example's first key);
   * undefined when the stack holds none (a template that creates it only on a first deploy).
   */
  readonly apiKeyId: string | undefined;
  readonly distributionId: string;
  /** ORIGIN_ID of the stack's outputs (`api-gateway-origin`). */
  readonly originId: string;
  /**
   * The secret (name or ARN) whose value the distribution's `x-api-key` origin header takes, by
   * its `{{resolve:secretsmanager:...}}` reference in the deployed template; undefined when the
   * header holds no such reference.
   */
  readonly headerSecretId: string | undefined;
  /** Physical ids of every resource, by logical id. */
  readonly resources: Readonly<Record<string, string>>;
  readonly outputs: Readonly<Record<string, string>>;
  /** The template osls deployed (.serverless/cloudformation-template-update-stack.json), parsed. */
  readonly template: unknown;
}

/**
 * `serverless deploy` of examples/protected-api into `session`'s account against moto at
 * `session.endpoint`, then the stack read back. A redeploy with the same stage updates the
 * stack (a change set of what changed, as on AWS). Rejects with deploy.ts's `DeployError`
 * (naming the failing resource) when the deploy fails.
 */
export async function deployExample(
  session: AccountSession,
  options: DeployExampleOptions = {},
): Promise<DeployedExample> {
  const stage = options.stage ?? 'prod';
  const log = options.log ?? (() => undefined);
  const stackName = `keyrot-example-protected-api-${stage}`;
  const cwd = exampleWorkspace(stage, options.edit);
  const args = [
    'deploy',
    '--stage',
    stage,
    ...Object.entries(options.params ?? {}).flatMap(([name, value]) => [
      '--param',
      `${name}=${value}`,
    ]),
  ];
  const started = Date.now();
  log(`example: deploying ${stackName} to ${session.accountId}`);
  try {
    await runServerless(cwd, args, envOf(session));
  } catch (error) {
    throw await deployFailure(session, stackName, error);
  }
  const template: unknown = JSON.parse(
    readFileSync(
      path.join(cwd, '.serverless', 'cloudformation-template-update-stack.json'),
      'utf8',
    ),
  );
  const read = await readExampleStack(session, stackName, stage, template);
  log(`example: ${stackName}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return read;
}

/** The example's stack as it is now (ids by resource type, outputs). */
export async function readExampleStack(
  session: AccountSession,
  stackName: string,
  stage: string,
  template: unknown,
): Promise<DeployedExample> {
  const client = new CloudFormationClient(clientConfig(session));
  try {
    const { Stacks = [] } = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    const outputs = Object.fromEntries(
      (Stacks[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']),
    );
    const summaries: StackResourceSummary[] = [];
    let NextToken: string | undefined;
    do {
      const page = await client.send(
        new ListStackResourcesCommand({ StackName: stackName, NextToken }),
      );
      summaries.push(...(page.StackResourceSummaries ?? []));
      NextToken = page.NextToken;
    } while (NextToken);
    const optional = (type: string): string | undefined => {
      const found = summaries.filter((r) => r.ResourceType === type);
      if (found.length > 1) throw new Error(`stack ${stackName}: more than one ${type}`);
      return found[0]?.PhysicalResourceId;
    };
    const only = (type: string): string => {
      const found = summaries.filter((r) => r.ResourceType === type);
      if (found.length !== 1 || !found[0]!.PhysicalResourceId) {
        throw new Error(`stack ${stackName}: expected one ${type}, found ${found.length}`);
      }
      return found[0]!.PhysicalResourceId;
    };
    const originId = outputs.ORIGINID;
    if (!originId) throw new Error(`stack ${stackName} has no output ORIGINID`);
    const resources = Object.fromEntries(
      summaries.map((r) => [r.LogicalResourceId ?? '', r.PhysicalResourceId ?? '']),
    );
    const pseudo = { 'AWS::Region': session.region, 'AWS::AccountId': session.accountId };
    return {
      stackName,
      stage,
      session,
      headerSecretId: headerSecretIdOf(template, originId, { ...pseudo, ...resources }),
      restApiId: only('AWS::ApiGateway::RestApi'),
      usagePlanId: only('AWS::ApiGateway::UsagePlan'),
      apiKeyId: optional('AWS::ApiGateway::ApiKey'),
      distributionId: only('AWS::CloudFront::Distribution'),
      originId,
      resources,
      outputs,
      template,
    };
  } finally {
    client.destroy();
  }
}

/** The header the example's distribution sends the key in. */
const KEY_HEADER = 'x-api-key';

type Expression = unknown;

interface TemplateShape {
  Conditions?: Record<string, Expression>;
  Resources?: Record<
    string,
    {
      Type?: string;
      Properties?: {
        DistributionConfig?: {
          Origins?: {
            Id?: string;
            OriginCustomHeaders?: { HeaderName?: string; HeaderValue?: Expression }[];
          }[];
        };
      };
    }
  >;
}

/**
 * The secret id in the `x-api-key` header's dynamic reference, with `${Name}` (resources and
 * pseudo parameters) substituted by `refs`; an ARN keeps its colons. The header may be a
 * string, `Fn::Sub`, `Fn::Join` or `Fn::If` on a condition of literals (`Fn::Equals`,
 * `Fn::Not`, `Fn::And`, `Fn::Or`: osls has put the params in), as the template's conditions
 * choose.
 */
export function headerSecretIdOf(
  template: unknown,
  originId: string,
  refs: Readonly<Record<string, string>>,
): string | undefined {
  const shape = template as TemplateShape;
  for (const resource of Object.values(shape.Resources ?? {})) {
    if (resource.Type !== 'AWS::CloudFront::Distribution') continue;
    const origin = resource.Properties?.DistributionConfig?.Origins?.find((o) => o.Id === originId);
    const header = origin?.OriginCustomHeaders?.find(
      (h) => h.HeaderName?.toLowerCase() === KEY_HEADER,
    );
    const text = stringOf(header?.HeaderValue, shape.Conditions ?? {}, refs);
    const reference = text && /\{\{resolve:secretsmanager:([^}]+)\}\}/.exec(text)?.[1];
    if (!reference) return undefined;
    const parts = reference.split(':');
    return parts[0] === 'arn' ? parts.slice(0, 7).join(':') : parts[0];
  }
  return undefined;
}

/** A template expression as a string, where it can be worked out without the emulator. */
function stringOf(
  node: Expression,
  conditions: Readonly<Record<string, Expression>>,
  refs: Readonly<Record<string, string>>,
): string | undefined {
  const substitute = (text: string) =>
    text.replace(/\$\{([^}!]+)\}/g, (whole, name: string) => refs[name] ?? whole);
  if (typeof node === 'string') return node;
  if (typeof node !== 'object' || node === null) return undefined;
  const fn = node as Record<string, unknown>;
  if (typeof fn.Ref === 'string') return refs[fn.Ref];
  const sub = fn['Fn::Sub'];
  if (typeof sub === 'string') return substitute(sub);
  if (Array.isArray(sub) && typeof sub[0] === 'string') return substitute(sub[0]);
  const join = fn['Fn::Join'];
  if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
    const parts = (join[1] as Expression[]).map((p) => stringOf(p, conditions, refs));
    return parts.every((p) => p !== undefined) ? parts.join(join[0]) : undefined;
  }
  const branch = fn['Fn::If'];
  if (Array.isArray(branch) && typeof branch[0] === 'string') {
    const holds = conditionHolds(conditions[branch[0]], conditions, refs);
    return holds === undefined
      ? undefined
      : stringOf(holds ? branch[1] : branch[2], conditions, refs);
  }
  return undefined;
}

function conditionHolds(
  node: Expression,
  conditions: Readonly<Record<string, Expression>>,
  refs: Readonly<Record<string, string>>,
): boolean | undefined {
  if (typeof node !== 'object' || node === null) return undefined;
  const fn = node as Record<string, unknown>;
  const list = (name: string): Expression[] | undefined =>
    Array.isArray(fn[name]) ? (fn[name] as Expression[]) : undefined;
  const equals = list('Fn::Equals');
  if (equals) {
    const [a, b] = equals.map((v) =>
      typeof v === 'boolean' ? String(v) : stringOf(v, conditions, refs),
    );
    return a === undefined || b === undefined ? undefined : a === b;
  }
  if (typeof fn.Condition === 'string')
    return conditionHolds(conditions[fn.Condition], conditions, refs);
  const not = list('Fn::Not');
  if (not) {
    const inner = conditionHolds(not[0], conditions, refs);
    return inner === undefined ? undefined : !inner;
  }
  for (const [name, all] of [
    ['Fn::And', true],
    ['Fn::Or', false],
  ] as const) {
    const items = list(name)?.map((c) => conditionHolds(c, conditions, refs));
    if (!items) continue;
    if (items.some((v) => v === undefined)) return undefined;
    return all ? items.every(Boolean) : items.some(Boolean);
  }
  return undefined;
}

/** `.serverless-deploy-example-<stage>/`, holding the (edited) copy of the example's serverless.yml. */
function exampleWorkspace(
  stage: string,
  edit: ((resources: Record<string, ExampleResource>) => void) | undefined,
): string {
  const dir = path.join(ROOT, `.serverless-deploy-example-${stage}`);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'serverless.yml');
  if (!edit) {
    copyFileSync(path.join(EXAMPLE_DIR, 'serverless.yml'), file);
    return dir;
  }
  // `${...}` variables are plain strings to the YAML parser and come back unchanged.
  const config = parseYaml(readFileSync(path.join(EXAMPLE_DIR, 'serverless.yml'), 'utf8')) as {
    resources?: { Resources?: Record<string, ExampleResource> };
  };
  const resources = config.resources?.Resources;
  if (!resources) throw new Error('examples/protected-api/serverless.yml has no resources');
  edit(resources);
  writeFileSync(file, stringifyYaml(config));
  return dir;
}

/** The child's environment: moto as the endpoint, the account's credentials, nothing else. */
function envOf(session: AccountSession): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('AWS_')) env[name] = value;
  }
  const { credentials } = session;
  return {
    ...env,
    PATH: `${NODE_BIN}${path.delimiter}${process.env.PATH ?? ''}`,
    AWS_ENDPOINT_URL: session.endpoint,
    AWS_REGION: session.region,
    AWS_DEFAULT_REGION: session.region,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    ...(credentials.sessionToken ? { AWS_SESSION_TOKEN: credentials.sessionToken } : {}),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    SLS_AWS_MONITORING_FREQUENCY: MONITORING_FREQUENCY_MS,
  };
}
