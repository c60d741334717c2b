import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../config';
import { openDb } from '../db';
import { startSandbox } from './server';

/**
 * Starts every vendor sandbox on SANDBOX_PORT (default 8090): `tsx src/sandbox/main.ts`.
 * State goes to DATABASE_URL, or to a PGlite directory of its own under Q2C_DATA_DIR.
 * DocuSign Connect events go to the q2c service on SERVICE_PORT.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = pino({ level: config.LOG_LEVEL, name: 'sandbox' });
  const handle = await openDb(config.DATABASE_URL ? { databaseUrl: config.DATABASE_URL } : { dataDir: path.join(config.Q2C_DATA_DIR, 'sandbox-pglite') });
  const sandbox = await startSandbox({
    port: config.SANDBOX_PORT,
    db: handle.db,
    logger,
    webhookTargets: {
      docusign: `http://127.0.0.1:${config.SERVICE_PORT}/webhooks/docusign/connect`,
      stripe: `http://127.0.0.1:${config.SERVICE_PORT}/webhooks/stripe`,
    },
  });
  logger.info({ url: sandbox.url }, 'sandbox listening');
  const stop = async (): Promise<void> => {
    await sandbox.close();
    await handle.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
