import v8 from 'node:v8';
import { DefaultLogger, Runtime, Worker, type InjectedSinks, type LogLevel, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import type { WorkflowClient } from '@temporalio/client';
import type { Logger } from 'pino';
import { createLogger, resolveLogFormat, type LogFormat } from './logger';
import { createActivities, type ActivityDeps } from './activities';
import { loadCatalog } from './activities/deal/catalog';
import { EncryptionCodec, parseEncryptionKeys } from './codec/encryption.codec';
import { ConfigError, loadConfig, type Config } from './config';
import { connectorsConfigFromEnv, createConnectors } from './connectors';
import { openDb, type Db } from './db';
import { ensureDefaultRuleSets, RuleSetRepository, RuleSetStoreError } from './db/rulesets';
import { WORKFLOW_BUNDLER_OPTIONS, WorkflowBundleError, workflowBundleFor, WORKFLOWS_PATH } from './workflow-bundle';
import { setupTelemetry, type Telemetry } from './telemetry';
import { connectTemporal, connectTemporalNative, TemporalConnectionError, temporalClient } from './temporal/connection';

import type { KpiRecorder, KpiSinks } from './workflows/sinks';
import { ERP_TASK_QUEUE } from './contract';

export { WORKFLOW_BUNDLER_OPTIONS, WORKFLOWS_PATH };

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** Pre-bundled workflow code (tests bundle once per file); otherwise bundled from WORKFLOWS_PATH. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  dataConverter?: WorkerOptions['dataConverter'];
  /**
   * Where the workflows' business KPIs go (src/service/metrics `createMetrics().kpis`):
   * pass the registry the process serves on /metrics. Unset: the KPIs are dropped.
   */
  kpis?: KpiRecorder;
  /** Deal workflows kept in the worker's cache (0: none, every task replays). Default: `defaultMaxCachedWorkflows()`. */
  maxCachedWorkflows?: number;
  /**
   * Tracing (src/telemetry `setupTelemetry(...).worker`): the OpenTelemetry interceptors and the
   * sink workflow spans leave by. A pre-built `workflowBundle` must then include
   * WORKFLOW_INTERCEPTOR_MODULES (bundleWorkflowCode's workflowInterceptorModules).
   */
  telemetry?: Telemetry['worker'];
}

/**
 * Memory budgeted per cached deal workflow: the month-end profile measures ~135 KiB of
 * workflow-thread heap and ~0.6 MiB of process RSS per cached deal (BENCHMARKS.md,
 * "Engagement state"); 1 MiB leaves room for long deals' larger state.
 */
export const CACHED_WORKFLOW_MIB = 1;
/** The share of the V8 heap the workflow cache may take; the rest is activities, connectors and the SDK. */
export const WORKFLOW_CACHE_HEAP_SHARE = 0.5;

/**
 * The workflow cache sized from this process's V8 heap limit: half the heap at
 * CACHED_WORKFLOW_MIB per cached deal (a 4 GiB heap gives 2,048). The SDK's own default
 * assumes ~1.7 MiB per workflow (600 per GiB).
 * A workflow evicted from the cache is not lost: its next task replays its history.
 */
export function defaultMaxCachedWorkflows(heapLimitBytes = v8.getHeapStatistics().heap_size_limit): number {
  return Math.max(10, Math.floor((heapLimitBytes / 2 ** 20) * WORKFLOW_CACHE_HEAP_SHARE / CACHED_WORKFLOW_MIB));
}

const NO_KPIS: KpiRecorder = { recordDealTransition: () => {}, recordDealException: () => {}, recordInvoicePosted: () => {} };

/**
 * The workflows' KPI sink (src/workflows/sinks.ts) bound to `kpis` (no-op without).
 * Not called on replay: a workflow evicted from the cache and replayed does not count again.
 */
export function kpiSinks(kpis: KpiRecorder = NO_KPIS): InjectedSinks<KpiSinks> {
  return {
    kpis: {
      recordDealTransition: { fn: (_info, stage, sinceDealStartMs) => kpis.recordDealTransition(stage, sinceDealStartMs), callDuringReplay: false },
      recordDealException: { fn: (_info, code) => kpis.recordDealException(code), callDuringReplay: false },
      recordInvoicePosted: { fn: (_info, latencyMs) => kpis.recordInvoicePosted(latencyMs), callDuringReplay: false },
      recordDunningReminder: { fn: (_info, step) => kpis.recordDunningReminder?.(step), callDuringReplay: false },
    },
  };
}

