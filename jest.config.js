/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }],
    // content-disposition@3 (required by @fastify/static, which serves Swagger UI's assets) is ESM in a .js
    // file: Node loads it through require(esm), jest's own module loader cannot, so it is compiled to CommonJS.
    '/node_modules/content-disposition/.+\\.js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!content-disposition/)'],
  // Temporal servers and PostgreSQL are shared resources on a 2-core machine: one file at a time.
  setupFiles: ['<rootDir>/test/support/jest.setup.ts'],
  maxWorkers: 1,
  testTimeout: 60_000,
};
