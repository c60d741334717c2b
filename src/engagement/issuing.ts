import type { Contract, Invoice } from '../canonical';
import { revenueSchedule } from '../rules/revenue';
import { outcome, type Outcome } from './commands';
import { contractOf, invoiceById, raise, resolveAttention, statusFor, type Deal } from './deal';
import type { BillTo, IssueContext, IssueRequest, IssueResult } from './model';
import { queueRevenue } from './revenue';
import { issueMoved } from './stalled-issue';
import type { EngagementState } from './state';

/** More invoices than this in one run go out through a child workflow. */
export const DEFAULT_CHILD_RUN_THRESHOLD = 25;

/** The change that stops a rejected invoice's items from being recognised (runs before it recognised them). */
export const REJECTED_NOT_RECOGNISED = 'rejected-invoice-revenue';

/**
 * Drafts an operator rejected leave the books: never posted, their amounts no
 * longer count against caps, and revenue queued for their items (a milestone's
 * recognition) is withdrawn while its month is still open.
 */
export function dropRejected(s: EngagementState, d: Deal): Outcome {
  const out = outcome();
  for (const draft of s.drafts.filter((x) => x.approval === 'REJECTED')) {
    const inv = invoiceById(s, draft.invoice.id)!;
    inv.status = 'REJECTED';
    const contract = contractOf(s, d);
    for (const l of draft.invoice.lines) {
      // what never counted against the cap is not given back to it: expenses on a line whose cap excludes them
      // (an invoice line bills one kind of item; its billing events say which)
      const excludes = contract.lines.find((x) => x.id === l.contractLineId)?.cap?.includesExpenses === false;
      if (excludes && draft.events.some((ev) => ev.sourceId === l.sourceItemIds[0] && ev.kind === 'EXPENSE')) continue;
      s.billedByLine[l.contractLineId] = (s.billedByLine[l.contractLineId] ?? 0) - l.amount.amountMinor;
    }
    resolveAttention(s, (a) => a.invoiceId === inv.id);
    const items = new Set(draft.invoice.lines.flatMap((l) => l.sourceItemIds));
    const queued = s.revenue.pending.filter((l) => l.sourceIds.some((id) => items.has(id)));
    if (queued.length > 0 && d.patched(REJECTED_NOT_RECOGNISED)) {
      s.revenue.pending = s.revenue.pending.filter((l) => !queued.includes(l));
      out.notices.push({ kind: 'warn', message: 'revenue of a rejected invoice withdrawn', fields: { invoiceId: inv.id, amountMinor: queued.reduce((a, l) => a + l.amount.amountMinor, 0) } });
    }
  }
  s.drafts = s.drafts.filter((x) => x.approval !== 'REJECTED');
  return out;
}

/** What goes out now: drafts that need no approval or were approved (a failed one again on a later day). */
export function readyToIssue(s: EngagementState, today: string): IssueRequest[] {
  return s.drafts
    .filter((x) => (x.approval === 'NOT_REQUIRED' || x.approval === 'APPROVED') && (!x.failed || x.requestedOn < today))
    .map((x) => ({ invoice: x.invoice, taxableLineIds: x.taxableLineIds, events: x.events }));
}

/** Issue in a child workflow (its own history) when the run is large. */
export const issuesInChild = (d: Deal, requests: readonly IssueRequest[]): boolean => requests.length > (d.options.childRunThreshold ?? DEFAULT_CHILD_RUN_THRESHOLD);

