import type { DbHandle } from '../../src/db';
import { NOW, NOW_S, SECRETS, q2cHeaders, startHarness, type Harness, useWebhookHarness } from './support/harness';
import { ACCOUNT, OPP, closedWon } from './support/payloads';

const URL = '/webhooks/salesforce/opportunity';
const WORKFLOW_ID = `deal-${OPP}`;

describe('POST /webhooks/salesforce/opportunity', () => {
  let database: DbHandle;
  let h: Harness;
  useWebhookHarness((current) => ({ h, database } = current));

  const post = (body: string, headers: Record<string, string>) => h.inject({ method: 'POST', url: URL, payload: body, headers });

  it('stores a signed closed-won, starts the deal with signalWithStart semantics and answers 202 with the workflow id', async () => {
    const body = JSON.stringify(closedWon());
    const res = await post(body, { ...q2cHeaders(body, SECRETS.salesforceNew), 'x-correlation-id': 'corr-sf-1' });

    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ workflowId: WORKFLOW_ID, eventId: 'a1b2c3d4-0001', duplicate: false });
    expect(res.headers['x-correlation-id']).toBe('corr-sf-1');
    expect(h.gateway.calls).toEqual([
      {
        method: 'startOrSignalClosedWon',
        workflowId: WORKFLOW_ID,
        correlationId: 'corr-sf-1',
        event: { eventId: 'a1b2c3d4-0001', opportunityId: OPP, accountId: ACCOUNT, occurredAt: '2025-03-31T11:58:00.000Z' },
      },
    ]);
    const rows = await h.inboxRows();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      source: 'salesforce',
      eventId: 'a1b2c3d4-0001',
      eventType: 'opportunity.closed_won',
      status: 'dispatched',
      error: null,
      rawBody: body,
      workflowId: WORKFLOW_ID,
      correlationId: 'corr-sf-1',
    });
    expect(rows[0]!.dispatchedAt!.toISOString()).toBe(NOW.toISOString());
  });

  it('accepts the old and the new secret during rotation, and a header carrying both signatures', async () => {
    const b1 = JSON.stringify(closedWon({ eventId: 'rot-old' }));
    const b2 = JSON.stringify(closedWon({ eventId: 'rot-new' }));
    const b3 = JSON.stringify(closedWon({ eventId: 'rot-both' }));
    const both = `${q2cHeaders(b3, 'retired-secret-xxxxxxxx')['x-q2c-signature']},${q2cHeaders(b3, SECRETS.salesforceOld)['x-q2c-signature']}`;
    expect((await post(b1, q2cHeaders(b1, SECRETS.salesforceOld))).statusCode).toBe(202);
    expect((await post(b2, q2cHeaders(b2, SECRETS.salesforceNew))).statusCode).toBe(202);
    expect((await post(b3, { ...q2cHeaders(b3, SECRETS.salesforceOld), 'x-q2c-signature': both })).statusCode).toBe(202);
    expect(h.gateway.calls.map((c) => (c as { event: { eventId: string } }).event.eventId)).toEqual(['rot-old', 'rot-new', 'rot-both']);
  });

  it.each([
    ['no signature header', (_b: string) => ({ 'content-type': 'application/json', 'x-q2c-timestamp': String(NOW_S) }), 'MISSING_SIGNATURE', 'signature header missing'],
    ['no timestamp header', (b: string) => {
      const { 'x-q2c-timestamp': _ts, ...rest } = q2cHeaders(b, SECRETS.salesforceNew);
      return rest;
    }, 'MISSING_TIMESTAMP', 'timestamp header missing or not Unix seconds'],
    ['a secret that is not configured', (b: string) => q2cHeaders(b, 'some-unknown-secret-123456'), 'BAD_SIGNATURE', 'signature does not match'],
    ['a signature over another timestamp', (b: string) => ({ ...q2cHeaders(b, SECRETS.salesforceNew, NOW_S - 10), 'x-q2c-timestamp': String(NOW_S) }), 'BAD_SIGNATURE', 'signature does not match'],
    ['a body changed after signing', (b: string) => q2cHeaders(b.replace(ACCOUNT, '001Hs00000XyZabIAC'), SECRETS.salesforceNew), 'BAD_SIGNATURE', 'signature does not match'],
    ['a timestamp 5 min 1 s old', (b: string) => q2cHeaders(b, SECRETS.salesforceNew, NOW_S - 301), 'STALE_TIMESTAMP', 'timestamp outside the replay window'],
    ['a timestamp 5 min 1 s in the future', (b: string) => q2cHeaders(b, SECRETS.salesforceNew, NOW_S + 301), 'STALE_TIMESTAMP', 'timestamp outside the replay window'],
  ])('answers 401 for %s, touches no workflow and keeps the body as rejected', async (_name, headersFor, reason, message) => {
    const body = JSON.stringify(closedWon());
    const headers: Record<string, string> = headersFor(body);
    const res = await post(body, headers);

    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: 'UNAUTHORIZED', message, reason });
    expect(h.gateway.calls).toEqual([]);
    const rows = await h.inboxRows();
    expect(rows.map((r) => [r.status, r.eventId, r.rawBody, r.error])).toEqual([
      ['rejected', null, body, { error: 'UNAUTHORIZED', message, reason }],
    ]);
    // The signature never reaches the inbox or the logs.
    const signature = headers['x-q2c-signature'];
    if (signature) {
      expect(JSON.stringify(rows)).not.toContain(signature);
      expect(h.logs.join('')).not.toContain(signature);
    }
  });

  it('accepts a timestamp 5 minutes old (the edge of the window)', async () => {
    const body = JSON.stringify(closedWon());
    expect((await post(body, q2cHeaders(body, SECRETS.salesforceNew, NOW_S - 300))).statusCode).toBe(202);
  });

  it('answers 400 for malformed JSON (signed), without touching a workflow', async () => {
    const body = '{"eventId": "x", "eventType": ';
    const res = await post(body, q2cHeaders(body, SECRETS.salesforceNew));
    expect(res.statusCode).toBe(400);
    const json = res.json();
    expect(json.error).toBe('BAD_REQUEST');
    expect(json.message).toBe('malformed JSON');
    expect(json.issues).toHaveLength(1);
    expect(json.issues[0].path).toBe('');
    expect(json.issues[0].message).toMatch(/JSON/);
    expect(h.gateway.calls).toEqual([]);
    expect((await h.inboxRows()).map((r) => [r.status, r.rawBody])).toEqual([['rejected', body]]);
  });

  it('answers 400 with every invalid field path for a schema-invalid body', async () => {
    const payload = closedWon();
    const { accountId: _a, ...opportunity } = payload.opportunity;
    const body = JSON.stringify({ ...payload, occurredAt: 'yesterday', opportunity: { ...opportunity, isWon: false, currencyIsoCode: 'usd' } });
    const res = await post(body, q2cHeaders(body, SECRETS.salesforceNew));

    expect(res.statusCode).toBe(400);
    const json = res.json();
    expect(json.error).toBe('BAD_REQUEST');
    expect(json.issues.map((i: { path: string }) => i.path)).toEqual([
      'occurredAt',
      'opportunity.accountId',
      'opportunity.isWon',
      'opportunity.currencyIsoCode',
    ]);
    expect(json.issues[1]).toEqual({ path: 'opportunity.accountId', message: 'Invalid input: expected string, received undefined' });
    expect(json.issues[3]).toEqual({ path: 'opportunity.currencyIsoCode', message: 'expected an ISO 4217 code' });
    expect(h.gateway.calls).toEqual([]);
    const [row] = await h.inboxRows();
    expect(row!.status).toBe('rejected');
    expect((row!.error as { issues: unknown[] }).issues).toEqual(json.issues);
  });

  it('answers 400 naming the field when eventType is missing, 422 when it is unknown', async () => {
    const missing = JSON.stringify({ ...closedWon(), eventType: undefined });
    const r1 = await post(missing, q2cHeaders(missing, SECRETS.salesforceNew));
    expect(r1.statusCode).toBe(400);
    expect(r1.json()).toEqual({ error: 'BAD_REQUEST', message: 'request body is invalid', issues: [{ path: 'eventType', message: 'required' }] });

    const lost = JSON.stringify({ ...closedWon({ eventId: 'lost-1' }), eventType: 'opportunity.closed_lost' });
    const r2 = await post(lost, q2cHeaders(lost, SECRETS.salesforceNew));
    expect(r2.statusCode).toBe(422);
    expect(r2.json()).toEqual({
      error: 'UNKNOWN_EVENT_TYPE',
      message: "event type 'opportunity.closed_lost' is not handled by this endpoint",
      eventType: 'opportunity.closed_lost',
    });
    expect(h.gateway.calls).toEqual([]);
    expect((await h.inboxRows()).map((r) => [r.status, r.eventType])).toEqual([
      ['rejected', null],
      ['rejected', 'opportunity.closed_lost'],
    ]);
  });

  it('answers 413 for a body over the limit and records the rejection without the body', async () => {
    const small = await startHarness(database, { bodyLimit: 1024 });
    try {
      const body = JSON.stringify({ ...closedWon(), padding: 'x'.repeat(2000) });
      const res = await small.inject({ method: 'POST', url: URL, payload: body, headers: q2cHeaders(body, SECRETS.salesforceNew) });
      expect(res.statusCode).toBe(413);
      expect(res.json()).toEqual({ error: 'PAYLOAD_TOO_LARGE', message: 'request body exceeds 1024 bytes', limit: 1024 });
      expect(small.gateway.calls).toEqual([]);
      const rows = await small.inboxRows();
      expect(rows.map((r) => [r.source, r.status, r.rawBody, r.error])).toEqual([
        ['salesforce', 'rejected', '', { error: 'PAYLOAD_TOO_LARGE', message: 'request body exceeds 1024 bytes', limit: 1024 }],
      ]);
    } finally {
      await small.close();
    }
  });

  it('answers 413 at the default limit of 256 KiB', async () => {
    const body = JSON.stringify({ ...closedWon(), padding: 'x'.repeat(256 * 1024) });
    const res = await post(body, q2cHeaders(body, SECRETS.salesforceNew));
    expect(res.statusCode).toBe(413);
    expect(res.json().limit).toBe(262144);
  });

  it('dispatches three concurrent duplicate deliveries once; the other two are answered duplicate and recorded', async () => {
    h.gateway.delayMs = 50;
    const body = JSON.stringify(closedWon({ eventId: 'dup-1' }));
    const responses = await Promise.all([1, 2, 3].map(() => post(body, q2cHeaders(body, SECRETS.salesforceNew))));

    expect(responses.map((r) => r.statusCode)).toEqual([202, 202, 202]);
    const bodies = responses.map((r) => r.json()).sort((a, b) => Number(a.duplicate) - Number(b.duplicate));
    expect(bodies).toEqual([
      { workflowId: WORKFLOW_ID, eventId: 'dup-1', duplicate: false },
      { workflowId: WORKFLOW_ID, eventId: 'dup-1', duplicate: true },
      { workflowId: WORKFLOW_ID, eventId: 'dup-1', duplicate: true },
    ]);
    expect(h.gateway.calls).toHaveLength(1);
    const rows = await h.inboxRows();
    expect(rows.map((r) => r.status).sort()).toEqual(['dispatched', 'duplicate', 'duplicate']);
    expect(rows.every((r) => r.eventId === 'dup-1' && r.workflowId === WORKFLOW_ID)).toBe(true);

    // A later redelivery is a duplicate too.
    const again = await post(body, q2cHeaders(body, SECRETS.salesforceNew));
    expect(again.json()).toEqual({ workflowId: WORKFLOW_ID, eventId: 'dup-1', duplicate: true });
    expect(h.gateway.calls).toHaveLength(1);
  });

  it('still processes the good events around bad ones', async () => {
    const good1 = JSON.stringify(closedWon({ eventId: 'g1', opportunityId: '006Hs00001AbCdEAA1' }));
    const bad = JSON.stringify({ ...closedWon({ eventId: 'b1' }), opportunity: { id: 'nope' } });
    const good2 = JSON.stringify(closedWon({ eventId: 'g2', opportunityId: '006Hs00001AbCdEAA2' }));
    const codes = [];
    codes.push((await post(good1, q2cHeaders(good1, SECRETS.salesforceNew))).statusCode);
    codes.push((await post(bad, q2cHeaders(bad, SECRETS.salesforceNew))).statusCode);
    codes.push((await post(good2, { ...q2cHeaders(good2, SECRETS.salesforceNew), 'x-q2c-signature': 'f'.repeat(64) })).statusCode);
    codes.push((await post(good2, q2cHeaders(good2, SECRETS.salesforceNew))).statusCode);

    expect(codes).toEqual([202, 400, 401, 202]);
    expect(h.gateway.calls.map((c) => c.workflowId)).toEqual(['deal-006Hs00001AbCdEAA1', 'deal-006Hs00001AbCdEAA2']);
    expect((await h.inboxRows()).map((r) => [r.eventId, r.status])).toEqual([
      ['g1', 'dispatched'],
      [null, 'rejected'],
      [null, 'rejected'],
      ['g2', 'dispatched'],
    ]);
  });

  it('keeps an event whose dispatch failed and lets exactly one redelivery retry it', async () => {
    h.gateway.failures.push(new Error('14 UNAVAILABLE: connect ECONNREFUSED 127.0.0.1:7233'));
    const body = JSON.stringify(closedWon({ eventId: 'retry-1' }));
    const first = await post(body, q2cHeaders(body, SECRETS.salesforceNew));
    expect(first.statusCode).toBe(503);
    expect(first.json()).toEqual({
      error: 'DISPATCH_FAILED',
      message: 'the event is stored but could not be handed to its deal; redeliver to retry',
      workflowId: WORKFLOW_ID,
    });
    let rows = await h.inboxRows();
    expect(rows.map((r) => [r.status, r.error])).toEqual([
      ['accepted', { code: 'DISPATCH_FAILED', message: '14 UNAVAILABLE: connect ECONNREFUSED 127.0.0.1:7233' }],
    ]);

    const second = await post(body, q2cHeaders(body, SECRETS.salesforceNew));
    expect(second.statusCode).toBe(202);
    expect(second.json()).toEqual({ workflowId: WORKFLOW_ID, eventId: 'retry-1', duplicate: false });
    const third = await post(body, q2cHeaders(body, SECRETS.salesforceNew));
    expect(third.json()).toEqual({ workflowId: WORKFLOW_ID, eventId: 'retry-1', duplicate: true });

    expect(h.gateway.calls).toHaveLength(1);
    rows = await h.inboxRows();
    expect(rows.map((r) => [r.status, r.error])).toEqual([
      ['dispatched', null],
      ['duplicate', null],
    ]);
  });

  it('logs deliveries with their correlation id and without any secret', async () => {
    const body = JSON.stringify(closedWon({ eventId: 'log-1' }));
    const headers: Record<string, string> = { ...q2cHeaders(body, SECRETS.salesforceNew), 'x-correlation-id': 'corr-log-1', authorization: `Bearer ${SECRETS.operatorOperate}` };
    await post(body, headers);
    await post(body, { ...headers, ...q2cHeaders(body, SECRETS.salesforceNew, NOW_S - 3600) });

    const lines = h.logs.map((l) => JSON.parse(l));
    const webhookLines = lines.filter((l) => l.source === 'salesforce');
    expect(webhookLines.map((l) => l.msg)).toEqual(['webhook dispatched', 'webhook rejected']);
    expect(webhookLines.map((l) => l.correlationId)).toEqual(['corr-log-1', 'corr-log-1']);
    // Headers go with a refusal only (redacted), not with every accepted delivery.
    expect(webhookLines[0].headers).toBeUndefined();
    expect(webhookLines[1].headers['x-q2c-signature']).toBe('[REDACTED]');
    expect(webhookLines[1].headers.authorization).toBe('[REDACTED]');
    expect(webhookLines[1].reason).toBe('STALE_TIMESTAMP');
    const all = h.logs.join('');
    for (const secret of [headers['x-q2c-signature'], ...Object.values(SECRETS)]) expect(all).not.toContain(secret);
  });
});
