import { monthIndex, monthStart } from '../rules/dates';
import { revenueSchedule } from '../rules/revenue';
import { contractOf, isPosted, type Deal } from './deal';
import type { RevenueWaterfall, RevenueWaterfallMonth } from './model';
import type { EngagementState } from './state';

/*
 * The revenue waterfall of the deal's contract: per calendar month what was
 * billed, credited and recognised, what is still scheduled, and the balances
 * finance reconciles at month end. Read from the engagement state only.
 */

const add = (m: Map<number, number>, mi: number, amount: number): void => {
  m.set(mi, (m.get(mi) ?? 0) + amount);
};

/**
 * Months from the contract's first to the last of its end, `asOf` and any
 * document. A month up to the revenue posted through is POSTED (its journal is
 * in the ERP); the rest are OPEN (closed in the calendar or running, not yet
 * posted) or SCHEDULED (after `asOf`), and for those the recognised column is
 * what is queued or scheduled for them: the balances of such months are a
 * projection from today's contract, not a figure in the books.
 *
 * Balances at each month end, from cumulative net billed (invoices less
 * credit memos, tax excluded) and cumulative recognised:
 *  - billed, not recognised (deferred revenue, a contract liability): the excess of billed over recognised;
 *  - unbilled (a contract asset): the excess of recognised over billed;
 *  - deferred: the contract's allocated value not yet recognised (what the remaining obligations will earn;
 *    nothing from the contract's last month on: what was not earned by its end, an unused cap, never will be).
 */
export function revenueWaterfall(s: EngagementState, d: Deal, asOf: string): RevenueWaterfall {
  const contract = contractOf(s, d);
  const rv = s.revenue;
  const billed = new Map<number, number>();
  const credited = new Map<number, number>();
  const recognised = new Map<number, number>();
  const scheduled = new Map<number, number>();
  for (const inv of s.invoices) if (isPosted(s, inv) && inv.status !== 'REJECTED' && inv.status !== 'AWAITING_APPROVAL') add(billed, monthIndex(inv.issueDate), inv.subtotalMinor);
  for (const m of s.creditMemos ?? []) add(credited, monthIndex(m.issueDate), m.subtotalMinor);
  for (const [month, amount] of Object.entries(rv.byMonth)) add(recognised, monthIndex(`${month}-01`), amount);
  for (const l of rv.pending) add(scheduled, monthIndex(l.recognitionDate), l.amount.amountMinor);
  const ratable = revenueSchedule({ contract, decisions: [], invoices: [], asOf: contract.endDate }).lines;
  for (const l of ratable) if (l.treatment === 'RATABLE_DAILY' && !rv.ids.includes(l.id)) add(scheduled, monthIndex(l.recognitionDate), l.amount.amountMinor);
  // A retainer's breakage at expiry as it stands today: prepaid, less credited, less drawn.
  for (const l of contract.lines) {
    if (l.revenueTreatment !== 'AS_DRAWN' || !l.retainer || rv.ids.includes(`REV-BREAKAGE-${l.id}`)) continue;
    const breakage = l.retainer.prepaid.amountMinor - (rv.prepaidCreditedByLine?.[l.id] ?? 0) - (s.drawnByLine[l.id] ?? 0);
    if (breakage > 0) add(scheduled, monthIndex(l.retainer.expiresOn), breakage);
  }

  const contractValueMinor = contract.lines.reduce((a, l) => a + l.allocatedValue.amountMinor, 0);
  const postedThrough = rv.postedThrough ? monthIndex(rv.postedThrough) : monthIndex(contract.startDate) - 1;
  const first = monthIndex(contract.startDate);
  const last = Math.max(monthIndex(contract.endDate), monthIndex(asOf), ...[billed, credited, recognised, scheduled].flatMap((m) => [...m.keys()]));
  // Nothing is left to earn from the contract's last month on (its end, or a termination's effective date).
  const endedFrom = monthIndex(s.termination?.effectiveDate ?? contract.endDate);
  const months: RevenueWaterfallMonth[] = [];
  let cumBilled = 0;
  let cumRecognised = 0;
  for (let mi = Math.min(first, ...billed.keys()); mi <= last; mi++) {
    const posted = mi <= postedThrough;
    const row = {
      month: monthStart(mi).slice(0, 7),
      status: posted ? ('POSTED' as const) : mi <= monthIndex(asOf) ? ('OPEN' as const) : ('SCHEDULED' as const),
      billedMinor: billed.get(mi) ?? 0,
      creditedMinor: credited.get(mi) ?? 0,
      recognisedMinor: posted ? (recognised.get(mi) ?? 0) : 0,
      scheduledMinor: posted ? 0 : (scheduled.get(mi) ?? 0),
    };
    cumBilled += row.billedMinor - row.creditedMinor;
    cumRecognised += row.recognisedMinor + row.scheduledMinor;
    months.push({
      ...row,
      billedNotRecognisedMinor: Math.max(0, cumBilled - cumRecognised),
      unbilledMinor: Math.max(0, cumRecognised - cumBilled),
      deferredMinor: mi >= endedFrom ? 0 : Math.max(0, contractValueMinor - cumRecognised),
    });
  }
  const sum = (f: (m: RevenueWaterfallMonth) => number) => months.reduce((a, m) => a + f(m), 0);
  return {
    dealId: d.dealId,
    contractId: contract.id,
    contractVersion: contract.version,
    currency: contract.currency,
    asOf,
    revenuePostedThrough: rv.postedThrough,
    contractValueMinor,
    heldMinor: Object.values(rv.held ?? {}).reduce((a, b) => a + b, 0),
    months,
    totals: { billedMinor: sum((m) => m.billedMinor), creditedMinor: sum((m) => m.creditedMinor), recognisedMinor: sum((m) => m.recognisedMinor), scheduledMinor: sum((m) => m.scheduledMinor) },
  };
}
