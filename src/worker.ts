import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel, type WorkerOptions } from '@temporalio/worker';
import pino, { type Logger } from 'pino';
import { createActivities, type ActivityDeps } from './activities';
import { loadConfig } from './config';
import { openDb } from './db';

export const WORKFLOWS_PATH = require.resolve('./workflows');

export interface CreateWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** Pre-bundled workflow code (tests bundle once per file); otherwise bundled from WORKFLOWS_PATH. */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

/** The q2c worker: workflow code plus activities closed over their dependencies. */
export function createWorker(opts: CreateWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace ?? 'default',
    taskQueue: opts.taskQueue,
    activities: createActivities(opts.deps),
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
  });
}

export function rootLogger(level: string): Logger {
  return pino({ level, base: { service: 'q2c-worker' }, redact: ['*.apiKey', '*.secret', '*.token', '*.password'] });
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
  const worker = await createWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    deps: { db: db.db, logger },
  });
  logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, address: config.TEMPORAL_ADDRESS }, 'worker running');
  try {
    await worker.run();
  } finally {
    await connection.close();
    await db.close();
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
