import { SECRETS, type Harness, useWebhookHarness } from './support/harness';
import { OPP } from './support/payloads';

const WORKFLOW_ID = `deal-${OPP}`;
const read = { authorization: `Bearer ${SECRETS.operatorRead}`, 'content-type': 'application/json' };
const operate = { authorization: `Bearer ${SECRETS.operatorOperate}`, 'content-type': 'application/json' };

const amendment = {
  requestId: 'co-1',
  by: 'ops@firm.example',
  baseVersion: 1,
  effectiveDate: '2030-02-10',
  reason: 'change order 1',
  changes: [{ op: 'UPDATE_LINE', lineId: 'CTR-1-L1', set: { cap: { notToExceed: { amountMinor: 1_900_000, currency: 'USD' } } } }],
};
const credit = {
  requestId: 'dispute-7',
  invoiceId: 'INV-1',
  by: 'ar@firm.example',
  reason: 'DISPUTE',
  note: 'the 60 h of Jan 10 are disputed',
  lines: [{ invoiceLineId: 'INV-1-1', sourceItemIds: ['TE-1'] }],
};

describe('operator API: contract amendments and credit memos', () => {
  let h: Harness;
  useWebhookHarness((current) => ({ h } = current));
  const post = (path: string, body: unknown, headers: Record<string, string> = operate) => h.inject({ method: 'POST', url: `/deals/${OPP}/${path}`, headers, payload: JSON.stringify(body) });

  it('POST /deals/:id/amendments runs the update with the validated amendment (cap tolerance defaults to 0)', async () => {
    h.gateway.running.set(WORKFLOW_ID, { stage: 'IN_DELIVERY', correlationId: 'c1' });
    const res = await post('amendments', amendment);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ workflowId: WORKFLOW_ID, result: { contractVersion: 2, amendment: { requestId: 'co-1', baseVersion: 1, version: 2 } } });
    const sent = { ...amendment, changes: [{ op: 'UPDATE_LINE', lineId: 'CTR-1-L1', set: { cap: { notToExceed: { amountMinor: 1_900_000, currency: 'USD' }, toleranceBp: 0 } } }] };
    expect(h.gateway.calls).toEqual([{ method: 'amendContract', workflowId: WORKFLOW_ID, request: sent }]);
  });

  it('refuses a bad amendment with 400 and every bad field path, and never calls the workflow', async () => {
    h.gateway.running.set(WORKFLOW_ID, { stage: 'IN_DELIVERY', correlationId: 'c1' });
    const res = await post('amendments', {
      ...amendment,
      baseVersion: 0,
      effectiveDate: '2030-02-30',
      changes: [
        { op: 'UPDATE_LINE', lineId: 'CTR-1-L1', set: { cap: { notToExceed: { amountMinor: 19_000.5, currency: 'usd' } }, billingModel: 'RETAINER' } },
        { op: 'SET_TERMS', set: {} },
        { op: 'DELETE_LINE', lineId: 'CTR-1-L1' },
      ],
    });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body).toMatchObject({ error: 'BAD_REQUEST', message: 'invalid amendment' });
    expect(body.issues.map((i: { path: string }) => i.path).sort()).toEqual([
      'baseVersion',
      'changes.0.set',
      'changes.0.set.cap.notToExceed.amountMinor',
      'changes.0.set.cap.notToExceed.currency',
      'changes.1.set',
      'changes.2.op',
      'effectiveDate',
    ]);
    expect(body.issues.find((i: { path: string }) => i.path === 'changes.0.set').message).toMatch(/billingModel/);

    const empty = await post('amendments', { ...amendment, changes: [] });
    expect(empty.statusCode).toBe(400);
    expect(empty.json().issues).toEqual([{ path: 'changes', message: expect.stringMatching(/>=1/) }]);
    expect(h.gateway.calls).toEqual([]);
  });

  it('takes a change order adding a milestone line (q2c gives the id) and removing one, and passes it on as validated', async () => {
    h.gateway.running.set(WORKFLOW_ID, { stage: 'IN_DELIVERY', correlationId: 'c1' });
    const line = {
      description: 'Data migration', billingModel: 'FIXED_FEE_MILESTONE', taxCode: 'SERVICES', revenueTreatment: 'POINT_IN_TIME', invoiceSchedule: 'ON_MILESTONE',
      allocatedValue: { amountMinor: 2_000_000, currency: 'USD' }, fee: { amountMinor: 2_000_000, currency: 'USD' },
      milestones: [{ name: 'Migration design signed off', percentBp: 3_000 }, { name: 'Cut-over accepted', percentBp: 7_000 }],
    };
    const order = { ...amendment, requestId: 'co-2', changes: [{ op: 'ADD_LINE', line, tasks: [{ name: 'Migration work', billable: true }] }, { op: 'REMOVE_LINE', lineId: 'CTR-1-L3' }] };
    const res = await post('amendments', order);
    expect(res.statusCode).toBe(200);
    expect(h.gateway.calls).toEqual([{ method: 'amendContract', workflowId: WORKFLOW_ID, request: order }]);
  });

  it('answers 400 with the field paths of a bad line to add, and never calls the workflow', async () => {
    h.gateway.running.set(WORKFLOW_ID, { stage: 'IN_DELIVERY', correlationId: 'c1' });
    const res = await post('amendments', {
      ...amendment,
      changes: [
        { op: 'ADD_LINE', line: { billingModel: 'FIXED_FEE_MILESTONE', taxCode: 'SERVICES', revenueTreatment: 'POINT_IN_TIME', invoiceSchedule: 'ON_MILESTONE', allocatedValue: { amountMinor: 2_000_000, currency: 'USD' }, milestones: [{ percentBp: 3_000, amount: { amountMinor: 1, currency: 'USD' } }], colour: 'red' } },
        { op: 'ADD_LINE', line: { billingModel: 'TIME_AND_MATERIALS', taxCode: 'SERVICES', revenueTreatment: 'AS_INVOICED', invoiceSchedule: 'FORTNIGHTLY', allocatedValue: { amountMinor: -5, currency: 'USD' } }, tasks: [{ name: '', billable: 'yes' }] },
        { op: 'ADD_LINE' },
      ],
    });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body).toMatchObject({ error: 'BAD_REQUEST', message: 'invalid amendment' });
    expect(body.issues.map((i: { path: string }) => i.path).sort()).toEqual([
      'changes.0.line', // colour: not a line field
      'changes.0.line.fee', // a fixed-fee line needs its fee
      'changes.0.line.milestones.0.amount', // both amount and percentBp
      'changes.1.line.allocatedValue.amountMinor',
      'changes.1.line.invoiceSchedule',
      'changes.1.tasks.0.billable',
      'changes.1.tasks.0.name',
      'changes.2.line',
    ]);
    expect(h.gateway.calls).toEqual([]);
  });

  it('maps the workflow refusal to 409 with its reason; needs the operate scope; 404 for no deal', async () => {
    h.gateway.running.set(WORKFLOW_ID, { stage: 'IN_DELIVERY', correlationId: 'c1' });
    h.gateway.refusals.push({ reason: 'DEAL.AMENDMENT_VERSION_CONFLICT', message: 'amendment written against contract v1; contract CTR-1 is at v2' });
    const stale = await post('amendments', amendment);
    expect(stale.statusCode).toBe(409);
    expect(stale.json()).toEqual({ error: 'ACTION_REJECTED', message: 'amendment written against contract v1; contract CTR-1 is at v2', workflowId: WORKFLOW_ID, reason: 'DEAL.AMENDMENT_VERSION_CONFLICT' });

    expect((await post('amendments', amendment, read)).statusCode).toBe(403);
    expect((await post('credit-memos', credit, read)).statusCode).toBe(403);
    const missing = await h.inject({ method: 'POST', url: '/deals/NOPE-1/credit-memos', headers: operate, payload: JSON.stringify(credit) });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: 'DEAL_NOT_FOUND', workflowId: 'deal-NOPE-1' });
    expect(h.gateway.calls).toEqual([]);
  });

  it('POST /deals/:id/credit-memos runs the update; bad input is 400 with field paths', async () => {
    h.gateway.running.set(WORKFLOW_ID, { stage: 'IN_DELIVERY', correlationId: 'c1' });
    const ok = await post('credit-memos', credit);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ workflowId: WORKFLOW_ID, result: { requestId: 'dispute-7', invoiceId: 'INV-1', reason: 'DISPUTE' } });
    expect(h.gateway.calls).toEqual([{ method: 'creditInvoice', workflowId: WORKFLOW_ID, request: credit }]);

    const bad = await post('credit-memos', { requestId: 'has spaces', invoiceId: '', by: ' ', reason: 'GOODWILL', lines: [{ invoiceLineId: 'INV-1-1', sourceItemIds: [] }, {}] });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'BAD_REQUEST', message: 'invalid credit request' });
    expect(bad.json().issues.map((i: { path: string }) => i.path).sort()).toEqual(['by', 'invoiceId', 'lines.0.sourceItemIds', 'lines.1.invoiceLineId', 'note', 'reason', 'requestId']);

    h.gateway.refusals.push({ reason: 'DEAL.ALREADY_CREDITED', message: 'lines.0.sourceItemIds.0: TE-1 on INV-1-1 was credited before' });
    const again = await post('credit-memos', { ...credit, requestId: 'dispute-8' });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ reason: 'DEAL.ALREADY_CREDITED' });
    expect(h.gateway.calls).toHaveLength(1);
  });
});

