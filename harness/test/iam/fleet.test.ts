/**
 * Least privilege as a proof, on a fleet: the roles `serverless package` builds from a
 * 3-target manifest (two targets on one distribution with different origins, one on another
 * plan and distribution; keyrot-policies.ts, FLEET) allow every call each function makes for
 * each target (captured from keyrot's own adapters and SDK clients, turned into IAM requests
 * by describe-call.ts), and refuse the must-deny list. Each check has a negative control that
 * shows it can fail: roles built for a smaller manifest deny the missing target's calls, and a
 * deliberately widened role lets a must-deny call through.
 */
import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { CloudFrontClient, UpdateDistributionCommand } from '@aws-sdk/client-cloudfront';
import { KMSClient } from '@aws-sdk/client-kms';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import {
  ApiGatewayKeyStore,
  KmsKeySealer,
  parseTargetsManifest,
  rotationContext,
  SecretValue,
  type ManifestTarget,
  type TargetsManifest,
} from '@keyrot/shared';
import { CloudFrontEdgeConfig } from '../../../services/edge-updater/src/adapters/cloudfront-edge';
import { SchedulerDeploymentChecks } from '../../../services/edge-updater/src/adapters/scheduler-checks';
import { newKeyTagsResource, type Service } from '../../../services/manifest/stacks';
import { describeCall, type HttpCall, type IamRequest } from '../../iam/describe-call';
import {
  simulate,
  simulateCall,
  type PolicyStatement,
  type PrincipalPolicies,
} from '../../iam/simulate';
import { capture, clientConfig } from './capture';
import {
  API,
  ARNS,
  edgeKeyPolicy,
  EDGE,
  FLEET,
  FOREIGN,
  functionRole,
  REGION,
  stackParams,
} from './keyrot-policies';

const ROTATION = 'rot_20261203T000000Z_fleet001';
const NEW_KEY_ID = 'n3wk3y0001';
const OLD_KEY_ID = '0ldk3y0001';
const OTHER_CLIENT_KEY_ID = '0th3rc11nt';

type Fn = 'issueKey' | 'retireKeys' | 'checkRotations' | 'updateEdge' | 'awaitDeployment';
const SERVICE_OF: Record<Fn, Service> = {
  issueKey: 'key-issuer',
  retireKeys: 'key-reaper',
  checkRotations: 'key-reaper',
  updateEdge: 'edge-updater',
  awaitDeployment: 'edge-updater',
};
const ACCOUNT_OF: Record<Service, string> = {
  'key-issuer': API,
  'key-reaper': API,
  'edge-updater': EDGE,
};
const role = (fn: Fn, manifest: TargetsManifest = FLEET) =>
  functionRole(SERVICE_OF[fn], fn, manifest);

const keyrotTags = (target: ManifestTarget) => ({
  'keyrot:managed': 'true',
  'keyrot:target': target.name,
  'keyrot:rotation': ROTATION,
});

/** A call a function makes, and the resource tags AWS would know for it. */
interface FunctionCall {
  readonly fn: Fn;
  readonly what: string;
  readonly http: HttpCall;
  readonly resourceTags?: Readonly<Record<string, string>>;
}

const apiGateway = (endpoint: string) =>
  new ApiGatewayKeyStore(new APIGatewayClient(clientConfig(endpoint)));

