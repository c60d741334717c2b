/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }] },
  // Temporal servers and PostgreSQL are shared resources on a 2-core machine: one file at a time.
  setupFiles: ['<rootDir>/test/support/jest.setup.ts'],
  maxWorkers: 1,
  testTimeout: 60_000,
};
