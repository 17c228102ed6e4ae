export * from './schema';
export * from './open';
export * from './migrator';
export { migrations } from './migrations';
