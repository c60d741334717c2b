import { Command } from 'commander';
import { createLogger, resolveLogFormat } from '../logger';
import { ConfigError, loadConfig } from '../config';
import path from 'node:path';
import { openDb } from '../db';
import { consoleBanner, ensureDevSecrets, withSandboxVendors } from './dev-secrets';
import { registerRuleSetCommands } from './ruleset';
import { registerSweepCommands } from './sweep';
import { withDealClient } from './deal-client';
import { registerRevenueCommands } from './revenue';
import { registerDealCommands } from './deal';
import { CliError } from './errors';
import { parseOperatorKeys } from '../service/auth';
import { getRevenueWaterfallQuery } from '../contract';
import { QueryNotRegisteredError, WorkflowNotFoundError } from '@temporalio/client';
import { connectTemporal, TemporalConnectionError, temporalClient } from '../temporal/connection';
import { setupTelemetry, shutdownTelemetry } from '../telemetry';
import { auditCommandDeps, registerAuditCommands } from './audit';
import { SAMPLE_DAY_MS, describeSample, inspectSample, runSampleDeal } from './sample';
import { startStack } from './stack';
import { dataConverterFrom, runWorker } from '../worker';
import { createTemporalGovernanceGateway } from '../service/ruleset-gateway';
import { SettingsError, loadDevServerSettings, startDevServer } from './temporal-dev';
import { REPO_ROOT, ToolchainError } from './toolchain';

const program = new Command('q2c').description('q2c: quote-to-cash orchestration on Temporal');

program
  .command('temporal')
  .description('start the Temporal dev server and Web UI from temporal-dev.yaml')
  .action(async () => {
    const config = loadConfig();
    const server = await startDevServer(loadDevServerSettings(), { temporalCli: config.TEMPORAL_CLI, pathEnv: config.PATH, reuse: false });
    console.log(`Temporal dev server on ${server.address}; Web UI ${server.uiUrl}. Ctrl-C stops it.`);
    await waitForSignal();
    await server.stop();
  });

program
  .command('up')
  .description('start the whole local stack (Temporal dev server, database, worker) and keep it running')
  .option('--sample', 'run the sample deal (demo mode: its business calendar accelerated) once the stack is up')
  .option('--day-ms <ms>', 'demo mode: real milliseconds per business day of the sample deal', String(SAMPLE_DAY_MS))
  .action(async (opts: { sample?: boolean; dayMs: string }) => {
    // Dev stack: secrets generated once under .q2c (the environment still wins).
    const config = loadConfig((base) => ensureDevSecrets(path.resolve(REPO_ROOT, base.Q2C_DATA_DIR)));
    const logger = createLogger({ level: config.LOG_LEVEL, service: 'q2c', format: resolveLogFormat(config.LOG_FORMAT, true) });
    const stack = await startStack(config, logger);
    if (opts.sample) {
      try {
        const sample = await runSampleDeal(stack, config, (line) => console.log(`[sample] ${line}`), { dayMs: Number(opts.dayMs) });
        console.log('');
        for (const line of describeSample(sample, { webUi: stack.temporal.uiUrl, namespace: config.TEMPORAL_NAMESPACE })) console.log(line);
        if (sample.view.stage === 'CLOSED') await inspectSample(stack, config, logger, sample, (line) => console.log(`  ${line}`));
      } catch (err) {
        console.error('[sample] failed; the stack keeps running:', err);
      }
    }
    console.log(`\nq2c is up. Temporal Web UI: ${stack.temporal.uiUrl}  (Ctrl-C stops everything)`);
    for (const line of consoleBanner(stack.serviceUrl, config.Q2C_OPERATOR_API_KEYS)) console.log(line);
    await waitForSignal();
    console.log('stopping ...');
    await stack.stop();
  });

program
  .command('worker')
  .description('run the workers against TEMPORAL_ADDRESS; vendors without settings of their own use the sandbox at Q2C_SANDBOX_URL')
  .action(async () => {
    const config = loadConfig();
    await runWorker(config.Q2C_SANDBOX_URL ? withSandboxVendors(config, config.Q2C_SANDBOX_URL) : config);
  });

