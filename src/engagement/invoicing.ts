import type { Contract, Invoice, TimeEntry } from '../canonical';
import { classifyDeliveries, periodClosed, type Decision } from '../rules/billability';
import { countsAgainstCap, runClock, type CompiledContract } from '../rules/compile';
import { dateKey } from '../rules/dates';
import { groupDecisions, materializeInvoices, type InvoiceGrouping } from '../rules/grouping';
import { intercompanyCharges } from '../rules/intercompany';
import { toBillingEvents } from '../rules/preview';
import { revenueSchedule } from '../rules/revenue';
import { customerJurisdiction, decideTax } from '../rules/tax';
import { outcome, type Outcome } from './commands';
import { compiled, contractOf, raise, resolveAttention, type Deal } from './deal';
import { markSeen, report } from './intake';
import type { AuditEvent, InvoiceSummary, ReportedItem } from './model';
import { BREAKAGE_FROM_TOTAL, queueRevenue } from './revenue';
import type { EngagementState, OverCapPart, RateTerms } from './state';
import { releaseOverCap, releaseRoom } from './caps';

type OverCapLines = Map<string, { lineKey: string; lineDescription: string }>;

/** Is an invoice run due today (a period boundary passed, or an IMMEDIATE / milestone item arrived)? */
export const runDue = (s: EngagementState, today: string): boolean => s.immediate || s.lastRunOn !== today;

/** Held over-cap parts an amended cap now admits (`cc`: the contract compiled, asked for only when parts are held). */
const hasReleasable = (s: EngagementState, cc: () => CompiledContract): boolean => !!s.capAmendedLines?.length && !!s.overCap?.length && releaseRoom(s, cc()).size > 0;

/**
 * The invoice run: classifies every unbilled item, books what is capped or
 * excluded, turns what is billable into invoice drafts (held for approval above
 * the threshold), queues revenue that follows delivery, and asks for the
 * intercompany charges of time another entity delivered.
 */
