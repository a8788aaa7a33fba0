/**
 * Scratch check of the local world: starts moto, provisions both accounts, reads everything back
 * and records the moto behaviours keyrot relies on (error names, HTTP statuses, message shapes).
 * Exits non-zero if any expectation fails. Never prints a key value (output is redacted).
 *
 * Run: npx tsx harness/check-provision.ts
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
} from '@aws-sdk/client-api-gateway';
import {
  CloudFrontClient,
  GetDistributionCommand,
  GetDistributionConfigCommand,
  type Origin,
} from '@aws-sdk/client-cloudfront';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ledgerTableDefinition } from '../shared/src/ledger/table';
import { clientConfig, type AccountSession } from './accounts';
import { startMoto, type MotoServer } from './moto';
import {
  API_ACCOUNT_ID,
  API_KEY_HEADER_NAME,
  INITIAL_KEY_NAME,
  OTHER_CLIENT_KEY_NAME,
  OTHER_HEADER_NAME,
  OTHER_HEADER_VALUE,
  STATIC_ORIGIN_HEADER_NAME,
  STATIC_ORIGIN_ID,
  provisionTwoAccounts,
  readScheduledRotation,
  type LocalWorld,
} from './provision';

const PROVISION_BUDGET_MS = 2_000;

/** Secrets that must never reach the output; `say` replaces them. */
const secrets: string[] = [];
const failures: string[] = [];

/** Prints a line with every known secret replaced by [REDACTED]. */
function say(text: string): void {
  console.log(secrets.reduce((line, secret) => line.split(secret).join('[REDACTED]'), text));
}

/** Records an expectation; failures make the script exit 1. */
function expect(condition: boolean, description: string): void {
  say(`${condition ? 'ok  ' : 'FAIL'} ${description}`);
  if (!condition) {
    failures.push(description);
  }
}

