import type { TimeEntry } from '../canonical';
import { formatMoney } from '../canonical/money-math';
import { instantMs, localDate } from './calendar';
import { outcome, type Outcome } from './commands';
import { contractOf, NON_BILLABLE_TASK, raise, resolveAttention, type Deal } from './deal';
import type { DeliveredExpense, DeliveredTimeEntry, DeliveryBatch, DeliveryConflict, DeliveryItem, PaymentEvent, ReportedItem, Unapproval } from './model';
import type { EngagementState } from './state';

/*
 * Intake: delivered items and payment events into the state, once each. A
 * repeated item (same kind and PSA id; a milestone per status) bills nothing
 * again: an identical repeat changes nothing, one with other content is
 * reported as a conflict (the first delivery stands). An approval the PSA
 * withdraws takes an unbilled item back, and asks an operator about a billed one.
 */

/** Foreign-currency expenses are excluded with their own reason (runs before it left them deferred for an FX rate the deal never gets). */
export const CURRENCY_MISMATCH = 'expense-currency-mismatch';
/** What each item was delivered with is kept, so a repeat with other content is reported (runs before it dropped any repeat). */
export const DELIVERY_CONFLICTS = 'delivery-conflicts';
/** Batches' `unapprovals` are applied (runs before it ignored them). */
export const UNAPPROVALS = 'psa-unapprovals';

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

/** Forgets a key, so the item is taken again when it is delivered again. */
function unsee(s: EngagementState, key: string): void {
  if (!seenOf(s).delete(key)) return;
  const i = s.seen.lastIndexOf(key);
  if (i >= 0) s.seen.splice(i, 1);
  if (s.delivered) delete s.delivered[key];
}

const TIME_FIELDS = ['minutes', 'workDate', 'role', 'taskId', 'resourceId', 'billable'] as const;
const EXPENSE_FIELDS = ['amount', 'category', 'incurredOn', 'resourceId', 'billable'] as const;

/** What a time entry or expense was delivered with, field by field (notes and approval stamps are not content). */
function contentOf(item: DeliveredTimeEntry | DeliveredExpense): string[] {
  if (item.kind === 'timeEntry') return [String(item.minutes), item.workDate, item.role ?? '', item.taskId ?? '', item.resourceId, item.billable ? 'true' : 'false'];
  return [formatMoney({ amountMinor: item.amountMinor, currency: item.currency }), item.category, item.incurredOn, item.resourceId, item.billable ? 'true' : 'false'];
}

/**
 * The content as one short string, carried for every item across continue-as-new: fields joined
 * by '|' ('%' and '|' inside a field escaped), about 40 bytes for a relay time entry where a JSON
 * array inside the state's JSON would take twice that.
 */
const packContent = (fields: readonly string[]): string => fields.map((f) => f.replace(/%/g, '%25').replace(/\|/g, '%7C')).join('|');
const unpackContent = (packed: string): string[] => packed.split('|').map((f) => f.replace(/%7C/g, '|').replace(/%25/g, '%'));

/** Keeps what the item was delivered with (runs from DELIVERY_CONFLICTS on; asked once per run, on its first item). */
function remember(s: EngagementState, d: Deal, key: string, item: DeliveredTimeEntry | DeliveredExpense): void {
  if (!d.patched(DELIVERY_CONFLICTS)) return;
  (s.delivered ??= {})[key] = packContent(contentOf(item));
}

/**
 * A repeat of an item already taken: nothing when its content is the same (or
 * was not kept: taken before DELIVERY_CONFLICTS), a conflict entry naming each
 * field that differs otherwise (once per distinct content). The PSA approving
 * again an item it had withdrawn closes the UNAPPROVED_AFTER_BILLING item.
 */
