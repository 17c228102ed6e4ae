export * from './clock';
export * from './test-clock';
export * from './iso-time';
