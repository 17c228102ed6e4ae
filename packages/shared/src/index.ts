/**
 * @lunasentri/shared — what both processes share: the database port (schema, migrations, engines),
 * settings and durations, logging, the clock, the process shell, the notifier, the metrics endpoint,
 * text checks, and the pure rules of quiet alerts (maintenance windows, snooze, flapping, reminders).
 */
export * from './db';
export * from './config';
export * from './log';
export * from './clock';
export * from './notify';
export * from './liveness';
export * from './metrics';
export * from './process';
export * from './quiet';
export * from './text';
