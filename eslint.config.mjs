// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const IO = ['pg', 'pg-*', 'drizzle-orm', 'drizzle-orm/*', '@electric-sql/*', 'fastify', 'fastify/*', '@fastify/*', 'undici', 'stripe', 'jsforce', 'avatax', 'pino', 'prom-client', 'node:*'];
const NODE_BUILTINS = ['fs', 'path', 'crypto', 'http', 'https', 'net', 'os', 'child_process', 'stream', 'util', 'events', 'url', 'zlib', 'dns', 'tls', 'worker_threads'];
const LAYERS = ['**/connectors/**', '**/db/**', '**/db', '**/activities/**', '**/activities', '**/service/**', '**/sandbox/**', '**/cli/**', '**/worker', '**/config', '**/config/**'];

export default tseslint.config(
  { ignores: ['node_modules/', '.temporal/', '.q2c/', 'dist/', 'coverage/', 'src/db/migrations/', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/config/**'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'read configuration through src/config (loadConfig)' }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: only the workflow SDK,
    // canonical types, pure rules and *types* from activities.
    files: ['src/workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: NODE_BUILTINS.map((name) => ({ name, message: 'workflow code must stay deterministic: no Node built-ins' })),
          patterns: [
            { group: [...IO, '@temporalio/client', '@temporalio/worker', '@temporalio/activity'], message: 'workflows may import only @temporalio/workflow, canonical, rules and activity types' },
            { group: ['**/connectors/**', '**/db/**', '**/db', '**/service/**', '**/sandbox/**', '**/cli/**', '**/config', '**/config/**'], message: 'workflows may import only @temporalio/workflow, canonical, rules and activity types' },
            { group: ['**/activities', '**/activities/**'], allowTypeImports: true, message: 'import activities with `import type` and proxyActivities' },
          ],
        },
      ],
    },
  },
  {
    // The canonical model, the rules and the engagement core are pure: no I/O,
    // no clock, no Temporal, no layers above them (the layer order within them
    // is checked by dependency-cruiser, .dependency-cruiser.cjs).
    files: ['src/canonical/**/*.ts', 'src/rules/**/*.ts', 'src/engagement/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: NODE_BUILTINS.map((name) => ({ name, message: 'canonical, rules and engagement are pure: no Node built-ins' })),
          patterns: [
            { group: IO, message: 'canonical, rules and engagement do no I/O' },
            { group: [...LAYERS, '**/workflows/**', '**/workflows', '@temporalio/*'], message: 'canonical, rules and engagement depend on nothing above them' },
          ],
        },
      ],
      'no-restricted-globals': ['error', { name: 'Date', message: 'pure code takes time as an argument; parse dates with pure helpers' }, { name: 'process', message: 'no environment in pure code' }],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'pure code is deterministic' },
        { object: 'process', property: 'env', message: 'no environment in pure code' },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
