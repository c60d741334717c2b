// @ts-check
// Import cycles and layer breaches in src/, run by `npm run lint` after eslint.
// Layers, bottom to top: canonical <- rules <- engagement <- contract <-
// workflows / activities <- service / cli / worker (../shared/DESIGN.md).
// eslint's no-restricted-imports keeps the per-file rules for pure and
// workflow code; this file sees the whole graph, type-only imports included.

// Package edges resolve to files, so packages are matched by their node_modules path.
/** Packages that do I/O or hold process state; pure code imports none of them. */
const IO_PACKAGES = '(^|/)node_modules/(pg|pg-[^/]+|drizzle-orm|@electric-sql/[^/]+|fastify|@fastify/[^/]+|undici|stripe|jsforce|avatax|pino|prom-client|commander)/';
const TEMPORAL = '(^|/)node_modules/@temporalio/';

/** Forbids, from the pure folder `from`, Node built-ins, I/O packages and Temporal. */
const pure = (name, from, comment) => [
  {
    name: `${name}-no-node-builtins`,
    comment,
    severity: 'error',
    from: { path: from },
    to: { dependencyTypes: ['core'] },
  },
  {
    name: `${name}-no-io-or-temporal`,
    comment,
    severity: 'error',
    from: { path: from },
    to: { path: [IO_PACKAGES, TEMPORAL] },
  },
];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import cycle in src/ (type-only imports count): break it by moving the shared piece down a layer (often into src/contract).',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },

    // canonical <- rules <- engagement: pure, and each imports only what is below it.
    {
      name: 'canonical-imports-only-canonical',
      comment: 'src/canonical is the bottom layer: it imports nothing else in src/.',
      severity: 'error',
      from: { path: '^src/canonical/' },
      to: { path: '^src/', pathNot: '^src/canonical/' },
    },
    ...pure('canonical', '^src/canonical/', 'src/canonical is pure: no Node built-ins, no I/O, no Temporal.'),
    {
      name: 'rules-import-only-canonical',
      comment: 'src/rules are pure functions over canonical types: they import only src/canonical.',
      severity: 'error',
      from: { path: '^src/rules/' },
      to: { path: '^src/', pathNot: '^src/(rules|canonical)/' },
    },
    ...pure('rules', '^src/rules/', 'src/rules are pure: no Node built-ins, no I/O, no Temporal.'),
    {
      name: 'engagement-imports-only-rules-canonical',
      comment: 'src/engagement is the pure delivery-to-cash core: it imports only itself, src/rules and src/canonical.',
      severity: 'error',
      from: { path: '^src/engagement/' },
      to: { path: '^src/', pathNot: '^src/(engagement|rules|canonical)/' },
    },
    ...pure('engagement', '^src/engagement/', 'src/engagement is pure: no Node built-ins, no I/O, no Temporal; the workflow is its shell.'),

    // contract: types and Temporal message definitions, no implementation.
    {
      name: 'contract-imports-only-core-layers',
      comment: 'src/contract imports only src/canonical, src/engagement and (as types) src/rules.',
      severity: 'error',
      from: { path: '^src/contract/' },
      to: { path: '^src/', pathNot: '^src/(contract|canonical|engagement|rules)/' },
    },
    {
      name: 'contract-imports-rules-as-types',
      comment: 'src/contract takes only types from src/rules (`import type`).',
      severity: 'error',
      from: { path: '^src/contract/' },
      to: { path: '^src/rules/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'contract-packages',
      comment: 'src/contract may import only @temporalio/workflow and @temporalio/common (message and search-attribute definitions).',
      severity: 'error',
      from: { path: '^src/contract/' },
      to: { dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'npm-unknown', 'core'], pathNot: '(^|/)node_modules/@temporalio/(workflow|common)/' },
    },

    // connectors: system APIs over canonical types; Temporal mapping lives at the activity boundary.
    {
      name: 'connectors-no-temporal',
      comment: 'Connectors throw ConnectorError; src/activities/boundary.ts maps it to ApplicationFailure.',
      severity: 'error',
      from: { path: '^src/connectors/' },
      to: { path: TEMPORAL },
    },
    {
      name: 'connectors-no-upper-layers',
      comment: 'Connectors depend on canonical and their own plumbing, never on activities, workflows, service, db or the engagement core.',
      severity: 'error',
      from: { path: '^src/connectors/' },
      to: { path: '^src/(activities|workflows|service|db|engagement)/' },
    },

    // activities and workflows
    {
      name: 'activities-not-above',
      comment: 'Activities are called by workflows; they do not import workflows, the service or the CLI.',
      severity: 'error',
      from: { path: '^src/activities/' },
      to: { path: '^src/(workflows|service|cli)/' },
    },
    {
      name: 'workflows-no-io-layers',
      comment: 'Workflow code is deterministic: no connectors, db, service, cli, sandbox or config.',
      severity: 'error',
      from: { path: '^src/workflows/' },
      to: { path: '^src/(connectors|db|service|cli|sandbox|config)/' },
    },
    {
      name: 'workflows-activities-as-types',
      comment: 'Workflows take activities as types only: `import type` and proxyActivities.',
      severity: 'error',
      from: { path: '^src/workflows/' },
      to: { path: '^src/activities/', dependencyTypesNot: ['type-only'] },
    },

    // service and sandbox
    {
      name: 'service-through-contract',
      comment: 'The service reaches workflows through src/contract and a Temporal client, never by importing workflow or activity code or the sandbox.',
      severity: 'error',
      from: { path: '^src/service/' },
      to: { path: '^src/(workflows|activities|sandbox)/' },
    },
    {
      name: 'sandbox-standalone',
      comment: 'The vendor sandboxes stand in for external systems: they know nothing of the service, workflows or activities.',
      severity: 'error',
      from: { path: '^src/sandbox/' },
      to: { path: '^src/(service|workflows|activities)/' },
    },

    // db: tables are reached only through the repositories in src/db (rows -> plain or canonical objects).
    {
      name: 'no-db-tables-outside-db',
      comment:
        'Only src/db queries tables: elsewhere, call a repository in src/db (AuditRepository, IdentityRepository, InboxRepository, RuleSetRepository, WatermarkRepository) and take Db / openDb from src/db. ' +
        'The vendor sandboxes keep their own state (schema sandbox) through their store and webhook sender, listed by name so nothing else joins them.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/db/', '^src/sandbox/(store|webhooks)\\.ts$'] },
      to: { path: ['^src/db/schema\\.ts$', '(^|/)node_modules/drizzle-orm/'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/db/migrations/' },
    // Type-only imports are edges too: a cycle through `import type` is still a cycle.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
