import type { AmendmentChangeRequest, Contract, Customer, Invoice, LegalEntity, Project, Quote } from '../canonical';
import type { RuleSet } from '../rules/ruleset';

/*
 * The engagement's vocabulary: what the webhook intake and the sweep deliver
 * (batched items, payments), what operators ask for while the deal is in
 * delivery, what the deal shows, and the inputs of the commands the core asks
 * its shell to carry out. Types only: the service, the CLI, the activities and
 * the workflows share them through src/contract without importing any code.
 */
/** Approved time from the PSA. Minutes are an integer: 7.5 h = 450. */
export interface DeliveredTimeEntry {
  kind: 'timeEntry';
  /** The PSA's id of the time entry; the workflow dedupes on (kind, sourceId). */
  sourceId: string;
  projectId: string;
  taskId?: string;
  resourceId: string;
  role?: string;
  /** YYYY-MM-DD, or an ISO-8601 instant with a zone, which the deal places in the contracting entity's local day. */
  workDate: string;
  minutes: number;
  billable: boolean;
  notes?: string;
  approvedAt: string; // ISO-8601 instant
}

/** An approved expense; money in integer minor units of `currency`. */
export interface DeliveredExpense {
  kind: 'expense';
  sourceId: string;
  projectId: string;
  resourceId: string;
  category: string;
  incurredOn: string; // YYYY-MM-DD
  amountMinor: number;
  currency: string; // ISO 4217, upper case
  billable: boolean;
  notes?: string;
  approvedAt: string;
}

/** A milestone the PSA reports completed, or the customer accepted. */
export interface DeliveredMilestone {
  kind: 'milestone';
  sourceId: string;
  projectId: string;
  title?: string;
  status: 'completed' | 'accepted';
  at: string;
}

export type DeliveryItem = DeliveredTimeEntry | DeliveredExpense | DeliveredMilestone;

/** Many items per signal: never one workflow task per time entry. */
export interface DeliveryBatch {
  /** `<source>:<eventId>`; a repeated batch id is a no-op in the workflow. */
  batchId: string;
  source: 'kantata' | 'sweep';
  receivedAt: string;
  items: DeliveryItem[];
  /** Approvals the PSA withdrew (the relay's `*-unapproved` kinds); a worker from before them ignores the field. */
  unapprovals?: Unapproval[];
}

/** The PSA withdrew its approval of a time entry or an expense it had approved. */
export interface Unapproval {
  kind: 'timeEntry' | 'expense';
  /** The PSA's id of the item. */
  sourceId: string;
  /** ISO-8601 instant of the withdrawal. */
  at: string;
}

/**
 * A PSA item delivered again with other content than the delivery the deal took
 * (webhooks repeat; an identical repeat is no news). The first delivery stands:
 * nothing is billed twice; an operator corrects it (credit and rebill reads the PSA again).
 */
export interface DeliveryConflict {
  /** The deal's id of the item: TE-<psa id> or EX-<psa id>. */
  itemId: string;
  kind: 'TIME' | 'EXPENSE';
  /** The PSA's id. */
  sourceId: string;
  /** The batch that brought the other content, and when it arrived. */
  batchId: string;
  receivedAt: string;
  /** Each field that differs: the value the deal kept, and the one delivered again. */
  differences: Array<{ field: string; kept: string; received: string }>;
  /** Where the kept delivery was when the other arrived: waiting to be billed, or settled (billed, capped or excluded). */
  keptState: 'PENDING' | 'SETTLED';
}

