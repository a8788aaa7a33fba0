/**
 * Deploys keyrot as its users do, onto the local emulator: provisions only the target (REST
 * API, usage plan, keys, distribution: `provisionTarget`), then runs the repository's own
 * `serverless deploy` for each service, in docs/deploy.md's order and with each account's
 * credentials, against moto (`AWS_ENDPOINT_URL`). Test infrastructure only; moto must be started
 * through harness/moto_server.py, whose CloudFormation support (harness/moto_cloudformation.py)
 * these deploys need.
 *
 * The result is a `LocalWorld` built from the stacks' outputs and the target, so
 * harness/inspect.ts reads a rotation back from it as from the in-process world.
 */
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import {
  CloudFormationClient,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  ListStackResourcesCommand,
  type StackEvent,
} from '@aws-sdk/client-cloudformation';
import { SecretValue } from '@keyrot/shared';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { clientConfig, openAccountSession, type AccountSession } from '../accounts';
import { fleetManifestEntries, provisionFleet, type FleetTarget } from './fleet';
import {
  API_ACCOUNT_ID,
  API_KEY_HEADER_NAME,
  EDGE_ACCOUNT_ID,
  INITIAL_KEY_NAME,
  REGION,
  provisionTarget,
  seedScheduleInput,
  type LocalWorld,
  type ProvisionedTarget,
} from '../provision';

export type DeployedService = 'key-issuer' | 'edge-updater' | 'key-reaper';

export interface DeployedStack {
  service: DeployedService;
  accountId: string;
  session: AccountSession;
  stackName: string;
  outputs: Readonly<Record<string, string>>;
  params: Readonly<Record<string, string>>;
  /** the template serverless deployed (.serverless/cloudformation-template-update-stack.json of that deploy), parsed */
  template: unknown;
}

export interface DeployedWorld {
  /** The world of the first (or only) target: the seed's `kloudpepper-api-key`. */
  world: LocalWorld;
  /** Every target of the deployed keyrot.targets.yml, in manifest order (the first is `world`'s). */
  targets: readonly FleetTarget[];
  stacks: readonly DeployedStack[];
  stage: string;
}

export interface DeployLocalOptions {
  /** All three services in 111111111111 (default: API 111111111111, edge 222222222222). */
  singleAccount?: boolean;
  /** Default `local`. */
  stage?: string;
  /**
   * Parameter overrides, given to every service that declares the parameter (in its
   * serverless.yml `params.default`); a name no service declares is an error.
   */
  params?: Partial<Record<string, string>>;
  /** One line per step (packaging, deploying, each stack's summary). */
  log?: (line: string) => void;
  /**
   * Deploy for a fleet of this many targets (1 to 3, harness/deployed/fleet.ts) instead of the
   * seed's one target: each provisioned, all in one keyrot.targets.yml, each first key adopted.
   * The deploy uses its own workspace (`.serverless-deploy-<mode>-fleet`).
   */
  fleet?: number;
}

/** The stage `deployLocal` deploys unless told otherwise. */
export const LOCAL_STAGE = 'local';

/**
 * The parameters that make a rotation complete in seconds on the emulator instead of minutes:
 * no grace period before the old key is deleted (CloudFront's `Deployed` is immediate there),
 * and the edge-updater polls and re-checks the distribution every second. Everything else keeps
 * its serverless.yml default, as a user deploys it.
 */
export const LOCAL_SPEED_PARAMS: Readonly<Record<string, string>> = {
  graceSeconds: '0',
  deployPollSeconds: '1',
  deployRecheckSeconds: '1',
};

/** How often osls polls the stack while deploying (ms; default 5 s: a deploy took ~30 s). */
const MONITORING_FREQUENCY_MS = '250';

/** The placeholder KMS key ARN of the first single-account issuer deploy (docs/deploy.md). */
const PLACEHOLDER_KMS_KEY_ID = '00000000-0000-0000-0000-000000000000';

const ROOT = path.resolve(__dirname, '..', '..');
const NODE_BIN = path.join(ROOT, 'node_modules', '.bin');

