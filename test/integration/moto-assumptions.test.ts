/**
 * The moto behaviours keyrot and its local world rely on (error names, HTTP statuses, response
 * shapes, and where moto differs from AWS, noted as "AWS: ..."), checked on the provisioned
 * local world. When moto changes one of them, the test naming it fails. Key values are only
 * compared inside `expect`, as booleans, so that a failure cannot print them.
 */
import { inspect } from 'node:util';
import {
  APIGatewayClient,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  GetApiKeyCommand,
  GetApiKeysCommand,
  GetUsagePlanKeysCommand,
  TagResourceCommand,
} from '@aws-sdk/client-api-gateway';
import {
  CloudFrontClient,
  GetDistributionCommand,
  GetDistributionConfigCommand,
  UpdateDistributionCommand,
  type Origin,
} from '@aws-sdk/client-cloudfront';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ledgerTableDefinition } from '../../shared/src/ledger/table';
import { clientConfig, type AccountSession } from '../../harness/accounts';
import type { LocalEnvironment, LocalEnvironmentOptions } from '../../harness/local-env';
import {
  API_ACCOUNT_ID,
  API_KEY_HEADER_NAME,
  EDGE_KMS_ALIAS,
  INITIAL_KEY_NAME,
  OTHER_CLIENT_KEY_NAME,
  OTHER_HEADER_NAME,
  OTHER_HEADER_VALUE,
  STATIC_ORIGIN_HEADER_NAME,
  STATIC_ORIGIN_HEADER_VALUE,
  STATIC_ORIGIN_ID,
  STATIC_PATH_PATTERN,
  readScheduledRotation,
} from '../../harness/provision';
import { failureOf } from '../support/fixtures';
import { useMoto } from '../support/local';

jest.setTimeout(60_000);

const fixture = useMoto();

/**
 * One world for every test of the enclosing `describe`, provisioned in its `beforeAll`. The
 * fixture's `afterEach` only ends the world's log capture; the world itself stays in moto until
 * the next `fixture.world()` resets it. So no test may change what another test sharing it reads.
 */
function sharedWorld(options?: Omit<LocalEnvironmentOptions, 'moto'>): () => LocalEnvironment {
  let env: LocalEnvironment | undefined;
  beforeAll(async () => {
    env = await fixture.world(options);
  });
  return () => env!;
}

/** Every SDK client a test opens; destroyed once the file is done. */
const clients: { destroy(): void }[] = [];
afterAll(() => {
  for (const client of clients.splice(0)) client.destroy();
});

function apiGateway(session: AccountSession): APIGatewayClient {
  return opened(new APIGatewayClient(clientConfig(session)));
}
function cloudFront(session: AccountSession): CloudFrontClient {
  return opened(new CloudFrontClient(clientConfig(session)));
}
function kms(session: AccountSession): KMSClient {
  return opened(new KMSClient(clientConfig(session)));
}
function events(session: AccountSession): EventBridgeClient {
  return opened(new EventBridgeClient(clientConfig(session)));
}
function opened<C extends { destroy(): void }>(client: C): C {
  clients.push(client);
  return client;
}

/**
 * {@link failureOf} reduced to the error's name and HTTP status. Never the call's answer nor
 * the whole error: either may hold a key value, and a failed expectation would print it.
 */
async function redactedFailureOf(
  call: Promise<unknown>,
): Promise<{ name: string; status: number | undefined }> {
  const error = await failureOf(call);
  const { name, $metadata } = error as Error & { $metadata?: { httpStatusCode?: number } };
  return { name, status: $metadata?.httpStatusCode };
}

/** The ids of the keys on a usage plan, sorted. */
async function planKeyIds(env: LocalEnvironment): Promise<string[]> {
  const { items } = await apiGateway(env.world.api.session).send(
    new GetUsagePlanKeysCommand({ usagePlanId: env.world.api.usagePlanId }),
  );
  return (items ?? []).map((k) => k.id ?? '').sort();
}

/** Header name -> value of an origin's custom headers. */
function headerMap(origin: Origin | undefined): Map<string, string | undefined> {
  return new Map(
    (origin?.CustomHeaders?.Items ?? []).map((h) => [h.HeaderName ?? '', h.HeaderValue]),
  );
}

/** A `KeyRotationRequested` probe event on `eventBusName` (a name or an ARN). */
function probeEvent(eventBusName: string, probe: string) {
  return new PutEventsCommand({
    Entries: [
      {
        EventBusName: eventBusName,
        Source: 'keyrot',
        DetailType: 'KeyRotationRequested',
        Detail: JSON.stringify({ probe }),
      },
    ],
  });
}

