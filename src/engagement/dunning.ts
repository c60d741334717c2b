import { addDays, dayNumber } from '../rules/dates';
import { outcome, type DunningReminder, type Outcome, type PaymentRetryResult } from './commands';
import { balanceOf, contractOf, invoiceById, isPosted, isSettled, raise, resolveAttention, type Deal } from './deal';
import type { DunningPolicy, DunningStage, DunningStep, InvoiceDunning, InvoiceSummary, PromiseRecord, PromiseToPayRequest } from './model';
import { refuse } from './refusal';
import type { EngagementState } from './state';

/*
 * Dunning: what the deal does about an invoice once it is past due. At each
 * step of the policy (days past the due date) one reminder goes to the CRM as a
 * task on the opportunity, naming the balance still open; at a step that says
 * so, an invoice issued in Stripe has its payment retried first (a successful
 * retry stops the reminders; its money arrives as the usual invoice.paid event,
 * never from the retry's answer, so it cannot be counted twice). An invoice
 * still open at `escalateAfterDays` raises DUNNING_ESCALATED. A promise to pay
 * pauses all of it for that invoice until the promised date plus a grace; a
 * broken promise raises PROMISE_BROKEN and dunning resumes. Steps that fell in
 * a pause (or while the deal slept) are not sent late one by one: the latest
 * due step is sent, the earlier ones are recorded as skipped.
 */

/** Reminders 7, 14 and 30 days past due; the payment retried at 14 (Stripe invoices); escalation at 30. */
export const DEFAULT_DUNNING: DunningPolicy = { steps: [{ daysPastDue: 7 }, { daysPastDue: 14, retryPayment: true }, { daysPastDue: 30 }], promiseGraceDays: 3, maxPromiseDays: 60 };

export interface ResolvedDunningPolicy {
  steps: Array<Required<DunningStep>>;
  escalateAfterDays: number;
  promiseGraceDays: number;
  maxPromiseDays: number;
}

/** The deal's policy as configured (ascending, one entry per day), or undefined when dunning is off. Reads no patch: validators use it. */
export function configuredDunning(d: Deal): ResolvedDunningPolicy | undefined {
  const o = d.options.dunning;
  if (o === false) return undefined;
  const p = o ?? DEFAULT_DUNNING;
  const days = [...new Set(p.steps.map((st) => st.daysPastDue).filter((n) => Number.isInteger(n) && n > 0))].sort((a, b) => a - b);
  if (days.length === 0) return undefined;
  const steps = days.map((day) => ({ daysPastDue: day, retryPayment: p.steps.some((st) => st.daysPastDue === day && st.retryPayment === true) }));
  return {
    steps,
    escalateAfterDays: p.escalateAfterDays ?? days[days.length - 1]!,
    promiseGraceDays: p.promiseGraceDays ?? DEFAULT_DUNNING.promiseGraceDays!,
    maxPromiseDays: p.maxPromiseDays ?? DEFAULT_DUNNING.maxPromiseDays!,
  };
}

/** Invoices dunning may act on: posted, balance open. */
const open = (s: EngagementState): InvoiceSummary[] => s.invoices.filter((inv) => isPosted(s, inv) && !isSettled(inv));

/**
 * The policy in force for this run: configured, and the workflow's patched('dunning')
 * (a history from before dunning replays without it). Asked only once some invoice is
 * open, so a deal with nothing to collect carries no marker.
 */
function inForce(s: EngagementState, d: Deal): ResolvedDunningPolicy | undefined {
  if (open(s).length === 0) return undefined;
  const policy = configuredDunning(d);
  return policy && d.patched('dunning') ? policy : undefined;
}

const daysPastDue = (inv: InvoiceSummary, today: string): number => dayNumber(today) - dayNumber(inv.dueDate);
const lastPromise = (dun: InvoiceDunning | undefined): PromiseRecord | undefined => dun?.promises?.[dun.promises.length - 1];
const openPromise = (dun: InvoiceDunning | undefined): PromiseRecord | undefined => {
  const p = lastPromise(dun);
  return p && !p.outcome ? p : undefined;
};
const stepsDone = (dun: InvoiceDunning | undefined): Set<number> => new Set([...(dun?.reminders ?? []).map((r) => r.step), ...(dun?.skipped ?? [])]);