export function issueContext(d: Deal, contract: Contract = d.snapshot.contract, billTo?: BillTo): IssueContext {
  const { snapshot, ids, options } = d;
  return {
    dealId: d.dealId,
    opportunityId: d.opportunityId,
    ...(ids.projectId ? { psaProjectId: ids.projectId } : {}),
    erpCustomerId: billTo?.erpCustomerId ?? ids.erpCustomerId ?? '',
    ...(ids.erpContractId ? { erpSalesOrderId: ids.erpContractId } : {}),
    customer: billTo?.customer ?? snapshot.customer,
    seller: snapshot.contractingEntity,
    system: options.invoiceSystem ?? 'erp',
    ...(options.billingCustomerId ? { billingCustomerId: options.billingCustomerId } : {}),
    // The version in force: an amendment may have changed the payment terms.
    netDays: contract.paymentTerms.netDays,
  };
}

/**
 * The results of an issue run: a posted invoice takes its number, tax and
 * status and queues its as-invoiced revenue; a failed one stays a draft, is
 * tried again on a later day and raises POSTING_FAILED.
 */
export function invoicesIssued(s: EngagementState, d: Deal, results: readonly IssueResult[], today: string): Outcome {
  const out = outcome();
  const issued: Invoice[] = [];
  for (const r of results) {
    const draft = s.drafts.find((x) => x.invoice.id === r.invoiceId)!;
    const inv = invoiceById(s, r.invoiceId)!;
    // The run is over for this invoice: it is no longer held in a step (a failure for good is POSTING_FAILED below).
    issueMoved(s, inv.id);
    if (!r.ok) {
      draft.failed = { code: r.errorCode ?? 'UNKNOWN', message: r.errorMessage ?? '' };
      draft.requestedOn = today; // retried on a later day; an operator may reject it meanwhile
      raise(s, { id: `POSTING_FAILED:${inv.id}`, kind: 'POSTING_FAILED', invoiceId: inv.id, message: `${r.errorCode}: ${r.errorMessage}`, raisedOn: today }, out);
      continue;
    }
    resolveAttention(s, (a) => a.kind === 'POSTING_FAILED' && a.invoiceId === inv.id);
    inv.number = r.number!;
    inv.externalId = r.externalId!;
    inv.system = r.system!;
    inv.taxMinor = r.taxMinor ?? 0;
    inv.totalMinor = inv.subtotalMinor + inv.taxMinor;
    inv.issueDate = draft.invoice.issueDate;
    inv.lines = draft.invoice.lines.map((l) => ({ id: l.id, contractLineId: l.contractLineId, amountMinor: l.amount.amountMinor, description: l.description, taxCode: l.taxCode, taxable: l.taxable }));
    // After a bill-to change the invoice went to that customer (drafts cannot span the change: the amendment waits for them).
    const billTo = s.billTos?.at(-1);
    if (billTo) inv.billTo = { customerId: billTo.customer.id, erpCustomerId: billTo.erpCustomerId };
    // An approved invoice left AWAITING_APPROVAL once posted, so its payments never matched.
    if (inv.status === 'AWAITING_APPROVAL' && d.patched('approved-invoice-posted')) inv.status = 'POSTED';
    inv.status = statusFor(inv);
    out.notices.push({ kind: 'invoicePosted', issueDate: draft.invoice.issueDate });
    issued.push(draft.invoice);
    // Newer runs derive a credit's basis from the audit trail when it is asked for: the state no longer grows by a copy of every invoice.
    if (!d.patched('credit-basis-from-audit')) {
      const asPosted: Invoice = { ...draft.invoice, status: 'POSTED', tax: { amountMinor: inv.taxMinor, currency: draft.invoice.currency }, total: { amountMinor: inv.totalMinor, currency: draft.invoice.currency } };
      (s.creditBasis ??= {})[inv.id] = {
        invoice: asPosted,
        events: draft.events,
        credited: {},
        taxCreditedMinor: 0,
      };
    }
    s.drafts = s.drafts.filter((x) => x !== draft);
  }
  if (issued.length > 0) {
    const rev = revenueSchedule({ contract: contractOf(s, d), decisions: [], invoices: issued, asOf: today });
    queueRevenue(s, rev.lines.filter((l) => l.treatment === 'AS_INVOICED'));
  }
  return out;
}
