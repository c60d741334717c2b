import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  executeChild,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { applyAmendmentChanges, CanonicalError, contractLineIssues, type AmendmentChange, type Contract, type Invoice, type Project, type RevenueScheduleLine, type TimeEntry } from '../canonical';
import type { Activities } from '../activities';
import type { BillingActivities } from '../activities/billing.activities';
import type { AuditEvent, BillingSetup, IssueContext } from '../contract';
import type { CreditAuditItem } from '../contract';
import type { DealSnapshot } from '../contract';
import { classifyDeliveries, type Decision } from '../rules/billability';
import { compileContract, type CompiledContract } from '../rules/compile';
import { CreditError, creditInvoiceLines } from '../rules/credit';
import { addDays, dateKey, isoWeekday, monthEnd, monthIndex, monthStart } from '../rules/dates';
import { groupDecisions, materializeInvoices, type InvoiceGrouping } from '../rules/grouping';
import { intercompanyCharges } from '../rules/intercompany';
import { toBillingEvents } from '../rules/preview';
import { revenueSchedule } from '../rules/revenue';
import { customerJurisdiction, decideTax } from '../rules/tax';
import type { DealView } from '../contract';
import type { DealStage } from '../contract';
import { kpis } from './sinks';
import { amendContractUpdate, creditInvoiceUpdate, decideInvoiceUpdate, deliveryBatchSignal, getDeliveryStateQuery, MIN_DEMO_DAY_MS, paymentSignal, writeOffInvoiceUpdate, type AmendContractRequest, type AmendContractResult, type AmendmentRecord, type AttentionItem, type ClosingSummary, type CreditInvoiceRequest, type CreditMemoSummary, type DeliveryBatch, type DemoClock, type DemoOptions, type DeliveryView, type InvoiceSummary, type PaymentEvent, type ReportedItem } from '../contract';
import { BILLING_OPTIONS, ERP_OPTIONS, invoiceRunWorkflow, issueInvoices } from './invoice-run.workflow';
import type { IssueRequest, IssueResult } from '../contract';
import { initialEngagementState, type DeliveryCarry, type DeliveryInbox, type EngagementState, type RateTerms, type CreditBasis } from '../engagement/state';
import type { DeliveryOptions } from '../contract';

export const DEFAULT_OVERDUE_GRACE_DAYS = 10;
export const DEFAULT_APPROVAL_TIMEOUT_DAYS = 5;
/** More invoices than this in one run go out through a child workflow. */
export const DEFAULT_CHILD_RUN_THRESHOLD = 25;
/** Continue-as-new well before Temporal's 10,240-event warning even if the server does not suggest it. */
export const DEFAULT_MAX_HISTORY_EVENTS = 5_000;
const RECENT_BATCHES = 200;
const NON_BILLABLE_TASK = 'Q2C-NOT-BILLABLE-IN-PSA';

/** What the deal workflow hands to its delivery part. */
export interface DeliveryContext {
  opportunityId: string;
  snapshot: DealSnapshot;
  view: DealView;
  enter(stage: DealStage, note?: string): void;
  key(step: string): string;
  inbox: DeliveryInbox;
  options?: DeliveryOptions;
  resume?: DeliveryCarry;
  /** Continues the deal as new with this carry; never returns. */
  continueAsNew(carry: DeliveryCarry): Promise<never>;
}

/**
 * Installs the delivery and payment signal handlers at workflow start, so that
 * batches arriving before IN_DELIVERY are buffered, not lost. Repeated batch
 * ids are dropped here; repeated items are dropped when the loop drains them.
 */
export function installDeliveryHandlers(resume?: DeliveryCarry): DeliveryInbox {
  const inbox: DeliveryInbox = resume?.inbox ?? { batches: [], payments: [], recentBatchIds: [] };
  setHandler(deliveryBatchSignal, (batch) => {
    if (inbox.recentBatchIds.includes(batch.batchId)) return;
    inbox.recentBatchIds.push(batch.batchId);
    if (inbox.recentBatchIds.length > RECENT_BATCHES) inbox.recentBatchIds.splice(0, inbox.recentBatchIds.length - RECENT_BATCHES);
    inbox.batches.push(batch);
  });
  setHandler(paymentSignal, (ev) => {
    inbox.payments.push(ev);
  });
  return inbox;
}

// ---------------------------------------------------------------- calendar

const formatters = new Map<string, Intl.DateTimeFormat>();
const formatter = (tz: string): Intl.DateTimeFormat => {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(tz, f);
  }
  return f;
};

const localParts = (ms: number, tz: string): { y: number; m: number; d: number; h: number; mi: number; s: number } => {
  const p: Record<string, number> = {};
  for (const part of formatter(tz).formatToParts(ms)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return { y: p.year!, m: p.month!, d: p.day!, h: p.hour! % 24, mi: p.minute!, s: p.second! };
};

/** The business date at instant `ms` in the legal entity's time zone. */
export const localDate = (ms: number, tz: string): string => {
  const p = localParts(ms, tz);
  return `${String(p.y).padStart(4, '0')}-${String(p.m).padStart(2, '0')}-${String(p.d).padStart(2, '0')}`;
};

const offsetAt = (ms: number, tz: string): number => {
  const p = localParts(ms, tz);
  return Date.UTC(p.y, p.m - 1, p.d, p.h, p.mi, p.s) - Math.floor(ms / 1000) * 1000;
};

/** The instant local midnight starts `date` in `tz` (DST-aware). */
export const localMidnight = (date: string, tz: string): number => {
  const guess = Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10)));
  const first = guess - offsetAt(guess, tz);
  const second = guess - offsetAt(first, tz);
  return second;
};

const weekStartOf = (date: string, weekStartsOn: number): string => addDays(date, -((isoWeekday(date) - weekStartsOn + 7) % 7));

// ---------------------------------------------------------------- the business clock

const DAY_MS = 86_400_000;

/**
 * The one clock the delivery loop reads. Every business date (today, invoice
 * and due dates, overdue, period ends, contract end) comes from `now()`, and
 * every wait is a timer of `sleepFor(business duration)` real milliseconds.
 */
export interface BusinessClock {
  /** The business instant now (ms since the epoch). */
  now(): number;
  /** Real milliseconds a timer sleeps for `businessMs` of business time to pass (at least 1). */
  sleepFor(businessMs: number): number;
  /** Demo mode: the mapping, published in the deal's state. */
  readonly demo?: DemoClock;
}

/** Production: business time is workflow time (deterministic in the workflow sandbox); a timer sleeps the business duration. */
export const WORKFLOW_CLOCK: BusinessClock = {
  now: () => Date.now(),
  sleepFor: (businessMs) => Math.max(1, businessMs),
};

/**
 * Demo mode: business now = contract start + (workflow now − demo start) × (1 day / dayMs);
 * a timer sleeps the business duration divided by the same scale (rounded up, so the
 * business instant it waits for has passed when it fires). Pure arithmetic on workflow
 * time: deterministic and replay-safe, no extra commands.
 */
export function demoClock(anchor: { realStartMs: number; businessStartMs: number }, dayMs: number, timeZone: string): BusinessClock {
  const scale = DAY_MS / dayMs;
  return {
    now: () => anchor.businessStartMs + Math.floor((Date.now() - anchor.realStartMs) * scale),
    sleepFor: (businessMs) => Math.max(1, Math.ceil(businessMs / scale)),
    demo: { dayMs, realStart: new Date(anchor.realStartMs).toISOString(), businessStart: new Date(anchor.businessStartMs).toISOString(), timeZone },
  };
}

/** A valid demo day length, or undefined (the option is ignored with a warning). */
const demoDayMs = (demo: DemoOptions | undefined): number | undefined => {
  if (!demo) return undefined;
  if (!Number.isFinite(demo.dayMs) || demo.dayMs < MIN_DEMO_DAY_MS || demo.dayMs > DAY_MS) {
    log.warn('demo option ignored: dayMs out of range', { dayMs: demo.dayMs, min: MIN_DEMO_DAY_MS, max: DAY_MS });
    return undefined;
  }
  return Math.floor(demo.dayMs);
};

// ---------------------------------------------------------------- the engagement

const acts = proxyActivities<BillingActivities>(BILLING_OPTIONS);
const erp = proxyActivities<BillingActivities>(ERP_OPTIONS);
/** Operator actions: the ERP writes on the rate-limited queue, the audit on the main one. */
const operatorErp = proxyActivities<Pick<Activities, 'postErpContract' | 'postCreditMemo'>>(ERP_OPTIONS);
const operatorActs = proxyActivities<Pick<Activities, 'recordCreditMemo'>>(BILLING_OPTIONS);

/** What the customer still owes on the invoice (negative: a credit balance). */
const balanceOf = (inv: InvoiceSummary): number => inv.totalMinor - (inv.creditedMinor ?? 0) - inv.paidMinor - inv.writtenOffMinor;
const isSettled = (inv: InvoiceSummary): boolean => inv.status === 'REJECTED' || inv.status === 'WRITTEN_OFF' || balanceOf(inv) <= 0;

function statusFor(inv: InvoiceSummary): InvoiceSummary['status'] {
  if (inv.status === 'REJECTED' || inv.status === 'AWAITING_APPROVAL') return inv.status;
  if (inv.writtenOffMinor > 0) return 'WRITTEN_OFF';
  const due = inv.totalMinor - (inv.creditedMinor ?? 0);
  if (inv.paidMinor > due) return 'OVERPAID';
  if (due === 0 && inv.paidMinor === 0) return 'CREDITED';
  if (inv.paidMinor === due) return 'PAID';
  return inv.paidMinor > 0 ? 'PARTIALLY_PAID' : 'POSTED';
}
const crmStatus = (s: InvoiceSummary['status']): 'POSTED' | 'PARTIALLY_PAID' | 'PAID' | 'VOID' =>
  s === 'PAID' || s === 'OVERPAID' ? 'PAID' : s === 'PARTIALLY_PAID' ? 'PARTIALLY_PAID' : s === 'REJECTED' || s === 'WRITTEN_OFF' || s === 'CREDITED' ? 'VOID' : 'POSTED';

const failureText = (err: unknown): string => {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
};

