import type { Contract, ContractLine, Invoice, RevenueScheduleLine } from '../canonical';
import { allocate } from '../canonical/money-math';
import type { Decision } from './billability';
import { daysInclusive, maxDate, minDate, monthEnd, monthIndex, monthStart } from './dates';
import { fnv1a64 } from './grouping';

export interface RevenueInput {
  contract: Contract;
  /** All billing decisions to date for the contract (drawdowns, milestones ...). */
  decisions: readonly Decision[];
  /** Invoices issued to date (for AS_INVOICED and retainer overage). */
  invoices: readonly Invoice[];
  asOf: string;
}

export interface RevenueResult {
  lines: RevenueScheduleLine[];
  /** Amount per contract line that would have exceeded the allocated value and was not recognised. */
  heldBack: Record<string, number>;
}

interface Draft {
  date: string;
  kind: RevenueScheduleLine['kind'];
  amount: number;
  sourceIds: string[];
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Ratable daily: the allocated value spread over the term's days, one line per calendar month (exact, largest remainder). */
export const ratableDaily = (line: Pick<ContractLine, 'startDate' | 'endDate' | 'allocatedValue'>): Draft[] => {
  const months: { start: string; end: string }[] = [];
  for (let mi = monthIndex(line.startDate); mi <= monthIndex(line.endDate); mi++) {
    months.push({ start: maxDate(monthStart(mi), line.startDate), end: minDate(monthEnd(mi), line.endDate) });
  }
  const parts = allocate(line.allocatedValue.amountMinor, months.map((m) => daysInclusive(m.start, m.end)));
  return months.map((m, i) => ({ date: m.end, kind: 'RECOGNITION' as const, amount: parts[i] ?? 0, sourceIds: [] }));
};

/**
 * Revenue schedule per performance obligation (contract line):
 * POINT_IN_TIME on milestone acceptance; RATABLE_DAILY over the term; AS_INVOICED
 * on the invoice date; AS_DRAWN per month of drawdown with breakage at expiry.
 * Cumulative revenue per line never exceeds its allocated value: the excess is held back.
 */
export const revenueSchedule = (input: RevenueInput): RevenueResult => {
  const { contract, asOf } = input;
  const out: RevenueScheduleLine[] = [];
  const heldBack: Record<string, number> = {};
  const invoiceLines = new Map<string, { date: string; amount: number; id: string }[]>();
  for (const inv of input.invoices) {
    for (const l of inv.lines) {
      const list = invoiceLines.get(l.contractLineId) ?? [];
      list.push({ date: inv.issueDate, amount: l.amount.amountMinor, id: l.id });
      invoiceLines.set(l.contractLineId, list);
    }
  }
  for (const line of contract.lines) {
    const drafts: Draft[] = [];
    const mine = input.decisions.filter((d) => d.contractLineId === line.id && d.billingClass === 'BILLABLE');
    switch (line.revenueTreatment) {
      case 'POINT_IN_TIME':
        for (const d of mine) if (d.kind === 'MILESTONE') drafts.push({ date: d.serviceDate, kind: 'RECOGNITION', amount: d.amountMinor, sourceIds: [d.sourceId] });
        break;
      case 'RATABLE_DAILY':
        drafts.push(...ratableDaily(line));
        break;
      case 'AS_INVOICED':
        for (const il of invoiceLines.get(line.id) ?? []) drafts.push({ date: il.date, kind: 'RECOGNITION', amount: il.amount, sourceIds: [il.id] });
        break;
      case 'AS_DRAWN': {
        const byMonth = new Map<number, Draft>();
        let drawn = 0;
        for (const d of mine) {
          if (d.reasonCode !== 'BILLABLE.RETAINER_DRAWDOWN') continue;
          drawn += d.amountMinor;
          const mi = monthIndex(d.serviceDate);
          const dr = byMonth.get(mi) ?? { date: minDate(monthEnd(mi), line.retainer?.expiresOn ?? monthEnd(mi)), kind: 'RECOGNITION' as const, amount: 0, sourceIds: [] };
          dr.amount += d.amountMinor;
          dr.sourceIds.push(d.sourceId);
          byMonth.set(mi, dr);
        }
        drafts.push(...[...byMonth.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v));
        // the prepayment invoice is not revenue; overage is recognised when delivered (it is billed as delivered)
        for (const d of mine) {
          if (d.reasonCode === 'BILLABLE.RETAINER_OVERAGE') drafts.push({ date: d.serviceDate, kind: 'RECOGNITION', amount: d.amountMinor, sourceIds: [d.sourceId] });
        }
        if (line.retainer && asOf >= line.retainer.expiresOn) {
          const breakage = line.retainer.prepaid.amountMinor - drawn;
          if (breakage > 0) drafts.push({ date: line.retainer.expiresOn, kind: 'BREAKAGE', amount: breakage, sourceIds: [`RETAINER:${line.id}`] });
        }
        break;
      }
    }
    drafts.sort((a, b) => cmp(a.date, b.date) || cmp(a.sourceIds.join(','), b.sourceIds.join(',')));
    let room = line.allocatedValue.amountMinor;
    let held = 0;
    for (const dr of drafts) {
      const amount = Math.min(dr.amount, Math.max(room, 0));
      held += dr.amount - amount;
      room -= amount;
      if (amount === 0) continue;
      const sourceIds = [...dr.sourceIds].sort(cmp);
      out.push({
        id: `REV-${fnv1a64(`${contract.id}|${line.id}|${dr.kind}|${dr.date}|${sourceIds.join(',')}`)}`,
        contractId: contract.id,
        contractLineId: line.id,
        treatment: line.revenueTreatment,
        kind: dr.kind,
        recognitionDate: dr.date,
        amount: { amountMinor: amount, currency: contract.currency },
        sourceIds,
      });
    }
    if (held > 0) heldBack[line.id] = held;
  }
  return { lines: out, heldBack };
};

/** Revenue recognised on or before `asOf` per contract line. */
export const recognisedToDate = (lines: readonly RevenueScheduleLine[], asOf: string): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const l of lines) if (l.recognitionDate <= asOf) out[l.contractLineId] = (out[l.contractLineId] ?? 0) + l.amount.amountMinor;
  return out;
};
