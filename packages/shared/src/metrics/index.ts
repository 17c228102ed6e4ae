export * from './metrics.server';
