export * from './dynamodb-ledger';
export * from './table';
export * from './types';
export * from './steps';
export * from './queries';