const isIsoDate = (v: unknown): v is string => typeof v === 'string' && ISO_DATE_RE.test(v) && new Date(`${v}T00:00:00Z`).toISOString().slice(0, 10) === v;
const ISO_DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
const isMoneyIn = (v: unknown, currency: string): boolean => {
  const m = v as { amountMinor?: unknown; currency?: unknown } | null;
  return typeof m === 'object' && m !== null && isInt(m.amountMinor, 0, Number.MAX_SAFE_INTEGER) && m.currency === currency;
};

/** One change's values checked (paths as the service reports them) and normalised as the canonical schema would (cap tolerance 0 when not given). */
function checkedChange(ch: AmendmentChange, i: number, currency: string): AmendmentChange {
  const bad = (field: string, why: string): never => refuse('DEAL.AMENDMENT_INVALID', `changes.${i}.${field}: ${why}`);
  if (typeof ch !== 'object' || ch === null) return bad('op', 'expected a change');
  if (ch.op === 'END_LINE') {
    if (!isIsoDate(ch.endDate)) bad('endDate', 'expected YYYY-MM-DD');
    return ch;
  }
  if (ch.op === 'SET_TERMS') {
    const t = ch.set ?? {};
    if (t.endDate !== undefined && !isIsoDate(t.endDate)) bad('set.endDate', 'expected YYYY-MM-DD');
    if (t.poNumber !== undefined && (typeof t.poNumber !== 'string' || t.poNumber.trim() === '')) bad('set.poNumber', 'expected a PO number');
    return ch;
  }
  if (ch.op !== 'UPDATE_LINE') return ch;
  const set = { ...(ch.set ?? {}) };
  if (set.cap !== undefined) {
    const cap = set.cap as { notToExceed?: unknown; toleranceBp?: unknown } | null;
    if (typeof cap !== 'object' || cap === null) return bad('set.cap', 'expected { notToExceed, toleranceBp }');
    if (!isMoneyIn(cap.notToExceed, currency)) bad('set.cap.notToExceed', `expected non-negative integer minor units in ${currency}`);
    if (cap.toleranceBp !== undefined && !isInt(cap.toleranceBp, 0, 10_000_000)) bad('set.cap.toleranceBp', 'expected integer basis points');
    set.cap = { notToExceed: set.cap.notToExceed, toleranceBp: set.cap.toleranceBp ?? 0 };
  }
  if (set.endDate !== undefined && !isIsoDate(set.endDate)) bad('set.endDate', 'expected YYYY-MM-DD');
  if (set.rateCardRef !== undefined && (typeof set.rateCardRef !== 'string' || set.rateCardRef.trim() === '')) bad('set.rateCardRef', 'expected a rate card id');
  if (set.discountBp !== undefined && !isInt(set.discountBp, 0, 10_000)) bad('set.discountBp', 'expected integer basis points, 0..10000');
  if (set.allocatedValue !== undefined && !isMoneyIn(set.allocatedValue, currency)) bad('set.allocatedValue', `expected non-negative integer minor units in ${currency}`);
  if (set.description !== undefined && typeof set.description !== 'string') bad('set.description', 'expected text');
  return { ...ch, set };
}

/** An operator action the validator refuses: a stable type the service maps to 409. */
const refuse = (code: string, message: string): never => {
  throw ApplicationFailure.nonRetryable(message, code);
};
/** What an amendment may change while the deal is in delivery (the PSA project and the rule set stay as provisioned). */
const AMENDABLE_LINE_FIELDS = new Set(['cap', 'endDate', 'rateCardRef', 'discountBp', 'allocatedValue', 'description']);
const AMENDABLE_TERMS = new Set(['endDate', 'poNumber']);

class Engagement {
  readonly s: EngagementState;
  private seen: Set<string>;
  private readonly tz: string;
  /** The contract version delivery bills against: the snapshot's, or the latest amendment's. */
  private contract: Contract;
  /** Operator actions running now, by request id (a repeated request joins the running one). */
  private readonly inflight = new Map<string, Promise<unknown>>();
  private readonly projectPhases: Project['phases'];
  private readonly taskLine = new Map<string, string>();
  private readonly milestoneLine = new Map<string, string>();
  private readonly hasWeekly: boolean;
  private readonly stripeSubscriptions: boolean;

  constructor(
    private readonly ctx: DeliveryContext,
    private readonly setup: BillingSetup,
    state: EngagementState,
    readonly clock: BusinessClock = WORKFLOW_CLOCK,
  ) {
    this.s = state;
    this.contract = state.contract ?? ctx.snapshot.contract;
    this.seen = new Set(state.seen);
    this.tz = ctx.snapshot.contractingEntity.timeZone;
    // PSA items not billable in the PSA land on a task the rules know is not billable.
    this.projectPhases = [...setup.project.phases, { id: NON_BILLABLE_TASK, name: 'Not billable in the PSA', milestones: [], tasks: [{ id: NON_BILLABLE_TASK, name: 'Not billable', billable: false }] }];
    for (const ph of setup.project.phases) {
      for (const t of ph.tasks) if (t.contractLineId) this.taskLine.set(t.id, t.contractLineId);
      for (const m of ph.milestones) this.milestoneLine.set(m.id, m.contractLineId);
    }
    this.hasWeekly = this.contract.lines.some((l) => l.invoiceSchedule === 'WEEKLY');
    this.stripeSubscriptions = (ctx.view.ids.subscriptionIds?.length ?? 0) > 0;
  }

  today(): string {
    return localDate(this.clock.now(), this.tz);
  }

  /** The first line of the first billing model (in preference order) the contract has. */
  private lineOfKind(models: string[]): string {
    for (const m of models) {
      const line = this.contract.lines.find((l) => l.billingModel === m);
      if (line) return line.id;
    }
    return this.contract.lines[0]!.id;
  }

  private markSeen(key: string): boolean {
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    this.s.seen.push(key);
    return true;
  }

  // ------------------------------------------------------------ intake

  /** Moves buffered batches into the pending items, once per (kind, sourceId). */
  drain(): boolean {
    const inbox = this.ctx.inbox;
    let changed = false;
    while (inbox.batches.length > 0) {
      const batch = inbox.batches.shift()!;
      for (const item of batch.items) changed = this.accept(item) || changed;
    }
    while (inbox.payments.length > 0) {
      const ev = inbox.payments.shift()!;
      if (this.s.payments.seen.includes(ev.eventId)) continue;
      this.s.payments.seen.push(ev.eventId);
      this.s.payments.unmatched.push(ev);
      changed = true;
    }
    return changed;
  }

  private accept(item: DeliveryBatch['items'][number]): boolean {
    const c = this.contract;
    const projectId = this.setup.project.id;
    if (item.kind === 'timeEntry') {
      if (!this.markSeen(`T:${item.sourceId}`)) return false;
      const taskId = item.taskId ? (this.setup.psaIds[item.taskId] ?? item.taskId) : undefined;
      const res = this.setup.resources[item.resourceId];
      const entityId = res?.legalEntityId ?? this.ctx.snapshot.deliveringEntityIds[0] ?? c.contractingLegalEntityId;
      const entity = this.setup.entities[entityId];
      const entry: TimeEntry = {
        id: `TE-${item.sourceId}`,
        projectId,
        contractId: c.id,
        contractLineId: (taskId && this.taskLine.get(taskId)) || this.lineOfKind(['TIME_AND_MATERIALS', 'RETAINER']),
        taskId: item.billable ? (taskId ?? 'UNASSIGNED') : NON_BILLABLE_TASK,
        resourceId: item.resourceId,
        role: item.role ?? res?.role ?? 'consultant',
        region: res?.region ?? entity?.taxJurisdiction.country ?? 'US',
        resourceLegalEntityId: entityId,
        workDate: item.workDate,
        minutes: item.minutes,
        approved: true,
        overtime: false,
        externalIds: { kantata: item.sourceId },
      };
      this.s.pending.time.push(entry);
      if (this.contract.lines.find((l) => l.id === entry.contractLineId)?.invoiceSchedule === 'IMMEDIATE') this.s.immediate = true;
      return true;
    }
    if (item.kind === 'expense') {
      if (!this.markSeen(`X:${item.sourceId}`)) return false;
      const lineId = this.lineOfKind(['EXPENSES', 'TIME_AND_MATERIALS']);
      if (!item.billable) {
        const amount = item.currency === c.currency ? item.amountMinor : 0;
        this.report('EXCLUDED', { sourceId: `EX-${item.sourceId}`, kind: 'EXPENSE', contractLineId: lineId, serviceDate: item.incurredOn, reasonCode: 'EXCLUDED.NOT_BILLABLE_IN_PSA', amountMinor: amount, detail: `${item.category}, marked not billable in the PSA` });
        return true;
      }
      const res = this.setup.resources[item.resourceId];
      this.s.pending.expenses.push({
        id: `EX-${item.sourceId}`,
        projectId,
        contractId: c.id,
        contractLineId: lineId,
        resourceId: item.resourceId,
        ...(res ? { resourceLegalEntityId: res.legalEntityId } : {}),
        category: item.category,
        amount: { amountMinor: item.amountMinor, currency: item.currency },
        incurredOn: item.incurredOn,
        approved: true,
        // The PSA approves expenses with their receipts attached.
        receipt: { documentId: `kantata-expense-${item.sourceId}` },
        externalIds: { kantata: item.sourceId },
      });
      return true;
    }
    if (!this.markSeen(`M:${item.sourceId}:${item.status}`)) return false;
    const id = `MS-${item.sourceId}`;
    const milestoneId = this.setup.psaIds[item.sourceId] ?? item.sourceId;
    const date = localDate(Date.parse(item.at), this.tz);
    let m = this.s.pending.milestones.find((x) => x.id === id);
    if (!m) {
      m = { id, projectId, contractId: c.id, contractLineId: this.milestoneLine.get(milestoneId) ?? this.lineOfKind(['FIXED_FEE_MILESTONE']), milestoneId, completedOn: date, acceptedOn: null };
      this.s.pending.milestones.push(m);
    }
    // Completion and acceptance may arrive in either order.
    if (item.status === 'accepted') {
      m.acceptedOn = date;
      if (m.completedOn > date) m.completedOn = date;
      this.s.immediate = true;
    } else if (date < m.completedOn) {
      m.completedOn = date;
    }
    return true;
  }

  private report(cls: 'CAPPED' | 'EXCLUDED', item: ReportedItem): void {
    (cls === 'CAPPED' ? this.s.held : this.s.excluded).push(item);
    this.s.totals[cls] += item.amountMinor;
    this.s.totals.delivered += item.amountMinor;
  }

