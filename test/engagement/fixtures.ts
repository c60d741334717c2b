/*
 * Fixtures for the engagement core's tests: deals built the way the workflow
 * builds them (snapshot from the catalog and the quote mapping, setup as
 * prepareBilling returns it), delivered items, payment events, and a harness
 * that plays the delivery workflow's shell: the same calls in the same order
 * each pass (src/workflows/delivery.ts), a business calendar that wakes on
 * nextWake, and an issue step whose results (numbers, tax) the test chooses.
 * No Temporal, no server, no clock.
 */
import type { Phase, Quote } from '../../src/canonical';
import { projectFromContract } from '../../src/activities/deal/mapping';
import { RuleSet } from '../../src/rules/ruleset';
import defaultRuleSet from '../../src/rules/rulesets/default.json';
import {
  amendmentFor,
  amendmentRecord,
  amendmentResult,
  applyAmendment,
  applyScope,
  applyTermination,
  changeOrderFor,
  recordScope,
  scopeRefsOf,
  contractOf,
  rebill,
  rebillItems,
  rerateCandidates,
  rerateItems,
  rerateRequest,
  applyBillTo,
  billToChange,
  billToOf,
  type BillTo,
  prepaymentCandidates,
  priorTermination,
  refundRequest,
  terminationFor,
  terminationRecord,
  type CreditBasis,
  type CreditPlan,
  type TerminateContractRequest,
  type TerminateContractResult,
  applyPayments,
  canClose,
  checkDeadlines,
  closingSummary,
  creditableInvoice,
  creditBasisFrom,
  creditMemoFor,
  creditMemoPosting,
  creditPosted,
  dealOf,
  decideInvoice,
  dunningDue,
  paymentRetried,
  promiseToPay,
  validatePromise,
  type PaymentRetry,
  type PaymentRetryResult,
  type PromiseToPayRequest,
  dropRejected,
  hasWork,
  initialEngagementState,
  invoiceRun,
  invoicesIssued,
  keptCreditBasis,
  localDate,
  nextStatusSync,
  nextWake,
  priorAmendment,
  priorCredit,
  readyToIssue,
  receive,
  Refusal,
  revenueDue,
  runDue,
  validateDecision,
  validateWriteOff,
  writeOffInvoice,
  type AmendContractRequest,
  type AmendContractResult,
  type ClosingSummary,
  type Command,
  type CreditInvoiceRequest,
  type CreditMemoSummary,
  type Deal,
  type DealIds,
  type DealSnapshot,
  type DeliveryBatch,
  type DeliveryItem,
  type DeliveryOptions,
  type EngagementState,
  type InvoiceDecision,
  type InvoiceItemLink,
  type InvoiceSummary,
  type IssueRequest,
  type IssueResult,
  type Notice,
  type Outcome,
  type PaymentEvent,
  type ResourceInfo,
  type WriteOffRequest,
} from '../../src/engagement';
import { asRetainer, catalog, customer, snapshotFor, usd } from '../support/deal-fixture';

export { asRetainer, catalog, customer, snapshotFor, usd };

export const ruleSet = RuleSet.parse(defaultRuleSet);

type QuoteLine = Quote['lines'][number];
const quoteLine = (id: string, servicePackage: string, description: string, quantity: number, unit: QuoteLine['unit'], priceMinor: number): QuoteLine => ({
  id, servicePackage, description, quantity, unit, listPrice: usd(priceMinor), netPrice: usd(priceMinor), discountBp: 0, approvalStatus: 'APPROVED', externalIds: {},
});
/** Fixed fee $100,000.00, milestones M1 30 % / M2 50 % / M3 20 %, billed on acceptance. */
export const transformation = (id = 'QL-1', feeMinor = 10_000_000): QuoteLine => quoteLine(id, 'TRANSFORMATION', 'Transformation', 1, 'EACH', feeMinor);
/** T&M at RC-STD, capped at `hours` x $150.00. */
export const advisory = (id = 'QL-2', hours = 100): QuoteLine => quoteLine(id, 'ADVISORY_TM', 'Advisory', hours, 'HOUR', 15_000);
export const expenses = (id = 'QL-3', valueMinor = 500_000): QuoteLine => quoteLine(id, 'EXPENSES', 'Expenses', 1, 'EACH', valueMinor);

