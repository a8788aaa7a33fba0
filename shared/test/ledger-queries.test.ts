import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  AwsCallError,
  DynamoDbLedger,
  DynamoDbLedgerQueries,
  monthsBetween,
  type StepOf,
  type StepRecord,
} from '../src';
import { actor, API_ACCOUNT, TARGET } from '../../test/support/fixtures';

const docMock = mockClient(DynamoDBDocumentClient);
const TABLE = 'keyrot-ledger';
const ROTATION = 'rot_20261125T090000Z_abc123';
const NEW_KEY = { id: 'newkey01', fingerprint: '0123456789ab' };

const client = () =>
  new DynamoDBClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });

const requested: StepOf<'REQUESTED'> = {
  rotationId: ROTATION,
  target: TARGET.name,
  step: 'REQUESTED',
  at: '2026-11-25T09:00:00.000Z',
  actor: actor(API_ACCOUNT),
  reason: 'manual',
  targetSpec: TARGET,
};

function transactItems() {
  return docMock
    .commandCalls(TransactWriteCommand)
    .flatMap((call) => call.args[0].input.TransactItems ?? []);
}

function queries() {
  return docMock.commandCalls(QueryCommand).map((call) => call.args[0].input);
}

afterEach(() => docMock.reset());

describe('the ledger writes the items its queries need', () => {
  it('registers the requested target in the same transaction as REQUESTED', async () => {
    docMock.on(TransactWriteCommand).resolves({});

    await new DynamoDbLedger(client(), TABLE).begin(requested, 3600);

    const spec = transactItems()[2]?.Put;
    expect(spec?.Item).toEqual({
      PK: `TARGET#${TARGET.name}`,
      SK: 'SPEC',
      GSI2PK: 'TARGETS',
      GSI2SK: TARGET.name,
      target: TARGET.name,
      targetSpec: TARGET,
      updatedAt: requested.at,
      rotationId: ROTATION,
    });
    expect(spec?.ConditionExpression).toBeUndefined();
  });

  it('records the new current key, sorted by its creation time, when a rotation completes', async () => {
    docMock.on(TransactWriteCommand).resolves({});
    const completed = {
      ...requested,
      step: 'COMPLETED' as const,
      at: '2026-11-25T09:06:00.000Z',
      newKey: NEW_KEY,
      keys: [],
      keyCreatedAt: '2026-11-25T09:00:01.000Z',
    };

    await new DynamoDbLedger(client(), TABLE).finish(completed);

    expect(transactItems()[2]?.Put?.Item).toEqual({
      PK: `TARGET#${TARGET.name}`,
      SK: 'KEY',
      GSI2PK: 'KEYS',
      GSI2SK: `2026-11-25T09:00:01.000Z#${TARGET.name}`,
      target: TARGET.name,
      rotationId: ROTATION,
      key: NEW_KEY,
      keyCreatedAt: '2026-11-25T09:00:01.000Z',
      completedAt: completed.at,
      targetSpec: TARGET,
    });
  });

  it('leaves the current key alone when a rotation fails', async () => {
    docMock.on(TransactWriteCommand).resolves({});

    await new DynamoDbLedger(client(), TABLE).finish({
      ...requested,
      step: 'FAILED',
      stage: 'edge',
      error: { name: 'OriginNotFoundError', message: 'no origin', retryable: false },
      rolledBack: true,
      newKeyMayBeAtEdge: false,
    });

    expect(transactItems()).toHaveLength(2);
    expect(docMock.commandCalls(PutCommand)).toHaveLength(0);
  });
});

