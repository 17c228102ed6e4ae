/**
 * @lunasentri/heartbeat-daemon — the monitor's parts, for tests and embedding. The binary's entry
 * point is `main`.
 */
export { main } from './main';
export { parseCommandLine, UsageError, type CliCommand } from './cli';
export { monitorSettings, runSettings, statusSettings, type RunSettings, type StatusSettings } from './daemon.settings';
export * from './heartbeat.models';
export * from './retry.models';
export { createSweeper, type Sweeper, type SweepDeps, type SweepResult, type AppliedTransition } from './sweep.usecases';
export { createDispatcher, type Dispatcher, type DispatcherDeps } from './dispatcher.usecases';
export { runMonitor, planNextCheck, type MonitorDeps } from './monitor.loop';
export { printStatus, type StatusOptions } from './status.command';
