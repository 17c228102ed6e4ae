/**
 * Quiet alerts (CONTRACT §6): maintenance windows, snooze, flapping and reminders as pure rules.
 * Time is always an argument; nothing here reads the clock or does I/O.
 */
export * from './quiet.errors';
export { type Instant } from './instant';
export * from './maintenance.schedule';
export * from './maintenance.validation';
export * from './snooze.models';
export * from './flapping.models';
export * from './reminder.models';
export * from './maintenance.rows';
