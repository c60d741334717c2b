import { openDb, type DbHandle } from '../../src/db';
import { sql } from 'drizzle-orm';
import { InboxRepository, STALE_DISPATCH_SECONDS, type InboxEntry } from '../../src/db/inbox';

describe('InboxRepository', () => {
  const NOW = new Date('2026-10-05T12:00:00.000Z');
  let handle: DbHandle;
  let inbox: InboxRepository;
  beforeAll(async () => {
    handle = await openDb({ dataDir: 'memory://' });
    inbox = new InboxRepository(handle.db, () => NOW);
  });
  afterAll(() => handle.close());

  const entry = (eventId: string, over: Partial<InboxEntry> = {}): InboxEntry => ({ source: 'kantata', eventId, eventType: 'time-entry-approved', rawBody: `{"eventId":"${eventId}"}`, workflowId: 'deal-OPP-1', correlationId: `c-${eventId}`, ...over });

  it('stores the first delivery of an event, records later ones as duplicates of it, and lets one redelivery claim a failed dispatch', async () => {
    const first = await inbox.accept(entry('e-1'));
    expect(first.kind).toBe('accepted');
    const dup = await inbox.accept(entry('e-1', { correlationId: 'c-again', workflowId: 'deal-OTHER' }));
    expect(dup).toMatchObject({ kind: 'duplicate', original: { id: first.id, status: 'accepted', workflowId: 'deal-OPP-1' } });

    await inbox.markDispatchFailed(first.id, { message: 'temporal unavailable' });
    const retry = await inbox.accept(entry('e-1', { correlationId: 'c-retry' }));
    expect(retry).toEqual({ kind: 'retry', id: first.id });
    // The retry is claimed: the next redelivery is a duplicate again.
    expect((await inbox.accept(entry('e-1'))).kind).toBe('duplicate');
    await inbox.markDispatched(first.id);

    const rows = await inbox.list({ source: 'kantata', limit: 10 });
    expect(rows.map((r) => [r.eventId, r.status, r.workflowId, r.correlationId, r.error])).toEqual([
      ['e-1', 'duplicate', 'deal-OPP-1', 'c-e-1', null],
      ['e-1', 'duplicate', 'deal-OPP-1', 'c-again', null],
      ['e-1', 'dispatched', 'deal-OPP-1', 'c-retry', null],
    ]);
    expect(rows[2]!.dispatchedAt).toEqual(NOW);
  });

  it('lets a redelivery claim an event whose dispatch was abandoned (stored, never dispatched, no error) once it is stale', async () => {
    const first = await inbox.accept(entry('e-abandoned'));
    // Moments later the vendor redelivers: the first dispatch may still be running.
    expect((await inbox.accept(entry('e-abandoned'))).kind).toBe('duplicate');
    // The service died after storing it: 31 s on, the row is still accepted with no error.
    await handle.db.execute(sql`update webhook_inbox set received_at = now() - interval '31 seconds' where id = ${first.id}`);
    expect(STALE_DISPATCH_SECONDS).toBe(30);
    expect(await inbox.accept(entry('e-abandoned', { correlationId: 'c-redelivered' }))).toEqual({ kind: 'retry', id: first.id });
    await inbox.markDispatched(first.id);
    expect((await inbox.accept(entry('e-abandoned'))).kind).toBe('duplicate');
  });

  it('takes a rejected event out of the dedupe index, keeps failed deliveries for inspection, and filters the list', async () => {
    const a = await inbox.accept(entry('e-2', { source: 'stripe' }));
    await inbox.markRejected(a.id, { code: 'DEAL_NOT_FOUND' });
    const again = await inbox.accept(entry('e-2', { source: 'stripe' }));
    expect(again.kind).toBe('accepted');
    expect(again.id).not.toBe(a.id);
    const bad = await inbox.recordRejected({ source: 'stripe', rawBody: 'not json', correlationId: 'c-bad', error: { code: 'BAD_REQUEST' } });

    expect((await inbox.list({ source: 'stripe', limit: 10 })).map((r) => [r.id, r.status, r.error])).toEqual([
      [bad, 'rejected', { code: 'BAD_REQUEST' }],
      [again.id, 'accepted', null],
      [a.id, 'rejected', { code: 'DEAL_NOT_FOUND' }],
    ]);
    expect((await inbox.list({ status: 'rejected', limit: 1 })).map((r) => r.id)).toEqual([bad]);
    await expect(inbox.ping()).resolves.toBeUndefined();
  });
});