/** What prepareBilling returns for the snapshot (src/activities/billing.activities.ts), without a PSA id map. */
export function setupFor(snapshot: DealSnapshot, resources: Record<string, ResourceInfo> = {}) {
  const project = projectFromContract({ contract: snapshot.contract, quote: snapshot.quote, catalog, customer: snapshot.customer });
  return {
    ruleSet,
    project: { id: project.id, phases: project.phases },
    psaIds: {},
    entities: Object.fromEntries(catalog.legalEntities.map((e) => [e.id, e])),
    resources: { ...resources },
  };
}

export const RESOURCES: Record<string, ResourceInfo> = { 'r-us': { legalEntityId: 'LE-US', region: 'US' }, 'r-de': { legalEntityId: 'LE-DE', region: 'DE' } };

export function dealFor(args: { opportunityId: string; snapshot: DealSnapshot; resources?: Record<string, ResourceInfo>; options?: DeliveryOptions; ids?: DealIds }): Deal {
  return dealOf({
    dealId: `deal-${args.opportunityId}`,
    opportunityId: args.opportunityId,
    snapshot: args.snapshot,
    setup: setupFor(args.snapshot, args.resources ?? RESOURCES),
    ids: args.ids ?? { erpCustomerId: 'ERP-CUS-1', projectId: `WS-${args.opportunityId}` },
    ...(args.options ? { options: args.options } : {}),
  });
}

// ---------------------------------------------------------------- delivered items and payments

export const time = (id: string, taskId: string, workDate: string, minutes: number, resourceId = 'r-us', billable = true): DeliveryItem => ({
  kind: 'timeEntry', sourceId: id, projectId: 'WS', taskId, resourceId, role: 'consultant', workDate, minutes, billable, approvedAt: `${workDate}T20:00:00Z`,
});
export const expense = (id: string, category: string, incurredOn: string, amountMinor: number, billable = true, currency = 'USD'): DeliveryItem => ({
  kind: 'expense', sourceId: id, projectId: 'WS', resourceId: 'r-us', category, incurredOn, amountMinor, currency, billable, approvedAt: `${incurredOn}T20:00:00Z`,
});
export const milestone = (sourceId: string, status: 'completed' | 'accepted', at: string): DeliveryItem => ({ kind: 'milestone', sourceId, projectId: 'WS', status, at });
export const batch = (batchId: string, items: DeliveryItem[]): DeliveryBatch => ({ batchId, source: 'kantata', receivedAt: '2030-01-01T00:00:00Z', items });

export const pay = (eventId: string, ref: { invoiceNumber?: string; invoiceId?: string; stripeInvoiceId?: string }, amountMinor: number, kind: PaymentEvent['kind'] = 'invoice.paid', extra: Partial<PaymentEvent> = {}): PaymentEvent => ({
  eventId, source: 'stripe', kind, occurredAt: '2030-01-01T00:00:00Z', amountMinor, currency: 'USD', ...ref, ...extra,
});

// ---------------------------------------------------------------- tax the test chooses

/** x * bp / 10,000, rounded half up (positive amounts): as the AvaTax sandbox rounds per line. */
export const halfUpBp = (amountMinor: number, bp: number): number => Math.floor((amountMinor * bp + 5_000) / 10_000);
/** US-NY sales tax on SERVICES: 8.875 % per taxable line (887.5 bp: x * 8875 / 100,000, half up). */
export const nyTaxOfLine = (amountMinor: number): number => Math.floor((amountMinor * 8_875 + 50_000) / 100_000);
export const nyTax = (r: IssueRequest): number => r.invoice.lines.filter((l) => r.taxableLineIds.includes(l.id)).reduce((a, l) => a + nyTaxOfLine(l.amount.amountMinor), 0);

