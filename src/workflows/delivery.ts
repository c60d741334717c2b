import {
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
import type { Expense, Invoice, MilestoneCompletion, Project, RevenueScheduleLine, TimeEntry } from '../canonical';
import type { AuditEvent, BillingActivities, BillingSetup, IssueContext } from '../activities/billing.activities';
import type { DealSnapshot } from '../activities/deal.activities';
import { classifyDeliveries, type Decision } from '../rules/billability';
import { compileContract } from '../rules/compile';
import { addDays, isoWeekday, monthEnd, monthIndex, monthStart } from '../rules/dates';
import { groupDecisions, materializeInvoices, type InvoiceGrouping } from '../rules/grouping';
import { intercompanyCharges } from '../rules/intercompany';
import { toBillingEvents } from '../rules/preview';
import { revenueSchedule } from '../rules/revenue';
import { customerJurisdiction, decideTax } from '../rules/tax';
import type { DealView } from './deal.messages';
import type { DealStage } from './deal.stages';
import {
  decideInvoiceUpdate,
  deliveryBatchSignal,
  getDeliveryStateQuery,
  MIN_DEMO_DAY_MS,
  paymentSignal,
  writeOffInvoiceUpdate,
  type AttentionItem,
  type ClosingSummary,
  type DeliveryBatch,
  type DemoClock,
  type DemoOptions,
  type DeliveryView,
  type InvoiceSummary,
  type PaymentEvent,
  type ReportedItem,
} from './delivery.messages';
import { BILLING_OPTIONS, ERP_OPTIONS, invoiceRunWorkflow, issueInvoices, type IssueRequest, type IssueResult } from './invoice-run.workflow';

export const DEFAULT_OVERDUE_GRACE_DAYS = 10;
export const DEFAULT_APPROVAL_TIMEOUT_DAYS = 5;
/** More invoices than this in one run go out through a child workflow. */
export const DEFAULT_CHILD_RUN_THRESHOLD = 25;
/** Continue-as-new well before Temporal's 10,240-event warning even if the server does not suggest it. */
export const DEFAULT_MAX_HISTORY_EVENTS = 5_000;
const RECENT_BATCHES = 200;
const NON_BILLABLE_TASK = 'Q2C-NOT-BILLABLE-IN-PSA';

export interface DeliveryOptions {
  /** Invoices with a subtotal above this (minor units) wait for an operator's approval. */
  approvalAboveMinor?: number;
  approvalTimeoutDays?: number;
  overdueGraceDays?: number;
  childRunThreshold?: number;
  maxHistoryEvents?: number;
  /** Where customer invoices are issued; 'stripe' needs a billing customer id. */
  invoiceSystem?: 'erp' | 'stripe';
  billingCustomerId?: string;
  /** Demo mode: the business calendar runs accelerated (see BusinessClock). Never for a real deal. */
  demo?: DemoOptions;
}

/** What arrives before it can be processed: buffered by the handlers, drained by the loop. */
export interface DeliveryInbox {
  batches: DeliveryBatch[];
  payments: PaymentEvent[];
  recentBatchIds: string[];
}

interface Draft {
  invoice: Invoice;
  taxableLineIds: string[];
  events: AuditEvent[];
  approval: 'NOT_REQUIRED' | 'REQUIRED' | 'APPROVED' | 'REJECTED';
  requestedOn: string;
  failed?: { code: string; message: string };
}

/** Everything the delivery part carries across continue-as-new (no history of past runs). */
export interface EngagementState {
  seen: string[];
  pending: { time: TimeEntry[]; expenses: Expense[]; milestones: MilestoneCompletion[] };
  processedIds: string[];
  billedByLine: Record<string, number>;
  drawnByLine: Record<string, number>;
  totals: { BILLABLE: number; CAPPED: number; EXCLUDED: number; delivered: number };
  deferredMinor: number;
  held: ReportedItem[];
  excluded: ReportedItem[];
  issuedKeys: string[];
  drafts: Draft[];
  invoices: InvoiceSummary[];
  payments: { seen: string[]; refundedByCharge: Record<string, number>; unmatched: PaymentEvent[] };
  statusSyncs: string[];
  revenue: { pending: RevenueScheduleLine[]; ids: string[]; postedThrough: string | null; recognisedByLine: Record<string, number>; byMonth: Record<string, number> };
  intercompanyMinor: number;
  attention: AttentionItem[];
  runSeq: number;
  lastRunOn: string | null;
  immediate: boolean;
  continuedAsNew: number;
  /** Demo mode only: the real and business instants the accelerated calendar starts from (kept across continue-as-new). */
  demoAnchor?: { realStartMs: number; businessStartMs: number };
}

export interface DeliveryCarry {
  state: EngagementState;
  inbox: DeliveryInbox;
}

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

export const initialEngagementState = (): EngagementState => ({
  seen: [],
  pending: { time: [], expenses: [], milestones: [] },
  processedIds: [],
  billedByLine: {},
  drawnByLine: {},
  totals: { BILLABLE: 0, CAPPED: 0, EXCLUDED: 0, delivered: 0 },
  deferredMinor: 0,
  held: [],
  excluded: [],
  issuedKeys: [],
  drafts: [],
  invoices: [],
  payments: { seen: [], refundedByCharge: {}, unmatched: [] },
  statusSyncs: [],
  revenue: { pending: [], ids: [], postedThrough: null, recognisedByLine: {}, byMonth: {} },
  intercompanyMinor: 0,
  attention: [],
  runSeq: 0,
  lastRunOn: null,
  immediate: false,
  continuedAsNew: 0,
});

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

const balanceOf = (inv: InvoiceSummary): number => inv.totalMinor - inv.paidMinor - inv.writtenOffMinor;
const isSettled = (inv: InvoiceSummary): boolean => inv.status === 'REJECTED' || inv.status === 'WRITTEN_OFF' || balanceOf(inv) <= 0;

function statusFor(inv: InvoiceSummary): InvoiceSummary['status'] {
  if (inv.status === 'REJECTED' || inv.status === 'AWAITING_APPROVAL') return inv.status;
  if (inv.writtenOffMinor > 0) return 'WRITTEN_OFF';
  if (inv.paidMinor > inv.totalMinor) return 'OVERPAID';
  if (inv.paidMinor === inv.totalMinor) return 'PAID';
  return inv.paidMinor > 0 ? 'PARTIALLY_PAID' : 'POSTED';
}
const crmStatus = (s: InvoiceSummary['status']): 'POSTED' | 'PARTIALLY_PAID' | 'PAID' | 'VOID' =>
  s === 'PAID' || s === 'OVERPAID' ? 'PAID' : s === 'PARTIALLY_PAID' ? 'PARTIALLY_PAID' : s === 'REJECTED' || s === 'WRITTEN_OFF' ? 'VOID' : 'POSTED';

class Engagement {
  readonly s: EngagementState;
  private seen: Set<string>;
  private readonly tz: string;
  private readonly contract: DealSnapshot['contract'];
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
    this.contract = ctx.snapshot.contract;
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
    if (pending.time.length + pending.expenses.length + pending.milestones.length === 0 && !this.contract.lines.some((l) => l.billingModel === 'SUBSCRIPTION' || l.billingModel === 'RETAINER')) {
      s.deferredMinor = 0;
      return;
    }
    s.runSeq += 1;
    const cc = compileContract(this.contract, this.setup.ruleSet, { phases: this.projectPhases });
    const run = classifyDeliveries(
      cc,
      { timeEntries: pending.time, expenses: pending.expenses, milestones: pending.milestones },
      today,
      { billedByLine: s.billedByLine, drawnByLine: s.drawnByLine, processedIds: new Set(s.processedIds) },
      this.setup.project.id,
    );
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
    if (settled.length === 0) return;
    const invoiced: Decision[] = [];
    for (const d of settled) {
      const item: ReportedItem = { sourceId: d.sourceId, kind: d.kind, contractLineId: d.contractLineId, serviceDate: d.serviceDate, reasonCode: d.reasonCode, amountMinor: d.amountMinor, ...(d.detail ? { detail: d.detail } : {}) };
      if (d.billingClass === 'CAPPED' || d.billingClass === 'EXCLUDED') {
        this.report(d.billingClass, item);
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
    const events = toBillingEvents(cc, settled);
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
    const rev = revenueSchedule({ contract: this.contract, decisions: settled.filter((d) => d.billingClass === 'BILLABLE'), invoices: [], asOf: today });
    this.queueRevenue(rev.lines.filter((l) => l.treatment === 'POINT_IN_TIME' || l.treatment === 'AS_DRAWN'));

    // Intercompany: time delivered by another entity, charged once when it settles.
    this.pendingIntercompany.push(...settledTime);
  }

  private pendingIntercompany: TimeEntry[] = [];

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
      issued.push(draft.invoice);
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
      s.invoices.every(isSettled)
    );
  }

  summary(today: string): ClosingSummary {
    const s = this.s;
    const inv = s.invoices.filter((i) => i.status !== 'REJECTED');
    const sum = (f: (i: InvoiceSummary) => number, list = inv) => list.reduce((a, i) => a + f(i), 0);
    const rejectedMinor = sum((i) => i.subtotalMinor, s.invoices.filter((i) => i.status === 'REJECTED'));
    const writtenOffMinor = sum((i) => i.writtenOffMinor);
    return {
      closedOn: today,
      currency: this.contract.currency,
      totals: { BILLABLE: s.totals.BILLABLE, DEFERRED: s.deferredMinor, CAPPED: s.totals.CAPPED, EXCLUDED: s.totals.EXCLUDED, delivered: s.totals.delivered + s.deferredMinor },
      invoices: s.invoices.map((i) => ({ number: i.number, totalMinor: i.totalMinor, paidMinor: i.paidMinor, writtenOffMinor: i.writtenOffMinor, status: i.status })),
      invoicedMinor: sum((i) => i.totalMinor),
      taxMinor: sum((i) => i.taxMinor),
      collectedMinor: sum((i) => i.paidMinor),
      refundedMinor: sum((i) => i.refundedMinor),
      writtenOffMinor,
      leakage: { cappedMinor: s.totals.CAPPED, excludedMinor: s.totals.EXCLUDED, rejectedMinor, writtenOffMinor, totalMinor: s.totals.CAPPED + rejectedMinor + writtenOffMinor },
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
      unappliedMinor: s.payments.unmatched.reduce((a, p) => a + (p.kind === 'charge.refunded' ? 0 : p.amountMinor), 0) + s.invoices.reduce((a, i) => a + Math.max(0, i.paidMinor - i.totalMinor), 0),
      runs: s.runSeq,
      continuedAsNew: s.continuedAsNew,
    };
  }

  installOperatorHandlers(): void {
    setHandler(getDeliveryStateQuery, () => this.view());
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