/** Money movement reported by the payment processor (or the ERP through the sweep). */
export interface PaymentEvent {
  /** The processor's event id (Stripe `evt_...`); the workflow dedupes on it. */
  eventId: string;
  source: 'stripe';
  kind: 'invoice.paid' | 'payment_intent.succeeded' | 'charge.refunded';
  occurredAt: string;
  /**
   * invoice.paid: amount paid; payment_intent.succeeded: amount received;
   * charge.refunded: the charge's cumulative refunded amount (Stripe `amount_refunded`).
   */
  amountMinor: number;
  currency: string; // ISO 4217, upper case
  stripeInvoiceId?: string;
  paymentIntentId?: string;
  chargeId?: string;
  /** The canonical q2c invoice id (Stripe metadata `q2c_invoice_id`), when the object carries it. */
  invoiceId?: string;
  /** The invoice number (ERP tranId), for payments the sweep reads from the ERP. */
  invoiceNumber?: string;
}

/** An invoice's life as the deal tracks it (amounts in minor units of the contract currency). */
export interface InvoiceSummary {
  id: string;
  /** The number the customer sees (ERP tranId). */
  number: string;
  invoiceKey: string;
  issueDate: string;
  dueDate: string;
  period: { start: string; end: string };
  subtotalMinor: number;
  taxMinor: number;
  totalMinor: number;
  paidMinor: number;
  refundedMinor: number;
  writtenOffMinor: number;
  /** CREDITED: credit memos reversed the whole invoice before anything was paid. */
  status: 'AWAITING_APPROVAL' | 'POSTED' | 'PARTIALLY_PAID' | 'PAID' | 'OVERPAID' | 'WRITTEN_OFF' | 'REJECTED' | 'CREDITED';
  system: 'erp' | 'stripe';
  externalId?: string;
  /** Description, tax code and taxability as posted (set once posted; what a credit memo line repeats). */
  lines: Array<{ id: string; contractLineId: string; amountMinor: number; description?: string; taxCode?: string; taxable?: boolean }>;
  /** Credited by credit memos, tax included (set once a credit memo names the invoice); the open balance is total - paid - written off - credited. */
  creditedMinor?: number;
  /** The credit memos against the invoice (their numbers). */
  creditMemos?: string[];
  /** Collection of the invoice once it is past due (set by dunning, deals from 'dunning' on). */
  dunning?: InvoiceDunning;
  /** Issued after an amendment changed the bill-to customer: that customer (absent: the deal's own). */
  billTo?: { customerId: string; erpCustomerId: string };
  /** The business date payments first settled it in full (PAID or OVERPAID); kept if a refund reopens it. Days to pay = paidOn - issueDate. */
  paidOn?: string;
}

// ---------------------------------------------------------------- dunning

/** One step of a dunning policy: a reminder (and optionally a payment retry) so many days past the due date. */
export interface DunningStep {
  daysPastDue: number;
  /** Retry the payment first, where the billing system supports it (invoices issued in Stripe). */
  retryPayment?: boolean;
}

/** How the deal collects overdue invoices (DeliveryOptions.dunning; absent: DEFAULT_DUNNING). */
export interface DunningPolicy {
  /** Reminder steps; each sends one CRM task, at most once per invoice. */
  steps: DunningStep[];
  /** Days past due at which an open invoice raises DUNNING_ESCALATED (default: the last step's day). */
  escalateAfterDays?: number;
  /** Days after a promised date a payment may take to arrive before the promise counts as broken (default 3). */
  promiseGraceDays?: number;
  /** The furthest a promised date may lie ahead of the day it is given (default 60). */
  maxPromiseDays?: number;
}

/** A customer's promise to pay an invoice by a date (POST /deals/:id/invoices/:invoiceId/promise-to-pay). */
export interface PromiseToPayRequest {
  /** The operator's idempotency key: the same id again returns the first result and changes nothing. */
  requestId: string;
  invoiceId: string;
  by: string;
  /** YYYY-MM-DD in the contracting entity's calendar. */
  promisedOn: string;
  note: string;
}

export interface PromiseRecord {
  requestId: string;
  by: string;
  promisedOn: string;
  note: string;
  madeOn: string;
  /** Dunning is paused through this day; the promise is broken on the next if the balance is still open. */
  pausedThrough: string;
  /** Set when the promise ended: KEPT (settled by then) or BROKEN (on that day). */
  outcome?: 'KEPT' | 'BROKEN';
  endedOn?: string;
}