export function invoiceRun(s: EngagementState, d: Deal, today: string): Outcome {
  const out = outcome();
  const contract = contractOf(s, d);
  s.immediate = false;
  s.lastRunOn = today;
  const { pending } = s;
  // Compiled once per run, and not at all on the (daily) runs with nothing to bill.
  let compiledOnce: CompiledContract | undefined;
  const compiledContract = (): CompiledContract => (compiledOnce ??= compiled(d, contract));
  if (
    pending.time.length + pending.expenses.length + pending.milestones.length === 0 &&
    !contract.lines.some((l) => l.billingModel === 'SUBSCRIPTION' || l.billingModel === 'RETAINER') &&
    !hasReleasable(s, compiledContract) &&
    !s.releasing?.length
  ) {
    s.deferredMinor = 0;
    // the last unrated entries were withdrawn: nothing is left to rate
    unratedTime(s, d, compiledContract, [], today, out);
    return out;
  }
  s.runSeq += 1;
  const cc = compiledContract();
  // Held over-cap parts an amended cap now admits come first: they are older than anything pending.
  const released = billReleased(s, d, cc, releaseOverCap(s, cc), today);
  const run = classify(s, d, cc, today);
  const deferred = new Set<string>();
  let deferredMinor = 0;
  for (const dec of run.decisions) {
    if (dec.billingClass === 'DEFERRED') {
      deferred.add(dec.sourceId);
      deferredMinor += dec.amountMinor;
    }
  }
  s.deferredMinor = deferredMinor;
  unratedTime(s, d, compiledContract, run.decisions, today, out);
  const settled = run.decisions.filter((dec) => !deferred.has(dec.sourceId));
  if (settled.length === 0 && released.length === 0) return out;
  const invoiced: Decision[] = [...released];
  for (const dec of settled) {
    const item: ReportedItem = { sourceId: dec.sourceId, kind: dec.kind, contractLineId: dec.contractLineId, serviceDate: dec.serviceDate, reasonCode: dec.reasonCode, amountMinor: dec.amountMinor, ...(dec.detail ? { detail: dec.detail } : {}) };
    if (dec.billingClass === 'CAPPED' || dec.billingClass === 'EXCLUDED') {
      report(s, dec.billingClass, item);
      const line = dec.reasonCode === 'CAPPED.OVER_CAP' ? run.overCapLines.get(dec.sourceId) : undefined;
      if (line) (s.overCap ??= []).push({ sourceId: dec.sourceId, kind: dec.kind, contractLineId: dec.contractLineId, projectId: dec.projectId, serviceDate: dec.serviceDate, amountMinor: dec.amountMinor, minutes: dec.minutes, ...line } satisfies OverCapPart);
      continue;
    }
    s.totals.BILLABLE += dec.amountMinor;
    s.totals.delivered += dec.amountMinor;
    if (dec.kind === 'SUBSCRIPTION' || dec.kind === 'RETAINER') s.processedIds.push(dec.sourceId);
    if (dec.kind === 'MILESTONE' && dec.milestoneId) s.processedIds.push(`M:${dec.contractLineId}:${dec.milestoneId}`);
    if (dec.lineKey === undefined) {
      s.drawnByLine[dec.contractLineId] = (s.drawnByLine[dec.contractLineId] ?? 0) + dec.amountMinor;
      continue;
    }
    // Subscriptions are invoiced by the billing system's own schedule (part 1 created it).
    if (dec.kind === 'SUBSCRIPTION' && d.stripeSubscriptions) continue;
    invoiced.push(dec);
    // billedByLine is the cap's consumption: expenses a line's cap excludes do not count
    const cl = cc.lines.get(dec.contractLineId);
    if (cl === undefined || countsAgainstCap(cl, dec.kind)) s.billedByLine[dec.contractLineId] = (s.billedByLine[dec.contractLineId] ?? 0) + dec.amountMinor;
  }
  const settledIds = new Set(settled.map((dec) => dec.sourceId));
  const settledTime = pending.time.filter((e) => settledIds.has(e.id));
  pending.time = pending.time.filter((e) => !settledIds.has(e.id));
  pending.expenses = pending.expenses.filter((e) => !settledIds.has(e.id));
  for (const m of pending.milestones) {
    if (settledIds.has(m.id)) {
      const psaId = m.id.slice(3);
      markSettledMilestone(s, psaId);
    }
  }
  pending.milestones = pending.milestones.filter((m) => !settledIds.has(m.id));

  draftInvoices(s, d, cc, today, invoiced, released.length > 0 ? [...settled, ...released] : settled);

  // Revenue that follows delivery (milestones, drawdown); AS_INVOICED follows issue.
  const rev = revenueSchedule({ contract, decisions: [...settled.filter((dec) => dec.billingClass === 'BILLABLE'), ...released], invoices: [], asOf: today });
  // A run sees only its own drawdown: breakage counted here was prepaid minus this run's draw. It is now booked at expiry from the line's total (revenue.ts).
  const breakageAtExpiry = rev.lines.some((l) => l.kind === 'BREAKAGE') && d.patched(BREAKAGE_FROM_TOTAL);
  queueRevenue(s, rev.lines.filter((l) => (l.treatment === 'POINT_IN_TIME' || l.treatment === 'AS_DRAWN') && !(breakageAtExpiry && l.kind === 'BREAKAGE')));

  // Intercompany: time delivered by another entity, charged once when it settles.
  chargeIntercompany(s, d, contract, settledTime, out);
  return out;
}

/** Time no rate card row prices raises a NO_RATE item (runs before it left such time deferred without telling anyone). */
export const NO_RATE_ATTENTION = 'no-rate-attention';
/** Item ids an attention item lists; the message counts them all. */
const LISTED_IDS = 50;

/**
 * Time entries DEFERRED.NO_RATE (a role or region the line's rate card has no
 * row for on the day worked) wait, unbilled, for a rate: one NO_RATE attention
 * item per line, role and region names them, kept up to date each run and
 * closed once none is left (an amendment gave the line a rate that prices them,
 * or the PSA withdrew them). Never billed at another role's rate, never dropped.
 */