/** A failed `serverless deploy`, naming the stack and (from its events) the failing resource. */
export class DeployError extends Error {
  constructor(
    message: string,
    readonly stackName: string,
    readonly failedResource: { logicalId: string; type: string; reason: string } | undefined,
  ) {
    super(message);
    this.name = 'DeployError';
  }
}

/**
 * Provisions the target, deploys edge-updater, key-issuer and key-reaper onto it (two-account
 * mode: edge-updater in 222222222222 first, its `EdgeKmsKeyArn` into key-issuer; single-account
 * mode: docs/deploy.md's order, key-issuer first since it creates the one bus, deployed again
 * once the edge stack's KMS key exists), and returns the stacks and the `LocalWorld` they make.
 */
export async function deployLocal(
  endpoint: string,
  options: DeployLocalOptions = {},
): Promise<DeployedWorld> {
  const singleAccount = options.singleAccount ?? false;
  const stage = options.stage ?? LOCAL_STAGE;
  const log = options.log ?? (() => undefined);
  const mode = singleAccount ? 'single-account' : 'two-account';
  const apiSession = await openAccountSession(endpoint, API_ACCOUNT_ID, REGION);
  const edgeSession = singleAccount
    ? apiSession
    : await openAccountSession(endpoint, EDGE_ACCOUNT_ID, REGION);

  // The target(s) as a user has them: first keys made by hand, untagged (adopted below).
  const { target, targets, workspace } =
    options.fleet === undefined
      ? await singleTarget(apiSession, edgeSession, mode)
      : {
          ...(await provisionFleet(apiSession, edgeSession, options.fleet).then((f) => ({
            target: f.first,
            targets: f.targets,
          }))),
          workspace: `${mode}-fleet`,
        };
  const targetsFile = writeTargetsManifest(
    workspace,
    ...(options.fleet === undefined
      ? [
          {
            API_KEY_NAME: INITIAL_KEY_NAME,
            USAGE_PLAN_ID: target.api.usagePlanId,
            DISTRIBUTION_ID: target.edge.distributionId,
            ORIGIN_ID: target.edge.originId,
          },
        ]
      : fleetManifestEntries(targets)),
  );
  for (const t of targets) {
    log(
      `target ${t.name}: usage plan ${t.usagePlanId} (${API_ACCOUNT_ID}), distribution ${t.distributionId} origin ${t.originId} (${edgeSession.accountId})`,
    );
  }
  const overrides = checkedOverrides(options.params ?? {});
  const base: Record<string, string> = {
    region: apiSession.region,
    apiAccountId: apiSession.accountId,
    edgeAccountId: edgeSession.accountId,
    accountMode: mode,
    ...LOCAL_SPEED_PARAMS,
  };
  const deployer = new ServiceDeployer(
    endpoint,
    stage,
    workspace,
    base,
    overrides,
    log,
    targetsFile,
  );

  let stacks: DeployedStack[];
  if (singleAccount) {
    // docs/deploy.md: the issuer first (it creates the one bus, which the edge-updater's rules
    // use), with a placeholder KMS key ARN; again once the edge stack has created the key.
    const placeholder = `arn:aws:kms:${apiSession.region}:${apiSession.accountId}:key/${PLACEHOLDER_KMS_KEY_ID}`;
    const firstIssuer = await deployer.deploy('key-issuer', apiSession, {
      edgeKmsKeyArn: placeholder,
    });
    const edge = await deployer.deploy('edge-updater', edgeSession, {
      edgeBus: output(firstIssuer, 'KeyrotBusArn'),
    });
    const issuer = await deployer.deploy('key-issuer', apiSession, {
      edgeKmsKeyArn: output(edge, 'EdgeKmsKeyArn'),
    });
    // checkDrift seals a heal's key for the edge as the issuer seals a new one.
    const reaper = await deployer.deploy('key-reaper', apiSession, {
      edgeKmsKeyArn: output(edge, 'EdgeKmsKeyArn'),
    });
    stacks = [edge, issuer, reaper];
  } else {
    const edge = await deployer.deploy('edge-updater', edgeSession, { edgeBus: 'keyrot' });
    const issuer = await deployer.deploy('key-issuer', apiSession, {
      edgeKmsKeyArn: output(edge, 'EdgeKmsKeyArn'),
    });
    const reaper = await deployer.deploy('key-reaper', apiSession, {
      edgeKmsKeyArn: output(edge, 'EdgeKmsKeyArn'),
    });
    stacks = [edge, issuer, reaper];
  }
  const world = worldOf(singleAccount, target, stacks, stage);
  for (const t of targets) await adoptFirstKey(endpoint, world, targetsFile, t, log);
  return { world, targets, stacks, stage };
}

