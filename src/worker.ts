import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel, type WorkerOptions } from '@temporalio/worker';
import { Client, Connection, type WorkflowClient } from '@temporalio/client';
import type { Logger } from 'pino';
import { createLogger } from './logger';
import { createActivities, type ActivityDeps } from './activities';
import { loadCatalog } from './activities/deal/catalog';
import { EncryptionCodec, parseEncryptionKeys } from './codec/encryption.codec';
import { loadConfig, type Config } from './config';
import { connectorsConfigFromEnv, createConnectors } from './connectors';
import { openDb, type Db } from './db';
import { RuleSetRepository } from './db/rulesets';

import { ERP_TASK_QUEUE } from './workflows/task-queues';

export const WORKFLOWS_PATH = require.resolve('./workflows');

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** Pre-bundled workflow code (tests bundle once per file); otherwise bundled from WORKFLOWS_PATH. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  dataConverter?: WorkerOptions['dataConverter'];
}

/** The q2c worker: workflow code plus activities closed over their dependencies. */
export function createWorker(opts: CreateWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace ?? 'default',
    taskQueue: opts.taskQueue,
    activities: createActivities(opts.deps),
    ...(opts.dataConverter ? { dataConverter: opts.dataConverter } : {}),
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
  });
}

/**
 * The ERP's own worker: activities only, on ERP_TASK_QUEUE, with a queue-wide
 * rate limit (enforced by the Temporal server across every worker of the queue)
 * so a month-end peak cannot trip NetSuite's concurrency and request limits.
 */
export function createErpWorker(opts: Omit<CreateWorkerOptions, 'taskQueue' | 'workflowBundle'> & { activitiesPerSecond: number }): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace ?? 'default',
    taskQueue: ERP_TASK_QUEUE,
    activities: createActivities(opts.deps),
    maxTaskQueueActivitiesPerSecond: opts.activitiesPerSecond,
    ...(opts.dataConverter ? { dataConverter: opts.dataConverter } : {}),
  });
}

export function rootLogger(level: string): Logger {
  return createLogger({ level, service: 'q2c-worker' });
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
    connectors: createConnectors({ ...connectorsConfigFromEnv(config as unknown as Record<string, string | undefined>), logger: logger.child({ component: 'connectors' }) }),
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

/** Routes the SDK's own logs (worker, workflow `log`, activity context) into pino. Call once per process. */
export function installRuntimeLogger(logger: Logger): void {
  const sdk = logger.child({ component: 'temporal-sdk' });
  Runtime.install({
    logger: new DefaultLogger('INFO', ({ level, message, meta }) => sdk[PINO_LEVEL[level]](meta ?? {}, message)),
  });
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = rootLogger(config.LOG_LEVEL);
  installRuntimeLogger(logger);
  const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: `${config.Q2C_DATA_DIR}/pglite` });
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS, apiKey: config.TEMPORAL_API_KEY });
  const clientConnection = await Connection.connect({ address: config.TEMPORAL_ADDRESS, apiKey: config.TEMPORAL_API_KEY });
  const dataConverter = dataConverterFrom(config);
  const client = new Client({ connection: clientConnection, namespace: config.TEMPORAL_NAMESPACE, ...(dataConverter ? { dataConverter } : {}) });
  const deps = activityDepsFrom(config, db.db, logger, client.workflow);
  const worker = await createWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    deps,
    dataConverter,
  });
  const erpWorker = await createErpWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    deps,
    dataConverter,
    activitiesPerSecond: config.ERP_ACTIVITIES_PER_SECOND,
  });
  logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, address: config.TEMPORAL_ADDRESS }, 'worker running');
  try {
    await Promise.all([worker.run(), erpWorker.run()]);
  } finally {
    await connection.close();
    await clientConnection.close();
    await db.close();
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
