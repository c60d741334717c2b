import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { openDb, type DbHandle } from '../db';
import { ensureDefaultRuleSets } from '../db/rulesets';
import { startSandbox, type RunningSandbox } from '../sandbox/server';
import { buildService } from '../service/app';
import { serviceSecretsFrom } from '../service/main';
import { createMetrics } from '../service/metrics';
import { createTemporalDealGateway } from '../service/temporal-deal-gateway';
import { createTemporalGovernanceGateway } from '../service/ruleset-gateway';
import { activityDepsFrom, createErpWorker, createWorker, dataConverterFrom, erpSlotsPerWorker, installRuntimeLogger, workerMetricsAddress } from '../worker';
import { setupTelemetry, type Telemetry } from '../telemetry';
import { connectTemporal, connectTemporalNative, temporalClient } from '../temporal/connection';
import { withSandboxVendors } from './dev-secrets';
import { DEFAULT_SWEEP_EVERY, ensureSweepSchedule } from './sweep';
import { loadDevServerSettings, startDevServer, type RunningDevServer } from './temporal-dev';
import { SWEEP_SCHEDULE_ID } from '../contract';
import { REPO_ROOT } from './toolchain';

export interface Stack {
  temporal: RunningDevServer;
  db: DbHandle;
  client: Client;
  sandbox: RunningSandbox;
  service: FastifyInstance;
  serviceUrl: string;
  workers: Worker[];
  stop(): Promise<void>;
}

/**
 * The whole local stack in one process (PGlite allows one process per data
 * directory): the Temporal dev server (a child process, or the one already
 * listening), the database, the vendor sandboxes, the webhook/operator service
 * and the workers.
 */
export async function startStack(config: Config, logger: Logger): Promise<Stack> {
  // The service serves the stack's /metrics; the SDK's worker metrics only when WORKER_METRICS_ADDRESS asks.
  const metricsAddress = workerMetricsAddress(config, null);
  installRuntimeLogger(logger, metricsAddress);
  if (metricsAddress) logger.info({ url: `http://${metricsAddress}/metrics` }, 'Temporal SDK worker metrics');
  // Before the sandbox and the service (Fastify instances) exist: their request spans register as they initialise.
  const telemetry = setupTelemetry({ serviceName: 'q2c', env: config });
  // What has started so far, stopped newest first if a later step fails: a failed start leaves no dev server behind.
  const started: Array<() => Promise<unknown>> = [];
  const stopStarted = async () => {
    for (const stop of started.splice(0).reverse()) await stop().catch((err: unknown) => logger.warn({ err }, 'stopping a part of the stack failed'));
  };
  try {
    started.push(() => telemetry.shutdown());
    return await startParts(config, logger, telemetry, started, stopStarted);
  } catch (err) {
    await stopStarted();
    throw err;
  }
}

