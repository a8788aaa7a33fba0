import {
  APIGatewayClient,
  CreateApiKeyCommand,
  DeleteApiKeyCommand,
} from '@aws-sdk/client-api-gateway';
import {
  CloudFrontClient,
  GetDistributionCommand,
  GetDistributionConfigCommand,
  UpdateDistributionCommand,
} from '@aws-sdk/client-cloudfront';
import {
  DeleteItemCommand,
  DynamoDBClient,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  DeleteScheduleCommand,
  GetScheduleCommand,
  SchedulerClient,
} from '@aws-sdk/client-scheduler';
import {
  DescribeSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import {
  ApiGatewayKeyStore,
  DynamoDbLedger,
  EventBridgePublisher,
  KmsKeySealer,
  rotationContext,
  SecretValue,
  type StepOf,
} from '@keyrot/shared';
import { CloudFrontEdgeConfig } from '../../../services/edge-updater/src/adapters/cloudfront-edge';
import { SchedulerDeploymentChecks } from '../../../services/edge-updater/src/adapters/scheduler-checks';
import {
  COVERED_OPERATIONS,
  credentialScope,
  describeCall,
  UnknownCallError,
  type DescribedCall,
  type HttpCall,
  type ResourceLookups,
} from '../../iam/describe-call';
import {
  CALLER_ACCOUNT as A,
  capture,
  captureOne,
  clientConfig,
  EDGE_ACCOUNT as E,
  REGION,
} from './capture';

const TABLE = `arn:aws:dynamodb:${REGION}:${A}:table/keyrot-ledger`;
const BUS = `arn:aws:events:${REGION}:${A}:event-bus/keyrot`;
const EDGE_KEY = `arn:aws:kms:${REGION}:${E}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const ROTATION = 'rot_20261125T090000Z_test0001';
const TARGET = {
  name: 'kloudpepper-api-key',
  apiKeyName: 'kloudpepper-api-key',
  usagePlanId: '0aj0l3',
  distributionId: 'E1MTSB8DGIOBI2',
  originId: 'api-gateway-origin',
  headerName: 'x-api-key',
};

const describe_ = (call: HttpCall, lookups?: ResourceLookups) => describeCall(call, A, lookups);

/** The IAM requests without `aws:RequestedRegion`, which every one of them carries. */
function iamOf(described: DescribedCall) {
  return described.iam.map(({ action, resource, context }) => {
    const { 'aws:RequestedRegion': region, ...rest } = context;
    expect(region).toBe(REGION);
    return { action, resource, context: rest };
  });
}

describe('credentialScope', () => {
  it('reads access key, region and service from a SigV4 Authorization header', () => {
    expect(
      credentialScope({
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKID/20261202/eu-west-1/dynamodb/aws4_request, SignedHeaders=host, Signature=ab',
      }),
    ).toEqual({ accessKeyId: 'AKID', date: '20261202', region: 'eu-west-1', service: 'dynamodb' });
  });

  it('refuses an unsigned request', () => {
    expect(() => credentialScope({})).toThrow(/not a SigV4 Authorization header/);
  });
});

describe('describeCall: API Gateway (key-store)', () => {
  const store = (endpoint: string) =>
    new ApiGatewayKeyStore(new APIGatewayClient(clientConfig(endpoint)));

  it('GetUsagePlanKeys: apigateway:GET on the plan keys', async () => {
    const call = await captureOne((e) => store(e).listPlanKeys('0aj0l3'));
    const described = await describe_(call);
    expect(described).toMatchObject({
      service: 'apigateway',
      operation: 'GetUsagePlanKeys',
      region: REGION,
      accessKeyId: 'AKIDCAPTURE000000001',
    });
    expect(iamOf(described)).toEqual([
      {
        action: 'apigateway:GET',
        resource: `arn:aws:apigateway:${REGION}::/usageplans/0aj0l3/keys`,
        context: {},
      },
    ]);
  });

  it('GetApiKeys: apigateway:GET on the key collection (query string ignored)', async () => {
    const call = await captureOne((e) => store(e).listKeysNamed('kloudpepper-api-key'));
    expect(call.path).toContain('?');
    const described = await describe_(call);
    expect(described.operation).toBe('GetApiKeys');
    expect(iamOf(described)).toEqual([
      { action: 'apigateway:GET', resource: `arn:aws:apigateway:${REGION}::/apikeys`, context: {} },
    ]);
  });

  it('GetApiKey: apigateway:GET on the key', async () => {
    const call = await captureOne((e) => store(e).getKeyValue('k3y1d'));
    const described = await describe_(call);
    expect(described.operation).toBe('GetApiKey');
    expect(iamOf(described)).toEqual([
      {
        action: 'apigateway:GET',
        resource: `arn:aws:apigateway:${REGION}::/apikeys/k3y1d`,
        context: {},
      },
    ]);
  });

  it('CreateApiKey with tags: POST on /apikeys and PUT on the new key’s /tags path', async () => {
    const tags = { 'keyrot:managed': 'true', 'keyrot:target': 'kp', 'keyrot:rotation': ROTATION };
    const call = await captureOne((e) => store(e).createKey('kloudpepper-api-key', tags));
    const described = await describe_(call);
    expect(described.operation).toBe('CreateApiKey');
    const requestTags = {
      'aws:RequestTag/keyrot:managed': 'true',
      'aws:RequestTag/keyrot:target': 'kp',
      'aws:RequestTag/keyrot:rotation': ROTATION,
      'aws:TagKeys': ['keyrot:managed', 'keyrot:target', 'keyrot:rotation'],
    };
    expect(iamOf(described)).toEqual([
      {
        action: 'apigateway:POST',
        resource: `arn:aws:apigateway:${REGION}::/apikeys`,
        context: requestTags,
      },
      {
        action: 'apigateway:PUT',
        resource: `arn:aws:apigateway:${REGION}::/tags/arn%3Aaws%3Aapigateway%3A${REGION}%3A%3A%2Fapikeys%2F*`,
        context: requestTags,
      },
    ]);
  });

  it('CreateApiKey without tags: the POST alone', async () => {
    const call = await captureOne((e) =>
      new APIGatewayClient(clientConfig(e)).send(new CreateApiKeyCommand({ name: 'plain' })),
    );
    expect(iamOf(await describe_(call))).toEqual([
      {
        action: 'apigateway:POST',
        resource: `arn:aws:apigateway:${REGION}::/apikeys`,
        context: {},
      },
    ]);
  });

  it('CreateUsagePlanKey: apigateway:POST on the plan keys', async () => {
    const call = await captureOne((e) => store(e).addToPlan('0aj0l3', 'k3y1d'));
    const described = await describe_(call);
    expect(described.operation).toBe('CreateUsagePlanKey');
    expect(iamOf(described)).toEqual([
      {
        action: 'apigateway:POST',
        resource: `arn:aws:apigateway:${REGION}::/usageplans/0aj0l3/keys`,
        context: {},
      },
    ]);
  });

  it('DeleteApiKey: apigateway:DELETE on the key, with its tags from the lookup', async () => {
    const call = await captureOne((e) => store(e).deleteKey('k3y1d'));
    const asked: string[] = [];
    const lookups: ResourceLookups = {
      resourceTags: (arn) => {
        asked.push(arn);
        return Promise.resolve(
          arn.endsWith('/apikeys/k3y1d') ? { 'keyrot:managed': 'true' } : undefined,
        );
      },
    };
    const described = await describe_(call, lookups);
    expect(described.operation).toBe('DeleteApiKey');
    expect(asked).toEqual([`arn:aws:apigateway:${REGION}::/apikeys/k3y1d`]);
    expect(iamOf(described)).toEqual([
      {
        action: 'apigateway:DELETE',
        resource: `arn:aws:apigateway:${REGION}::/apikeys/k3y1d`,
        context: { 'aws:ResourceTag/keyrot:managed': 'true' },
      },
    ]);
  });

  it('DeleteApiKey without lookups: no resource tags in the context', async () => {
    const call = await captureOne((e) =>
      new APIGatewayClient(clientConfig(e)).send(new DeleteApiKeyCommand({ apiKey: 'k3y1d' })),
    );
    expect(iamOf(await describe_(call))[0]?.context).toEqual({});
  });
});

describe('describeCall: KMS (sealer)', () => {
  const sealer = (endpoint: string) => new KmsKeySealer(new KMSClient(clientConfig(endpoint)));
  const context = rotationContext(ROTATION, 'kloudpepper-api-key', 'k3y1d');
  const kmsContext = {
    'kms:CallerAccount': A,
    'kms:EncryptionContext:keyrot:rotationId': ROTATION,
    'kms:EncryptionContext:keyrot:target': 'kloudpepper-api-key',
    'kms:EncryptionContext:keyrot:keyId': 'k3y1d',
    'kms:EncryptionContextKeys': ['keyrot:rotationId', 'keyrot:target', 'keyrot:keyId'],
  };

  it('Encrypt: kms:Encrypt on the key in the other account, with the encryption context', async () => {
    const call = await captureOne((e) =>
      sealer(e).seal(EDGE_KEY, new SecretValue('v4lue'), context),
    );
    const described = await describe_(call);
    expect(described).toMatchObject({ service: 'kms', operation: 'Encrypt' });
    expect(iamOf(described)).toEqual([
      { action: 'kms:Encrypt', resource: EDGE_KEY, context: kmsContext },
    ]);
  });

  it('Decrypt: kms:Decrypt on the key, with the encryption context', async () => {
    const call = await captureOne((e) => sealer(e).open(EDGE_KEY, 'c2VhbGVk', context));
    const described = await describe_(call);
    expect(described.operation).toBe('Decrypt');
    expect(iamOf(described)).toEqual([
      { action: 'kms:Decrypt', resource: EDGE_KEY, context: kmsContext },
    ]);
  });

  it('a bare key id is a key of the caller’s account', async () => {
    const call = await captureOne((e) => sealer(e).seal('abcd-1234', new SecretValue('v'), {}));
    expect(iamOf(await describe_(call))).toEqual([
      {
        action: 'kms:Encrypt',
        resource: `arn:aws:kms:${REGION}:${A}:key/abcd-1234`,
        context: { 'kms:CallerAccount': A },
      },
    ]);
  });

  it('refuses an alias KeyId rather than guess the key', async () => {
    const call = await captureOne((e) => sealer(e).seal('alias/keyrot', new SecretValue('v'), {}));
    await expect(describe_(call)).rejects.toThrow(/alias/);
  });
});

describe('describeCall: Secrets Manager (current-key references)', () => {
  const NAME = 'keyrot/prod/kloudpepper-api-key/current-key';
  const ARN = `arn:aws:secretsmanager:${REGION}:${A}:secret:${NAME}-AbC123`;
  const lookups: ResourceLookups = {
    secretArn: async (name, account, region) =>
      name === NAME && account === A && region === REGION ? ARN : undefined,
  };
  const secrets = (e: string) => new SecretsManagerClient(clientConfig(e));

  it.each([
    [
      'PutSecretValue',
      (e: string) =>
        secrets(e).send(
          new PutSecretValueCommand({ SecretId: NAME, SecretString: 'v', ClientRequestToken: 't' }),
        ),
    ],
    [
      'DescribeSecret',
      (e: string) => secrets(e).send(new DescribeSecretCommand({ SecretId: NAME })),
    ],
    [
      'UpdateSecretVersionStage',
      (e: string) =>
        secrets(e).send(
          new UpdateSecretVersionStageCommand({
            SecretId: NAME,
            VersionStage: 'AWSCURRENT',
            MoveToVersionId: 'a',
            RemoveFromVersionId: 'b',
          }),
        ),
    ],
  ])('%s: on the secret the name resolves to (its full ARN)', async (operation, send) => {
    const call = await captureOne(send);
    expect(iamOf(await describe_(call, lookups))).toEqual([
      { action: `secretsmanager:${operation}`, resource: ARN, context: {} },
    ]);
  });

  it('refuses a name no lookup resolves rather than guess the ARN', async () => {
    const call = await captureOne((e) =>
      secrets(e).send(new DescribeSecretCommand({ SecretId: NAME })),
    );
    await expect(describe_(call)).rejects.toThrow(/no lookup resolves it/);
  });
});

describe('describeCall: EventBridge (publisher)', () => {
  const publisher = (endpoint: string, bus = 'keyrot') =>
    new EventBridgePublisher(new EventBridgeClient(clientConfig(endpoint)), bus);

  it('PutEvents: events:PutEvents on the bus, with the entry’s source and detail type', async () => {
    const call = await captureOne((e) =>
      publisher(e).publish('RotationFailed', {
        version: 2,
        rotationId: ROTATION,
        target: TARGET,
        stage: 'issue',
        error: { name: 'Error', message: 'boom', retryable: false },
        newKeyMayBeAtEdge: false,
        rolledBack: true,
        failedAt: '2026-11-25T09:00:00.000Z',
        actor: { function: 'issuer', account: A },
      }),
    );
    const described = await describe_(call);
    expect(described).toMatchObject({ service: 'events', operation: 'PutEvents' });
    expect(iamOf(described)).toEqual([
      {
        action: 'events:PutEvents',
        resource: BUS,
        context: { 'events:source': ['keyrot'], 'events:detail-type': ['RotationFailed'] },
      },
    ]);
  });

  it('one request per entry, each on its own bus (a name, an ARN, the default bus)', async () => {
    const call = await captureOne((e) =>
      new EventBridgeClient(clientConfig(e)).send(
        new PutEventsCommand({
          Entries: [
            { EventBusName: 'keyrot', Source: 'keyrot', DetailType: 'KeyCreated', Detail: '{}' },
            {
              EventBusName: `arn:aws:events:${REGION}:${E}:event-bus/keyrot`,
              Source: 'other',
              DetailType: 'EdgeUpdated',
              Detail: '{}',
            },
            { Source: 'keyrot', DetailType: 'KeyRotationRequested', Detail: '{}' },
          ],
        }),
      ),
    );
    expect(iamOf(await describe_(call))).toEqual([
      {
        action: 'events:PutEvents',
        resource: BUS,
        context: { 'events:source': ['keyrot'], 'events:detail-type': ['KeyCreated'] },
      },
      {
        action: 'events:PutEvents',
        resource: `arn:aws:events:${REGION}:${E}:event-bus/keyrot`,
        context: { 'events:source': ['other'], 'events:detail-type': ['EdgeUpdated'] },
      },
      {
        action: 'events:PutEvents',
        resource: `arn:aws:events:${REGION}:${A}:event-bus/default`,
        context: { 'events:source': ['keyrot'], 'events:detail-type': ['KeyRotationRequested'] },
      },
    ]);
  });
});

describe('describeCall: DynamoDB (ledger)', () => {
  const ledger = (endpoint: string) =>
    new DynamoDbLedger(new DynamoDBClient(clientConfig(endpoint)), 'keyrot-ledger');
  const requested: StepOf<'REQUESTED'> = {
    rotationId: ROTATION,
    target: 'kloudpepper-api-key',
    step: 'REQUESTED',
    at: '2026-11-25T09:00:00.000Z',
    actor: { function: 'issuer', account: A },
    reason: 'scheduled',
    targetSpec: TARGET,
  };
  const failed: StepOf<'FAILED'> = {
    ...requested,
    step: 'FAILED',
    stage: 'issue',
    error: { name: 'Error', message: 'boom', retryable: false },
    rolledBack: false,
    newKeyMayBeAtEdge: false,
  };
  const inTransaction = { 'dynamodb:EnclosingOperation': 'TransactWriteItems' };

  it('TransactWriteItems (begin): one dynamodb:PutItem per entry', async () => {
    const call = await captureOne((e) => ledger(e).begin(requested, 3600));
    const described = await describe_(call);
    expect(described).toMatchObject({ service: 'dynamodb', operation: 'TransactWriteItems' });
    expect(iamOf(described)).toEqual([
      { action: 'dynamodb:PutItem', resource: TABLE, context: inTransaction },
      { action: 'dynamodb:PutItem', resource: TABLE, context: inTransaction },
      { action: 'dynamodb:PutItem', resource: TABLE, context: inTransaction },
    ]);
  });

  it('TransactWriteItems (finish): PutItem and DeleteItem', async () => {
    const call = await captureOne((e) => ledger(e).finish(failed));
    expect(iamOf(await describe_(call)).map((r) => r.action)).toEqual([
      'dynamodb:PutItem',
      'dynamodb:DeleteItem',
    ]);
  });

  it('TransactWriteItems with Update and ConditionCheck entries', async () => {
    const call = await captureOne((e) =>
      new DynamoDBClient(clientConfig(e)).send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: 'other-table',
                Key: { PK: { S: 'a' } },
                ConditionExpression: 'attribute_exists(PK)',
              },
            },
            {
              Update: {
                TableName: 'keyrot-ledger',
                Key: { PK: { S: 'a' }, SK: { S: 'b' } },
                UpdateExpression: 'SET x = :x',
                ExpressionAttributeValues: { ':x': { S: '1' } },
              },
            },
          ],
        }),
      ),
    );
    expect(iamOf(await describe_(call))).toEqual([
      {
        action: 'dynamodb:ConditionCheckItem',
        resource: `arn:aws:dynamodb:${REGION}:${A}:table/other-table`,
        context: inTransaction,
      },
      { action: 'dynamodb:UpdateItem', resource: TABLE, context: inTransaction },
    ]);
  });

  it('PutItem (record)', async () => {
    const call = await captureOne((e) =>
      ledger(e).record({
        ...requested,
        step: 'KEY_SENT',
        newKey: { id: 'abc123', fingerprint: '0123456789ab' },
        keys: [],
      }),
    );
    const described = await describe_(call);
    expect(described.operation).toBe('PutItem');
    expect(iamOf(described)).toEqual([
      { action: 'dynamodb:PutItem', resource: TABLE, context: {} },
    ]);
  });

  it('GetItem (lockOf)', async () => {
    const call = await captureOne((e) => ledger(e).lockOf('kloudpepper-api-key'));
    const described = await describe_(call);
    expect(described.operation).toBe('GetItem');
    expect(iamOf(described)).toEqual([
      { action: 'dynamodb:GetItem', resource: TABLE, context: {} },
    ]);
  });

  it('Query on the table (timeline) and on an index (history: table/T/index/I)', async () => {
    const onTable = await captureOne((e) => ledger(e).timeline(ROTATION));
    const onIndex = await captureOne((e) => ledger(e).history('kloudpepper-api-key'));
    expect(iamOf(await describe_(onTable))).toEqual([
      { action: 'dynamodb:Query', resource: TABLE, context: {} },
    ]);
    const described = await describe_(onIndex);
    expect(described.operation).toBe('Query');
    expect(iamOf(described)).toEqual([
      { action: 'dynamodb:Query', resource: `${TABLE}/index/GSI1`, context: {} },
    ]);
  });

  it('DeleteItem and UpdateItem, with ReturnValues as a condition key', async () => {
    const deleted = await captureOne((e) =>
      new DynamoDBClient(clientConfig(e)).send(
        new DeleteItemCommand({
          TableName: 'keyrot-ledger',
          Key: { PK: { S: 'a' }, SK: { S: 'b' } },
          ReturnValues: 'ALL_OLD',
        }),
      ),
    );
    const updated = await captureOne((e) =>
      new DynamoDBClient(clientConfig(e)).send(
        new UpdateItemCommand({
          TableName: TABLE, // a table ARN is a table name too
          Key: { PK: { S: 'a' }, SK: { S: 'b' } },
          UpdateExpression: 'SET x = :x',
          ExpressionAttributeValues: { ':x': { S: '1' } },
        }),
      ),
    );
    expect(iamOf(await describe_(deleted))).toEqual([
      {
        action: 'dynamodb:DeleteItem',
        resource: TABLE,
        context: { 'dynamodb:ReturnValues': 'ALL_OLD' },
      },
    ]);
    expect(iamOf(await describe_(updated))).toEqual([
      { action: 'dynamodb:UpdateItem', resource: TABLE, context: {} },
    ]);
  });
});

describe('describeCall: CloudFront (edge config)', () => {
  const DISTRIBUTION = `arn:aws:cloudfront::${A}:distribution/E1MTSB8DGIOBI2`;
  const cloudfront = (endpoint: string) => new CloudFrontClient(clientConfig(endpoint));

  it('GetDistributionConfig (readHeader) and GetDistribution (deployment)', async () => {
    const edge = (endpoint: string) => new CloudFrontEdgeConfig(cloudfront(endpoint));
    const config = await captureOne((e) => edge(e).readHeader(TARGET));
    const distribution = await captureOne((e) => edge(e).deployment(TARGET));
    const configCall = await describe_(config);
    expect(configCall).toMatchObject({ service: 'cloudfront', operation: 'GetDistributionConfig' });
    expect(iamOf(configCall)).toEqual([
      { action: 'cloudfront:GetDistributionConfig', resource: DISTRIBUTION, context: {} },
    ]);
    const distributionCall = await describe_(distribution);
    expect(distributionCall.operation).toBe('GetDistribution');
    expect(iamOf(distributionCall)).toEqual([
      { action: 'cloudfront:GetDistribution', resource: DISTRIBUTION, context: {} },
    ]);
  });

  it('UpdateDistribution', async () => {
    const call = await captureOne((e) =>
      cloudfront(e).send(
        new UpdateDistributionCommand({
          Id: 'E1MTSB8DGIOBI2',
          IfMatch: 'E2CAPTURE',
          DistributionConfig: {
            CallerReference: 'ref',
            Comment: '',
            Enabled: true,
            Origins: { Quantity: 0, Items: [] },
            DefaultCacheBehavior: { TargetOriginId: 'o', ViewerProtocolPolicy: 'https-only' },
          },
        }),
      ),
    );
    const described = await describe_(call);
    expect(described.operation).toBe('UpdateDistribution');
    expect(iamOf(described)).toEqual([
      { action: 'cloudfront:UpdateDistribution', resource: DISTRIBUTION, context: {} },
    ]);
  });

  it('a raw GetDistribution and GetDistributionConfig map the same', async () => {
    const calls = await capture(async (e) => {
      await cloudfront(e)
        .send(new GetDistributionCommand({ Id: 'EABC' }))
        .catch(() => undefined);
      await cloudfront(e).send(new GetDistributionConfigCommand({ Id: 'EABC' }));
    });
    const described = await Promise.all(calls.map((c) => describe_(c)));
    expect(described.map((d) => d.operation)).toEqual(['GetDistribution', 'GetDistributionConfig']);
  });
});

describe('describeCall: EventBridge Scheduler (deployment checks)', () => {
  const GROUP = 'keyrot-deploy-checks-prod';
  const ROLE = `arn:aws:iam::${A}:role/keyrot-deploy-check-prod`;
  const scheduler = (endpoint: string) => new SchedulerClient(clientConfig(endpoint));

  it('CreateSchedule: the schedule in its group, and iam:PassRole of the target role', async () => {
    const checks = (endpoint: string) =>
      new SchedulerDeploymentChecks(scheduler(endpoint), {
        groupName: GROUP,
        roleArn: ROLE,
        busArn: BUS,
      });
    const call = await captureOne((e) =>
      checks(e).schedule(
        {
          version: 1,
          rotationId: ROTATION,
          target: TARGET,
          newKey: { id: 'newkey0001', fingerprint: '0123456789ab' },
          previousFingerprint: 'ba9876543210',
          updatedAt: '2026-11-25T09:01:00.000Z',
          deadline: '2026-11-25T11:00:00.000Z',
          check: 2,
        },
        new Date('2026-11-25T09:16:00.000Z'),
      ),
    );
    const described = await describe_(call);
    expect(described).toMatchObject({ service: 'scheduler', operation: 'CreateSchedule' });
    const [create, passRole] = iamOf(described);
    expect(create).toEqual({
      action: 'scheduler:CreateSchedule',
      resource: expect.stringMatching(
        new RegExp(`^arn:aws:scheduler:${REGION}:${A}:schedule/${GROUP}/keyrot-check-[0-9a-f]+-2$`),
      ),
      context: {},
    });
    expect(passRole).toEqual({
      action: 'iam:PassRole',
      resource: ROLE,
      context: { 'iam:PassedToService': 'scheduler.amazonaws.com' },
    });
  });

  it('GetSchedule and DeleteSchedule: the group from the query string, else default', async () => {
    const calls = await capture(async (e) => {
      await scheduler(e)
        .send(new GetScheduleCommand({ Name: 'one', GroupName: GROUP }))
        .catch(() => undefined);
      await scheduler(e).send(new DeleteScheduleCommand({ Name: 'two' }));
    });
    const [get, remove] = await Promise.all(calls.map((c) => describe_(c)));
    expect(get!.operation).toBe('GetSchedule');
    expect(iamOf(get!)).toEqual([
      {
        action: 'scheduler:GetSchedule',
        resource: `arn:aws:scheduler:${REGION}:${A}:schedule/${GROUP}/one`,
        context: {},
      },
    ]);
    expect(remove!.operation).toBe('DeleteSchedule');
    expect(iamOf(remove!)).toEqual([
      {
        action: 'scheduler:DeleteSchedule',
        resource: `arn:aws:scheduler:${REGION}:${A}:schedule/default/two`,
        context: {},
      },
    ]);
  });
});

describe('describeCall: calls it does not know', () => {
  it('throws, naming service, method and path, for every protocol', async () => {
    const sqs = await captureOne((e) =>
      new SQSClient(clientConfig(e)).send(
        new SendMessageCommand({ QueueUrl: `${e}/${A}/q`, MessageBody: 'x' }),
      ),
    );
    const sts = await captureOne((e) =>
      new STSClient(clientConfig(e)).send(new GetCallerIdentityCommand({})),
    );
    const lambda = await captureOne((e) =>
      new LambdaClient(clientConfig(e)).send(new InvokeCommand({ FunctionName: 'f' })),
    );
    await expect(describe_(sqs)).rejects.toThrow(
      new UnknownCallError('sqs', 'POST', sqs.path, 'SendMessage'),
    );
    await expect(describe_(sts)).rejects.toThrow(
      /no IAM mapping for sts POST \/ \(operation GetCallerIdentity\)/,
    );
    await expect(describe_(lambda)).rejects.toThrow(
      /no IAM mapping for lambda POST \/2015-03-31\/functions\/f\/invocations/,
    );
    await expect(describe_(lambda)).rejects.toBeInstanceOf(UnknownCallError);
  });

  it('an operation of a known service that is not mapped is unknown too', async () => {
    const call = await captureOne((e) =>
      new KMSClient(clientConfig(e)).send(
        // DescribeKey: KMS, but no keyrot function calls it.
        new DescribeKeyCommand({ KeyId: EDGE_KEY }),
      ),
    );
    await expect(describe_(call)).rejects.toThrow(
      /no IAM mapping for kms POST \/ \(operation DescribeKey\)/,
    );
  });

  it('lists what it covers', () => {
    expect(COVERED_OPERATIONS).toEqual({
      apigateway: [
        'GetUsagePlanKeys',
        'CreateUsagePlanKey',
        'GetApiKeys',
        'CreateApiKey',
        'GetApiKey',
        'DeleteApiKey',
      ],
      cloudfront: ['GetDistributionConfig', 'UpdateDistribution', 'GetDistribution'],
      scheduler: ['CreateSchedule', 'GetSchedule', 'DeleteSchedule'],
      dynamodb: ['GetItem', 'PutItem', 'DeleteItem', 'UpdateItem', 'Query', 'TransactWriteItems'],
      kms: ['Encrypt', 'Decrypt'],
      events: ['PutEvents'],
      secretsmanager: ['PutSecretValue', 'DescribeSecret', 'UpdateSecretVersionStage'],
    });
  });
});
