import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { connectorsConfigFromEnv, createConnectors } from '../connectors';
import { AuditRepository } from '../db/audit';
import { SANDBOX_KANTATA_TOKENS } from '../sandbox/credentials';
import { seedClosedWonDeal } from '../sandbox/salesforce/seed';
import { STRIPE_SANDBOX } from '../sandbox/stripe/stripe.sandbox';
import { signQ2c } from '../service/webhooks/signature';
import { DEAL_WORKFLOW_TYPE, dealWorkflowId, getDealStateQuery, type DealInput, type DealView } from '../contract';
import { MIN_DEMO_DAY_MS, demoBusinessDate, demoBusinessMs, getDeliveryStateQuery, type DemoClock, type DeliveryView, type InvoiceSummary } from '../contract';
import { formatTrail, reconcileDeal } from './audit';
import { withSandboxVendors } from './dev-secrets';
import type { Stack } from './stack';

/** One business day of the sample deal every 250 ms: its 12-month contract runs in about 90 seconds. */
export const SAMPLE_DAY_MS = 250;
/** The sample's close date, which is the contract start (the mapping gives every contract at least 12 months). */
export const SAMPLE_CLOSE_DATE = '2026-01-15';
/** Its last day: the deal closes on the next business day, 2027-01-15. */
export const SAMPLE_CONTRACT_END = '2027-01-14';

/** The quote the sample sells (Salesforce CPQ quote lines). */
export const SAMPLE_LINES = [
  // 1 x $120,000.00 fixed fee; milestones M1 30 %, M2 50 %, M3 20 %, each invoiced on acceptance.
  { SBQQ__Number__c: 1, SBQQ__ProductCode__c: 'TRANSFORMATION', SBQQ__Description__c: 'Transformation programme', SBQQ__Quantity__c: 1, SBQQ__ListPrice__c: 120000, SBQQ__NetPrice__c: 120000, SBQQ__Discount__c: 0, Q2C_Unit__c: 'Each' },
  // 200 h x $150.00 = $30,000.00 not-to-exceed, monthly in arrears.
  { SBQQ__Number__c: 2, SBQQ__ProductCode__c: 'ADVISORY_TM', SBQQ__Description__c: 'Advisory', SBQQ__Quantity__c: 200, SBQQ__ListPrice__c: 150, SBQQ__NetPrice__c: 150, SBQQ__Discount__c: 0, Q2C_Unit__c: 'Hour' },
  // Expenses at cost, monthly in arrears, against a $5,000.00 budget.
  { SBQQ__Number__c: 3, SBQQ__ProductCode__c: 'EXPENSES', SBQQ__Description__c: 'Travel and expenses', SBQQ__Quantity__c: 1, SBQQ__ListPrice__c: 5000, SBQQ__NetPrice__c: 5000, SBQQ__Discount__c: 0, Q2C_Unit__c: 'Each' },
];

/** Where the sample runs: the stack's pieces, or a test's. */
export interface SampleTarget {
  client: Client;
  taskQueue: string;
  /** The ERP_TASK_QUEUE setting the deal is started with (absent: the default queue). */
  erpTaskQueue?: string;
  sandboxUrl: string;
  serviceUrl: string;
  /** The q2c relay HMAC secrets the service accepts (first of each configured list). */
  secrets: { salesforce: string; kantata: string };
}

export interface SampleOptions {
  /** Real milliseconds per business day (demo mode); default SAMPLE_DAY_MS. */
  dayMs?: number;
  /** Makes the Salesforce records unique; default from the clock. */
  key?: string;
}

