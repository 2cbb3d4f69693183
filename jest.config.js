// Jest runs the TypeScript sources as ES modules (the @actions/* packages are ESM-only).
// npm run jest starts node with --experimental-vm-modules for that.
export default {
  testEnvironment: 'node',
  // Tests live in __tests__ only: lab/ (the local world) and bench/ are loaded by tests, never collected as tests.
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  // A read of a file beside the repository throws: a fresh clone has nothing there.
  setupFiles: ['<rootDir>/__tests__/support/read-guard.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  testTimeout: 60_000,
};
