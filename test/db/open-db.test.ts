import { eq, sql } from 'drizzle-orm';
import { openDb, schema } from '../../src/db';
import { testDatabaseUrl } from '../support/database';

describe('openDb', () => {
  it('migrates PGlite in memory and round-trips an identity mapping', async () => {
    const handle = await openDb({ dataDir: 'memory://' });
    try {
      expect(handle.driver).toBe('pglite');
      await handle.db.insert(schema.identityMap).values({ kind: 'customer', canonicalId: 'cus-1', system: 'netsuite', externalId: '42' });
      const rows = await handle.db.select().from(schema.identityMap).where(eq(schema.identityMap.externalId, '42'));
      expect(rows.map((r) => r.canonicalId)).toEqual(['cus-1']);
      // The same (system, kind, external id) cannot map to a second canonical object.
      await expect(
        handle.db.insert(schema.identityMap).values({ kind: 'customer', canonicalId: 'cus-2', system: 'netsuite', externalId: '42' }),
      ).rejects.toThrow();
    } finally {
      await handle.close();
    }
  });

  it('refuses a DATABASE_URL with stray text before it, naming the variable, before opening anything', async () => {
    // What a server script printing "Removed stale pid file." on stdout once produced.
    const polluted = 'Removed stale pid file.\npostgres://q2c:q2c@127.0.0.1:5432/q2c_test';
    await expect(openDb({ databaseUrl: polluted })).rejects.toThrow(/DATABASE_URL is not a postgres:\/\/ or postgresql:\/\/ URL/);
  });

  it('releases the pool when migrations cannot reach the server (no open handle left behind)', async () => {
    // Port 1 on loopback refuses connections at once.
    await expect(openDb({ databaseUrl: 'postgres://q2c:q2c@127.0.0.1:1/q2c_test' })).rejects.toThrow();
  });

  const url = testDatabaseUrl();
  (url ? it : it.skip)('runs the same migrations on the PostgreSQL server in DATABASE_URL (skipped when unset; CI sets it)', async () => {
    const handle = await openDb({ databaseUrl: url! });
    try {
      expect(handle.driver).toBe('postgres');
      const res = await handle.db.execute(sql`select count(*)::int as n from information_schema.tables where table_schema = 'sandbox'`);
      const rows = (res as unknown as { rows: Array<{ n: number }> }).rows;
      expect(rows[0]!.n).toBe(3);
    } finally {
      await handle.close();
    }
  });

  (url ? it : it.skip)('outlives a server that drops its idle connections (a restart): told once, the next query opens a new one (skipped without DATABASE_URL)', async () => {
    const dropped: Error[] = [];
    const handle = await openDb({ databaseUrl: url!, applicationName: 'q2c-open-db-test', onIdleError: (err) => dropped.push(err) });
    const admin = await openDb({ databaseUrl: url!, migrate: false });
    try {
      await handle.db.execute(sql`select 1`);
      // What a restart does to every pooled connection: the server ends the backend.
      await admin.db.execute(sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'q2c-open-db-test'`);
      for (let i = 0; i < 50 && dropped.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(dropped.length).toBeGreaterThanOrEqual(1);
      const res = await handle.db.execute(sql`select 2 as n`);
      expect((res as unknown as { rows: Array<{ n: number }> }).rows[0]!.n).toBe(2);
    } finally {
      await handle.close();
      await admin.close();
    }
  });
});
