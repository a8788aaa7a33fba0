import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { AwsCallError, DynamoDbLedger, type StepOf, type StepRecord } from '../src';
import { actor, API_ACCOUNT, TARGET } from '../../test/support/fixtures';

/*
 * The ledger sends through DynamoDBDocumentClient.from(client), whose commands never reach
 * DynamoDBClient#send; so the document client is mocked (and the raw client too, to prove
 * nothing bypasses it).
 */
const docMock = mockClient(DynamoDBDocumentClient);
const rawMock = mockClient(DynamoDBClient);

const TABLE = 'keyrot-ledger';
const ROTATION = 'rot_20261125T090000Z_abc123';
const OTHER_ROTATION = 'rot_20261124T090000Z_zzz999';

function newLedger() {
  const client = new DynamoDBClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  return new DynamoDbLedger(client, TABLE);
}

const requested: StepOf<'REQUESTED'> = {
  rotationId: ROTATION,
  target: 'kloudpepper-api-key',
  step: 'REQUESTED',
  at: '2026-11-25T09:00:00.000Z',
  actor: actor(API_ACCOUNT),
  reason: 'scheduled',
  targetSpec: { ...TARGET, name: 'kloudpepper-api-key' },
};

const heldLock = {
  PK: 'TARGET#kloudpepper-api-key',
  SK: 'LOCK',
  target: 'kloudpepper-api-key',
  rotationId: OTHER_ROTATION,
  acquiredAt: '2026-11-25T08:00:00.000Z',
  expiresAt: '2026-11-25T14:00:00.000Z',
};

function cancelled(...codes: string[]) {
  return new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: { httpStatusCode: 400 },
    CancellationReasons: codes.map((Code) => ({ Code })),
  });
}

const conditionFailed = () =>
  new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: { httpStatusCode: 400 },
  });

function putItems() {
  return docMock.commandCalls(PutCommand).map((call) => call.args[0].input.Item ?? {});
}

function transactItems() {
  return docMock
    .commandCalls(TransactWriteCommand)
    .flatMap((call) => call.args[0].input.TransactItems ?? []);
}

afterEach(() => {
  docMock.reset();
  rawMock.reset();
});

