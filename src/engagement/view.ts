import { addDays, monthIndex, monthStart } from '../rules/dates';
import { localMidnight, weekStartOf } from './calendar';
import { approvalDays, contractOf, graceDays, isPosted, isSettled, type Deal } from './deal';
import { dunningDates, withStage } from './dunning';
import type { ClosingSummary, DemoClock, DeliveryView, InvoiceSummary } from './model';
import type { DealBillingBasis } from './ruleset-impact';
import type { EngagementState } from './state';

/*
 * What the deal shows and when it next wakes: the delivery view, the closing
 * summary, the close condition and the next business instant something is due.
 */

const pendingCount = (s: EngagementState): number => s.pending.time.length + s.pending.expenses.length + s.pending.milestones.length;

/** The contract has ended, nothing is pending, unissued or unmatched, no item is open, and every invoice is settled. */
export const canClose = (s: EngagementState, d: Deal, today: string): boolean =>
  today > contractOf(s, d).endDate && pendingCount(s) === 0 && s.drafts.length === 0 && s.attention.length === 0 && s.payments.unmatched.length === 0 && s.invoices.every(isSettled);

/**
 * Work that should not wait for the next timer: status write-backs, operator decisions to carry out, an
 * immediate invoice run (a rebill an operator update queued; intake's own immediate items are run in the
 * pass that takes them, so between passes this is only ever an update's).
 */
export const hasWork = (s: EngagementState): boolean => s.statusSyncs.length > 0 || s.immediate || s.drafts.some((x) => x.approval === 'APPROVED' || x.approval === 'REJECTED');

/** NEEDS_ATTENTION while any delivery item is open, IN_DELIVERY otherwise. */
export const wantedStage = (s: EngagementState): 'NEEDS_ATTENTION' | 'IN_DELIVERY' => (s.attention.length > 0 ? 'NEEDS_ATTENTION' : 'IN_DELIVERY');

/** The next instant something is due: a period boundary, the contract end, an overdue, dunning or approval deadline. */
export function nextWake(s: EngagementState, d: Deal, today: string): number {
  const contract = contractOf(s, d);
  const dates: string[] = [monthStart(monthIndex(today) + 1)];
  if (contract.lines.some((l) => l.invoiceSchedule === 'WEEKLY')) dates.push(addDays(weekStartOf(today, contract.billingTerms.weekStartsOn), 7));
  if (today <= contract.endDate) dates.push(addDays(contract.endDate, 1));
  for (const inv of s.invoices) if (isPosted(s, inv) && !isSettled(inv)) dates.push(addDays(inv.dueDate, graceDays(d)));
  dates.push(...dunningDates(s, d));
  const days = approvalDays(d);
  for (const draft of s.drafts) {
    if (draft.approval === 'REQUIRED') dates.push(addDays(draft.requestedOn, days));
    if (draft.failed) dates.push(addDays(today, 1));
  }
  const next = dates.filter((x) => x > today).sort()[0]!;
  return localMidnight(next, d.tz);
}

const totalsOf = (s: EngagementState): ClosingSummary['totals'] => ({ BILLABLE: s.totals.BILLABLE, DEFERRED: s.deferredMinor, CAPPED: s.totals.CAPPED, EXCLUDED: s.totals.EXCLUDED, delivered: s.totals.delivered + s.deferredMinor });
const recognised = (s: EngagementState): number => Object.values(s.revenue.recognisedByLine).reduce((a, b) => a + b, 0);

export function deliveryView(s: EngagementState, d: Deal, asOf: string, demo?: DemoClock): DeliveryView {
  const contract = contractOf(s, d);
  return {
    asOf,
    ...(demo ? { demo } : {}),
    currency: contract.currency,
    totals: totalsOf(s),
    pending: { time: s.pending.time.length, expenses: s.pending.expenses.length, milestones: s.pending.milestones.length },
    invoices: s.invoices.map((inv) => withStage(inv, d)),
    held: s.held,
    excluded: s.excluded,
    attention: s.attention,
    ...(s.conflicts?.length ? { conflicts: s.conflicts } : {}),
    recognisedByLine: s.revenue.recognisedByLine,
    recognisedMinor: recognised(s),
    recognisedByMonth: s.revenue.byMonth,
    revenuePostedThrough: s.revenue.postedThrough,
    ...(s.revenue.held ? { revenueHeldByLine: s.revenue.held } : {}),
    intercompanyMinor: s.intercompanyMinor,
    unappliedMinor: s.payments.unmatched.reduce((a, p) => a + (p.kind === 'charge.refunded' ? 0 : p.amountMinor), 0) + s.invoices.reduce((a, i) => a + Math.max(0, i.paidMinor - (i.totalMinor - (i.creditedMinor ?? 0))), 0),
    runs: s.runSeq,
    continuedAsNew: s.continuedAsNew,
    contractVersion: contract.version,
    ...(s.amendments?.length ? { amendments: s.amendments } : {}),
    ...(s.creditMemos?.length ? { creditMemos: s.creditMemos } : {}),
    ...(s.termination ? { termination: s.termination } : {}),
  };
}

