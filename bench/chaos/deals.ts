/**
 * The chaos run's deals, planned from a seed and driven through the real
 * intake paths: a closed-won opportunity seeded in the Salesforce sandbox and
 * its signed webhook; the envelope completed in the DocuSign sandbox (whose
 * Connect event the storm relays); approved time and milestones logged in the
 * Kantata sandbox and sent as signed relay webhooks; each posted invoice paid
 * by card in the Stripe sandbox (its payment_intent.succeeded event relayed).
 *
 * What each deal should bill is computed here from its inputs, by hand:
 *   fixed fee F dollars: M1 = 30 % of F, M2 = 50 % of F (M3 is never accepted);
 *   advisory time: minutes x $150.00/h = minutes x 250 cents (RC-STD consultant US,
 *   200 h not-to-exceed, never reached: at most 3 x 10 h per deal); a role RC-STD has no
 *   row for takes its catch-all '*' row, $120.00/h = 200 cents a minute.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { SANDBOX_KANTATA_TOKENS } from '../../src/sandbox/credentials';
import { seedClosedWonDeal } from '../../src/sandbox/salesforce/seed';
import { STRIPE_SANDBOX } from '../../src/sandbox/stripe/stripe.sandbox';
import type { RunningSandbox } from '../../src/sandbox/server';
import type { Random } from '../../src/sandbox/faults';
import { dealWorkflowId, getDealStateQuery, getDeliveryStateQuery, type DealView, type DeliveryView } from '../../src/contract';
import { sleep } from './processes';
import { vendorRecords } from './vendor-records';
import { sign, type Storm } from './storm';

/** Bad data inside otherwise valid events; each planned deal carries at most one kind. */
export const BAD_KINDS = ['negativeMinutes', 'twentyFiveHours', 'oversizePayload', 'unknownRole', 'otherCurrencyExpense', 'conflictingDuplicate', 'unapprovedAfterBilling'] as const;
export type BadKind = (typeof BAD_KINDS)[number];

export interface PlannedEntry {
  id?: string;
  date: string;
  minutes: number;
  /** Cents per minute on RC-STD: 250 ($150.00/h, consultant US) unless the entry says otherwise. */
  centsPerMinute?: number;
}

export interface PlannedDeal {
  key: string;
  /** Fixed fee in whole dollars. */
  feeDollars: number;
  entries: PlannedEntry[];
  bad?: BadKind;
  /** Filled as the deal runs. */
  opportunityId?: string;
  projectId?: string;
  /** What the bad item's event got back (400 and 413 are the expected refusals). */
  badAnswer?: number;
  error?: string;
}

/** Hand-computed expectations per deal, in cents. */
export const expectedOf = (p: PlannedDeal) => {
  const feeCents = p.feeDollars * 100;
  return {
    milestones: [(feeCents * 30) / 100, (feeCents * 50) / 100],
    timeMinutes: p.entries.reduce((a, e) => a + e.minutes, 0),
    timeCents: p.entries.reduce((a, e) => a + e.minutes * (e.centsPerMinute ?? 250), 0),
  };
};

/** First day of last month (the contract start) and last month's dates the time is worked on. */
export function lastMonth(now = new Date()): { start: string; day: (n: number) => string } {
  const first = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  const ym = first.toISOString().slice(0, 7);
  return { start: `${ym}-01`, day: (n) => `${ym}-${String(n).padStart(2, '0')}` };
}

/** The deals of a run: every `badEvery`-th one (or the first `badDeals`) carries a kind of bad data, the kinds in turn. */
export function planDeals(n: number, runKey: string, random: Random, o: { badEvery: number; badDeals?: number }): PlannedDeal[] {
  const { day } = lastMonth();
  return Array.from({ length: n }, (_, i) => {
    const entries = Array.from({ length: 3 }, () => ({ date: day(1 + Math.floor(random() * 27)), minutes: 30 * (8 + Math.floor(random() * 13)) }));
    const turn = o.badDeals !== undefined ? (i < o.badDeals ? i : -1) : o.badEvery > 0 && i % o.badEvery === o.badEvery - 1 ? Math.floor(i / o.badEvery) : -1;
    const bad = turn >= 0 ? BAD_KINDS[turn % BAD_KINDS.length] : undefined;
    return { key: `${runKey}${String(i).padStart(4, '0')}`, feeDollars: 10_000 + 10 * Math.floor(random() * 1_000), entries, ...(bad ? { bad } : {}) };
  });
}

export interface DriveTarget {
  client: Client;
  sandbox: RunningSandbox;
  storm: Storm;
  secrets: { salesforce: string; kantata: string };
}

const QUERY_DEADLINE_MS = 10 * 60_000;