describe('DynamoDbLedger', () => {
  describe('begin', () => {
    it('takes the lock and records REQUESTED in one conditional transaction', async () => {
      docMock.on(TransactWriteCommand).resolves({});

      const result = await newLedger().begin(requested, 3600);

      expect(result).toEqual({ status: 'started' });
      const [lockWrite, stepWrite] = transactItems();
      expect(lockWrite?.Put?.Item).toMatchObject({
        PK: 'TARGET#kloudpepper-api-key',
        SK: 'LOCK',
        rotationId: ROTATION,
        acquiredAt: requested.at,
        expiresAt: '2026-11-25T10:00:00.000Z',
      });
      expect(lockWrite?.Put?.ConditionExpression).toBeDefined();
      expect(stepWrite?.Put?.Item).toMatchObject({ PK: `ROTATION#${ROTATION}`, step: 'REQUESTED' });
      expect(stepWrite?.Put?.ConditionExpression).toBe('attribute_not_exists(PK)');
    });

    it('records REFUSED and names the holder when the lock condition cancels the transaction', async () => {
      docMock.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed', 'None'));
      docMock.on(GetCommand).resolves({ Item: heldLock });
      docMock.on(PutCommand).resolves({});

      const result = await newLedger().begin(requested, 3600);

      expect(result).toEqual({
        status: 'refused',
        holder: {
          target: 'kloudpepper-api-key',
          rotationId: OTHER_ROTATION,
          acquiredAt: heldLock.acquiredAt,
          expiresAt: heldLock.expiresAt,
        },
      });
      expect(putItems()).toEqual([
        expect.objectContaining({
          PK: `ROTATION#${ROTATION}`,
          rotationId: ROTATION,
          step: 'REFUSED',
          lockedBy: OTHER_ROTATION,
          lockExpiresAt: heldLock.expiresAt,
        }),
      ]);
      expect(docMock.commandCalls(GetCommand)[0]?.args[0].input.ConsistentRead).toBe(true);
    });

    it('treats a redelivered request (REQUESTED already recorded) as started', async () => {
      docMock.on(TransactWriteCommand).rejects(cancelled('None', 'ConditionalCheckFailed'));

      await expect(newLedger().begin(requested, 3600)).resolves.toEqual({ status: 'started' });
      expect(docMock.commandCalls(PutCommand)).toHaveLength(0);
    });

    it('reports any other failure as an AwsCallError', async () => {
      docMock
        .on(TransactWriteCommand)
        .rejects(
          new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }),
        );

      const error = await newLedger()
        .begin(requested, 3600)
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(AwsCallError);
      expect(JSON.stringify(putItems())).not.toContain('REFUSED');
    });
  });

  describe('record', () => {
    const step: StepRecord = {
      ...requested,
      step: 'KEY_CREATED',
      newKey: { id: 'abc123', fingerprint: '0123456789ab' },
    };

    it('appends a step once, conditionally', async () => {
      docMock.on(PutCommand).resolves({});

      await expect(newLedger().record(step)).resolves.toBe(true);
      const put = docMock.commandCalls(PutCommand)[0]?.args[0].input;
      expect(put?.TableName).toBe(TABLE);
      expect(put?.ConditionExpression).toBe('attribute_not_exists(PK)');
      expect(put?.Item).toMatchObject({ step: 'KEY_CREATED', newKey: step.newKey });
    });

    it('returns false when the step is already recorded (a redelivery)', async () => {
      docMock.on(PutCommand).rejects(conditionFailed());

      await expect(newLedger().record(step)).resolves.toBe(false);
    });

    it('throws a retryable AwsCallError when DynamoDB throttles', async () => {
      const throttling = Object.assign(new Error('Rate exceeded'), {
        name: 'ThrottlingException',
        $metadata: { httpStatusCode: 400 },
      });
      docMock.on(PutCommand).rejects(throttling);

      const error = await newLedger()
        .record(step)
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(AwsCallError);
      expect((error as AwsCallError).retryable).toBe(true);
    });

    it('reports provisioned throughput exceeded (DynamoDB throttling) as retryable', async () => {
      docMock.on(PutCommand).rejects(
        new ProvisionedThroughputExceededException({
          message: 'The level of configured provisioned throughput for the table was exceeded',
          $metadata: { httpStatusCode: 400 },
        }),
      );

      const error = await newLedger()
        .record(step)
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(AwsCallError);
      expect((error as AwsCallError).retryable).toBe(true);
    });
  });

  describe('finish', () => {
    const failed = {
      ...requested,
      step: 'FAILED' as const,
      at: '2026-11-25T09:05:00.000Z',
      error: { name: 'OriginNotFoundError', message: 'no origin', retryable: false },
      stage: 'edge' as const,
      rolledBack: true,
      newKeyMayBeAtEdge: false,
    };

    it('records the outcome and releases the lock only if this rotation holds it', async () => {
      docMock.on(TransactWriteCommand).resolves({});

      await newLedger().finish(failed);

      const [outcome, release] = transactItems();
      expect(outcome?.Put?.Item).toMatchObject({ PK: `ROTATION#${ROTATION}`, step: 'FAILED' });
      // Failed rotations of a month are one Query on the outcome index.
      expect(outcome?.Put?.Item).toMatchObject({ GSI2PK: 'OUTCOME#2026-11' });
      expect(release?.Delete?.Key).toEqual({ PK: 'TARGET#kloudpepper-api-key', SK: 'LOCK' });
      expect(release?.Delete?.ExpressionAttributeValues).toEqual({ ':rid': ROTATION });
    });

    it('tolerates an outcome that is already recorded', async () => {
      docMock.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed', 'None'));

      await expect(newLedger().finish(failed)).resolves.toBeUndefined();
      expect(docMock.commandCalls(PutCommand)).toHaveLength(0);
    });

    it('still records the outcome when another rotation has taken the expired lock', async () => {
      docMock.on(TransactWriteCommand).rejects(cancelled('None', 'ConditionalCheckFailed'));
      docMock.on(PutCommand).resolves({});

      await newLedger().finish(failed);

      expect(putItems()).toEqual([
        expect.objectContaining({ step: 'FAILED', rotationId: ROTATION }),
      ]);
    });

    it('throws an AwsCallError for any other failure', async () => {
      docMock.on(TransactWriteCommand).rejects(new Error('socket hang up'));

      await expect(newLedger().finish(failed)).rejects.toBeInstanceOf(AwsCallError);
    });
  });

  describe('reads', () => {
    it("returns one rotation's timeline with a consistent Query, without table keys", async () => {
      docMock.on(QueryCommand).resolves({
        Items: [
          {
            PK: `ROTATION#${ROTATION}`,
            SK: 'STEP#01#REQUESTED',
            GSI1PK: 'TARGET#kloudpepper-api-key',
            GSI1SK: `${requested.at}#${ROTATION}#STEP#01#REQUESTED`,
            ...requested,
          },
        ],
      });

      const timeline = await newLedger().timeline(ROTATION);

      expect(timeline).toEqual([requested]);
      const query = docMock.commandCalls(QueryCommand)[0]?.args[0].input;
      // Only the step items: the rotation's lease shares its partition.
      expect(query?.ExpressionAttributeValues).toEqual({
        ':pk': `ROTATION#${ROTATION}`,
        ':steps': 'STEP#',
      });
      expect(query?.ConsistentRead).toBe(true);
    });

    it("returns a target's history newest first from the target index", async () => {
      docMock.on(QueryCommand).resolves({ Items: [] });

      await newLedger().history('kloudpepper-api-key', 10);

      const query = docMock.commandCalls(QueryCommand)[0]?.args[0].input;
      expect(query).toMatchObject({
        IndexName: 'GSI1',
        ExpressionAttributeValues: { ':pk': 'TARGET#kloudpepper-api-key' },
        ScanIndexForward: false,
        Limit: 10,
      });
    });

    it('returns the lock holder, or undefined when the target is free', async () => {
      docMock.on(GetCommand).resolvesOnce({ Item: heldLock }).resolvesOnce({});
      const ledger = newLedger();

      await expect(ledger.lockOf('kloudpepper-api-key')).resolves.toEqual({
        target: 'kloudpepper-api-key',
        rotationId: OTHER_ROTATION,
        acquiredAt: heldLock.acquiredAt,
        expiresAt: heldLock.expiresAt,
      });
      await expect(ledger.lockOf('kloudpepper-api-key')).resolves.toBeUndefined();
    });

    it("lists the keys it vouches for: the target's current key and its adopted keys", async () => {
      docMock.on(QueryCommand).resolves({
        Items: [
          { PK: 'TARGET#kloudpepper-api-key', SK: 'LOCK', rotationId: OTHER_ROTATION },
          { PK: 'TARGET#kloudpepper-api-key', SK: 'KEY', key: { id: 'k-current' } },
          { PK: 'TARGET#kloudpepper-api-key', SK: 'ADOPTED#k-adopted', keyId: 'k-adopted' },
          { PK: 'TARGET#kloudpepper-api-key', SK: 'SPEC', targetSpec: TARGET },
        ],
      });

      const owned = await newLedger().ownedKeys('kloudpepper-api-key');

      expect(owned.sort()).toEqual(['k-adopted', 'k-current']);
      const query = docMock.commandCalls(QueryCommand)[0]?.args[0].input;
      expect(query?.ExpressionAttributeValues).toEqual({ ':pk': 'TARGET#kloudpepper-api-key' });
      expect(query?.ConsistentRead).toBe(true);
    });

    it('wraps a failed read in an AwsCallError', async () => {
      docMock.on(QueryCommand).rejects(new Error('network down'));

      await expect(newLedger().timeline(ROTATION)).rejects.toBeInstanceOf(AwsCallError);
    });
  });

  it('answers everything with Get, Query, Put and transactions, never a Scan', async () => {
    docMock.on(TransactWriteCommand).rejectsOnce(cancelled('ConditionalCheckFailed', 'None'));
    docMock.on(TransactWriteCommand).resolves({});
    docMock.on(GetCommand).resolves({ Item: heldLock });
    docMock.on(PutCommand).resolves({});
    docMock.on(QueryCommand).resolves({ Items: [] });
    const ledger = newLedger();

    await ledger.begin(requested, 3600);
    await ledger.begin({ ...requested, rotationId: OTHER_ROTATION }, 3600);
    await ledger.record({ ...requested, step: 'KEYS_LISTED', keys: [] });
    await ledger.finish({
      ...requested,
      step: 'COMPLETED',
      newKey: { id: 'abc123', fingerprint: '0123456789ab' },
      keys: [],
    });
    await ledger.timeline(ROTATION);
    await ledger.history('kloudpepper-api-key');
    await ledger.lockOf('kloudpepper-api-key');

    const sent = [...docMock.calls(), ...rawMock.calls()].map(
      (call) => (call.args[0] as object).constructor.name,
    );
    expect(sent.length).toBeGreaterThanOrEqual(7);
    expect(sent.filter((name) => /Scan/.test(name))).toEqual([]);
    expect(new Set(sent)).toEqual(
      new Set(['TransactWriteCommand', 'GetCommand', 'PutCommand', 'QueryCommand']),
    );
  });
});
