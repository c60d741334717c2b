import type { Contract, ContractLine, RevenueScheduleLine } from '../canonical';
import { currencyRule, mulDiv } from '../canonical/money-math';
import { addDays, addMonths, dayNumber, daysInclusive, fromDayNumber } from '../rules/dates';
import { revenueSchedule } from '../rules/revenue';
import { contractOf, isPosted, type Deal } from './deal';
import type { CreditInvoiceRequest, InvoiceSummary, TerminateContractRequest, TerminationRecord } from './model';
import { refuse } from './refusal';
import { queueRevenue } from './revenue';
import type { EngagementState } from './state';

/*
 * Termination of the contract from an effective date: a last contract version
 * that ends there. Delivery bills what is dated up to it (at the line's next
 * regular invoice) and excludes what is dated after it; subscriptions stop
 * (the last period prorated by days); a ratable line keeps the revenue its
 * days earned; a retainer expires on that date, and a refundable one credits
 * its unused prepayment. The validator and the handler both ask
 * terminationFor, so a refusal and an application cannot disagree.
 */

const validDate = (x: unknown): x is string => typeof x === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(x) && fromDayNumber(dayNumber(x)) === x;

/** The termination this request id already applied, after checking the repeat asks for the same; a second, different termination is refused. */
export function priorTermination(s: EngagementState, req: TerminateContractRequest): TerminationRecord | undefined {
  if (typeof req?.requestId !== 'string' || !req.requestId.trim()) refuse('DEAL.ACTION_INVALID', 'a termination needs a requestId');
  const done = s.termination;
  if (!done) return undefined;
  if (done.requestId !== req.requestId) refuse('DEAL.ALREADY_TERMINATED', `the contract was terminated from ${done.effectiveDate} by request ${done.requestId}`);
  if (done.effectiveDate !== req.effectiveDate || done.reason !== req.reason || done.by !== req.by) refuse('DEAL.REQUEST_ID_REUSED', `request ${req.requestId} already terminated the contract with other content`);
  return done;
}

/** The revenue a ratable line's days up to `end` earn of its allocated value (half-even); a subscription earns what its periods bill. */
const earnedThrough = (line: ContractLine, end: string): number => mulDiv([line.allocatedValue.amountMinor, daysInclusive(line.startDate, end)], daysInclusive(line.startDate, line.endDate));

/** What a termination credits: a refundable retainer's unused prepayment, or the part of a subscription period billed in advance after the date. */
export interface TerminationRefund {
  contractLineId: string;
  /** The billed item it credits part of (the retainer's prepayment, the subscription period). */
  sourceId: string;
  amountMinor: number;
}

const PERIOD_MONTHS = { MONTHLY: 1, QUARTERLY: 3, ANNUAL: 12 } as const;

/**
 * A subscription line cut on `eff`: what its periods up to the date come to
 * (the last one prorated by days, as the billing rules prorate a short period),
 * and the refund of a period billed in advance beyond the date.
 */
function subscriptionCut(s: EngagementState, l: ContractLine, eff: string, rounding: ReturnType<typeof currencyRule>['rounding'], inErp: boolean): { earned: number; refund?: TerminationRefund } {
  const sub = l.subscription!;
  const k = PERIOD_MONTHS[sub.period];
  const amount = sub.amountPerPeriod.amountMinor;
  const part = (start: string, end: string, fullEnd: string) => (end === fullEnd ? amount : mulDiv([amount, daysInclusive(start, end)], daysInclusive(start, fullEnd), rounding));
  let earned = 0;
  for (let i = 0; ; i++) {
    const start = addMonths(l.startDate, i * k);
    if (start > eff) return { earned };
    const fullEnd = addDays(addMonths(l.startDate, (i + 1) * k), -1);
    const end = fullEnd <= l.endDate ? fullEnd : l.endDate;
    if (end <= eff) {
      earned += part(start, end, fullEnd);
      continue;
    }
    const kept = part(start, eff, fullEnd);
    earned += kept;
    const sourceId = `SUB:${l.id}:${start}`;
    const billed = part(start, end, fullEnd);
    return inErp && sub.timing === 'IN_ADVANCE' && s.processedIds.includes(sourceId) && billed > kept ? { earned, refund: { contractLineId: l.id, sourceId, amountMinor: billed - kept } } : { earned };
  }
}

/** What a termination does to the contract: its last version, and the retainer prepayment to refund. */
export interface TerminationPlan {
  next: Contract;
  refunds: TerminationRefund[];
}

/**
 * The last contract version, ending on the effective date, or a refusal naming
 * what is wrong. A refundable retainer's unused balance (prepaid, less
 * credited, less drawn) is refunded and leaves the prepayment: work dated up
 * to the termination that arrives later is overage, as on an exhausted retainer.
 */
