/**
 * Calls the deployed roles must refuse: a function acting outside its side (the edge touching
 * API Gateway or the ledger, the API side touching CloudFront), or on something keyrot does not
 * own (another client's key, another usage plan or distribution, the sealed value it only
 * passes on). Each is simulated against the deployed role and the resource's policy, as the
 * calls the functions really make are. Test infrastructure only.
 */
import { INITIAL_KEY_NAME } from '../provision';
import type { DeployedWorld } from './deploy';
import type { DeployedRunner } from './runner';

export interface MustDeny {
  readonly name: string;
  /** serverless.yml key of the function whose role would make the call. */
  readonly fn: string;
  readonly action: string;
  readonly resource: string;
  readonly context?: Readonly<Record<string, string | readonly string[]>>;
}

/** A plan and a distribution keyrot was not deployed for (README's fleet example). */
const OTHER_USAGE_PLAN_ID = '7xq2mm';
const OTHER_DISTRIBUTION_ID = 'E2SHOP0000001';

export function mustDenyList(deployed: DeployedWorld): MustDeny[] {
  const { api, edge } = deployed.world;
  const region = api.session.region;
  const apigw = (path: string) => `arn:aws:apigateway:${region}::${path}`;
  const ledger = `arn:aws:dynamodb:${region}:${api.session.accountId}:table/${api.ledgerTableName}`;
  const distribution = (id: string) =>
    `arn:aws:cloudfront::${edge.session.accountId}:distribution/${id}`;
  const sealed = { 'kms:EncryptionContext:keyrot:rotationId': 'rot_x' };
  const otherKey = { 'aws:ResourceTag/owner': 'partner' };
  const managedKey = { 'aws:ResourceTag/keyrot:managed': 'true' };
  const keyrotTags = {
    'aws:RequestTag/keyrot:managed': 'true',
    'aws:RequestTag/keyrot:target': INITIAL_KEY_NAME,
    'aws:TagKeys': ['keyrot:managed', 'keyrot:target'],
  };
  const tagsOf = (arn: string) => apigw(`/tags/${encodeURIComponent(arn)}`);
  // A current-key secret by stage and target (the six characters AWS adds to its name).
  const currentKey = (stage: string, target: string) =>
    `arn:aws:secretsmanager:${region}:${edge.session.accountId}:secret:keyrot/${stage}/${target}/current-key-AbC123`;
  return [
    {
      // It reads single keys' tags (GetApiKey); listing every key (and value) is not its job.
      name: 'reaper lists the API keys',
      fn: 'retireKeys',
      action: 'apigateway:GET',
      resource: apigw('/apikeys'),
    },
    {
      name: "edge-updater writes another stage's current-key secret",
      fn: 'updateEdge',
      action: 'secretsmanager:PutSecretValue',
      resource: currentKey(`${deployed.stage}x`, INITIAL_KEY_NAME),
    },
    {
      name: "edge-updater writes another target's current-key secret",
      fn: 'updateEdge',
      action: 'secretsmanager:PutSecretValue',
      resource: currentKey(deployed.stage, 'not-a-target'),
    },
    {
      name: 'edge-updater reads a current-key secret',
      fn: 'updateEdge',
      action: 'secretsmanager:GetSecretValue',
      resource: currentKey(deployed.stage, INITIAL_KEY_NAME),
    },
    {
      name: 'awaitDeployment writes the current-key secret',
      fn: 'awaitDeployment',
      action: 'secretsmanager:PutSecretValue',
      resource: currentKey(deployed.stage, INITIAL_KEY_NAME),
    },
    {
      name: 'reaper deletes another client key (untagged)',
      fn: 'retireKeys',
      action: 'apigateway:DELETE',
      resource: apigw(`/apikeys/${api.otherClientKeyId}`),
    },
    {
      name: 'issuer tags the REST API',
      fn: 'issueKey',
      action: 'apigateway:PUT',
      resource: tagsOf(`arn:aws:apigateway:${region}::/restapis/${api.restApiId}`),
      context: keyrotTags,
    },
    {
      name: 'issuer tags another client key',
      fn: 'issueKey',
      action: 'apigateway:PUT',
      resource: tagsOf(`arn:aws:apigateway:${region}::/apikeys/${api.otherClientKeyId}`),
      context: keyrotTags,
    },
    {
      name: 'monitor deletes a keyrot-managed key',
      fn: 'checkRotations',
      action: 'apigateway:DELETE',
      resource: apigw(`/apikeys/${api.initialKeyId}`),
      context: managedKey,
    },
    {
      name: 'monitor writes the ledger',
      fn: 'checkRotations',
      action: 'dynamodb:PutItem',
      resource: ledger,
    },
    {
      name: 'monitor reads the distribution',
      fn: 'checkRotations',
      action: 'cloudfront:GetDistribution',
      resource: distribution(edge.distributionId),
    },
    // The drift guard: checkEdge only reads, checkDrift never deletes or decrypts.
    {
      name: 'checkEdge updates the distribution',
      fn: 'checkEdge',
      action: 'cloudfront:UpdateDistribution',
      resource: distribution(edge.distributionId),
    },
    {
      name: 'checkEdge decrypts a sealed key',
      fn: 'checkEdge',
      action: 'kms:Decrypt',
      resource: edge.kmsKeyArn,
      context: sealed,
    },
    {
      name: 'checkDrift deletes a keyrot-managed key',
      fn: 'checkDrift',
      action: 'apigateway:DELETE',
      resource: apigw(`/apikeys/${api.initialKeyId}`),
      context: managedKey,
    },
    {
      name: 'checkDrift updates the distribution',
      fn: 'checkDrift',
      action: 'cloudfront:UpdateDistribution',
      resource: distribution(edge.distributionId),
    },
    {
      name: 'awaitDeployment decrypts a sealed key',
      fn: 'awaitDeployment',
      action: 'kms:Decrypt',
      resource: edge.kmsKeyArn,
      context: sealed,
    },
    {
      name: 'awaitDeployment updates the distribution',
      fn: 'awaitDeployment',
      action: 'cloudfront:UpdateDistribution',
      resource: distribution(edge.distributionId),
    },
    {
      name: 'edge reads the usage plan keys',
      fn: 'updateEdge',
      action: 'apigateway:GET',
      resource: apigw(`/usageplans/${api.usagePlanId}/keys`),
    },
    {
      name: 'edge creates an API key',
      fn: 'updateEdge',
      action: 'apigateway:POST',
      resource: apigw('/apikeys'),
    },
    {
      name: 'edge writes the ledger',
      fn: 'updateEdge',
      action: 'dynamodb:PutItem',
      resource: ledger,
    },
    {
      name: 'edge deletes another client key',
      fn: 'awaitDeployment',
      action: 'apigateway:DELETE',
      resource: apigw(`/apikeys/${api.otherClientKeyId}`),
      context: otherKey,
    },
    {
      name: 'edge encrypts with the edge key',
      fn: 'updateEdge',
      action: 'kms:Encrypt',
      resource: edge.kmsKeyArn,
      context: sealed,
    },
    {
      name: 'edge updates another distribution',
      fn: 'updateEdge',
      action: 'cloudfront:UpdateDistribution',
      resource: distribution(OTHER_DISTRIBUTION_ID),
    },
    {
      name: 'issuer updates the distribution',
      fn: 'issueKey',
      action: 'cloudfront:UpdateDistribution',
      resource: distribution(edge.distributionId),
    },
    {
      name: 'reaper updates the distribution',
      fn: 'retireKeys',
      action: 'cloudfront:UpdateDistribution',
      resource: distribution(edge.distributionId),
    },
    {
      name: 'issuer deletes another client key',
      fn: 'issueKey',
      action: 'apigateway:DELETE',
      resource: apigw(`/apikeys/${api.otherClientKeyId}`),
      context: otherKey,
    },
    {
      name: 'issuer adds a key to another usage plan',
      fn: 'issueKey',
      action: 'apigateway:POST',
      resource: apigw(`/usageplans/${OTHER_USAGE_PLAN_ID}/keys`),
    },
    {
      name: 'issuer decrypts a sealed key',
      fn: 'issueKey',
      action: 'kms:Decrypt',
      resource: edge.kmsKeyArn,
      context: sealed,
    },
    {
      name: 'issuer encrypts without the rotation context',
      fn: 'issueKey',
      action: 'kms:Encrypt',
      resource: edge.kmsKeyArn,
    },
    {
      name: 'reaper decrypts a sealed key',
      fn: 'retireKeys',
      action: 'kms:Decrypt',
      resource: edge.kmsKeyArn,
      context: sealed,
    },
    {
      name: 'issuer schedules',
      fn: 'issueKey',
      action: 'scheduler:CreateSchedule',
      resource: `arn:aws:scheduler:${region}:${api.session.accountId}:schedule/default/x`,
    },
    // A fleet's other targets: each plan's other client is as off-limits as the first's.
    ...otherTargets(deployed).flatMap((t): MustDeny[] => [
      {
        name: `reaper deletes another client key on the plan of ${t.name} (untagged)`,
        fn: 'retireKeys',
        action: 'apigateway:DELETE',
        resource: apigw(`/apikeys/${t.otherClientKeyId}`),
      },
      {
        name: `issuer tags another client key on the plan of ${t.name}`,
        fn: 'issueKey',
        action: 'apigateway:PUT',
        resource: tagsOf(`arn:aws:apigateway:${region}::/apikeys/${t.otherClientKeyId}`),
        context: { ...keyrotTags, 'aws:RequestTag/keyrot:target': t.name },
      },
    ]),
    ...(deployed.world.singleAccount
      ? []
      : [
          {
            name: 'issuer puts on the edge bus directly',
            fn: 'issueKey',
            action: 'events:PutEvents',
            resource: edge.busArn,
            context: { 'events:source': 'keyrot', 'events:detail-type': 'KeyCreated' },
          },
        ]),
  ];
}

