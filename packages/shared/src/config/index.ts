export * from './duration';
export * from './settings';
export * from './cli-options';
export * from './common.settings';