/** Reads (and deletes) every message on a side's tap queue; returns the parsed envelopes. */
async function drainTap(side: {
  session: AccountSession;
  tapQueueUrl: string;
}): Promise<Record<string, unknown>[]> {
  const sqs = opened(new SQSClient(clientConfig(side.session)));
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: side.tapQueueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
    }),
  );
  for (const message of Messages) {
    await sqs.send(
      new DeleteMessageCommand({
        QueueUrl: side.tapQueueUrl,
        ReceiptHandle: message.ReceiptHandle,
      }),
    );
  }
  return Messages.map((m) => JSON.parse(m.Body ?? '{}') as Record<string, unknown>);
}

describe('the provisioned world', () => {
  const world = sharedWorld();
  let env: LocalEnvironment;
  beforeAll(() => {
    env = world();
  });

  it('the initial key value is at least 20 characters long', () => {
    expect(env.world.initialKeyValue.reveal().length).toBeGreaterThanOrEqual(20);
  });

  it('JSON.stringify, util.inspect and template strings of the world hide the key value', () => {
    const value = env.world.initialKeyValue.reveal();
    expect(JSON.stringify(env.world).includes(value)).toBe(false);
    expect(inspect(env.world, { depth: 10 }).includes(value)).toBe(false);
    expect(`${env.world.initialKeyValue}`.includes(value)).toBe(false);
  });
});