/** The q2c worker: workflow code plus activities closed over their dependencies. */
export function createWorker(opts: CreateWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace ?? 'default',
    taskQueue: opts.taskQueue,
    activities: createActivities(opts.deps),
    sinks: { ...kpiSinks(opts.kpis), ...opts.telemetry?.sinks },
    // A pre-built bundle carries its workflow interceptor modules already (the SDK ignores workflowModules then).
    ...(opts.telemetry ? { interceptors: opts.workflowBundle ? { ...opts.telemetry.interceptors, workflowModules: [] } : opts.telemetry.interceptors } : {}),
    // reuseV8Context stays on (the SDK's default since 1.9): one V8 context per workflow thread, far less memory per cached workflow.
    maxCachedWorkflows: opts.maxCachedWorkflows ?? defaultMaxCachedWorkflows(),
    ...(opts.dataConverter ? { dataConverter: opts.dataConverter } : {}),
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: WORKFLOWS_PATH, bundlerOptions: WORKFLOW_BUNDLER_OPTIONS }),
  });
}

/**
 * Requests in flight to the ERP this process may keep: its whole-number share of the account's
 * concurrency limit over the worker processes that call it, at least one (ERP_WORKERS larger
 * than ERP_CONCURRENCY over-subscribes the account: the governor's 429s then pace the rest).
 */
export function erpSlotsPerWorker(config: Pick<Config, 'ERP_CONCURRENCY' | 'ERP_WORKERS'>): number {
  return Math.max(1, Math.floor(config.ERP_CONCURRENCY / config.ERP_WORKERS));
}

/**
 * The ERP's own worker: activities only, on the ERP task queue (the ERP_TASK_QUEUE setting;
 * default the constant). It runs at most `slots` ERP activities at once, the same share of the
 * account's concurrency the process's ERP connector holds its requests to (an ERP activity is
 * one request in the common case), so a task is never taken only to wait for a slot; the rest
 * wait on the server, where any worker of the queue takes them. An optional queue-wide rate
 * limit applies on top.
 */
export function createErpWorker(opts: Omit<CreateWorkerOptions, 'taskQueue' | 'workflowBundle'> & { slots: number; activitiesPerSecond?: number | undefined; taskQueue?: string }): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace ?? 'default',
    taskQueue: opts.taskQueue ?? ERP_TASK_QUEUE,
    activities: createActivities(opts.deps),
    maxConcurrentActivityTaskExecutions: opts.slots,
    ...(opts.activitiesPerSecond !== undefined ? { maxTaskQueueActivitiesPerSecond: opts.activitiesPerSecond } : {}),
    ...(opts.telemetry ? { interceptors: { activity: opts.telemetry.interceptors.activity } } : {}),
    ...(opts.dataConverter ? { dataConverter: opts.dataConverter } : {}),
  });
}

export function rootLogger(level: string, format: LogFormat = 'json'): Logger {
  return createLogger({ level, service: 'q2c-worker', format });
}

/** The activities' dependencies from configuration: connectors (real vendors or the sandbox), catalog. */
export function activityDepsFrom(config: Config, db: Db, logger: Logger, temporalClient?: WorkflowClient): ActivityDeps {
  return {
    // The reconciliation sweep signals deals with what the webhooks missed.
    ...(temporalClient ? { temporalClient } : {}),
    db,
    logger,
    catalog: loadCatalog(),
    // The contract's pinned rule set, from the database (rule sets change without a redeploy).
    ruleSets: (ref) => new RuleSetRepository(db).getRuleSet(ref),
    // A new deal pins the version in force (approved, activated by its proposal at its effective date).
    activeRuleSet: async (id) => {
      const rs = await new RuleSetRepository(db).latestApproved(id);
      return rs && { id: rs.id, version: rs.version };
    },
    connectors: createConnectors({ ...connectorsConfigFromEnv(config as unknown as Record<string, string | undefined>), erpConcurrency: erpSlotsPerWorker(config), logger: logger.child({ component: 'connectors' }) }),
  };
}

/** Payload encryption shared by every client and worker of the deployment (unset: payloads in the clear). */
export function dataConverterFrom(config: Config): WorkerOptions['dataConverter'] {
  return config.Q2C_PAYLOAD_KEYS ? { payloadCodecs: [new EncryptionCodec(parseEncryptionKeys(config.Q2C_PAYLOAD_KEYS))] } : undefined;
}

const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Where the standalone worker serves the SDK's Prometheus metrics unless WORKER_METRICS_ADDRESS says otherwise. */
export const DEFAULT_WORKER_METRICS_ADDRESS = '0.0.0.0:9464';

/**
 * Installs the SDK's runtime, once per process and before any connection or worker: its own
 * logs (worker, workflow `log`, activity context) into pino, and, given `metricsAddress`, its
 * worker metrics (temporal_* : task slots, poll and schedule-to-start latencies, sticky cache,
 * activity and workflow task outcomes) as Prometheus text on http://<metricsAddress>/metrics.
 */