/** The day a retry was answered as collected (or still awaits its answer): its payment event gets the promise grace to arrive before escalation. */
const retryCollectedOn = (dun: InvoiceDunning | undefined): string | undefined => {
  const r = dun?.retries?.[dun.retries.length - 1];
  return r && (r.outcome === 'PAID' || r.outcome === 'ALREADY_PAID' || r.outcome === 'PENDING') ? r.on : undefined;
};

/** A retry only where the billing system holds exactly what the deal says is open: nothing paid, credited or written off elsewhere. */
const retryable = (inv: InvoiceSummary): boolean => inv.system === 'stripe' && inv.externalId !== undefined && inv.paidMinor === 0 && (inv.creditedMinor ?? 0) === 0 && inv.writtenOffMinor === 0;

/** The attention items of an invoice's collection; settled, written off or credited, they go. */
export function resolveCollection(s: EngagementState, invoiceId: string): void {
  resolveAttention(s, (a) => a.invoiceId === invoiceId && (a.kind === 'OVERDUE' || a.kind === 'DUNNING_ESCALATED' || a.kind === 'PROMISE_BROKEN'));
}

/**
 * The dunning due today: payment retries, reminders, broken promises and escalations.
 * The shell runs the commands, feeds each retry's answer back (paymentRetried) and asks
 * again until nothing is returned: a reminder at a retry step waits for the retry's answer.
 */
export function dunningDue(s: EngagementState, d: Deal, today: string): Outcome {
  const out = outcome();
  // Promises on invoices settled since: kept.
  for (const inv of s.invoices) {
    const p = openPromise(inv.dunning);
    if (p && isSettled(inv)) Object.assign(p, { outcome: 'KEPT', endedOn: today });
  }
  const policy = inForce(s, d);
  if (!policy) return out;
  const last = policy.steps[policy.steps.length - 1]!.daysPastDue;
  const currency = contractOf(s, d).currency;
  for (const inv of open(s)) {
    const dpd = daysPastDue(inv, today);
    const promise = openPromise(inv.dunning);
    if (promise) {
      if (today <= promise.pausedThrough) continue;
      Object.assign(promise, { outcome: 'BROKEN', endedOn: today });
      raise(s, { id: `PROMISE_BROKEN:${inv.id}:${promise.requestId}`, kind: 'PROMISE_BROKEN', invoiceId: inv.id, message: `invoice ${inv.number}: ${promise.by} promised payment by ${promise.promisedOn}; ${balanceOf(inv)} minor units still open on ${today}`, raisedOn: today }, out);
    }
    if (dpd <= 0) continue;
    const done = stepsDone(inv.dunning);
    const due = policy.steps.filter((st) => st.daysPastDue <= dpd && !done.has(st.daysPastDue));
    if (due.length === 0) continue;
    const step = due[due.length - 1]!;
    const dun = (inv.dunning ??= { reminders: [] });
    const retryStep = [...due].reverse().find((st) => st.retryPayment);
    const retried = retryStep ? dun.retries?.find((r) => r.step === retryStep.daysPastDue) : undefined;
    if (retryStep && !retried && retryable(inv)) {
      (dun.retries ??= []).push({ step: retryStep.daysPastDue, on: today, outcome: 'PENDING' });
      out.commands.push({
        kind: 'retryInvoicePayment',
        input: { dealId: d.dealId, key: `${d.dealId}:dunning:${inv.id}:${retryStep.daysPastDue}:retry`, invoiceId: inv.id, invoiceNumber: inv.number, externalId: inv.externalId!, step: retryStep.daysPastDue, expectedMinor: balanceOf(inv), currency },
      });
      continue;
    }
    // A retry the billing system took: the money is on its way as a payment event; no reminder for it.
    const lastRetry = dun.retries?.[dun.retries.length - 1];
    if (lastRetry && (lastRetry.outcome === 'PAID' || lastRetry.outcome === 'ALREADY_PAID' || lastRetry.outcome === 'PENDING')) continue;
    // The first reminder after a broken promise names it (the break may have been seen in an earlier call, before a retry).
    const lp = lastPromise(dun);
    const broken = lp?.outcome === 'BROKEN' && !dun.reminders.some((r) => r.on >= lp.endedOn!) ? lp : undefined;
    const superseded = due.slice(0, -1).map((st) => st.daysPastDue);
    if (superseded.length > 0) dun.skipped = [...(dun.skipped ?? []), ...superseded];
    const openMinor = balanceOf(inv);
    dun.reminders.push({ step: step.daysPastDue, on: today, openMinor });
    const input: DunningReminder = {
      dealId: d.dealId,
      opportunityId: d.opportunityId,
      key: `${d.dealId}:dunning:${inv.id}:${step.daysPastDue}`,
      invoiceId: inv.id,
      invoiceNumber: inv.number,
      step: step.daysPastDue,
      daysPastDue: dpd,
      final: step.daysPastDue === last,
      dueDate: inv.dueDate,
      remindedOn: today,
      openMinor,
      totalMinor: inv.totalMinor,
      currency,
      ...(broken ? { brokenPromise: { promisedOn: broken.promisedOn, by: broken.by } } : {}),
      ...(retried?.outcome === 'DECLINED' ? { retryDeclined: retried.detail ?? 'declined' } : {}),
    };
    out.commands.push({ kind: 'sendDunningReminder', input });
    out.notices.push({ kind: 'dunningReminder', step: step.daysPastDue, invoiceId: inv.id, openMinor });
  }
  // Escalation after the day's reminders (a paused invoice waits for its promise).
  for (const inv of open(s)) {
    const dpd = daysPastDue(inv, today);
    if (dpd < policy.escalateAfterDays || inv.dunning?.escalatedOn || openPromise(inv.dunning)) continue;
    const collectedOn = retryCollectedOn(inv.dunning);
    if (collectedOn !== undefined && today < addDays(collectedOn, policy.promiseGraceDays)) continue;
    const dun = (inv.dunning ??= { reminders: [] });
    dun.escalatedOn = today;
    raise(s, { id: `DUNNING_ESCALATED:${inv.id}`, kind: 'DUNNING_ESCALATED', invoiceId: inv.id, message: `invoice ${inv.number} is ${dpd} days past due with ${balanceOf(inv)} minor units open after ${dun.reminders.length} reminder(s)`, raisedOn: today }, out);
  }
  return out;
}

