import { DEAL_STAGES, type DealStage, type DealView, type DeliveryView, type InvoiceSummary, type RevenueWaterfall } from '../../contract';
import type { DealSummary } from '../deal-gateway';

// Pure aggregation for the deals pages: no I/O, tested without a server.

/** Deals per stage, every stage listed (zero included), in the order a deal passes them. */
export function funnel(deals: readonly Pick<DealSummary, 'stage'>[]): Array<{ stage: DealStage; count: number }> {
  const counts = new Map<string, number>();
  for (const d of deals) if (d.stage) counts.set(d.stage, (counts.get(d.stage) ?? 0) + 1);
  return DEAL_STAGES.map((stage) => ({ stage, count: counts.get(stage) ?? 0 }));
}

/** A deal's money in its contract currency, minor units. */
export interface DealAmounts {
  currency: string;
  /** The sum of the contract lines' allocated values (the revenue waterfall's transaction price), when known. */
  contractValueMinor?: number;
  /** Issued invoices, tax included (neither held for approval nor rejected). */
  invoicedMinor: number;
  /** Paid less refunded. */
  collectedMinor: number;
  /** Open balances of issued invoices: total - paid - written off - credited, never below zero. */
  outstandingMinor: number;
  /** Invoices held at the approval threshold. */
  awaitingApprovalMinor: number;
  recognisedMinor: number;
}

const ISSUED: ReadonlySet<InvoiceSummary['status']> = new Set(['POSTED', 'PARTIALLY_PAID', 'PAID', 'OVERPAID', 'WRITTEN_OFF', 'CREDITED']);

/** The open balance of an issued invoice (0 for one held, rejected or settled). */
export const openBalance = (i: InvoiceSummary): number =>
  ISSUED.has(i.status) ? Math.max(0, i.totalMinor - i.paidMinor + i.refundedMinor - i.writtenOffMinor - (i.creditedMinor ?? 0)) : 0;

export function dealAmounts(delivery: DeliveryView, waterfall?: Pick<RevenueWaterfall, 'contractValueMinor'>): DealAmounts {
  const issued = delivery.invoices.filter((i) => ISSUED.has(i.status));
  const sum = (list: readonly InvoiceSummary[], f: (i: InvoiceSummary) => number) => list.reduce((a, i) => a + f(i), 0);
  return {
    currency: delivery.currency,
    ...(waterfall ? { contractValueMinor: waterfall.contractValueMinor } : {}),
    invoicedMinor: sum(issued, (i) => i.totalMinor),
    collectedMinor: sum(issued, (i) => i.paidMinor - i.refundedMinor),
    outstandingMinor: sum(issued, openBalance),
    awaitingApprovalMinor: sum(delivery.invoices.filter((i) => i.status === 'AWAITING_APPROVAL'), (i) => i.totalMinor),
    recognisedMinor: delivery.recognisedMinor,
  };
}

/** Adds each deal's amounts into per-currency totals (never across currencies). */
export function totalsByCurrency(amounts: readonly DealAmounts[]): Map<string, Omit<DealAmounts, 'currency'>> {
  const out = new Map<string, Omit<DealAmounts, 'currency'>>();
  for (const a of amounts) {
    const t = out.get(a.currency) ?? { contractValueMinor: 0, invoicedMinor: 0, collectedMinor: 0, outstandingMinor: 0, awaitingApprovalMinor: 0, recognisedMinor: 0 };
    t.contractValueMinor = (t.contractValueMinor ?? 0) + (a.contractValueMinor ?? 0);
    t.invoicedMinor += a.invoicedMinor;
    t.collectedMinor += a.collectedMinor;
    t.outstandingMinor += a.outstandingMinor;
    t.awaitingApprovalMinor += a.awaitingApprovalMinor;
    t.recognisedMinor += a.recognisedMinor;
    out.set(a.currency, t);
  }
  return out;
}

/** One line of a deal's end-to-end timeline. */
export interface TimelineEvent {
  /** ISO date or instant; events sort by it. */
  at: string;
  kind: 'stage' | 'invoice' | 'payment' | 'credit' | 'amendment' | 'revenue' | 'termination';
  text: string;
  amountMinor?: number;
  /** Invoices: paid so far (less nothing: refunds are shown on the invoice table), and written off. */
  paidMinor?: number;
  writtenOffMinor?: number;
}