export function terminationFor(s: EngagementState, d: Deal, req: TerminateContractRequest): TerminationPlan {
  const c = contractOf(s, d);
  if (!req.by?.trim() || !req.reason?.trim()) refuse('DEAL.ACTION_INVALID', 'a termination needs `by` and `reason`');
  if (!validDate(req.effectiveDate)) refuse('DEAL.TERMINATION_INVALID', 'effectiveDate: expected a date, YYYY-MM-DD');
  const eff = req.effectiveDate;
  if (eff < c.startDate) refuse('DEAL.TERMINATION_INVALID', `effectiveDate: ${eff} is before the contract starts (${c.startDate})`);
  if (eff >= c.endDate) refuse('DEAL.TERMINATION_INVALID', `effectiveDate: the contract ends on ${c.endDate} anyway; a termination ends it earlier`);
  // Work already invoiced for a period after the date must be credited first: a termination never un-bills silently.
  const after = s.invoices.find((i) => isPosted(s, i) && i.status !== 'REJECTED' && i.status !== 'CREDITED' && i.period.start > eff);
  if (after) refuse('DEAL.TERMINATION_INVALID', `invoice ${after.number} bills ${after.period.start}..${after.period.end}, after ${eff}: credit it before terminating from that date`);
  const refunds: TerminationRefund[] = [];
  const lines = c.lines
    .filter((l) => l.startDate <= eff)
    .map((l): ContractLine => {
      let line = l;
      if (l.retainer?.refundable && s.billedByLine[l.id] !== undefined) {
        const unused = l.retainer.prepaid.amountMinor - (s.revenue.prepaidCreditedByLine?.[l.id] ?? 0) - (s.drawnByLine[l.id] ?? 0);
        if (unused > 0) {
          refunds.push({ contractLineId: l.id, sourceId: `RETAINER:${l.id}`, amountMinor: unused });
          line = { ...line, retainer: { ...l.retainer, prepaid: { ...l.retainer.prepaid, amountMinor: l.retainer.prepaid.amountMinor - unused } } };
        }
      }
      if (l.endDate <= eff) return line;
      let earned = l.revenueTreatment === 'RATABLE_DAILY' ? earnedThrough(l, eff) : undefined;
      if (l.billingModel === 'SUBSCRIPTION' && l.subscription) {
        const cut = subscriptionCut(s, l, eff, currencyRule(c.currency).rounding, !d.stripeSubscriptions);
        earned = cut.earned;
        if (cut.refund) refunds.push(cut.refund);
      }
      return {
        ...line,
        endDate: eff,
        ...(earned !== undefined ? { allocatedValue: { ...l.allocatedValue, amountMinor: earned } } : {}),
        ...(line.retainer && line.retainer.expiresOn > eff ? { retainer: { ...line.retainer, expiresOn: eff } } : {}),
      };
    });
  return { next: { ...c, version: c.version + 1, status: 'TERMINATED', endDate: eff, lines }, refunds };
}

export const terminationRecord = (req: TerminateContractRequest, next: Contract, today: string): TerminationRecord => ({
  requestId: req.requestId,
  by: req.by,
  reason: req.reason,
  effectiveDate: req.effectiveDate,
  appliedOn: today,
  version: next.version,
  refunds: [],
});

/**
 * The deal moves to the last version. A ratable line cut short keeps what its
 * days earned: what it has not yet queued of that comes as one line on the
 * effective date (negative when more was recognised than earned), and the
 * shorter schedule's own lines are marked seen so nothing is counted twice.
 */
export function applyTermination(s: EngagementState, d: Deal, next: Contract, record: TerminationRecord): void {
  const prev = contractOf(s, d);
  const rv = s.revenue;
  const trueUps: RevenueScheduleLine[] = [];
  const schedule = revenueSchedule({ contract: next, decisions: [], invoices: [], asOf: next.endDate }).lines;
  for (const l of next.lines) {
    const before = prev.lines.find((x) => x.id === l.id)!;
    if (l.revenueTreatment !== 'RATABLE_DAILY' || before.endDate === l.endDate) continue;
    for (const x of schedule) if (x.contractLineId === l.id && !rv.ids.includes(x.id)) rv.ids.push(x.id);
    const queued = (rv.recognisedByLine[l.id] ?? 0) + rv.pending.filter((x) => x.contractLineId === l.id).reduce((a, x) => a + x.amount.amountMinor, 0);
    const rest = l.allocatedValue.amountMinor - queued;
    if (rest !== 0) trueUps.push({ id: `REV-TERM-${l.id}`, contractId: next.id, contractLineId: l.id, treatment: l.revenueTreatment, kind: rest > 0 ? 'RECOGNITION' : 'REVERSAL', recognitionDate: l.endDate, amount: { amountMinor: rest, currency: next.currency }, sourceIds: [`TERMINATION:${record.requestId}`] });
  }
  s.contract = next;
  s.termination = record;
  queueRevenue(s, trueUps);
}

/** Posted invoices that may carry a retainer's prepayment, oldest first: those with a line for it. */
export const prepaymentCandidates = (s: EngagementState, refund: TerminationRefund): InvoiceSummary[] =>
  s.invoices.filter((i) => isPosted(s, i) && i.status !== 'REJECTED' && i.lines.some((l) => l.contractLineId === refund.contractLineId));

/** The credit request that refunds a retainer's unused prepayment (its amount is the refund's, not the item's). */
export const refundRequest = (record: TerminationRecord, inv: InvoiceSummary, invoiceLineId: string, refund: TerminationRefund): CreditInvoiceRequest => ({
  requestId: `${record.requestId}:refund:${refund.sourceId}`,
  invoiceId: inv.id,
  by: record.by,
  reason: 'CANCELLATION',
  note: refund.sourceId.startsWith('SUB:') ? `subscription billed in advance beyond the termination on ${record.effectiveDate}` : `unused retainer prepayment refunded on termination from ${record.effectiveDate}`,
  lines: [{ invoiceLineId, sourceItemIds: [refund.sourceId] }],
});
