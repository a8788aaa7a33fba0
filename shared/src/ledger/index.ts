export * from './dynamodb-ledger';
export * from './table';
export * from './types';