/**
 * quote -> contract -> project -> invoices -> payments -> revenue, oldest first: the stage
 * transitions the workflow recorded, each invoice (issued, with what is paid and written off),
 * credit memos, amendments, and revenue posted per month.
 */
export function dealTimeline(view: DealView, delivery?: DeliveryView): TimelineEvent[] {
  const out: TimelineEvent[] = view.timeline.map((t) => ({ at: t.at, kind: 'stage', text: t.stage.replace(/_/g, ' ').toLowerCase() + (t.note ? ` — ${t.note}` : '') }));
  if (view.ids.envelopeId) out.push({ at: view.timeline.find((t) => t.stage === 'CONTRACT_OUT_FOR_SIGNATURE')?.at ?? view.timeline[0]?.at ?? '', kind: 'stage', text: `contract envelope ${view.ids.envelopeId}` });
  if (delivery) {
    for (const i of delivery.invoices) {
      out.push({ at: i.issueDate, kind: 'invoice', text: `invoice ${i.number} (${i.status.replace(/_/g, ' ').toLowerCase()}), period ${i.period.start} – ${i.period.end}, due ${i.dueDate}`, amountMinor: i.totalMinor, paidMinor: i.paidMinor, ...(i.writtenOffMinor ? { writtenOffMinor: i.writtenOffMinor } : {}) });
      // The deal keeps the day payments settled an invoice in full (partial payments show on the invoice's paid total).
      if (i.paidOn) out.push({ at: i.paidOn, kind: 'payment', text: `invoice ${i.number} paid in full, ${daysBetween(i.issueDate, i.paidOn)} days after it was issued`, amountMinor: i.paidMinor });
    }
    for (const c of delivery.creditMemos ?? []) out.push({ at: c.issueDate, kind: 'credit', text: `credit memo ${c.number} on ${c.invoiceNumber} by ${c.by}: ${c.note}`, amountMinor: c.totalMinor });
    for (const a of delivery.amendments ?? []) out.push({ at: a.appliedOn, kind: 'amendment', text: `amendment ${a.id} (v${a.baseVersion} -> v${a.version}) by ${a.by}: ${a.reason}` });
    for (const [month, minor] of Object.entries(delivery.recognisedByMonth).sort(([a], [b]) => a.localeCompare(b))) out.push({ at: monthEnd(month), kind: 'revenue', text: `revenue recognised for ${month}`, amountMinor: minor });
    if (delivery.termination) out.push({ at: delivery.termination.appliedOn, kind: 'termination', text: `terminated from ${delivery.termination.effectiveDate} by ${delivery.termination.by}: ${delivery.termination.reason}` });
  }
  // Stable: events of one day keep their order (stage, invoice, payment ...).
  return out.map((e, n) => ({ e, n })).sort((a, b) => a.e.at.slice(0, 10).localeCompare(b.e.at.slice(0, 10)) || a.n - b.n).map(({ e }) => e);
}

/** The contract's versions: v1 from the quote, then one per amendment (and the termination's). */
export function contractVersions(delivery?: DeliveryView): Array<{ version: number; from: string; by?: string; reason: string; changes: string[] }> {
  if (!delivery) return [];
  const out: Array<{ version: number; from: string; by?: string; reason: string; changes: string[] }> = [{ version: 1, from: '', reason: 'signed quote', changes: [] }];
  for (const a of delivery.amendments ?? []) {
    out.push({ version: a.version, from: a.effectiveDate, by: a.by, reason: a.reason, changes: a.changes.map((c) => ('lineId' in c ? `${c.op} ${c.lineId}` : c.op)) });
  }
  if (delivery.termination) out.push({ version: delivery.termination.version, from: delivery.termination.effectiveDate, by: delivery.termination.by, reason: `termination: ${delivery.termination.reason}`, changes: ['TERMINATE'] });
  return out;
}

const daysBetween = (from: string, to: string): number => Math.round((Date.parse(to) - Date.parse(from)) / 86_400_000);

/** 'YYYY-MM' -> its last day, 'YYYY-MM-DD' (revenue is posted for the month at its end). */
const monthEnd = (month: string): string => {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return `${month}-${String(new Date(Date.UTC(y, m, 0)).getUTCDate()).padStart(2, '0')}`;
};
