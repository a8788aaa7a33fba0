/**
 * examples/protected-api as users deploy it: `serverless deploy` onto the emulator
 * (harness/deployed/example.ts), whose CloudFormation creates the API, the usage plan, the key
 * and the distribution, and resolves the `{{resolve:secretsmanager:...}}` references as AWS
 * does: when the resource holding one is created or updated, never otherwise
 * (harness/moto_cloudformation.py). The distribution is read through the local AWS front
 * (harness/deployed/aws-front.ts), which sees the stack's update as CloudFront reports one: a
 * new ETag, `InProgress`, then `Deployed`.
 *
 * Shown: after the secret the header references gets a new value, a redeploy that changes the
 * distribution sends the new value; a redeploy that changes something else leaves the header
 * (and the key) as they were — the trap of issue 15, as on AWS.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  APIGatewayClient,
  GetApiKeyCommand,
  GetUsagePlanKeysCommand,
} from '@aws-sdk/client-api-gateway';
import { CloudFormationClient, DescribeStackEventsCommand } from '@aws-sdk/client-cloudformation';
import {
  CloudFrontClient,
  GetDistributionCommand,
  UpdateDistributionCommand,
  type Distribution,
} from '@aws-sdk/client-cloudfront';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { fingerprintOf } from '@keyrot/shared';
import { parse as parseYaml } from 'yaml';
import { clientConfig, openAccountSession, type AccountSession } from '../../harness/accounts';
import { AwsFront, type DistributionUpdate } from '../../harness/deployed/aws-front';
import {
  deployExample,
  type DeployedExample,
  type ExampleResource,
} from '../../harness/deployed/example';
import { startMoto, type MotoServer } from '../../harness/moto';

jest.setTimeout(120_000);
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const STAGE = 'cfn';
const ACCOUNT = '111111111111';
/** Long enough that the first read after a deploy finds the update still propagating. */
const PROPAGATION_MS = 8_000;

let moto: MotoServer;
let front: AwsFront;
let session: AccountSession;
/** The same account, its CloudFront calls through the front. */
let viaFront: AccountSession;
/** Every distribution update the front counted. */
const updates: DistributionUpdate[] = [];

beforeAll(async () => {
  moto = await startMoto();
  session = await openAccountSession(moto.endpoint, ACCOUNT, 'us-east-1');
  front = new AwsFront({
    motoEndpoint: moto.endpoint,
    // No deployed role calls here: the IAM simulation and the event plane are never asked.
    authorizer: { authorize: () => Promise.reject(new Error('no deployed principal here')) },
    events: { putEvents: () => Promise.reject(new Error('no events here')) },
    propagationMs: PROPAGATION_MS,
  });
  await front.start();
  viaFront = { ...session, endpoint: front.endpoint };
  front.onDistributionUpdate((update) => updates.push(update));
}, 60_000);

afterAll(async () => {
  await front?.stop();
  await moto?.stop();
});

/**
 * When the example's header names a secret by name that another stack owns (keyrot's edge
 * stack writes `keyrot/<stage>/<target>/current-key`), that secret must exist before the
 * first deploy, as it does once keyrot is deployed: create it here. A reference to the
 * example's own secret (`${InitialKeySecret}`) needs nothing.
 */
async function ensureReferencedSecret(): Promise<string | undefined> {
  const config = parseYaml(
    readFileSync(path.resolve(__dirname, '../../examples/protected-api/serverless.yml'), 'utf8'),
  ) as {
    params?: { default?: Record<string, string> };
    resources: { Conditions?: unknown; Resources: Record<string, ExampleResource> };
  };
  // The example's default header: keyrot's current-key reference of its target, named by
  // the example's parameter defaults (keyrot's edge stack creates it, `keyrot adopt` fills it).
  const defaults = config.params?.default ?? {};
  const id = `keyrot/${defaults.keyrotStage}/${defaults.targetName}/current-key`;
  if (!defaults.keyrotStage || !defaults.targetName) return undefined;
  const secrets = new SecretsManagerClient(clientConfig(session));
  try {
    await secrets.send(
      new CreateSecretCommand({ Name: id, SecretString: randomBytes(24).toString('hex') }),
    );
    return id;
  } finally {
    secrets.destroy();
  }
}

