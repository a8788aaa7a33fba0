import { TransactionCanceledException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { AwsCallError } from '../errors';
import { LEDGER_ITEMS as I, LEDGER_KEYS as K } from './table';
import type { ClaimResult, Lease } from '../rotation/lease';
import { isOutcome, storedStep, STEP_ORDER, type StepOf, type StepRecord } from '../rotation/steps';
import type { AdoptResult, BeginResult, Ledger, Lock } from './types';

const pk = { rotation: I.rotationPartition, target: I.targetPartition };
const LOCK_SK = I.lockSortKey;
const LOCK_TTL_GRACE_SECONDS = 24 * 3600;
/** The TTL (epoch seconds) of a lock or lease item: removed a day after it expired. */
const ttlAfter = (expiresAt: string) =>
  Math.floor(Date.parse(expiresAt) / 1000) + LOCK_TTL_GRACE_SECONDS;
/** Sort key of a step item: `STEP#<nn>#<step>`, ordering a rotation's steps. */
export const stepSortKey = (step: StepRecord['step']) =>
  `STEP#${String(STEP_ORDER[step]).padStart(2, '0')}#${step}`;

/** The table item of a step: the record plus the keys of the table and its indexes. */
function stepItem(record: StepRecord): Record<string, unknown> {
  const item: Record<string, unknown> = {
    [K.partitionKey]: pk.rotation(record.rotationId),
    [K.sortKey]: stepSortKey(record.step),
    [K.targetIndexPartitionKey]: pk.target(record.target),
    [K.targetIndexSortKey]: `${record.at}#${record.rotationId}#${stepSortKey(record.step)}`,
    ...record,
  };
  if (isOutcome(record.step)) {
    item[K.outcomeIndexPartitionKey] = I.outcomePartition(record.at.slice(0, 7));
    item[K.outcomeIndexSortKey] = `${record.at}#${record.rotationId}`;
  }
  return item;
}

/**
 * The target registry item (`SK = SPEC`): the target as last requested, so the operator's
 * tools can list every target and know what a target is without a configuration file.
 */
function specItem(requested: StepOf<'REQUESTED'>): Record<string, unknown> {
  return {
    [K.partitionKey]: pk.target(requested.target),
    [K.sortKey]: I.specSortKey,
    [K.outcomeIndexPartitionKey]: I.targetsPartition,
    [K.outcomeIndexSortKey]: requested.target,
    target: requested.target,
    targetSpec: requested.targetSpec,
    updatedAt: requested.at,
    rotationId: requested.rotationId,
  };
}

/**
 * The target's current key item (`SK = KEY`), replaced by every completed rotation; sorted in
 * GSI2 by the key's creation time, so "keys older than N days" is one Query.
 */
function currentKeyItem(
  outcome: StepOf<'COMPLETED'> | StepOf<'FAILED'>,
): Record<string, unknown> | undefined {
  if (outcome.step !== 'COMPLETED') return undefined;
  const keyCreatedAt = outcome.keyCreatedAt ?? outcome.at;
  return {
    [K.partitionKey]: pk.target(outcome.target),
    [K.sortKey]: I.keySortKey,
    [K.outcomeIndexPartitionKey]: I.keysPartition,
    [K.outcomeIndexSortKey]: `${keyCreatedAt}#${outcome.target}`,
    target: outcome.target,
    rotationId: outcome.rotationId,
    key: outcome.newKey,
    keyCreatedAt,
    completedAt: outcome.at,
    targetSpec: outcome.targetSpec,
  };
}

/** The target's adopted-key item (`SK = ADOPTED#<keyId>`), written with ADOPTED. */
function adoptedItem(adopted: StepOf<'ADOPTED'>, keyId: string): Record<string, unknown> {
  return {
    [K.partitionKey]: pk.target(adopted.target),
    [K.sortKey]: I.adoptedSortKey(keyId),
    target: adopted.target,
    keyId,
    rotationId: adopted.rotationId,
    adoptedAt: adopted.at,
  };
}

const KEY_ATTRIBUTES: readonly string[] = Object.values(K);

/** An item as read from the table, without the table's and indexes' key attributes. */
export function withoutTableKeys(item: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(item).filter(([name]) => !KEY_ATTRIBUTES.includes(name)),
  );
}

