export * from './envelope';
export * from './schemas';
export * from './target';
export * from './aws-events';