describe('DynamoDbLedgerQueries', () => {
  const ledgerQueries = () => new DynamoDbLedgerQueries(client(), TABLE, 2);

  it('reads every page of a timeline, consistently, without the table keys', async () => {
    const item = (step: string) => ({ PK: `ROTATION#${ROTATION}`, SK: step, GSI1PK: 'x', step });
    docMock
      .on(QueryCommand)
      .resolvesOnce({ Items: [item('A'), item('B')], LastEvaluatedKey: { PK: 'p', SK: 'B' } })
      .resolvesOnce({ Items: [item('C')] });

    const steps = await ledgerQueries().timeline(ROTATION);

    expect(steps).toEqual([{ step: 'A' }, { step: 'B' }, { step: 'C' }]);
    expect(queries()).toEqual([
      expect.objectContaining({ ConsistentRead: true, Limit: 2 }),
      expect.objectContaining({ ExclusiveStartKey: { PK: 'p', SK: 'B' } }),
    ]);
  });

  it("reads a target's history before a time from the target index, newest first", async () => {
    docMock.on(QueryCommand).resolves({ Items: [] });

    for await (const step of ledgerQueries().targetHistory('shop', { before: '2026-11-01' })) {
      throw new Error(`unexpected ${step.step}`);
    }

    expect(queries()[0]).toMatchObject({
      IndexName: 'GSI1',
      KeyConditionExpression: '#pk = :pk AND #sk < :before',
      ExpressionAttributeValues: { ':pk': 'TARGET#shop', ':before': '2026-11-01' },
      ScanIndexForward: false,
    });
  });

  it('reads outcomes one month partition at a time, bounded by the range', async () => {
    docMock.on(QueryCommand).resolves({ Items: [] });
    const range = { since: '2026-10-15T00:00:00.000Z', until: '2026-12-02T00:00:00.000Z' };

    const seen: StepRecord[] = [];
    for await (const step of ledgerQueries().outcomes(range, { only: 'FAILED' })) seen.push(step);

    expect(seen).toEqual([]);
    expect(queries().map((q) => q.ExpressionAttributeValues)).toEqual(
      ['2026-10', '2026-11', '2026-12'].map((month) => ({
        ':pk': `OUTCOME#${month}`,
        ':from': range.since,
        ':to': `${range.until}~`,
        ':step': 'FAILED',
      })),
    );
    expect(queries()[0]).toMatchObject({ IndexName: 'GSI2', FilterExpression: '#step = :step' });
  });

  it('lists targets and keys older than a time from their GSI2 partitions', async () => {
    docMock.on(QueryCommand).resolves({ Items: [] });

    await ledgerQueries().targets();
    await ledgerQueries().currentKeys({ createdBefore: '2026-10-25T09:00:00.000Z' });

    expect(queries()).toEqual([
      expect.objectContaining({
        IndexName: 'GSI2',
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeValues: { ':pk': 'TARGETS' },
      }),
      expect.objectContaining({
        IndexName: 'GSI2',
        KeyConditionExpression: '#pk = :pk AND #sk < :before',
        ExpressionAttributeValues: { ':pk': 'KEYS', ':before': '2026-10-25T09:00:00.000Z' },
      }),
    ]);
  });

  it("reads a target's registry item, current key and lock with one Query on its partition", async () => {
    const lock = {
      PK: 'TARGET#shop',
      SK: 'LOCK',
      target: 'shop',
      rotationId: ROTATION,
      acquiredAt: '2026-11-25T09:00:00.000Z',
      expiresAt: '2026-11-25T15:00:00.000Z',
      ttl: 1,
    };
    const key = { PK: 'TARGET#shop', SK: 'KEY', GSI2PK: 'KEYS', target: 'shop', key: NEW_KEY };
    docMock.on(QueryCommand).resolves({ Items: [key, lock] });

    const state = await ledgerQueries().targetState('shop');

    expect(state).toEqual({
      target: 'shop',
      currentKey: { target: 'shop', key: NEW_KEY },
      lock: {
        target: 'shop',
        rotationId: ROTATION,
        acquiredAt: lock.acquiredAt,
        expiresAt: lock.expiresAt,
      },
    });
  });

  it('wraps a failed Query in an AwsCallError', async () => {
    docMock.on(QueryCommand).rejects(new Error('socket hang up'));

    await expect(ledgerQueries().targets()).rejects.toBeInstanceOf(AwsCallError);
  });
});

describe('monthsBetween', () => {
  it('lists every month of a range, across a year end', () => {
    expect(monthsBetween('2025-11-30T00:00:00.000Z', '2026-02-01T00:00:00.000Z')).toEqual([
      '2025-11',
      '2025-12',
      '2026-01',
      '2026-02',
    ]);
  });

  it('is empty when the range ends before it starts', () => {
    expect(monthsBetween('2026-02-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')).toEqual([]);
  });
});