  // ------------------------------------------------------------ invoice runs

  /** Is an invoice run due today (a period boundary passed, or an IMMEDIATE / milestone item arrived)? */
  runDue(today: string): boolean {
    return this.s.immediate || this.s.lastRunOn !== today;
  }

  /** Runs the rules over every unbilled item and turns what is billable into invoice drafts. */
  invoiceRun(today: string): void {
    const s = this.s;
    s.immediate = false;
    s.lastRunOn = today;
    const { pending } = s;
    if (
      pending.time.length + pending.expenses.length + pending.milestones.length === 0 &&
      !this.contract.lines.some((l) => l.billingModel === 'SUBSCRIPTION' || l.billingModel === 'RETAINER') &&
      !this.hasReleasable()
    ) {
      s.deferredMinor = 0;
      return;
    }
    s.runSeq += 1;
    const cc = this.compiled();
    // Held over-cap parts an amended cap now admits come first: they are older than anything pending.
    const released = this.releaseOverCap(cc);
    const run = this.classify(cc, today);
    const deferred = new Set<string>();
    let deferredMinor = 0;
    for (const d of run.decisions) {
      if (d.billingClass === 'DEFERRED') {
        deferred.add(d.sourceId);
        deferredMinor += d.amountMinor;
      }
    }
    s.deferredMinor = deferredMinor;
    const settled = run.decisions.filter((d) => !deferred.has(d.sourceId));
    if (settled.length === 0 && released.length === 0) return;
    const invoiced: Decision[] = [...released];
    for (const d of settled) {
      const item: ReportedItem = { sourceId: d.sourceId, kind: d.kind, contractLineId: d.contractLineId, serviceDate: d.serviceDate, reasonCode: d.reasonCode, amountMinor: d.amountMinor, ...(d.detail ? { detail: d.detail } : {}) };
      if (d.billingClass === 'CAPPED' || d.billingClass === 'EXCLUDED') {
        this.report(d.billingClass, item);
        const line = d.reasonCode === 'CAPPED.OVER_CAP' ? run.overCapLines.get(d.sourceId) : undefined;
        if (line) (s.overCap ??= []).push({ sourceId: d.sourceId, kind: d.kind, contractLineId: d.contractLineId, projectId: d.projectId, serviceDate: d.serviceDate, amountMinor: d.amountMinor, minutes: d.minutes, ...line });
        continue;
      }
      s.totals.BILLABLE += d.amountMinor;
      s.totals.delivered += d.amountMinor;
      if (d.kind === 'SUBSCRIPTION' || d.kind === 'RETAINER') s.processedIds.push(d.sourceId);
      if (d.kind === 'MILESTONE' && d.milestoneId) s.processedIds.push(`M:${d.contractLineId}:${d.milestoneId}`);
      if (d.lineKey === undefined) {
        s.drawnByLine[d.contractLineId] = (s.drawnByLine[d.contractLineId] ?? 0) + d.amountMinor;
        continue;
      }
      // Subscriptions are invoiced by the billing system's own schedule (part 1 created it).
      if (d.kind === 'SUBSCRIPTION' && this.stripeSubscriptions) continue;
      invoiced.push(d);
      s.billedByLine[d.contractLineId] = (s.billedByLine[d.contractLineId] ?? 0) + d.amountMinor;
    }
    const settledIds = new Set(settled.map((d) => d.sourceId));
    const settledTime = pending.time.filter((e) => settledIds.has(e.id));
    pending.time = pending.time.filter((e) => !settledIds.has(e.id));
    pending.expenses = pending.expenses.filter((e) => !settledIds.has(e.id));
    for (const m of pending.milestones) {
      if (settledIds.has(m.id)) {
        const psaId = m.id.slice(3);
        this.markSeen(`M:${psaId}:completed`);
        this.markSeen(`M:${psaId}:accepted`);
      }
    }
    pending.milestones = pending.milestones.filter((m) => !settledIds.has(m.id));

    // Invoices: a key already issued (a late item for a closed period) gets this run's suffix.
    const grouping = groupDecisions(cc, invoiced);
    type Groups = InvoiceGrouping['groups'];
    const fresh: Groups = new Map();
    const late: Groups = new Map();
    for (const [k, acc] of grouping.groups) (s.issuedKeys.includes(k) ? late : fresh).set(k, acc);
    const where = customerJurisdiction(this.ctx.snapshot.customer);
    const exempt = this.ctx.snapshot.customer.taxRegistration?.exempt ?? false;
    const taxable = (code: string) => decideTax(this.setup.ruleSet, code, where, exempt).taxable;
    const invoices = [
      ...materializeInvoices(cc, { groups: fresh }, { asOf: today, taxable }),
      ...materializeInvoices(cc, { groups: late }, { asOf: today, taxable, keySuffix: `R${s.runSeq}` }),
    ];
    for (const k of grouping.groups.keys()) if (!s.issuedKeys.includes(k)) s.issuedKeys.push(k);
    const events = toBillingEvents(cc, released.length > 0 ? [...settled, ...released] : settled);
    const eventOf = new Map<string, AuditEvent>();
    for (const ev of events) {
      if (ev.billingClass !== 'BILLABLE' || ev.invoiceKey === undefined) continue;
      eventOf.set(ev.sourceItemIds[0]!, { id: ev.id, sourceId: ev.sourceItemIds[0]!, kind: ev.kind, contractLineId: ev.contractLineId, quoteLineId: ev.quoteLineId, amountMinor: ev.amount.amountMinor });
    }
    const threshold = this.ctx.options?.approvalAboveMinor;
    for (const invoice of invoices) {
      const needsApproval = threshold !== undefined && invoice.subtotal.amountMinor > threshold;
      s.drafts.push({
        invoice,
        taxableLineIds: invoice.lines.filter((l) => l.taxable).map((l) => l.id),
        events: invoice.lines.flatMap((l) => l.sourceItemIds.map((sid) => eventOf.get(sid)).filter((e): e is AuditEvent => e !== undefined)),
        approval: needsApproval ? 'REQUIRED' : 'NOT_REQUIRED',
        requestedOn: today,
      });
      s.invoices.push(this.summaryOfDraft(invoice, needsApproval ? 'AWAITING_APPROVAL' : 'POSTED'));
    }

    // Revenue that follows delivery (milestones, drawdown); AS_INVOICED follows issue.
    const rev = revenueSchedule({ contract: this.contract, decisions: [...settled.filter((d) => d.billingClass === 'BILLABLE'), ...released], invoices: [], asOf: today });
    this.queueRevenue(rev.lines.filter((l) => l.treatment === 'POINT_IN_TIME' || l.treatment === 'AS_DRAWN'));

    // Intercompany: time delivered by another entity, charged once when it settles.
    this.pendingIntercompany.push(...settledTime);
  }

  private pendingIntercompany: TimeEntry[] = [];

  private compiled(contract: Contract = this.contract): CompiledContract {
    return compileContract(contract, this.setup.ruleSet, { phases: this.projectPhases });
  }

  /**
   * Classifies the pending items. Work dated before an amendment's rate change is
   * rated with the terms then in force (one pass per line and superseded terms,
   * oldest first, so caps still fill in date order); the rest with the current
   * version. Without rate changes this is one pass, as before amendments existed.
   */
  private classify(cc: CompiledContract, today: string): { decisions: Decision[]; overCapLines: Map<string, { lineKey: string; lineDescription: string }> } {
    const s = this.s;
    const { pending } = s;
    const overCapLines = new Map<string, { lineKey: string; lineDescription: string }>();
    const projectId = this.setup.project.id;
    const history = s.rateHistory ?? {};
    let time = pending.time;
    let billedByLine = s.billedByLine;
    let drawnByLine = s.drawnByLine;
    const decisions: Decision[] = [];
    if (Object.keys(history).length > 0) {
      const groups = new Map<string, { lineId: string; terms: RateTerms; entries: TimeEntry[] }>();
      const current: TimeEntry[] = [];
      for (const e of time) {
        const terms = history[e.contractLineId]?.find((h) => e.workDate < h.until);
        if (!terms) {
          current.push(e);
          continue;
        }
        const k = `${terms.until}|${e.contractLineId}`;
        let g = groups.get(k);
        if (!g) groups.set(k, (g = { lineId: e.contractLineId, terms, entries: [] }));
        g.entries.push(e);
      }
      billedByLine = { ...s.billedByLine };
      drawnByLine = { ...s.drawnByLine };
      for (const k of [...groups.keys()].sort()) {
        const g = groups.get(k)!;
        const { rateCardRef, discountBp } = g.terms;
        const variant: Contract = {
          ...this.contract,
          lines: this.contract.lines.map((l) => {
            if (l.id !== g.lineId) return l;
            const { rateCardRef: _current, ...rest } = l;
            return { ...rest, ...(rateCardRef !== undefined ? { rateCardRef } : {}), discountBp };
          }),
        };
        const vcc = this.compiled(variant);
        const part = classifyDeliveries(vcc, { timeEntries: g.entries }, today, { billedByLine, drawnByLine, processedIds: new Set(s.processedIds), scheduledCharges: false }, projectId);
        for (const d of part.decisions) {
          if (d.billingClass !== 'BILLABLE') continue;
          if (d.lineKey !== undefined) billedByLine[d.contractLineId] = (billedByLine[d.contractLineId] ?? 0) + d.amountMinor;
          else drawnByLine[d.contractLineId] = (drawnByLine[d.contractLineId] ?? 0) + d.amountMinor;
        }
        this.noteOverCap(vcc, part.decisions, g.entries, overCapLines);
        decisions.push(...part.decisions);
      }
      time = current;
    }
    const run = classifyDeliveries(
      cc,
      { timeEntries: time, expenses: pending.expenses, milestones: pending.milestones },
      today,
      { billedByLine, drawnByLine, processedIds: new Set(s.processedIds) },
      projectId,
    );
    this.noteOverCap(cc, run.decisions, time, overCapLines);
    return { decisions: decisions.length > 0 ? [...decisions, ...run.decisions] : run.decisions, overCapLines };
  }

