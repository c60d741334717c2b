import { randomBytes } from 'node:crypto';
import type { DealView, DeliveryView, InvoiceSummary } from '../../src/contract';
import { schema, type DbHandle } from '../../src/db';
import { ensureDefaultRuleSets, RuleSetRepository } from '../../src/db/rulesets';
import defaultRuleSet from '../../src/rules/rulesets/default.json';
import { FakeGovernance } from './support/fake-governance';
import { NOW_S, SECRETS, openTestDb, q2cHeaders, serviceSecrets, startHarness, type Harness, useWebhookHarness } from './support/harness';
import { OPP } from './support/payloads';

const WORKFLOW_ID = `deal-${OPP}`;

/** A browser's view of the console: its cookie and the last page's form token. */
class Browser {
  cookie = '';
  csrf = '';
  constructor(private readonly h: Harness) {}

  private remember(res: { headers: Record<string, unknown>; body: string }) {
    const set = res.headers['set-cookie'] as string[] | undefined;
    const session = set?.find((c) => c.startsWith('q2c_console='));
    if (session) this.cookie = session.split(';')[0]!;
    const token = /name="_csrf" value="([^"]+)"/.exec(res.body);
    if (token) this.csrf = token[1]!;
  }

  async get(url: string) {
    const res = await this.h.inject({ method: 'GET', url, headers: this.cookie ? { cookie: this.cookie } : {} });
    this.remember(res);
    return res;
  }

  async post(url: string, form: Record<string, string>, opts: { csrf?: boolean } = {}) {
    const body = new URLSearchParams({ ...(opts.csrf === false ? {} : { _csrf: this.csrf }), ...form }).toString();
    const res = await this.h.inject({ method: 'POST', url, payload: body, headers: { 'content-type': 'application/x-www-form-urlencoded', ...(this.cookie ? { cookie: this.cookie } : {}) } });
    this.remember(res);
    return res;
  }

  async signIn(key: string) {
    await this.get('/console/sign-in');
    return this.post('/console/sign-in', { key, next: '/console/deals' });
  }
}

const invoice = (over: Partial<InvoiceSummary>): InvoiceSummary => ({
  id: 'inv-1', number: 'INV-1', invoiceKey: 'k1', issueDate: '2026-02-01', dueDate: '2026-03-03', period: { start: '2026-01-01', end: '2026-01-31' },
  subtotalMinor: 0, taxMinor: 0, totalMinor: 0, paidMinor: 0, refundedMinor: 0, writtenOffMinor: 0, status: 'POSTED', system: 'erp', lines: [], ...over,
});

const delivery = (invoices: InvoiceSummary[]): DeliveryView => ({
  asOf: '2026-03-10', currency: 'USD', totals: { BILLABLE: 0, DEFERRED: 0, CAPPED: 0, EXCLUDED: 0, delivered: 0 }, pending: { time: 0, expenses: 0, milestones: 0 },
  invoices, held: [], excluded: [], attention: [], recognisedByLine: {}, recognisedMinor: 0, recognisedByMonth: {}, revenuePostedThrough: null, intercompanyMinor: 0, unappliedMinor: 0, runs: 1, continuedAsNew: 0,
});

const parkedView: DealView = {
  opportunityId: OPP, stage: 'NEEDS_ATTENTION', ids: {}, timeline: [{ at: '2026-01-15T09:00:00.000Z', stage: 'QUOTE_ACCEPTED' }],
  exceptions: [{ id: 1, step: 'syncCustomerMaster', code: 'ERP.CUSTOMER_INVALID', message: 'currency CHF is not enabled in NetSuite', raisedAt: '2026-01-15T09:01:00.000Z', allowed: ['retry', 'link', 'override', 'cancel'], system: 'erp', attempts: 1, firstSeenAt: '2026-01-15T09:01:00.000Z', lastSeenAt: '2026-01-15T09:01:00.000Z', notes: [], overridable: ['customer.currency'] }],
};

