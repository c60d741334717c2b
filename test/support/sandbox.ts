import pino from 'pino';
import { openDb, type DbHandle } from '../../src/db';
import type { SandboxVendor } from '../../src/sandbox/context';
import type { FaultRegistry } from '../../src/sandbox/faults';
import type { RequestCounter } from '../../src/sandbox/requests';
import { startSandbox } from '../../src/sandbox/server';
import type { SandboxStore } from '../../src/sandbox/store';
import type { WebhookSender } from '../../src/sandbox/webhooks';
import { testDatabaseUrl } from './database';

export interface TestSandbox {
  /** Base URL; vendors hang off it: `${url}/salesforce`, `${url}/docusign` ... */
  url: string;
  store: SandboxStore;
  faults: FaultRegistry;
  webhooks: WebhookSender;
  requests: RequestCounter;
  close(): Promise<void>;
}

export interface TestSandboxOptions {
  webhookTargets?: Record<string, string>;
  vendors?: readonly SandboxVendor[];
}

/**
 * Starts the whole sandbox on an ephemeral loopback port, on DATABASE_URL when
 * set (its sandbox tables emptied first, so runs do not see each other's
 * external ids) or on an in-memory PGlite.
 */
export async function startTestSandbox(options: TestSandboxOptions = {}): Promise<TestSandbox> {
  const databaseUrl = testDatabaseUrl();
  const handle = await openDb(databaseUrl ? { databaseUrl } : { dataDir: 'memory://' });
  const sandbox = await startSandbox({
    port: 0,
    db: handle.db,
    logger: pino({ level: process.env.SANDBOX_LOG_LEVEL ?? 'silent' }),
    ...(options.webhookTargets ? { webhookTargets: options.webhookTargets } : {}),
    ...(options.vendors ? { vendors: options.vendors } : {}),
  });
  if (databaseUrl) await sandbox.store.reset();
  return {
    url: sandbox.url,
    store: sandbox.store,
    faults: sandbox.faults,
    webhooks: sandbox.webhooks,
    requests: sandbox.requests,
    close: async () => {
      await sandbox.webhooks.idle();
      await sandbox.close();
      await handle.close();
    },
  };
}

/**
 * The file's sandbox and in-memory database, opened before its tests and closed
 * after them; `use` receives both (assign them to the file's variables).
 */
export function useSandboxAndDb(use: (c: { sandbox: TestSandbox; db: DbHandle }) => void, options: TestSandboxOptions = {}): void {
  let sandbox: TestSandbox | undefined;
  let db: DbHandle | undefined;
  beforeAll(async () => {
    sandbox = await startTestSandbox(options);
    db = await openDb({ dataDir: 'memory://' });
    use({ sandbox, db });
  });
  afterAll(async () => {
    await sandbox?.close();
    await db?.close();
  });
}