/** The seed's one target, as the single-target deploy has always provisioned it. */
async function singleTarget(
  apiSession: AccountSession,
  edgeSession: AccountSession,
  mode: string,
): Promise<{ target: ProvisionedTarget; targets: FleetTarget[]; workspace: string }> {
  const target = await provisionTarget(apiSession, edgeSession);
  const only: FleetTarget = {
    name: INITIAL_KEY_NAME,
    apiKeyName: INITIAL_KEY_NAME,
    usagePlanId: target.api.usagePlanId,
    distributionId: target.edge.distributionId,
    originId: target.edge.originId,
    headerName: API_KEY_HEADER_NAME,
    restApiId: target.api.restApiId,
    initialKeyId: target.api.initialKeyId,
    otherClientKeyId: target.api.otherClientKeyId,
  };
  return { target, targets: [only], workspace: mode };
}

/**
 * The operator's step before the first rotation (docs/deploy.md, "Adopting the current key"):
 * `keyrot adopt`, run as the CLI runs, with the operator's credentials of both accounts,
 * tags the target's hand-made first key and records ADOPTED. The reaper's role deletes only
 * keys tagged so, so without this the first rotation could not retire it.
 */
async function adoptFirstKey(
  endpoint: string,
  world: LocalWorld,
  targetsFile: string,
  target: Pick<FleetTarget, 'name' | 'initialKeyId'>,
  log: (line: string) => void,
): Promise<void> {
  const dir = path.dirname(targetsFile);
  const credentials = path.join(dir, 'credentials');
  const profile = (name: string, session: AccountSession) =>
    [
      `[${name}]`,
      `aws_access_key_id = ${session.credentials.accessKeyId}`,
      `aws_secret_access_key = ${session.credentials.secretAccessKey}`,
      ...(session.credentials.sessionToken
        ? [`aws_session_token = ${session.credentials.sessionToken}`]
        : []),
      '',
    ].join('\n');
  writeFileSync(
    credentials,
    profile('keyrot-api', world.api.session) + profile('keyrot-edge', world.edge.session),
  );
  const args = [
    path.join(ROOT, 'cli', 'bin', 'keyrot.js'),
    '--endpoint',
    endpoint,
    '--profile',
    'keyrot-api',
    '--edge-profile',
    'keyrot-edge',
    '--table',
    world.api.ledgerTableName,
    '--targets',
    targetsFile,
    'adopt',
    '--target',
    target.name,
    '--key-id',
    target.initialKeyId,
    '--yes',
    // The deployed stage names the current-key secret adopt sets to the first key.
    '--stage',
    world.edge.keyrotStage,
  ];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_REGION: world.api.session.region,
    AWS_SHARED_CREDENTIALS_FILE: credentials,
    AWS_CONFIG_FILE: path.join(dir, 'no-config'),
  };
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, args, { cwd: ROOT, env }, (error, stdout, stderr) => {
      if (error) reject(new Error(`keyrot adopt failed: ${stderr || stdout || error.message}`));
      else resolve(`${stdout}${stderr}`);
    }),
  );
  // Its table's ledger row says what was recorded (its last line is the table's border).
  const lines = out.trim().split('\n');
  const said = lines.find((l) => l.includes('ADOPTED')) ?? lines.at(-1) ?? '';
  log(`keyrot adopt --target ${target.name}: ${said.replace(/[│\s]+/g, ' ').trim()}`);
}