function unratedTime(s: EngagementState, d: Deal, cc: () => CompiledContract, decisions: readonly Decision[], today: string, out: Outcome): void {
  const unrated = decisions.filter((dec) => dec.reasonCode === 'DEFERRED.NO_RATE');
  const open = s.attention.some((a) => a.kind === 'NO_RATE');
  if ((unrated.length === 0 && !open) || !d.patched(NO_RATE_ATTENTION)) return;
  const entries = new Map(s.pending.time.map((e) => [e.id, e]));
  const groups = new Map<string, { lineId: string; role: string; region: string; ids: string[] }>();
  for (const dec of unrated) {
    const e = entries.get(dec.sourceId);
    const role = e?.role ?? '?';
    const region = e?.region ?? '?';
    const id = `NO_RATE:${dec.contractLineId}:${role}:${region}`;
    const g = groups.get(id) ?? { lineId: dec.contractLineId, role, region, ids: [] };
    g.ids.push(dec.sourceId);
    groups.set(id, g);
  }
  resolveAttention(s, (a) => a.kind === 'NO_RATE' && !groups.has(a.id));
  for (const [id, g] of groups) {
    const ids = [...g.ids].sort();
    const card = cc().lines.get(g.lineId)?.line.rateCardRef ?? 'none';
    const listed = ids.length > LISTED_IDS ? `${ids.slice(0, LISTED_IDS).join(', ')} and ${ids.length - LISTED_IDS} more` : ids.join(', ');
    const message = `${ids.length} time ${ids.length === 1 ? 'entry' : 'entries'} on line ${g.lineId} for role '${g.role}' in region ${g.region} ${ids.length === 1 ? 'has' : 'have'} no rate on rate card ${card} (${listed}): not billed, DEFERRED.NO_RATE until an amendment gives the line a rate for them or the PSA withdraws them`;
    const existing = s.attention.find((a) => a.id === id);
    if (existing) {
      existing.message = message;
      existing.itemIds = ids.slice(0, LISTED_IDS);
    } else {
      raise(s, { id, kind: 'NO_RATE', contractLineId: g.lineId, itemIds: ids.slice(0, LISTED_IDS), message, raisedOn: today }, out);
    }
  }
}

/** The change that bills released over-cap time on its line's next regular invoice (runs before it issued a late invoice for the old period). */
export const RELEASED_ON_NEXT_INVOICE = 'released-time-on-next-invoice';

/**
 * Released over-cap parts join their line's next regular invoice: each is
 * billable from the day the amendment that raised its line's cap was applied,
 * waits until the period holding that day closes, and is then grouped on that
 * period's invoice (the day it was worked is kept in the billing event's detail).
 */
function billReleased(s: EngagementState, d: Deal, cc: CompiledContract, released: Decision[], today: string): Decision[] {
  if (released.length > 0) {
    if (!d.patched(RELEASED_ON_NEXT_INVOICE)) return released;
    (s.releasing ??= []).push(...released.map((dec) => ({ ...dec, billOn: capRaisedOn(s, dec.contractLineId) ?? today })));
  }
  if (!s.releasing?.length) return [];
  const clock = runClock(today);
  const due: Decision[] = [];
  const waiting: Array<Decision & { billOn: string }> = [];
  for (const r of s.releasing) {
    const cl = cc.lines.get(r.contractLineId);
    if (cl && !periodClosed(cc, cl, r.billOn, clock)) waiting.push(r);
    else {
      const { billOn, ...dec } = r;
      // the invoice line reports the day worked as its service period (parts released before that field existed: their serviceDate)
      due.push({ ...dec, serviceDate: billOn, periodStart: dec.periodStart ?? dec.serviceDate, periodEnd: dec.periodEnd ?? dec.serviceDate, detail: `${dec.detail ?? ''}; worked ${dec.serviceDate}`.replace(/^; /, '') });
    }
  }
  if (waiting.length > 0) s.releasing = waiting;
  else delete s.releasing;
  return due;
}

/** The day the latest amendment changing the line's cap was applied. */
const capRaisedOn = (s: EngagementState, lineId: string): string | undefined =>
  [...(s.amendments ?? [])].reverse().find((a) => a.changes.some((ch) => ch.op === 'UPDATE_LINE' && ch.lineId === lineId && ch.set.cap !== undefined))?.appliedOn;

/** A settled milestone's later completion or acceptance webhooks change nothing. */
function markSettledMilestone(s: EngagementState, psaId: string): void {
  markSeen(s, `M:${psaId}:completed`);
  markSeen(s, `M:${psaId}:accepted`);
}