// ---------------------------------------------------------------- refusals

/** The code of the Refusal `fn` throws; fails the test when it throws nothing or something else. */
export function refusalOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof Refusal) return err.code;
    throw err;
  }
  throw new Error('no refusal: the request was accepted');
}

// ---------------------------------------------------------------- the shell, played by the test

type CommandInput = { [C in Command as C['kind']]: C['input'] };

/**
 * Plays src/workflows/delivery.ts around the core: a pass per business day the
 * workflow would wake (nextWake) or receive something, the same core calls in
 * the same order, an issue step that answers with numbers and tax of the test's
 * choosing, operator updates as validator + handler. Every command the core
 * asks for is kept (in order) for assertions.
 */
export class Shell {
  s: EngagementState;
  today: string;
  readonly commands: Command[] = [];
  readonly notices: Notice[] = [];
  /** Every request the issue step received (what reached the ERP / Stripe), in order. */
  readonly issued: Array<{ on: string; request: IssueRequest; result: IssueResult }> = [];
  /** The audit trail's invoice links by invoice number, as recordInvoiceIssued writes them (what loadInvoiceItems reads). */
  readonly audit = new Map<string, InvoiceItemLink[]>();
  /** Credit memo postings sent to the ERP, in order. */
  readonly creditPostings: Array<ReturnType<typeof creditMemoPosting>> = [];
  /** Customers the CRM and the ERP hold, by canonical id (a bill-to change resolves the new one here). */
  billTos: Record<string, BillTo> = {};
  /** What the PSA holds now (a credit and rebill reads the credited items from it). */
  psa: DeliveryItem[] = [];
  /** Billing-system subscriptions a termination cancelled. */
  readonly cancelledSubscriptions: string[] = [];
  /** PSA projects closed by a termination. */
  readonly closedProjects: string[] = [];
  /** Phases change orders added to the PSA project, and the PSA records (canonical ids) of removed lines archived. */
  readonly psaScope: Phase[] = [];
  readonly archivedScope: string[] = [];
  summary: ClosingSummary | undefined;
  /** Tax the "tax engine" returns for an invoice. */
  tax: (r: IssueRequest) => number = nyTax;
  /** Failures the next issue attempts meet, one per request, in order. */
  readonly failNext: Array<{ code: string; message: string }> = [];
  /** What the billing system answers a payment retry (default: the card is declined). */
  retryAnswer: (r: PaymentRetry) => Pick<PaymentRetryResult, 'outcome' | 'detail'> = () => ({ outcome: 'DECLINED', detail: 'Your card was declined.' });
  private seq = 1000;
  private memoSeq = 0;

  constructor(
    readonly d: Deal,
    start: string,
    state?: EngagementState,
  ) {
    this.s = state ?? initialEngagementState();
    this.today = start;
    this.pass();
  }

  get closed(): boolean {
    return this.summary !== undefined;
  }

  /** One turn of runDelivery's loop on `today`, with what arrived since the last. */
  pass(batches: readonly DeliveryBatch[] = [], payments: readonly PaymentEvent[] = []): void {
    if (this.closed) throw new Error(`the deal closed on ${this.summary!.closedOn}`);
    const { s, d } = this;
    const t = this.today;
    const received = { commands: [], notices: [] } as Outcome;
    receive(s, d, batches, payments, { today: t, out: received });
    this.notices.push(...received.notices);
    const run = runDue(s, t) ? invoiceRun(s, d, t) : undefined;
    this.issue(t);
    if (run) this.execute(run);
    this.execute(applyPayments(s, d, t));
    for (let c = nextStatusSync(s, d); c; c = nextStatusSync(s, d)) this.commands.push(c);
    this.dun(t);
    this.notices.push(...checkDeadlines(s, d, t).notices);
    this.execute(revenueDue(s, d, t));
    if (canClose(s, d, t)) {
      this.execute(revenueDue(s, d, t, true));
      this.summary = closingSummary(s, d, t);
      return;
    }
    // hasWork: the workflow loops again at once.
    if (hasWork(s)) this.pass();
  }