  /** The invoice line a time entry's over-cap part would be billed on (its billed sibling's, or its rate slot's). */
  private noteOverCap(cc: CompiledContract, decisions: readonly Decision[], entries: readonly TimeEntry[], into: Map<string, { lineKey: string; lineDescription: string }>): void {
    const capped = decisions.filter((d) => d.reasonCode === 'CAPPED.OVER_CAP' && d.kind === 'TIME');
    if (capped.length === 0) return;
    const ids = new Set(capped.map((d) => d.sourceId));
    const billed = new Map<string, Decision>();
    for (const d of decisions) if (ids.has(d.sourceId) && d.billingClass === 'BILLABLE' && d.lineKey !== undefined) billed.set(d.sourceId, d);
    const entryOf = new Map(entries.filter((e) => ids.has(e.id)).map((e) => [e.id, e]));
    for (const d of capped) {
      const sibling = billed.get(d.sourceId);
      if (sibling) {
        into.set(d.sourceId, { lineKey: sibling.lineKey!, lineDescription: sibling.lineDescription });
        continue;
      }
      const e = entryOf.get(d.sourceId);
      const cl = cc.lines.get(d.contractLineId);
      const slot = e && cl ? cl.rates?.timeSlot(e.role, e.region, e.workDate, dateKey(e.workDate), e.overtime, cl.line.discountBp) : undefined;
      if (slot) into.set(d.sourceId, { lineKey: slot.lineKey, lineDescription: slot.description });
    }
  }

  /** Room under each amended cap for held over-cap parts (only lines an amendment re-capped: nothing moves otherwise). */
  private releaseRoom(cc: CompiledContract): Map<string, number> {
    const room = new Map<string, number>();
    const s = this.s;
    if (!s.capAmendedLines?.length || !s.overCap?.length) return room;
    for (const lineId of [...s.capAmendedLines].sort()) {
      const cl = cc.lines.get(lineId);
      if (!cl || !s.overCap.some((p) => p.contractLineId === lineId)) continue;
      const r = cl.capLimit === null ? Number.MAX_SAFE_INTEGER : cl.capLimit - (s.billedByLine[lineId] ?? 0);
      if (r > 0) room.set(lineId, r);
    }
    return room;
  }

  private hasReleasable(): boolean {
    return !!this.s.capAmendedLines?.length && !!this.s.overCap?.length && this.releaseRoom(this.compiled()).size > 0;
  }

  /**
   * Moves held over-cap parts (date order) into billing as far as the amended caps
   * admit them: CAPPED -> BILLABLE, so delivered stays what it was. A part that
   * fits only in part is split again; the rest stays held.
   */
  private releaseOverCap(cc: CompiledContract): Decision[] {
    const s = this.s;
    const out: Decision[] = [];
    const rooms = this.releaseRoom(cc);
    if (rooms.size === 0) return out;
    const fmt = (n: number) => `${cc.currency} ${(n / 100).toFixed(2)}`;
    for (const [lineId, start] of rooms) {
      let room = start;
      const parts = s.overCap!.filter((p) => p.contractLineId === lineId).sort((a, b) => (a.serviceDate < b.serviceDate ? -1 : a.serviceDate > b.serviceDate ? 1 : a.sourceId < b.sourceId ? -1 : a.sourceId > b.sourceId ? 1 : 0));
      for (const p of parts) {
        if (room <= 0) break;
        const take = Math.min(p.amountMinor, room);
        const minutes = take === p.amountMinor ? p.minutes : Math.floor((p.minutes * take) / p.amountMinor);
        out.push({
          sourceId: p.sourceId,
          kind: p.kind,
          contractLineId: lineId,
          projectId: p.projectId,
          serviceDate: p.serviceDate,
          billingClass: 'BILLABLE',
          reasonCode: take < p.amountMinor ? 'BILLABLE.PARTIAL_UNDER_CAP' : 'BILLABLE.TIME_AND_MATERIALS',
          amountMinor: take,
          minutes,
          lineKey: p.lineKey,
          lineDescription: p.lineDescription,
          milestoneId: undefined,
          detail: `held over the cap; ${fmt(take)} of ${fmt(p.amountMinor)} admitted by contract v${cc.contract.version}`,
        });
        p.amountMinor -= take;
        p.minutes -= minutes;
        room -= take;
        s.billedByLine[lineId] = (s.billedByLine[lineId] ?? 0) + take;
        s.totals.CAPPED -= take;
        s.totals.BILLABLE += take;
        const held = s.held.find((h) => h.sourceId === p.sourceId && h.reasonCode === 'CAPPED.OVER_CAP');
        if (held) held.amountMinor -= take;
      }
    }
    const done = new Set(s.overCap!.filter((p) => p.amountMinor === 0).map((p) => p.sourceId));
    s.held = s.held.filter((h) => !(h.reasonCode === 'CAPPED.OVER_CAP' && done.has(h.sourceId) && h.amountMinor === 0));
    s.overCap = s.overCap!.filter((p) => p.amountMinor > 0);
    return out;
  }

  private summaryOfDraft(invoice: Invoice, status: InvoiceSummary['status']): InvoiceSummary {
    return {
      id: invoice.id,
      number: invoice.id,
      invoiceKey: invoice.invoiceKey,
      issueDate: invoice.issueDate,
      dueDate: invoice.dueDate,
      period: invoice.period,
      subtotalMinor: invoice.subtotal.amountMinor,
      taxMinor: 0,
      totalMinor: invoice.subtotal.amountMinor,
      paidMinor: 0,
      refundedMinor: 0,
      writtenOffMinor: 0,
      status,
      system: this.ctx.options?.invoiceSystem ?? 'erp',
      lines: invoice.lines.map((l) => ({ id: l.id, contractLineId: l.contractLineId, amountMinor: l.amount.amountMinor })),
    };
  }

  private queueRevenue(lines: RevenueScheduleLine[]): void {
    for (const l of lines) {
      if (this.s.revenue.ids.includes(l.id)) continue;
      this.s.revenue.ids.push(l.id);
      this.s.revenue.pending.push(l);
    }
  }

  private invoice(id: string): InvoiceSummary | undefined {
    return this.s.invoices.find((i) => i.id === id);
  }

  /** Taxes, posts and writes back every draft that may go out; a child workflow when there are many. */
  async issueReady(today: string): Promise<void> {
    const s = this.s;
    for (const d of s.drafts.filter((x) => x.approval === 'REJECTED')) {
      const inv = this.invoice(d.invoice.id)!;
      inv.status = 'REJECTED';
      for (const l of d.invoice.lines) s.billedByLine[l.contractLineId] = (s.billedByLine[l.contractLineId] ?? 0) - l.amount.amountMinor;
      this.resolveAttention((a) => a.invoiceId === inv.id);
    }
    s.drafts = s.drafts.filter((d) => d.approval !== 'REJECTED');
    const ready = s.drafts.filter((d) => (d.approval === 'NOT_REQUIRED' || d.approval === 'APPROVED') && (!d.failed || d.requestedOn < today));
    if (ready.length === 0) return;
    const ctx = this.issueContext();
    const requests: IssueRequest[] = ready.map((d) => ({ invoice: d.invoice, taxableLineIds: d.taxableLineIds, events: d.events }));
    const threshold = this.ctx.options?.childRunThreshold ?? DEFAULT_CHILD_RUN_THRESHOLD;
    const results: IssueResult[] =
      requests.length > threshold
        ? await executeChild(invoiceRunWorkflow, { workflowId: this.ctx.key(`invoice-run:${s.runSeq}:${today}`), args: [{ ctx, runId: `${s.runSeq}`, requests }] })
        : await issueInvoices(ctx, requests);
    const issued: Invoice[] = [];
    for (const r of results) {
      const draft = s.drafts.find((d) => d.invoice.id === r.invoiceId)!;
      const inv = this.invoice(r.invoiceId)!;
      if (!r.ok) {
        draft.failed = { code: r.errorCode ?? 'UNKNOWN', message: r.errorMessage ?? '' };
        draft.requestedOn = today; // retried on a later day; an operator may reject it meanwhile
        this.raise({ id: `POSTING_FAILED:${inv.id}`, kind: 'POSTING_FAILED', invoiceId: inv.id, message: `${r.errorCode}: ${r.errorMessage}`, raisedOn: today });
        continue;
      }
      this.resolveAttention((a) => a.kind === 'POSTING_FAILED' && a.invoiceId === inv.id);
      inv.number = r.number!;
      inv.externalId = r.externalId!;
      inv.system = r.system!;
      inv.taxMinor = r.taxMinor ?? 0;
      inv.totalMinor = inv.subtotalMinor + inv.taxMinor;
      inv.issueDate = draft.invoice.issueDate;
      // An approved invoice left AWAITING_APPROVAL once posted, so its payments never matched.
      if (inv.status === 'AWAITING_APPROVAL' && patched('approved-invoice-posted')) inv.status = 'POSTED';
      inv.status = statusFor(inv);
      // Invoice latency: from the day the items became billable (the issue date's local midnight) to posted.
      kpis.recordInvoicePosted(this.clock.now() - localMidnight(draft.invoice.issueDate, this.tz));
      issued.push(draft.invoice);
      (s.creditBasis ??= {})[inv.id] = { invoice: { ...draft.invoice, status: 'POSTED', tax: { amountMinor: inv.taxMinor, currency: draft.invoice.currency }, total: { amountMinor: inv.totalMinor, currency: draft.invoice.currency } }, events: draft.events, credited: {}, taxCreditedMinor: 0 };
      s.drafts = s.drafts.filter((d) => d !== draft);
    }
    if (issued.length > 0) {
      const rev = revenueSchedule({ contract: this.contract, decisions: [], invoices: issued, asOf: today });
      this.queueRevenue(rev.lines.filter((l) => l.treatment === 'AS_INVOICED'));
    }
  }

  private issueContext(): IssueContext {
    const { snapshot, view, options } = this.ctx;
    return {
      dealId: workflowInfo().workflowId,
      opportunityId: this.ctx.opportunityId,
      ...(view.ids.projectId ? { psaProjectId: view.ids.projectId } : {}),
      erpCustomerId: view.ids.erpCustomerId ?? '',
      ...(view.ids.erpContractId ? { erpSalesOrderId: view.ids.erpContractId } : {}),
      customer: snapshot.customer,
      seller: snapshot.contractingEntity,
      system: options?.invoiceSystem ?? 'erp',
      ...(options?.billingCustomerId ? { billingCustomerId: options.billingCustomerId } : {}),
      netDays: snapshot.contract.paymentTerms.netDays,
    };
  }