/** The `LocalWorld` of the deployed stacks: names and ARNs from their outputs, plus the target. */
function worldOf(
  singleAccount: boolean,
  target: ProvisionedTarget,
  stacks: readonly DeployedStack[],
  stage: string,
): LocalWorld {
  const edge = stackOf(stacks, 'edge-updater');
  const issuer = stackOf(stacks, 'key-issuer');
  const apiBusArn = output(issuer, 'KeyrotBusArn');
  const edgeBusArn = output(edge, 'EdgeBusArn');
  const api = {
    ...target.api,
    session: issuer.session,
    ledgerTableName: output(issuer, 'LedgerTableName'),
    busName: busNameOf(apiBusArn),
    busArn: apiBusArn,
    // The deployed functions are invoked by their rules; no tap queue is deployed.
    tapQueueUrl: '',
    scheduleName: output(issuer, 'RotationScheduleName'),
    // The template names no group: Scheduler's `default`.
    scheduleGroupName: 'default',
  };
  const edgeSide = {
    ...target.edge,
    session: edge.session,
    busName: busNameOf(edgeBusArn),
    busArn: edgeBusArn,
    kmsKeyArn: output(edge, 'EdgeKmsKeyArn'),
    tapQueueUrl: '',
    deployCheckGroupName: output(edge, 'DeployCheckScheduleGroupName'),
    deployCheckRoleArn: output(edge, 'DeployCheckSchedulerRoleArn'),
    keyrotStage: stage,
  };
  return {
    singleAccount,
    api,
    edge: edgeSide,
    initialKeyValue: new SecretValue(target.api.initialKeyValue),
    scheduleInput: seedScheduleInput(api, edgeSide),
  };
}

/**
 * Runs `serverless deploy` for the services of one mode and stage, each in its own mirror of
 * services/ (see `workspaceOf`).
 */
class ServiceDeployer {
  private readonly declared = new Map<DeployedService, ReadonlySet<string>>();

  constructor(
    private readonly endpoint: string,
    private readonly stage: string,
    /** The workspace's name: the account mode, `-fleet` appended for a fleet deploy. */
    private readonly workspace: string,
    private readonly base: Readonly<Record<string, string>>,
    private readonly overrides: Readonly<Record<string, string>>,
    private readonly log: (line: string) => void,
    /** The targets manifest the stacks are built from (KEYROT_TARGETS_FILE). */
    private readonly targetsFile: string,
  ) {}

  /** `serverless deploy` (packaging included) of one service; reads the stack back. */
  async deploy(
    service: DeployedService,
    session: AccountSession,
    extra: Readonly<Record<string, string>>,
  ): Promise<DeployedStack> {
    const stackName = `keyrot-${service}-${this.stage}`;
    const params = this.paramsFor(service, extra);
    const cwd = workspaceOf(this.workspace, service);
    const args = [
      'deploy',
      '--stage',
      this.stage,
      ...Object.entries(params).flatMap(([name, value]) => ['--param', `${name}=${value}`]),
    ];
    const started = Date.now();
    this.log(`${service}: deploying ${stackName} to ${session.accountId}`);
    try {
      await runServerless(cwd, args, this.env(session));
    } catch (error) {
      throw await deployFailure(session, stackName, error);
    }
    const templateFile = path.join(cwd, '.serverless', 'cloudformation-template-update-stack.json');
    const template: unknown = JSON.parse(readFileSync(templateFile, 'utf8'));
    const { outputs, resourceCount } = await readStack(session, stackName);
    this.log(
      `${service}: ${stackName} in ${session.accountId}: ${seconds(started)} s, ${resourceCount} resources`,
    );
    return { service, accountId: session.accountId, session, stackName, outputs, params, template };
  }

  /** The base, extra and override params that this service's serverless.yml declares. */
  private paramsFor(
    service: DeployedService,
    extra: Readonly<Record<string, string>>,
  ): Record<string, string> {
    const declared = this.declaredParams(service);
    const all = { ...this.base, ...extra, ...this.overrides };
    return Object.fromEntries(Object.entries(all).filter(([name]) => declared.has(name)));
  }

  private declaredParams(service: DeployedService): ReadonlySet<string> {
    let names = this.declared.get(service);
    if (!names) {
      names = declaredParams(service);
      this.declared.set(service, names);
    }
    return names;
  }