/** Where an invoice's collection stands: the facts the deal keeps (small; carried across continue-as-new). */
export interface InvoiceDunning {
  /** Reminders sent, oldest first: the step (days past due), the day and the balance named in it. */
  reminders: Array<{ step: number; on: string; openMinor: number }>;
  /** Steps passed while dunning was paused or superseded by a later one: never sent. */
  skipped?: number[];
  /** Payment retries in the billing system. */
  retries?: Array<{ step: number; on: string; outcome: 'PENDING' | 'PAID' | 'ALREADY_PAID' | 'DECLINED' | 'NOT_RETRIED'; detail?: string }>;
  /** Promises to pay, oldest first; the last may be open. */
  promises?: PromiseRecord[];
  escalatedOn?: string;
  /** In the deal's view only (not kept): where collection stands, and the next dunning date while the balance is open. */
  stage?: DunningStage;
  next?: { step: number; on: string; retryPayment?: boolean };
}

/** An invoice's dunning as the deal shows it (InvoiceSummary.dunning plus its stage and next step). */
export type DunningStage = 'NONE' | 'REMINDED' | 'RETRIED' | 'PROMISED' | 'PROMISE_BROKEN' | 'ESCALATED' | 'SETTLED';

/** An item the rules did not invoice, with the reason (nothing is silently dropped). */
export interface ReportedItem {
  sourceId: string;
  kind: string;
  contractLineId: string;
  serviceDate: string;
  reasonCode: string;
  amountMinor: number;
  detail?: string;
}

/** Something in delivery an operator must look at; the deal is NEEDS_ATTENTION while any is open. */
export interface AttentionItem {
  id: string;
  kind: 'OVERDUE' | 'APPROVAL_TIMEOUT' | 'UNMATCHED_PAYMENT' | 'POSTING_FAILED' | 'REVENUE_HELD' | 'DUNNING_ESCALATED' | 'PROMISE_BROKEN' | 'NO_RATE' | 'UNAPPROVED_AFTER_BILLING' | 'ISSUE_STALLED';
  /** REVENUE_HELD: the contract line whose allocation is full; NO_RATE: the line whose rate card has no row. */
  contractLineId?: string;
  /** NO_RATE, UNAPPROVED_AFTER_BILLING: the deal's ids of the items concerned (TE-…, EX-…). */
  itemIds?: string[];
  invoiceId?: string;
  /** ISSUE_STALLED: the issuing step the invoice is held in (see src/engagement/stalled-issue.ts). */
  issueStep?: IssueStep;
  message: string;
  raisedOn: string;
  /** Operators' notes (the annotateAttention update). */
  notes?: Array<{ at: string; by: string; text: string }>;
  /** Who is working on it. */
  assignee?: string;
}

/** A note on an open attention item and/or who works on it (an empty assignee unassigns). */
export interface AnnotateAttentionRequest {
  attentionId: string;
  by: string;
  note?: string;
  assignee?: string;
}

/** One calendar month of a contract's revenue waterfall; money in minor units of the contract currency, tax excluded. */
export interface RevenueWaterfallMonth {
  /** YYYY-MM. */
  month: string;
  /** POSTED: its revenue journal is in the ERP; OPEN: not yet posted, on or before today; SCHEDULED: after today. */
  status: 'POSTED' | 'OPEN' | 'SCHEDULED';
  /** Invoices issued in the month (subtotals). */
  billedMinor: number;
  /** Credit memos issued in the month (subtotals). */
  creditedMinor: number;
  /** Revenue posted for the month, net of reversals (POSTED months only). */
  recognisedMinor: number;
  /** Revenue queued or scheduled for a month not yet posted (a projection). */
  scheduledMinor: number;
  /** At month end: net billed above recognised (deferred revenue, a contract liability). */
  billedNotRecognisedMinor: number;
  /** At month end: recognised above net billed (a contract asset). */
  unbilledMinor: number;
  /** At month end: the contract's allocated value not yet recognised. */
  deferredMinor: number;
}