/** Prints an observed moto behaviour. */
function finding(label: string, value: unknown): void {
  say(`  finding: ${label}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
}

/** Name, HTTP status and message of an SDK error. */
interface ErrorShape {
  name: string;
  status: number | undefined;
  message: string;
}

function errorShape(error: unknown): ErrorShape {
  if (!(error instanceof Error)) {
    return { name: typeof error, status: undefined, message: String(error) };
  }
  const metadata = (error as { $metadata?: { httpStatusCode?: number } }).$metadata;
  return { name: error.name, status: metadata?.httpStatusCode, message: error.message };
}

/** Runs `call` expecting it to fail; returns the error's shape (or undefined if it succeeded). */
async function failureOf(call: () => Promise<unknown>): Promise<ErrorShape | undefined> {
  try {
    await call();
    return undefined;
  } catch (error) {
    return errorShape(error);
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const moto = await startMoto();
  say(`moto up on ${moto.endpoint} in ${Date.now() - started} ms`);
  try {
    const world = await timedProvision(moto, false);
    secrets.push(world.initialKeyValue.reveal());
    checkRedaction(world);
    await checkApiGateway(world);
    await checkCloudFront(world);
    await checkLedgerAndSchedule(world);
    await checkEventsAndTaps(world);
    await checkKms(world);
    await checkErrors(world);
    await checkSingleAccount(moto);
  } finally {
    await moto.stop();
    await moto.stop();
  }
  say(`done in ${Date.now() - started} ms`);
  if (failures.length > 0) {
    say(`${failures.length} expectation(s) failed:\n- ${failures.join('\n- ')}`);
    process.exitCode = 1;
  }
}

/** Provisions and checks the time budget. */
async function timedProvision(moto: MotoServer, singleAccount: boolean): Promise<LocalWorld> {
  const t0 = Date.now();
  const world = await provisionTwoAccounts(moto.endpoint, { singleAccount });
  const elapsed = Date.now() - t0;
  expect(
    elapsed < PROVISION_BUDGET_MS,
    `provisioned (${singleAccount ? 'single' : 'two'}-account) in ${elapsed} ms`,
  );
  return world;
}

/** The world never shows the key value when printed or serialised. */
function checkRedaction(world: LocalWorld): void {
  const value = world.initialKeyValue.reveal();
  expect(value.length >= 20, `initial key value has ${value.length} chars (>= 20)`);
  expect(!JSON.stringify(world).includes(value), 'JSON.stringify(world) hides the key value');
  expect(!inspect(world, { depth: 10 }).includes(value), 'util.inspect(world) hides the key value');
  expect(!`${world.initialKeyValue}`.includes(value), 'template string hides the key value');
}

async function checkApiGateway(world: LocalWorld): Promise<void> {
  const { api } = world;
  const apigw = new APIGatewayClient(clientConfig(api.session));
  try {
    const planKeys = await apigw.send(
      new GetUsagePlanKeysCommand({ usagePlanId: api.usagePlanId }),
    );
    const items = planKeys.items ?? [];
    const ids = items.map((k) => k.id).sort();
    expect(
      JSON.stringify(ids) === JSON.stringify([api.initialKeyId, api.otherClientKeyId].sort()),
      'usage plan has exactly the initial and the partner key',
    );
    const fields = [...new Set(items.flatMap((k) => Object.keys(k)))].sort();
    finding('GetUsagePlanKeys item fields', fields);
    finding(
      'GetUsagePlanKeys items carry `value`',
      items.every((k) => typeof k.value === 'string'),
    );
    expect(
      items.every((k) => k.type === 'API_KEY'),
      'usage plan keys have type API_KEY',
    );

    const initial = await apigw.send(
      new GetApiKeysCommand({ nameQuery: INITIAL_KEY_NAME, includeValues: false }),
    );
    const initialItem = initial.items?.find((k) => k.id === api.initialKeyId);
    expect(
      initial.items?.length === 1 && initialItem !== undefined,
      'GetApiKeys finds the key by name',
    );
    finding('GetApiKeys(includeValues=false) item has `value`', initialItem?.value !== undefined);
    finding('GetApiKeys item fields', Object.keys(initialItem ?? {}).sort());
    finding('initial key tags', initialItem?.tags ?? null);
    expect(
      Object.keys(initialItem?.tags ?? {}).length === 0 && initialItem?.enabled === true,
      'initial key is enabled and untagged',
    );

    const partner = await apigw.send(
      new GetApiKeysCommand({ nameQuery: 'partner', includeValues: false }),
    );
    const partnerItem = partner.items?.find((k) => k.name === OTHER_CLIENT_KEY_NAME);
    finding('GetApiKeys nameQuery "partner" (prefix) returns tags', partnerItem?.tags ?? null);
    expect(partnerItem?.tags?.['owner'] === 'partner', 'partner key has tag owner=partner');
    const substring = await apigw.send(new GetApiKeysCommand({ nameQuery: 'api-key' }));
    finding('GetApiKeys nameQuery "api-key" (not a prefix) count', substring.items?.length ?? 0);

    const withValue = await apigw.send(
      new GetApiKeyCommand({ apiKey: api.initialKeyId, includeValue: true }),
    );
    expect(withValue.value === world.initialKeyValue.reveal(), 'GetApiKey(includeValue) matches');
    const withoutValue = await apigw.send(new GetApiKeyCommand({ apiKey: api.initialKeyId }));
    finding('GetApiKey without includeValue has `value`', withoutValue.value !== undefined);

    const edgeKeys = await new APIGatewayClient(clientConfig(world.edge.session)).send(
      new GetApiKeysCommand({}),
    );
    expect((edgeKeys.items ?? []).length === 0, 'edge account sees no API keys (isolation)');
  } finally {
    apigw.destroy();
  }
}

async function checkCloudFront(world: LocalWorld): Promise<void> {
  const { edge } = world;
  const cloudfront = new CloudFrontClient(clientConfig(edge.session));
  try {
    const config = await cloudfront.send(
      new GetDistributionConfigCommand({ Id: edge.distributionId }),
    );
    finding('GetDistributionConfig ETag', config.ETag ?? null);
    expect(
      typeof config.ETag === 'string' && config.ETag.length > 0,
      'distribution config has an ETag',
    );
    const origins = config.DistributionConfig?.Origins?.Items ?? [];
    const apiOrigin = origins.find((o) => o.Id === edge.originId);
    const headers = headerMap(apiOrigin);
    expect(
      headers.get(API_KEY_HEADER_NAME) === world.initialKeyValue.reveal(),
      'x-api-key = initial key',
    );
    expect(headers.get(OTHER_HEADER_NAME) === OTHER_HEADER_VALUE, `${OTHER_HEADER_NAME} present`);
    expect(
      apiOrigin?.DomainName === `${world.api.restApiId}.execute-api.us-east-1.amazonaws.com` &&
        apiOrigin.OriginPath === '/prod' &&
        apiOrigin.CustomOriginConfig?.OriginProtocolPolicy === 'https-only',
      'API origin: execute-api domain, /prod, https-only',
    );
    const staticOrigin = origins.find((o) => o.Id === STATIC_ORIGIN_ID);
    expect(headerMap(staticOrigin).has(STATIC_ORIGIN_HEADER_NAME), 'static origin has its header');
    expect(
      config.DistributionConfig?.DefaultCacheBehavior?.TargetOriginId === edge.originId,
      'default behaviour targets api-gateway-origin',
    );
    finding(
      'CacheBehaviors round-trip',
      config.DistributionConfig?.CacheBehaviors?.Items?.map((b) => b.PathPattern) ?? null,
    );
    const distribution = await cloudfront.send(
      new GetDistributionCommand({ Id: edge.distributionId }),
    );
    finding('GetDistribution Status right after create', distribution.Distribution?.Status ?? null);
    const again = await cloudfront.send(new GetDistributionCommand({ Id: edge.distributionId }));
    finding('GetDistribution Status on second read', again.Distribution?.Status ?? null);
    finding(
      'GetDistribution ETag equals GetDistributionConfig ETag',
      distribution.ETag === config.ETag,
    );
  } finally {
    cloudfront.destroy();
  }
}

/** Header name -> value of an origin's custom headers. */
function headerMap(origin: Origin | undefined): Map<string, string | undefined> {
  return new Map(
    (origin?.CustomHeaders?.Items ?? []).map((h) => [h.HeaderName ?? '', h.HeaderValue]),
  );
}

async function checkLedgerAndSchedule(world: LocalWorld): Promise<void> {
  const { api } = world;
  const dynamodb = new DynamoDBClient(clientConfig(api.session));
  try {
    const { Table } = await dynamodb.send(
      new DescribeTableCommand({ TableName: api.ledgerTableName }),
    );
    const expected = ledgerTableDefinition(api.ledgerTableName).GlobalSecondaryIndexes?.length;
    expect(
      Table?.TableStatus === 'ACTIVE' && Table.GlobalSecondaryIndexes?.length === expected,
      `ledger table ${api.ledgerTableName} ACTIVE with ${expected} GSIs`,
    );
  } finally {
    dynamodb.destroy();
  }
  const schedule = await readScheduledRotation(
    api.session,
    api.scheduleName,
    api.scheduleGroupName,
  );
  finding('schedule read back', schedule);
  expect(
    schedule.input === JSON.stringify(world.scheduleInput) &&
      schedule.detailType === 'KeyRotationRequested' &&
      schedule.source === 'keyrot' &&
      schedule.busArn === api.busArn,
    'schedule input/detail-type/source/target round-trip',
  );
  const input = JSON.parse(schedule.input) as Record<string, unknown>;
  expect(
    input['DISTRIBUTION_ID'] === world.edge.distributionId &&
      input['USAGE_PLAN_ID'] === api.usagePlanId &&
      input['API_KEY_NAME'] === INITIAL_KEY_NAME &&
      input['ORIGIN_ID'] === 'api-gateway-origin',
    'schedule input is the seed flat form with the provisioned ids',
  );
}

/** PutEvents on `busName` as `session`, then reads the envelope from `tapQueueUrl`. */
async function roundTrip(
  session: AccountSession,
  eventBusName: string,
  tapSession: AccountSession,
  tapQueueUrl: string,
): Promise<Record<string, unknown> | undefined> {
  const events = new EventBridgeClient(clientConfig(session));
  const sqs = new SQSClient(clientConfig(tapSession));
  try {
    const put = await events.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: eventBusName,
            Source: 'keyrot',
            DetailType: 'KeyRotationRequested',
            Detail: JSON.stringify({ probe: session.accountId }),
          },
        ],
      }),
    );
    finding(`PutEvents as ${session.accountId} to ${eventBusName} result`, put.Entries ?? null);
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: tapQueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
      }),
    );
    const message = received.Messages?.[0];
    if (message?.ReceiptHandle) {
      await sqs.send(
        new DeleteMessageCommand({ QueueUrl: tapQueueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
    }
    return message?.Body === undefined
      ? undefined
      : (JSON.parse(message.Body) as Record<string, unknown>);
  } finally {
    events.destroy();
    sqs.destroy();
  }
}

async function checkEventsAndTaps(world: LocalWorld): Promise<void> {
  const { api, edge } = world;
  for (const side of [api, edge]) {
    const envelope = await roundTrip(side.session, side.busName, side.session, side.tapQueueUrl);
    finding(`tap envelope keys (${side.session.accountId})`, Object.keys(envelope ?? {}).sort());
    finding(`tap envelope (${side.session.accountId})`, envelope ?? null);
    expect(
      envelope?.['account'] === side.session.accountId &&
        envelope['source'] === 'keyrot' &&
        envelope['detail-type'] === 'KeyRotationRequested' &&
        typeof envelope['id'] === 'string' &&
        typeof envelope['detail'] === 'object',
      `tap of ${side.session.accountId} delivers the envelope with the putter's account`,
    );
  }
  const direct = await failureOf(() =>
    new EventBridgeClient(clientConfig(edge.session)).send(
      new PutEventsCommand({
        Entries: [
          { EventBusName: api.busArn, Source: 'keyrot', DetailType: 'EdgeUpdated', Detail: '{}' },
        ],
      }),
    ),
  );
  finding('PutEvents from edge session directly to the API bus ARN', direct ?? 'succeeded');
  const [onApiTap, onEdgeTap] = await Promise.all([drain(api), drain(edge)]);
  finding('  ... events then on the API tap / on the edge tap', [
    onApiTap.length,
    onEdgeTap.length,
  ]);
  finding('  ... envelope account of the misrouted event', onEdgeTap[0]?.['account'] ?? null);
}

