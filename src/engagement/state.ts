import type { Contract, Expense, Invoice, MilestoneCompletion, RevenueScheduleLine, TimeEntry } from '../canonical';
import type { Decision } from '../rules/billability';
import type { CreditableInvoice } from '../rules/credit';
import type { AmendmentRecord, ProjectScope, AttentionItem, BillTo, TerminationRecord, AuditEvent, CreditMemoSummary, DeliveryBatch, DeliveryConflict, InvoiceSummary, PaymentEvent, ReportedItem } from './model';

/** What arrives before it can be processed: buffered by the handlers, drained by the loop. */
export interface DeliveryInbox {
  batches: DeliveryBatch[];
  payments: PaymentEvent[];
  recentBatchIds: string[];
}

export interface Draft {
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
  revenue: {
    pending: RevenueScheduleLine[];
    ids: string[];
    postedThrough: string | null;
    recognisedByLine: Record<string, number>;
    byMonth: Record<string, number>;
    /** Revenue per line that its allocated value had no room for: held (an attention item) until an amendment makes room. */
    held?: Record<string, number>;
    /** Retainer prepayment credited by credit memos, per line: not revenue, it lowers the breakage at expiry. */
    prepaidCreditedByLine?: Record<string, number>;
  };
  intercompanyMinor: number;
  attention: AttentionItem[];
  runSeq: number;
  lastRunOn: string | null;
  immediate: boolean;
  continuedAsNew: number;
  /** Demo mode only: the real and business instants the accelerated calendar starts from (kept across continue-as-new). */
  demoAnchor?: { realStartMs: number; businessStartMs: number };
  /** The current contract version once an amendment changed it (absent: the snapshot's). */
  contract?: Contract;
  /** Applied amendments, oldest first. */
  amendments?: AmendmentRecord[];
  /** Rate terms replaced by amendments, per line: work dated before `until` is rated with them. */
  rateHistory?: Record<string, RateTerms[]>;
  /** Lines whose cap an amendment changed: held over-cap parts there are released as the cap admits them. */
  capAmendedLines?: string[];
  /** Over-cap parts an amended cap released, waiting for their line's next regular invoice (the period holding `billOn`). */
  releasing?: Array<Decision & { billOn: string }>;
  /** The over-cap parts of time entries, kept so a raised cap can bill them later. */
  overCap?: OverCapPart[];
  /** Posted invoices as issued (lines with their source items and billing events), kept only by runs from before 'credit-basis-from-audit'. */
  creditBasis?: Record<string, CreditBasis>;
  /** Issued credit memos, oldest first. */
  creditMemos?: CreditMemoSummary[];
  /** Bill-to customers amendments named, oldest first; the last is the one invoices go to now. */
  billTos?: BillTo[];
  /** Rebill rounds per PSA item id: a rebilled item is taken again as `<id>~R<round>`. */
  rebillRounds?: Record<string, number>;
  /** Phases scope change orders added to the PSA project, and lines they removed (absent: none). */
  scope?: ProjectScope;
  /** The termination, once the contract was terminated (the contract is then its last version). */
  termination?: TerminationRecord;
  /**
   * What each time entry and expense was delivered with, per `seen` key (runs from
   * 'delivery-conflicts' on): a repeat with other content is a conflict, not a no-op.
   * Carried for every item: about 58 bytes per relay time entry (`seen` takes 12).
   */
  delivered?: Record<string, string>;
  /** PSA items delivered again with other content, oldest first. */
  conflicts?: DeliveryConflict[];
  /** `seen` keys of unbilled items the PSA un-approved (taken back): approved again, their EXCLUDED.UNAPPROVED entry goes. */
  withdrawn?: string[];
}

/** A line's rate terms before an amendment changed them. */
export interface RateTerms {
  until: string;
  rateCardRef?: string;
  discountBp: number;
}

/** The part of a time entry held over a not-to-exceed cap, with what it needs to be invoiced later. */
export interface OverCapPart {
  sourceId: string;
  kind: Decision['kind'];
  contractLineId: string;
  projectId: string;
  serviceDate: string;
  amountMinor: number;
  minutes: number;
  lineKey: string;
  lineDescription: string;
}

/**
 * A posted invoice as the credit rules need it. Runs whose histories predate
 * 'credit-basis-from-audit' keep one per posted invoice in `creditBasis`; newer
 * runs derive it when a credit is asked for, from the invoice's audit links, its
 * summary lines and the credit memos already issued.
 */
export interface CreditBasis {
  invoice: CreditableInvoice;
  events: AuditEvent[];
  /** Source items already credited, per invoice line. */
  credited: Record<string, string[]>;
  taxCreditedMinor: number;
}

export interface DeliveryCarry {
  state: EngagementState;
  inbox: DeliveryInbox;
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
