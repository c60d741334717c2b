import { defaultPayloadConverter } from '@temporalio/common';
import type { DbHandle } from '../../src/db';
import { DEFAULT_BODY_LIMIT } from '../../src/service/app';
import { KANTATA_MAX_ITEMS } from '../../src/service/webhooks/kantata';
import { schema } from '../../src/db';
import { NOW, NOW_S, SECRETS, q2cHeaders, type Harness, useWebhookHarness } from './support/harness';
import { OPP } from './support/payloads';

const WORKFLOW_ID = `deal-${OPP}`;

const timeEntries = (eventId = 'kt-evt-1') => ({
  eventId,
  occurredAt: '2025-03-31T11:00:00Z',
  workspaceId: 7001,
  opportunityId: OPP,
  items: [
    { id: '90001', story_id: '5501', user_id: '301', role_name: 'Senior Consultant', date_performed: '2025-03-28', time_in_minutes: 450, billable: true, approved: true, approved_at: '2025-03-31T10:15:00Z' },
    { id: 90002, user_id: 302, date_performed: '2025-03-28', time_in_minutes: 120, billable: false, approved: true, notes: 'internal sync' },
  ],
});

describe('POST /webhooks/kantata/:kind', () => {
  let database: DbHandle;
  let h: Harness;
  useWebhookHarness((current) => ({ h, database } = current), { [WORKFLOW_ID]: { stage: 'IN_DELIVERY', correlationId: 'c0' } });

  const post = (kind: string, payload: unknown, ts = NOW_S) => {
    const body = JSON.stringify(payload);
    return h.inject({ method: 'POST', url: `/webhooks/kantata/${kind}`, payload: body, headers: q2cHeaders(body, SECRETS.kantata, ts) });
  };

  it('hands approved time entries to the deal as one batched signal', async () => {
    const res = await post('time-entry-approved', timeEntries());
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ workflowId: WORKFLOW_ID, eventId: 'kt-evt-1', duplicate: false });
    expect(h.gateway.calls).toEqual([
      {
        method: 'signalDelivery',
        workflowId: WORKFLOW_ID,
        batch: {
          batchId: 'kantata:kt-evt-1',
          source: 'kantata',
          receivedAt: NOW.toISOString(),
          items: [
            { kind: 'timeEntry', sourceId: '90001', projectId: '7001', taskId: '5501', resourceId: '301', role: 'Senior Consultant', workDate: '2025-03-28', minutes: 450, billable: true, approvedAt: '2025-03-31T10:15:00.000Z' },
            { kind: 'timeEntry', sourceId: '90002', projectId: '7001', resourceId: '302', workDate: '2025-03-28', minutes: 120, billable: false, notes: 'internal sync', approvedAt: '2025-03-31T11:00:00.000Z' },
          ],
        },
      },
    ]);
    expect((await h.inboxRows()).map((r) => [r.source, r.eventId, r.eventType, r.status])).toEqual([
      ['kantata', 'kt-evt-1', 'time-entry-approved', 'dispatched'],
    ]);
  });

  it('maps approved expenses (minor units, upper-case currency) and accepted milestones', async () => {
    await post('expense-approved', {
      eventId: 'kt-exp-1',
      occurredAt: '2025-03-31T11:00:00Z',
      workspaceId: '7001',
      opportunityId: OPP,
      items: [{ id: 'e-1', user_id: '301', date: '2025-03-27', category: 'Airfare', amount_in_cents: 48250, currency: 'eur', billable: true }],
    });
    await post('milestone-accepted', {
      eventId: 'kt-ms-1',
      occurredAt: '2025-03-31T11:30:00Z',
      workspaceId: '7001',
      opportunityId: OPP,
      items: [{ id: 'ms-3', title: 'Phase 1 sign-off', story_type: 'milestone' }],
    });
    expect(h.gateway.calls.map((c) => (c as { batch: { items: unknown[] } }).batch.items)).toEqual([
      [{ kind: 'expense', sourceId: 'e-1', projectId: '7001', resourceId: '301', category: 'Airfare', incurredOn: '2025-03-27', amountMinor: 48250, currency: 'EUR', billable: true, approvedAt: '2025-03-31T11:00:00.000Z' }],
      [{ kind: 'milestone', sourceId: 'ms-3', projectId: '7001', title: 'Phase 1 sign-off', status: 'accepted', at: '2025-03-31T11:30:00.000Z' }],
    ]);
  });

  it("takes records as Kantata's API returns them: nulls for absent fields, and Kantata's own stamps for the item's time", async () => {
    await post('time-entry-approved', {
      ...timeEntries('kt-api-1'),
      items: [{ id: 90003, workspace_id: 7001, story_id: null, user_id: 301, role_name: 'consultant', date_performed: '2025-03-28', time_in_minutes: 60, billable: true, approved: true, notes: null, created_at: '2025-03-28T17:00:00Z', updated_at: '2025-03-30T09:30:00+02:00' }],
    });
    await post('expense-approved', {
      eventId: 'kt-api-2',
      occurredAt: '2025-03-31T11:00:00Z',
      workspaceId: '7001',
      opportunityId: OPP,
      items: [{ id: 'e-2', workspace_id: '7001', user_id: '301', date: '2025-03-27', category: 'Taxi', amount_in_cents: 2500, currency: 'USD', approved: true, billable: false, notes: null, updated_at: '2025-03-29T08:00:00Z' }],
    });
    const story = { id: 'ms-4', workspace_id: '7001', title: 'Go-live', story_type: 'milestone', state: 'accepted', description: 'q2c-ref:CTR-1-L1-M3', completed_at: '2025-03-20T10:00:00Z', accepted_at: '2025-03-25T15:00:00Z', updated_at: '2025-03-25T15:00:00Z' };
    await post('milestone-completed', { eventId: 'kt-api-3', occurredAt: '2025-03-31T11:30:00Z', workspaceId: '7001', opportunityId: OPP, items: [story] });
    await post('milestone-accepted', { eventId: 'kt-api-4', occurredAt: '2025-03-31T11:30:00Z', workspaceId: '7001', opportunityId: OPP, items: [story] });
    expect(h.gateway.calls.map((c) => (c as { batch: { items: unknown[] } }).batch.items)).toEqual([
      [{ kind: 'timeEntry', sourceId: '90003', projectId: '7001', resourceId: '301', role: 'consultant', workDate: '2025-03-28', minutes: 60, billable: true, approvedAt: '2025-03-30T07:30:00.000Z' }],
      [{ kind: 'expense', sourceId: 'e-2', projectId: '7001', resourceId: '301', category: 'Taxi', incurredOn: '2025-03-27', amountMinor: 2500, currency: 'USD', billable: false, approvedAt: '2025-03-29T08:00:00.000Z' }],
      [{ kind: 'milestone', sourceId: 'ms-4', projectId: '7001', title: 'Go-live', status: 'completed', at: '2025-03-20T10:00:00.000Z' }],
      [{ kind: 'milestone', sourceId: 'ms-4', projectId: '7001', title: 'Go-live', status: 'accepted', at: '2025-03-25T15:00:00.000Z' }],
    ]);
  });

  it('takes a time-stamped entry as its instant (the deal places it in its local day) and refuses a stamp without a zone', async () => {
    await post('time-entry-approved', {
      ...timeEntries('kt-ts-1'),
      items: [{ id: 90004, user_id: 301, date_performed: '2027-01-31T23:30:00-05:00', time_in_minutes: 60, billable: true, approved: true }],
    });
    expect(h.gateway.calls.map((c) => (c as { batch: { items: Array<{ workDate: string }> } }).batch.items.map((i) => i.workDate))).toEqual([['2027-02-01T04:30:00.000Z']]);
    const res = await post('time-entry-approved', { ...timeEntries('kt-ts-2'), items: [{ id: 90005, user_id: 301, date_performed: '2027-01-31T23:30:00', time_in_minutes: 60, billable: true, approved: true }] });
    expect(res.statusCode).toBe(400);
    expect(res.json().issues.map((i: { path: string }) => i.path)).toEqual(['items.0.date_performed']);
  });

  it('finds the deal from the workspace through the identity map', async () => {
    await database.db.insert(schema.identityMap).values({ kind: 'deal', system: 'kantata', externalId: '7001', canonicalId: OPP });
    const { opportunityId: _o, ...payload } = timeEntries('kt-evt-map');
    const res = await post('time-entry-approved', payload);
    expect(res.statusCode).toBe(202);
    expect(res.json().workflowId).toBe(WORKFLOW_ID);
  });

  it('answers 422 for an unknown kind, after checking the signature', async () => {
    const res = await post('invoice-approved', timeEntries());
    expect(res.statusCode).toBe(422);
    expect(res.json()).toEqual({ error: 'UNKNOWN_EVENT_TYPE', message: "event type 'invoice-approved' is not handled by this endpoint", eventType: 'invoice-approved' });
    const stale = await post('invoice-approved', timeEntries(), NOW_S - 600);
    expect(stale.statusCode).toBe(401);
    expect(h.gateway.calls).toEqual([]);
  });

  it('answers 400 with the item paths of invalid entries and dispatches none of the batch', async () => {
    const payload = timeEntries('kt-bad');
    payload.items[1] = { ...payload.items[1]!, time_in_minutes: 1500, approved: false as true, date_performed: '2025-02-30' };
    const res = await post('time-entry-approved', payload);
    expect(res.statusCode).toBe(400);
    expect(res.json().issues.map((i: { path: string }) => i.path)).toEqual(['items.1.date_performed', 'items.1.time_in_minutes', 'items.1.approved']);
    expect(h.gateway.calls).toEqual([]);
  });

  it('answers 400 naming items.<n>.time_in_minutes for negative minutes or 25 hours; nothing of the event reaches the deal, the rejection is kept', async () => {
    for (const [eventId, minutes] of [['kt-neg', -30], ['kt-25h', 1500], ['kt-zero', 0]] as const) {
      const payload = timeEntries(eventId);
      payload.items[1] = { ...payload.items[1]!, time_in_minutes: minutes };
      const res = await post('time-entry-approved', payload);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: 'BAD_REQUEST',
        message: 'request body is invalid',
        issues: [{ path: 'items.1.time_in_minutes', message: minutes > 0 ? 'Too big: expected number to be <=1440' : 'Too small: expected number to be >0' }],
      });
    }
    // item 0 of each event was valid: it was not handed over either
    expect(h.gateway.calls).toEqual([]);
    // kept for inspection: the raw body and the answer
    expect((await h.inboxRows()).map((r) => [r.status, (JSON.parse(r.rawBody) as { eventId: string }).eventId, (r.error as { issues: Array<{ path: string }> }).issues.map((i) => i.path)])).toEqual([
      ['rejected', 'kt-neg', ['items.1.time_in_minutes']],
      ['rejected', 'kt-25h', ['items.1.time_in_minutes']],
      ['rejected', 'kt-zero', ['items.1.time_in_minutes']],
    ]);
  });

  it('answers 413 for a delivery over the 256 KiB body limit (far below Temporal\'s 2 MB payload limit); nothing reaches the deal', async () => {
    // 30 entries with 9,000-character notes: about 272 KB
    const payload = { ...timeEntries('kt-huge'), items: Array.from({ length: 30 }, (_, n) => ({ ...timeEntries().items[0]!, id: String(95_000 + n), notes: 'x'.repeat(9_000) })) };
    const res = await post('time-entry-approved', payload);
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({ error: 'PAYLOAD_TOO_LARGE', message: `request body exceeds ${DEFAULT_BODY_LIMIT} bytes`, limit: 262_144 });
    expect(h.gateway.calls).toEqual([]);
  });

  it('the largest delivery it accepts (1000 items, a 200-character workspace id, notes up to the body limit) makes a signal far below 2 MB', async () => {
    // Mapping adds per item what the relay does not repeat (the workspace id as projectId, the event's time as approvedAt, longer
    // field names): with the longest workspace id and minimal items, the most a 256 KiB body can grow.
    const workspaceId = 'w'.repeat(200);
    const item = (n: number) => ({ id: n, user_id: 1, date_performed: '2025-03-28', time_in_minutes: 1, billable: true, approved: true, notes: '' });
    const base = { eventId: 'kt-max', occurredAt: '2025-03-31T11:00:00Z', workspaceId, opportunityId: OPP, items: Array.from({ length: KANTATA_MAX_ITEMS }, (_, n) => item(n)) };
    const room = DEFAULT_BODY_LIMIT - Buffer.byteLength(JSON.stringify(base)) - 1;
    const per = Math.floor(room / KANTATA_MAX_ITEMS);
    const payload = { ...base, items: base.items.map((i, n) => ({ ...i, notes: 'n'.repeat(per + (n < room - per * KANTATA_MAX_ITEMS ? 1 : 0)) })) };
    const body = JSON.stringify(payload);
    expect(Buffer.byteLength(body)).toBe(DEFAULT_BODY_LIMIT - 1);
    const res = await h.inject({ method: 'POST', url: '/webhooks/kantata/time-entry-approved', payload: body, headers: q2cHeaders(body, SECRETS.kantata) });
    expect(res.statusCode).toBe(202);
    const { batch } = h.gateway.calls[0] as { batch: { items: unknown[] } };
    expect(batch.items).toHaveLength(KANTATA_MAX_ITEMS);
    // The signal's payload as Temporal's default converter encodes it (what the history's signal event holds).
    const bytes = defaultPayloadConverter.toPayload(batch)!.data!.length;
    // 256 KiB + 1000 x (200-byte projectId + 24-byte approvedAt + longer names): 518,920 bytes, under Temporal's
    // 512 KiB blob-size warning (524,288) and a quarter of its 2 MB limit on a payload and on a history event.
    expect(bytes).toBeGreaterThan(DEFAULT_BODY_LIMIT);
    expect(bytes).toBeLessThan(512 * 1024);
  });

  it('hands withdrawn approvals (time-entry-unapproved, expense-unapproved) to the deal as the batch\'s unapprovals', async () => {
    const envelope = { occurredAt: '2025-03-31T11:00:00Z', workspaceId: 7001, opportunityId: OPP };
    expect((await post('time-entry-unapproved', { ...envelope, eventId: 'kt-un-1', items: [{ id: 90001, approved: false, unapproved_at: '2025-03-31T10:59:00+01:00' }, { id: '90002' }] })).statusCode).toBe(202);
    expect((await post('expense-unapproved', { ...envelope, eventId: 'kt-un-2', items: [{ id: 'e-1', updated_at: '2025-03-31T10:00:00Z' }] })).statusCode).toBe(202);
    expect(h.gateway.calls.map((c) => (c as { batch: unknown }).batch)).toEqual([
      {
        batchId: 'kantata:kt-un-1',
        source: 'kantata',
        receivedAt: NOW.toISOString(),
        items: [],
        unapprovals: [
          { kind: 'timeEntry', sourceId: '90001', at: '2025-03-31T09:59:00.000Z' },
          { kind: 'timeEntry', sourceId: '90002', at: '2025-03-31T11:00:00.000Z' },
        ],
      },
      { batchId: 'kantata:kt-un-2', source: 'kantata', receivedAt: NOW.toISOString(), items: [], unapprovals: [{ kind: 'expense', sourceId: 'e-1', at: '2025-03-31T10:00:00.000Z' }] },
    ]);
    // an approval cannot be withdrawn with approved: true
    const res = await post('time-entry-unapproved', { ...envelope, eventId: 'kt-un-3', items: [{ id: 1, approved: true }] });
    expect(res.statusCode).toBe(400);
    expect(res.json().issues.map((i: { path: string }) => i.path)).toEqual(['items.0.approved']);
  });

  it('answers 400 for an empty batch', async () => {
    const res = await post('time-entry-approved', { ...timeEntries(), items: [] });
    expect(res.statusCode).toBe(400);
    expect(res.json().issues).toEqual([{ path: 'items', message: 'Too small: expected array to have >=1 items' }]);
  });

  it('a redelivered batch is a duplicate and is not signalled twice', async () => {
    await post('time-entry-approved', timeEntries('kt-dup'));
    const again = await post('time-entry-approved', timeEntries('kt-dup'));
    expect(again.json()).toEqual({ workflowId: WORKFLOW_ID, eventId: 'kt-dup', duplicate: true });
    expect(h.gateway.calls).toHaveLength(1);
  });
});