  /** Business days pass: a pass on every day the workflow's timer would fire, up to and including `date`. */
  advance(date: string): void {
    while (!this.closed) {
      const next = localDate(nextWake(this.s, this.d, this.today), this.d.tz);
      if (next > date) break;
      this.today = next;
      this.pass();
    }
    if (date > this.today) this.today = date;
  }

  /** On `date`, batches and payment events arrive (a signal wakes the workflow). */
  at(date: string, arrived: { batches?: DeliveryBatch[]; payments?: PaymentEvent[] }): void {
    this.advance(date);
    this.pass(arrived.batches ?? [], arrived.payments ?? []);
  }

  deliver(date: string, ...batches: DeliveryBatch[]): void {
    this.at(date, { batches });
  }

  payments(date: string, ...payments: PaymentEvent[]): void {
    this.at(date, { payments });
  }

  /**
   * Continue-as-new: the state crosses to the next run as JSON (Temporal's payload
   * converter), counted, and the new run makes its first pass on the same day.
   */
  continueAsNew(): void {
    this.s = JSON.parse(JSON.stringify({ ...this.s, continuedAsNew: this.s.continuedAsNew + 1 })) as EngagementState;
    this.pass();
  }

  /** Until the deal closes (at most `limit`). */
  runToClose(limit: string): ClosingSummary {
    this.advance(limit);
    if (!this.summary) throw new Error(`the deal did not close by ${limit}`);
    return this.summary;
  }

  /** As Shell.dun in delivery.ts: retries answered and fed back, then asked again until nothing is due. */
  private dun(t: string): void {
    const { s, d } = this;
    for (let out = dunningDue(s, d, t); out.commands.length > 0 || out.notices.length > 0; out = dunningDue(s, d, t)) {
      this.notices.push(...out.notices);
      for (const c of out.commands) {
        this.commands.push(c);
        if (c.kind === 'retryInvoicePayment') this.notices.push(...paymentRetried(s, { invoiceId: c.input.invoiceId, step: c.input.step, ...this.retryAnswer(c.input) }).notices);
      }
    }
  }

  private execute(out: Outcome): void {
    this.notices.push(...out.notices);
    this.commands.push(...out.commands);
  }

  private issue(t: string): void {
    const { s, d } = this;
    this.execute(dropRejected(s, d));
    const requests = readyToIssue(s, t);
    if (requests.length === 0) return;
    const results: IssueResult[] = requests.map((request) => {
      const failure = this.failNext.shift();
      if (failure) {
        return { invoiceId: request.invoice.id, ok: false, errorCode: failure.code, errorMessage: failure.message };
      }
      this.seq += 1;
      const system = d.options.invoiceSystem ?? 'erp';
      return { invoiceId: request.invoice.id, ok: true, number: `INV-${this.seq}`, externalId: system === 'stripe' ? `in_${this.seq}` : `ns-${this.seq}`, system, taxMinor: this.tax(request) };
    });
    requests.forEach((request, i) => {
      const result = results[i]!;
      this.issued.push({ on: t, request, result });
      if (!result.ok) return;
      const byId = new Map(request.events.map((ev) => [ev.sourceId, ev]));
      this.audit.set(
        result.number!,
        request.invoice.lines.flatMap((line) =>
          line.sourceItemIds.map((sid) => {
            const ev = byId.get(sid);
            return { invoiceLineId: line.id, sourceId: sid, billingEventId: ev?.id ?? null, sourceKind: ev?.kind ?? 'UNKNOWN', contractLineId: line.contractLineId, quoteLineId: line.quoteLineId, amountMinor: ev?.amountMinor ?? null };
          }),
        ),
      );
    });
    this.notices.push(...invoicesIssued(s, d, results, t).notices);
  }

  // ------------------------------------------------------------ operator updates (validator, then handler)

  decide(req: InvoiceDecision): InvoiceSummary {
    validateDecision(this.s, req);
    const inv = decideInvoice(this.s, req);
    if (hasWork(this.s)) this.pass();
    return inv;
  }

