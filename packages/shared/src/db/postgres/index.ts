export { openPostgres, describePostgresUrl, DatabaseUnreachableError } from './postgres.open';
export { isPostgresUniqueViolation } from './postgres.errors';