async function secretFingerprint(id: string): Promise<string> {
  const secrets = new SecretsManagerClient(clientConfig(session));
  try {
    const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: id }));
    return fingerprintOf(SecretString ?? '');
  } finally {
    secrets.destroy();
  }
}

/** The distribution through the front: ETag, status, comment, fingerprint of its x-api-key. */
async function edge(example: DeployedExample) {
  const cloudfront = new CloudFrontClient(clientConfig(viaFront));
  try {
    const { Distribution: d, ETag } = await cloudfront.send(
      new GetDistributionCommand({ Id: example.distributionId }),
    );
    const header = headerOf(d, example.originId);
    return {
      etag: ETag ?? '',
      status: d?.Status,
      comment: d?.DistributionConfig?.Comment,
      literalReference: header?.includes('{{resolve:') ?? false,
      keyFingerprint: header === undefined ? undefined : fingerprintOf(header),
      config: d?.DistributionConfig,
    };
  } finally {
    cloudfront.destroy();
  }
}

function headerOf(d: Distribution | undefined, originId: string): string | undefined {
  const origin = d?.DistributionConfig?.Origins?.Items?.find((o) => o.Id === originId);
  return origin?.CustomHeaders?.Items?.find((h) => h.HeaderName?.toLowerCase() === 'x-api-key')
    ?.HeaderValue;
}

/** The example's key on its plan: whether the plan lists it, and its value's fingerprint. */
async function planKey(example: DeployedExample) {
  const apigateway = new APIGatewayClient(clientConfig(session));
  try {
    const { items = [] } = await apigateway.send(
      new GetUsagePlanKeysCommand({ usagePlanId: example.usagePlanId }),
    );
    const id = example.apiKeyId;
    if (id === undefined) throw new Error(`stack ${example.stackName} holds no API key`);
    const key = await apigateway.send(new GetApiKeyCommand({ apiKey: id, includeValue: true }));
    return {
      onPlan: items.some((k) => k.id === id),
      fingerprint: fingerprintOf(key.value ?? ''),
    };
  } finally {
    apigateway.destroy();
  }
}

/** The stack's events, newest first. */
async function stackEvents(stackName: string) {
  const cfn = new CloudFormationClient(clientConfig(session));
  try {
    const { StackEvents = [] } = await cfn.send(
      new DescribeStackEventsCommand({ StackName: stackName }),
    );
    return StackEvents;
  } finally {
    cfn.destroy();
  }
}

/** The resources a deploy updated: `UPDATE_COMPLETE` events not among `before`'s. */
async function updatedResources(stackName: string, before: readonly { EventId?: string }[]) {
  const seen = new Set(before.map((e) => e.EventId));
  return (await stackEvents(stackName))
    .filter(
      (e) =>
        !seen.has(e.EventId) &&
        e.ResourceStatus === 'UPDATE_COMPLETE' &&
        e.ResourceType !== 'AWS::CloudFormation::Stack',
    )
    .map((e) => e.LogicalResourceId ?? '')
    .sort();
}

