import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import * as schema from './schema';

export { schema };

/** The drizzle database, whichever driver is underneath (node-postgres or PGlite). */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface DbHandle {
  db: Db;
  driver: 'postgres' | 'pglite';
  close(): Promise<void>;
}

export const MIGRATIONS_DIR = path.join(__dirname, 'migrations');

export interface OpenDbOptions {
  /** PostgreSQL server URL; when absent, PGlite in `dataDir` (or in memory with 'memory://'). */
  databaseUrl?: string;
  dataDir?: string;
  /** Run pending migrations (default true). Both drivers run the same migration files. */
  migrate?: boolean;
  /**
   * Told when the server drops an idle pooled connection (a restart, a failover, an idle
   * timeout). The pool discards that connection and the next query opens a new one; without
   * a listener the pool's 'error' event would end the process (the chaos run, issue 15).
   */
  onIdleError?: (err: Error) => void;
  /** application_name on the server's side (pg_stat_activity). */
  applicationName?: string;
}

/**
 * Opens the database: PostgreSQL over `pg` when a URL is given, otherwise PGlite
 * (in-process PostgreSQL, data kept under `dataDir`) so `npm start` needs no server.
 */
export async function openDb(options: OpenDbOptions = {}): Promise<DbHandle> {
  const runMigrations = options.migrate ?? true;
  if (options.databaseUrl) {
    assertPostgresUrl(options.databaseUrl);
    const { Pool } = await import('pg');
    const { drizzle } = await import('drizzle-orm/node-postgres');
    const pool = new Pool({ connectionString: options.databaseUrl, max: 10, ...(options.applicationName ? { application_name: options.applicationName } : {}) });
    pool.on('error', (err) => options.onIdleError?.(err));
    const db = drizzle(pool, { schema });
    if (runMigrations) {
      const { migrate } = await import('drizzle-orm/node-postgres/migrator');
      // A failed migration must not leave the pool's sockets open behind it.
      await migrate(db, { migrationsFolder: MIGRATIONS_DIR }).catch(async (error: unknown) => {
        await pool.end();
        throw error;
      });
    }
    return { db: db as unknown as Db, driver: 'postgres', close: () => pool.end() };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const dataDir = options.dataDir ?? 'memory://';
  if (!dataDir.startsWith('memory://')) mkdirSync(dataDir, { recursive: true });
  const client = new PGlite(dataDir);
  const db = drizzle(client, { schema });
  if (runMigrations) {
    const { migrate } = await import('drizzle-orm/pglite/migrator');
    await migrate(db, { migrationsFolder: MIGRATIONS_DIR }).catch(async (error: unknown) => {
      await client.close();
      throw error;
    });
  }
  return { db: db as unknown as Db, driver: 'pglite', close: () => client.close() };
}

/**
 * A DATABASE_URL must be one absolute postgres:// URL. `pg` resolves anything
 * else against a placeholder host ("base"), which fails later and obscurely.
 */
function assertPostgresUrl(databaseUrl: string): void {
  let protocol: string | undefined;
  try {
    protocol = new URL(databaseUrl).protocol;
  } catch {
    protocol = undefined;
  }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
    throw new Error('DATABASE_URL is not a postgres:// or postgresql:// URL (check the variable for stray text or line breaks)');
  }
}