export function installRuntimeLogger(logger: Logger, metricsAddress?: string): void {
  const sdk = logger.child({ component: 'temporal-sdk' });
  Runtime.install({
    logger: new DefaultLogger('INFO', ({ level, message, meta }) => sdk[PINO_LEVEL[level]](meta ?? {}, message)),
    ...(metricsAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress, countersTotalSuffix: true, useSecondsForDurations: true } } } } : {}),
  });
}

/** The standalone worker's metrics address: WORKER_METRICS_ADDRESS, `off` for none, default DEFAULT_WORKER_METRICS_ADDRESS. */
export function workerMetricsAddress(config: Pick<Config, 'WORKER_METRICS_ADDRESS'>, fallback: string | null = DEFAULT_WORKER_METRICS_ADDRESS): string | undefined {
  const set = config.WORKER_METRICS_ADDRESS;
  return set === 'off' ? undefined : (set ?? fallback ?? undefined);
}

/**
 * Runs the workers until the process is signalled. Every vendor needs its own
 * settings in `config` (a standalone worker knows no sandbox; `q2c worker` fills
 * them from Q2C_SANDBOX_URL). Its business KPIs go nowhere (they are the service's /metrics);
 * the SDK's worker metrics are served on WORKER_METRICS_ADDRESS.
 */
export async function runWorker(config: Config): Promise<void> {
  const logger = rootLogger(config.LOG_LEVEL, resolveLogFormat(config.LOG_FORMAT, false));
  const metricsAddress = workerMetricsAddress(config);
  installRuntimeLogger(logger, metricsAddress);
  const telemetry = setupTelemetry({ serviceName: 'q2c-worker', env: config });
  const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: `${config.Q2C_DATA_DIR}/pglite`, onIdleError: (err) => logger.warn({ err }, 'database connection dropped; the next query reconnects') });
  // The shipped rule sets a new deal pins (idempotent, safe for workers starting together): a worker
  // on a fresh database can bill; a shipped file changed without a version bump stops it here.
  const ruleSets = await ensureDefaultRuleSets(db.db);
  logger.info({ ruleSets: ruleSets.map((r) => `${r.id}@${r.version}${r.created ? ' (loaded)' : ''}`) }, 'rule sets ready');
  const connection = await connectTemporalNative(config);
  const clientConnection = await connectTemporal(config);
  const dataConverter = dataConverterFrom(config);
  const client = temporalClient(clientConnection, config, { ...(dataConverter ? { dataConverter } : {}), ...(telemetry.clientInterceptors ? { interceptors: telemetry.clientInterceptors } : {}) });
  const deps = activityDepsFrom(config, db.db, logger, client.workflow);
  const workflowBundle = workflowBundleFor(config.WORKFLOW_BUNDLE, telemetry.worker !== undefined);
  const worker = await createWorker({
    ...(workflowBundle ? { workflowBundle } : {}),
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    deps,
    dataConverter,
    telemetry: telemetry.worker,
    ...(config.WORKER_MAX_CACHED_WORKFLOWS !== undefined ? { maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS } : {}),
  });
  const erpSlots = erpSlotsPerWorker(config);
  const erpWorker = await createErpWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    deps,
    dataConverter,
    telemetry: telemetry.worker,
    slots: erpSlots,
    activitiesPerSecond: config.ERP_ACTIVITIES_PER_SECOND,
    taskQueue: config.ERP_TASK_QUEUE,
  });
  logger.info(
    {
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      erpTaskQueue: config.ERP_TASK_QUEUE,
      erpConcurrency: erpSlots,
      address: config.TEMPORAL_ADDRESS,
      namespace: config.TEMPORAL_NAMESPACE,
      ...(config.temporal.profile ? { profile: config.temporal.profile } : {}),
      metrics: metricsAddress ? `http://${metricsAddress}/metrics` : 'off',
      workflowBundle: workflowBundle?.codePath ?? 'bundled at start',
      tracing: telemetry.enabled,
    },
    'worker running',
  );
  try {
    await Promise.all([worker.run(), erpWorker.run()]);
  } finally {
    await connection.close();
    await clientConnection.close();
    await db.close();
    await telemetry.shutdown();
  }
}

if (require.main === module) {
  Promise.resolve()
    .then(() => runWorker(loadConfig()))
    .catch((err: unknown) => {
      // A bad setting is one sentence naming it; anything else keeps its stack trace.
      const known = err instanceof ConfigError || err instanceof TemporalConnectionError || err instanceof WorkflowBundleError || err instanceof RuleSetStoreError;
      console.error(known ? `q2c worker: ${err.message}` : err);
      process.exit(1);
    });
}