export interface SampleResult {
  opportunityId: string;
  workflowId: string;
  /** The deal's final view (or the last one seen, when it stopped early). */
  view: DealView;
  /** The delivery state at the end: invoices, totals and, once closed, the summary. */
  delivery?: DeliveryView;
  /** Invoice numbers in issue order. */
  invoiceNumbers: string[];
  /** Real time from the closed-won webhook to the end. */
  elapsedMs: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const usd = (minor: number) => `$${(minor / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
const firstSecret = (list: string | undefined) => (list ?? '').split(',')[0]!.trim();

/**
 * `npm start`'s sample deal on the running stack: the whole quote-to-cash life
 * of one deal through the real intake paths, in demo mode (see runSample).
 */
export async function runSampleDeal(stack: Stack, config: Config, log: (line: string) => void, options: SampleOptions = {}): Promise<SampleResult> {
  const target: SampleTarget = {
    client: stack.client,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    erpTaskQueue: config.ERP_TASK_QUEUE,
    sandboxUrl: stack.sandbox.url,
    serviceUrl: stack.serviceUrl,
    secrets: { salesforce: firstSecret(config.Q2C_WEBHOOK_SECRET_SALESFORCE), kantata: firstSecret(config.Q2C_WEBHOOK_SECRET_KANTATA) },
  };
  return runSample(target, log, options);
}

/**
 * The sample deal, end to end through the real paths:
 *
 * 1. A closed-won opportunity with its CPQ quote is seeded in the Salesforce
 *    sandbox. The deal workflow is started in demo mode (DealInput.delivery.demo:
 *    its business calendar runs one day every `dayMs`), then the signed closed-won
 *    webhook is posted to the service, which finds the deal running and signals it.
 * 2. The DocuSign sandbox completes the envelope and sends its signed Connect
 *    webhook; the deal provisions the Kantata project, the NetSuite contract and
 *    the CRM write-back and reaches IN_DELIVERY.
 * 3. Delivery, on the deal's business calendar (contract start 2026-01-15):
 *    approved time and expenses are logged in the Kantata sandbox and forwarded
 *    as signed Kantata webhooks (q2c relay HMAC), milestones completed and
 *    accepted the same way; invoices are issued by the deal (taxed by AvaTax,
 *    posted to NetSuite); the customer pays each one by card in the Stripe
 *    sandbox (a PaymentIntent carrying the invoice id), whose signed
 *    payment_intent.succeeded webhook reaches the deal through the service.
 * 4. At the contract end everything is billed and paid: the deal closes (CLOSED)
 *    with its summary.
 */
export async function runSample(t: SampleTarget, log: (line: string) => void, options: SampleOptions = {}): Promise<SampleResult> {
  const dayMs = options.dayMs ?? SAMPLE_DAY_MS;
  if (!Number.isFinite(dayMs) || dayMs < MIN_DEMO_DAY_MS || dayMs > 86_400_000) throw new Error(`dayMs must be a number of milliseconds from ${MIN_DEMO_DAY_MS} to 86400000, not ${String(options.dayMs)}`);
  const key = options.key ?? `S${Date.now().toString(36).toUpperCase()}`;
  const { opportunityId, accountId } = await seedClosedWonDeal(t.sandboxUrl, { key, lines: SAMPLE_LINES, opportunity: { CloseDate: SAMPLE_CLOSE_DATE, Amount: 155000 } });
  const workflowId = dealWorkflowId(opportunityId);
  const handle = t.client.workflow.getHandle<(input: DealInput) => Promise<DealView>>(workflowId);
  log(`seeded closed-won opportunity ${opportunityId} in the Salesforce sandbox (3 quote lines, close date ${SAMPLE_CLOSE_DATE})`);

  // Demo mode rides on the start input; the closed-won webhook then signals the running deal (USE_EXISTING).
  const correlationId = `sample-${key}`;
  await t.client.workflow.start(DEAL_WORKFLOW_TYPE, { workflowId, taskQueue: t.taskQueue, args: [{ opportunityId, correlationId, delivery: { demo: { dayMs } }, ...(t.erpTaskQueue ? { erpTaskQueue: t.erpTaskQueue } : {}) } satisfies DealInput] });
  log(`deal ${workflowId} started in demo mode: one business day every ${dayMs} ms`);
  const started = Date.now();

  const body = JSON.stringify({
    eventId: randomUUID(),
    eventType: 'opportunity.closed_won',
    occurredAt: new Date().toISOString(),
    opportunity: { id: opportunityId, accountId, stageName: 'Closed Won', isWon: true },
  });
  const res = await postSigned(`${t.serviceUrl}/webhooks/salesforce/opportunity`, t.secrets.salesforce, body, correlationId);
  log(`POST /webhooks/salesforce/opportunity -> ${res.status} ${res.text}`);

  const poll = async (pred: (v: DealView) => boolean, timeoutMs: number): Promise<DealView> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const view = await handle.query(getDealStateQuery);
        if (pred(view) || Date.now() > deadline) return view;
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
      await sleep(100);
    }
  };
  const stopped = (view: DealView): SampleResult => ({ opportunityId, workflowId, view, invoiceNumbers: [], elapsedMs: Date.now() - started });

  const out = await poll((v) => v.stage === 'CONTRACT_OUT_FOR_SIGNATURE' || v.stage === 'NEEDS_ATTENTION', 60_000);
  if (out.stage !== 'CONTRACT_OUT_FOR_SIGNATURE' || !out.ids.envelopeId) {
    log(`deal stopped at ${out.stage}: ${JSON.stringify(out.exceptions)}`);
    return stopped(out);
  }
  log(`contract out for signature: envelope ${out.ids.envelopeId}; the signer signs in the DocuSign sandbox`);
  const signed = await fetch(`${t.sandboxUrl}/docusign/_sandbox/envelopes/${out.ids.envelopeId}/complete`, { method: 'POST' });
  log(`DocuSign sandbox: envelope completed (${signed.status}); Connect webhook sent to the service`);

  const inDelivery = await poll((v) => v.stage === 'IN_DELIVERY' || v.stage === 'NEEDS_ATTENTION', 60_000);
  if (inDelivery.stage !== 'IN_DELIVERY' || !inDelivery.ids.projectId) {
    log(`deal stopped at ${inDelivery.stage}: ${JSON.stringify(inDelivery.exceptions)}`);
    return stopped(inDelivery);
  }
  log(`deal is IN_DELIVERY: Kantata project ${inDelivery.ids.projectId}, NetSuite contract ${inDelivery.ids.erpContractNumber ?? '-'}, customer ${inDelivery.ids.erpCustomerId ?? '-'}`);

  const e = await Engagement.attach(t, log, { opportunityId, workflowId, projectId: inDelivery.ids.projectId });
  await e.deliver();
  const view = await e.waitForClose();
  const delivery = view.delivery ?? (await handle.query(getDeliveryStateQuery).catch(() => undefined));
  return { opportunityId, workflowId, view, ...(delivery ? { delivery } : {}), invoiceNumbers: (delivery?.invoices ?? []).map((i) => i.number), elapsedMs: Date.now() - started };
}

async function postSigned(url: string, secret: string, body: string, correlationId?: string): Promise<{ status: number; text: string }> {
  const timestamp = Math.floor(Date.now() / 1000);
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-q2c-timestamp': String(timestamp),
      'x-q2c-signature': signQ2c(secret, timestamp, body),
      ...(correlationId ? { 'x-correlation-id': correlationId } : {}),
    },
    body,
  });
  return { status: res.status, text: await res.text() };
}

const isMilestoneInvoice = (i: InvoiceSummary): boolean => i.lines.some((l) => l.contractLineId.endsWith('-L1'));

type KantataKind = 'time-entry-approved' | 'expense-approved' | 'milestone-completed' | 'milestone-accepted';

/** The delivery part of the sample, on the deal's accelerated business calendar. */
class Engagement {
  private readonly stories = new Map<string, { id: string; title: string }>();
  private userId = '';
  private readonly handle;
  private readonly deadlineMs: number;

  private constructor(
    private readonly t: SampleTarget,
    private readonly log: (line: string) => void,
    private readonly ids: { opportunityId: string; workflowId: string; projectId: string },
    private readonly clock: DemoClock,
  ) {
    this.handle = t.client.workflow.getHandle(ids.workflowId);
    // Waits for something the deal does within a few business days: generous, in real time.
    this.deadlineMs = Math.max(30_000, 60 * clock.dayMs);
  }

  /** Waits for the deal's demo clock (published once delivery has started) and reads the Kantata project. */
  static async attach(t: SampleTarget, log: (line: string) => void, ids: { opportunityId: string; workflowId: string; projectId: string }): Promise<Engagement> {
    const handle = t.client.workflow.getHandle(ids.workflowId);
    const deadline = Date.now() + 30_000;
    let clock: DemoClock | undefined;
    while (!clock) {
      clock = await handle.query(getDeliveryStateQuery).then((v) => v.demo, () => undefined);
      if (!clock) {
        if (Date.now() > deadline) throw new Error(`deal ${ids.workflowId} publishes no demo clock: was it started with DealInput.delivery.demo?`);
        await sleep(100);
      }
    }
    const e = new Engagement(t, log, ids, clock);
    await e.readProject();
    log(`[${e.date()}] demo calendar: business day 1 was ${clock.businessStart} (${clock.timeZone}); 1 day = ${clock.dayMs} ms`);
    return e;
  }

  /** The business date now, on the deal's calendar. */
  date(): string {
    return demoBusinessDate(this.clock, Date.now());
  }

  private businessIso(): string {
    return new Date(demoBusinessMs(this.clock, Date.now())).toISOString();
  }

  private async until(date: string): Promise<void> {
    const step = Math.min(50, Math.max(5, Math.floor(this.clock.dayMs / 4)));
    while (this.date() < date) await sleep(step);
  }

  private kantataApi(path: string): Promise<Response> {
    return fetch(`${this.t.sandboxUrl}/kantata/api/v1${path}`, { headers: { authorization: `Bearer ${SANDBOX_KANTATA_TOKENS[0]}` } });
  }

  /** The project the deal provisioned in Kantata: its stories carry q2c's refs (q2c-ref:<id>) in their description. */
  private async readProject(): Promise<void> {
    const res = await this.kantataApi(`/stories.json?workspace_id=${encodeURIComponent(this.ids.projectId)}&per_page=200`);
    const body = (await res.json()) as { results: Array<{ id: string }>; stories: Record<string, { id: string; title: string; description?: string }> };
    for (const r of body.results) {
      const s = body.stories[r.id]!;
      const ref = /q2c-ref:(\S+)/.exec(s.description ?? '')?.[1];
      if (ref) this.stories.set(ref, { id: s.id, title: s.title });
    }
    const user = await this.seedKantata('users', { full_name: 'Dana Whitfield', email_address: 'dana.whitfield@consulting.example', headline: 'Senior consultant' });
    this.userId = user.id;
    this.log(`Kantata project ${this.ids.projectId}: ${this.stories.size} stories (phases, milestones, tasks); consultant ${this.userId} logs the time`);
  }

  private ref(suffix: string): string {
    // Contract lines are numbered in quote line order: L1 transformation, L2 advisory, L3 expenses.
    const ref = `CTR-${this.ids.opportunityId}-${suffix}`;
    if (!this.stories.has(ref)) throw new Error(`no Kantata story for ${ref} in project ${this.ids.projectId}`);
    return ref;
  }

  private async seedKantata(kind: 'users' | 'time_entries' | 'expenses', row: Record<string, unknown>): Promise<{ id: string }> {
    const res = await fetch(`${this.t.sandboxUrl}/kantata/_sandbox/${kind}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(row) });
    if (res.status !== 201) throw new Error(`Kantata sandbox ${kind}: ${res.status} ${await res.text()}`);
    return (await res.json()) as { id: string };
  }

  /**
   * What the Kantata relay does: the approved records, signed with the q2c relay
   * HMAC, to POST /webhooks/kantata/:kind. The service finds the deal from the
   * workspace id (identity map) and signals one batch.
   */
  private async kantata(kind: KantataKind, items: Array<Record<string, unknown>>, what: string): Promise<void> {
    const body = JSON.stringify({ eventId: randomUUID(), occurredAt: new Date().toISOString(), workspaceId: this.ids.projectId, items });
    const res = await postSigned(`${this.t.serviceUrl}/webhooks/kantata/${kind}`, this.t.secrets.kantata, body);
    if (res.status !== 202) throw new Error(`POST /webhooks/kantata/${kind} -> ${res.status} ${res.text}`);
    this.log(`[${this.date()}] Kantata: ${what} -> POST /webhooks/kantata/${kind} ${res.status}`);
  }

  /**
   * Time approved in Kantata. Stories travel as q2c's refs (the tag createProject
   * wrote on each story): the deal has no Kantata story-id map yet.
   */
  private async approveTime(entries: Array<{ date: string; hours: number; task: string; billable?: boolean; notes: string }>): Promise<void> {
    const items: Array<Record<string, unknown>> = [];
    for (const x of entries) {
      const task = this.ref(x.task);
      const billable = x.billable ?? true;
      const row = { workspace_id: this.ids.projectId, story_id: this.stories.get(task)!.id, user_id: this.userId, date_performed: x.date, time_in_minutes: x.hours * 60, billable, approved: true, notes: x.notes };
      const { id } = await this.seedKantata('time_entries', row);
      items.push({ id, story_id: task, user_id: this.userId, role_name: 'consultant', date_performed: x.date, time_in_minutes: x.hours * 60, billable, approved: true, notes: x.notes, approved_at: this.businessIso() });
    }
    const hours = entries.reduce((a, x) => a + x.hours, 0);
    await this.kantata('time-entry-approved', items, `${entries.length} approved time entries, ${hours} h (${entries.map((x) => `${x.date} ${x.hours} h${x.billable === false ? ' non-billable' : ''}`).join(', ')})`);
  }

  private async approveExpenses(expenses: Array<{ date: string; category: string; amountMinor: number; notes: string }>): Promise<void> {
    const items: Array<Record<string, unknown>> = [];
    for (const x of expenses) {
      const row = { workspace_id: this.ids.projectId, user_id: this.userId, date: x.date, category: x.category, amount_in_cents: x.amountMinor, currency: 'USD', billable: true, approved: true, notes: x.notes };
      const { id } = await this.seedKantata('expenses', row);
      items.push({ id, user_id: this.userId, date: x.date, category: x.category, amount_in_cents: x.amountMinor, currency: 'USD', billable: true, notes: x.notes, approved_at: this.businessIso() });
    }
    await this.kantata('expense-approved', items, `${expenses.length} approved expense(s): ${expenses.map((x) => `${x.category} ${usd(x.amountMinor)}`).join(', ')}`);
  }

  private async milestone(key: 'M1' | 'M2' | 'M3', status: 'completed' | 'accepted'): Promise<void> {
    const ref = this.ref(`L1-${key}`);
    const title = this.stories.get(ref)!.title;
    await this.kantata(status === 'completed' ? 'milestone-completed' : 'milestone-accepted', [{ id: ref, title, story_type: 'milestone', at: this.businessIso() }], `milestone ${key} "${title}" ${status}`);
  }

  /** Waits until the deal has posted the invoice `pick` chooses (posted: it has its ERP id). */
  private async invoice(label: string, pick: (invoices: InvoiceSummary[]) => InvoiceSummary | undefined): Promise<InvoiceSummary> {
    const deadline = Date.now() + this.deadlineMs;
    for (;;) {
      const s = await this.handle.query(getDeliveryStateQuery);
      const inv = pick(s.invoices.filter((i) => i.externalId !== undefined));
      if (inv) {
        this.log(`[${this.date()}] invoice ${inv.number} (${label}) issued ${inv.issueDate}, due ${inv.dueDate}: ${usd(inv.subtotalMinor)} + tax ${usd(inv.taxMinor)} = ${usd(inv.totalMinor)}, posted to NetSuite`);
        return inv;
      }
      if (Date.now() > deadline) throw new Error(`the deal issued no ${label} invoice by business day ${this.date()}; stage and attention: ${JSON.stringify(s.attention)}`);
      await sleep(100);
    }
  }

  /** The n-th milestone invoice (fixed-fee line L1), in issue order. */
  private readonly milestoneInvoice = (n: number) => (invoices: InvoiceSummary[]) => invoices.filter(isMilestoneInvoice)[n - 1];
  /** The monthly-in-arrears invoice (time and expenses) for a month. */
  private readonly monthlyInvoice = (month: string) => (invoices: InvoiceSummary[]) => invoices.find((i) => !isMilestoneInvoice(i) && i.period.start.startsWith(month));

  /**
   * The customer pays by card in the Stripe sandbox: a PaymentIntent carrying the
   * invoice id and the opportunity in q2c_ metadata; the sandbox sends the signed
   * payment_intent.succeeded webhook to the service, which signals the deal.
   */
  private async pay(inv: InvoiceSummary, amountMinor: number, note: string): Promise<void> {
    const form = new URLSearchParams({
      amount: String(amountMinor),
      currency: 'usd',
      confirm: 'true',
      payment_method: STRIPE_SANDBOX.paymentMethodOk,
      description: `Invoice ${inv.number}`,
      'metadata[q2c_invoice_id]': inv.id,
      'metadata[q2c_opportunity_id]': this.ids.opportunityId,
    });
    const res = await fetch(`${this.t.sandboxUrl}/stripe/v1/payment_intents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${STRIPE_SANDBOX.apiKey}`, 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': `sample:${inv.id}:${amountMinor}:${note}` },
      body: form.toString(),
    });
    const pi = (await res.json()) as { id?: string; status?: string; error?: { message: string } };
    if (res.status !== 200 || pi.status !== 'succeeded') throw new Error(`Stripe sandbox payment for ${inv.number}: ${res.status} ${pi.error?.message ?? pi.status}`);
    this.log(`[${this.date()}] Stripe: customer pays ${usd(amountMinor)} on ${inv.number} (${note}) -> ${pi.id} succeeded; payment_intent.succeeded webhook to the service`);
  }

  /** About three months of delivery; the contract then runs to its end with nothing left open. */
  async deliver(): Promise<void> {
    // January: two days of advisory, two hours of internal admin (not billable), travel and a client dinner.
    await this.until('2026-01-23');
    await this.approveTime([
      { date: '2026-01-19', hours: 8, task: 'L2-T1', notes: 'Operating model workshop' },
      { date: '2026-01-20', hours: 8, task: 'L2-T1', notes: 'Stakeholder interviews' },
      { date: '2026-01-21', hours: 2, task: 'L2-T2', billable: false, notes: 'Internal staffing call' },
    ]);
    await this.approveExpenses([
      { date: '2026-01-20', category: 'TRAVEL', amountMinor: 64_000, notes: 'Flight BOS-NYC and hotel' },
      { date: '2026-01-21', category: 'ENTERTAINMENT', amountMinor: 18_000, notes: 'Client dinner' },
    ]);
    await this.until('2026-01-26');
    await this.milestone('M1', 'completed');
    await this.until('2026-01-27');
    await this.milestone('M1', 'accepted');
    const m1 = await this.invoice('milestone M1', this.milestoneInvoice(1));
    const jan = await this.invoice('January, monthly in arrears', this.monthlyInvoice('2026-01'));

    await this.until('2026-02-06');
    await this.pay(m1, m1.totalMinor, 'in full');
    await this.until('2026-02-10');
    await this.pay(jan, 100_000, 'partial');

    // February: four days of advisory.
    await this.until('2026-02-20');
    await this.approveTime([
      { date: '2026-02-09', hours: 8, task: 'L2-T1', notes: 'Process mapping' },
      { date: '2026-02-10', hours: 8, task: 'L2-T1', notes: 'Process mapping' },
      { date: '2026-02-16', hours: 8, task: 'L2-T1', notes: 'Target design review' },
      { date: '2026-02-17', hours: 8, task: 'L2-T1', notes: 'Steering committee' },
    ]);
    await this.until('2026-02-25');
    await this.pay(jan, jan.totalMinor - 100_000, 'the rest');
    const feb = await this.invoice('February, monthly in arrears', this.monthlyInvoice('2026-02'));
    await this.until('2026-03-09');
    await this.pay(feb, feb.totalMinor, 'in full');

    // March: the build milestone is done and accepted; a week of advisory and a trip.
    await this.until('2026-03-17');
    await this.milestone('M2', 'completed');
    await this.until('2026-03-18');
    await this.approveTime([
      { date: '2026-03-09', hours: 8, task: 'L2-T1', notes: 'Cut-over planning' },
      { date: '2026-03-10', hours: 8, task: 'L2-T1', notes: 'Cut-over planning' },
      { date: '2026-03-11', hours: 8, task: 'L2-T1', notes: 'Training design' },
      { date: '2026-03-12', hours: 8, task: 'L2-T1', notes: 'Training design' },
      { date: '2026-03-13', hours: 8, task: 'L2-T1', notes: 'Readiness review' },
    ]);
    await this.approveExpenses([{ date: '2026-03-12', category: 'TRAVEL', amountMinor: 48_000, notes: 'Train and hotel' }]);
    await this.until('2026-03-19');
    await this.milestone('M2', 'accepted');
    const m2 = await this.invoice('milestone M2', this.milestoneInvoice(2));
    await this.until('2026-03-30');
    await this.pay(m2, m2.totalMinor, 'in full');
    const mar = await this.invoice('March, monthly in arrears', this.monthlyInvoice('2026-03'));
    await this.until('2026-04-08');
    await this.pay(mar, mar.totalMinor, 'in full');

    // April: go-live.
    await this.until('2026-04-14');
    await this.milestone('M3', 'completed');
    await this.until('2026-04-15');
    await this.milestone('M3', 'accepted');
    const m3 = await this.invoice('milestone M3', this.milestoneInvoice(3));
    await this.until('2026-04-22');
    await this.pay(m3, m3.totalMinor, 'in full');
  }

  /** Follows the deal to its end (contract end + 1 day), logging each business month and stage change. */
  async waitForClose(): Promise<DealView> {
    const endReal = Date.parse(this.clock.realStart) + 400 * this.clock.dayMs + 60_000;
    let month = '';
    let stage = '';
    for (;;) {
      const view = await this.handle.query(getDealStateQuery);
      if (view.stage !== stage) {
        stage = view.stage;
        this.log(`[${this.date()}] deal stage ${stage}${view.timeline.at(-1)?.note ? ` (${view.timeline.at(-1)!.note})` : ''}`);
      }
      if (view.stage === 'CLOSED' || view.stage === 'CANCELLED') return view;
      const m = this.date().slice(0, 7);
      if (m !== month) {
        month = m;
        const s = await this.handle.query(getDeliveryStateQuery).catch(() => undefined);
        if (s) {
          const paid = s.invoices.filter((i) => i.paidMinor >= i.totalMinor).length;
          this.log(`[${this.date()}] ${s.invoices.length} invoices, ${paid} paid; revenue recognised ${usd(s.recognisedMinor)}; the contract runs to ${SAMPLE_CONTRACT_END}`);
        }
      }
      if (Date.now() > endReal) throw new Error(`deal ${this.ids.workflowId} did not close by business day ${this.date()} (stage ${view.stage})`);
      await sleep(Math.min(200, this.clock.dayMs));
    }
  }
}