  async postIntercompany(): Promise<void> {
    const entries = this.pendingIntercompany;
    if (entries.length === 0) return;
    this.pendingIntercompany = [];
    const contracting = this.contract.contractingLegalEntityId;
    const ic = intercompanyCharges(this.setup.ruleSet, contracting, entries);
    const bySource = new Map(ic.charges.map((c) => [c.sourceItemId, c.amountMinor]));
    for (const g of ic.invoices) {
      const from = this.setup.entities[g.fromLegalEntityId];
      const to = this.setup.entities[g.toLegalEntityId];
      if (!from || !to) {
        log.warn('intercompany entity unknown', { from: g.fromLegalEntityId, to: g.toLegalEntityId });
        continue;
      }
      const key = `${g.fromLegalEntityId}-${g.toLegalEntityId}-${g.period.start.slice(0, 7)}-R${this.s.runSeq}`;
      await erp.postIntercompany({
        dealId: workflowInfo().workflowId,
        key,
        contractId: this.contract.id,
        from,
        to,
        periodEnd: g.period.end,
        currency: g.currency,
        amountMinor: g.amountMinor,
        sources: g.sourceItemIds.map((id) => ({ sourceId: id, amountMinor: bySource.get(id) ?? 0 })),
      });
      this.s.intercompanyMinor += g.amountMinor;
    }
    for (const id of ic.missingCost) log.warn('intercompany cost rate missing', { sourceId: id });
  }

  // ------------------------------------------------------------ cash

  /** Applies payments and refunds to invoices; one not matching any invoice (yet) waits in `unmatched`. */
  async applyPayments(): Promise<void> {
    const s = this.s;
    const still: PaymentEvent[] = [];
    const queue = s.payments.unmatched;
    s.payments.unmatched = [];
    for (const ev of queue) {
      const inv = s.invoices.find(
        (i) => i.status !== 'AWAITING_APPROVAL' && i.status !== 'REJECTED' && (i.id === ev.invoiceId || i.number === ev.invoiceNumber || (ev.stripeInvoiceId !== undefined && i.externalId === ev.stripeInvoiceId)) && this.isPosted(i),
      );
      if (!inv || ev.currency !== this.contract.currency) {
        still.push(ev);
        continue;
      }
      let applied: number;
      if (ev.kind === 'charge.refunded') {
        const chargeKey = ev.chargeId ?? ev.paymentIntentId ?? inv.id;
        const before = s.payments.refundedByCharge[chargeKey] ?? 0;
        applied = -Math.max(0, ev.amountMinor - before);
        s.payments.refundedByCharge[chargeKey] = Math.max(before, ev.amountMinor);
        inv.refundedMinor -= applied;
        if (applied === 0) continue; // a later event repeating a refund already applied
      } else {
        applied = ev.amountMinor;
      }
      inv.paidMinor += applied;
      inv.status = statusFor(inv);
      if (isSettled(inv)) this.resolveAttention((a) => a.kind === 'OVERDUE' && a.invoiceId === inv.id);
      await acts.recordPayment({
        dealId: workflowInfo().workflowId,
        opportunityId: this.ctx.opportunityId,
        invoiceNumber: inv.number,
        eventId: ev.eventId,
        kind: ev.kind,
        appliedMinor: applied,
        currency: ev.currency,
        status: crmStatus(inv.status),
        totalMinor: inv.totalMinor,
        paidMinor: inv.paidMinor,
        dueDate: inv.dueDate,
      });
    }
    s.payments.unmatched = [...still, ...s.payments.unmatched];
  }

  private isPosted(inv: InvoiceSummary): boolean {
    return !this.s.drafts.some((d) => d.invoice.id === inv.id);
  }

  async syncStatuses(): Promise<void> {
    while (this.s.statusSyncs.length > 0) {
      const inv = this.invoice(this.s.statusSyncs.shift()!);
      if (!inv) continue;
      await acts.syncInvoiceStatus({ opportunityId: this.ctx.opportunityId, invoiceNumber: inv.number, status: crmStatus(inv.status), totalMinor: inv.totalMinor, paidMinor: inv.paidMinor, currency: this.contract.currency, dueDate: inv.dueDate });
    }
  }

  private graceDays(): number {
    return this.ctx.options?.overdueGraceDays ?? DEFAULT_OVERDUE_GRACE_DAYS;
  }

  /** Overdue invoices (due date + grace passed, balance open) and unanswered approvals raise attention items. */
  checkDeadlines(today: string): void {
    for (const inv of this.s.invoices) {
      if (!this.isPosted(inv) || isSettled(inv)) continue;
      if (today >= addDays(inv.dueDate, this.graceDays())) {
        this.raise({ id: `OVERDUE:${inv.id}`, kind: 'OVERDUE', invoiceId: inv.id, message: `invoice ${inv.number} is overdue: ${balanceOf(inv)} minor units open since ${inv.dueDate}`, raisedOn: today });
      }
    }
    const days = this.ctx.options?.approvalTimeoutDays ?? DEFAULT_APPROVAL_TIMEOUT_DAYS;
    for (const d of this.s.drafts) {
      if (d.approval === 'REQUIRED' && today >= addDays(d.requestedOn, days)) {
        this.raise({ id: `APPROVAL_TIMEOUT:${d.invoice.id}`, kind: 'APPROVAL_TIMEOUT', invoiceId: d.invoice.id, message: `invoice ${d.invoice.id} has waited ${days} days for approval`, raisedOn: today });
      }
    }
  }

  private raise(a: AttentionItem): void {
    if (this.s.attention.some((x) => x.id === a.id)) return;
    this.s.attention.push(a);
    kpis.recordDealException(`DELIVERY.${a.kind}`);
    log.warn('delivery needs attention', { kind: a.kind, invoiceId: a.invoiceId });
  }

  private resolveAttention(match: (a: AttentionItem) => boolean): void {
    this.s.attention = this.s.attention.filter((a) => !match(a));
  }

  /** NEEDS_ATTENTION while any delivery item is open, IN_DELIVERY otherwise. */
  syncStage(): void {
    const view = this.ctx.view;
    const want: DealStage = this.s.attention.length > 0 ? 'NEEDS_ATTENTION' : 'IN_DELIVERY';
    if (view.stage === want) return;
    if (want === 'NEEDS_ATTENTION') {
      view.resumeStage = 'IN_DELIVERY';
      this.ctx.enter('NEEDS_ATTENTION', this.s.attention.map((a) => a.id).join(', '));
    } else {
      view.resumeStage = undefined;
      this.ctx.enter('IN_DELIVERY', 'delivery exceptions resolved');
    }
  }

  // ------------------------------------------------------------ revenue

  private ratable(): RevenueScheduleLine[] {
    return revenueSchedule({ contract: this.contract, decisions: [], invoices: [], asOf: this.contract.endDate }).lines.filter((l) => l.treatment === 'RATABLE_DAILY');
  }

