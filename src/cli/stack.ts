import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { openDb, type DbHandle } from '../db';
import { createWorker, installRuntimeLogger } from '../worker';
import { DEAL_WORKFLOW_TYPE, dealWorkflowId, type DealInput } from '../workflows/deal.messages';
import { loadDevServerSettings, startDevServer, type RunningDevServer } from './temporal-dev';
import { REPO_ROOT } from './toolchain';

export interface Stack {
  temporal: RunningDevServer;
  db: DbHandle;
  client: Client;
  worker: Worker;
  workerRun: Promise<void>;
  stop(): Promise<void>;
}

/**
 * The whole local stack in one process: the Temporal dev server (a child process,
 * or the one already listening), the database, and the worker.
 */
export async function startStack(config: Config, logger: Logger): Promise<Stack> {
  installRuntimeLogger(logger);
  const settings = loadDevServerSettings();
  const useLocalServer = config.TEMPORAL_ADDRESS === `localhost:${settings.port}` || config.TEMPORAL_ADDRESS === `${settings.ip}:${settings.port}`;
  const temporal: RunningDevServer = useLocalServer
    ? await startDevServer(settings, { temporalCli: config.TEMPORAL_CLI, pathEnv: config.PATH })
    : { address: config.TEMPORAL_ADDRESS, uiUrl: '(your cluster UI)', stop: async () => {} };
  logger.info({ address: temporal.address, ui: temporal.uiUrl, reused: useLocalServer && !temporal.process }, 'temporal ready');

  const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: path.resolve(REPO_ROOT, config.Q2C_DATA_DIR, 'pglite') });
  logger.info({ driver: db.driver }, 'database ready');

  const connection = await Connection.connect({ address: temporal.address, apiKey: config.TEMPORAL_API_KEY });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const nativeConnection = await NativeConnection.connect({ address: temporal.address, apiKey: config.TEMPORAL_API_KEY });
  const worker = await createWorker({
    connection: nativeConnection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    deps: { db: db.db, logger },
  });
  const workerRun = worker.run();
  logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE }, 'worker running');

  return {
    temporal,
    db,
    client,
    worker,
    workerRun,
    async stop() {
      // The SDK's runtime already shuts workers down on SIGINT/SIGTERM.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await workerRun.catch(() => {});
      await nativeConnection.close();
      await connection.close();
      await db.close();
      await temporal.stop();
    },
  };
}

/** Starts the sample deal (idempotent: its workflow id is fixed by the opportunity id). */
export async function startSampleDeal(stack: Stack, config: Config, opportunityId = 'OPP-SAMPLE-0001'): Promise<string> {
  const workflowId = dealWorkflowId(opportunityId);
  const input: DealInput = { opportunityId, correlationId: randomUUID() };
  await stack.client.workflow.start(DEAL_WORKFLOW_TYPE, {
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    workflowId,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  return workflowId;
}
