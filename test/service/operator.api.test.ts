import { SECRETS, q2cHeaders, type Harness, useWebhookHarness } from './support/harness';
import { OPP, closedWon } from './support/payloads';

const WORKFLOW_ID = `deal-${OPP}`;
const read = { authorization: `Bearer ${SECRETS.operatorRead}` };
const operate = { authorization: `Bearer ${SECRETS.operatorOperate}`, 'content-type': 'application/json' };

describe('operator API, health and metrics', () => {
  let h: Harness;
  useWebhookHarness((current) => ({ h } = current));

  it('rejects requests without a key (401) or with a key lacking the scope (403)', async () => {
    const none = await h.inject({ method: 'GET', url: `/deals/${OPP}` });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(none.json()).toEqual({ error: 'UNAUTHORIZED', message: 'a valid operator API key is required' });

    const wrong = await h.inject({ method: 'GET', url: '/inbox', headers: { authorization: 'Bearer not-a-key-at-all-000' } });
    expect(wrong.statusCode).toBe(401);

    const readOnly = await h.inject({ method: 'POST', url: `/deals/${OPP}/resolve`, headers: { ...read, 'content-type': 'application/json' }, payload: '{"action":"retry"}' });
    expect(readOnly.statusCode).toBe(403);
    expect(readOnly.json()).toEqual({ error: 'FORBIDDEN', message: "this key lacks the 'operate' scope", requiredScope: 'operate' });
    expect(h.gateway.calls).toEqual([]);
  });

  it('GET /deals/:id answers the deal state (read scope; operate implies read), 404 for no deal', async () => {
    h.gateway.running.set(WORKFLOW_ID, { stage: 'BILLING_SCHEDULED', correlationId: 'c1' });
    const expected = { workflowId: WORKFLOW_ID, state: { opportunityId: OPP, stage: 'BILLING_SCHEDULED', ids: {}, exceptions: [], timeline: [] } };
    const r1 = await h.inject({ method: 'GET', url: `/deals/${OPP}`, headers: read });
    expect(r1.statusCode).toBe(200);
    expect(r1.json()).toEqual(expected);
    expect((await h.inject({ method: 'GET', url: `/deals/${OPP}`, headers: operate })).json()).toEqual(expected);

    const missing = await h.inject({ method: 'GET', url: '/deals/006Hs00009NOPEXAAA', headers: read });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: 'DEAL_NOT_FOUND', message: "no deal workflow 'deal-006Hs00009NOPEXAAA'", workflowId: 'deal-006Hs00009NOPEXAAA' });
  });

  it('POST /deals/:id/resolve runs the update, validates the action, and maps a refusal to 409', async () => {
    h.gateway.running.set(WORKFLOW_ID, { stage: 'NEEDS_ATTENTION', correlationId: 'c1' });
    const bad = await h.inject({ method: 'POST', url: `/deals/${OPP}/resolve`, headers: operate, payload: JSON.stringify({ action: 'cancel' }) });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({
      error: 'BAD_REQUEST',
      message: 'invalid operator action',
      issues: [{ path: 'reason', message: 'Invalid input: expected string, received undefined' }],
    });
    const unknown = await h.inject({ method: 'POST', url: `/deals/${OPP}/resolve`, headers: operate, payload: JSON.stringify({ action: 'teleport' }) });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().issues[0].path).toBe('action');

    const ok = await h.inject({ method: 'POST', url: `/deals/${OPP}/resolve`, headers: operate, payload: JSON.stringify({ action: 'retry', note: 'ERP customer fixed' }) });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ workflowId: WORKFLOW_ID, result: { opportunityId: OPP, stage: 'ERP_CONTRACT_POSTED', ids: {}, exceptions: [], timeline: [] } });
    expect(h.gateway.calls).toEqual([{ method: 'resolveException', workflowId: WORKFLOW_ID, action: { action: 'retry', note: 'ERP customer fixed', by: 'ops' } }]);

    const again = await h.inject({ method: 'POST', url: `/deals/${OPP}/resolve`, headers: operate, payload: JSON.stringify({ action: 'skip' }) });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toEqual({ error: 'ACTION_REJECTED', message: 'nothing to resolve in stage ERP_CONTRACT_POSTED', workflowId: WORKFLOW_ID });
  });

  it('POST /deals/:id/resolve takes an override (field path checked) and the holder as `by`, never from the body', async () => {
    h.gateway.running.set(WORKFLOW_ID, { stage: 'NEEDS_ATTENTION', correlationId: 'c1' });
    const bad = await h.inject({ method: 'POST', url: `/deals/${OPP}/resolve`, headers: operate, payload: JSON.stringify({ action: 'override', field: 'contract.lines', value: 'x' }) });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().issues).toEqual([{ path: 'field', message: 'expected a field path such as customer.billTo.address.postalCode' }]);
    const ok = await h.inject({ method: 'POST', url: `/deals/${OPP}/resolve`, headers: operate, payload: JSON.stringify({ action: 'override', field: 'customer.currency', value: 'USD', by: 'mallory' }) });
    expect(ok.statusCode).toBe(200);
    expect(h.gateway.calls).toEqual([{ method: 'resolveException', workflowId: WORKFLOW_ID, action: { action: 'override', field: 'customer.currency', value: 'USD', by: 'ops' } }]);
  });

  it('POST /deals/:id/exceptions/:exceptionId/notes annotates in the holder\'s name (operate scope), 400 naming the field, 409 for no such exception', async () => {
    h.gateway.running.set(WORKFLOW_ID, { stage: 'NEEDS_ATTENTION', correlationId: 'c1' });
    h.gateway.views.set(WORKFLOW_ID, {
      opportunityId: OPP, stage: 'NEEDS_ATTENTION', ids: {}, timeline: [],
      exceptions: [{ id: 3, step: 'syncCustomerMaster', code: 'ERP.CUSTOMER_INVALID', message: 'currency CHF', raisedAt: '2025-03-30T10:00:00.000Z', allowed: ['retry'], notes: [] }],
    });
    const url = `/deals/${OPP}/exceptions/3/notes`;
    expect((await h.inject({ method: 'POST', url, headers: { ...read, 'content-type': 'application/json' }, payload: '{"note":"x"}' })).statusCode).toBe(403);
    const empty = await h.inject({ method: 'POST', url, headers: operate, payload: '{}' });
    expect(empty.statusCode).toBe(400);
    expect(empty.json().issues).toEqual([{ path: 'note', message: 'give a note or an assignee' }]);
    const extra = await h.inject({ method: 'POST', url, headers: operate, payload: JSON.stringify({ note: 'x', by: 'mallory' }) });
    expect(extra.statusCode).toBe(400);
    const ok = await h.inject({ method: 'POST', url, headers: operate, payload: JSON.stringify({ note: ' asked sales ', assignee: 'dana' }) });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().result).toMatchObject({ id: 3, assignee: 'dana', notes: [{ by: 'ops', text: 'asked sales' }] });
    expect(h.gateway.calls).toEqual([{ method: 'annotateException', workflowId: WORKFLOW_ID, request: { exceptionId: 3, by: 'ops', note: 'asked sales', assignee: 'dana' } }]);
    const unknown = await h.inject({ method: 'POST', url: `/deals/${OPP}/exceptions/4/notes`, headers: operate, payload: '{"note":"x"}' });
    expect(unknown.statusCode).toBe(409);
    expect(unknown.json().reason).toBe('DEAL.EXCEPTION_UNKNOWN');
    expect((await h.inject({ method: 'POST', url: `/deals/${OPP}/exceptions/a%20b/notes`, headers: operate, payload: '{"note":"x"}' })).json().issues[0].path).toBe('exceptionId');
    // An attention item of the delivery, by its id.
    const attention = await h.inject({ method: 'POST', url: `/deals/${OPP}/exceptions/OVERDUE:inv-1/notes`, headers: operate, payload: '{"note":"x"}' });
    expect(attention.statusCode).toBe(409);
    expect(attention.json().reason).toBe('DEAL.ATTENTION_UNKNOWN');
  });

  it('answers 400 (not 500) for malformed JSON on the operator API', async () => {
    const res = await h.inject({ method: 'POST', url: `/deals/${OPP}/resolve`, headers: operate, payload: '{"action":' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('BAD_REQUEST');
  });

  it('GET /inbox?status=rejected lists the rejected deliveries with their errors and raw bodies', async () => {
    const good = JSON.stringify(closedWon({ eventId: 'inbox-good' }));
    const bad = JSON.stringify({ ...closedWon({ eventId: 'inbox-bad' }), occurredAt: 'soon' });
    await h.inject({ method: 'POST', url: '/webhooks/salesforce/opportunity', payload: good, headers: q2cHeaders(good, SECRETS.salesforceNew) });
    await h.inject({ method: 'POST', url: '/webhooks/salesforce/opportunity', payload: bad, headers: { ...q2cHeaders(bad, SECRETS.salesforceNew), 'x-correlation-id': 'corr-bad' } });

    const res = await h.inject({ method: 'GET', url: '/inbox?status=rejected', headers: read });
    expect(res.statusCode).toBe(200);
    const { items } = res.json();
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      source: 'salesforce',
      eventId: null,
      status: 'rejected',
      rawBody: bad,
      correlationId: 'corr-bad',
      dispatchedAt: null,
      error: { error: 'BAD_REQUEST', message: 'request body is invalid', issues: [{ path: 'occurredAt', message: 'expected an ISO-8601 date-time with a zone' }] },
    });

    const dispatched = await h.inject({ method: 'GET', url: '/inbox?status=dispatched&source=salesforce', headers: read });
    expect(dispatched.json().items.map((i: { eventId: string }) => i.eventId)).toEqual(['inbox-good']);
    const invalid = await h.inject({ method: 'GET', url: '/inbox?status=lost&limit=0', headers: read });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().issues.map((i: { path: string }) => i.path)).toEqual(['status', 'limit']);
  });

  it('GET /healthz answers ok without a key; unknown routes answer 404 in the same error shape', async () => {
    const res = await h.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
    const nope = await h.inject({ method: 'GET', url: '/webhooks/nope?x=1' });
    expect(nope.statusCode).toBe(404);
    expect(nope.json()).toEqual({ error: 'NOT_FOUND', message: 'no route GET /webhooks/nope' });
  });

  it('GET /metrics counts webhooks by source and outcome and times dispatches', async () => {
    const good = JSON.stringify(closedWon({ eventId: 'm-1' }));
    const headers = q2cHeaders(good, SECRETS.salesforceNew);
    await h.inject({ method: 'POST', url: '/webhooks/salesforce/opportunity', payload: good, headers });
    await h.inject({ method: 'POST', url: '/webhooks/salesforce/opportunity', payload: good, headers });
    await h.inject({ method: 'POST', url: '/webhooks/salesforce/opportunity', payload: good, headers: { ...headers, 'x-q2c-signature': '0'.repeat(64) } });

    const res = await h.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const lines = res.body.split('\n');
    expect(lines).toContain('q2c_webhooks_received_total{source="salesforce",outcome="dispatched"} 1');
    expect(lines).toContain('q2c_webhooks_received_total{source="salesforce",outcome="duplicate"} 1');
    expect(lines).toContain('q2c_webhooks_received_total{source="salesforce",outcome="unauthorized"} 1');
    expect(lines).toContain('q2c_webhook_dispatch_seconds_count{source="salesforce",outcome="dispatched"} 1');
  });

  it('serves a real socket to plain fetch: signed webhook, correlation header, health', async () => {
    const body = JSON.stringify(closedWon({ eventId: 'fetch-1' }));
    const res = await fetch(`${h.baseUrl}/webhooks/salesforce/opportunity`, { method: 'POST', body, headers: q2cHeaders(body, SECRETS.salesforceOld) });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ workflowId: WORKFLOW_ID, eventId: 'fetch-1', duplicate: false });
    expect(res.headers.get('x-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);
    const health = await fetch(`${h.baseUrl}/healthz`);
    expect(await health.json()).toEqual({ status: 'ok' });
  });
});
