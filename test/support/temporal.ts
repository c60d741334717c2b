import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { resolveTemporalCli, resolveTestServer } from '../../src/cli/toolchain';
import { WORKFLOWS_PATH } from '../../src/worker';

/**
 * Temporal's time-skipping test server, provisioned by scripts/temporal-toolchain.sh.
 * It has no Schedules and no list/count visibility queries: use the dev server for those.
 */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    // TEMPORAL_TEST_SERVER picks another build (e.g. the Java one from the from-source path).
    server: { executable: { type: 'existing-path', path: process.env.TEMPORAL_TEST_SERVER ?? resolveTestServer() } },
  });
  // The deal workflows upsert these; the test server rejects attributes it does not know.
  await env.connection.operatorService.addSearchAttributes({ namespace: 'default', searchAttributes: DEAL_SEARCH_ATTRIBUTES });
  return env;
}

/** Custom search attributes (same as temporal-dev.yaml), as the operator API types them. */
const DEAL_SEARCH_ATTRIBUTES = {
  DealStage: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  CustomerId: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  LegalEntity: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  NeedsAttention: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
};

/** A real dev server (the Temporal CLI) on a random port, with q2c's search attributes. */
export function createDevServerEnv(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: resolveTemporalCli({ pathEnv: process.env.PATH }) },
      extraArgs: [
        '--search-attribute', 'DealStage=Keyword',
        '--search-attribute', 'CustomerId=Keyword',
        '--search-attribute', 'LegalEntity=Keyword',
        '--search-attribute', 'NeedsAttention=Bool',
        '--dynamic-config-value', 'system.forceSearchAttributesCacheRefreshOnRead=true',
      ],
    },
  });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Workflow code bundled once per test file (jest isolates modules per file). */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
  return bundle;
}

const noop = () => {};
const quietBundlerLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };

