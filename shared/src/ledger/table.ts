import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/**
 * Key design of the rotation ledger (single table). See docs/ledger.md.
 *
 * - `PK = ROTATION#<rotationId>`, `SK = STEP#<nn>#<step>`: one immutable item per step.
 * - `PK = ROTATION#<rotationId>`, `SK = LEASE`: the invocation acting on the rotation now
 *   (shared/src/rotation/lease.ts; deleted when it ends).
 * - `PK = TARGET#<target>`, `SK = LOCK`: the per-target lock (deleted when the rotation ends).
 * - `PK = TARGET#<target>`, `SK = SPEC`: the target as last requested (the target registry).
 * - `PK = TARGET#<target>`, `SK = KEY`: the key the target's last completed rotation issued.
 * - `PK = TARGET#<target>`, `SK = ADOPTED#<keyId>`: a key the operator handed to the target
 *   (`keyrot adopt`), written with the ADOPTED step; the issuer reads them to supersede it.
 * - GSI1 (`GSI1PK = TARGET#<target>`, `GSI1SK = <iso time>#<rotationId>#STEP#<nn>#<step>`):
 *   a target's history, step items only.
 * - GSI2, overloaded: `GSI2PK = OUTCOME#<yyyy-mm>`, `GSI2SK = <iso time>#<rotationId>` on
 *   outcome steps (rotations by month); `GSI2PK = TARGETS`, `GSI2SK = <target>` on SPEC items
 *   (every target); `GSI2PK = KEYS`, `GSI2SK = <key created at>#<target>` on KEY items (keys
 *   older than N days).
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

/** The values of the ledger's keys: one place for every item type and access pattern. */
export const LEDGER_ITEMS = {
  rotationPartition: (rotationId: string) => `ROTATION#${rotationId}`,
  targetPartition: (target: string) => `TARGET#${target}`,
  /** Sort keys of a rotation's steps begin with it (`STEP#<nn>#<step>`). */
  stepSortKeyPrefix: 'STEP#',
  leaseSortKey: 'LEASE',
  lockSortKey: 'LOCK',
  specSortKey: 'SPEC',
  keySortKey: 'KEY',
  /** Sort keys of a target's adopted keys begin with it (`ADOPTED#<keyId>`). */
  adoptedSortKeyPrefix: 'ADOPTED#',
  adoptedSortKey: (keyId: string) => `ADOPTED#${keyId}`,
  /** GSI2 partition of a month's outcomes; `month` is `yyyy-mm`. */
  outcomePartition: (month: string) => `OUTCOME#${month}`,
  /** GSI2 partition holding one SPEC item per target. */
  targetsPartition: 'TARGETS',
  /** GSI2 partition holding one KEY item per target, sorted by the key's creation time. */
  keysPartition: 'KEYS',
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
