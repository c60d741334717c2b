import { addDays } from '../rules/dates';
import { outcome, type Command, type Outcome } from './commands';
import { approvalDays, balanceOf, contractOf, crmStatus, graceDays, invoiceById, isPosted, isSettled, raise, resolveAttention, statusFor, type Deal } from './deal';
import { resolveCollection } from './dunning';
import type { InvoiceDecision, InvoiceSummary, PaymentEvent, WriteOffRequest } from './model';
import { refuse } from './refusal';
import type { EngagementState } from './state';

/*
 * Cash: payments and refunds applied to posted invoices, status write-backs,
 * overdue and approval deadlines, and the operator's invoice decisions.
 */

/** Applies payments and refunds to invoices on the business date `today`; one not matching any posted invoice (yet) stays unmatched. */
export function applyPayments(s: EngagementState, d: Deal, today: string): Outcome {
  const out = outcome();
  const currency = contractOf(s, d).currency;
  const still: PaymentEvent[] = [];
  for (const ev of s.payments.unmatched) {
    const inv = s.invoices.find(
      (i) => i.status !== 'AWAITING_APPROVAL' && i.status !== 'REJECTED' && (i.id === ev.invoiceId || i.number === ev.invoiceNumber || (ev.stripeInvoiceId !== undefined && i.externalId === ev.stripeInvoiceId)) && isPosted(s, i),
    );
    if (!inv || ev.currency !== currency) {
      still.push(ev);
      continue;
    }
    let applied: number;
    if (ev.kind === 'charge.refunded') {
      // Stripe reports a charge's cumulative refund: apply only what is new.
      const chargeKey = ev.chargeId ?? ev.paymentIntentId ?? inv.id;
      const before = s.payments.refundedByCharge[chargeKey] ?? 0;
      applied = -Math.max(0, ev.amountMinor - before);
      s.payments.refundedByCharge[chargeKey] = Math.max(before, ev.amountMinor);
      inv.refundedMinor -= applied;
      if (applied === 0) continue; // a later event repeating a refund already applied
    } else {
      applied = ev.amountMinor;
    }
    inv.paidMinor += applied;
    inv.status = statusFor(inv);
    if (inv.paidOn === undefined && (inv.status === 'PAID' || inv.status === 'OVERPAID')) inv.paidOn = today;
    if (isSettled(inv)) resolveCollection(s, inv.id);
    out.commands.push({
      kind: 'recordPayment',
      input: {
        dealId: d.dealId,
        opportunityId: d.opportunityId,
        invoiceNumber: inv.number,
        eventId: ev.eventId,
        kind: ev.kind,
        appliedMinor: applied,
        currency: ev.currency,
        status: crmStatus(inv.status),
        totalMinor: inv.totalMinor,
        paidMinor: inv.paidMinor,
        dueDate: inv.dueDate,
      },
    });
  }
  s.payments.unmatched = still;
  return out;
}

/** The next invoice status to write back to the CRM (after a write-off or a credit), or undefined. */
export function nextStatusSync(s: EngagementState, d: Deal): Command | undefined {
  while (s.statusSyncs.length > 0) {
    const inv = invoiceById(s, s.statusSyncs.shift()!);
    if (!inv) continue;
    return { kind: 'syncInvoiceStatus', input: { opportunityId: d.opportunityId, invoiceNumber: inv.number, status: crmStatus(inv.status), totalMinor: inv.totalMinor, paidMinor: inv.paidMinor, currency: contractOf(s, d).currency, dueDate: inv.dueDate } };
  }
  return undefined;
}

/** Overdue invoices (due date + grace passed, balance open) and unanswered approvals raise attention items. */
export function checkDeadlines(s: EngagementState, d: Deal, today: string): Outcome {
  const out = outcome();
  for (const inv of s.invoices) {
    if (!isPosted(s, inv) || isSettled(inv)) continue;
    if (today >= addDays(inv.dueDate, graceDays(d))) {
      raise(s, { id: `OVERDUE:${inv.id}`, kind: 'OVERDUE', invoiceId: inv.id, message: `invoice ${inv.number} is overdue: ${balanceOf(inv)} minor units open since ${inv.dueDate}`, raisedOn: today }, out);
    }
  }
  const days = approvalDays(d);
  for (const draft of s.drafts) {
    if (draft.approval === 'REQUIRED' && today >= addDays(draft.requestedOn, days)) {
      raise(s, { id: `APPROVAL_TIMEOUT:${draft.invoice.id}`, kind: 'APPROVAL_TIMEOUT', invoiceId: draft.invoice.id, message: `invoice ${draft.invoice.id} has waited ${days} days for approval`, raisedOn: today }, out);
    }
  }
  return out;
}

// ---------------------------------------------------------------- operator: approve, reject, write off

export function validateDecision(s: EngagementState, req: InvoiceDecision): void {
  const draft = s.drafts.find((x) => x.invoice.id === req.invoiceId);
  if (!draft) refuse('DEAL.INVOICE_NOT_PENDING', `no invoice ${req.invoiceId} is waiting for a decision`);
  if (draft!.approval !== 'REQUIRED' && !draft!.failed) refuse('DEAL.INVOICE_NOT_PENDING', `invoice ${req.invoiceId} is ${draft!.approval}`);
  if (req.decision !== 'approve' && req.decision !== 'reject') refuse('DEAL.ACTION_INVALID', `decision must be approve or reject`);
  if (!req.by?.trim()) refuse('DEAL.ACTION_INVALID', 'the decision needs `by`');
  if (req.decision === 'reject' && !req.reason?.trim()) refuse('DEAL.ACTION_INVALID', 'a rejection needs a reason');
}

/** An approved draft goes out on the next pass; a rejected one is dropped there. */
export function decideInvoice(s: EngagementState, req: InvoiceDecision): InvoiceSummary {
  const draft = s.drafts.find((x) => x.invoice.id === req.invoiceId)!;
  draft.approval = req.decision === 'approve' ? 'APPROVED' : 'REJECTED';
  if (req.decision === 'approve') draft.failed = undefined;
  resolveAttention(s, (a) => a.kind === 'APPROVAL_TIMEOUT' && a.invoiceId === req.invoiceId);
  return invoiceById(s, req.invoiceId)!;
}

export function validateWriteOff(s: EngagementState, req: WriteOffRequest): void {
  const inv = invoiceById(s, req.invoiceId);
  if (!inv || !isPosted(s, inv) || inv.status === 'REJECTED') refuse('DEAL.INVOICE_UNKNOWN', `no posted invoice ${req.invoiceId}`);
  if (balanceOf(inv!) <= 0) refuse('DEAL.NOTHING_TO_WRITE_OFF', `invoice ${req.invoiceId} has no open balance`);
  if (!req.by?.trim() || !req.reason?.trim()) refuse('DEAL.ACTION_INVALID', 'a write-off needs `by` and `reason`');
}

/** Writes off the open balance; the CRM hears of it on the next pass. */
export function writeOffInvoice(s: EngagementState, req: WriteOffRequest): InvoiceSummary {
  const inv = invoiceById(s, req.invoiceId)!;
  inv.writtenOffMinor += balanceOf(inv);
  inv.status = statusFor(inv);
  resolveCollection(s, inv.id);
  s.statusSyncs.push(inv.id);
  return inv;
}