describe('operator console: sessions, CSRF and scopes (fake gateway)', () => {
  let h: Harness;
  let database: DbHandle;
  useWebhookHarness((current) => ({ h, database } = current));

  const actions = () => database.db.select().from(schema.operatorActions).orderBy(schema.operatorActions.id);

  it('refuses a bad key with the form again (401); a page without a session goes to the sign-in', async () => {
    const b = new Browser(h);
    const page = await b.get('/console/deals');
    expect(page.statusCode).toBe(303);
    expect(page.headers.location).toBe('/console/sign-in?next=%2Fconsole%2Fdeals');
    const bad = await b.signIn('not-an-operator-key-000');
    expect(bad.statusCode).toBe(401);
    expect(bad.body).toContain('That key is not an operator key.');
    expect((await b.get('/console/deals')).statusCode).toBe(303);
  });

  it('signs in: an HttpOnly, SameSite=Strict session cookie holding no key; the pages render; sign-out ends it', async () => {
    const b = new Browser(h);
    const res = await b.signIn(SECRETS.operatorRead);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/console/deals');
    const cookie = (res.headers['set-cookie'] as string[]).find((c) => c.startsWith('q2c_console='))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/console/);
    expect(cookie).not.toMatch(/Secure/); // plain http here; 'auto' sets it over https
    expect(cookie).not.toContain(SECRETS.operatorRead);
    h.gateway.listed = [{ workflowId: WORKFLOW_ID, runId: 'r1', opportunityId: OPP, status: 'RUNNING', stage: 'IN_DELIVERY', needsAttention: false, startedAt: '2026-01-15T09:00:00.000Z' }];
    h.gateway.running.set(WORKFLOW_ID, { stage: 'IN_DELIVERY', correlationId: 'c' });
    // 12,000.00 + 5,000.00 issued; 7,000.00 paid; 5,000.00 held for approval.
    h.gateway.deliveries.set(WORKFLOW_ID, delivery([invoice({ totalMinor: 1_200_000, paidMinor: 700_000, status: 'PARTIALLY_PAID' }), invoice({ id: 'inv-2', number: 'INV-2', totalMinor: 500_000, status: 'AWAITING_APPROVAL' })]));
    const deals = await b.get('/console/deals');
    expect(deals.statusCode).toBe(200);
    expect(deals.body).toContain('dashboard <span class="badge">read</span>');
    expect(deals.body).toMatch(/data-stage="IN_DELIVERY"><div class="n">1</);
    expect(deals.body).toContain('USD 12,000.00'); // invoiced (the held one is not issued)
    expect(deals.body).toContain('USD 7,000.00'); // collected
    expect(deals.body).toContain('USD 5,000.00'); // outstanding
    const billing = await b.get('/console/billing');
    expect(billing.body).toContain('<div class="n" id="held-total">USD 5,000.00</div>');
    expect(billing.body).toContain('needs the approve scope');
    expect((await b.post('/console/sign-out', {})).statusCode).toBe(303);
    expect((await b.get('/console/deals')).statusCode).toBe(303);
  });

  it('refuses a POST without the CSRF token (403), and with it but without the scope (403); nothing reaches the deal', async () => {
    h.gateway.running.set(WORKFLOW_ID, { stage: 'NEEDS_ATTENTION', correlationId: 'c' });
    h.gateway.views.set(WORKFLOW_ID, structuredClone(parkedView));
    const ops = new Browser(h);
    await ops.signIn(SECRETS.operatorOperate);
    await ops.get('/console/exceptions');
    const forged = await ops.post(`/console/deals/${OPP}/exceptions/1/resolve`, { action: 'retry' }, { csrf: false });
    expect(forged.statusCode).toBe(403);
    expect(forged.body).toContain('CSRF token missing or invalid');
    const reader = new Browser(h);
    await reader.signIn(SECRETS.operatorRead);
    await reader.get('/console/exceptions');
    const readOnly = await reader.post(`/console/deals/${OPP}/exceptions/1/resolve`, { action: 'retry' });
    expect(readOnly.statusCode).toBe(403);
    expect(readOnly.body).toContain('dashboard&#39;s key lacks the &#39;operate&#39; scope.');
    const bearer = await h.inject({ method: 'POST', url: `/console/deals/${OPP}/exceptions/1/resolve`, headers: { authorization: `Bearer ${SECRETS.operatorOperate}`, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'action=retry' });
    expect(bearer.statusCode).toBe(403);
    expect(h.gateway.calls).toEqual([]);
  });

  it('works an exception: groups it, notes and assigns it, overrides a field and retries, in the holder\'s name, recorded with why', async () => {
    h.gateway.running.set(WORKFLOW_ID, { stage: 'NEEDS_ATTENTION', correlationId: 'c' });
    h.gateway.views.set(WORKFLOW_ID, structuredClone(parkedView));
    h.gateway.listed = [{ workflowId: WORKFLOW_ID, runId: 'r1', opportunityId: OPP, status: 'RUNNING', stage: 'NEEDS_ATTENTION', needsAttention: true, startedAt: '2026-01-15T09:00:00.000Z' }];
    const b = new Browser(h);
    await b.signIn(SECRETS.operatorOperate);
    const page = await b.get('/console/exceptions');
    expect(page.body).toMatch(/<tr data-code="ERP.CUSTOMER_INVALID"><td><a [^>]+>ERP.CUSTOMER_INVALID<\/a><\/td><td>erp<\/td><td class="num">1<\/td><td class="num">1<\/td><td class="num">1<\/td><td>2026-01-15 09:01Z<\/td><td>2026-01-15 09:01Z<\/td><\/tr>/);
    expect(page.body).toContain('<option value="customer.currency">customer.currency</option>');

    const noted = await b.post(`/console/deals/${OPP}/exceptions/1/notes`, { note: 'asked sales', assignee: 'dana' });
    expect(noted.headers.location).toBe('/console/exceptions');
    expect((await b.get('/console/exceptions')).body).toContain('exception 1 updated.');

    const bad = await b.post(`/console/deals/${OPP}/exceptions/1/resolve`, { action: 'link' });
    expect(bad.statusCode).toBe(303);
    expect((await b.get('/console/exceptions')).body).toContain('the form is incomplete — externalId');

    await b.post(`/console/deals/${OPP}/exceptions/1/resolve`, { action: 'override', field: 'customer.currency', value: 'USD', note: 'per contract' });
    expect(h.gateway.calls).toEqual([
      { method: 'annotateException', workflowId: WORKFLOW_ID, request: { exceptionId: 1, by: 'ops', note: 'asked sales', assignee: 'dana' } },
      { method: 'resolveException', workflowId: WORKFLOW_ID, action: { action: 'override', field: 'customer.currency', value: 'USD', note: 'per contract', by: 'ops' } },
    ]);
    expect((await actions()).map((a) => [a.actor, a.via, a.action, a.opportunityId, a.reason, a.outcome])).toEqual([
      ['ops', 'console', 'annotate', OPP, 'asked sales', 'ok'],
      ['ops', 'console', 'resolve', OPP, null, 'BAD_REQUEST'],
      ['ops', 'console', 'override', OPP, 'per contract', 'ok'],
    ]);
    // The deal page lists them.
    const deal = await b.get(`/console/deals/${OPP}`);
    expect(deal.body).toMatch(/<td>ops<\/td><td>console<\/td><td>override<\/td><td>exception 1<\/td><td>per contract<\/td><td>ok<\/td>/);
  });

  it("notes and assigns a delivery's attention item, shown with it", async () => {
    h.gateway.running.set(WORKFLOW_ID, { stage: 'NEEDS_ATTENTION', correlationId: 'c' });
    h.gateway.deliveries.set(WORKFLOW_ID, delivery([invoice({ totalMinor: 100_000, status: 'POSTED' })]));
    h.gateway.deliveries.get(WORKFLOW_ID)!.attention.push({ id: 'OVERDUE:inv-1', kind: 'OVERDUE', invoiceId: 'inv-1', message: 'INV-1 is 10 days past due', raisedOn: '2026-03-13' });
    h.gateway.listed = [{ workflowId: WORKFLOW_ID, runId: 'r1', opportunityId: OPP, status: 'RUNNING', stage: 'NEEDS_ATTENTION', needsAttention: true, startedAt: '2026-01-15T09:00:00.000Z' }];
    const b = new Browser(h);
    await b.signIn(SECRETS.operatorOperate);
    expect((await b.get('/console/exceptions')).body).toContain(`action="/console/deals/${OPP}/exceptions/OVERDUE%3Ainv-1/notes"`);
    await b.post(`/console/deals/${OPP}/exceptions/OVERDUE%3Ainv-1/notes`, { note: 'AP says wire on Friday', assignee: 'dana' });
    expect(h.gateway.calls).toEqual([{ method: 'annotateAttention', workflowId: WORKFLOW_ID, request: { attentionId: 'OVERDUE:inv-1', by: 'ops', note: 'AP says wire on Friday', assignee: 'dana' } }]);
    const page = (await b.get('/console/exceptions')).body;
    expect(page).toContain('AP says wire on Friday');
    expect(page).toMatch(/<td>dana<\/td>/);
  });

  it('releases billing with the approve scope only, and shows a refusal as the deal gave it', async () => {
    h.gateway.running.set(WORKFLOW_ID, { stage: 'IN_DELIVERY', correlationId: 'c' });
    const ops = new Browser(h);
    await ops.signIn(SECRETS.operatorOperate);
    await ops.get('/console/billing');
    expect((await ops.post(`/console/deals/${OPP}/invoices/inv-2/decision`, { decision: 'approve' })).statusCode).toBe(403);
    const controller = new Browser(h);
    await controller.signIn(SECRETS.operatorApprove);
    await controller.get('/console/billing');
    await controller.post(`/console/deals/${OPP}/invoices/inv-2/decision`, { decision: 'approve' });
    expect(h.gateway.calls).toEqual([{ method: 'decideInvoice', workflowId: WORKFLOW_ID, decision: { invoiceId: 'inv-2', decision: 'approve', by: 'controller' } }]);
    h.gateway.refusals.push({ reason: 'DEAL.INVOICE_DECIDED', message: 'invoice inv-2 was already decided' });
    await controller.post(`/console/deals/${OPP}/invoices/inv-2/decision`, { decision: 'approve' });
    expect((await controller.get('/console/billing')).body).toContain('<div class="flash error" role="status">Refused (DEAL.INVOICE_DECIDED): invoice inv-2 was already decided</div>');
    await controller.post(`/console/deals/${OPP}/invoices/inv-1/write-off`, { reason: '' });
    expect((await controller.get('/console/billing')).body).toContain('reason: ');
    expect(h.gateway.calls).toHaveLength(1);
  });

  it('answers a bad deal id with a 400 page naming the field, an unknown deal with 404', async () => {
    const b = new Browser(h);
    await b.signIn(SECRETS.operatorRead);
    const bad = await b.get('/console/deals/not%20an%20id');
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('id: expected an opportunity id');
    const unknown = await b.get('/console/deals/006NOPE');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.body).toContain('no deal workflow &#39;deal-006NOPE&#39;');
  });

  it('a removed key loses its session at once (same session key, new keyring)', async () => {
    const sessionKey = randomBytes(32);
    const first = await startHarness(database, { deps: { consoleSessionKey: sessionKey } });
    const second = await startHarness(database, { deps: { consoleSessionKey: sessionKey, secrets: { ...serviceSecrets, operatorApiKeys: serviceSecrets.operatorApiKeys.filter((k) => k.name !== 'ops') } } });
    try {
      const b = new Browser(first);
      await b.signIn(SECRETS.operatorOperate);
      expect((await b.get('/console/deals')).statusCode).toBe(200);
      const again = await second.inject({ method: 'GET', url: '/console/deals', headers: { cookie: b.cookie } });
      expect(again.statusCode).toBe(303);
      expect(again.headers.location).toMatch(/^\/console\/sign-in/);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('serves Chart.js and the console script from its own origin', async () => {
    const chart = await h.inject({ method: 'GET', url: '/console/assets/chart.umd.min.js' });
    expect(chart.statusCode).toBe(200);
    expect(chart.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(chart.body).toContain('Chart');
    expect((await h.inject({ method: 'GET', url: '/console/assets/console.js' })).body).toContain("querySelectorAll('canvas[data-kpi]')");
    const css = await h.inject({ method: 'GET', url: '/console/assets/console.css' });
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await h.inject({ method: 'GET', url: '/console/assets/constructor' })).statusCode).toBe(404);
    // Pages carry their own strict policy: nothing inline.
    const signIn = await h.inject({ method: 'GET', url: '/console/sign-in' });
    expect(signIn.headers['content-security-policy']).toContain("script-src 'self'; script-src-attr 'none'; style-src 'self';");
    expect(signIn.body).not.toMatch(/<style|<script>| style="/);
    expect((await h.inject({ method: 'GET', url: '/console/assets/..%2Fsession.ts' })).statusCode).toBe(404);
  });
});

describe('webhook inbox replay (POST /inbox/:id/replay and the console)', () => {
  let h: Harness;
  let database: DbHandle;
  useWebhookHarness((current) => ({ h, database } = current));

  const timeEntries = { eventId: 'kt-replay-1', occurredAt: '2025-03-31T11:00:00Z', workspaceId: 7001, opportunityId: OPP, items: [{ id: '90001', user_id: '301', date_performed: '2025-03-28', time_in_minutes: 60, billable: true, approved: true }] };
  const send = (payload: unknown, secret: string = SECRETS.kantata) => {
    const body = JSON.stringify(payload);
    return h.inject({ method: 'POST', url: '/webhooks/kantata/time-entry-approved', payload: body, headers: q2cHeaders(body, secret, NOW_S) });
  };
  const operate = { authorization: `Bearer ${SECRETS.operatorOperate}` };

  it('replays a verified delivery that found no deal, once; refuses one whose signature failed', async () => {
    expect((await send(timeEntries)).statusCode).toBe(422);
    expect((await send({ ...timeEntries, eventId: 'kt-forged' }, 'wrong-secret-0000000000000')).statusCode).toBe(401);
    const [missed, forged] = await database.db.select().from(schema.webhookInbox).orderBy(schema.webhookInbox.id);
    expect(missed).toMatchObject({ status: 'rejected', error: { error: 'DEAL_NOT_FOUND' }, routeParams: { kind: 'time-entry-approved' } });
    expect(missed!.signatureVerifiedAt).not.toBeNull();
    expect(forged!.signatureVerifiedAt).toBeNull();

    // Still no deal: 422 again, the row stays replayable.
    const early = await h.inject({ method: 'POST', url: `/inbox/${missed!.id}/replay`, headers: operate });
    expect(early.statusCode).toBe(422);

    h.gateway.running.set(WORKFLOW_ID, { stage: 'IN_DELIVERY', correlationId: 'c' });
    expect((await h.inject({ method: 'POST', url: `/inbox/${missed!.id}/replay`, headers: { authorization: `Bearer ${SECRETS.operatorRead}` } })).statusCode).toBe(403);
    const first = await h.inject({ method: 'POST', url: `/inbox/${missed!.id}/replay`, headers: operate });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ id: missed!.id, outcome: 'dispatched', workflowId: WORKFLOW_ID, eventId: 'kt-replay-1' });
    const second = await h.inject({ method: 'POST', url: `/inbox/${missed!.id}/replay`, headers: operate });
    expect(second.json()).toEqual({ id: missed!.id, outcome: 'already-dispatched', workflowId: WORKFLOW_ID, eventId: 'kt-replay-1' });
    expect(h.gateway.calls.map((c) => c.method)).toEqual(['signalDelivery']);

    const refused = await h.inject({ method: 'POST', url: `/inbox/${forged!.id}/replay`, headers: operate });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ error: 'NOT_REPLAYABLE', message: `inbox row ${forged!.id} cannot be replayed: its signature never verified` });
    expect((await h.inject({ method: 'POST', url: '/inbox/999/replay', headers: operate })).statusCode).toBe(404);

    const recorded = await database.db.select().from(schema.operatorActions).orderBy(schema.operatorActions.id);
    expect(recorded.map((a) => [a.actor, a.via, a.action, a.target, a.outcome])).toEqual([
      ['ops', 'api', 'replay', `inbox ${missed!.id}`, 'DEAL_NOT_FOUND'],
      ['ops', 'api', 'replay', `inbox ${missed!.id}`, 'ok'],
      ['ops', 'api', 'replay', `inbox ${missed!.id}`, 'ok'],
      ['ops', 'api', 'replay', `inbox ${forged!.id}`, 'NOT_REPLAYABLE'],
      ['ops', 'api', 'replay', 'inbox 999', 'NOT_FOUND'],
    ]);
  });

  it('the console lists it with its reason and replays it from a button', async () => {
    await send(timeEntries);
    h.gateway.running.set(WORKFLOW_ID, { stage: 'IN_DELIVERY', correlationId: 'c' });
    const b = new Browser(h);
    await b.signIn(SECRETS.operatorOperate);
    const page = await b.get('/console/inbox');
    expect(page.body).toContain('DEAL_NOT_FOUND — no running deal deal-006Hs00001AbCdEIAZ for this event');
    const [row] = await database.db.select().from(schema.webhookInbox);
    await b.post(`/console/inbox/${row!.id}/replay`, {});
    expect((await b.get('/console/inbox?status=dispatched')).body).toContain(`Delivery ${row!.id} replayed to ${WORKFLOW_ID}.`);
    expect(h.gateway.calls.map((c) => c.method)).toEqual(['signalDelivery']);
  });
});