/** The revenue waterfall of a deal's contract, month by month (the `getRevenueWaterfall` query). */
export interface RevenueWaterfall {
  dealId: string;
  contractId: string;
  contractVersion: number;
  currency: string;
  asOf: string;
  revenuePostedThrough: string | null;
  /** The sum of the lines' allocated values (the transaction price). */
  contractValueMinor: number;
  /** Revenue billed above a line's allocated value, held until an amendment makes room. */
  heldMinor: number;
  months: RevenueWaterfallMonth[];
  totals: { billedMinor: number; creditedMinor: number; recognisedMinor: number; scheduledMinor: number };
}

export interface ClosingSummary {
  closedOn: string;
  currency: string;
  /** Settled items per class, in minor units; delivered = their sum. */
  totals: { BILLABLE: number; DEFERRED: number; CAPPED: number; EXCLUDED: number; delivered: number };
  invoices: Array<{ number: string; totalMinor: number; paidMinor: number; writtenOffMinor: number; status: InvoiceSummary['status']; creditedMinor?: number }>;
  invoicedMinor: number;
  taxMinor: number;
  collectedMinor: number;
  refundedMinor: number;
  writtenOffMinor: number;
  /** Value delivered but not collected: capped + excluded (billable kinds) + rejected + written off (+ credited net of tax, when anything was credited). */
  leakage: { cappedMinor: number; excludedMinor: number; rejectedMinor: number; writtenOffMinor: number; creditedMinor?: number; totalMinor: number };
  /**
   * Present when credit memos were issued: what they reversed. Invoiced amounts stay as issued;
   * BILLABLE in `totals` is what was billed, and `credited.subtotalMinor` of it was reversed.
   */
  credited?: { memos: number; subtotalMinor: number; taxMinor: number; totalMinor: number; rebilledMinor?: number };
  recognisedMinor: number;
  intercompanyMinor: number;
  /** The termination's effective date, when the contract was terminated. */
  terminatedOn?: string;
}

// ---------------------------------------------------------------- demo mode

/**
 * Demo mode (DeliveryOptions.demo, passed through DealInput.delivery): the deal's
 * business calendar runs accelerated from the contract start, one business day
 * every `dayMs` of real time, so a whole engagement (periods, payment terms,
 * overdue grace, contract end) plays out in minutes on a real server. Never set
 * for a real deal.
 */
export interface DemoOptions {
  /** Real milliseconds per business day (at least MIN_DEMO_DAY_MS). */
  dayMs: number;
}

/** How a demo deal maps real time to business time (ISO instants), for clients that must follow its calendar. */
export interface DemoClock {
  dayMs: number;
  /** The real instant delivery started in demo mode ... */
  realStart: string;
  /** ... was this business instant: local midnight of the contract start in `timeZone`. */
  businessStart: string;
  /** The contracting entity's zone: business dates are local dates there. */
  timeZone: string;
}

/** The delivery part of the deal's state. */
export interface DeliveryView {
  /** The business date of the deal's latest step (in demo mode, on the accelerated calendar). */
  asOf: string;
  /** Set in demo mode: the clock, so a client can tell the business date at any real instant. */
  demo?: DemoClock;
  currency: string;
  totals: ClosingSummary['totals'];
  pending: { time: number; expenses: number; milestones: number };
  invoices: InvoiceSummary[];
  held: ReportedItem[];
  excluded: ReportedItem[];
  attention: AttentionItem[];
  /** PSA items delivered again with other content (present once there is one); the first delivery stands. */
  conflicts?: DeliveryConflict[];
  /** Recognised revenue to date per contract line, and in total (minor units). */
  recognisedByLine: Record<string, number>;
  recognisedMinor: number;
  /** Revenue posted per recognition month ('YYYY-MM'). */
  recognisedByMonth: Record<string, number>;
  revenuePostedThrough: string | null;
  /** Revenue the lines' allocated values had no room for, per line (present once any is held). */
  revenueHeldByLine?: Record<string, number>;
  intercompanyMinor: number;
  unappliedMinor: number;
  runs: number;
  continuedAsNew: number;
  /** The contract version delivery bills against (amendments bump it). */
  contractVersion?: number;
  /** Applied amendments, oldest first (present once there is one). */
  amendments?: AmendmentRecord[];
  /** Issued credit memos, oldest first (present once there is one). */
  creditMemos?: CreditMemoSummary[];
  /** Set once the contract was terminated. */
  termination?: TerminationRecord;
  summary?: ClosingSummary;
}