/**
 * Calls a rotation makes, which the same simulation must allow: the control that shows a
 * refusal above comes from the policies, not from the way the calls are simulated.
 */
export function mustAllowList(deployed: DeployedWorld): MustDeny[] {
  const { api, edge } = deployed.world;
  const region = api.session.region;
  return [
    {
      name: 'issuer creates a key tagged for its target',
      fn: 'issueKey',
      action: 'apigateway:POST',
      resource: `arn:aws:apigateway:${region}::/apikeys`,
      context: {
        'aws:RequestTag/keyrot:managed': 'true',
        'aws:RequestTag/keyrot:target': INITIAL_KEY_NAME,
        'aws:TagKeys': ['keyrot:managed', 'keyrot:target', 'keyrot:rotation'],
      },
    },
    {
      name: 'issuer seals for the edge',
      fn: 'issueKey',
      action: 'kms:Encrypt',
      resource: edge.kmsKeyArn,
      context: { 'kms:EncryptionContext:keyrot:rotationId': 'rot_x' },
    },
    {
      name: "edge sets its target's current-key secret",
      fn: 'updateEdge',
      action: 'secretsmanager:PutSecretValue',
      resource: `arn:aws:secretsmanager:${region}:${edge.session.accountId}:secret:keyrot/${deployed.stage}/${INITIAL_KEY_NAME}/current-key-AbC123`,
    },
    {
      name: 'edge opens the sealed key',
      fn: 'updateEdge',
      action: 'kms:Decrypt',
      resource: edge.kmsKeyArn,
      context: { 'kms:EncryptionContext:keyrot:rotationId': 'rot_x' },
    },
    {
      name: 'edge updates its distribution',
      fn: 'updateEdge',
      action: 'cloudfront:UpdateDistribution',
      resource: `arn:aws:cloudfront::${edge.session.accountId}:distribution/${edge.distributionId}`,
    },
    {
      name: 'reaper deletes the superseded key',
      fn: 'retireKeys',
      action: 'apigateway:DELETE',
      resource: `arn:aws:apigateway:${region}::/apikeys/${api.initialKeyId}`,
      context: { 'aws:ResourceTag/keyrot:managed': 'true' },
    },
    {
      name: 'monitor reads the ledger',
      fn: 'checkRotations',
      action: 'dynamodb:Query',
      resource: `arn:aws:dynamodb:${region}:${api.session.accountId}:table/${api.ledgerTableName}`,
    },
    // A fleet's other targets: their plans, distributions and adopted keys.
    ...otherTargets(deployed).flatMap((t): MustDeny[] => [
      {
        name: `issuer creates a key tagged for ${t.name}`,
        fn: 'issueKey',
        action: 'apigateway:POST',
        resource: `arn:aws:apigateway:${region}::/apikeys`,
        context: {
          'aws:RequestTag/keyrot:managed': 'true',
          'aws:RequestTag/keyrot:target': t.name,
          'aws:TagKeys': ['keyrot:managed', 'keyrot:target', 'keyrot:rotation'],
        },
      },
      {
        name: `issuer adds a key to the plan of ${t.name}`,
        fn: 'issueKey',
        action: 'apigateway:POST',
        resource: `arn:aws:apigateway:${region}::/usageplans/${t.usagePlanId}/keys`,
      },
      {
        name: `edge updates the distribution of ${t.name}`,
        fn: 'updateEdge',
        action: 'cloudfront:UpdateDistribution',
        resource: `arn:aws:cloudfront::${edge.session.accountId}:distribution/${t.distributionId}`,
      },
      {
        name: `reaper deletes the adopted key of ${t.name}`,
        fn: 'retireKeys',
        action: 'apigateway:DELETE',
        resource: `arn:aws:apigateway:${region}::/apikeys/${t.initialKeyId}`,
        context: {
          'aws:ResourceTag/keyrot:managed': 'true',
          'aws:ResourceTag/keyrot:target': t.name,
        },
      },
    ]),
  ];
}

/** The deployed fleet's targets other than the world's own (none for a single target). */
function otherTargets(deployed: DeployedWorld) {
  return deployed.targets.filter((t) => t.usagePlanId !== deployed.world.api.usagePlanId);
}

/** Simulates each call (default {@link mustDenyList}) as its function's deployed role. */
export async function mustDenyCalls(
  runner: DeployedRunner,
  deployed: DeployedWorld,
  calls: readonly MustDeny[] = mustDenyList(deployed),
) {
  const results: { name: string; allowed: boolean; reason: string }[] = [];
  for (const call of calls) {
    const fn = runner.fn(call.fn);
    const verdict = await runner.authorizer.roleMay(fn.roleArn, {
      action: call.action,
      resource: call.resource,
      ...(call.context && { context: call.context }),
    });
    results.push({
      name: call.name,
      allowed: verdict.allowed,
      reason: verdict.allowed ? 'allowed' : verdict.reason,
    });
  }
  return results;
}
