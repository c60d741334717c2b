import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { resolveTemporalCli, resolveTestServer } from '../../src/cli/toolchain';
import { WORKFLOW_BUNDLER_OPTIONS, WORKFLOWS_PATH } from '../../src/worker';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../../src/telemetry';

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

export interface DevServerOptions {
  /** Serve the Web UI on this port (headless otherwise). */
  uiPort?: number;
  /** The Web UI's remote codec (the q2c service's /codec), for encrypted payloads. */
  uiCodecEndpoint?: string;
}

/** A real dev server (the Temporal CLI) on a random port, with q2c's search attributes. */
export function createDevServerEnv(options: DevServerOptions = {}): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: resolveTemporalCli({ pathEnv: process.env.PATH }) },
      ...(options.uiPort !== undefined ? { ui: true, uiPort: options.uiPort } : {}),
      extraArgs: [
        '--search-attribute', 'DealStage=Keyword',
        '--search-attribute', 'CustomerId=Keyword',
        '--search-attribute', 'LegalEntity=Keyword',
        '--search-attribute', 'NeedsAttention=Bool',
        '--dynamic-config-value', 'system.forceSearchAttributesCacheRefreshOnRead=true',
        ...(options.uiCodecEndpoint ? ['--ui-codec-endpoint', options.uiCodecEndpoint, '--ui-disable-news-fetch'] : []),
      ],
    },
  });
}

/** A loopback port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Workflow code bundled once per test file (jest isolates modules per file). */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, ...WORKFLOW_BUNDLER_OPTIONS, logger: quietBundlerLogger });
  return bundle;
}

const traced = new Map<string, Promise<WorkflowBundleWithSourceMap>>();

/**
 * Workflow code bundled with the OpenTelemetry workflow interceptors, as a worker with tracing on
 * bundles it (`workflowsPath`: the deal workflows by default, or a test's own workflows module).
 */
export function tracedWorkflowBundle(workflowsPath = WORKFLOWS_PATH): Promise<WorkflowBundleWithSourceMap> {
  let b = traced.get(workflowsPath);
  if (!b) {
    b = bundleWorkflowCode({ workflowsPath, ...WORKFLOW_BUNDLER_OPTIONS, workflowInterceptorModules: [...WORKFLOW_INTERCEPTOR_MODULES], logger: quietBundlerLogger });
    traced.set(workflowsPath, b);
  }
  return b;
}

const noop = () => {};
const quietBundlerLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };

