import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { resolveTemporalCli, resolveTestServer } from '../../src/cli/toolchain';
import { WORKFLOWS_PATH } from '../../src/worker';

/**
 * Temporal's time-skipping test server, provisioned by scripts/temporal-toolchain.sh.
 * It has no Schedules and no list/count visibility queries: use the dev server for those.
 */
export function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createTimeSkipping({
    // TEMPORAL_TEST_SERVER picks another build (e.g. the Java one from the from-source path).
    server: { executable: { type: 'existing-path', path: process.env.TEMPORAL_TEST_SERVER ?? resolveTestServer() } },
  });
}

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