export interface InvoiceDecision {
  invoiceId: string;
  decision: 'approve' | 'reject';
  by: string;
  reason?: string;
}
/** Approve or reject an invoice held at the approval checkpoint; the validator rejects unknown or decided invoices. */

export interface WriteOffRequest {
  invoiceId: string;
  by: string;
  reason: string;
}
/** Writes off an invoice's open balance (the deal can then close without it being paid). */

// ---------------------------------------------------------------- contract amendment

/** The PSA structure change orders added to the project, and the lines they removed (carried across continue-as-new). */
export interface ProjectScope {
  /** Phases (milestones, tasks) of added lines, as created on the deal's PSA project. */
  phases: Project['phases'];
  /** PSA id -> canonical id of their milestones and tasks, where the PSA uses its own ids. */
  psaIds: Record<string, string>;
  /** Lines removed from the contract: their ids are never given again, items on them are excluded. */
  removedLines: string[];
}

/** What a change order does to the project: lines added (and the phases they get), lines whose PSA records are archived. */
export interface ScopePlan {
  addedLines: string[];
  phases: Project['phases'];
  removedLines: string[];
}


/**
 * A change order against the contract version delivery bills from. The changes
 * are canonical amendment changes (src/canonical/amendment.ts); in delivery the
 * validator accepts UPDATE_LINE of cap, endDate, rateCardRef, discountBp and
 * allocatedValue, END_LINE, SET_TERMS of endDate, poNumber and paymentTerms (invoices issued from then on), ADD_LINE (a new
 * line and its PSA tasks; q2c gives the line id `<contractId>-L<n>`, the
 * milestone ids `<lineId>-M<k>`, the quote line reference and the dates when
 * the request leaves them out) and REMOVE_LINE (a line nothing was billed on).
 * A rate card or discount change applies to work dated on or after `effectiveDate`.
 */
export interface AmendContractRequest {
  /** The operator's idempotency key: the same id again returns the first result and changes nothing. */
  requestId: string;
  by: string;
  /** The contract version the change was written against; any other is refused (DEAL.AMENDMENT_VERSION_CONFLICT). */
  baseVersion: number;
  effectiveDate: string; // YYYY-MM-DD
  reason: string;
  changes: AmendmentChangeRequest[];
}

/** One applied amendment, as the deal keeps it. */
/**
 * Terminates the contract from an effective date (`POST /deals/:id/termination`): once per deal, idempotent per
 * request id. Items dated after the date are excluded; what is due up to it is billed at the lines' next regular
 * invoice; a refundable retainer's unused prepayment is credited; the PSA project is closed; the deal closes once
 * its invoices are settled.
 */
export interface TerminateContractRequest {
  requestId: string;
  by: string;
  reason: string;
  /** The contract's last day, YYYY-MM-DD in the contracting entity's calendar. */
  effectiveDate: string;
}

export interface TerminationRecord {
  requestId: string;
  by: string;
  reason: string;
  effectiveDate: string;
  appliedOn: string;
  /** The contract version the termination produced. */
  version: number;
  /** The ERP sales order the last version was posted to. */
  erpContractId?: string;
  /** Credit memos refunding refundable retainers' unused prepayment. */
  refunds: Array<{ contractLineId: string; amountMinor: number; creditMemoNumber: string }>;
  /** Whether the PSA project was closed (a failure is logged and left to the operator). */
  psaProjectClosed?: boolean;
  /** Whether the billing system's subscriptions (recurring charges billed by Stripe) were cancelled; absent when the deal has none. */
  recurringBillingCancelled?: boolean;
}