/** The deal's view, retried through dev-server restarts and worker kills (a query needs a worker). */
async function query<T>(t: DriveTarget, workflowId: string, q: typeof getDealStateQuery | typeof getDeliveryStateQuery): Promise<T> {
  const deadline = Date.now() + QUERY_DEADLINE_MS;
  for (;;) {
    try {
      return (await t.client.workflow.getHandle(workflowId).query(q as typeof getDealStateQuery)) as T;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(500);
    }
  }
}

async function until<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + QUERY_DEADLINE_MS;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${QUERY_DEADLINE_MS / 60_000} minutes (last: ${JSON.stringify(v).slice(0, 400)})`);
    await sleep(400);
  }
}

/** A sandbox call retried through injected faults (the harness is the vendor's user here, not q2c). */
async function vendorCall(url: string, init: RequestInit, ok: (status: number) => boolean): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(url, init).catch(() => undefined);
    if (res && ok(res.status)) return res;
    if (attempt > 60) throw new Error(`${init.method ?? 'GET'} ${url}: ${res?.status ?? 'no answer'} ${res ? await res.text() : ''}`);
    await sleep(500);
  }
}

/** One deal from closed-won to paid invoices. Throws only when the harness itself cannot go on. */
export async function driveDeal(t: DriveTarget, p: PlannedDeal): Promise<void> {
  const { start } = lastMonth();
  const lines = [
    { SBQQ__Number__c: 1, SBQQ__ProductCode__c: 'TRANSFORMATION', SBQQ__Description__c: 'Transformation programme', SBQQ__Quantity__c: 1, SBQQ__ListPrice__c: p.feeDollars, SBQQ__NetPrice__c: p.feeDollars, SBQQ__Discount__c: 0, Q2C_Unit__c: 'Each' },
    { SBQQ__Number__c: 2, SBQQ__ProductCode__c: 'ADVISORY_TM', SBQQ__Description__c: 'Advisory', SBQQ__Quantity__c: 200, SBQQ__ListPrice__c: 150, SBQQ__NetPrice__c: 150, SBQQ__Discount__c: 0, Q2C_Unit__c: 'Hour' },
  ];
  const { opportunityId, accountId } = await seedClosedWonDeal(t.sandbox.url, { key: p.key, lines, opportunity: { CloseDate: start, Amount: p.feeDollars + 30_000 } });
  p.opportunityId = opportunityId;
  const workflowId = dealWorkflowId(opportunityId);
  const closedWon = JSON.stringify({ eventId: randomUUID(), eventType: 'opportunity.closed_won', occurredAt: new Date().toISOString(), opportunity: { id: opportunityId, accountId, stageName: 'Closed Won', isWon: true } });
  const won = await t.storm.deliver(q2cDelivery('/webhooks/salesforce/opportunity', closedWon, t.secrets.salesforce));
  if (won.status !== 202 && won.status !== 200) throw new Error(`closed-won webhook answered ${won.status}: ${won.text}`);

  const out = await until('contract out for signature', () => query<DealView>(t, workflowId, getDealStateQuery), (v) => Boolean(v.ids.envelopeId) || v.stage === 'NEEDS_ATTENTION');
  if (!out.ids.envelopeId) throw new Error(`deal stopped at ${out.stage} before signature: ${JSON.stringify(out.exceptions).slice(0, 400)}`);
  await vendorCall(`${t.sandbox.url}/docusign/_sandbox/envelopes/${out.ids.envelopeId}/complete`, { method: 'POST' }, (s) => s < 300 || s === 409);
  const live = await until('IN_DELIVERY', () => query<DealView>(t, workflowId, getDealStateQuery), (v) => (v.stage === 'IN_DELIVERY' && Boolean(v.ids.projectId)) || v.stage === 'NEEDS_ATTENTION');
  if (!live.ids.projectId) throw new Error(`deal stopped at ${live.stage}: ${JSON.stringify(live.exceptions).slice(0, 400)}`);
  p.projectId = live.ids.projectId;

  const k = new KantataRelay(t, live.ids.projectId, opportunityId);
  await k.readProject();
  const task = k.ref('L2-T1');
  const items = [];
  for (const e of p.entries) items.push(await k.timeEntry(task, e));
  const sent = await k.send('time-entry-approved', items);
  if (sent.status !== 202) throw new Error(`time entries answered ${sent.status}: ${sent.text}`);
  if (p.bad) await sendBad(k, p, task);
  // Time first: the milestone's acceptance runs billing at once, and takes the (closed) month's time with it.
  await until('time received', () => query<DeliveryView>(t, workflowId, getDeliveryStateQuery), (v) => v.pending.time + v.invoices.length >= 1);
  for (const m of ['M1', 'M2'] as const) {
    const ref = k.ref(`L1-${m}`);
    await k.send('milestone-completed', [k.milestone(ref)]);
    await k.send('milestone-accepted', [k.milestone(ref)]);
  }
  // The customer pays what the ERP says it owes, once it is there (three invoices: M1, M2, last month's time).
  await payInvoices(t, p, workflowId);
  if (p.bad === 'unapprovedAfterBilling') {
    const e = p.entries[0]!;
    const r = await k.send('time-entry-unapproved', [{ id: e.id, unapproved_at: new Date().toISOString() }]);
    p.badAnswer = r.status;
  }
}

async function sendBad(k: KantataRelay, p: PlannedDeal, task: string): Promise<void> {
  const { day } = lastMonth();
  const valid = await k.timeEntry(task, { date: day(28), minutes: 60 });
  // The valid companion is billed once its event is accepted: it joins the deal's expectation.
  const withValid = async (bad: Record<string, unknown>, extra?: (body: Record<string, unknown>) => void) => {
    const r = await k.send('time-entry-approved', [valid, bad], extra);
    p.badAnswer = r.status;
    if (r.status === 202) p.entries.push({ id: String(valid['id']), date: day(28), minutes: 60 });
    else {
      // A relay whose event was refused sends the valid records again, without the bad one.
      const again = await k.send('time-entry-approved', [valid]);
      if (again.status === 202) p.entries.push({ id: String(valid['id']), date: day(28), minutes: 60 });
    }
  };
  switch (p.bad) {
    case 'negativeMinutes': {
      const bad: Record<string, unknown> = { ...(await k.timeEntry(task, { date: day(27), minutes: 60 })), time_in_minutes: -60 };
      return withValid(bad);
    }
    case 'twentyFiveHours': {
      const bad: Record<string, unknown> = { ...(await k.timeEntry(task, { date: day(27), minutes: 60 })), time_in_minutes: 1500 };
      return withValid(bad);
    }
    case 'oversizePayload': {
      const bad: Record<string, unknown> = { ...(await k.timeEntry(task, { date: day(27), minutes: 60 })), notes: 'x'.repeat(2.5 * 1024 * 1024) };
      return withValid(bad);
    }
    case 'unknownRole': {
      // RC-STD prices a role it has no row for at its catch-all: billed, at $120.00/h.
      const bad: Record<string, unknown> = { ...(await k.timeEntry(task, { date: day(27), minutes: 120 })), role_name: 'astronaut' };
      await withValid(bad);
      if (p.badAnswer === 202) p.entries.push({ id: String(bad['id']), date: day(27), minutes: 120, centsPerMinute: 200 });
      return;
    }
    case 'unapprovedAfterBilling':
      // Sent once the entries are invoiced (driveDeal): the deal must ask for a credit, not bill or drop anything.
      return;
    case 'conflictingDuplicate': {
      // The first entry again under its own id, with other minutes: never billed twice, never silently replaced.
      const first = p.entries[0]!;
      const bad: Record<string, unknown> = { ...(await k.timeEntryRow(task, first)), time_in_minutes: first.minutes + 60 };
      return withValid(bad);
    }
    case 'otherCurrencyExpense': {
      const eur = await k.expense({ date: day(26), amountMinor: 12_300, currency: 'EUR' });
      const r = await k.send('expense-approved', [eur]);
      p.badAnswer = r.status;
      return;
    }
  }
}

/** Pays each invoice the ERP holds for the deal, until the ERP holds everything the inputs bill. */
async function payInvoices(t: DriveTarget, p: PlannedDeal, workflowId: string): Promise<void> {
  const paid = new Set<string>();
  const deadline = Date.now() + QUERY_DEADLINE_MS;
  const exp = expectedOf(p);
  const want = exp.milestones.reduce((a, b) => a + b, 0) + exp.timeCents;
  for (;;) {
    const posted = await vendorRecords(t.sandbox, 'netsuite', 'invoice', `${workflowId}:`);
    for (const inv of posted) {
      if (paid.has(inv.id)) continue;
      const invoiceId = String(inv.data['custbody_q2c_invoice_id']);
      const total = Math.round(Number(inv.data['total'] ?? 0) * 100);
      const form = new URLSearchParams({ amount: String(total), currency: 'usd', confirm: 'true', payment_method: STRIPE_SANDBOX.paymentMethodOk, description: `Invoice ${String(inv.data['tranId'])}`, 'metadata[q2c_invoice_id]': invoiceId, 'metadata[q2c_opportunity_id]': p.opportunityId! });
      await vendorCall(`${t.sandbox.url}/stripe/v1/payment_intents`, { method: 'POST', headers: { authorization: `Bearer ${STRIPE_SANDBOX.apiKey}`, 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': `chaos:${invoiceId}` }, body: form.toString() }, (s) => s === 200);
      paid.add(inv.id);
    }
    const invoiced = posted.reduce((a, r) => a + Math.round(Number(r.data['subtotal'] ?? 0) * 100), 0);
    if (invoiced >= want) return;
    if (Date.now() > deadline) throw new Error(`NetSuite holds ${invoiced} of ${want} cents for the deal after ${QUERY_DEADLINE_MS / 60_000} minutes`);
    await sleep(1_000);
  }
}

const q2cDelivery = (path: string, body: string, secret: string) => ({
  path,
  body,
  headers: { 'content-type': 'application/json', ...sign('q2c', secret, body, Math.floor(Date.now() / 1000)) },
  scheme: 'q2c' as const,
  secret,
});

/** What the Kantata relay does for one project: records in Kantata, then signed events to the service. */
class KantataRelay {
  private readonly stories = new Map<string, { id: string; title: string }>();
  private userId = '';

  constructor(
    private readonly t: DriveTarget,
    private readonly projectId: string,
    private readonly opportunityId: string,
  ) {}

  async readProject(): Promise<void> {
    const res = await vendorCall(`${this.t.sandbox.url}/kantata/api/v1/stories.json?workspace_id=${encodeURIComponent(this.projectId)}&per_page=200`, { headers: { authorization: `Bearer ${SANDBOX_KANTATA_TOKENS[0]}` } }, (s) => s === 200);
    const body = (await res.json()) as { results: Array<{ id: string }>; stories: Record<string, { id: string; title: string; description?: string }> };
    for (const r of body.results) {
      const s = body.stories[r.id]!;
      const ref = /q2c-ref:(\S+)/.exec(s.description ?? '')?.[1];
      if (ref) this.stories.set(ref, { id: s.id, title: s.title });
    }
    this.userId = (await this.seed('users', { full_name: 'Chaos Consultant', email_address: 'chaos@consulting.example', headline: 'Consultant' })).id;
  }

  ref(suffix: string): string {
    const ref = `CTR-${this.opportunityId}-${suffix}`;
    if (!this.stories.has(ref)) throw new Error(`no Kantata story for ${ref} in project ${this.projectId}`);
    return ref;
  }

  private async seed(kind: 'users' | 'time_entries' | 'expenses', row: Record<string, unknown>): Promise<{ id: string }> {
    const res = await vendorCall(`${this.t.sandbox.url}/kantata/_sandbox/${kind}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(row) }, (s) => s === 201);
    return (await res.json()) as { id: string };
  }

  /** An approved time entry, created in Kantata; the relay's record of it. */
  async timeEntry(task: string, e: PlannedEntry): Promise<Record<string, unknown>> {
    const row = { workspace_id: this.projectId, story_id: this.stories.get(task)!.id, user_id: this.userId, date_performed: e.date, time_in_minutes: e.minutes, billable: true, approved: true, notes: 'chaos' };
    const { id } = await this.seed('time_entries', row);
    e.id = id;
    return this.timeEntryRow(task, e);
  }

  async timeEntryRow(task: string, e: PlannedEntry): Promise<Record<string, unknown>> {
    return { id: e.id, story_id: task, user_id: this.userId, role_name: 'consultant', date_performed: e.date, time_in_minutes: e.minutes, billable: true, approved: true, notes: 'chaos', approved_at: `${e.date}T20:00:00Z` };
  }

  async expense(x: { date: string; amountMinor: number; currency: string }): Promise<Record<string, unknown>> {
    const row = { workspace_id: this.projectId, user_id: this.userId, date: x.date, category: 'TRAVEL', amount_in_cents: x.amountMinor, currency: x.currency, billable: true, approved: true, notes: 'chaos' };
    const { id } = await this.seed('expenses', row);
    return { id, user_id: this.userId, date: x.date, category: 'TRAVEL', amount_in_cents: x.amountMinor, currency: x.currency, billable: true, notes: 'chaos', approved_at: `${x.date}T20:00:00Z` };
  }

  milestone(ref: string): Record<string, unknown> {
    return { id: ref, title: this.stories.get(ref)!.title, story_type: 'milestone', at: new Date().toISOString() };
  }

  send(kind: string, items: Array<Record<string, unknown>>, extra?: (body: Record<string, unknown>) => void): Promise<{ status: number; text: string }> {
    const body: Record<string, unknown> = { eventId: randomUUID(), occurredAt: new Date().toISOString(), workspaceId: this.projectId, items };
    extra?.(body);
    return this.t.storm.deliver(q2cDelivery(`/webhooks/kantata/${kind}`, JSON.stringify(body), this.t.secrets.kantata));
  }
}