  /** Posts revenue per closed month (and at close, through `through`), one journal per recognition date. */
  async postRevenue(today: string, final = false): Promise<void> {
    const rv = this.s.revenue;
    const lastClosedMonth = monthIndex(today) - 1;
    const firstMonth = rv.postedThrough ? monthIndex(rv.postedThrough) + 1 : monthIndex(this.contract.startDate);
    const periods: Array<{ start: string; end: string }> = [];
    for (let mi = firstMonth; mi <= lastClosedMonth; mi++) periods.push({ start: monthStart(mi), end: monthEnd(mi) });
    if (final) periods.push({ start: periods.length ? addDays(periods[periods.length - 1]!.end, 1) : rv.postedThrough ? addDays(rv.postedThrough, 1) : this.contract.startDate, end: today });
    if (periods.length === 0) return;
    this.queueRevenue(this.ratable().filter((l) => l.recognitionDate <= periods[periods.length - 1]!.end));
    const allocated = new Map(this.contract.lines.map((l) => [l.id, l.allocatedValue.amountMinor]));
    for (const p of periods) {
      const due = rv.pending.filter((l) => l.recognitionDate <= p.end).sort((a, b) => (a.recognitionDate < b.recognitionDate ? -1 : a.recognitionDate > b.recognitionDate ? 1 : a.id < b.id ? -1 : 1));
      rv.pending = rv.pending.filter((l) => l.recognitionDate > p.end);
      const byDate = new Map<string, RevenueScheduleLine[]>();
      for (const l of due) {
        // Revenue never exceeds the line's allocated value: the excess is held back.
        const room = (allocated.get(l.contractLineId) ?? 0) - (rv.recognisedByLine[l.contractLineId] ?? 0);
        const amount = Math.min(l.amount.amountMinor, Math.max(0, room));
        if (amount <= 0) continue;
        rv.recognisedByLine[l.contractLineId] = (rv.recognisedByLine[l.contractLineId] ?? 0) + amount;
        const month = l.recognitionDate.slice(0, 7);
        rv.byMonth[month] = (rv.byMonth[month] ?? 0) + amount;
        const list = byDate.get(l.recognitionDate) ?? [];
        list.push({ ...l, amount: { ...l.amount, amountMinor: amount } });
        byDate.set(l.recognitionDate, list);
      }
      for (const [date, lines] of [...byDate.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
        await erp.postRevenue({ dealId: workflowInfo().workflowId, key: `${date}:${lines.length}:${lines[0]!.id}`, lines, legalEntity: this.ctx.snapshot.contractingEntity });
      }
      rv.postedThrough = p.end;
    }
  }

  // ------------------------------------------------------------ close

  canClose(today: string): boolean {
    const s = this.s;
    return (
      today > this.contract.endDate &&
      s.pending.time.length + s.pending.expenses.length + s.pending.milestones.length === 0 &&
      s.drafts.length === 0 &&
      s.attention.length === 0 &&
      s.payments.unmatched.length === 0 &&
      this.ctx.inbox.batches.length + this.ctx.inbox.payments.length === 0 &&
      this.inflight.size === 0 &&
      s.invoices.every(isSettled)
    );
  }

  summary(today: string): ClosingSummary {
    const s = this.s;
    const inv = s.invoices.filter((i) => i.status !== 'REJECTED');
    const sum = (f: (i: InvoiceSummary) => number, list = inv) => list.reduce((a, i) => a + f(i), 0);
    const rejectedMinor = sum((i) => i.subtotalMinor, s.invoices.filter((i) => i.status === 'REJECTED'));
    const writtenOffMinor = sum((i) => i.writtenOffMinor);
    // Credit memos: present only once there is one, so summaries of deals without credits keep their shape.
    const memos = s.creditMemos ?? [];
    const credited = memos.length > 0 ? { memos: memos.length, subtotalMinor: memos.reduce((a, m) => a + m.subtotalMinor, 0), taxMinor: memos.reduce((a, m) => a + m.taxMinor, 0), totalMinor: memos.reduce((a, m) => a + m.totalMinor, 0) } : undefined;
    const creditedNet = credited?.subtotalMinor ?? 0;
    return {
      closedOn: today,
      currency: this.contract.currency,
      totals: { BILLABLE: s.totals.BILLABLE, DEFERRED: s.deferredMinor, CAPPED: s.totals.CAPPED, EXCLUDED: s.totals.EXCLUDED, delivered: s.totals.delivered + s.deferredMinor },
      invoices: s.invoices.map((i) => ({ number: i.number, totalMinor: i.totalMinor, paidMinor: i.paidMinor, writtenOffMinor: i.writtenOffMinor, status: i.status, ...(i.creditedMinor ? { creditedMinor: i.creditedMinor } : {}) })),
      invoicedMinor: sum((i) => i.totalMinor),
      taxMinor: sum((i) => i.taxMinor),
      collectedMinor: sum((i) => i.paidMinor),
      refundedMinor: sum((i) => i.refundedMinor),
      writtenOffMinor,
      leakage: { cappedMinor: s.totals.CAPPED, excludedMinor: s.totals.EXCLUDED, rejectedMinor, writtenOffMinor, ...(credited ? { creditedMinor: creditedNet } : {}), totalMinor: s.totals.CAPPED + rejectedMinor + writtenOffMinor + creditedNet },
      ...(credited ? { credited } : {}),
      recognisedMinor: Object.values(s.revenue.recognisedByLine).reduce((a, b) => a + b, 0),
      intercompanyMinor: s.intercompanyMinor,
    };
  }

  // ------------------------------------------------------------ timers and view

  /** The next instant something is due: a period boundary, the contract end, an overdue or approval deadline. */
  nextWake(today: string): number {
    const dates: string[] = [monthStart(monthIndex(today) + 1)];
    if (this.hasWeekly) dates.push(addDays(weekStartOf(today, this.contract.billingTerms.weekStartsOn), 7));
    if (today <= this.contract.endDate) dates.push(addDays(this.contract.endDate, 1));
    for (const inv of this.s.invoices) if (this.isPosted(inv) && !isSettled(inv)) dates.push(addDays(inv.dueDate, this.graceDays()));
    const days = this.ctx.options?.approvalTimeoutDays ?? DEFAULT_APPROVAL_TIMEOUT_DAYS;
    for (const d of this.s.drafts) {
      if (d.approval === 'REQUIRED') dates.push(addDays(d.requestedOn, days));
      if (d.failed) dates.push(addDays(today, 1));
    }
    const next = dates.filter((d) => d > today).sort()[0]!;
    return localMidnight(next, this.tz);
  }

  hasWork(): boolean {
    const s = this.s;
    return this.ctx.inbox.batches.length > 0 || this.ctx.inbox.payments.length > 0 || s.statusSyncs.length > 0 || s.drafts.some((d) => d.approval === 'APPROVED' || d.approval === 'REJECTED');
  }

  view(): DeliveryView {
    const s = this.s;
    return {
      asOf: this.today(),
      ...(this.clock.demo ? { demo: this.clock.demo } : {}),
      currency: this.contract.currency,
      totals: { BILLABLE: s.totals.BILLABLE, DEFERRED: s.deferredMinor, CAPPED: s.totals.CAPPED, EXCLUDED: s.totals.EXCLUDED, delivered: s.totals.delivered + s.deferredMinor },
      pending: { time: s.pending.time.length, expenses: s.pending.expenses.length, milestones: s.pending.milestones.length },
      invoices: s.invoices,
      held: s.held,
      excluded: s.excluded,
      attention: s.attention,
      recognisedByLine: s.revenue.recognisedByLine,
      recognisedMinor: Object.values(s.revenue.recognisedByLine).reduce((a, b) => a + b, 0),
      recognisedByMonth: s.revenue.byMonth,
      revenuePostedThrough: s.revenue.postedThrough,
      intercompanyMinor: s.intercompanyMinor,
      unappliedMinor: s.payments.unmatched.reduce((a, p) => a + (p.kind === 'charge.refunded' ? 0 : p.amountMinor), 0) + s.invoices.reduce((a, i) => a + Math.max(0, i.paidMinor - (i.totalMinor - (i.creditedMinor ?? 0))), 0),
      runs: s.runSeq,
      continuedAsNew: s.continuedAsNew,
      contractVersion: this.contract.version,
      ...(s.amendments?.length ? { amendments: s.amendments } : {}),
      ...(s.creditMemos?.length ? { creditMemos: s.creditMemos } : {}),
    };
  }

  installOperatorHandlers(): void {
    setHandler(getDeliveryStateQuery, () => this.view());
    setHandler(amendContractUpdate, (req) => this.once(`amend:${req.requestId}`, () => this.amendNow(req)), { validator: (req) => this.validateAmendment(req) });
    setHandler(creditInvoiceUpdate, (req) => this.once(`credit:${req.requestId}`, () => this.creditNow(req)), { validator: (req) => this.validateCredit(req) });
    setHandler(
      decideInvoiceUpdate,
      (req) => {
        const d = this.s.drafts.find((x) => x.invoice.id === req.invoiceId)!;
        d.approval = req.decision === 'approve' ? 'APPROVED' : 'REJECTED';
        if (req.decision === 'approve') d.failed = undefined;
        this.resolveAttention((a) => a.kind === 'APPROVAL_TIMEOUT' && a.invoiceId === req.invoiceId);
        log.info('invoice decision', { invoiceId: req.invoiceId, decision: req.decision, by: req.by });
        return this.invoice(req.invoiceId)!;
      },
      {
        validator: (req) => {
          const d = this.s.drafts.find((x) => x.invoice.id === req.invoiceId);
          if (!d) throw ApplicationFailure.nonRetryable(`no invoice ${req.invoiceId} is waiting for a decision`, 'DEAL.INVOICE_NOT_PENDING');
          if (d.approval !== 'REQUIRED' && !d.failed) throw ApplicationFailure.nonRetryable(`invoice ${req.invoiceId} is ${d.approval}`, 'DEAL.INVOICE_NOT_PENDING');
          if (req.decision !== 'approve' && req.decision !== 'reject') throw ApplicationFailure.nonRetryable(`decision must be approve or reject`, 'DEAL.ACTION_INVALID');
          if (!req.by?.trim()) throw ApplicationFailure.nonRetryable('the decision needs `by`', 'DEAL.ACTION_INVALID');
          if (req.decision === 'reject' && !req.reason?.trim()) throw ApplicationFailure.nonRetryable('a rejection needs a reason', 'DEAL.ACTION_INVALID');
        },
      },
    );
    setHandler(
      writeOffInvoiceUpdate,
      (req) => {
        const inv = this.invoice(req.invoiceId)!;
        inv.writtenOffMinor += balanceOf(inv);
        inv.status = statusFor(inv);
        this.resolveAttention((a) => a.kind === 'OVERDUE' && a.invoiceId === inv.id);
        this.s.statusSyncs.push(inv.id);
        log.info('invoice written off', { invoiceId: inv.id, by: req.by, reason: req.reason });
        return inv;
      },
      {
        validator: (req) => {
          const inv = this.invoice(req.invoiceId);
          if (!inv || !this.isPosted(inv) || inv.status === 'REJECTED') throw ApplicationFailure.nonRetryable(`no posted invoice ${req.invoiceId}`, 'DEAL.INVOICE_UNKNOWN');
          if (balanceOf(inv) <= 0) throw ApplicationFailure.nonRetryable(`invoice ${req.invoiceId} has no open balance`, 'DEAL.NOTHING_TO_WRITE_OFF');
          if (!req.by?.trim() || !req.reason?.trim()) throw ApplicationFailure.nonRetryable('a write-off needs `by` and `reason`', 'DEAL.ACTION_INVALID');
        },
      },
    );
  }

  // ------------------------------------------------------------ operator: amendments and credit memos

  /** Runs an operator action once per request id: a repeat while it runs joins it (its result was recorded otherwise). */
  private async once<T>(key: string, run: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key);
    if (running) return (await running) as T;
    const p = run();
    this.inflight.set(key, p);
    try {
      return await p;
    } finally {
      this.inflight.delete(key);
    }
  }

  private validateAmendment(req: AmendContractRequest): void {
    if (typeof req?.requestId !== 'string' || !req.requestId.trim()) refuse('DEAL.ACTION_INVALID', 'an amendment needs a requestId');
    const done = this.s.amendments?.find((a) => a.requestId === req.requestId);
    if (done) {
      if (done.baseVersion !== req.baseVersion || JSON.stringify(done.changes) !== JSON.stringify(req.changes)) {
        refuse('DEAL.REQUEST_ID_REUSED', `request ${req.requestId} already applied amendment ${done.id} with other content`);
      }
      return;
    }
    if (this.inflight.has(`amend:${req.requestId}`)) return;
    if ([...this.inflight.keys()].some((k) => k.startsWith('amend:'))) refuse('DEAL.ACTION_IN_PROGRESS', 'another amendment is being applied');
    this.amended(req);
  }