/** Reads (and deletes) every message on a side's tap; returns the parsed envelopes. */
async function drain(side: {
  session: AccountSession;
  tapQueueUrl: string;
}): Promise<Record<string, unknown>[]> {
  const sqs = new SQSClient(clientConfig(side.session));
  try {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: side.tapQueueUrl, MaxNumberOfMessages: 10 }),
    );
    for (const message of Messages ?? []) {
      await sqs.send(
        new DeleteMessageCommand({
          QueueUrl: side.tapQueueUrl,
          ReceiptHandle: message.ReceiptHandle,
        }),
      );
    }
    return (Messages ?? []).map((m) => JSON.parse(m.Body ?? '{}') as Record<string, unknown>);
  } finally {
    sqs.destroy();
  }
}

async function checkKms(world: LocalWorld): Promise<void> {
  const { api, edge } = world;
  const context = { rotationId: 'check-rotation' };
  const plaintext = new TextEncoder().encode('not-a-real-key-value-0123456789');
  const fromApi = await failureOf(() =>
    new KMSClient(clientConfig(api.session)).send(
      new EncryptCommand({
        KeyId: edge.kmsKeyArn,
        Plaintext: plaintext,
        EncryptionContext: context,
      }),
    ),
  );
  finding('KMS Encrypt from API account with edge key ARN', fromApi ?? 'succeeded');
  expect(fromApi !== undefined, 'cross-account KMS Encrypt fails in moto (harness must route it)');

  const kms = new KMSClient(clientConfig(edge.session));
  try {
    const encrypted = await kms.send(
      new EncryptCommand({
        KeyId: edge.kmsKeyArn,
        Plaintext: plaintext,
        EncryptionContext: context,
      }),
    );
    expect(encrypted.CiphertextBlob !== undefined, 'KMS Encrypt from the edge account works');
    const decrypted = await kms.send(
      new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob, EncryptionContext: context }),
    );
    expect(
      Buffer.from(decrypted.Plaintext ?? []).equals(Buffer.from(plaintext)),
      'KMS Decrypt with the same context round-trips',
    );
    const wrongContext = await failureOf(() =>
      kms.send(
        new DecryptCommand({
          CiphertextBlob: encrypted.CiphertextBlob,
          EncryptionContext: { rotationId: 'other' },
        }),
      ),
    );
    finding('KMS Decrypt with a different encryption context', wrongContext ?? 'succeeded');
    expect(wrongContext !== undefined, 'KMS enforces the encryption context');
    const byAlias = await failureOf(() =>
      kms.send(new EncryptCommand({ KeyId: 'alias/keyrot-edge', Plaintext: plaintext })),
    );
    finding('KMS Encrypt by alias in the edge account', byAlias ?? 'succeeded');
  } finally {
    kms.destroy();
  }
}

