import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { AwsCallError } from '../errors';
import type { KeyRef, Target } from '../events';
import { withoutTableKeys } from './dynamodb-ledger';
import { LEDGER_ITEMS as I, LEDGER_KEYS as K } from './table';
import { storedStep, type Outcome, type StepRecord } from '../rotation/steps';
import type { AdoptedKey, Lock } from './types';

/** A target as the ledger last saw it requested (its registry item). */
export interface TargetRecord {
  readonly target: string;
  readonly targetSpec: Target;
  /** When it was last requested, and by which rotation. */
  readonly updatedAt: string;
  readonly rotationId: string;
}

/** The key a target's last completed rotation issued. */
export interface CurrentKeyRecord {
  readonly target: string;
  readonly rotationId: string;
  readonly key: KeyRef;
  readonly keyCreatedAt: string;
  readonly completedAt: string;
  /** The target as the rotation that issued the key ran it (known to work). */
  readonly targetSpec?: Target;
}

/** Everything the ledger holds under one target's partition. */
export interface TargetState {
  readonly target: string;
  readonly spec?: TargetRecord;
  readonly currentKey?: CurrentKeyRecord;
  readonly lock?: Lock;
  /** Keys the operator adopted for the target (`keyrot adopt`); absent: none. */
  readonly adoptedKeys?: readonly AdoptedKey[];
}

/** An inclusive time range of ISO-8601 instants (`Date#toISOString` form). */
export interface TimeRange {
  readonly since: string;
  readonly until: string;
}

/**
 * Port: the ledger's read side, for operators and auditors. Every method is one DynamoDB
 * Query (paginated) on the table's key or one of its indexes; none scans (docs/ledger.md).
 */
export interface LedgerQueries {
  /** One rotation's steps, in order. */
  timeline(rotationId: string): Promise<StepRecord[]>;
  /** A target's steps, newest first; only those strictly before `before` when given. */
  targetHistory(target: string, options?: { before?: string }): AsyncIterable<StepRecord>;
  /** Outcome steps (COMPLETED, FAILED, REFUSED, REJECTED) in the range, oldest first. */
  outcomes(range: TimeRange, options?: { only?: Outcome }): AsyncIterable<StepRecord>;
  /** Every target the ledger has seen requested, by name. */
  targets(): Promise<TargetRecord[]>;
  /** Current keys, oldest first; only keys created before `createdBefore` when given. */
  currentKeys(options?: { createdBefore?: string }): Promise<CurrentKeyRecord[]>;
  /** The target's registry item, current key, lock and adopted keys. */
  targetState(target: string): Promise<TargetState>;
}

/** The `yyyy-mm` months from `since` to `until`, inclusive. */
export function monthsBetween(since: string, until: string): string[] {
  const months: string[] = [];
  let year = Number(since.slice(0, 4));
  let month = Number(since.slice(5, 7));
  const last = until.slice(0, 7);
  for (;;) {
    const current = `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}`;
    if (current > last) return months;
    months.push(current);
    month += 1;
    if (month > 12) {
      month = 1;
      year += 1;
    }
  }
}

/**
 * {@link LedgerQueries} on the ledger table (key design in `table.ts` and docs/ledger.md).
 *
 * @example
 * const queries = new DynamoDbLedgerQueries(new DynamoDBClient({}), 'keyrot-ledger');
 * for await (const failed of queries.outcomes(range, { only: 'FAILED' })) console.error(failed);
 */
