import type { TimeEntry } from '../canonical';
import { formatMoney } from '../canonical/money-math';
import { instantMs, localDate } from './calendar';
import { contractOf, NON_BILLABLE_TASK, type Deal } from './deal';
import type { DeliveredTimeEntry, DeliveryBatch, DeliveryItem, PaymentEvent, ReportedItem } from './model';
import type { EngagementState } from './state';

/*
 * Intake: delivered items and payment events into the state, once each. A
 * repeated item (same kind and PSA id; a milestone per status) changes nothing.
 */

/** Foreign-currency expenses are excluded with their own reason (runs before it left them deferred for an FX rate the deal never gets). */
export const CURRENCY_MISMATCH = 'expense-currency-mismatch';

const seenSets = new WeakMap<EngagementState, Set<string>>();
/** The `seen` list as a set, built once per state object (derived, never carried). */
const seenOf = (s: EngagementState): Set<string> => {
  let set = seenSets.get(s);
  if (!set) seenSets.set(s, (set = new Set(s.seen)));
  return set;
};

export function markSeen(s: EngagementState, key: string): boolean {
  const seen = seenOf(s);
  if (seen.has(key)) return false;
  seen.add(key);
  s.seen.push(key);
  return true;
}

/** Books an item the rules will not invoice under its class (nothing is silently dropped). */
export function report(s: EngagementState, cls: 'CAPPED' | 'EXCLUDED', item: ReportedItem): void {
  (cls === 'CAPPED' ? s.held : s.excluded).push(item);
  s.totals[cls] += item.amountMinor;
  s.totals.delivered += item.amountMinor;
}

/** The first line of the first billing model (in preference order) the contract has. */
const lineOfKind = (s: EngagementState, d: Deal, models: string[]): string => {
  const lines = contractOf(s, d).lines;
  for (const m of models) {
    const line = lines.find((l) => l.billingModel === m);
    if (line) return line.id;
  }
  return lines[0]!.id;
};

/** The day a time entry was worked, in the contracting entity's calendar (a PSA may send an instant with its zone). */
export const workDateOf = (d: Deal, item: Pick<DeliveredTimeEntry, 'workDate'>): string => (item.workDate.length === 10 ? item.workDate : localDate(instantMs(item.workDate), d.tz));

/** Takes delivered batches and payment events; true when anything new arrived. */
export function receive(s: EngagementState, d: Deal, batches: readonly DeliveryBatch[], payments: readonly PaymentEvent[]): boolean {
  let changed = false;
  for (const batch of batches) for (const item of batch.items) changed = accept(s, d, item) || changed;
  for (const ev of payments) {
    if (s.payments.seen.includes(ev.eventId)) continue;
    s.payments.seen.push(ev.eventId);
    s.payments.unmatched.push(ev);
    changed = true;
  }
  return changed;
}

/**
 * One delivered item placed on the contract: a pending time entry, expense or
 * milestone, or an excluded expense. A rebill takes an item again (`round` 1,
 * 2 …) under its own id, `<id>~R<round>`; the PSA id it refers to stays.
 */
export function accept(s: EngagementState, d: Deal, item: DeliveryItem, round?: number): boolean {
  const c = contractOf(s, d);
  const projectId = d.setup.project.id;
  const again = round ? `~R${round}` : '';
  if (item.kind === 'timeEntry') {
    if (!markSeen(s, `T:${item.sourceId}${again}`)) return false;
    const taskId = item.taskId ? (d.setup.psaIds[item.taskId] ?? item.taskId) : undefined;
    const res = d.setup.resources[item.resourceId];
    const entityId = res?.legalEntityId ?? d.snapshot.deliveringEntityIds[0] ?? c.contractingLegalEntityId;
    const entity = d.setup.entities[entityId];
    const entry: TimeEntry = {
      id: `TE-${item.sourceId}${again}`,
      projectId,
      contractId: c.id,
      contractLineId: (taskId && d.taskLine.get(taskId)) || lineOfKind(s, d, ['TIME_AND_MATERIALS', 'RETAINER']),
      taskId: item.billable ? (taskId ?? 'UNASSIGNED') : NON_BILLABLE_TASK,
      resourceId: item.resourceId,
      role: item.role ?? res?.role ?? 'consultant',
      region: res?.region ?? entity?.taxJurisdiction.country ?? 'US',
      resourceLegalEntityId: entityId,
      workDate: workDateOf(d, item),
      minutes: item.minutes,
      approved: true,
      overtime: false,
      externalIds: { kantata: item.sourceId },
    };
    s.pending.time.push(entry);
    if (c.lines.find((l) => l.id === entry.contractLineId)?.invoiceSchedule === 'IMMEDIATE') s.immediate = true;
    return true;
  }
  if (item.kind === 'expense') {
    if (!markSeen(s, `X:${item.sourceId}${again}`)) return false;
    const lineId = lineOfKind(s, d, ['EXPENSES', 'TIME_AND_MATERIALS']);
    if (!item.billable) {
      const amount = item.currency === c.currency ? item.amountMinor : 0;
      report(s, 'EXCLUDED', { sourceId: `EX-${item.sourceId}${again}`, kind: 'EXPENSE', contractLineId: lineId, serviceDate: item.incurredOn, reasonCode: 'EXCLUDED.NOT_BILLABLE_IN_PSA', amountMinor: amount, detail: `${item.category}, marked not billable in the PSA` });
      return true;
    }
    // The deal has no FX rates: billed in its own currency only. Its value in the contract currency is unknown, so 0 is booked.
    if (item.currency !== c.currency && d.patched(CURRENCY_MISMATCH)) {
      const amount = formatMoney({ amountMinor: item.amountMinor, currency: item.currency });
      report(s, 'EXCLUDED', { sourceId: `EX-${item.sourceId}${again}`, kind: 'EXPENSE', contractLineId: lineId, serviceDate: item.incurredOn, reasonCode: 'EXCLUDED.CURRENCY_MISMATCH', amountMinor: 0, detail: `${item.category} ${amount} on a ${c.currency} contract: not billed; re-submit it in ${c.currency}` });
      return true;
    }
    const res = d.setup.resources[item.resourceId];
    s.pending.expenses.push({
      id: `EX-${item.sourceId}${again}`,
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
  if (!markSeen(s, `M:${item.sourceId}:${item.status}`)) return false;
  const id = `MS-${item.sourceId}`;
  const milestoneId = d.setup.psaIds[item.sourceId] ?? item.sourceId;
  const date = localDate(instantMs(item.at), d.tz);
  let m = s.pending.milestones.find((x) => x.id === id);
  if (!m) {
    m = { id, projectId, contractId: c.id, contractLineId: d.milestoneLine.get(milestoneId) ?? lineOfKind(s, d, ['FIXED_FEE_MILESTONE']), milestoneId, completedOn: date, acceptedOn: null };
    s.pending.milestones.push(m);
  }
  // Completion and acceptance may arrive in either order.
  if (item.status === 'accepted') {
    m.acceptedOn = date;
    if (m.completedOn > date) m.completedOn = date;
    s.immediate = true;
  } else if (date < m.completedOn) {
    m.completedOn = date;
  }
  return true;
}