  /** The contract version the request makes of the current one, or a refusal naming what is wrong. */
  private amended(req: AmendContractRequest): Contract {
    const c = this.contract;
    if (!req.by?.trim() || !req.reason?.trim()) refuse('DEAL.ACTION_INVALID', 'an amendment needs `by` and `reason`');
    if (!isIsoDate(req.effectiveDate)) refuse('DEAL.AMENDMENT_INVALID', 'effectiveDate: expected YYYY-MM-DD');
    if (req.baseVersion !== c.version) refuse('DEAL.AMENDMENT_VERSION_CONFLICT', `amendment written against contract v${req.baseVersion}; contract ${c.id} is at v${c.version}`);
    if (!Array.isArray(req.changes) || req.changes.length === 0) refuse('DEAL.AMENDMENT_INVALID', 'changes: at least one change is needed');
    const changes = req.changes.map((ch, i) => checkedChange(ch, i, c.currency));
    changes.forEach((ch, i) => {
      switch (ch.op) {
        case 'UPDATE_LINE':
        case 'END_LINE':
          if (!c.lines.some((l) => l.id === ch.lineId)) refuse('DEAL.AMENDMENT_UNKNOWN_LINE', `changes.${i}.lineId: line ${ch.lineId} is not on contract ${c.id}`);
          if (ch.op === 'UPDATE_LINE') {
            const keys = Object.keys(ch.set ?? {});
            if (keys.length === 0) refuse('DEAL.AMENDMENT_INVALID', `changes.${i}.set: nothing to change`);
            for (const k of keys) if (!AMENDABLE_LINE_FIELDS.has(k)) refuse('DEAL.AMENDMENT_UNSUPPORTED', `changes.${i}.set.${k}: cannot be amended while the deal is in delivery`);
          }
          break;
        case 'SET_TERMS':
          for (const k of Object.keys(ch.set ?? {})) if (!AMENDABLE_TERMS.has(k)) refuse('DEAL.AMENDMENT_UNSUPPORTED', `changes.${i}.set.${k}: cannot be amended while the deal is in delivery`);
          break;
        case 'ADD_LINE':
          refuse('DEAL.AMENDMENT_UNSUPPORTED', `changes.${i}: a line cannot be added in delivery (the PSA project has no tasks for it)`);
          break;
        default:
          refuse('DEAL.AMENDMENT_INVALID', `changes.${i}.op: unknown operation`);
      }
    });
    // Checked by hand, not with the canonical zod schemas: their ISO date checks do not run in the workflow sandbox.
    let next: Contract;
    try {
      next = applyAmendmentChanges(c, { id: `${c.id}-A${c.version + 1}`, contractId: c.id, baseVersion: req.baseVersion, changes });
    } catch (err) {
      if (err instanceof CanonicalError) refuse(err.code === 'AMENDMENT.VERSION_MISMATCH' ? 'DEAL.AMENDMENT_VERSION_CONFLICT' : err.code === 'AMENDMENT.LINE_NOT_FOUND' ? 'DEAL.AMENDMENT_UNKNOWN_LINE' : 'DEAL.AMENDMENT_INVALID', err.message);
      throw err;
    }
    if (next.startDate > next.endDate) refuse('DEAL.AMENDMENT_INVALID', `endDate: the contract would end (${next.endDate}) before it starts (${next.startDate})`);
    next.lines.forEach((l, i) => {
      const issues = contractLineIssues(l, next.currency);
      if (issues.length > 0) refuse('DEAL.AMENDMENT_INVALID', `the amended contract is invalid: ${issues.map((x) => `lines.${i}.${x.path.join('.')}: ${x.message}`).join('; ')}`);
    });
    let cc: CompiledContract;
    try {
      cc = this.compiled(next);
    } catch (err) {
      return refuse('DEAL.AMENDMENT_INVALID', err instanceof Error ? err.message : String(err));
    }
    for (const l of next.lines) {
      const before = c.lines.find((x) => x.id === l.id)!;
      const limit = cc.lines.get(l.id)?.capLimit ?? null;
      const billed = this.s.billedByLine[l.id] ?? 0;
      if (JSON.stringify(before.cap) !== JSON.stringify(l.cap) && limit !== null && limit < billed) refuse('DEAL.AMENDMENT_INVALID', `line ${l.id}: cap with tolerance ${limit} is below the ${billed} already billed`);
      const rateChanged = before.rateCardRef !== l.rateCardRef || before.discountBp !== l.discountBp;
      const last = this.s.rateHistory?.[l.id]?.at(-1);
      if (rateChanged && last && req.effectiveDate < last.until) refuse('DEAL.AMENDMENT_INVALID', `line ${l.id}: a rate change from ${req.effectiveDate} is earlier than the one from ${last.until}`);
    }
    return next;
  }

  /** The ERP gets the new version first; the deal moves to it only once the ERP has it. */
  private async amendNow(req: AmendContractRequest): Promise<AmendContractResult> {
    const done = this.s.amendments?.find((a) => a.requestId === req.requestId);
    if (done) return this.amendmentResult(done);
    const prev = this.contract;
    const next = this.amended(req);
    const record: AmendmentRecord = { id: `${prev.id}-A${next.version}`, requestId: req.requestId, by: req.by, reason: req.reason, effectiveDate: req.effectiveDate, baseVersion: req.baseVersion, version: next.version, appliedOn: this.today(), changes: req.changes };
    const erpCustomerId = this.ctx.view.ids.erpCustomerId;
    if (erpCustomerId) {
      try {
        const ref = await operatorErp.postErpContract({ idempotencyKey: this.ctx.key('erp-contract'), contract: next, erpCustomerId, legalEntity: this.ctx.snapshot.contractingEntity });
        record.erpContractId = ref.erpContractId;
      } catch (err) {
        throw ApplicationFailure.nonRetryable(`contract v${next.version} could not be posted to the ERP: ${failureText(err)}`, 'DEAL.AMENDMENT_ERP_FAILED');
      }
    }
    // Another amendment cannot have run meanwhile (the validator refuses one while this runs).
    const s = this.s;
    for (const l of next.lines) {
      const before = prev.lines.find((x) => x.id === l.id)!;
      if (before.rateCardRef !== l.rateCardRef || before.discountBp !== l.discountBp) {
        ((s.rateHistory ??= {})[l.id] ??= []).push({ until: req.effectiveDate, ...(before.rateCardRef !== undefined ? { rateCardRef: before.rateCardRef } : {}), discountBp: before.discountBp });
      }
      if (JSON.stringify(before.cap) !== JSON.stringify(l.cap) && !(s.capAmendedLines ??= []).includes(l.id)) s.capAmendedLines.push(l.id);
    }
    this.contract = next;
    s.contract = next;
    (s.amendments ??= []).push(record);
    log.info('contract amended', { amendmentId: record.id, version: next.version, by: req.by });
    return this.amendmentResult(record);
  }

  private amendmentResult(record: AmendmentRecord): AmendContractResult {
    const lines = new Set(record.changes.flatMap((ch) => (ch.op === 'UPDATE_LINE' && ch.set.cap !== undefined ? [ch.lineId] : [])));
    const held = (this.s.overCap ?? []).filter((p) => lines.has(p.contractLineId));
    const rooms = this.releaseRoom(this.compiled());
    let heldOverCapMinor = 0;
    let releasableMinor = 0;
    for (const lineId of lines) {
      const h = held.filter((p) => p.contractLineId === lineId).reduce((a, p) => a + p.amountMinor, 0);
      heldOverCapMinor += h;
      releasableMinor += Math.min(h, rooms.get(lineId) ?? 0);
    }
    return { amendment: record, contractVersion: this.contract.version, heldOverCapMinor, releasableMinor };
  }

  private validateCredit(req: CreditInvoiceRequest): void {
    if (typeof req?.requestId !== 'string' || !req.requestId.trim()) refuse('DEAL.ACTION_INVALID', 'a credit needs a requestId');
    const done = this.s.creditMemos?.find((m) => m.requestId === req.requestId);
    if (done) {
      if ((done.invoiceId !== req.invoiceId && done.invoiceNumber !== req.invoiceId) || JSON.stringify(done.request) !== JSON.stringify(req.lines)) {
        refuse('DEAL.REQUEST_ID_REUSED', `request ${req.requestId} already issued credit memo ${done.number} with other content`);
      }
      return;
    }
    if (this.inflight.has(`credit:${req.requestId}`)) return;
    this.creditMemoFor(req, this.today());
  }

  /** The credit memo the request asks for, from the invoice as issued, or a refusal. */
  private creditMemoFor(req: CreditInvoiceRequest, today: string): { inv: InvoiceSummary; basis: CreditBasis; memo: ReturnType<typeof creditInvoiceLines> } {
    if (!req.by?.trim() || !req.note?.trim()) refuse('DEAL.ACTION_INVALID', 'a credit needs `by` and `note`');
    if (!['DISPUTE', 'ERROR', 'CANCELLATION'].includes(req.reason)) refuse('DEAL.ACTION_INVALID', 'reason: DISPUTE, ERROR or CANCELLATION');
    const inv = this.s.invoices.find((i) => i.id === req.invoiceId || i.number === req.invoiceId);
    if (!inv || !this.isPosted(inv) || inv.status === 'REJECTED' || inv.status === 'AWAITING_APPROVAL') return refuse('DEAL.INVOICE_UNKNOWN', `no posted invoice ${req.invoiceId}`);
    if (inv.system !== 'erp' || !inv.externalId) refuse('DEAL.CREDIT_UNSUPPORTED', `invoice ${inv.number} lives in ${inv.system}; credit memos are issued in the ERP`);
    if (inv.status === 'WRITTEN_OFF') refuse('DEAL.CREDIT_UNSUPPORTED', `invoice ${inv.number} is written off`);
    const basis = this.s.creditBasis?.[inv.id];
    if (!basis) return refuse('DEAL.CREDIT_BASIS_MISSING', `invoice ${inv.number} was issued before the deal kept credit bases; credit it in the ERP`);
    if (!Array.isArray(req.lines) || req.lines.length === 0) refuse('DEAL.ACTION_INVALID', 'lines: name at least one invoice line');
    const selections = req.lines.map((sel, i) => {
      const line = basis.invoice.lines.find((l) => l.id === sel?.invoiceLineId);
      if (!line) return refuse('DEAL.CREDIT_UNKNOWN_LINE', `lines.${i}.invoiceLineId: invoice ${inv.number} has no line ${sel?.invoiceLineId}`);
      if (req.lines.findIndex((x) => x.invoiceLineId === sel.invoiceLineId) !== i) refuse('DEAL.ACTION_INVALID', `lines.${i}.invoiceLineId: ${sel.invoiceLineId} is named twice`);
      const already = new Set(basis.credited[line.id] ?? []);
      const named = sel.sourceItemIds;
      if (named !== undefined) {
        if (!Array.isArray(named) || named.length === 0) refuse('DEAL.ACTION_INVALID', `lines.${i}.sourceItemIds: name at least one item, or leave it out for the whole line`);
        named.forEach((sid, j) => {
          if (!line.sourceItemIds.includes(sid)) refuse('DEAL.CREDIT_SOURCE_NOT_ON_LINE', `lines.${i}.sourceItemIds.${j}: ${sid} is not on invoice line ${line.id}`);
          if (already.has(sid)) refuse('DEAL.ALREADY_CREDITED', `lines.${i}.sourceItemIds.${j}: ${sid} on ${line.id} was credited before`);
        });
        if (new Set(named).size !== named.length) refuse('DEAL.ACTION_INVALID', `lines.${i}.sourceItemIds: an item is named twice`);
      }
      const ids = (named ?? line.sourceItemIds).filter((sid) => !already.has(sid));
      if (ids.length === 0) refuse('DEAL.ALREADY_CREDITED', `lines.${i}: every item of ${line.id} was credited before`);
      return { invoiceLineId: line.id, sourceItemIds: ids };
    });
    const amounts = new Map(basis.events.map((e) => [e.sourceId, e.amountMinor]));
    let memo: ReturnType<typeof creditInvoiceLines>;
    try {
      memo = creditInvoiceLines(basis.invoice, selections, amounts, { issueDate: today, reason: req.reason, memoKey: req.requestId });
    } catch (err) {
      if (err instanceof CreditError) return refuse(err.code.replace('RULES.', 'DEAL.'), err.message);
      throw err;
    }
    if (memo.lines.length === 0) refuse('DEAL.NOTHING_TO_CREDIT', `the named items of invoice ${inv.number} were billed at 0`);
    return { inv, basis, memo };
  }

