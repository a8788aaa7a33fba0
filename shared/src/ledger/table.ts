import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/**
 * Key design of the rotation ledger (single table). See docs/ledger.md.
 *
 * - `PK = TARGET#<target>`, `SK = LOCK`: the per-target lock (the only mutable item).
 * - `PK = ROTATION#<rotationId>`, `SK = STEP#<nn>#<step>`: one immutable item per step.
 * - GSI1 (`GSI1PK = TARGET#<target>`, `GSI1SK = <iso time>#<rotationId>#<nn>`): a target's history.
 * - GSI2 (`GSI2PK = OUTCOME#<yyyy-mm>`, `GSI2SK = <iso time>#<rotationId>`): rotation outcomes by month.
 */
export const LEDGER_KEYS = {
  partitionKey: 'PK',
  sortKey: 'SK',
  targetIndex: 'GSI1',
  targetIndexPartitionKey: 'GSI1PK',
  targetIndexSortKey: 'GSI1SK',
  outcomeIndex: 'GSI2',
  outcomeIndexPartitionKey: 'GSI2PK',
  outcomeIndexSortKey: 'GSI2SK',
} as const;

/** The table as `CreateTable` wants it; the serverless template declares the same keys. */
export function ledgerTableDefinition(tableName: string): CreateTableCommandInput {
  const k = LEDGER_KEYS;
  const stringAttributes = [
    k.partitionKey,
    k.sortKey,
    k.targetIndexPartitionKey,
    k.targetIndexSortKey,
    k.outcomeIndexPartitionKey,
    k.outcomeIndexSortKey,
  ];
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: stringAttributes.map((AttributeName) => ({
      AttributeName,
      AttributeType: 'S',
    })),
    KeySchema: [
      { AttributeName: k.partitionKey, KeyType: 'HASH' },
      { AttributeName: k.sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: k.targetIndex,
        KeySchema: [
          { AttributeName: k.targetIndexPartitionKey, KeyType: 'HASH' },
          { AttributeName: k.targetIndexSortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
      {
        IndexName: k.outcomeIndex,
        KeySchema: [
          { AttributeName: k.outcomeIndexPartitionKey, KeyType: 'HASH' },
          { AttributeName: k.outcomeIndexSortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
  };
}
