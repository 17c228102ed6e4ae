export * from './schema';
export * from './port';
export * from './open';
export * from './migrator';
export { MissingDatabaseError } from './sqlite';
export { DatabaseUnreachableError, describePostgresUrl } from './postgres';
export { announceChange, databaseSecrets, describeDatabase, engineOf, isPostgresUrl, joinedTexts, lockedForClaim, refreshPlannerStatistics } from './engine';
export { migrations } from './migrations';
export { quietDueNoLaterThan } from './quiet-due';