/** A bill-to customer an amendment named: as the CRM holds it, and its ERP customer record. */
export interface BillTo {
  customer: Customer;
  erpCustomerId: string;
}

export interface TerminateContractResult {
  termination: TerminationRecord;
  contractVersion: number;
}

export interface AmendmentRecord {
  /** `<contractId>-A<version>`. */
  id: string;
  requestId: string;
  by: string;
  reason: string;
  effectiveDate: string;
  baseVersion: number;
  /** The contract version the amendment produced (baseVersion + 1). */
  version: number;
  /** Business date it was applied on. */
  appliedOn: string;
  changes: AmendmentChangeRequest[];
  /** The ERP sales order the new version was posted to. */
  erpContractId?: string;
  /** A bill-to change: the new customer and its ERP record (invoices issued from then on go to it). */
  billTo?: { customerId: string; erpCustomerId: string };
  /** A rate change effective before work already invoiced: the credit and rebill of that work, per invoice. */
  rerated?: Array<{ invoiceNumber: string; creditMemoNumber: string; items: string[]; creditedMinor: number }>;
  /** Lines the change order added (ids q2c gave) and removed. */
  addedLines?: string[];
  removedLines?: string[];
  /**
   * What the PSA project got: canonical id -> PSA id of the added phases, milestones
   * and tasks; the removed lines' records archived (false: the PSA failed or cannot
   * archive single records; the operator closes them there).
   */
  psa?: { added: Record<string, string>; archived?: boolean };
}

export interface AmendContractResult {
  amendment: AmendmentRecord;
  contractVersion: number;
  /** Held over a cap on the lines whose cap changed, and how much of it the new caps admit (billed at the next invoice run). */
  heldOverCapMinor: number;
  releasableMinor: number;
}

/** Amends the contract in delivery; the validator refuses a stale base version, unknown lines and invalid values. */

// ---------------------------------------------------------------- credit memo

export interface CreditInvoiceRequest {
  /** The operator's idempotency key: the same id again returns the first credit memo and posts nothing. */
  requestId: string;
  /** The posted invoice: its id or its number. */
  invoiceId: string;
  by: string;
  reason: 'DISPUTE' | 'ERROR' | 'CANCELLATION';
  /** Why, in words (e.g. 'time entry 4711 disputed: not worked'). */
  note: string;
  /** What to credit: whole invoice lines, or named source items of a line. */
  lines: Array<{ invoiceLineId: string; sourceItemIds?: string[] }>;
  /**
   * Credit and rebill: the credited time entries and expenses are read again from the PSA (its corrected
   * hours or amounts) and billed anew at the lines' next invoice, rated as of their dates; what they had
   * consumed of a cap is given back first. Absent or false: a plain credit (the items stay credited, and a
   * cap keeps what they consumed).
   */
  rebill?: boolean;
  /**
   * A plain credit keeps what the credited items consumed of a cap (a disputed hour stays counted), so no
   * capped time is released. True: the credited amounts leave the cap's consumption, and time held over the
   * cap is released into the room, oldest first, on the line's next regular invoice. Not with `rebill`.
   */
  releaseCapped?: boolean;
}

export interface CreditMemoSummary {
  id: string;
  /** The ERP's transaction number. */
  number: string;
  externalId: string;
  requestId: string;
  invoiceId: string;
  invoiceNumber: string;
  issueDate: string;
  reason: CreditInvoiceRequest['reason'];
  note: string;
  by: string;
  subtotalMinor: number;
  /** Tax reversed with the credit (the tax engine's return document; 0 for untaxed lines). */
  taxMinor: number;
  totalMinor: number;
  lines: Array<{ id: string; originalInvoiceLineId: string; contractLineId: string; sourceItemIds: string[]; amountMinor: number; taxMinor: number }>;
  /** The lines the operator asked for (a repeated request id must ask for the same). */
  request: CreditInvoiceRequest['lines'];
  /** A credit and rebill: the items read again from the PSA and billed anew, those it no longer holds, and what the rebilled items had been invoiced at. */
  rebill?: { items: string[]; missing: string[]; amountMinor: number };
}