/** The billing system's answer to a retry; the deal's money does not move here. */
export function paymentRetried(s: EngagementState, result: PaymentRetryResult): Outcome {
  const out = outcome();
  const retry = invoiceById(s, result.invoiceId)?.dunning?.retries?.find((r) => r.step === result.step);
  if (!retry) return out;
  retry.outcome = result.outcome;
  if (result.detail) retry.detail = result.detail;
  if (result.outcome === 'DECLINED' || result.outcome === 'NOT_RETRIED') out.notices.push({ kind: 'warn', message: 'payment retry not collected', fields: { invoiceId: result.invoiceId, step: result.step, outcome: result.outcome, detail: result.detail } });
  return out;
}

/** A reminder the CRM did not take (its activity failed for good): forgotten, so the next pass sends it again. */
export function dunningReminderFailed(s: EngagementState, reminder: DunningReminder): void {
  const dun = invoiceById(s, reminder.invoiceId)?.dunning;
  if (dun) dun.reminders = dun.reminders.filter((r) => r.step !== reminder.step);
}

/** The next dates dunning needs the deal awake: the next step, escalation, the day after a promise's pause. */
export function dunningDates(s: EngagementState, d: Deal): string[] {
  const policy = inForce(s, d);
  if (!policy) return [];
  const dates: string[] = [];
  for (const inv of open(s)) {
    const p = openPromise(inv.dunning);
    if (p) {
      dates.push(addDays(p.pausedThrough, 1));
      continue;
    }
    const done = stepsDone(inv.dunning);
    const next = policy.steps.find((st) => !done.has(st.daysPastDue));
    if (next) dates.push(addDays(inv.dueDate, next.daysPastDue));
    if (!inv.dunning?.escalatedOn) {
      dates.push(addDays(inv.dueDate, policy.escalateAfterDays));
      const collectedOn = retryCollectedOn(inv.dunning);
      if (collectedOn !== undefined) dates.push(addDays(collectedOn, policy.promiseGraceDays));
    }
  }
  return dates;
}

// ---------------------------------------------------------------- promise to pay

const promiseInvoice = (s: EngagementState, id: string): InvoiceSummary | undefined => s.invoices.find((i) => (i.id === id || i.number === id) && isPosted(s, i) && i.status !== 'REJECTED');

/** The promise a request id already made (a repeated request returns it and changes nothing). */
export function priorPromise(s: EngagementState, req: PromiseToPayRequest): { invoice: InvoiceSummary; promise: PromiseRecord } | undefined {
  for (const invoice of s.invoices) {
    const promise = invoice.dunning?.promises?.find((p) => p.requestId === req.requestId);
    if (promise) return { invoice, promise };
  }
  return undefined;
}