/** Reads the distribution through the front until it reports `Deployed` (CloudFront's wait). */
async function untilDeployed(example: DeployedExample) {
  const deadline = Date.now() + 6 * PROPAGATION_MS;
  for (;;) {
    const seen = await edge(example);
    if (seen.status === 'Deployed' || Date.now() > deadline) return seen;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const describeUsagePlan = (text: string) => (resources: Record<string, ExampleResource>) => {
  resources.UsagePlan!.Properties = { ...resources.UsagePlan!.Properties, Description: text };
};

function withComment(comment: string) {
  return (resources: Record<string, ExampleResource>) => {
    describeUsagePlan('redeployed')(resources);
    const properties = resources.Distribution!.Properties as {
      DistributionConfig: Record<string, unknown>;
    };
    properties.DistributionConfig.Comment = comment;
  };
}

describe('serverless deploy of examples/protected-api on the emulator', () => {
  let first: DeployedExample;
  let secretId: string;
  let firstEdge: Awaited<ReturnType<typeof edge>>;
  let newValueFingerprint: string;

  beforeAll(async () => {
    const referenced = await ensureReferencedSecret();
    first = await deployExample(session, { stage: STAGE });
    // The header's Fn::If turns on a stack parameter, which the read-back does not evaluate.
    const header = first.headerSecretId ?? referenced;
    if (header === undefined) {
      throw new Error('the example header references no Secrets Manager secret');
    }
    secretId = header;
    firstEdge = await edge(first);
  }, 90_000);

  it('creates the key on the plan and a distribution that sends the secret the header references', async () => {
    const secret = await secretFingerprint(secretId);
    const key = await planKey(first);
    expect(firstEdge.literalReference).toBe(false);
    expect(firstEdge.keyFingerprint).toBe(secret);
    expect(key.onPlan).toBe(true);
    // Negative control of the comparison: another value's fingerprint differs.
    expect(fingerprintOf(randomBytes(20).toString('hex'))).not.toBe(secret);
    if (secretId.startsWith('arn:')) {
      // The example's own secret: the key and the header come from one value.
      expect(key.fingerprint).toBe(secret);
    }
  });

  it('a redeploy that does not change the distribution sends the old value (as on AWS)', async () => {
    const secrets = new SecretsManagerClient(clientConfig(session));
    const value = randomBytes(24).toString('hex');
    newValueFingerprint = fingerprintOf(value);
    try {
      await secrets.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: value }));
    } finally {
      secrets.destroy();
    }
    const keyBefore = await planKey(first);
    const before = await stackEvents(first.stackName);
    const again = await deployExample(session, {
      stage: STAGE,
      edit: describeUsagePlan('redeployed'),
    });
    // The stack was updated (the usage plan), the distribution was not.
    expect(await updatedResources(again.stackName, before)).toEqual(['UsagePlan']);
    const seen = await edge(again);
    expect(again.distributionId).toBe(first.distributionId);
    expect(seen.keyFingerprint).toBe(firstEdge.keyFingerprint);
    expect(seen.keyFingerprint).not.toBe(newValueFingerprint);
    expect(seen.etag).toBe(firstEdge.etag);
    expect(front.externalUpdates).toEqual([]);
    expect(updates).toEqual([]);
    // The key is not re-resolved either: its template did not change.
    expect((await planKey(again)).fingerprint).toBe(keyBefore.fingerprint);
  });

  it('a redeploy with a change to the distribution sends the current value: new ETag, InProgress, then Deployed', async () => {
    expect(newValueFingerprint).toBeDefined();
    const before = await stackEvents(first.stackName);
    const again = await deployExample(session, {
      stage: STAGE,
      edit: withComment('keyrot example - redeployed with a new comment'),
    });
    expect(await updatedResources(again.stackName, before)).toEqual(['Distribution']);
    const seen = await edge(again);
    expect(again.distributionId).toBe(first.distributionId);
    expect(seen.comment).toBe('keyrot example - redeployed with a new comment');
    expect(seen.keyFingerprint).toBe(newValueFingerprint);
    expect(seen.etag).not.toBe(firstEdge.etag);
    expect(seen.status).toBe('InProgress');
    expect(front.externalUpdates.map((u) => u.distributionId)).toEqual([first.distributionId]);
    expect(updates).toEqual([
      expect.objectContaining({
        distributionId: first.distributionId,
        etag: seen.etag,
        external: true,
      }),
    ]);
    expect(front.distributionStatus(first.distributionId)).toBe('InProgress');

    // An UpdateDistribution holding the ETag from before the stack update is stale.
    const cloudfront = new CloudFrontClient(clientConfig(viaFront));
    try {
      await expect(
        cloudfront.send(
          new UpdateDistributionCommand({
            Id: first.distributionId,
            IfMatch: firstEdge.etag,
            DistributionConfig: seen.config,
          }),
        ),
      ).rejects.toMatchObject({ name: 'PreconditionFailed' });
    } finally {
      cloudfront.destroy();
    }

    const settled = await untilDeployed(again);
    expect(settled.status).toBe('Deployed');
    expect(settled.etag).toBe(seen.etag);
    expect(settled.keyFingerprint).toBe(newValueFingerprint);
  });
});
