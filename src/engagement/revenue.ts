import type { Contract, RevenueScheduleLine } from '../canonical';
import type { CreditMemoSummary } from './model';
import { addDays, monthEnd, monthIndex, monthStart } from '../rules/dates';
import { revenueSchedule } from '../rules/revenue';
import { outcome, type Outcome } from './commands';
import { contractOf, raise, resolveAttention, type Deal } from './deal';
import type { EngagementState } from './state';

/** The change that books a retainer's breakage at expiry from everything drawn (runs before it counted one run's draw). */
export const BREAKAGE_FROM_TOTAL = 'retainer-breakage-from-total';

/** Unused prepayment of retainers expired by `through`: prepaid minus everything drawn, recognised on the expiry date. */
function breakage(s: EngagementState, d: Deal, contract: Contract, through: string): RevenueScheduleLine[] {
  const due = contract.lines.filter((l) => l.revenueTreatment === 'AS_DRAWN' && l.retainer && l.retainer.expiresOn <= through && !s.revenue.ids.includes(`REV-BREAKAGE-${l.id}`));
  if (due.length === 0 || !d.patched(BREAKAGE_FROM_TOTAL)) return [];
  return due.flatMap((l) => {
    const amount = l.retainer!.prepaid.amountMinor - (s.revenue.prepaidCreditedByLine?.[l.id] ?? 0) - (s.drawnByLine[l.id] ?? 0);
    if (amount <= 0) return [];
    return [{ id: `REV-BREAKAGE-${l.id}`, contractId: contract.id, contractLineId: l.id, treatment: l.revenueTreatment, kind: 'BREAKAGE' as const, recognitionDate: l.retainer!.expiresOn, amount: { amountMinor: amount, currency: contract.currency }, sourceIds: [`RETAINER:${l.id}`] }];
  });
}

/** The change that holds revenue a line's allocation has no room for (runs before it dropped it). */
export const REVENUE_HELD = 'revenue-held-not-dropped';

/** Held revenue the lines now have room for (an amendment raised their allocated value), recognised at `date`. */
function releaseHeld(s: EngagementState, contract: Contract, allocated: ReadonlyMap<string, number>, date: string): RevenueScheduleLine[] {
  const held = s.revenue.held;
  if (!held) return [];
  const out: RevenueScheduleLine[] = [];
  for (const lineId of Object.keys(held).sort()) {
    const room = (allocated.get(lineId) ?? 0) - (s.revenue.recognisedByLine[lineId] ?? 0);
    const take = Math.min(held[lineId]!, Math.max(0, room));
    if (take <= 0) continue;
    held[lineId]! -= take;
    const line = contract.lines.find((l) => l.id === lineId)!;
    out.push({ id: `REV-RELEASE-${lineId}-${date}`, contractId: contract.id, contractLineId: lineId, treatment: line.revenueTreatment, kind: 'RECOGNITION', recognitionDate: date, amount: { amountMinor: take, currency: contract.currency }, sourceIds: [`HELD:${lineId}`] });
  }
  return out;
}

/** The change that reverses a credit memo's recognised revenue on its date (runs before it left revenue as it was). */
export const CREDIT_REVERSES_REVENUE = 'credit-reverses-revenue';

/**
 * A credit memo takes back the revenue of what it credits, on the credit's
 * date: one REVERSAL line (a negative amount) per credit line, queued with the
 * rest and posted with its month. A credited retainer prepayment is not
 * revenue (revenue follows the drawdowns): it lowers the breakage booked at
 * expiry instead. How a reversal meets held revenue is revenueDue's concern.
 */
export function reverseCreditedRevenue(s: EngagementState, d: Deal, memo: CreditMemoSummary): void {
  if (!d.patched(CREDIT_REVERSES_REVENUE)) return;
  const contract = contractOf(s, d);
  const reversals: RevenueScheduleLine[] = [];
  for (const cl of memo.lines) {
    const line = contract.lines.find((l) => l.id === cl.contractLineId);
    if (!line || cl.amountMinor <= 0) continue;
    if (line.revenueTreatment === 'AS_DRAWN' && cl.sourceItemIds.every((id) => id === `RETAINER:${line.id}`)) {
      const credited = (s.revenue.prepaidCreditedByLine ??= {});
      credited[line.id] = (credited[line.id] ?? 0) + cl.amountMinor;
      continue;
    }
    reversals.push({
      id: `REV-CREDIT-${memo.id}-${cl.id}`,
      contractId: contract.id,
      contractLineId: line.id,
      treatment: line.revenueTreatment,
      kind: 'REVERSAL',
      recognitionDate: memo.issueDate,
      amount: { amountMinor: -cl.amountMinor, currency: contract.currency },
      sourceIds: [cl.id, ...cl.sourceItemIds],
    });
  }
  queueRevenue(s, reversals);
}

/**
 * A reversal first takes back revenue still held for its line (billed above
 * the allocation, never recognised), then what was recognised: the part
 * returned is posted (negative) and lowers the line's and the month's
 * recognised revenue.
 */