  writeOff(req: WriteOffRequest): InvoiceSummary {
    validateWriteOff(this.s, req);
    const inv = writeOffInvoice(this.s, req);
    if (hasWork(this.s)) this.pass();
    return inv;
  }

  promise(req: PromiseToPayRequest) {
    validatePromise(this.s, this.d, req, this.today);
    return promiseToPay(this.s, this.d, req, this.today);
  }

  /**
   * As the shell: the PSA project gets the added lines' phases (ids `psa-<canonical id>`, kept in
   * `psaScope`), the ERP every new version onto the deal's sales order (ids.erpContractId); removed
   * lines' PSA records are archived (`archivedScope`).
   */
  amend(req: AmendContractRequest): AmendContractResult {
    const { s, d } = this;
    const prior = priorAmendment(s, req);
    if (prior) return amendmentResult(s, d, prior);
    amendmentFor(s, d, req); // the validator
    const { next, scope } = changeOrderFor(s, d, req);
    const record = amendmentRecord(s, d, req, next, this.today);
    // A new bill-to customer as the CRM and the ERP hold it (`billTos` plays their records).
    const billToId = billToChange(contractOf(s, d), next);
    const billTo = billToId ? this.billTos[billToId] : undefined;
    if (billToId && !billTo) throw new Refusal('DEAL.AMENDMENT_BILL_TO_FAILED', `no CRM account is linked to customer ${billToId}`);
    const created: Record<string, string> = {};
    for (const ph of scope.phases) for (const id of [ph.id, ...ph.milestones.map((m) => m.id), ...ph.tasks.map((t) => t.id)]) created[id] = `psa-${id}`;
    this.psaScope.push(...scope.phases);
    if (d.ids.erpContractId) record.erpContractId = d.ids.erpContractId;
    const refs = scope.removedLines.flatMap((lineId) => scopeRefsOf(d, lineId));
    if (scope.addedLines.length + scope.removedLines.length > 0) recordScope(record, scope, created);
    applyScope(s, d, scope.phases, created);
    applyAmendment(s, d, req, next, record);
    if (billTo) applyBillTo(s, record, billTo);
    if (refs.length > 0) {
      this.archivedScope.push(...refs);
      record.psa!.archived = true;
    }
    // A retroactive rate change: the invoiced time since its date is credited and rebilled (the PSA as `psa` holds it).
    const invoices = rerateCandidates(s, d, record);
    const bases = invoices.map((inv) => this.basisOf(inv));
    const wanted = new Set(rerateItems(record, bases).map((i) => `${i.kind}:${i.sourceId}`));
    const items = this.psa.filter((i) => wanted.has(`${i.kind}:${i.sourceId}`));
    invoices.forEach((inv, i) => {
      const creq = rerateRequest(d, record, inv, bases[i]!, items);
      if (!creq) return;
      const plan = creditMemoFor(s, creq, this.today, bases[i]!);
      const memo = this.postCredit(creq, plan);
      rebill(s, d, memo, plan, items);
      (record.rerated ??= []).push({ invoiceNumber: inv.number, creditMemoNumber: memo.number, items: memo.rebill?.items ?? [], creditedMinor: memo.subtotalMinor });
    });
    if (record.rerated) this.wake();
    return amendmentResult(s, d, record);
  }

  /** The ERP returns the tax on each credited taxable line (8.875 %), never more than the cap the core gives. */
  credit(req: CreditInvoiceRequest): CreditMemoSummary {
    const { s } = this;
    const prior = priorCredit(s, req);
    if (prior) return prior;
    const inv = creditableInvoice(s, req);
    const plan = creditMemoFor(s, req, this.today, this.basisOf(inv));
    const memo = this.postCredit(req, plan);
    if (req.rebill) {
      const wanted = new Set(rebillItems(memo).map((i) => `${i.kind}:${i.sourceId}`));
      rebill(s, this.d, memo, plan, this.psa.filter((i) => wanted.has(`${i.kind}:${i.sourceId}`)));
    }
    this.wake();
    return memo;
  }