export function validatePromise(s: EngagementState, d: Deal, req: PromiseToPayRequest, today: string): void {
  if (priorPromise(s, req)) return;
  const policy = configuredDunning(d);
  if (!policy) refuse('DEAL.DUNNING_OFF', 'this deal does not dun its invoices');
  const inv = promiseInvoice(s, req.invoiceId);
  if (!inv) refuse('DEAL.INVOICE_UNKNOWN', `no posted invoice ${req.invoiceId}`);
  if (isSettled(inv!)) refuse('DEAL.INVOICE_SETTLED', `invoice ${inv!.number} has no open balance (${inv!.status})`);
  if (!req.by?.trim() || !req.note?.trim()) refuse('DEAL.ACTION_INVALID', 'a promise to pay needs `by` and `note`');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(req.promisedOn ?? '')) refuse('DEAL.ACTION_INVALID', 'promisedOn must be a date (YYYY-MM-DD)');
  if (req.promisedOn < today) refuse('DEAL.PROMISE_DATE_PAST', `promisedOn ${req.promisedOn} is before today (${today})`);
  const furthest = addDays(today, policy!.maxPromiseDays);
  if (req.promisedOn > furthest) refuse('DEAL.PROMISE_TOO_FAR', `promisedOn ${req.promisedOn} is more than ${policy!.maxPromiseDays} days ahead (latest ${furthest})`);
  const current = openPromise(inv!.dunning);
  if (current && today <= current.pausedThrough) refuse('DEAL.PROMISE_OPEN', `invoice ${inv!.number} already has a promise (${current.requestId}) to pay by ${current.promisedOn}`);
}

/** Records the promise: dunning of the invoice pauses through promisedOn + grace; an open PROMISE_BROKEN item for it is resolved. */
export function promiseToPay(s: EngagementState, d: Deal, req: PromiseToPayRequest, today: string): { invoice: InvoiceSummary; promise: PromiseRecord } {
  const prior = priorPromise(s, req);
  if (prior) return { invoice: withStage(prior.invoice, d), promise: prior.promise };
  const policy = configuredDunning(d)!;
  const inv = promiseInvoice(s, req.invoiceId)!;
  const dun = (inv.dunning ??= { reminders: [] });
  // A promise whose pause ran out before the deal's next pass noticed: broken now.
  const stale = openPromise(dun);
  if (stale) Object.assign(stale, { outcome: 'BROKEN', endedOn: today });
  const promise: PromiseRecord = { requestId: req.requestId, by: req.by, promisedOn: req.promisedOn, note: req.note, madeOn: today, pausedThrough: addDays(req.promisedOn, policy.promiseGraceDays) };
  (dun.promises ??= []).push(promise);
  resolveAttention(s, (a) => a.kind === 'PROMISE_BROKEN' && a.invoiceId === inv.id);
  return { invoice: withStage(inv, d), promise };
}

// ---------------------------------------------------------------- the view

function stageOf(inv: InvoiceSummary, dun: InvoiceDunning): DunningStage {
  if (isSettled(inv)) return 'SETTLED';
  if (openPromise(dun)) return 'PROMISED';
  if (lastPromise(dun)?.outcome === 'BROKEN') return 'PROMISE_BROKEN';
  if (dun.escalatedOn) return 'ESCALATED';
  const retry = dun.retries?.[dun.retries.length - 1];
  if (retry && (retry.outcome === 'PAID' || retry.outcome === 'ALREADY_PAID' || retry.outcome === 'PENDING')) return 'RETRIED';
  return dun.reminders.length > 0 ? 'REMINDED' : 'NONE';
}

/** The invoice as the deal shows it: its dunning with the stage and the next step (only invoices dunning has touched). */
export function withStage(inv: InvoiceSummary, d: Deal): InvoiceSummary {
  const dun = inv.dunning;
  if (!dun) return inv;
  const stage = stageOf(inv, dun);
  const policy = configuredDunning(d);
  const done = stepsDone(dun);
  const next = stage === 'SETTLED' || stage === 'PROMISED' || !policy ? undefined : policy.steps.find((st) => !done.has(st.daysPastDue));
  return { ...inv, dunning: { ...dun, stage, ...(next ? { next: { step: next.daysPastDue, on: addDays(inv.dueDate, next.daysPastDue), ...(next.retryPayment && retryable(inv) ? { retryPayment: true } : {}) } } : {}) } };
}