describe('operator API: revenue waterfall', () => {
  let h: Harness;
  useWebhookHarness((current) => ({ h } = current));
  const get = (id: string, headers: Record<string, string> = read) => h.inject({ method: 'GET', url: `/deals/${id}/revenue-waterfall`, headers });

  it('GET /deals/:id/revenue-waterfall answers the deal\'s waterfall; 404 without a deal, 409 before delivery, 401 without a key', async () => {
    h.gateway.running.set(WORKFLOW_ID, { stage: 'CONTRACT_SENT', correlationId: 'c1' });
    const early = await get(OPP);
    expect(early.statusCode).toBe(409);
    expect(early.json()).toMatchObject({ error: 'DEAL_NOT_IN_DELIVERY', workflowId: WORKFLOW_ID });
    const waterfall = {
      dealId: WORKFLOW_ID, contractId: 'CTR-1', contractVersion: 1, currency: 'USD', asOf: '2030-03-10', revenuePostedThrough: '2030-02-28', contractValueMinor: 1_500_000, heldMinor: 0,
      months: [{ month: '2030-02', status: 'POSTED' as const, billedMinor: 750_000, creditedMinor: 0, recognisedMinor: 750_000, scheduledMinor: 0, billedNotRecognisedMinor: 0, unbilledMinor: 0, deferredMinor: 750_000 }],
      totals: { billedMinor: 750_000, creditedMinor: 0, recognisedMinor: 750_000, scheduledMinor: 0 },
    };
    h.gateway.waterfalls.set(WORKFLOW_ID, waterfall);
    const ok = await get(OPP);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ workflowId: WORKFLOW_ID, waterfall });
    expect((await get('NOPE-1')).statusCode).toBe(404);
    expect((await get(OPP, {})).statusCode).toBe(401);
    expect((await get('not an id')).statusCode).toBe(400);
  });
});