/** The database the CLI commands use: DATABASE_URL, or the dev stack's PGlite directory (only while the stack is stopped). */
const cliDb = () => {
  const config = loadConfig();
  return openDb({ databaseUrl: config.DATABASE_URL, dataDir: path.resolve(REPO_ROOT, config.Q2C_DATA_DIR, 'pglite') });
};

registerRuleSetCommands(program, {
  openDb: cliDb,
  governance: async () => {
    // The dev stack's generated secrets include the payload keys the workers encrypt with.
    const config = loadConfig((base) => ensureDevSecrets(path.resolve(REPO_ROOT, base.Q2C_DATA_DIR)));
    const connection = await connectTemporal(config);
    const dataConverter = dataConverterFrom(config);
    const { clientInterceptors } = setupTelemetry({ serviceName: 'q2c-cli', env: config });
    const client = temporalClient(connection, config, { ...(dataConverter ? { dataConverter } : {}), ...(clientInterceptors ? { interceptors: clientInterceptors } : {}) });
    return { gateway: createTemporalGovernanceGateway({ client: client.workflow, taskQueue: config.TEMPORAL_TASK_QUEUE }), close: () => connection.close() };
  },
});
registerSweepCommands(program, {
  taskQueue: loadConfig().TEMPORAL_TASK_QUEUE,
  client: async () => {
    const config = loadConfig();
    const connection = await connectTemporal(config);
    const { clientInterceptors } = setupTelemetry({ serviceName: 'q2c-cli', env: config });
    return { client: temporalClient(connection, config, clientInterceptors ? { interceptors: clientInterceptors } : {}), close: () => connection.close() };
  },
});
// audit / reconcile: DATABASE_URL or the stopped stack's PGlite; deal state from Temporal; see auditCommandDeps.
registerAuditCommands(program, auditCommandDeps(() => loadConfig((base) => ensureDevSecrets(path.resolve(REPO_ROOT, base.Q2C_DATA_DIR))), createLogger({ level: 'error', service: 'q2c-cli' })));

registerRevenueCommands(program, {
  waterfall: (dealId) =>
    withDealClient(loadConfig((base) => ensureDevSecrets(path.resolve(REPO_ROOT, base.Q2C_DATA_DIR))), `the revenue waterfall of ${dealId}`, (client) =>
      client.workflow
        .getHandle(dealId)
        .query(getRevenueWaterfallQuery)
        .catch((err: unknown) => {
          if (err instanceof QueryNotRegisteredError) throw new CliError(`deal ${dealId} has not reached delivery: no revenue waterfall yet`);
          if (err instanceof WorkflowNotFoundError) throw new CliError(`no deal ${dealId}`);
          throw err;
        }),
    ),
});

registerDealCommands(program, {
  serviceUrl: () => {
    const config = loadConfig();
    return config.Q2C_SERVICE_URL ?? `http://127.0.0.1:${config.SERVICE_PORT}`;
  },
  keyFor: (scope) => {
    const config = loadConfig((base) => ensureDevSecrets(path.resolve(REPO_ROOT, base.Q2C_DATA_DIR)));
    if (config.Q2C_OPERATOR_KEY) return config.Q2C_OPERATOR_KEY;
    // The dev stack's generated keys: one allowed the scope ('operate' and 'approve' imply 'read').
    const key = parseOperatorKeys(config.Q2C_OPERATOR_API_KEYS).find((k) => k.scopes.includes(scope) || (scope === 'read' && k.scopes.length > 0));
    if (!key) throw new CliError(`no operator key with the ${scope} scope: set Q2C_OPERATOR_KEY`);
    return key.key;
  },
});

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

// .finally: a command's spans leave before the process does (tracing on).
program.parseAsync(process.argv).finally(() => shutdownTelemetry()).catch((err: unknown) => {
  // Known failures are one clear sentence; anything else keeps its stack trace.
  if (err instanceof ConfigError || err instanceof SettingsError || err instanceof ToolchainError || err instanceof CliError || err instanceof TemporalConnectionError) {
    console.error(`q2c: ${err.message}`);
  } else if (err instanceof Error && /already in use|did not listen|exited with/.test(err.message)) {
    console.error(`q2c: ${err.message}`);
  } else {
    console.error(err);
  }
  process.exit(1);
});
