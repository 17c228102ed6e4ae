export * from './process.errors';
export * from './event-loop';
export * from './cleanups';
export * from './signals';
export * from './process.identity';
