/**
 * @lunasentri/heartbeat-daemon — the monitor's parts, for tests and embedding. The binary's entry
 * point is `main`. Two pipelines meet at the outbox: `sweep/` decides transitions and writes events
 * with their deliveries; `dispatch/` claims the deliveries and sends them.
 */
export { main } from './main';
export { parseCommandLine, type CliCommand } from './cli';
export { monitorSettings, runSettings, statusSettings, type RunSettings, type StatusSettings } from './daemon.settings';
export * from './sweep/heartbeat.models';
export * from './dispatch/retry.models';
export { createSweeper, type Sweeper, type SweepDeps, type SweepResult, type AppliedTransition } from './sweep/sweep.usecases';
export { createDispatcher, type Dispatcher, type DispatcherDeps } from './dispatch/dispatcher.usecases';
export { createHousekeeping, type Housekeeping, type HousekeepingDeps } from './dispatch/housekeeping.usecases';
export { runMonitor, type MonitorDeps } from './monitor.loop';
export { printStatus, type StatusOptions } from './status.command';