export class DynamoDbLedgerQueries implements LedgerQueries {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
    /** Items per Query page. */
    private readonly pageSize = 200,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true },
    });
  }

  async timeline(rotationId: string): Promise<StepRecord[]> {
    const steps: StepRecord[] = [];
    for await (const item of this.query({
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :steps)',
      ExpressionAttributeNames: { '#pk': K.partitionKey, '#sk': K.sortKey },
      ExpressionAttributeValues: {
        ':pk': I.rotationPartition(rotationId),
        ':steps': I.stepSortKeyPrefix,
      },
      ConsistentRead: true,
    })) {
      steps.push(storedStep(withoutTableKeys(item)));
    }
    return steps;
  }

  async *targetHistory(target: string, options: { before?: string } = {}) {
    const before = options.before;
    for await (const item of this.query({
      IndexName: K.targetIndex,
      KeyConditionExpression: before ? '#pk = :pk AND #sk < :before' : '#pk = :pk',
      ExpressionAttributeNames: {
        '#pk': K.targetIndexPartitionKey,
        ...(before && { '#sk': K.targetIndexSortKey }),
      },
      ExpressionAttributeValues: {
        ':pk': I.targetPartition(target),
        ...(before && { ':before': before }),
      },
      ScanIndexForward: false,
    })) {
      yield storedStep(withoutTableKeys(item));
    }
  }

  async *outcomes(range: TimeRange, options: { only?: Outcome } = {}) {
    for (const month of monthsBetween(range.since, range.until)) {
      for await (const item of this.query({
        IndexName: K.outcomeIndex,
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
        ExpressionAttributeNames: {
          '#pk': K.outcomeIndexPartitionKey,
          '#sk': K.outcomeIndexSortKey,
          ...(options.only && { '#step': 'step' }),
        },
        ExpressionAttributeValues: {
          ':pk': I.outcomePartition(month),
          ':from': range.since,
          // Sort keys are `<time>#<rotationId>`: '~' sorts after every rotation id character.
          ':to': `${range.until}~`,
          ...(options.only && { ':step': options.only }),
        },
        ...(options.only && { FilterExpression: '#step = :step' }),
      })) {
        yield storedStep(withoutTableKeys(item));
      }
    }
  }

  async targets(): Promise<TargetRecord[]> {
    const targets: TargetRecord[] = [];
    for await (const item of this.query({
      IndexName: K.outcomeIndex,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': K.outcomeIndexPartitionKey },
      ExpressionAttributeValues: { ':pk': I.targetsPartition },
    })) {
      targets.push(withoutTableKeys(item) as unknown as TargetRecord);
    }
    return targets;
  }

  async currentKeys(options: { createdBefore?: string } = {}): Promise<CurrentKeyRecord[]> {
    const before = options.createdBefore;
    const keys: CurrentKeyRecord[] = [];
    for await (const item of this.query({
      IndexName: K.outcomeIndex,
      KeyConditionExpression: before ? '#pk = :pk AND #sk < :before' : '#pk = :pk',
      ExpressionAttributeNames: {
        '#pk': K.outcomeIndexPartitionKey,
        ...(before && { '#sk': K.outcomeIndexSortKey }),
      },
      ExpressionAttributeValues: { ':pk': I.keysPartition, ...(before && { ':before': before }) },
    })) {
      keys.push(withoutTableKeys(item) as unknown as CurrentKeyRecord);
    }
    return keys;
  }

  async targetState(target: string): Promise<TargetState> {
    let state: TargetState = { target };
    for await (const item of this.query({
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': K.partitionKey },
      ExpressionAttributeValues: { ':pk': I.targetPartition(target) },
      ConsistentRead: true,
    })) {
      const sortKey = item[K.sortKey];
      const record = withoutTableKeys(item);
      if (sortKey === I.specSortKey) state = { ...state, spec: record as unknown as TargetRecord };
      if (sortKey === I.keySortKey) {
        state = { ...state, currentKey: record as unknown as CurrentKeyRecord };
      }
      if (sortKey === I.lockSortKey) {
        const { rotationId, acquiredAt, expiresAt } = record as unknown as Lock;
        state = { ...state, lock: { target, rotationId, acquiredAt, expiresAt } };
      }
      if (typeof sortKey === 'string' && sortKey.startsWith(I.adoptedSortKeyPrefix)) {
        const adopted = record as unknown as AdoptedKey;
        state = { ...state, adoptedKeys: [...(state.adoptedKeys ?? []), adopted] };
      }
    }
    return state;
  }

  /** Every item a Query returns, page by page. */
  private async *query(
    input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey' | 'Limit'>,
  ): AsyncGenerator<Record<string, unknown>> {
    let start: Record<string, unknown> | undefined;
    do {
      let page;
      try {
        page = await this.doc.send(
          new QueryCommand({
            ...input,
            TableName: this.tableName,
            Limit: this.pageSize,
            ...(start && { ExclusiveStartKey: start }),
          }),
        );
      } catch (error) {
        throw new AwsCallError('Query', `ledger ${this.tableName}`, error);
      }
      yield* page.Items ?? [];
      start = page.LastEvaluatedKey;
    } while (start);
  }
}