function toRecord(item: Record<string, unknown>): StepRecord {
  return storedStep(withoutTableKeys(item));
}

const notYetRecorded = `attribute_not_exists(${K.partitionKey})`;

/**
 * {@link Ledger} on one DynamoDB table (see `table.ts` for the key design). Steps are
 * conditional puts, so a redelivered event never writes a step twice. Besides the lock, only
 * two derived items per target change: its registry entry (SPEC, written with REQUESTED) and
 * its current key (KEY, written with COMPLETED), each in the same transaction as its step.
 *
 * @example
 * const ledger = new DynamoDbLedger(new DynamoDBClient({}), 'keyrot-ledger');
 * const steps = await ledger.timeline('rot_20261125T000000Z_1a2b3c4d');
 */
export class DynamoDbLedger implements Ledger {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true },
    });
  }

  async timeline(rotationId: string): Promise<StepRecord[]> {
    const out = await this.call('Query', () =>
      this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :steps)',
          ExpressionAttributeNames: { '#pk': K.partitionKey, '#sk': K.sortKey },
          ExpressionAttributeValues: {
            ':pk': pk.rotation(rotationId),
            ':steps': I.stepSortKeyPrefix,
          },
          ConsistentRead: true,
        }),
      ),
    );
    return (out.Items ?? []).map(toRecord);
  }

  async history(target: string, limit = 100): Promise<StepRecord[]> {
    const out = await this.call('Query', () =>
      this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: K.targetIndex,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': K.targetIndexPartitionKey },
          ExpressionAttributeValues: { ':pk': pk.target(target) },
          ScanIndexForward: false,
          Limit: limit,
        }),
      ),
    );
    return (out.Items ?? []).map(toRecord);
  }

  async begin(requested: StepOf<'REQUESTED'>, lockSeconds: number): Promise<BeginResult> {
    const expiresAt = new Date(Date.parse(requested.at) + lockSeconds * 1000).toISOString();
    const lock: Lock = {
      target: requested.target,
      rotationId: requested.rotationId,
      acquiredAt: requested.at,
      expiresAt,
    };
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: {
                  [K.partitionKey]: pk.target(lock.target),
                  [K.sortKey]: LOCK_SK,
                  ...lock,
                  // DynamoDB TTL removes a lock a day after it expired (a crashed rotation's).
                  ttl: ttlAfter(expiresAt),
                },
                // Free, expired (a crashed rotation), or already ours (a redelivery).
                ConditionExpression: `${notYetRecorded} OR expiresAt < :now OR rotationId = :rid`,
                ExpressionAttributeValues: { ':now': requested.at, ':rid': lock.rotationId },
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: stepItem(requested),
                ConditionExpression: notYetRecorded,
              },
            },
            { Put: { TableName: this.tableName, Item: specItem(requested) } },
          ],
        }),
      );
      return { status: 'started' };
    } catch (error) {
      const reasons =
        error instanceof TransactionCanceledException ? error.CancellationReasons : [];
      if (reasons?.[0]?.Code === 'ConditionalCheckFailed') {
        const holder = await this.lockOf(requested.target);
        if (holder) {
          await this.record({
            ...requested,
            step: 'REFUSED',
            lockedBy: holder.rotationId,
            lockExpiresAt: holder.expiresAt,
          });
          return { status: 'refused', holder };
        }
      }
      if (reasons?.[1]?.Code === 'ConditionalCheckFailed') return { status: 'started' };
      throw new AwsCallError('TransactWriteItems', `ledger ${this.tableName}`, error);
    }
  }

  async record(step: StepRecord): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: stepItem(step),
          ConditionExpression: notYetRecorded,
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return false;
      throw new AwsCallError('PutItem', `ledger ${this.tableName}`, error);
    }
  }

  async finish(outcome: StepOf<'COMPLETED'> | StepOf<'FAILED'>): Promise<void> {
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: stepItem(outcome),
                ConditionExpression: notYetRecorded,
              },
            },
            {
              Delete: {
                TableName: this.tableName,
                Key: { [K.partitionKey]: pk.target(outcome.target), [K.sortKey]: LOCK_SK },
                ConditionExpression: `${notYetRecorded} OR rotationId = :rid`,
                ExpressionAttributeValues: { ':rid': outcome.rotationId },
              },
            },
            ...this.plainPut(currentKeyItem(outcome)),
          ],
        }),
      );
    } catch (error) {
      const reasons =
        error instanceof TransactionCanceledException ? error.CancellationReasons : [];
      const [outcomeReason, lockReason] = reasons ?? [];
      if (outcomeReason?.Code === 'ConditionalCheckFailed') return; // already finished
      if (lockReason?.Code === 'ConditionalCheckFailed') {
        // The lock expired and another rotation took it: record the outcome, keep its lock.
        const recorded = await this.record(outcome);
        const keyItem = currentKeyItem(outcome);
        if (recorded && keyItem) {
          await this.call('PutItem', () =>
            this.doc.send(new PutCommand({ TableName: this.tableName, Item: keyItem })),
          );
        }
        return;
      }
      throw new AwsCallError('TransactWriteItems', `ledger ${this.tableName}`, error);
    }
  }

  /**
   * Records an adoption (`keyrot adopt`): the ADOPTED step and the target's adopted-key item,
   * atomically, only while no rotation of the target holds an unexpired lock (one in flight
   * has listed the keys it supersedes already). Adopting a key twice records it once.
   */
  async adopt(adopted: StepOf<'ADOPTED'>): Promise<AdoptResult> {
    const [key] = adopted.keys;
    if (!key || adopted.keys.length !== 1) throw new Error('ADOPTED names exactly one key');
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: stepItem(adopted),
                ConditionExpression: notYetRecorded,
              },
            },
            { Put: { TableName: this.tableName, Item: adoptedItem(adopted, key.id) } },
            {
              ConditionCheck: {
                TableName: this.tableName,
                Key: { [K.partitionKey]: pk.target(adopted.target), [K.sortKey]: LOCK_SK },
                ConditionExpression: `${notYetRecorded} OR expiresAt < :now`,
                ExpressionAttributeValues: { ':now': adopted.at },
              },
            },
          ],
        }),
      );
      return { status: 'adopted' };
    } catch (error) {
      const reasons =
        error instanceof TransactionCanceledException ? error.CancellationReasons : [];
      if (reasons?.[0]?.Code === 'ConditionalCheckFailed') return { status: 'already-adopted' };
      if (reasons?.[2]?.Code === 'ConditionalCheckFailed') {
        const holder = await this.lockOf(adopted.target);
        if (holder) return { status: 'locked', holder };
      }
      throw new AwsCallError('TransactWriteItems', `ledger ${this.tableName}`, error);
    }
  }

  async adoptedKeys(target: string): Promise<string[]> {
    const items = await this.targetItems(target, I.adoptedSortKeyPrefix);
    return items.map((item) => String(item.keyId));
  }

  async ownedKeys(target: string): Promise<string[]> {
    // The target's partition is small (spec, lock, lease, current key, adoptions).
    const ids: string[] = [];
    for (const item of await this.targetItems(target)) {
      const sortKey = String(item[K.sortKey]);
      if (sortKey === I.keySortKey) {
        const key = item.key as { id?: unknown } | undefined;
        if (typeof key?.id === 'string') ids.push(key.id);
      } else if (sortKey.startsWith(I.adoptedSortKeyPrefix)) {
        ids.push(String(item.keyId));
      }
    }
    return ids;
  }

  /** The target partition's items (those whose sort key starts with `prefix`), every page. */
  private async targetItems(target: string, prefix?: string): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.call('Query', () =>
        this.doc.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: prefix
              ? '#pk = :pk AND begins_with(#sk, :prefix)'
              : '#pk = :pk',
            ExpressionAttributeNames: {
              '#pk': K.partitionKey,
              ...(prefix && { '#sk': K.sortKey }),
            },
            ExpressionAttributeValues: {
              ':pk': pk.target(target),
              ...(prefix && { ':prefix': prefix }),
            },
            ConsistentRead: true,
            ...(start && { ExclusiveStartKey: start }),
          }),
        ),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  async lockOf(target: string): Promise<Lock | undefined> {
    const out = await this.call('GetItem', () =>
      this.doc.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { [K.partitionKey]: pk.target(target), [K.sortKey]: LOCK_SK },
          ConsistentRead: true,
        }),
      ),
    );
    if (!out.Item) return undefined;
    const { rotationId, acquiredAt, expiresAt } = out.Item as Lock;
    return { target, rotationId, acquiredAt, expiresAt };
  }

  async claim(lease: Lease, now: string): Promise<ClaimResult> {
    const key = this.leaseKey(lease);
    try {
      const out = await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...key,
            ...lease,
            // TTL removes a lease a day after it expired (one left by a crashed invocation).
            ttl: ttlAfter(lease.expiresAt),
          },
          // Free, already ours, expired (its holder is gone) or handed over (it failed).
          ConditionExpression: `${notYetRecorded} OR #owner = :owner OR expiresAt < :now OR interrupted = :yes`,
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': lease.owner, ':now': now, ':yes': true },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const before = out.Attributes as Partial<Lease> | undefined;
      return { status: 'claimed', takenOver: before !== undefined && before.owner !== lease.owner };
    } catch (error) {
      if (!(error instanceof Error && error.name === 'ConditionalCheckFailedException')) {
        throw new AwsCallError('PutItem', `ledger ${this.tableName}`, error);
      }
    }
    const held = await this.call('GetItem', () =>
      this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true })),
    );
    // Gone between the two calls: released just now; the caller claims again.
    const item = (held.Item ?? {}) as Partial<Lease>;
    return {
      status: 'held',
      holder: { ...lease, owner: item.owner ?? 'unknown', expiresAt: item.expiresAt ?? now },
    };
  }

  async release(lease: Lease): Promise<void> {
    await this.endLease(lease, 'DeleteItem', () =>
      this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: this.leaseKey(lease),
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': lease.owner },
        }),
      ),
    );
  }

  async interrupt(lease: Lease): Promise<void> {
    await this.endLease(lease, 'PutItem', () =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...this.leaseKey(lease),
            ...lease,
            interrupted: true,
            ttl: ttlAfter(lease.expiresAt),
          },
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': lease.owner },
        }),
      ),
    );
  }

  /** Ends a lease if it is still ours; one taken over after it expired is left alone. */
  private async endLease(
    lease: Lease,
    operation: 'DeleteItem' | 'PutItem',
    send: () => Promise<unknown>,
  ): Promise<void> {
    try {
      await send();
    } catch (error) {
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return;
      throw new AwsCallError(
        operation,
        `ledger ${this.tableName} lease of ${lease.rotationId}`,
        error,
      );
    }
  }

  private leaseKey(lease: Pick<Lease, 'rotationId'>) {
    return {
      [K.partitionKey]: pk.rotation(lease.rotationId),
      [K.sortKey]: I.leaseSortKey,
    };
  }

  /** An unconditional put of a derived item (registry, current key), when there is one. */
  private plainPut(item: Record<string, unknown> | undefined) {
    return item ? [{ Put: { TableName: this.tableName, Item: item } }] : [];
  }

  private async call<T>(operation: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw new AwsCallError(operation, `ledger ${this.tableName}`, error);
    }
  }
}
