import { GetUsagePlanCommand, NotFoundException } from '@aws-sdk/client-api-gateway';
import { GetDistributionConfigCommand } from '@aws-sdk/client-cloudfront';
import { DescribeEventBusCommand } from '@aws-sdk/client-eventbridge';
import { SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { DescribeKeyCommand, GetKeyPolicyCommand } from '@aws-sdk/client-kms';
import {
  ApiGatewayKeyStore,
  EVENT_SOURCE,
  ResourceNotFoundError,
  type Target,
} from '@keyrot/shared';
import type { CliContext } from '../context';
import { busPolicyMissing, keyPolicyGrants } from '../doctor/policies';
import { EXIT, oneLine, type ExitCode } from '../errors';
import { accountOf, type Side } from '../identity';
import { render, type Column } from '../output';
import { knownTargets, resolveTarget } from '../targets';

export interface DoctorOptions {
  readonly target?: string;
  readonly stage: string;
  /** The edge account's KMS key: ARN, id or alias (default `alias/keyrot-<stage>-edge`). */
  readonly kmsKey?: string;
}

/** One check: PASS, FAIL (with a fix) or SKIP (with why it could not be checked). */
export interface Check {
  /** The target, or `*` for what every target shares (buses, KMS key, roles). */
  readonly target: string;
  readonly check: string;
  readonly result: 'PASS' | 'FAIL' | 'SKIP';
  readonly detail: string;
  readonly fix: string | null;
}

const COLUMNS: readonly Column<Check>[] = [
  { header: 'target', value: (c) => c.target },
  { header: 'check', value: (c) => c.check },
  { header: 'result', value: (c) => c.result },
  { header: 'detail', value: (c) => c.detail },
  { header: 'fix', value: (c) => c.fix },
];

const pass = (target: string, check: string, detail: string): Check => ({
  target,
  check,
  result: 'PASS',
  detail,
  fix: null,
});
const fail = (target: string, check: string, detail: string, fix: string): Check => ({
  target,
  check,
  result: 'FAIL',
  detail,
  fix,
});
const skip = (target: string, check: string, detail: string): Check => ({
  target,
  check,
  result: 'SKIP',
  detail,
  fix: null,
});

/** What the deployed stacks are named after (serverless.yml `iam.role.name`, osls defaults). */
export function functionRoles(stage: string, region: string, accounts: Record<Side, string>) {
  return {
    'key-issuer': `arn:aws:iam::${accounts.api}:role/keyrot-key-issuer-${stage}-${region}`,
    'edge-updater': `arn:aws:iam::${accounts.edge}:role/keyrot-edge-updater-${stage}-${region}`,
    'key-reaper': `arn:aws:iam::${accounts.api}:role/keyrot-key-reaper-${stage}-${region}-lambdaRole`,
  } as const;
}

/**
 * `keyrot doctor`: checks, reading only, what a rotation of each target needs: its usage
 * plan, keys of its key name on it, its distribution and origin (edge account); once for all
 * targets, the partner bus and the policies that let each account put keyrot's events on the
 * other's bus, the edge KMS key's policy naming the issuer (Encrypt) and the edge-updater
 * (Decrypt) roles, and the function roles' permissions by iam:SimulatePrincipalPolicy where
 * the caller may simulate them (SKIP, never PASS, where it cannot). Exit 7 if a check failed.
 */
export async function doctor(ctx: CliContext, options: DoctorOptions): Promise<ExitCode> {
  const targets = options.target
    ? [(await resolveTarget(options.target, ctx.targetsFile, ctx.ledger, ctx.table)).target]
    : [...(await knownTargets(ctx.targetsFile, ctx.ledger)).values()].map((k) => k.target);
  const accounts = { api: await accountOf(ctx, 'api'), edge: await accountOf(ctx, 'edge') };
  const region = ctx.api.region ?? 'us-east-1';
  const edgeHint =
    ctx.edgeCredentials === 'api'
      ? ` (read with the API account's credentials, ${accounts.api}: pass --edge-profile for the edge account)`
      : '';
  const checks: Check[] = [];
  for (const target of targets) checks.push(...(await targetChecks(ctx, target, edgeHint)));
  const key = await kmsKey(ctx, options.kmsKey ?? `alias/keyrot-${options.stage}-edge`, edgeHint);
  checks.push(...(await busChecks(ctx, accounts, edgeHint)));
  checks.push(...keyChecks(key, functionRoles(options.stage, region, accounts), edgeHint));
  checks.push(...(await roleChecks(ctx, targets, accounts, options.stage, region, key.arn ?? '*')));
  ctx.print(render(ctx.output, COLUMNS, checks, checks));
  const failed = checks.filter((c) => c.result === 'FAIL');
  if (failed.length > 0) {
    ctx.streams.err(
      `keyrot: ${failed.length} check(s) failed: ${failed.map((c) => `${c.target} ${c.check}`).join(', ')}\n`,
    );
    return EXIT.notReady;
  }
  return EXIT.ok;
}

async function targetChecks(ctx: CliContext, target: Target, edgeHint: string): Promise<Check[]> {
  const name = target.name;
  const checks: Check[] = [];
  try {
    const plan = await ctx.apiGateway.send(
      new GetUsagePlanCommand({ usagePlanId: target.usagePlanId }),
    );
    checks.push(
      pass(
        name,
        'usage-plan',
        `usage plan ${target.usagePlanId} (${plan.name ?? 'no name'}) exists`,
      ),
    );
    const keys = (
      await new ApiGatewayKeyStore(ctx.apiGateway).listPlanKeys(target.usagePlanId)
    ).filter((k) => k.name === target.apiKeyName);
    checks.push(
      keys.length > 0
        ? pass(
            name,
            'plan-keys',
            `${keys.length} key(s) named ${target.apiKeyName} on the plan: ${keys.map((k) => k.id).join(', ')}`,
          )
        : fail(
            name,
            'plan-keys',
            `no key named ${target.apiKeyName} on usage plan ${target.usagePlanId}`,
            `correct apiKeyName, or add the key the distribution sends to the plan (aws apigateway create-usage-plan-key)`,
          ),
    );
  } catch (error) {
    if (!(error instanceof NotFoundException || error instanceof ResourceNotFoundError))
      throw error;
    checks.push(
      fail(
        name,
        'usage-plan',
        `usage plan ${target.usagePlanId} not found`,
        'correct usagePlanId in the targets file and the schedule input',
      ),
      skip(name, 'plan-keys', 'no usage plan to read'),
    );
  }
  try {
    const config = await ctx.cloudFront.send(
      new GetDistributionConfigCommand({ Id: target.distributionId }),
    );
    checks.push(pass(name, 'distribution', `distribution ${target.distributionId} exists`));
    const origins = config.DistributionConfig?.Origins?.Items ?? [];
    checks.push(
      origins.some((o) => o.Id === target.originId)
        ? pass(
            name,
            'origin',
            `distribution ${target.distributionId} has origin ${target.originId}`,
          )
        : fail(
            name,
            'origin',
            `distribution ${target.distributionId} has no origin ${target.originId} (it has: ${origins.map((o) => o.Id).join(', ') || 'none'})`,
            'correct originId to the id of the API Gateway origin',
          ),
    );
  } catch (error) {
    if (!isRefusal(error)) throw error;
    checks.push(
      fail(
        name,
        'distribution',
        `distribution ${target.distributionId}: ${(error as Error).name}${edgeHint}`,
        edgeHint
          ? 'pass --edge-profile'
          : 'correct distributionId, or grant cloudfront:GetDistributionConfig',
      ),
      skip(name, 'origin', 'no distribution to read'),
    );
  }
  return checks;
}

async function busChecks(
  ctx: CliContext,
  accounts: Record<Side, string>,
  edgeHint: string,
): Promise<Check[]> {
  const checks: Check[] = [];
  const describe = async (side: Side) => {
    try {
      return await ctx.eventsOf(side).send(new DescribeEventBusCommand({ Name: ctx.bus }));
    } catch (error) {
      if (isRefusal(error)) return error as Error;
      throw error;
    }
  };
  const api = await describe('api');
  checks.push(
    api instanceof Error
      ? fail(
          '*',
          'api-bus',
          `bus ${ctx.bus} in account ${accounts.api}: ${api.name}`,
          'deploy the key-issuer stack, or pass --bus',
        )
      : pass('*', 'api-bus', `bus ${ctx.bus} exists in the API account ${accounts.api}`),
  );
  if (accounts.api === accounts.edge) {
    const why =
      ctx.edgeCredentials === 'api'
        ? 'no --edge-profile: taken as single-account mode (one bus, no cross-account grant)'
        : 'single-account mode: one bus, no cross-account grant';
    checks.push(skip('*', 'partner-bus', why), skip('*', 'api-bus-policy', why));
    return checks;
  }
  const edge = await describe('edge');
  if (edge instanceof Error) {
    checks.push(
      fail(
        '*',
        'partner-bus',
        `bus ${ctx.bus} in the edge account ${accounts.edge}: ${edge.name}${edgeHint}`,
        'deploy the edge-updater stack (two-account mode)',
      ),
    );
  } else {
    const missing = busPolicyMissing(edge.Policy, accounts.api, EVENT_SOURCE, ['KeyCreated']);
    checks.push(
      missing.length === 0
        ? pass(
            '*',
            'partner-bus',
            `the edge bus ${ctx.bus} (${accounts.edge}) accepts KeyCreated from the API account ${accounts.api}`,
          )
        : fail(
            '*',
            'partner-bus',
            `the edge bus ${ctx.bus} (${accounts.edge}) has no policy letting the API account ${accounts.api} put ${missing.join(', ')} (source ${EVENT_SOURCE})`,
            'redeploy the edge-updater stack (EdgeBusPolicy, resources/two-account.yml)',
          ),
    );
  }
  if (!(api instanceof Error)) {
    const missing = busPolicyMissing(api.Policy, accounts.edge, EVENT_SOURCE, [
      'EdgeUpdated',
      'RotationFailed',
    ]);
    checks.push(
      missing.length === 0
        ? pass(
            '*',
            'api-bus-policy',
            `the API bus accepts EdgeUpdated and RotationFailed from the edge account ${accounts.edge}`,
          )
        : fail(
            '*',
            'api-bus-policy',
            `the API bus ${ctx.bus} has no policy letting the edge account ${accounts.edge} put ${missing.join(', ')} (source ${EVENT_SOURCE})`,
            'redeploy the key-issuer stack (KeyrotBusPolicy, resources/two-account.yml)',
          ),
    );
  }
  return checks;
}

interface KmsKey {
  readonly spec: string;
  readonly arn?: string;
  readonly policy?: string;
  readonly problem?: string;
}

async function kmsKey(ctx: CliContext, spec: string, edgeHint: string): Promise<KmsKey> {
  try {
    const described = await ctx.kms('edge').send(new DescribeKeyCommand({ KeyId: spec }));
    const arn = described.KeyMetadata?.Arn;
    const keyId = described.KeyMetadata?.KeyId ?? spec;
    const { Policy: policy } = await ctx
      .kms('edge')
      .send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' }));
    return { spec, ...(arn && { arn }), ...(policy && { policy }) };
  } catch (error) {
    if (!isRefusal(error)) throw error;
    return { spec, problem: `${(error as Error).name}${edgeHint}` };
  }
}

function keyChecks(
  key: KmsKey,
  roles: ReturnType<typeof functionRoles>,
  edgeHint: string,
): Check[] {
  if (key.problem !== undefined) {
    return [
      fail(
        '*',
        'kms-key-policy',
        `KMS key ${key.spec}: ${key.problem}`,
        edgeHint
          ? 'pass --edge-profile'
          : 'pass --kms-key <the EdgeKmsKeyArn output of the edge-updater stack>',
      ),
    ];
  }
  const grants: [string, string, string][] = [
    ['kms:Encrypt', roles['key-issuer'], 'the issuer'],
    ['kms:Decrypt', roles['edge-updater'], 'the edge-updater'],
  ];
  const missing = grants.filter(([action, role]) => !keyPolicyGrants(key.policy, action, role));
  return [
    missing.length === 0
      ? pass(
          '*',
          'kms-key-policy',
          `key ${key.arn ?? key.spec} lets ${roles['key-issuer']} encrypt and ${roles['edge-updater']} decrypt`,
        )
      : fail(
          '*',
          'kms-key-policy',
          `key ${key.arn ?? key.spec} policy does not grant ${missing.map(([action, role, who]) => `${action} to ${who} (${role})`).join(', ')}`,
          'redeploy the edge-updater stack (EdgeKey, resources/edge-account.yml) with the same stage and region as the issuer',
        ),
  ];
}

/** What each function role must be allowed, on which resources. */
function neededActions(
  targets: readonly Target[],
  accounts: Record<Side, string>,
  region: string,
  table: string,
  bus: string,
  keyArn: string,
) {
  const plans = targets.map(
    (t) => `arn:aws:apigateway:${region}::/usageplans/${t.usagePlanId}/keys`,
  );
  const distributions = targets.map(
    (t) => `arn:aws:cloudfront::${accounts.edge}:distribution/${t.distributionId}`,
  );
  const ledger = `arn:aws:dynamodb:${region}:${accounts.api}:table/${table}`;
  const busOf = (side: Side) => `arn:aws:events:${region}:${accounts[side]}:event-bus/${bus}`;
  return {
    'key-issuer': [
      { side: 'api' as Side, actions: ['apigateway:GET', 'apigateway:POST'], resources: plans },
      { side: 'api' as Side, actions: ['kms:Encrypt'], resources: [keyArn] },
      { side: 'api' as Side, actions: ['dynamodb:PutItem', 'dynamodb:Query'], resources: [ledger] },
      { side: 'api' as Side, actions: ['events:PutEvents'], resources: [busOf('api')] },
    ],
    'edge-updater': [
      {
        side: 'edge' as Side,
        actions: ['cloudfront:GetDistributionConfig', 'cloudfront:UpdateDistribution'],
        resources: distributions,
      },
      { side: 'edge' as Side, actions: ['kms:Decrypt'], resources: [keyArn] },
      { side: 'edge' as Side, actions: ['events:PutEvents'], resources: [busOf('edge')] },
    ],
    'key-reaper': [
      {
        side: 'api' as Side,
        actions: ['apigateway:DELETE'],
        resources: [`arn:aws:apigateway:${region}::/apikeys/*`],
      },
      { side: 'api' as Side, actions: ['dynamodb:PutItem', 'dynamodb:Query'], resources: [ledger] },
    ],
  } as const;
}

async function roleChecks(
  ctx: CliContext,
  targets: readonly Target[],
  accounts: Record<Side, string>,
  stage: string,
  region: string,
  keyArn: string,
): Promise<Check[]> {
  const roles = functionRoles(stage, region, accounts);
  const needs = neededActions(targets, accounts, region, ctx.table, ctx.bus, keyArn);
  const checks: Check[] = [];
  for (const service of ['key-issuer', 'edge-updater', 'key-reaper'] as const) {
    const role = roles[service];
    const check = `role:${service}`;
    const denied: string[] = [];
    let skipped: string | undefined;
    let missing = false;
    for (const need of needs[service]) {
      if (need.resources.length === 0) continue;
      try {
        const answer = await ctx.iam(need.side).send(
          new SimulatePrincipalPolicyCommand({
            PolicySourceArn: role,
            ActionNames: [...need.actions],
            ResourceArns: [...need.resources],
          }),
        );
        for (const result of answer.EvaluationResults ?? []) {
          if (result.EvalDecision !== 'allowed') {
            denied.push(`${result.EvalActionName ?? '?'} (${result.EvalDecision ?? '?'})`);
          }
        }
      } catch (error) {
        if (
          (error as Error).name === 'NoSuchEntityException' ||
          (error as Error).name === 'NoSuchEntity'
        ) {
          missing = true;
          break;
        }
        skipped = simulationSkipped(error);
        if (skipped === undefined) throw error;
        break;
      }
    }
    if (missing) {
      checks.push(
        fail(
          '*',
          check,
          `role ${role} does not exist`,
          `deploy the ${service} stack with --stage ${stage} in ${region}, or pass --stage`,
        ),
      );
    } else if (skipped !== undefined) checks.push(skip('*', check, `${role}: ${skipped}`));
    else if (denied.length > 0) {
      checks.push(
        fail(
          '*',
          check,
          `${role} is not allowed: ${denied.join(', ')}`,
          `redeploy the ${service} stack (its iam.role.statements in serverless.yml)`,
        ),
      );
    } else checks.push(pass('*', check, `${role} may make the calls a rotation needs`));
  }
  return checks;
}

/** Why a simulation could not be made (the row is SKIP, never a PASS), or undefined. */
function simulationSkipped(error: unknown): string | undefined {
  const { name = '', message = '' } = (error ?? {}) as { name?: string; message?: string };
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (/AccessDenied|UnauthorizedOperation/.test(name)) {
    return `the caller may not simulate (${name}): grant iam:SimulatePrincipalPolicy to check`;
  }
  if (/not.*implemented|NotImplemented/i.test(`${name} ${message}`) || status === 501) {
    return `the endpoint does not implement iam:SimulatePrincipalPolicy (${name || status}): not checked`;
  }
  if (status !== undefined && status >= 500) {
    return `the endpoint failed to simulate (${name || status}: ${oneLine(message).slice(0, 100)}): not checked`;
  }
  return undefined;
}

/** An error AWS answered with (4xx), as opposed to no answer. */
function isRefusal(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata
    ?.httpStatusCode;
  return typeof status === 'number' && status >= 400 && status < 500;
}
