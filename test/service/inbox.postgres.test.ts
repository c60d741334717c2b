import { and, eq } from 'drizzle-orm';
import { openDb, schema, type DbHandle } from '../../src/db';
import { testDatabaseUrl } from '../support/database';
import { SECRETS, q2cHeaders, startHarness, type Harness } from './support/harness';
import { closedWon } from './support/payloads';

const url = testDatabaseUrl();

// Real concurrency needs real connections: PGlite runs one query at a time, PostgreSQL
// (pool of 10) lets the three inserts race for the partial unique index.
(url ? describe : describe.skip)('webhook inbox on the PostgreSQL server in DATABASE_URL (skipped when unset; CI sets it)', () => {
  let database: DbHandle;
  let h: Harness;
  beforeAll(async () => {
    database = await openDb({ databaseUrl: url! });
    h = await startHarness(database);
  });
  afterAll(async () => {
    await h.close();
    await database.close();
  });

  it('dispatches ten concurrent deliveries of one event exactly once', async () => {
    const eventId = `pg-dup-${process.pid}-${Date.now()}`;
    h.gateway.delayMs = 20;
    const body = JSON.stringify(closedWon({ eventId }));
    const responses = await Promise.all(
      Array.from({ length: 10 }, () =>
        h.inject({ method: 'POST', url: '/webhooks/salesforce/opportunity', payload: body, headers: q2cHeaders(body, SECRETS.salesforceNew) }),
      ),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(10).fill(202));
    expect(responses.filter((r) => r.json().duplicate === false)).toHaveLength(1);
    expect(h.gateway.calls.filter((c) => (c as { event: { eventId: string } }).event.eventId === eventId)).toHaveLength(1);

    const rows = await database.db
      .select({ status: schema.webhookInbox.status })
      .from(schema.webhookInbox)
      .where(and(eq(schema.webhookInbox.source, 'salesforce'), eq(schema.webhookInbox.eventId, eventId)));
    expect(rows.map((r) => r.status).sort()).toEqual(['dispatched', ...Array(9).fill('duplicate')]);
  });
});