describe('operator API: termination', () => {
  let h: Harness;
  useWebhookHarness((current) => ({ h } = current));
  const termination = { requestId: 'term-1', by: 'ops@firm.example', reason: 'customer ends the engagement', effectiveDate: '2030-02-15' };
  const post = (body: unknown, headers: Record<string, string> = operate, id = OPP) => h.inject({ method: 'POST', url: `/deals/${id}/termination`, headers, payload: JSON.stringify(body) });

  it('POST /deals/:id/termination runs the update; bad input is 400 with field paths; refusals are 409 with their code', async () => {
    h.gateway.running.set(WORKFLOW_ID, { stage: 'IN_DELIVERY', correlationId: 'c1' });
    const ok = await post(termination);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ workflowId: WORKFLOW_ID, result: { contractVersion: 2, termination: { requestId: 'term-1', effectiveDate: '2030-02-15' } } });
    expect(h.gateway.calls).toEqual([{ method: 'terminateContract', workflowId: WORKFLOW_ID, request: termination }]);

    const bad = await post({ requestId: 'a b', by: '', effectiveDate: '2030-02-30' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'BAD_REQUEST', message: 'invalid termination' });
    expect(bad.json().issues.map((i: { path: string }) => i.path).sort()).toEqual(['by', 'effectiveDate', 'reason', 'requestId']);

    h.gateway.refusals.push({ reason: 'DEAL.ALREADY_TERMINATED', message: 'the contract was terminated from 2030-02-15 by request term-1' });
    const again = await post({ ...termination, requestId: 'term-2' });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ error: 'ACTION_REJECTED', reason: 'DEAL.ALREADY_TERMINATED' });
    expect((await post(termination, read)).statusCode).toBe(403);
    expect((await post(termination, operate, 'NOPE-1')).statusCode).toBe(404);
    expect(h.gateway.calls).toHaveLength(1);
  });
});