export function closingSummary(s: EngagementState, d: Deal, today: string): ClosingSummary {
  const inv = s.invoices.filter((i) => i.status !== 'REJECTED');
  const sum = (f: (i: InvoiceSummary) => number, list = inv) => list.reduce((a, i) => a + f(i), 0);
  const rejectedMinor = sum((i) => i.subtotalMinor, s.invoices.filter((i) => i.status === 'REJECTED'));
  const writtenOffMinor = sum((i) => i.writtenOffMinor);
  // Credit memos: present only once there is one, so summaries of deals without credits keep their shape.
  const memos = s.creditMemos ?? [];
  // What a credit and rebill billed again is not leakage: only what stayed credited is.
  const rebilled = memos.reduce((a, m) => a + (m.rebill?.amountMinor ?? 0), 0);
  const credited = memos.length > 0 ? { memos: memos.length, subtotalMinor: memos.reduce((a, m) => a + m.subtotalMinor, 0), taxMinor: memos.reduce((a, m) => a + m.taxMinor, 0), totalMinor: memos.reduce((a, m) => a + m.totalMinor, 0), ...(rebilled > 0 ? { rebilledMinor: rebilled } : {}) } : undefined;
  const creditedNet = (credited?.subtotalMinor ?? 0) - rebilled;
  return {
    closedOn: today,
    currency: contractOf(s, d).currency,
    totals: totalsOf(s),
    invoices: s.invoices.map((i) => ({ number: i.number, totalMinor: i.totalMinor, paidMinor: i.paidMinor, writtenOffMinor: i.writtenOffMinor, status: i.status, ...(i.creditedMinor ? { creditedMinor: i.creditedMinor } : {}) })),
    invoicedMinor: sum((i) => i.totalMinor),
    taxMinor: sum((i) => i.taxMinor),
    collectedMinor: sum((i) => i.paidMinor),
    refundedMinor: sum((i) => i.refundedMinor),
    writtenOffMinor,
    leakage: { cappedMinor: s.totals.CAPPED, excludedMinor: s.totals.EXCLUDED, rejectedMinor, writtenOffMinor, ...(credited ? { creditedMinor: creditedNet } : {}), totalMinor: s.totals.CAPPED + rejectedMinor + writtenOffMinor + creditedNet },
    ...(credited ? { credited } : {}),
    recognisedMinor: recognised(s),
    intercompanyMinor: s.intercompanyMinor,
    ...(s.termination ? { terminatedOn: s.termination.effectiveDate } : {}),
  };
}

/** Demo mode: the business date and the money so far, for the Web UI's current details. */
export function demoDetails(s: EngagementState, d: Deal, demo: DemoClock, stage: string, today: string, nextDate?: string): string {
  const contract = contractOf(s, d);
  const money = (minor: number) => `${contract.currency} ${(minor / 100).toFixed(2)}`;
  const inv = s.invoices.filter((i) => i.status !== 'REJECTED' && i.status !== 'AWAITING_APPROVAL');
  return [
    `**Demo mode**: 1 business day every ${demo.dayMs} ms (calendar from ${contract.startDate}, ${demo.timeZone})`,
    `**Business date** ${today}${nextDate ? `, next step ${nextDate}` : ''}; contract ends ${contract.endDate}`,
    `**Stage** ${stage}; invoices ${inv.length} (${inv.filter(isSettled).length} settled); invoiced ${money(inv.reduce((a, i) => a + i.totalMinor, 0))}, collected ${money(inv.reduce((a, i) => a + i.paidMinor, 0))}`,
  ].join('\n\n');
}

/** What the deal's billing-basis query answers (read-only; the rule-set preview prices the deal's deliveries with it). */
export function billingBasis(s: EngagementState, d: Deal, asOf: string): DealBillingBasis {
  const { project, psaIds, entities, resources } = d.setup;
  return { opportunityId: d.opportunityId, asOf, contract: contractOf(s, d), snapshot: d.snapshot, setup: { project, psaIds, entities, resources }, ids: d.ids };
}