describe('API Gateway', () => {
  const shared = sharedWorld();

  it('the usage plan holds exactly the initial and the partner key, as API_KEY', async () => {
    const { api } = shared().world;
    const { items = [] } = await apiGateway(api.session).send(
      new GetUsagePlanKeysCommand({ usagePlanId: api.usagePlanId }),
    );
    expect(items.map((k) => k.id).sort()).toEqual([api.initialKeyId, api.otherClientKeyId].sort());
    expect(items.map((k) => k.type)).toEqual(['API_KEY', 'API_KEY']);
  });

  it("GetUsagePlanKeys returns each key's value", async () => {
    const { world } = shared();
    const apigw = apiGateway(world.api.session);
    const { items = [] } = await apigw.send(
      new GetUsagePlanKeysCommand({ usagePlanId: world.api.usagePlanId }),
    );
    expect([...new Set(items.flatMap((k) => Object.keys(k)))].sort()).toEqual([
      'id',
      'name',
      'type',
      'value',
    ]);
    const partner = await apigw.send(
      new GetApiKeyCommand({ apiKey: world.api.otherClientKeyId, includeValue: true }),
    );
    const valueOf = (id: string) => items.find((k) => k.id === id)?.value;
    expect(valueOf(world.api.initialKeyId) === world.initialKeyValue.reveal()).toBe(true);
    expect(
      partner.value !== undefined && valueOf(world.api.otherClientKeyId) === partner.value,
    ).toBe(true);
  });

  it('GetApiKeys without includeValues lists a key without its value, and no tags when untagged', async () => {
    const { api } = shared().world;
    const { items = [] } = await apiGateway(api.session).send(
      new GetApiKeysCommand({ nameQuery: INITIAL_KEY_NAME, includeValues: false }),
    );
    expect(items.map((k) => k.id)).toEqual([api.initialKeyId]);
    expect(Object.keys(items[0]!).sort()).toEqual([
      'createdDate',
      'enabled',
      'id',
      'lastUpdatedDate',
      'name',
      'stageKeys',
    ]);
    expect(items[0]!.enabled).toBe(true);
  });

  it('GetApiKeys nameQuery is a prefix match and returns tags', async () => {
    const apigw = apiGateway(shared().world.api.session);
    const byPrefix = await apigw.send(
      new GetApiKeysCommand({ nameQuery: 'partner', includeValues: false }),
    );
    expect(byPrefix.items?.map((k) => [k.name, k.tags])).toEqual([
      [OTHER_CLIENT_KEY_NAME, { owner: 'partner' }],
    ]);
    // 'api-key' is inside 'kloudpepper-api-key' but not at its start.
    const bySubstring = await apigw.send(new GetApiKeysCommand({ nameQuery: 'api-key' }));
    expect((bySubstring.items ?? []).map((k) => k.name)).toEqual([]);
  });

  it('GetApiKey returns the value only with includeValue', async () => {
    const { world } = shared();
    const apigw = apiGateway(world.api.session);
    const withValue = await apigw.send(
      new GetApiKeyCommand({ apiKey: world.api.initialKeyId, includeValue: true }),
    );
    const withoutValue = await apigw.send(new GetApiKeyCommand({ apiKey: world.api.initialKeyId }));
    expect(withValue.value === world.initialKeyValue.reveal()).toBe(true);
    expect(withoutValue.value === undefined).toBe(true);
  });

  it("the edge account does not see the API account's keys", async () => {
    const { items = [] } = await apiGateway(shared().world.edge.session).send(
      new GetApiKeysCommand({}),
    );
    expect(items.map((k) => k.id)).toEqual([]);
  });

  it('GetUsagePlanKeys on an unknown plan returns no items (AWS: NotFoundException)', async () => {
    const { items = [] } = await apiGateway(shared().world.api.session).send(
      new GetUsagePlanKeysCommand({ usagePlanId: 'nosuch' }),
    );
    expect(items.map((k) => k.id)).toEqual([]);
  });

  it('DeleteApiKey of an unknown id is NotFoundException 404', async () => {
    expect(
      await redactedFailureOf(
        apiGateway(shared().world.api.session).send(
          new DeleteApiKeyCommand({ apiKey: 'nosuchkey1' }),
        ),
      ),
    ).toEqual({ name: 'NotFoundException', status: 404 });
  });

  it('CreateUsagePlanKey with an unknown key id is NotFoundException 404', async () => {
    const { api } = shared().world;
    expect(
      await redactedFailureOf(
        apiGateway(api.session).send(
          new CreateUsagePlanKeyCommand({
            usagePlanId: api.usagePlanId,
            keyId: 'nosuchkey1',
            keyType: 'API_KEY',
          }),
        ),
      ),
    ).toEqual({ name: 'NotFoundException', status: 404 });
  });

  describe('changing keys', () => {
    // A scratch world of its own: each test creates and changes only its own probe keys.
    const scratch = sharedWorld();

    /** A new enabled key named `name` (tagged when `tags`), on the usage plan if `onPlan`. */
    async function probeKey(
      name: string,
      options: { onPlan?: boolean; tags?: Record<string, string> } = {},
    ) {
      const { api } = scratch().world;
      const apigw = apiGateway(api.session);
      const created = await apigw.send(
        new CreateApiKeyCommand({
          name,
          enabled: true,
          ...(options.tags ? { tags: options.tags } : {}),
        }),
      );
      const keyId = created.id!;
      if (options.onPlan) {
        await apigw.send(
          new CreateUsagePlanKeyCommand({
            usagePlanId: api.usagePlanId,
            keyId,
            keyType: 'API_KEY',
          }),
        );
      }
      return { apigw, api, keyId };
    }

    it('CreateUsagePlanKey of a key already on the plan succeeds (AWS: ConflictException)', async () => {
      const { apigw, api, keyId } = await probeKey('assumptions-twice', { onPlan: true });
      await apigw.send(
        new CreateUsagePlanKeyCommand({ usagePlanId: api.usagePlanId, keyId, keyType: 'API_KEY' }),
      );
      expect((await planKeyIds(scratch())).filter((id) => id === keyId)).toEqual([keyId]);
    });

    it('CreateApiKey with an existing name adds a second key of that name, with its tags', async () => {
      const tags = { 'keyrot:rotation-id': 'assumptions' };
      const { apigw, api, keyId } = await probeKey(INITIAL_KEY_NAME, { tags });
      const { items = [] } = await apigw.send(
        new GetApiKeysCommand({ nameQuery: INITIAL_KEY_NAME }),
      );
      expect(items.map((k) => k.id).sort()).toEqual([api.initialKeyId, keyId].sort());
      expect(items.find((k) => k.id === keyId)?.tags).toEqual(tags);
    });

    it('DeleteApiKey answers 202, then NotFoundException 404 for the same id', async () => {
      const { apigw, keyId } = await probeKey('assumptions-deleted');
      const deleted = await apigw.send(new DeleteApiKeyCommand({ apiKey: keyId }));
      expect(deleted.$metadata.httpStatusCode).toBe(202);
      expect(
        await redactedFailureOf(apigw.send(new DeleteApiKeyCommand({ apiKey: keyId }))),
      ).toEqual({
        name: 'NotFoundException',
        status: 404,
      });
    });

    it('DeleteApiKey removes the usage-plan entry, as AWS (harness/moto_server.py fixes moto)', async () => {
      const { apigw, keyId } = await probeKey('assumptions-dangling', { onPlan: true });
      expect(await planKeyIds(scratch())).toContain(keyId);
      await apigw.send(new DeleteApiKeyCommand({ apiKey: keyId }));
      expect(await planKeyIds(scratch())).not.toContain(keyId);
    });

    it("TagResource on a key's ARN merges tags into the key, as AWS (harness/moto_server.py fixes moto)", async () => {
      const { apigw, api, keyId } = await probeKey('assumptions-tagged', { tags: { a: '1' } });
      const arn = (id: string) => `arn:aws:apigateway:${api.session.region}::/apikeys/${id}`;
      await apigw.send(new TagResourceCommand({ resourceArn: arn(keyId), tags: { b: '2' } }));
      const key = await apigw.send(new GetApiKeyCommand({ apiKey: keyId }));
      expect(key.tags).toEqual({ a: '1', b: '2' });
      expect(
        await redactedFailureOf(
          apigw.send(new TagResourceCommand({ resourceArn: arn('nokey00000'), tags: { b: '2' } })),
        ),
      ).toEqual({ name: 'NotFoundException', status: 404 });
    });
  });
});

