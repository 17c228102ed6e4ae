export * from './schema';
export * from './port';
export * from './open';
export * from './migrator';
export { MissingDatabaseError } from './sqlite';
export { migrations } from './migrations';