  /** After an update: the workflow loops again at once when there is work (hasWork, or an immediate run). */
  private wake(): void {
    if (hasWork(this.s)) this.pass();
  }

  /** As the shell: the ERP takes the last version, refundable retainers are credited, the PSA project closed. */
  terminate(req: TerminateContractRequest): TerminateContractResult {
    const { s, d } = this;
    const prior = priorTermination(s, req);
    if (prior) return { termination: prior, contractVersion: contractOf(s, d).version };
    const { next, refunds } = terminationFor(s, d, req);
    const record = terminationRecord(req, next, this.today);
    if (d.ids.erpContractId) record.erpContractId = d.ids.erpContractId;
    applyTermination(s, d, next, record);
    for (const refund of refunds) {
      for (const inv of prepaymentCandidates(s, refund)) {
        const basis = this.basisOf(inv);
        const line = basis.invoice.lines.find((l) => l.sourceItemIds.includes(refund.sourceId));
        if (!line) continue;
        const creq = refundRequest(record, inv, line.id, refund);
        const memo = this.postCredit(creq, creditMemoFor(s, creq, this.today, basis, new Map([[refund.sourceId, refund.amountMinor]])), false);
        record.refunds.push({ contractLineId: refund.contractLineId, amountMinor: memo.subtotalMinor, creditMemoNumber: memo.number });
        break;
      }
    }
    if (d.ids.subscriptionIds?.length) {
      record.recurringBillingCancelled = true;
      this.cancelledSubscriptions.push(...d.ids.subscriptionIds);
    }
    record.psaProjectClosed = true;
    this.closedProjects.push(d.ids.projectId ?? '');
    this.wake();
    return { termination: record, contractVersion: next.version };
  }

  /** The state's own basis (runs from before 'credit-basis-from-audit'), else one derived from the audit trail. */
  private basisOf(inv: InvoiceSummary): CreditBasis {
    const { s, d } = this;
    const kept = keptCreditBasis(s, inv);
    if (kept) return kept;
    if (!d.patched('credit-basis-from-audit')) throw new Refusal('DEAL.CREDIT_BASIS_MISSING', `invoice ${inv.number} has no credit basis`);
    return creditBasisFrom(s, d, inv, this.audit.get(inv.number) ?? []);
  }

  private postCredit(req: CreditInvoiceRequest, plan: CreditPlan, reversesRevenue = true): CreditMemoSummary {
    const { s, d } = this;
    const posting = creditMemoPosting(d, plan, billToOf(s, plan.inv));
    this.creditPostings.push(posting);
    const taxByLine: Record<string, number> = {};
    let room = posting.invoice.taxCapMinor;
    for (const l of plan.memo.lines) {
      if (!posting.invoice.taxableLines[l.originalInvoiceLineId]) continue;
      const t = Math.min(nyTaxOfLine(l.amount.amountMinor), room);
      room -= t;
      if (t > 0) taxByLine[l.id] = t;
    }
    this.memoSeq += 1;
    const posted = { number: `CM-${this.memoSeq}`, externalId: `ns-cm-${this.memoSeq}`, taxByLine, taxMinor: Object.values(taxByLine).reduce((a, b) => a + b, 0) };
    return creditPosted(s, d, req, plan, posted, reversesRevenue).summary;
  }

  // ------------------------------------------------------------ views for assertions

  invoice(pred: (i: InvoiceSummary) => boolean): InvoiceSummary {
    const inv = this.s.invoices.find(pred);
    if (!inv) throw new Error('no such invoice');
    return inv;
  }

  issuedOn(date: string): InvoiceSummary {
    return this.invoice((i) => i.issueDate === date);
  }

  commandsOf<K extends Command['kind']>(kind: K): Array<CommandInput[K]> {
    return this.commands.filter((c) => c.kind === kind).map((c) => c.input as CommandInput[K]);
  }

  attention(): Array<[string, string | undefined]> {
    return this.s.attention.map((a) => [a.kind, a.invoiceId]);
  }
}