/** Every API Gateway, CloudFront, KMS and Scheduler call of one rotation of `target`. */
async function rotationCalls(target: ManifestTarget): Promise<FunctionCall[]> {
  const calls: FunctionCall[] = [];
  const add = async (
    fn: Fn,
    what: string,
    use: (endpoint: string) => Promise<unknown>,
    resourceTags?: Record<string, string>,
  ) => {
    for (const http of await capture(use)) {
      calls.push({ fn, what, http, ...(resourceTags && { resourceTags }) });
    }
  };
  const edgeTarget = target;
  // The target as events carry it (the schemas are strict: no manifest settings).
  const { name, apiKeyName, usagePlanId, distributionId, originId, headerName } = target;
  const eventTarget = { name, apiKeyName, usagePlanId, distributionId, originId, headerName };
  const value = new SecretValue('fleet-test-value-0123456789abcdef');
  const context = rotationContext(ROTATION, target.name, NEW_KEY_ID);
  // key-issuer: list the plan's keys, find keys of the name, create and tag, add to the plan,
  // seal for the edge, roll its own new key back.
  await add('issueKey', 'GetUsagePlanKeys', (e) => apiGateway(e).listPlanKeys(target.usagePlanId));
  await add('issueKey', 'GetApiKeys', (e) => apiGateway(e).listKeysNamed(target.apiKeyName));
  await add('issueKey', 'CreateApiKey (tagged)', (e) =>
    apiGateway(e).createKey(target.apiKeyName, keyrotTags(target)),
  );
  await add('issueKey', 'CreateUsagePlanKey', (e) =>
    apiGateway(e).addToPlan(target.usagePlanId, NEW_KEY_ID),
  );
  await add('issueKey', 'Encrypt', (e) =>
    new KmsKeySealer(new KMSClient(clientConfig(e))).seal(
      stackParams('key-issuer').edgeKmsKeyArn!,
      value,
      context,
    ),
  );
  await add(
    'issueKey',
    'DeleteApiKey (rollback of its new key)',
    (e) => apiGateway(e).deleteKey(NEW_KEY_ID),
    keyrotTags(target),
  );
  // edge-updater: open the key, read and write the distribution, schedule the re-check.
  await add('updateEdge', 'Decrypt', (e) =>
    new KmsKeySealer(new KMSClient(clientConfig(e))).open(ARNS.edgeKey, 'c2VhbGVk', context),
  );
  await add('updateEdge', 'GetDistributionConfig', (e) =>
    new CloudFrontEdgeConfig(new CloudFrontClient(clientConfig(e))).readHeader(edgeTarget),
  );
  await add('updateEdge', 'UpdateDistribution', (e) =>
    new CloudFrontClient(clientConfig(e)).send(
      new UpdateDistributionCommand({
        Id: target.distributionId,
        IfMatch: 'E2CAPTURE',
        DistributionConfig: undefined,
      }),
    ),
  );
  for (const fn of ['updateEdge', 'awaitDeployment'] as const) {
    await add(fn, 'GetDistribution', (e) =>
      new CloudFrontEdgeConfig(new CloudFrontClient(clientConfig(e))).deployment(edgeTarget),
    );
    await add(fn, 'CreateSchedule', (e) =>
      new SchedulerDeploymentChecks(new SchedulerClient(clientConfig(e)), {
        groupName: ARNS.checkGroup,
        roleArn: ARNS.deployCheckRole,
        busArn: ARNS.edgeBus,
        deadLetterArn: ARNS.edgeDlq,
      }).schedule(
        {
          version: 1,
          rotationId: ROTATION,
          target: eventTarget,
          newKey: { id: NEW_KEY_ID, fingerprint: '0123456789ab' },
          previousFingerprint: null,
          updatedAt: '2026-12-03T00:00:00.000Z',
          deadline: '2026-12-03T02:00:00.000Z',
          check: 1,
        },
        new Date('2026-12-03T00:01:00.000Z'),
      ),
    );
  }
  // key-reaper: read the tags of a superseded key the ledger does not vouch for, delete the
  // superseded (keyrot-managed) one.
  await add('retireKeys', 'GetApiKey (tags)', (e) => apiGateway(e).describeKey(OLD_KEY_ID));
  await add('retireKeys', 'DeleteApiKey (superseded)', (e) => apiGateway(e).deleteKey(OLD_KEY_ID), {
    'keyrot:managed': 'true',
  });
  return calls;
}

/** Simulates each call as its function's role; the denied ones, as readable lines. */
async function deniedCalls(calls: readonly FunctionCall[], roles: (fn: Fn) => PrincipalPolicies) {
  const denied: string[] = [];
  for (const call of calls) {
    const account = ACCOUNT_OF[SERVICE_OF[call.fn]];
    const described = await describeCall(call.http, account, {
      resourceTags: () => Promise.resolve(call.resourceTags ?? {}),
    });
    const result = await simulateCall(described, roles(call.fn), {
      resourcePolicyOf: (arn) =>
        arn === ARNS.edgeKey
          ? { name: 'EdgeKey key policy', document: edgeKeyPolicy() }
          : undefined,
    });
    for (const d of result.denials)
      denied.push(`${call.fn} ${call.what}: ${d.request.action} ${d.request.resource}`);
  }
  return denied;
}