  /** The child's environment: moto as the endpoint, the account's credentials, nothing else. */
  private env(session: AccountSession): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [name, value] of Object.entries(process.env)) {
      // No ambient AWS configuration (profiles, other endpoints, other credentials).
      if (!name.startsWith('AWS_')) env[name] = value;
    }
    const { credentials } = session;
    return {
      ...env,
      PATH: `${NODE_BIN}${path.delimiter}${process.env.PATH ?? ''}`,
      AWS_ENDPOINT_URL: this.endpoint,
      AWS_REGION: session.region,
      AWS_DEFAULT_REGION: session.region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      ...(credentials.sessionToken ? { AWS_SESSION_TOKEN: credentials.sessionToken } : {}),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      SLS_AWS_MONITORING_FREQUENCY: MONITORING_FREQUENCY_MS,
      KEYROT_TARGETS_FILE: this.targetsFile,
    };
  }
}

/** The names of a service's `params.default` in its serverless.yml. */
function declaredParams(service: DeployedService): ReadonlySet<string> {
  const file = path.join(ROOT, 'services', service, 'serverless.yml');
  // Only `params` is read; `${...}` variables elsewhere are plain strings to the YAML parser.
  const config = parseYaml(readFileSync(file, 'utf8')) as {
    params?: { default?: Record<string, unknown> };
  };
  return new Set(Object.keys(config.params?.default ?? {}));
}

/** Overrides must name a parameter some service declares (a typo would silently do nothing). */
function checkedOverrides(params: Partial<Record<string, string>>): Record<string, string> {
  const known = new Set(
    (['edge-updater', 'key-issuer', 'key-reaper'] as const).flatMap((s) => [...declaredParams(s)]),
  );
  const entries = Object.entries(params).filter(
    (entry): entry is [string, string] => entry[1] !== undefined,
  );
  const unknown = entries.map(([name]) => name).filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new Error(`deployLocal: no service declares the parameter(s) ${unknown.join(', ')}`);
  }
  return Object.fromEntries(entries);
}

/**
 * The folder `serverless deploy` of a service runs in:
 * `.serverless-deploy-<workspace>/services/<service>` (the workspace is the account mode,
 * `-fleet` appended for a fleet deploy), a mirror of the service: its serverless.yml copied
 * (osls looks for a config file, not a link), its resources and src linked, as are
 * services/esbuild.yml and services/resources. osls uses the service folder's `.serverless`
 * as its scratch space and deletes it whenever `--package` names another folder, and
 * serverless-esbuild builds in its `.esbuild`: deploying from the service folder itself would
 * delete what `npm run package` left in `.serverless` and let two workspaces overwrite each
 * other's build. In the mirror, `.serverless` is this workspace's, and holds the deployed
 * template after the deploy.
 */
function workspaceOf(name: string, service: DeployedService): string {
  const services = path.join(ROOT, `.serverless-deploy-${name}`, 'services');
  const workspace = path.join(services, service);
  mkdirSync(workspace, { recursive: true });
  const links: [string, string][] = [
    [path.join(ROOT, 'services', 'esbuild.yml'), path.join(services, 'esbuild.yml')],
    [path.join(ROOT, 'services', 'resources'), path.join(services, 'resources')],
    [path.join(ROOT, 'services', 'manifest'), path.join(services, 'manifest')],
    // key-reaper has no resources/ of its own (its alarms come from the targets manifest).
    ...['resources', 'src']
      .filter((entry) => existsSync(path.join(ROOT, 'services', service, entry)))
      .map((entry): [string, string] => [
        path.join(ROOT, 'services', service, entry),
        path.join(workspace, entry),
      ]),
  ];
  for (const [target, link] of links) {
    if (!existsSync(link)) symlinkSync(target, link);
  }
  copyFileSync(
    path.join(ROOT, 'services', service, 'serverless.yml'),
    path.join(workspace, 'serverless.yml'),
  );
  return workspace;
}

/**
 * Writes the targets manifest of the provisioned target(s), as a user keeps keyrot.targets.yml,
 * to `.serverless-deploy-<workspace>/keyrot.targets.yml`; returns its path.
 */