  /** Tax return and ERP credit memo, then the deal's books, then the audit trail. */
  private async creditNow(req: CreditInvoiceRequest): Promise<CreditMemoSummary> {
    const done = this.s.creditMemos?.find((m) => m.requestId === req.requestId);
    if (done) return done;
    const today = this.today();
    const { inv, basis, memo } = this.creditMemoFor(req, today);
    const dealId = workflowInfo().workflowId;
    const taxableLines: Record<string, string> = {};
    if (inv.taxMinor > 0) for (const l of basis.invoice.lines) if (l.taxable) taxableLines[l.id] = l.taxCode;
    let posted: Awaited<ReturnType<typeof operatorErp.postCreditMemo>>;
    try {
      posted = await operatorErp.postCreditMemo({
        dealId,
        creditMemo: memo,
        invoice: { id: inv.id, number: inv.number, externalId: inv.externalId!, taxCapMinor: inv.taxMinor - basis.taxCreditedMinor, taxableLines },
        erpCustomerId: this.ctx.view.ids.erpCustomerId ?? '',
        customer: this.ctx.snapshot.customer,
        seller: this.ctx.snapshot.contractingEntity,
      });
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`credit memo ${memo.id} could not be posted: ${failureText(err)}`, 'DEAL.CREDIT_POSTING_FAILED');
    }
    const summary: CreditMemoSummary = {
      id: memo.id,
      number: posted.number,
      externalId: posted.externalId,
      requestId: req.requestId,
      invoiceId: inv.id,
      invoiceNumber: inv.number,
      issueDate: memo.issueDate,
      reason: req.reason,
      note: req.note,
      by: req.by,
      subtotalMinor: memo.total.amountMinor,
      taxMinor: posted.taxMinor,
      totalMinor: memo.total.amountMinor + posted.taxMinor,
      lines: memo.lines.map((l) => ({ id: l.id, originalInvoiceLineId: l.originalInvoiceLineId, contractLineId: l.contractLineId, sourceItemIds: l.sourceItemIds, amountMinor: l.amount.amountMinor, taxMinor: posted.taxByLine[l.id] ?? 0 })),
      request: req.lines,
    };
    for (const l of memo.lines) (basis.credited[l.originalInvoiceLineId] ??= []).push(...l.sourceItemIds);
    basis.taxCreditedMinor += posted.taxMinor;
    inv.creditedMinor = (inv.creditedMinor ?? 0) + summary.totalMinor;
    inv.creditMemos = [...(inv.creditMemos ?? []), summary.number];
    inv.status = statusFor(inv);
    if (isSettled(inv)) this.resolveAttention((a) => a.kind === 'OVERDUE' && a.invoiceId === inv.id);
    (this.s.creditMemos ??= []).push(summary);
    this.s.statusSyncs.push(inv.id);
    const events = new Map(basis.events.map((e) => [e.sourceId, e]));
    const items: CreditAuditItem[] = memo.lines.flatMap((l) =>
      l.sourceItemIds.map((sid) => {
        const ev = events.get(sid);
        return { creditLineId: l.id, invoiceLineId: l.originalInvoiceLineId, sourceId: sid, sourceKind: ev?.kind ?? 'UNKNOWN', billingEventId: ev?.id ?? null, contractLineId: l.contractLineId, quoteLineId: ev?.quoteLineId ?? null, amountMinor: ev?.amountMinor ?? 0 };
      }),
    );
    try {
      await operatorActs.recordCreditMemo({
        dealId,
        invoiceNumber: inv.number,
        creditMemoNumber: summary.number,
        currency: memo.currency,
        items,
        taxByLine: posted.taxByLine,
        invoiceLineOf: Object.fromEntries(memo.lines.map((l) => [l.id, l.originalInvoiceLineId])),
      });
    } catch (err) {
      // The credit memo is posted and booked; a missing audit row is reported, not a reason to undo it.
      log.error('credit memo audit links not written', { creditMemoId: memo.id, error: failureText(err) });
    }
    log.info('invoice credited', { invoiceId: inv.id, creditMemoId: memo.id, totalMinor: summary.totalMinor, by: req.by });
    return summary;
  }

  /** Demo mode: the business date and the money so far, as the workflow's current details in the Web UI. */
  publishDemoDetails(today: string, nextDate?: string): void {
    const demo = this.clock.demo!;
    const money = (minor: number) => `${this.contract.currency} ${(minor / 100).toFixed(2)}`;
    const inv = this.s.invoices.filter((i) => i.status !== 'REJECTED' && i.status !== 'AWAITING_APPROVAL');
    setCurrentDetails(
      [
        `**Demo mode**: 1 business day every ${demo.dayMs} ms (calendar from ${this.contract.startDate}, ${demo.timeZone})`,
        `**Business date** ${today}${nextDate ? `, next step ${nextDate}` : ''}; contract ends ${this.contract.endDate}`,
        `**Stage** ${this.ctx.view.stage}; invoices ${inv.length} (${inv.filter(isSettled).length} settled); invoiced ${money(inv.reduce((a, i) => a + i.totalMinor, 0))}, collected ${money(inv.reduce((a, i) => a + i.paidMinor, 0))}`,
      ].join('\n\n'),
    );
  }

  carry(): DeliveryCarry {
    this.s.seen = [...this.seen];
    return { state: { ...this.s, continuedAsNew: this.s.continuedAsNew + 1 }, inbox: this.ctx.inbox };
  }

  /** Time entries not yet charged intercompany must survive continue-as-new: charge them first. */
  hasUnpostedIntercompany(): boolean {
    return this.pendingIntercompany.length > 0;
  }
}

/**
 * The IN_DELIVERY part of the deal: drains batched delivery items, runs the
 * billing calendar (a timer to the next period boundary raced against new
 * work), issues invoices, applies payments, raises overdue items, posts
 * revenue per month and closes the deal when the contract has ended and every
 * invoice is paid or written off. Continues as new when history grows.
 */
export async function runDelivery(ctx: DeliveryContext): Promise<DealView> {
  const setup = await acts.prepareBilling({ snapshot: ctx.snapshot, ...(ctx.view.ids.projectId ? { psaProjectId: ctx.view.ids.projectId } : {}) });
  const state = ctx.resume?.state ?? initialEngagementState();
  const e = new Engagement(ctx, setup, state, clockFor(ctx, state));
  e.installOperatorHandlers();
  const maxHistory = ctx.options?.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
  for (;;) {
    const today = e.today();
    e.drain();
    if (e.runDue(today)) e.invoiceRun(today);
    await e.issueReady(today);
    await e.postIntercompany();
    await e.applyPayments();
    await e.syncStatuses();
    e.checkDeadlines(today);
    await e.postRevenue(today);
    e.syncStage();
    if (e.canClose(today)) {
      await e.postRevenue(today, true);
      const summary = e.summary(today);
      await acts.closeEngagement({ opportunityId: ctx.opportunityId, dealId: workflowInfo().workflowId, summary });
      ctx.enter('CLOSED', `invoiced ${summary.invoicedMinor}, collected ${summary.collectedMinor}, leakage ${summary.leakage.totalMinor} (${summary.currency} minor units)`);
      if (e.clock.demo) e.publishDemoDetails(today);
      (ctx.view as DealView & { delivery?: DeliveryView }).delivery = { ...e.view(), summary };
      setHandler(getDeliveryStateQuery, () => ({ ...e.view(), summary }));
      return ctx.view;
    }
    const info = workflowInfo();
    if ((info.continueAsNewSuggested || info.historyLength >= maxHistory) && !e.hasUnpostedIntercompany() && !e.hasWork()) {
      await condition(allHandlersFinished);
      e.drain();
      return ctx.continueAsNew(e.carry());
    }
    const next = e.nextWake(today);
    const wait = e.clock.sleepFor(next - e.clock.now());
    if (e.clock.demo) {
      // Demo only (no command changes on the production path): the Web UI shows the business calendar.
      const nextDate = localDate(next, ctx.snapshot.contractingEntity.timeZone);
      e.publishDemoDetails(today, nextDate);
      await condition(() => e.hasWork(), wait, { summary: `business day ${nextDate} (demo: ${wait} ms)` });
    } else {
      await condition(() => e.hasWork(), wait);
    }
  }
}

/** The production clock, or (DeliveryOptions.demo) the accelerated one anchored at the contract start when demo delivery first starts. */
function clockFor(ctx: DeliveryContext, state: EngagementState): BusinessClock {
  const dayMs = demoDayMs(ctx.options?.demo);
  if (dayMs === undefined) return WORKFLOW_CLOCK;
  const tz = ctx.snapshot.contractingEntity.timeZone;
  state.demoAnchor ??= { realStartMs: Date.now(), businessStartMs: localMidnight(ctx.snapshot.contract.startDate, tz) };
  return demoClock(state.demoAnchor, dayMs, tz);
}