describe('the fleet manifest', () => {
  it('has two targets on one distribution (different origins) and one on another plan and distribution', () => {
    const [a, b, c] = FLEET.targets;
    expect(a!.distributionId).toBe(b!.distributionId);
    expect(a!.originId).not.toBe(b!.originId);
    expect(new Set(FLEET.targets.map((t) => t.usagePlanId)).size).toBe(3);
    expect(c!.distributionId).not.toBe(a!.distributionId);
  });
});

describe('every call of a rotation of every fleet target is allowed', () => {
  let calls: FunctionCall[];
  beforeAll(async () => {
    calls = (await Promise.all(FLEET.targets.map(rotationCalls))).flat();
  });

  it('covers each function that calls API Gateway, CloudFront, KMS or Scheduler', () => {
    expect(new Set(calls.map((c) => c.fn))).toEqual(
      new Set(['issueKey', 'updateEdge', 'awaitDeployment', 'retireKeys']),
    );
    // per target: 6 issuer, 5 updateEdge, 2 awaitDeployment, 2 reaper (plus the tag request)
    expect(calls.length).toBeGreaterThanOrEqual(FLEET.targets.length * 15);
  });

  it('0 denied calls with the roles built from the fleet manifest', async () => {
    expect(await deniedCalls(calls, (fn) => role(fn))).toEqual([]);
  });

  it('negative control: roles built without shop-api deny its calls, and only its calls', async () => {
    const narrowed = parseTargetsManifest({
      targets: FLEET.targets.filter((t) => t.name !== 'shop-api'),
    });
    const denied = await deniedCalls(calls, (fn) => role(fn, narrowed));
    expect(denied).toEqual([
      expect.stringMatching(
        /^issueKey GetUsagePlanKeys: apigateway:GET .*\/usageplans\/7xq2mm\/keys$/,
      ),
      expect.stringMatching(/^issueKey CreateApiKey \(tagged\): apigateway:POST .*\/apikeys$/),
      expect.stringMatching(/^issueKey CreateApiKey \(tagged\): apigateway:PUT .*\/tags\//),
      expect.stringMatching(
        /^issueKey CreateUsagePlanKey: apigateway:POST .*\/usageplans\/7xq2mm\/keys$/,
      ),
      expect.stringMatching(
        /^issueKey DeleteApiKey \(rollback of its new key\): apigateway:DELETE /,
      ),
      expect.stringMatching(
        /^updateEdge GetDistributionConfig: cloudfront:GetDistributionConfig .*E2SHOP0000001$/,
      ),
      expect.stringMatching(
        /^updateEdge UpdateDistribution: cloudfront:UpdateDistribution .*E2SHOP0000001$/,
      ),
      expect.stringMatching(
        /^updateEdge GetDistribution: cloudfront:GetDistribution .*E2SHOP0000001$/,
      ),
      expect.stringMatching(
        /^awaitDeployment GetDistribution: cloudfront:GetDistribution .*E2SHOP0000001$/,
      ),
    ]);
  });
});

// ---------------------------------------------------------------------------------------
// Must deny.

interface MustDeny {
  readonly name: string;
  readonly fn: Fn;
  readonly request: IamRequest;
}

const apigw = (path: string) => `arn:aws:apigateway:${REGION}::${path}`;
const tagsOf = (arn: string) => apigw(`/tags/${encodeURIComponent(arn)}`);
const req = (action: string, resource: string, context: IamRequest['context'] = {}) => ({
  action,
  resource,
  context: { 'aws:RequestedRegion': REGION, ...context },
});
const tagRequest = (target: string) => ({
  'aws:RequestTag/keyrot:managed': 'true',
  'aws:RequestTag/keyrot:target': target,
  'aws:TagKeys': ['keyrot:managed', 'keyrot:target'],
});
const managed = { 'aws:ResourceTag/keyrot:managed': 'true' };
const distribution = (id: string) => `arn:aws:cloudfront::${EDGE}:distribution/${id}`;
const FLEET_DISTRIBUTIONS = [...new Set(FLEET.targets.map((t) => t.distributionId))];
const ledger = ARNS.table;
const sealed = { 'kms:EncryptionContext:keyrot:rotationId': ROTATION };
const API_FUNCTIONS = ['issueKey', 'retireKeys', 'checkRotations'] as const;
const EDGE_FUNCTIONS = ['updateEdge', 'awaitDeployment'] as const;

/** Every way to change an API key: create (tagged as keyrot would), tag, update, delete. */
const keyWrites = (fn: Fn, who: string): MustDeny[] => [
  {
    name: `${who} creates an API key`,
    fn,
    request: req('apigateway:POST', apigw('/apikeys'), tagRequest('kloudpepper-api-key')),
  },
  {
    name: `${who} tags a new API key`,
    fn,
    request: req(
      'apigateway:PUT',
      `${tagsOf(`arn:aws:apigateway:${REGION}::/apikeys/`)}*`,
      tagRequest('kloudpepper-api-key'),
    ),
  },
  {
    name: `${who} updates a keyrot-managed API key`,
    fn,
    request: req('apigateway:PATCH', apigw(`/apikeys/${OLD_KEY_ID}`), managed),
  },
  {
    name: `${who} deletes a keyrot-managed API key`,
    fn,
    request: req('apigateway:DELETE', apigw(`/apikeys/${OLD_KEY_ID}`), managed),
  },
];

const MUST_DENY: MustDeny[] = [
  {
    name: 'reaper deletes another client’s (untagged) key',
    fn: 'retireKeys',
    request: req('apigateway:DELETE', apigw(`/apikeys/${OTHER_CLIENT_KEY_ID}`)),
  },
  {
    name: 'reaper deletes another client’s key tagged by its owner',
    fn: 'retireKeys',
    request: req('apigateway:DELETE', apigw(`/apikeys/${OTHER_CLIENT_KEY_ID}`), {
      'aws:ResourceTag/owner': 'partner',
    }),
  },
  {
    name: 'reaper deletes a usage plan',
    fn: 'retireKeys',
    request: req('apigateway:DELETE', apigw(`/usageplans/${FLEET.targets[0]!.usagePlanId}`)),
  },
  {
    name: 'issuer tags a REST API',
    fn: 'issueKey',
    request: req(
      'apigateway:PUT',
      tagsOf(`arn:aws:apigateway:${REGION}::/restapis/a1b2c3d4e5`),
      tagRequest('kloudpepper-api-key'),
    ),
  },
  {
    name: 'issuer tags a REST API being created',
    fn: 'issueKey',
    request: req(
      'apigateway:PUT',
      `${tagsOf(`arn:aws:apigateway:${REGION}::/restapis/`)}*`,
      tagRequest('kloudpepper-api-key'),
    ),
  },
  {
    name: 'issuer tags another client’s key',
    fn: 'issueKey',
    request: req(
      'apigateway:PUT',
      tagsOf(`arn:aws:apigateway:${REGION}::/apikeys/${OTHER_CLIENT_KEY_ID}`),
      tagRequest('kloudpepper-api-key'),
    ),
  },
  {
    name: 'issuer creates a key tagged for a target not in the manifest',
    fn: 'issueKey',
    request: req('apigateway:POST', apigw('/apikeys'), tagRequest(FOREIGN.targetName)),
  },
  {
    name: 'issuer creates an untagged key',
    fn: 'issueKey',
    request: req('apigateway:POST', apigw('/apikeys')),
  },
  {
    name: 'issuer deletes another client’s (untagged) key',
    fn: 'issueKey',
    request: req('apigateway:DELETE', apigw(`/apikeys/${OTHER_CLIENT_KEY_ID}`)),
  },
  {
    name: 'issuer deletes a keyrot key of a target not in the manifest',
    fn: 'issueKey',
    request: req('apigateway:DELETE', apigw(`/apikeys/${OTHER_CLIENT_KEY_ID}`), {
      ...managed,
      'aws:ResourceTag/keyrot:target': FOREIGN.targetName,
    }),
  },
  {
    name: 'issuer adds a key to a usage plan not in the manifest',
    fn: 'issueKey',
    request: req('apigateway:POST', apigw(`/usageplans/${FOREIGN.usagePlanId}/keys`)),
  },
  {
    name: 'issuer decrypts a sealed key',
    fn: 'issueKey',
    request: req('kms:Decrypt', ARNS.edgeKey, sealed),
  },
  {
    name: 'issuer writes another function’s log group',
    fn: 'issueKey',
    request: req(
      'logs:PutLogEvents',
      `arn:aws:logs:${REGION}:${API}:log-group:/aws/lambda/keyrot-key-reaper-prod-retireKeys:log-stream:x`,
    ),
  },
  ...keyWrites('checkRotations', 'monitor'),
  ...(['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:UpdateItem'] as const).map(
    (action): MustDeny => ({
      name: `monitor ${action} on the ledger`,
      fn: 'checkRotations',
      request: req(action, ledger),
    }),
  ),
  {
    name: 'monitor puts events',
    fn: 'checkRotations',
    request: req('events:PutEvents', ARNS.apiBus, {
      'events:source': 'keyrot',
      'events:detail-type': 'KeyRotationRequested',
    }),
  },
  ...EDGE_FUNCTIONS.flatMap((fn) => [
    ...keyWrites(fn, `edge ${fn}`),
    { name: `edge ${fn} lists API keys`, fn, request: req('apigateway:GET', apigw('/apikeys')) },
  ]),
  ...EDGE_FUNCTIONS.map((fn): MustDeny => ({
    name: `edge ${fn} reads a fleet usage plan's keys`,
    fn,
    request: req('apigateway:GET', apigw(`/usageplans/${FLEET.targets[0]!.usagePlanId}/keys`)),
  })),
  ...EDGE_FUNCTIONS.map((fn): MustDeny => ({
    name: `edge ${fn} writes the ledger`,
    fn,
    request: req('dynamodb:PutItem', ledger),
  })),
  ...API_FUNCTIONS.flatMap((fn) =>
    FLEET_DISTRIBUTIONS.flatMap((id) =>
      (['cloudfront:GetDistribution', 'cloudfront:UpdateDistribution'] as const).map(
        (action): MustDeny => ({
          name: `API side ${fn} ${action} on ${id}`,
          fn,
          request: req(action, distribution(id)),
        }),
      ),
    ),
  ),
  {
    name: 'awaitDeployment decrypts a sealed key',
    fn: 'awaitDeployment',
    request: req('kms:Decrypt', ARNS.edgeKey, sealed),
  },
  ...FLEET_DISTRIBUTIONS.map((id): MustDeny => ({
    name: `awaitDeployment updates ${id}`,
    fn: 'awaitDeployment',
    request: req('cloudfront:UpdateDistribution', distribution(id)),
  })),
  {
    name: 'updateEdge updates a distribution not in the manifest',
    fn: 'updateEdge',
    request: req('cloudfront:UpdateDistribution', distribution(FOREIGN.distributionId)),
  },
];

describe('the must-deny list, against the roles built from the fleet manifest', () => {
  it.each(MUST_DENY.map((m) => [m.name, m] as const))('refuses: %s', async (_, mustDeny) => {
    const result = await simulate(mustDeny.request, role(mustDeny.fn));
    expect({ name: mustDeny.name, allowed: result.allowed }).toEqual({
      name: mustDeny.name,
      allowed: false,
    });
  });

  it.each(MUST_DENY.map((m) => [m.name, m] as const))(
    'refuses in one account too (only the role decides): %s',
    async (_, mustDeny) => {
      const result = await simulate(sameAccount(mustDeny), role(mustDeny.fn));
      expect({ name: mustDeny.name, allowed: result.allowed }).toEqual({
        name: mustDeny.name,
        allowed: false,
      });
    },
  );

  it('names every function and both sides', () => {
    expect(new Set(MUST_DENY.map((m) => m.fn))).toEqual(
      new Set(['issueKey', 'retireKeys', 'checkRotations', 'updateEdge', 'awaitDeployment']),
    );
  });

  it('negative control: each refusal turns into an allow when the role is widened to that action (in its own account: across accounts the resource policy refuses as well)', async () => {
    const allowedWhenWidened: string[] = [];
    for (const m of MUST_DENY) {
      const widened = withStatement(role(m.fn), {
        Sid: 'Widened',
        Effect: 'Allow',
        Action: m.request.action,
        Resource: '*',
      });
      const request = sameAccount(m);
      // A KMS key needs its key policy too: the default one, which defers to IAM.
      const keyPolicy = request.action.startsWith('kms:')
        ? { resourcePolicy: defaultKeyPolicy(ACCOUNT_OF[SERVICE_OF[m.fn]]) }
        : {};
      if ((await simulate(request, widened, keyPolicy)).allowed) allowedWhenWidened.push(m.name);
    }
    expect(allowedWhenWidened).toEqual(MUST_DENY.map((m) => m.name));
  });

  it('negative control: without the tag condition the reaper could delete another client’s key', async () => {
    const untagged = MUST_DENY[0]!;
    const widened = mapRole(role('retireKeys'), (s) =>
      s.Sid === 'DeleteKeyrotManagedKeys' ? withoutCondition(s) : s,
    );
    expect((await simulate(untagged.request, widened)).allowed).toBe(true);
  });

  it('negative control: with /tags/* (the old grant) the issuer could tag a REST API and another client’s key', async () => {
    const widened = mapRole(role('issueKey'), (s) =>
      s.Sid === 'TagOnlyKeysBeingCreated' ? { ...s, Resource: [apigw('/tags/*')] } : s,
    );
    for (const name of ['issuer tags a REST API', 'issuer tags another client’s key']) {
      const m = MUST_DENY.find((x) => x.name === name)!;
      expect({ name, allowed: (await simulate(m.request, widened)).allowed }).toEqual({
        name,
        allowed: true,
      });
    }
  });

  it('the tag grant matches exactly the new key’s literal `*` resource', () => {
    expect(newKeyTagsResource(stackParams('key-issuer'))).toBe(
      `${tagsOf(`arn:aws:apigateway:${REGION}::/apikeys/`)}?`,
    );
  });
});

function withStatement(
  principal: PrincipalPolicies,
  statement: PolicyStatement,
): PrincipalPolicies {
  return {
    ...principal,
    inlinePolicies: [
      ...principal.inlinePolicies,
      { name: 'widened', document: { Version: '2012-10-17', Statement: [statement] } },
    ],
  };
}

function mapRole(
  principal: PrincipalPolicies,
  change: (s: PolicyStatement) => PolicyStatement,
): PrincipalPolicies {
  return {
    ...principal,
    inlinePolicies: principal.inlinePolicies.map((p) => {
      const list = Array.isArray(p.document.Statement)
        ? (p.document.Statement as PolicyStatement[])
        : [p.document.Statement as PolicyStatement];
      return { ...p, document: { ...p.document, Statement: list.map(change) } };
    }),
  };
}

function withoutCondition(statement: PolicyStatement): PolicyStatement {
  return Object.fromEntries(
    Object.entries(statement).filter(([key]) => key !== 'Condition'),
  ) as unknown as PolicyStatement;
}

/**
 * The request with its resource moved into the function's own account, as in single-account
 * mode: no cross-account rule or key policy stands between the role and the resource.
 */
function sameAccount(m: MustDeny): IamRequest {
  const account = ACCOUNT_OF[SERVICE_OF[m.fn]];
  return {
    ...m.request,
    resource: m.request.resource.replace(/^(arn:[^:]+:[^:]+:[^:]*:)\d{12}:/, `$1${account}:`),
  };
}

/** KMS's default key policy: the account's IAM policies decide. */
function defaultKeyPolicy(account: string) {
  return {
    name: 'default key policy',
    document: {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${account}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    },
  };
}