/** The invoice whose audit trail shows most: the first with time and expenses (else the first). */
const featuredInvoice = (r: SampleResult): string | undefined => r.delivery?.invoices.find((i) => !isMilestoneInvoice(i))?.number ?? r.invoiceNumbers[0];

/** The sample's outcome, printed: summary, invoice numbers, where to look next. */
export function describeSample(r: SampleResult, links: { webUi: string; namespace: string }): string[] {
  const out: string[] = [];
  const s = r.delivery?.summary;
  out.push(`Sample deal ${r.workflowId}: ${r.view.stage} after ${(r.elapsedMs / 1000).toFixed(0)} s`);
  for (const t of r.view.timeline) out.push(`  ${t.at}  ${t.stage}${t.note ? `  ${t.note}` : ''}`);
  if (s) {
    out.push(`  closed on business day ${s.closedOn}; delivered ${usd(s.totals.delivered)} = billable ${usd(s.totals.BILLABLE)} + capped ${usd(s.totals.CAPPED)} + excluded ${usd(s.totals.EXCLUDED)}`);
    out.push(`  invoiced ${usd(s.invoicedMinor)} (tax ${usd(s.taxMinor)}), collected ${usd(s.collectedMinor)}, recognised ${usd(s.recognisedMinor)}, leakage ${usd(s.leakage.totalMinor)}`);
    for (const i of s.invoices) out.push(`  invoice ${i.number}  ${usd(i.totalMinor)}  paid ${usd(i.paidMinor)}  ${i.status}`);
  }
  out.push('');
  out.push(`  Web UI:     ${links.webUi}/namespaces/${links.namespace}/workflows/${r.workflowId}`);
  const featured = featuredInvoice(r);
  if (featured) out.push(`  audit:      npm run q2c -- audit ${featured}`);
  out.push(`  reconcile:  npm run q2c -- reconcile ${r.workflowId}`);
  out.push(`  (audit and reconcile open the database: with the dev stack's PGlite, run them after Ctrl-C, or set DATABASE_URL)`);
  return out;
}