describe('CloudFront', () => {
  const shared = sharedWorld();

  it('GetDistributionConfig keeps both custom headers and the second origin', async () => {
    const { world } = shared();
    const { DistributionConfig: config } = await cloudFront(world.edge.session).send(
      new GetDistributionConfigCommand({ Id: world.edge.distributionId }),
    );
    const origins = config?.Origins?.Items ?? [];
    expect(origins.map((o) => o.Id)).toEqual([world.edge.originId, STATIC_ORIGIN_ID]);
    const apiHeaders = headerMap(origins[0]);
    expect([...apiHeaders.keys()].sort()).toEqual([API_KEY_HEADER_NAME, OTHER_HEADER_NAME]);
    expect(apiHeaders.get(API_KEY_HEADER_NAME) === world.initialKeyValue.reveal()).toBe(true);
    expect(apiHeaders.get(OTHER_HEADER_NAME)).toBe(OTHER_HEADER_VALUE);
    const staticHeaders = headerMap(origins[1]);
    expect([...staticHeaders.keys()]).toEqual([STATIC_ORIGIN_HEADER_NAME]);
    expect(staticHeaders.get(STATIC_ORIGIN_HEADER_NAME)).toBe(STATIC_ORIGIN_HEADER_VALUE);
  });

  it('the API origin is the stage on the execute-api domain, https-only', async () => {
    const { world } = shared();
    const { DistributionConfig: config } = await cloudFront(world.edge.session).send(
      new GetDistributionConfigCommand({ Id: world.edge.distributionId }),
    );
    const apiOrigin = config?.Origins?.Items?.find((o) => o.Id === world.edge.originId);
    // Only these fields: the origin also holds the key value in its headers.
    expect([
      apiOrigin?.DomainName,
      apiOrigin?.OriginPath,
      apiOrigin?.CustomOriginConfig?.OriginProtocolPolicy,
    ]).toEqual([
      `${world.api.restApiId}.execute-api.us-east-1.amazonaws.com`,
      '/prod',
      'https-only',
    ]);
  });

  it('the default behaviour targets the API origin and the static path the second one', async () => {
    const { world } = shared();
    const { DistributionConfig: config } = await cloudFront(world.edge.session).send(
      new GetDistributionConfigCommand({ Id: world.edge.distributionId }),
    );
    expect(config?.DefaultCacheBehavior?.TargetOriginId).toBe(world.edge.originId);
    expect(config?.CacheBehaviors?.Items?.map((b) => [b.PathPattern, b.TargetOriginId])).toEqual([
      [STATIC_PATH_PATTERN, STATIC_ORIGIN_ID],
    ]);
  });

  it('GetDistribution and GetDistributionConfig give the same non-empty ETag', async () => {
    const { world } = shared();
    const client = cloudFront(world.edge.session);
    const config = await client.send(
      new GetDistributionConfigCommand({ Id: world.edge.distributionId }),
    );
    const distribution = await client.send(
      new GetDistributionCommand({ Id: world.edge.distributionId }),
    );
    expect(config.ETag).toMatch(/^\S+$/);
    expect(distribution.ETag).toBe(config.ETag);
  });

  it('a new distribution is Deployed at once', async () => {
    const { world } = shared();
    const { Distribution } = await cloudFront(world.edge.session).send(
      new GetDistributionCommand({ Id: world.edge.distributionId }),
    );
    expect(Distribution?.Status).toBe('Deployed');
  });

  it('GetDistributionConfig of an unknown id is NoSuchDistribution 404', async () => {
    expect(
      await redactedFailureOf(
        cloudFront(shared().world.edge.session).send(
          new GetDistributionConfigCommand({ Id: 'E0000000000000' }),
        ),
      ),
    ).toEqual({ name: 'NoSuchDistribution', status: 404 });
  });

  describe('updating the distribution', () => {
    // A scratch world of its own: each test sets the marker header to a value of its own.
    const scratch = sharedWorld();

    /** Sets the API origin's marker header to `marker`, with a stale IfMatch. */
    async function updateMarker(marker: string) {
      const client = cloudFront(scratch().world.edge.session);
      const Id = scratch().world.edge.distributionId;
      const current = await client.send(new GetDistributionConfigCommand({ Id }));
      const config = structuredClone(current.DistributionConfig!);
      const header = config.Origins!.Items![0]!.CustomHeaders!.Items!.find(
        (h) => h.HeaderName === OTHER_HEADER_NAME,
      )!;
      header.HeaderValue = marker;
      const updated = await client.send(
        new UpdateDistributionCommand({ Id, IfMatch: 'STALE-ETAG', DistributionConfig: config }),
      );
      return { before: current.ETag, updated, client, Id };
    }

    it('UpdateDistribution ignores IfMatch and keeps the ETag', async () => {
      const { before, updated, client, Id } = await updateMarker('marker-after-stale-if-match');
      const after = await client.send(new GetDistributionConfigCommand({ Id }));
      expect(headerMap(after.DistributionConfig?.Origins?.Items?.[0]).get(OTHER_HEADER_NAME)).toBe(
        'marker-after-stale-if-match',
      );
      expect(updated.ETag).toBe(before);
      expect(after.ETag).toBe(before);
    });

    it('the distribution is Deployed right after UpdateDistribution', async () => {
      const { updated, client, Id } = await updateMarker('marker-for-status');
      const { Distribution } = await client.send(new GetDistributionCommand({ Id }));
      expect(updated.Distribution?.Status).toBe('Deployed');
      expect(Distribution?.Status).toBe('Deployed');
    });
  });
});

