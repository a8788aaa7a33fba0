/**
 * CloudFormation dynamic references to Secrets Manager on the emulator, as AWS resolves them
 * (harness/moto_cloudformation.py, `resolve_secretsmanager_dynamic_references`): by name or
 * ARN, AWSCURRENT unless a stage or version id is named, one field of a JSON secret by its
 * key, resolved when the resource is created or updated; a reference that cannot be resolved
 * fails the resource. Also `DeletionPolicy: Retain` on a resource an update removes.
 * Stacks are created with CreateStack/UpdateStack directly (no serverless: it is the
 * emulator's CloudFormation under test).
 */
import { randomBytes } from 'node:crypto';
import { APIGatewayClient, GetApiKeyCommand, GetApiKeysCommand } from '@aws-sdk/client-api-gateway';
import {
  CloudFormationClient,
  CreateChangeSetCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  ListStackResourcesCommand,
  ExecuteChangeSetCommand,
  GetTemplateCommand,
} from '@aws-sdk/client-cloudformation';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { fingerprintOf } from '@keyrot/shared';
import { clientConfig, openAccountSession, type AccountSession } from '../../harness/accounts';
import { startMoto, type MotoServer } from '../../harness/moto';

jest.setTimeout(60_000);
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

let moto: MotoServer;
let session: AccountSession;
let cfn: CloudFormationClient;
let apigateway: APIGatewayClient;
let secrets: SecretsManagerClient;

const value = () => randomBytes(24).toString('hex');

beforeAll(async () => {
  moto = await startMoto();
  session = await openAccountSession(moto.endpoint, '111111111111', 'us-east-1');
  cfn = new CloudFormationClient(clientConfig(session));
  apigateway = new APIGatewayClient(clientConfig(session));
  secrets = new SecretsManagerClient(clientConfig(session));
}, 60_000);

afterAll(async () => {
  cfn?.destroy();
  apigateway?.destroy();
  secrets?.destroy();
  await moto?.stop();
});

/**
 * A template of API keys whose descriptions are the given strings (dynamic references; a
 * description, since API key values must be unique).
 */
function keysTemplate(values: Record<string, string>, extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    Resources: Object.fromEntries(
      Object.entries(values).map(([logicalId, v]) => [
        logicalId,
        {
          Type: 'AWS::ApiGateway::ApiKey',
          Properties: { Name: logicalId, Description: v },
          ...extra,
        },
      ]),
    ),
  });
}

/** Creates or updates a stack by a change set, as osls deploys (moto applies it at once). */
async function deploy(stackName: string, templateBody: string, type: 'CREATE' | 'UPDATE') {
  const name = `cs-${randomBytes(4).toString('hex')}`;
  await cfn.send(
    new CreateChangeSetCommand({
      StackName: stackName,
      ChangeSetName: name,
      ChangeSetType: type,
      TemplateBody: templateBody,
    }),
  );
  await cfn.send(new ExecuteChangeSetCommand({ StackName: stackName, ChangeSetName: name }));
}

/** Reasons of the stack's failed resource events. */
async function failures(stackName: string): Promise<string[]> {
  const { StackEvents = [] } = await cfn.send(
    new DescribeStackEventsCommand({ StackName: stackName }),
  );
  return StackEvents.filter((e) => (e.ResourceStatus ?? '').endsWith('_FAILED')).map(
    (e) => `${e.LogicalResourceId}: ${e.ResourceStatusReason}`,
  );
}

async function stackStatus(stackName: string): Promise<string | undefined> {
  const { Stacks = [] } = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
  return Stacks[0]?.StackStatus;
}

/** Fingerprint of each API key's description by its name (the logical id above). */
async function keyFingerprints(): Promise<Map<string, string>> {
  const { items = [] } = await apigateway.send(new GetApiKeysCommand({ includeValues: true }));
  return new Map(items.map((k) => [k.name ?? '', fingerprintOf(k.description ?? '')]));
}