describe('operator API: invoice decisions and write-offs', () => {
  let h: Harness;
  useWebhookHarness((current) => ({ h } = current));
  const approve = { authorization: `Bearer ${SECRETS.operatorApprove}`, 'content-type': 'application/json' };
  const post = (path: string, body: unknown, headers: Record<string, string> = approve) => h.inject({ method: 'POST', url: `/deals/${OPP}/invoices/${path}`, headers, payload: JSON.stringify(body) });

  it('an approver approves, rejects and writes off in their own name; operate alone is 403; bad input 400 with field paths', async () => {
    h.gateway.running.set(WORKFLOW_ID, { stage: 'IN_DELIVERY', correlationId: 'c1' });
    const ok = await post('INV-7/decision', { decision: 'approve' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ workflowId: WORKFLOW_ID, result: { id: 'INV-7' } });
    expect(await post('INV-8/decision', { decision: 'reject', reason: 'wrong PO' }).then((r) => r.statusCode)).toBe(200);
    expect(await post('INV-9/write-off', { reason: 'customer in liquidation' }).then((r) => r.statusCode)).toBe(200);
    // The decider is the key's holder ('controller'), whatever the body says.
    expect(h.gateway.calls).toEqual([
      { method: 'decideInvoice', workflowId: WORKFLOW_ID, decision: { invoiceId: 'INV-7', decision: 'approve', by: 'controller' } },
      { method: 'decideInvoice', workflowId: WORKFLOW_ID, decision: { invoiceId: 'INV-8', decision: 'reject', by: 'controller', reason: 'wrong PO' } },
      { method: 'writeOffInvoice', workflowId: WORKFLOW_ID, request: { invoiceId: 'INV-9', by: 'controller', reason: 'customer in liquidation' } },
    ]);

    expect((await post('INV-7/decision', { decision: 'approve' }, operate)).statusCode).toBe(403);
    const bad = await post('INV-7/decision', { decision: 'maybe', reason: '' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().issues.map((i: { path: string }) => i.path).sort()).toEqual(['decision', 'reason']);
    expect((await post('INV-9/write-off', {})).json().issues.map((i: { path: string }) => i.path)).toEqual(['reason']);
    h.gateway.refusals.push({ reason: 'DEAL.INVOICE_DECIDED', message: 'invoice INV-7 is not awaiting approval' });
    expect((await post('INV-7/decision', { decision: 'approve' })).statusCode).toBe(409);
    expect(h.gateway.calls).toHaveLength(3);
  });
});

describe('operator API: promise to pay', () => {
  let h: Harness;
  useWebhookHarness((current) => ({ h } = current));
  const body = { requestId: 'ptp-1', by: 'ar@firm.example', promisedOn: '2030-03-31', note: 'AP run on the 31st' };
  const post = (payload: unknown, headers: Record<string, string> = operate, path = `/deals/${OPP}/invoices/INV-7/promise-to-pay`) => h.inject({ method: 'POST', url: path, headers, payload: JSON.stringify(payload) });

  it('POST /deals/:id/invoices/:invoiceId/promise-to-pay runs the update with the path\'s invoice id', async () => {
    h.gateway.running.set(WORKFLOW_ID, { stage: 'IN_DELIVERY', correlationId: 'c1' });
    const ok = await post(body);
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ workflowId: WORKFLOW_ID, result: { promise: { requestId: 'ptp-1', promisedOn: '2030-03-31', pausedThrough: '2030-04-03' } } });
    expect(h.gateway.calls).toEqual([{ method: 'promiseToPay', workflowId: WORKFLOW_ID, request: { ...body, invoiceId: 'INV-7' } }]);
  });

  it('bad input is 400 with every field path; the read scope is 403; no deal is 404; nothing reaches the workflow', async () => {
    h.gateway.running.set(WORKFLOW_ID, { stage: 'IN_DELIVERY', correlationId: 'c1' });
    const bad = await post({ requestId: 'has spaces', by: ' ', promisedOn: '2030-02-30', invoiceId: 'INV-8' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'BAD_REQUEST', message: 'invalid promise to pay' });
    expect(bad.json().issues.map((i: { path: string }) => i.path).sort()).toEqual(['', 'by', 'note', 'promisedOn', 'requestId']);
    expect(bad.json().issues.find((i: { path: string }) => i.path === '').message).toMatch(/invoiceId/); // the invoice comes from the path only
    expect((await post(body, read)).statusCode).toBe(403);
    expect((await post(body, { 'content-type': 'application/json' })).statusCode).toBe(401);
    const missing = await post(body, operate, '/deals/NOPE-1/invoices/INV-7/promise-to-pay');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: 'DEAL_NOT_FOUND', workflowId: 'deal-NOPE-1' });
    expect(h.gateway.calls).toEqual([]);
  });

  it('a refusal of the workflow is 409 with its code', async () => {
    h.gateway.running.set(WORKFLOW_ID, { stage: 'IN_DELIVERY', correlationId: 'c1' });
    h.gateway.refusals.push({ reason: 'DEAL.PROMISE_OPEN', message: 'invoice INV-7 already has a promise (ptp-0) to pay by 2030-03-20' });
    const open = await post(body);
    expect(open.statusCode).toBe(409);
    expect(open.json()).toEqual({ error: 'ACTION_REJECTED', message: 'invoice INV-7 already has a promise (ptp-0) to pay by 2030-03-20', workflowId: WORKFLOW_ID, reason: 'DEAL.PROMISE_OPEN' });
    expect(h.gateway.calls).toEqual([]);
  });
});

