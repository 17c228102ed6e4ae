export * from './schema';
export * from './port';
export * from './open';
export * from './migrator';
export { MissingDatabaseError } from './sqlite';
export { DatabaseUnreachableError, describePostgresUrl } from './postgres';
export { engineOf, isPostgresUrl, lockedForClaim } from './engine';
export { migrations } from './migrations';