describe('DynamoDB and EventBridge Scheduler', () => {
  const shared = sharedWorld();

  it('the ledger table is ACTIVE with the GSIs of its definition', async () => {
    const { api } = shared().world;
    const { Table } = await opened(new DynamoDBClient(clientConfig(api.session))).send(
      new DescribeTableCommand({ TableName: api.ledgerTableName }),
    );
    const definition = ledgerTableDefinition(api.ledgerTableName);
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName).sort()).toEqual(
      definition.GlobalSecondaryIndexes?.map((i) => i.IndexName).sort(),
    );
  });

  it('GetSchedule returns the input, detail-type, source and target bus as created', async () => {
    const { world } = shared();
    const { api } = world;
    expect(
      await readScheduledRotation(api.session, api.scheduleName, api.scheduleGroupName),
    ).toEqual({
      input: JSON.stringify(world.scheduleInput),
      detailType: 'KeyRotationRequested',
      source: 'keyrot',
      busArn: api.busArn,
    });
  });

  it('the schedule input is the flat seed form with the provisioned ids', async () => {
    const { world } = shared();
    const { api } = world;
    const schedule = await readScheduledRotation(
      api.session,
      api.scheduleName,
      api.scheduleGroupName,
    );
    expect(JSON.parse(schedule.input)).toEqual({
      API_KEY_NAME: INITIAL_KEY_NAME,
      DISTRIBUTION_ID: world.edge.distributionId,
      ORIGIN_ID: 'api-gateway-origin',
      USAGE_PLAN_ID: api.usagePlanId,
    });
  });
});