/** Credits source items (or whole lines) of a posted invoice with a credit memo in the ERP. */

// ---------------------------------------------------------------- the deal as delivery sees it

/** Everything later steps need, read once from the CRM and mapped to canonical form. */
export interface DealSnapshot {
  quote: Quote;
  contract: Contract;
  customer: Customer;
  contractingEntity: LegalEntity;
  /** Legal entities whose people deliver the work (intercompany when one differs from the contracting entity). */
  deliveringEntityIds: string[];
}

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
  /** Dunning of overdue invoices (absent: DEFAULT_DUNNING; false: none). */
  dunning?: DunningPolicy | false;
}

/** Where a resource's time is delivered from: drives rate region and intercompany. */
export interface ResourceInfo {
  legalEntityId: string;
  region?: string;
  role?: string;
}

/** What the workflow needs once per run to turn PSA items into canonical ones and price them. */
export interface BillingSetup {
  ruleSet: RuleSet;
  project: Pick<Project, 'id' | 'phases'>;
  /** PSA id -> canonical id (tasks, milestones), when the PSA uses its own ids. */
  psaIds: Record<string, string>;
  entities: Record<string, LegalEntity>;
  resources: Record<string, ResourceInfo>;
}

// ---------------------------------------------------------------- command inputs

/** A billing event as the audit trail keeps it. */
export interface AuditEvent {
  id: string;
  sourceId: string;
  kind: string;
  contractLineId: string;
  quoteLineId: string;
  amountMinor: number;
}

export interface IssueContext {
  dealId: string;
  opportunityId: string;
  psaProjectId?: string;
  erpCustomerId: string;
  erpSalesOrderId?: string;
  customer: Customer;
  seller: LegalEntity;
  /** Where the customer invoice lives: the ERP (default) or the billing system (Stripe). */
  system: 'erp' | 'stripe';
  billingCustomerId?: string;
  netDays: number;
}

export interface IssueRequest {
  invoice: Invoice;
  taxableLineIds: string[];
  events: AuditEvent[];
}

/**
 * Where issuing one invoice is: TAX (the tax commit, AvaTax), POST (tax committed, the invoice
 * to the ERP or Stripe), RECORD (posted; audit links and the CRM/PSA write-back).
 */
export type IssueStep = 'TAX' | 'POST' | 'RECORD';

/** A child invoice run tells its deal: an invoice held in a step (stalled), or the held step ended (not). */
export interface IssueProgress {
  invoiceId: string;
  step: IssueStep;
  stalled: boolean;
}

export interface IssueResult {
  invoiceId: string;
  ok: boolean;
  number?: string;
  externalId?: string;
  system?: 'erp' | 'stripe';
  taxMinor?: number;
  /** Failure type (e.g. 'ERP.CUSTOMER_INVALID') when the invoice could not be posted. */
  errorCode?: string;
  errorMessage?: string;
}

/** What the audit trail keeps of one credit memo line's source item. */
export interface CreditAuditItem {
  creditLineId: string;
  invoiceLineId: string;
  sourceId: string;
  sourceKind: string;
  billingEventId: string | null;
  contractLineId: string;
  quoteLineId: string | null;
  amountMinor: number;
}

/** One source item of a posted invoice line, as the audit trail links them. */
export interface InvoiceItemLink {
  invoiceLineId: string;
  sourceId: string;
  billingEventId: string | null;
  sourceKind: string;
  contractLineId: string;
  quoteLineId: string | null;
  amountMinor: number | null;
}