async function startParts(config: Config, logger: Logger, telemetry: Telemetry, started: Array<() => Promise<unknown>>, stopStarted: () => Promise<void>): Promise<Stack> {
  const settings = loadDevServerSettings();
  const useLocalServer = config.TEMPORAL_ADDRESS === `localhost:${settings.port}` || config.TEMPORAL_ADDRESS === `${settings.ip}:${settings.port}`;
  const temporal: RunningDevServer = useLocalServer
    ? await startDevServer(settings, { temporalCli: config.TEMPORAL_CLI, pathEnv: config.PATH })
    : { address: config.TEMPORAL_ADDRESS, uiUrl: '(your cluster UI)', stop: async () => {} };
  started.push(() => temporal.stop());
  logger.info({ address: temporal.address, ui: temporal.uiUrl, reused: useLocalServer && !temporal.process }, 'temporal ready');

  const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: path.resolve(REPO_ROOT, config.Q2C_DATA_DIR, 'pglite'), onIdleError: (err) => logger.warn({ err }, 'database connection dropped; the next query reconnects') });
  started.push(() => db.close());
  logger.info({ driver: db.driver }, 'database ready');
  const loaded = await ensureDefaultRuleSets(db.db);
  logger.info({ ruleSets: loaded.map((r) => `${r.id}@${r.version}${r.created ? ' (loaded)' : ''}`) }, 'rule sets ready');

  const sandbox = await startSandbox({
    port: config.SANDBOX_PORT,
    db: db.db,
    logger: logger.child({ component: 'sandbox' }),
    webhookTargets: {
      docusign: `http://127.0.0.1:${config.SERVICE_PORT}/webhooks/docusign/connect`,
      stripe: `http://127.0.0.1:${config.SERVICE_PORT}/webhooks/stripe`,
    },
  });
  started.push(() => sandbox.close());
  // Vendors without real settings run against the sandbox just started (or the one at Q2C_SANDBOX_URL).
  const effective: Config = withSandboxVendors(config, config.Q2C_SANDBOX_URL ?? sandbox.url);
  logger.info({ url: sandbox.url }, 'vendor sandboxes ready');

  const dataConverter = dataConverterFrom(effective);
  // The dev server just started may listen elsewhere than configured (reused); every other setting is the configuration's.
  const connection = await connectTemporal(config, { address: temporal.address });
  started.push(() => connection.close());
  const client = temporalClient(connection, config, { ...(dataConverter ? { dataConverter } : {}), ...(telemetry.clientInterceptors ? { interceptors: telemetry.clientInterceptors } : {}) });
  const nativeConnection = await connectTemporalNative(config, { address: temporal.address });
  started.push(() => nativeConnection.close());
  const deps = activityDepsFrom(effective, db.db, logger, client.workflow);
  // One registry for the process: the workflows' KPIs (through the worker's sinks) land on the service's /metrics.
  const metrics = createMetrics();
  const workers = [
    await createWorker({
      connection: nativeConnection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      deps,
      dataConverter,
      kpis: metrics.kpis,
      telemetry: telemetry.worker,
      ...(config.WORKER_MAX_CACHED_WORKFLOWS !== undefined ? { maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS } : {}),
    }),
    await createErpWorker({
      connection: nativeConnection,
      namespace: config.TEMPORAL_NAMESPACE,
      deps,
      dataConverter,
      telemetry: telemetry.worker,
      slots: erpSlotsPerWorker(config),
      activitiesPerSecond: config.ERP_ACTIVITIES_PER_SECOND,
      taskQueue: config.ERP_TASK_QUEUE,
    }),
  ];
  const runs = workers.map((w) => w.run());
  started.push(async () => {
    // The SDK's runtime already shuts workers down on SIGINT/SIGTERM.
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.allSettled(runs);
  });
  logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE }, 'workers running');
  try {
    const sweep = await ensureSweepSchedule(client, { taskQueue: config.TEMPORAL_TASK_QUEUE, every: DEFAULT_SWEEP_EVERY });
    logger.info({ schedule: SWEEP_SCHEDULE_ID, every: DEFAULT_SWEEP_EVERY, outcome: sweep }, 'PSA reconciliation sweep scheduled');
  } catch (err) {
    // The sweep only catches what webhooks missed; the stack runs without it. A schedule kept by the dev
    // server under payload keys this data directory does not have cannot be decoded to update it.
    logger.warn({ err, schedule: SWEEP_SCHEDULE_ID }, 'PSA reconciliation sweep not scheduled (npm run q2c -- sweep schedule retries); the stack runs without it');
  }

  const service = await buildService({
    db: db.db,
    dealGateway: createTemporalDealGateway({ client: client.workflow, taskQueue: config.TEMPORAL_TASK_QUEUE, erpTaskQueue: config.ERP_TASK_QUEUE }),
    governance: createTemporalGovernanceGateway({ client: client.workflow, taskQueue: config.TEMPORAL_TASK_QUEUE }),
    logger: logger.child({ component: 'service' }),
    secrets: serviceSecretsFrom(config),
    metrics,
    // The dev stack: read-only pages and the Web UI's codec calls from this machine need no key.
    openOnLoopback: true,
    // Each webhook's own line ('webhook dispatched') tells the story; the HTTP lines are for LOG_LEVEL=debug.
    requestLogLevel: 'debug',
    // Loopback (the sample, the CLI, a local browser) is never limited here; other clients are.
    rateLimit: { perMinute: config.RATE_LIMIT_PER_MINUTE, webhooksPerMinute: config.WEBHOOK_RATE_LIMIT_PER_MINUTE, exemptLoopback: true },
    uiBaseUrl: temporal.uiUrl,
    namespace: config.TEMPORAL_NAMESPACE,
    ...(dataConverter ? { codec: dataConverter.payloadCodecs![0]! } : {}),
    ...(config.Q2C_CONSOLE_SESSION_KEY ? { consoleSessionKey: Buffer.from(config.Q2C_CONSOLE_SESSION_KEY, 'base64') } : {}),
  });
  started.push(() => service.close());
  const serviceUrl = await service.listen({ port: config.SERVICE_PORT, host: '127.0.0.1' });
  logger.info({ url: serviceUrl }, 'service listening');

  return { temporal, db, client, sandbox, service, serviceUrl, workers, stop: stopStarted };
}