describe('rule-set proposals in the console', () => {
  const v2 = () => ({ ...JSON.parse(JSON.stringify(defaultRuleSet)), version: 2, description: 'consultant US 165.00/h' });
  let database: DbHandle;
  let h: Harness;
  let governance: FakeGovernance;
  const KEY_ALICE = 'op-alice-key-eeeeeeeeeeeeeeeeee';

  beforeAll(async () => {
    database = await openTestDb();
    await ensureDefaultRuleSets(database.db);
  });
  afterAll(() => database.close());
  beforeEach(async () => {
    governance = new FakeGovernance();
    h = await startHarness(database, { deps: { governance, secrets: { ...serviceSecrets, operatorApiKeys: [...serviceSecrets.operatorApiKeys, { name: 'alice', key: KEY_ALICE, scopes: ['operate', 'approve'] }] } } });
  });
  afterEach(() => h.close());

  it("lists what awaits a decision, shows the author's own approval refused, and lets another approver approve", async () => {
    const { proposalId } = await governance.propose({ ruleSet: v2(), by: 'alice', effectiveDate: '2025-05-01', timeZone: 'UTC', expiresInDays: 14 });
    await new RuleSetRepository(database.db).saveRuleSet(v2(), { status: 'draft', governance: { author: 'alice', status: 'PROPOSED' } });
    const alice = new Browser(h);
    await alice.signIn(KEY_ALICE);
    const page = await alice.get('/console/rulesets');
    expect(page.body).toContain(`data-proposal="${proposalId}"`);
    expect(page.body).toContain('consultant US 165.00/h');
    await alice.post(`/console/rulesets/proposals/${encodeURIComponent(proposalId)}/approval`, { note: 'mine' });
    expect((await alice.get('/console/rulesets')).body).toMatch(/<div class="flash error" role="status">Refused \(RULESET.SELF_APPROVAL\): [^<]+<\/div>/);
    expect(governance.proposals.get(proposalId)!.status).toBe('PROPOSED');

    const controller = new Browser(h);
    await controller.signIn(SECRETS.operatorApprove);
    await controller.get('/console/rulesets');
    await controller.post(`/console/rulesets/proposals/${encodeURIComponent(proposalId)}/approval`, { note: 'rate review' });
    expect((await controller.get('/console/rulesets')).body).toContain(`${proposalId}: approved.`);
    const recorded = await database.db.select().from(schema.operatorActions).orderBy(schema.operatorActions.id);
    expect(recorded.map((a) => [a.actor, a.action, a.target, a.reason, a.outcome])).toEqual([
      ['alice', 'approve-ruleset', proposalId, 'mine', 'RULESET.SELF_APPROVAL'],
      ['controller', 'approve-ruleset', proposalId, 'rate review', 'ok'],
    ]);
  });
});
