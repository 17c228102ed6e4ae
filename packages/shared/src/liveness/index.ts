export * from './liveness.repository';