describe('{{resolve:secretsmanager:...}} on the emulator', () => {
  it('resolves by name and by ARN, a JSON key, a version stage and a version id', async () => {
    const plain = value();
    const field = value();
    const { ARN } = await secrets.send(
      new CreateSecretCommand({ Name: 'refs/plain', SecretString: plain }),
    );
    await secrets.send(
      new CreateSecretCommand({
        Name: 'refs/json',
        SecretString: JSON.stringify({ key: field, other: value() }),
      }),
    );
    const next = value();
    const { VersionId } = await secrets.send(
      new PutSecretValueCommand({ SecretId: 'refs/plain', SecretString: next }),
    );
    await deploy(
      'refs',
      keysTemplate({
        ByName: '{{resolve:secretsmanager:refs/plain:SecretString}}',
        ByArn: `{{resolve:secretsmanager:${ARN}:SecretString}}`,
        JsonKey: '{{resolve:secretsmanager:refs/json:SecretString:key}}',
        Previous: '{{resolve:secretsmanager:refs/plain:SecretString::AWSPREVIOUS}}',
        ByVersion: `{{resolve:secretsmanager:refs/plain:SecretString:::${VersionId}}}`,
        Embedded: 'prefix-{{resolve:secretsmanager:refs/plain:SecretString}}',
      }),
      'CREATE',
    );
    expect(await failures('refs')).toEqual([]);
    expect(await stackStatus('refs')).toBe('CREATE_COMPLETE');
    const keys = await keyFingerprints();
    expect(keys.get('ByName')).toBe(fingerprintOf(next));
    expect(keys.get('ByArn')).toBe(fingerprintOf(next));
    expect(keys.get('JsonKey')).toBe(fingerprintOf(field));
    expect(keys.get('Previous')).toBe(fingerprintOf(plain));
    expect(keys.get('ByVersion')).toBe(fingerprintOf(next));
    expect(keys.get('Embedded')).toBe(fingerprintOf(`prefix-${next}`));
    // The stored template keeps the references, not the values.
    const { TemplateBody = '' } = await cfn.send(new GetTemplateCommand({ StackName: 'refs' }));
    expect(TemplateBody).toContain('{{resolve:secretsmanager:refs/plain:SecretString}}');
    expect(TemplateBody).not.toContain(next);
  });

  it('fails the resource when the secret does not exist (negative control)', async () => {
    await deploy(
      'refs-missing',
      keysTemplate({ Missing: '{{resolve:secretsmanager:refs/no-such-secret:SecretString}}' }),
      'CREATE',
    );
    expect(await stackStatus('refs-missing')).toBe('CREATE_FAILED');
    const { StackEvents = [] } = await cfn.send(
      new DescribeStackEventsCommand({ StackName: 'refs-missing' }),
    );
    expect(
      StackEvents.some(
        (e) => e.LogicalResourceId === 'Missing' && e.ResourceStatus === 'CREATE_FAILED',
      ),
    ).toBe(true);
    expect((await keyFingerprints()).has('Missing')).toBe(false);
  });

  it('keeps a removed resource whose DeletionPolicy is Retain, deletes one without', async () => {
    await secrets.send(new CreateSecretCommand({ Name: 'refs/retain', SecretString: value() }));
    const ref = '{{resolve:secretsmanager:refs/retain:SecretString}}';
    const template = JSON.parse(keysTemplate({ Kept: ref })) as {
      Resources: Record<string, unknown>;
    };
    (template.Resources.Kept as Record<string, unknown>).DeletionPolicy = 'Retain';
    template.Resources.Dropped = {
      Type: 'AWS::ApiGateway::ApiKey',
      Properties: { Name: 'Dropped' },
    };
    await deploy('retain', JSON.stringify(template), 'CREATE');
    const created = await cfn.send(new ListStackResourcesCommand({ StackName: 'retain' }));
    const idOf = (logicalId: string) =>
      created.StackResourceSummaries?.find((r) => r.LogicalResourceId === logicalId)
        ?.PhysicalResourceId ?? '';
    await deploy(
      'retain',
      JSON.stringify({
        Resources: { Other: { Type: 'AWS::ApiGateway::ApiKey', Properties: { Name: 'Other' } } },
      }),
      'UPDATE',
    );
    expect(await stackStatus('retain')).toBe('UPDATE_COMPLETE');
    await expect(
      apigateway.send(new GetApiKeyCommand({ apiKey: idOf('Kept') })),
    ).resolves.toMatchObject({
      name: 'Kept',
    });
    await expect(
      apigateway.send(new GetApiKeyCommand({ apiKey: idOf('Dropped') })),
    ).rejects.toMatchObject({ name: 'NotFoundException' });
  });
});
