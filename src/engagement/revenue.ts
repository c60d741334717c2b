import type { Contract, RevenueScheduleLine } from '../canonical';
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
    const amount = l.retainer!.prepaid.amountMinor - (s.drawnByLine[l.id] ?? 0);
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
