export * from './well-formed';