/** Invoices of the run: a key already issued (a late item for a closed period) gets this run's suffix. */
function draftInvoices(s: EngagementState, d: Deal, cc: CompiledContract, today: string, invoiced: Decision[], eventDecisions: Decision[]): void {
  const grouping = groupDecisions(cc, invoiced);
  type Groups = InvoiceGrouping['groups'];
  const fresh: Groups = new Map();
  const late: Groups = new Map();
  for (const [k, acc] of grouping.groups) (s.issuedKeys.includes(k) ? late : fresh).set(k, acc);
  const where = customerJurisdiction(d.snapshot.customer);
  const exempt = d.snapshot.customer.taxRegistration?.exempt ?? false;
  const taxable = (code: string) => decideTax(d.setup.ruleSet, code, where, exempt).taxable;
  const invoices = [
    ...materializeInvoices(cc, { groups: fresh }, { asOf: today, taxable }),
    ...materializeInvoices(cc, { groups: late }, { asOf: today, taxable, keySuffix: `R${s.runSeq}` }),
  ];
  for (const k of grouping.groups.keys()) if (!s.issuedKeys.includes(k)) s.issuedKeys.push(k);
  const eventOf = new Map<string, AuditEvent>();
  for (const ev of toBillingEvents(cc, eventDecisions)) {
    if (ev.billingClass !== 'BILLABLE' || ev.invoiceKey === undefined) continue;
    eventOf.set(ev.sourceItemIds[0]!, { id: ev.id, sourceId: ev.sourceItemIds[0]!, kind: ev.kind, contractLineId: ev.contractLineId, quoteLineId: ev.quoteLineId, amountMinor: ev.amount.amountMinor });
  }
  const threshold = d.options.approvalAboveMinor;
  for (const invoice of invoices) {
    const needsApproval = threshold !== undefined && invoice.subtotal.amountMinor > threshold;
    s.drafts.push({
      invoice,
      taxableLineIds: invoice.lines.filter((l) => l.taxable).map((l) => l.id),
      events: invoice.lines.flatMap((l) => l.sourceItemIds.map((sid) => eventOf.get(sid)).filter((e): e is AuditEvent => e !== undefined)),
      approval: needsApproval ? 'REQUIRED' : 'NOT_REQUIRED',
      requestedOn: today,
    });
    s.invoices.push(summaryOfDraft(d, invoice, needsApproval ? 'AWAITING_APPROVAL' : 'POSTED'));
  }
}

function summaryOfDraft(d: Deal, invoice: Invoice, status: InvoiceSummary['status']): InvoiceSummary {
  return {
    id: invoice.id,
    number: invoice.id,
    invoiceKey: invoice.invoiceKey,
    issueDate: invoice.issueDate,
    dueDate: invoice.dueDate,
    period: invoice.period,
    subtotalMinor: invoice.subtotal.amountMinor,
    taxMinor: 0,
    totalMinor: invoice.subtotal.amountMinor,
    paidMinor: 0,
    refundedMinor: 0,
    writtenOffMinor: 0,
    status,
    system: d.options.invoiceSystem ?? 'erp',
    lines: invoice.lines.map((l) => ({ id: l.id, contractLineId: l.contractLineId, amountMinor: l.amount.amountMinor })),
  };
}

/** One journal per entity pair and month of the run's settled time delivered by another entity. */
function chargeIntercompany(s: EngagementState, d: Deal, contract: Contract, entries: TimeEntry[], out: Outcome): void {
  if (entries.length === 0) return;
  const ic = intercompanyCharges(d.setup.ruleSet, contract.contractingLegalEntityId, entries);
  const bySource = new Map(ic.charges.map((c) => [c.sourceItemId, c.amountMinor]));
  for (const g of ic.invoices) {
    const from = d.setup.entities[g.fromLegalEntityId];
    const to = d.setup.entities[g.toLegalEntityId];
    if (!from || !to) {
      out.notices.push({ kind: 'warn', message: 'intercompany entity unknown', fields: { from: g.fromLegalEntityId, to: g.toLegalEntityId } });
      continue;
    }
    out.commands.push({
      kind: 'postIntercompany',
      input: {
        dealId: d.dealId,
        key: `${g.fromLegalEntityId}-${g.toLegalEntityId}-${g.period.start.slice(0, 7)}-R${s.runSeq}`,
        contractId: contract.id,
        from,
        to,
        periodEnd: g.period.end,
        currency: g.currency,
        amountMinor: g.amountMinor,
        sources: g.sourceItemIds.map((id) => ({ sourceId: id, amountMinor: bySource.get(id) ?? 0 })),
      },
    });
    s.intercompanyMinor += g.amountMinor;
  }
  for (const id of ic.missingCost) out.notices.push({ kind: 'warn', message: 'intercompany cost rate missing', fields: { sourceId: id } });
}

/**
 * Classifies the pending items. Work dated before an amendment's rate change is
 * rated with the terms then in force (one pass per line and superseded terms,
 * oldest first, so caps still fill in date order); the rest with the current
 * version. Without rate changes this is one pass, as before amendments existed.
 */
