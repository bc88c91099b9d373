/**
 * `UPLOAD_DOWNLOADS_S3=ceph` (`npm run test:ceph`): only the end-to-end tests, with the action's
 * S3 hop going to a Ceph RADOS Gateway that the globalSetup starts once for the run.
 */
const onCeph = process.env.UPLOAD_DOWNLOADS_S3 === 'ceph'

/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testMatch: onCeph ? ['**/__tests__/e2e/**/*.test.ts'] : ['**/__tests__/**/*.test.ts'],
  // With --coverage (CI passes it): the action's own code, summed up in a few lines. The e2e
  // tests run the bundle in a child process, so this counts what the unit tests reach.
  collectCoverageFrom: ['src/**/*.ts'],
  coverageReporters: ['text-summary'],
  // End-to-end tests spawn the bundle and move real bytes; give them room on a 2-core box.
  testTimeout: onCeph ? 120000 : 60000,
  maxWorkers: 2,
  // The end-to-end tests run dist/ and some run the tools in build/: a stale one is rebuilt
  // first, however jest was started (the Ceph setup does that too, then starts the cluster).
  globalSetup: onCeph
    ? '<rootDir>/__tests__/e2e/ceph/global-setup.ts'
    : '<rootDir>/__tests__/global-setup.ts',
  ...(onCeph ? { globalTeardown: '<rootDir>/__tests__/e2e/ceph/global-teardown.ts' } : {})
}
