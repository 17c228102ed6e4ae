/**
 * @lunasentri/shared — what both processes share: the database (schema, migrations, pragmas),
 * settings and durations, logging, the clock, the notifier, and text checks.
 */
export * from './db';
export * from './config';
export * from './log';
export * from './clock';
export * from './notify';
export * from './liveness';
export * from './text';