function repeated(s: EngagementState, key: string, itemId: string, item: DeliveredTimeEntry | DeliveredExpense, from: DeliveryBatch | undefined, out: Outcome | undefined): void {
  if (s.attention.length > 0) resolveAttention(s, (a) => a.id === `UNAPPROVED:${itemId}`);
  const kept = s.delivered?.[key];
  if (kept === undefined || !from) return;
  const now = contentOf(item);
  const was = unpackContent(kept);
  const names = item.kind === 'timeEntry' ? TIME_FIELDS : EXPENSE_FIELDS;
  // role and task are optional: one delivery stating less than the other (the relay without role_name, say) is not a conflict
  const differences = names.flatMap((field, i) => (was[i] === now[i] || ((field === 'role' || field === 'taskId') && (!was[i] || !now[i])) ? [] : [{ field, kept: was[i] ?? '', received: now[i]! }]));
  if (differences.length === 0) return;
  const same = JSON.stringify(differences);
  if (s.conflicts?.some((c) => c.itemId === itemId && JSON.stringify(c.differences) === same)) return;
  const pending = item.kind === 'timeEntry' ? s.pending.time.some((e) => e.id === itemId) : s.pending.expenses.some((x) => x.id === itemId);
  const conflict: DeliveryConflict = { itemId, kind: item.kind === 'timeEntry' ? 'TIME' : 'EXPENSE', sourceId: item.sourceId, batchId: from.batchId, receivedAt: from.receivedAt, differences, keptState: pending ? 'PENDING' : 'SETTLED' };
  (s.conflicts ??= []).push(conflict);
  out?.notices.push({ kind: 'warn', message: 'PSA item delivered again with other content; the first delivery stands', fields: { itemId, batchId: from.batchId, differences } });
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

/**
 * Takes delivered batches and payment events; true when anything new arrived.
 * `at`: the business date and the outcome an un-approval of a billed item raises its attention item in.
 */
export function receive(s: EngagementState, d: Deal, batches: readonly DeliveryBatch[], payments: readonly PaymentEvent[], at?: { today: string; out: Outcome }): boolean {
  let changed = false;
  for (const batch of batches) {
    for (const item of batch.items) changed = accept(s, d, item, undefined, batch, at?.out) || changed;
    if (batch.unapprovals?.length && d.patched(UNAPPROVALS)) for (const u of batch.unapprovals) changed = unapprove(s, u, at?.today ?? u.at.slice(0, 10), at?.out ?? outcome()) || changed;
  }
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
export function accept(s: EngagementState, d: Deal, item: DeliveryItem, round?: number, from?: DeliveryBatch, out?: Outcome): boolean {
  const c = contractOf(s, d);
  const projectId = d.setup.project.id;
  const again = round ? `~R${round}` : '';
  if (item.kind === 'timeEntry') {
    const key = `T:${item.sourceId}${again}`;
    if (!markSeen(s, key)) {
      if (!round) repeated(s, key, `TE-${item.sourceId}`, item, from, out);
      return false;
    }
    if (!round) {
      remember(s, d, key, item);
      if (s.withdrawn?.length) approvedAgain(s, key, `TE-${item.sourceId}`);
    }
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
    const key = `X:${item.sourceId}${again}`;
    if (!markSeen(s, key)) {
      if (!round) repeated(s, key, `EX-${item.sourceId}`, item, from, out);
      return false;
    }
    if (!round) {
      remember(s, d, key, item);
      if (s.withdrawn?.length) approvedAgain(s, key, `EX-${item.sourceId}`);
    }
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

/**
 * The PSA withdrew its approval of an item. One still waiting to be billed is
 * taken back (reported EXCLUDED.UNAPPROVED, value 0, and taken again if it is
 * approved again); one billed, or held over its cap, raises an
 * UNAPPROVED_AFTER_BILLING item: crediting it or approving it again is the
 * operator's decision. An item never taken, or settled as excluded, needs nothing.
 */
export function unapprove(s: EngagementState, u: Unapproval, today: string, out: Outcome): boolean {
  const time = u.kind === 'timeEntry';
  const key = `${time ? 'T' : 'X'}:${u.sourceId}`;
  const itemId = `${time ? 'TE' : 'EX'}-${u.sourceId}`;
  if (!seenOf(s).has(key)) return false;
  const what = time ? 'time entry' : 'expense';
  const pending: Array<{ id: string; contractLineId: string }> = time ? s.pending.time : s.pending.expenses;
  const i = pending.findIndex((x) => x.id === itemId);
  if (i >= 0) {
    const [taken] = time ? s.pending.time.splice(i, 1) : s.pending.expenses.splice(i, 1);
    unsee(s, key);
    (s.withdrawn ??= []).push(key);
    const serviceDate = 'workDate' in taken! ? taken.workDate : taken!.incurredOn;
    report(s, 'EXCLUDED', { sourceId: itemId, kind: time ? 'TIME' : 'EXPENSE', contractLineId: taken!.contractLineId, serviceDate, reasonCode: 'EXCLUDED.UNAPPROVED', amountMinor: 0, detail: `un-approved in the PSA at ${u.at} before it was billed; taken again if it is approved again` });
    return true;
  }
  if (s.excluded.some((r) => r.sourceId === itemId)) return false;
  const before = s.attention.length;
  raise(
    s,
    {
      id: `UNAPPROVED:${itemId}`,
      kind: 'UNAPPROVED_AFTER_BILLING',
      itemIds: [itemId],
      message: `${what} ${u.sourceId} (${itemId}) was un-approved in the PSA at ${u.at} after it was billed (or held over its cap): credit it, or approve it again in the PSA`,
      raisedOn: today,
    },
    out,
  );
  return s.attention.length > before;
}

/** An item taken back by an un-approval is approved again: its EXCLUDED.UNAPPROVED entry goes, the item is billed as delivered now. */
function approvedAgain(s: EngagementState, key: string, itemId: string): void {
  const i = s.withdrawn!.indexOf(key);
  if (i < 0) return;
  s.withdrawn!.splice(i, 1);
  s.excluded = s.excluded.filter((r) => !(r.sourceId === itemId && r.reasonCode === 'EXCLUDED.UNAPPROVED'));
}