/**
 * The audit trail of the sample's first invoice and the deal's reconciliation,
 * from inside the stack process (which holds the PGlite data directory): the
 * same code `q2c audit` and `q2c reconcile` run.
 */
export async function inspectSample(stack: Stack, config: Config, logger: Logger, r: SampleResult, print: (line: string) => void): Promise<void> {
  const repo = new AuditRepository(stack.db.db);
  const featured = featuredInvoice(r);
  if (featured) {
    print(`$ q2c audit ${featured}`);
    for (const line of formatTrail(await repo.trail(featured))) print(line);
  }
  const connectors = createConnectors({
    ...connectorsConfigFromEnv(withSandboxVendors(config, config.Q2C_SANDBOX_URL ?? stack.sandbox.url) as unknown as Record<string, string | undefined>),
    logger: logger.child({ component: 'reconcile' }),
  });
  const invoices = (r.delivery?.invoices ?? []).map((i) => ({ number: i.number, totalMinor: i.totalMinor, paidMinor: i.paidMinor, status: i.status, ...(r.view.ids.erpCustomerId ? { erpCustomerId: r.view.ids.erpCustomerId } : {}) }));
  print(`$ q2c reconcile ${r.workflowId}`);
  const diffs = await reconcileDeal(r.workflowId, { db: async () => ({ db: stack.db.db, close: async () => {} }), erp: () => connectors.erp, dealInvoices: async () => invoices }, repo);
  for (const d of diffs) print(`${d.dealId}  ${d.invoice}  ${d.what}`);
  print(diffs.length === 0 ? `reconciled 1 deal(s): no differences (${invoices.length} invoices: deal = audit trail = NetSuite, payments = audit trail)` : `${diffs.length} difference(s)`);
}
