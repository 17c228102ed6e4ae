export * from './clock';
export * from './iso-time';