describe('operator API: credit and rebill', () => {
  let h: Harness;
  useWebhookHarness((current) => ({ h } = current));
  it('passes rebill and releaseCapped through; anything but a boolean is 400 with its path', async () => {
    h.gateway.running.set(WORKFLOW_ID, { stage: 'IN_DELIVERY', correlationId: 'c1' });
    const post = (body: unknown) => h.inject({ method: 'POST', url: `/deals/${OPP}/credit-memos`, headers: operate, payload: JSON.stringify(body) });
    expect((await post({ ...credit, rebill: true })).statusCode).toBe(200);
    expect(h.gateway.calls).toEqual([{ method: 'creditInvoice', workflowId: WORKFLOW_ID, request: { ...credit, rebill: true } }]);
    const bad = await post({ ...credit, rebill: 'yes', releaseCapped: 1 });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().issues.map((i: { path: string }) => i.path).sort()).toEqual(['rebill', 'releaseCapped']);
  });
});

describe('operator API: terms by amendment', () => {
  let h: Harness;
  useWebhookHarness((current) => ({ h } = current));
  it('passes payment terms and a bill-to customer through; a bad one is 400 with its path', async () => {
    h.gateway.running.set(WORKFLOW_ID, { stage: 'IN_DELIVERY', correlationId: 'c1' });
    const post = (set: unknown) => h.inject({ method: 'POST', url: `/deals/${OPP}/amendments`, headers: operate, payload: JSON.stringify({ ...amendment, changes: [{ op: 'SET_TERMS', set }] }) });
    expect((await post({ paymentTerms: { netDays: 45 }, billToCustomerId: 'CUS-NEWCO' })).statusCode).toBe(200);
    expect(h.gateway.calls).toEqual([{ method: 'amendContract', workflowId: WORKFLOW_ID, request: { ...amendment, changes: [{ op: 'SET_TERMS', set: { paymentTerms: { netDays: 45 }, billToCustomerId: 'CUS-NEWCO' } }] } }]);
    const bad = await post({ paymentTerms: { netDays: 400 }, billToCustomerId: '' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().issues.map((i: { path: string }) => i.path).sort()).toEqual(['changes.0.set.billToCustomerId', 'changes.0.set.paymentTerms.netDays']);
  });
});