describe('EventBridge', () => {
  describe('across two accounts', () => {
    const shared = sharedWorld();
    // Each test drains both taps first, so one test's events never reach another's assertions.
    beforeEach(async () => {
      await Promise.all([drainTap(shared().world.api), drainTap(shared().world.edge)]);
    });

    it.each(['api', 'edge'] as const)(
      "the %s account's tap queue receives the envelope with the putter's account",
      async (sideName) => {
        const side = shared().world[sideName];
        const put = await events(side.session).send(
          probeEvent(side.busName, side.session.accountId),
        );
        expect(put.FailedEntryCount ?? 0).toBe(0);
        const envelopes = await drainTap(side);
        expect(envelopes).toHaveLength(1);
        expect(envelopes[0]).toMatchObject({
          version: '0',
          id: put.Entries?.[0]?.EventId,
          account: side.session.accountId,
          region: 'us-east-1',
          source: 'keyrot',
          'detail-type': 'KeyRotationRequested',
          detail: { probe: side.session.accountId },
        });
        expect(Object.keys(envelopes[0]!).sort()).toEqual([
          'account',
          'detail',
          'detail-type',
          'id',
          'ingestion-time',
          'region',
          'resources',
          'source',
          'time',
          'version',
        ]);
      },
    );

    it("a PutEvents naming another account's bus ARN lands on the caller's own bus", async () => {
      const { api, edge } = shared().world;
      const put = await events(edge.session).send(probeEvent(api.busArn, 'misrouted'));
      expect(put.FailedEntryCount ?? 0).toBe(0);
      const [onApiTap, onEdgeTap] = await Promise.all([drainTap(api), drainTap(edge)]);
      expect(onApiTap).toHaveLength(0);
      expect(onEdgeTap.map((e) => [e['account'], e['detail']])).toEqual([
        [edge.session.accountId, { probe: 'misrouted' }],
      ]);
    });
  });

  describe('in single-account mode', () => {
    const world = sharedWorld({ singleAccount: true });
    let env: LocalEnvironment;
    beforeAll(() => {
      env = world();
    });

    it('single-account world shares one bus', () => {
      const { api, edge } = env.world;
      expect([api.session.accountId, edge.session.accountId]).toEqual([
        API_ACCOUNT_ID,
        API_ACCOUNT_ID,
      ]);
      expect(edge.busArn).toBe(api.busArn);
      expect(edge.tapQueueUrl).toBe(api.tapQueueUrl);
    });

    it('the single tap receives the envelope with the one account', async () => {
      const { api } = env.world;
      await drainTap(api);
      await events(api.session).send(probeEvent(api.busName, 'single'));
      const envelopes = await drainTap(api);
      expect(envelopes.map((e) => [e['account'], e['detail']])).toEqual([
        [API_ACCOUNT_ID, { probe: 'single' }],
      ]);
    });
  });
});

describe('KMS', () => {
  const shared = sharedWorld();
  const context = { rotationId: 'assumptions' };
  const plaintext = new TextEncoder().encode('not-a-real-key-value-0123456789');

  it("KMS Encrypt with another account's key ARN is NotFoundException", async () => {
    const { api, edge } = shared().world;
    expect(
      await redactedFailureOf(
        kms(api.session).send(
          new EncryptCommand({
            KeyId: edge.kmsKeyArn,
            Plaintext: plaintext,
            EncryptionContext: context,
          }),
        ),
      ),
    ).toEqual({ name: 'NotFoundException', status: 400 });
  });

  it("Encrypt then Decrypt with the same context round-trips in the key's account", async () => {
    const { edge } = shared().world;
    const client = kms(edge.session);
    const encrypted = await client.send(
      new EncryptCommand({
        KeyId: edge.kmsKeyArn,
        Plaintext: plaintext,
        EncryptionContext: context,
      }),
    );
    const decrypted = await client.send(
      new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob, EncryptionContext: context }),
    );
    expect(Buffer.from(decrypted.Plaintext ?? []).equals(Buffer.from(plaintext))).toBe(true);
  });

  it('Decrypt with a different encryption context fails', async () => {
    const { edge } = shared().world;
    const client = kms(edge.session);
    const encrypted = await client.send(
      new EncryptCommand({
        KeyId: edge.kmsKeyArn,
        Plaintext: plaintext,
        EncryptionContext: context,
      }),
    );
    expect(
      await redactedFailureOf(
        client.send(
          new DecryptCommand({
            CiphertextBlob: encrypted.CiphertextBlob,
            EncryptionContext: { rotationId: 'other' },
          }),
        ),
      ),
    ).toEqual({ name: 'InvalidCiphertextException', status: 400 });
  });

  it(`Encrypt by ${EDGE_KMS_ALIAS} works in the key's account`, async () => {
    const { edge } = shared().world;
    const encrypted = await kms(edge.session).send(
      new EncryptCommand({ KeyId: EDGE_KMS_ALIAS, Plaintext: plaintext }),
    );
    expect(encrypted.KeyId).toBe(edge.kmsKeyArn);
  });
});