async function checkErrors(world: LocalWorld): Promise<void> {
  const { api, edge } = world;
  const apigw = new APIGatewayClient(clientConfig(api.session));
  const cloudfront = new CloudFrontClient(clientConfig(edge.session));
  try {
    const duplicate = await failureOf(() =>
      apigw.send(
        new CreateUsagePlanKeyCommand({
          usagePlanId: api.usagePlanId,
          keyId: api.initialKeyId,
          keyType: 'API_KEY',
        }),
      ),
    );
    finding('CreateUsagePlanKey of an already associated key', duplicate ?? 'succeeded');
    const planKeys = await apigw.send(
      new GetUsagePlanKeysCommand({ usagePlanId: api.usagePlanId }),
    );
    finding('usage plan key count after the duplicate association', planKeys.items?.length ?? 0);

    const unknownKey = await failureOf(() =>
      apigw.send(new DeleteApiKeyCommand({ apiKey: 'nosuchkey1' })),
    );
    finding('DeleteApiKey of an unknown id', unknownKey ?? 'succeeded');
    expect(unknownKey !== undefined, 'DeleteApiKey of an unknown id fails');

    let unknownPlanItems: number | undefined;
    const unknownPlan = await failureOf(async () => {
      const result = await apigw.send(new GetUsagePlanKeysCommand({ usagePlanId: 'nosuch' }));
      unknownPlanItems = result.items?.length;
    });
    finding(
      'GetUsagePlanKeys on an unknown plan id',
      unknownPlan ?? `succeeded, items: ${unknownPlanItems}`,
    );

    const unknownAssociation = await failureOf(() =>
      apigw.send(
        new CreateUsagePlanKeyCommand({
          usagePlanId: api.usagePlanId,
          keyId: 'nosuchkey1',
          keyType: 'API_KEY',
        }),
      ),
    );
    finding('CreateUsagePlanKey with an unknown key id', unknownAssociation ?? 'succeeded');

    const sameName = await apigw.send(
      new CreateApiKeyCommand({
        name: INITIAL_KEY_NAME,
        enabled: true,
        tags: { 'keyrot:rotation-id': 'check' },
      }),
    );
    if (sameName.value) {
      secrets.push(sameName.value);
    }
    const byName = await apigw.send(new GetApiKeysCommand({ nameQuery: INITIAL_KEY_NAME }));
    finding(
      'CreateApiKey with an existing name: keys now listed under that name',
      byName.items?.length ?? 0,
    );
    finding(
      '  ... tags of the new key in GetApiKeys',
      byName.items?.find((k) => k.id === sameName.id)?.tags ?? null,
    );
    const deleted = await apigw.send(new DeleteApiKeyCommand({ apiKey: sameName.id }));
    finding('DeleteApiKey success HTTP status', deleted.$metadata.httpStatusCode ?? null);
    const deletedAgain = await failureOf(() =>
      apigw.send(new DeleteApiKeyCommand({ apiKey: sameName.id })),
    );
    finding('DeleteApiKey of an already deleted key', deletedAgain ?? 'succeeded');

    const unknownDistribution = await failureOf(() =>
      cloudfront.send(new GetDistributionConfigCommand({ Id: 'E0000000000000' })),
    );
    finding('GetDistributionConfig on an unknown id', unknownDistribution ?? 'succeeded');
    expect(unknownDistribution !== undefined, 'GetDistributionConfig of an unknown id fails');
  } finally {
    apigw.destroy();
    cloudfront.destroy();
  }
}

/** After a reset, single-account mode: one account, one bus, one tap. */
async function checkSingleAccount(moto: MotoServer): Promise<void> {
  await moto.reset();
  const world = await timedProvision(moto, true);
  secrets.push(world.initialKeyValue.reveal());
  expect(
    world.api.session.accountId === API_ACCOUNT_ID &&
      world.edge.session.accountId === API_ACCOUNT_ID &&
      world.edge.busArn === world.api.busArn &&
      world.edge.tapQueueUrl === world.api.tapQueueUrl,
    'single-account world: one account, one bus, one tap',
  );
  const envelope = await roundTrip(
    world.api.session,
    world.api.busName,
    world.api.session,
    world.api.tapQueueUrl,
  );
  expect(envelope?.['account'] === API_ACCOUNT_ID, 'single-account tap receives events');
}

main().catch((error: unknown) => {
  const shape = errorShape(error);
  say(`check-provision crashed: ${shape.name}: ${shape.message}`);
  process.exitCode = 1;
});