function writeTargetsManifest(workspace: string, ...targets: Record<string, string>[]): string {
  const dir = path.join(ROOT, `.serverless-deploy-${workspace}`);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'keyrot.targets.yml');
  writeFileSync(file, stringifyYaml({ targets }));
  return file;
}

/** Runs node_modules/.bin/serverless; rejects with the tail of its output if it fails. */
export function runServerless(
  cwd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      path.join(NODE_BIN, 'serverless'),
      args,
      { cwd, env, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        if (error) reject(new Error(tail(output) || error.message));
        else resolve(output);
      },
    );
  });
}

/** The DeployError of a failed deploy: the stack's first failed resource event, if any. */
export async function deployFailure(
  session: AccountSession,
  stackName: string,
  error: unknown,
): Promise<DeployError> {
  const failed = await firstFailedResource(session, stackName).catch(() => undefined);
  const resource = failed
    ? {
        logicalId: failed.LogicalResourceId ?? '?',
        type: failed.ResourceType ?? '?',
        reason: failed.ResourceStatusReason ?? failed.ResourceStatus ?? '?',
      }
    : undefined;
  const where = resource
    ? `resource ${resource.logicalId} (${resource.type}) failed: ${resource.reason}`
    : `serverless said: ${messageOf(error)}`;
  return new DeployError(
    `deploying stack ${stackName} in ${session.accountId} failed: ${where}`,
    stackName,
    resource,
  );
}

/** The oldest `*_FAILED` event of a resource (not the stack itself), from DescribeStackEvents. */
async function firstFailedResource(
  session: AccountSession,
  stackName: string,
): Promise<StackEvent | undefined> {
  const client = new CloudFormationClient(clientConfig(session));
  try {
    const { StackEvents = [] } = await client.send(
      new DescribeStackEventsCommand({ StackName: stackName }),
    );
    return [...StackEvents]
      .reverse()
      .find(
        (event) =>
          event.ResourceType !== 'AWS::CloudFormation::Stack' &&
          (event.ResourceStatus ?? '').endsWith('_FAILED'),
      );
  } finally {
    client.destroy();
  }
}

/** The stack's outputs and how many resources it holds. */
async function readStack(
  session: AccountSession,
  stackName: string,
): Promise<{ outputs: Record<string, string>; resourceCount: number }> {
  const client = new CloudFormationClient(clientConfig(session));
  try {
    const [{ Stacks = [] }, resources] = await Promise.all([
      client.send(new DescribeStacksCommand({ StackName: stackName })),
      listStackResources(client, stackName),
    ]);
    const outputs = Object.fromEntries(
      (Stacks[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']),
    );
    return { outputs, resourceCount: resources };
  } finally {
    client.destroy();
  }
}

async function listStackResources(client: CloudFormationClient, stackName: string) {
  let count = 0;
  let NextToken: string | undefined;
  do {
    const page = await client.send(
      new ListStackResourcesCommand({ StackName: stackName, NextToken }),
    );
    count += page.StackResourceSummaries?.length ?? 0;
    NextToken = page.NextToken;
  } while (NextToken);
  return count;
}

function stackOf(stacks: readonly DeployedStack[], service: DeployedService): DeployedStack {
  const stack = stacks.find((s) => s.service === service);
  if (!stack) throw new Error(`no ${service} stack was deployed`);
  return stack;
}

function output(stack: DeployedStack, key: string): string {
  const value = stack.outputs[key];
  if (!value) {
    throw new Error(`stack ${stack.stackName} has no output ${key}`);
  }
  return value;
}

/** `arn:aws:events:<region>:<account>:event-bus/<name>` → `<name>`. */
function busNameOf(busArn: string): string {
  return busArn.slice(busArn.lastIndexOf('/') + 1);
}

function seconds(since: number): string {
  return ((Date.now() - since) / 1000).toFixed(1);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The last lines of a command's output (osls prints its error at the end). */
function tail(output: string, lines = 25): string {
  return output.trim().split('\n').slice(-lines).join('\n');
}