function reversed(s: EngagementState, l: RevenueScheduleLine): number {
  const rv = s.revenue;
  let back = -l.amount.amountMinor;
  const held = rv.held?.[l.contractLineId] ?? 0;
  const fromHeld = Math.min(held, back);
  if (fromHeld > 0) rv.held![l.contractLineId] = held - fromHeld;
  back -= fromHeld;
  if (back <= 0) return 0;
  rv.recognisedByLine[l.contractLineId] = (rv.recognisedByLine[l.contractLineId] ?? 0) - back;
  const month = l.recognitionDate.slice(0, 7);
  rv.byMonth[month] = (rv.byMonth[month] ?? 0) - back;
  return -back;
}

/** Queues revenue lines once each (by id) until their month is posted. */
export function queueRevenue(s: EngagementState, lines: readonly RevenueScheduleLine[]): void {
  for (const l of lines) {
    if (s.revenue.ids.includes(l.id)) continue;
    s.revenue.ids.push(l.id);
    s.revenue.pending.push(l);
  }
}

const byDateThenId = (a: RevenueScheduleLine, b: RevenueScheduleLine): number => (a.recognitionDate < b.recognitionDate ? -1 : a.recognitionDate > b.recognitionDate ? 1 : a.id < b.id ? -1 : 1);

/**
 * Revenue per closed month (and at close, `final`, through today): one journal
 * per recognition date. Revenue never exceeds a line's allocated value.
 */
export function revenueDue(s: EngagementState, d: Deal, today: string, final = false): Outcome {
  const out = outcome();
  const rv = s.revenue;
  const contract = contractOf(s, d);
  const lastClosedMonth = monthIndex(today) - 1;
  const firstMonth = rv.postedThrough ? monthIndex(rv.postedThrough) + 1 : monthIndex(contract.startDate);
  const periods: Array<{ start: string; end: string }> = [];
  for (let mi = firstMonth; mi <= lastClosedMonth; mi++) periods.push({ start: monthStart(mi), end: monthEnd(mi) });
  if (final) periods.push({ start: periods.length ? addDays(periods[periods.length - 1]!.end, 1) : rv.postedThrough ? addDays(rv.postedThrough, 1) : contract.startDate, end: today });
  if (periods.length === 0) return out;
  const ratable = revenueSchedule({ contract, decisions: [], invoices: [], asOf: contract.endDate }).lines.filter((l) => l.treatment === 'RATABLE_DAILY');
  const through = periods[periods.length - 1]!.end;
  queueRevenue(s, ratable.filter((l) => l.recognitionDate <= through));
  queueRevenue(s, breakage(s, d, contract, through));
  const allocated = new Map(contract.lines.map((l) => [l.id, l.allocatedValue.amountMinor]));
  for (const p of periods) {
    const due = [...releaseHeld(s, contract, allocated, p.end), ...rv.pending.filter((l) => l.recognitionDate <= p.end).sort(byDateThenId)];
    rv.pending = rv.pending.filter((l) => l.recognitionDate > p.end);
    const byDate = new Map<string, RevenueScheduleLine[]>();
    for (const l of due) {
      if (l.amount.amountMinor < 0) {
        const amount = reversed(s, l);
        if (amount < 0) byDate.set(l.recognitionDate, [...(byDate.get(l.recognitionDate) ?? []), { ...l, amount: { ...l.amount, amountMinor: amount } }]);
        continue;
      }
      // Revenue never exceeds the line's allocated value: the excess is held until an amendment makes room.
      const room = (allocated.get(l.contractLineId) ?? 0) - (rv.recognisedByLine[l.contractLineId] ?? 0);
      const amount = Math.min(l.amount.amountMinor, Math.max(0, room));
      const excess = l.amount.amountMinor - amount;
      if (excess > 0 && d.patched(REVENUE_HELD)) {
        const held = (rv.held ??= {});
        held[l.contractLineId] = (held[l.contractLineId] ?? 0) + excess;
        raise(s, { id: `REVENUE_HELD:${l.contractLineId}`, kind: 'REVENUE_HELD', contractLineId: l.contractLineId, message: `line ${l.contractLineId}: ${held[l.contractLineId]} minor units of revenue above its allocated value ${allocated.get(l.contractLineId) ?? 0} are held until an amendment makes room`, raisedOn: today }, out);
      }
      if (amount <= 0) continue;
      rv.recognisedByLine[l.contractLineId] = (rv.recognisedByLine[l.contractLineId] ?? 0) + amount;
      const month = l.recognitionDate.slice(0, 7);
      rv.byMonth[month] = (rv.byMonth[month] ?? 0) + amount;
      const list = byDate.get(l.recognitionDate) ?? [];
      list.push({ ...l, amount: { ...l.amount, amountMinor: amount } });
      byDate.set(l.recognitionDate, list);
    }
    for (const [date, lines] of [...byDate.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      out.commands.push({ kind: 'postRevenue', input: { dealId: d.dealId, key: `${date}:${lines.length}:${lines[0]!.id}`, lines, legalEntity: d.snapshot.contractingEntity } });
    }
    rv.postedThrough = p.end;
  }
  if (rv.held) {
    for (const [lineId, amount] of Object.entries(rv.held)) {
      if (amount > 0) continue;
      delete rv.held[lineId];
      resolveAttention(s, (a) => a.id === `REVENUE_HELD:${lineId}`);
    }
    if (Object.keys(rv.held).length === 0) delete rv.held;
  }
  return out;
}
