import type { Config } from 'jest';

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
  },
  moduleNameMapper: {
    '^@lunasentri/shared$': '<rootDir>/packages/shared/src/index.ts',
    '^@lunasentri/api$': '<rootDir>/packages/api/src/index.ts',
    '^@lunasentri/heartbeat-daemon$': '<rootDir>/packages/heartbeat-daemon/src/index.ts',
  },
  modulePathIgnorePatterns: ['<rootDir>/packages/.*/dist/'],
  // The summary line the test command ends with: `jest: N passed, N failed`.
  reporters: ['default', '<rootDir>/scripts/jest-summary.js'],
  testTimeout: 60_000,
  // Two cores are shared by everything: keep parallelism modest so end-to-end deadlines hold.
  maxWorkers: 2,
};

export default config;
