/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testMatch: ['**/__tests__/**/*.test.ts'],
  // The end-to-end tests run dist/: rebuild it first when it is older than src/.
  globalSetup: '<rootDir>/__tests__/global-setup.ts',
  // With --coverage (CI passes it): the action's own code, summed up in a few lines. The e2e
  // tests run the bundle in a child process, so this counts what the unit tests reach.
  collectCoverageFrom: ['src/**/*.ts'],
  coverageReporters: ['text-summary'],
  // End-to-end tests spawn the bundle and move real bytes; give them room on a 2-core box.
  testTimeout: 60000,
  maxWorkers: 2
}