function classify(s: EngagementState, d: Deal, cc: CompiledContract, today: string): { decisions: Decision[]; overCapLines: OverCapLines } {
  const { pending } = s;
  const contract = cc.contract;
  const overCapLines: OverCapLines = new Map();
  const projectId = d.setup.project.id;
  const history = s.rateHistory ?? {};
  let time = pending.time;
  let billedByLine = s.billedByLine;
  let drawnByLine = s.drawnByLine;
  const decisions: Decision[] = [];
  if (Object.keys(history).length > 0) {
    const groups = new Map<string, { lineId: string; terms: RateTerms; entries: TimeEntry[] }>();
    const current: TimeEntry[] = [];
    for (const e of time) {
      const terms = history[e.contractLineId]?.find((h) => e.workDate < h.until);
      if (!terms) {
        current.push(e);
        continue;
      }
      const k = `${terms.until}|${e.contractLineId}`;
      let g = groups.get(k);
      if (!g) groups.set(k, (g = { lineId: e.contractLineId, terms, entries: [] }));
      g.entries.push(e);
    }
    billedByLine = { ...s.billedByLine };
    drawnByLine = { ...s.drawnByLine };
    for (const k of [...groups.keys()].sort()) {
      const g = groups.get(k)!;
      const { rateCardRef, discountBp } = g.terms;
      const variant: Contract = {
        ...contract,
        lines: contract.lines.map((l) => {
          if (l.id !== g.lineId) return l;
          const { rateCardRef: _current, ...rest } = l;
          return { ...rest, ...(rateCardRef !== undefined ? { rateCardRef } : {}), discountBp };
        }),
      };
      const vcc = compiled(d, variant);
      const part = classifyDeliveries(vcc, { timeEntries: g.entries }, today, { billedByLine, drawnByLine, processedIds: new Set(s.processedIds), scheduledCharges: false }, projectId);
      for (const dec of part.decisions) {
        if (dec.billingClass !== 'BILLABLE') continue;
        if (dec.lineKey !== undefined) billedByLine[dec.contractLineId] = (billedByLine[dec.contractLineId] ?? 0) + dec.amountMinor;
        else drawnByLine[dec.contractLineId] = (drawnByLine[dec.contractLineId] ?? 0) + dec.amountMinor;
      }
      noteOverCap(vcc, part.decisions, g.entries, overCapLines);
      decisions.push(...part.decisions);
    }
    time = current;
  }
  const run = classifyDeliveries(cc, { timeEntries: time, expenses: pending.expenses, milestones: pending.milestones }, today, { billedByLine, drawnByLine, processedIds: new Set(s.processedIds) }, projectId);
  noteOverCap(cc, run.decisions, time, overCapLines);
  return { decisions: decisions.length > 0 ? [...decisions, ...run.decisions] : run.decisions, overCapLines };
}

/** The invoice line a time entry's over-cap part would be billed on (its billed sibling's, or its rate slot's). */
function noteOverCap(cc: CompiledContract, decisions: readonly Decision[], entries: readonly TimeEntry[], into: OverCapLines): void {
  const capped = decisions.filter((dec) => dec.reasonCode === 'CAPPED.OVER_CAP' && dec.kind === 'TIME');
  if (capped.length === 0) return;
  const ids = new Set(capped.map((dec) => dec.sourceId));
  const billed = new Map<string, Decision>();
  for (const dec of decisions) if (ids.has(dec.sourceId) && dec.billingClass === 'BILLABLE' && dec.lineKey !== undefined) billed.set(dec.sourceId, dec);
  const entryOf = new Map(entries.filter((e) => ids.has(e.id)).map((e) => [e.id, e]));
  for (const dec of capped) {
    const sibling = billed.get(dec.sourceId);
    if (sibling) {
      into.set(dec.sourceId, { lineKey: sibling.lineKey!, lineDescription: sibling.lineDescription });
      continue;
    }
    const e = entryOf.get(dec.sourceId);
    const cl = cc.lines.get(dec.contractLineId);
    const slot = e && cl ? cl.rates?.timeSlot(e.role, e.region, e.workDate, dateKey(e.workDate), e.overtime, cl.line.discountBp) : undefined;
    if (slot) into.set(dec.sourceId, { lineKey: slot.lineKey, lineDescription: slot.description });
  }
}
