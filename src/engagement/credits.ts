import type { CreditMemo } from '../canonical';
import { CreditError, creditInvoiceLines } from '../rules/credit';
import { contractOf, isPosted, isSettled, resolveAttention, statusFor, type Deal } from './deal';
import type { BillTo, CreditAuditItem, CreditInvoiceRequest, CreditMemoSummary, InvoiceItemLink, InvoiceSummary } from './model';
import { resolveCollection } from './dunning';
import { refuse } from './refusal';
import { accept } from './intake';
import type { DeliveryItem } from './model';
import { reverseCreditedRevenue } from './revenue';
import type { CreditBasis, EngagementState } from './state';

/*
 * Credit memos against posted invoices: the operator names whole invoice lines
 * or source items of a line; the memo reverses exactly what was invoiced for
 * them. The validator and the handler both ask creditMemoFor.
 */

/** A credit the core has checked and priced: what the shell posts. */
export interface CreditPlan {
  inv: InvoiceSummary;
  basis: CreditBasis;
  memo: CreditMemo;
}

/** What the ERP returned for the credit memo. */
export interface PostedCredit {
  number: string;
  externalId: string;
  taxByLine: Record<string, number>;
  taxMinor: number;
}

/** The credit memo this request id already issued, after checking the repeat asks for the same. */
export function priorCredit(s: EngagementState, req: CreditInvoiceRequest): CreditMemoSummary | undefined {
  if (typeof req?.requestId !== 'string' || !req.requestId.trim()) refuse('DEAL.ACTION_INVALID', 'a credit needs a requestId');
  const done = s.creditMemos?.find((m) => m.requestId === req.requestId);
  if (done && ((done.invoiceId !== req.invoiceId && done.invoiceNumber !== req.invoiceId) || JSON.stringify(done.request) !== JSON.stringify(req.lines))) {
    refuse('DEAL.REQUEST_ID_REUSED', `request ${req.requestId} already issued credit memo ${done.number} with other content`);
  }
  return done;
}

/** The posted ERP invoice the request names, or a refusal (checks that need no source items). */
export function creditableInvoice(s: EngagementState, req: CreditInvoiceRequest): InvoiceSummary {
  if (!req.by?.trim() || !req.note?.trim()) refuse('DEAL.ACTION_INVALID', 'a credit needs `by` and `note`');
  if (!['DISPUTE', 'ERROR', 'CANCELLATION'].includes(req.reason)) refuse('DEAL.ACTION_INVALID', 'reason: DISPUTE, ERROR or CANCELLATION');
  if (req.rebill !== undefined && typeof req.rebill !== 'boolean') refuse('DEAL.ACTION_INVALID', 'rebill: true or false');
  if (req.releaseCapped !== undefined && typeof req.releaseCapped !== 'boolean') refuse('DEAL.ACTION_INVALID', 'releaseCapped: true or false');
  if (req.rebill && req.releaseCapped) refuse('DEAL.ACTION_INVALID', 'releaseCapped: a rebill recomputes the cap itself');
  const inv = s.invoices.find((i) => i.id === req.invoiceId || i.number === req.invoiceId);
  if (!inv || !isPosted(s, inv) || inv.status === 'REJECTED' || inv.status === 'AWAITING_APPROVAL') return refuse('DEAL.INVOICE_UNKNOWN', `no posted invoice ${req.invoiceId}`);
  // ERP invoices get an ERP credit memo; invoices issued in Stripe a Stripe credit note (STRIPE_CREDIT_NOTES).
  if (!inv.externalId) refuse('DEAL.CREDIT_UNSUPPORTED', `invoice ${inv.number} has no id in ${inv.system}`);
  if (inv.status === 'WRITTEN_OFF') refuse('DEAL.CREDIT_UNSUPPORTED', `invoice ${inv.number} is written off`);
  if (!Array.isArray(req.lines) || req.lines.length === 0) refuse('DEAL.ACTION_INVALID', 'lines: name at least one invoice line');
  req.lines.forEach((sel, i) => {
    if (!inv.lines.some((l) => l.id === sel?.invoiceLineId)) refuse('DEAL.CREDIT_UNKNOWN_LINE', `lines.${i}.invoiceLineId: invoice ${inv.number} has no line ${sel?.invoiceLineId}`);
  });
  return inv;
}

/** The basis the state keeps for the invoice (runs from before 'credit-basis-from-audit'), if any. */
export const keptCreditBasis = (s: EngagementState, inv: InvoiceSummary): CreditBasis | undefined => s.creditBasis?.[inv.id];

/** The basis of a posted invoice derived from its audit links, its summary lines and the credit memos already issued against it. */
export function creditBasisFrom(s: EngagementState, d: Deal, inv: InvoiceSummary, links: readonly InvoiceItemLink[]): CreditBasis {
  const credited: Record<string, string[]> = {};
  let taxCreditedMinor = 0;
  for (const m of s.creditMemos ?? []) {
    if (m.invoiceId !== inv.id) continue;
    taxCreditedMinor += m.taxMinor;
    for (const l of m.lines) (credited[l.originalInvoiceLineId] ??= []).push(...l.sourceItemIds);
  }
  const lines = inv.lines
    .map((l) => ({ id: l.id, contractLineId: l.contractLineId, description: l.description ?? '', taxCode: l.taxCode ?? '', taxable: l.taxable ?? false, sourceItemIds: links.filter((x) => x.invoiceLineId === l.id).map((x) => x.sourceId) }))
    .filter((l) => l.sourceItemIds.length > 0);
  const events = links.flatMap((x) =>
    x.billingEventId !== null && x.amountMinor !== null ? [{ id: x.billingEventId, sourceId: x.sourceId, kind: x.sourceKind, contractLineId: x.contractLineId, quoteLineId: x.quoteLineId ?? '', amountMinor: x.amountMinor }] : [],
  );
  // The customer the invoice was issued to: the deal's own, or a bill-to an amendment named.
  return { invoice: { id: inv.id, customerId: inv.billTo?.customerId ?? d.snapshot.contract.billToCustomerId, currency: contractOf(s, d).currency, lines }, events, credited, taxCreditedMinor };
}

/** The credit memo the request asks for, from the invoice as issued, or a refusal. */
export function creditMemoFor(s: EngagementState, req: CreditInvoiceRequest, today: string, basis: CreditBasis, amountOf?: ReadonlyMap<string, number>): CreditPlan {
  const inv = creditableInvoice(s, req);
  const selections = req.lines.map((sel, i) => {
    const line = basis.invoice.lines.find((l) => l.id === sel?.invoiceLineId);
    if (!line) return refuse('DEAL.CREDIT_UNKNOWN_LINE', `lines.${i}.invoiceLineId: invoice ${inv.number} has no line ${sel?.invoiceLineId}`);
    if (req.lines.findIndex((x) => x.invoiceLineId === sel.invoiceLineId) !== i) refuse('DEAL.ACTION_INVALID', `lines.${i}.invoiceLineId: ${sel.invoiceLineId} is named twice`);
    const already = new Set(basis.credited[line.id] ?? []);
    const named = sel.sourceItemIds;
    if (named !== undefined) {
      if (!Array.isArray(named) || named.length === 0) refuse('DEAL.ACTION_INVALID', `lines.${i}.sourceItemIds: name at least one item, or leave it out for the whole line`);
      named.forEach((sid, j) => {
        if (!line.sourceItemIds.includes(sid)) refuse('DEAL.CREDIT_SOURCE_NOT_ON_LINE', `lines.${i}.sourceItemIds.${j}: ${sid} is not on invoice line ${line.id}`);
        if (already.has(sid)) refuse('DEAL.ALREADY_CREDITED', `lines.${i}.sourceItemIds.${j}: ${sid} on ${line.id} was credited before`);
      });
      if (new Set(named).size !== named.length) refuse('DEAL.ACTION_INVALID', `lines.${i}.sourceItemIds: an item is named twice`);
    }
    const ids = (named ?? line.sourceItemIds).filter((sid) => !already.has(sid));
    if (ids.length === 0) refuse('DEAL.ALREADY_CREDITED', `lines.${i}: every item of ${line.id} was credited before`);
    return { invoiceLineId: line.id, sourceItemIds: ids };
  });
  // A refund may credit less than an item was billed at (a retainer's unused part): `amountOf` says how much.
  if (req.rebill) {
    selections.forEach((sel, i) => {
      const other = sel.sourceItemIds.find((sid) => psaRefOf(sid) === undefined);
      if (other) refuse('DEAL.REBILL_UNSUPPORTED', `lines.${i}: ${other} cannot be rebilled (only time entries and expenses are read again from the PSA)`);
    });
  }
  const amounts = new Map(basis.events.map((e) => [e.sourceId, Math.min(e.amountMinor, amountOf?.get(e.sourceId) ?? e.amountMinor)]));
  let memo: CreditMemo;
  try {
    memo = creditInvoiceLines(basis.invoice, selections, amounts, { issueDate: today, reason: req.reason, memoKey: req.requestId });
  } catch (err) {
    if (err instanceof CreditError) return refuse(err.code.replace('RULES.', 'DEAL.'), err.message);
    throw err;
  }
  if (memo.lines.length === 0) refuse('DEAL.NOTHING_TO_CREDIT', `the named items of invoice ${inv.number} were billed at 0`);
  return { inv, basis, memo };
}

/** The ERP credit memo to post (tax reversed only up to what the invoice still carries). */
export function creditMemoPosting(d: Deal, plan: CreditPlan, billTo?: BillTo) {
  const { inv, basis, memo } = plan;
  const taxableLines: Record<string, string> = {};
  if (inv.taxMinor > 0) for (const l of basis.invoice.lines) if (l.taxable) taxableLines[l.id] = l.taxCode;
  return {
    dealId: d.dealId,
    creditMemo: memo,
    invoice: { id: inv.id, number: inv.number, externalId: inv.externalId!, ...(inv.system === 'stripe' ? { system: 'stripe' as const } : {}), taxCapMinor: inv.taxMinor - basis.taxCreditedMinor, taxableLines },
    // The customer the invoice was issued to (billToOf): a bill-to change does not move earlier invoices.
    erpCustomerId: billTo?.erpCustomerId ?? d.ids.erpCustomerId ?? '',
    customer: billTo?.customer ?? d.snapshot.customer,
    seller: d.snapshot.contractingEntity,
  };
}

/**
 * The posted credit memo in the deal's books; returns its summary and the audit trail to record.
 * A termination's refunds pass `reversesRevenue` false: the terminated contract version already
 * says what the lines earn.
 */
export function creditPosted(s: EngagementState, d: Deal, req: CreditInvoiceRequest, plan: CreditPlan, posted: PostedCredit, reversesRevenue = true) {
  const { inv, basis, memo } = plan;
  const summary: CreditMemoSummary = {
    id: memo.id,
    number: posted.number,
    externalId: posted.externalId,
    requestId: req.requestId,
    invoiceId: inv.id,
    invoiceNumber: inv.number,
    issueDate: memo.issueDate,
    reason: req.reason,
    note: req.note,
    by: req.by,
    subtotalMinor: memo.total.amountMinor,
    taxMinor: posted.taxMinor,
    totalMinor: memo.total.amountMinor + posted.taxMinor,
    lines: memo.lines.map((l) => ({ id: l.id, originalInvoiceLineId: l.originalInvoiceLineId, contractLineId: l.contractLineId, sourceItemIds: l.sourceItemIds, amountMinor: l.amount.amountMinor, taxMinor: posted.taxByLine[l.id] ?? 0 })),
    request: req.lines,
  };
  for (const l of memo.lines) (basis.credited[l.originalInvoiceLineId] ??= []).push(...l.sourceItemIds);
  // An item the PSA un-approved after it was billed: credited, the operator has decided.
  if (s.attention.some((a) => a.kind === 'UNAPPROVED_AFTER_BILLING')) {
    const credited = new Set(memo.lines.flatMap((l) => l.sourceItemIds));
    resolveAttention(s, (a) => a.kind === 'UNAPPROVED_AFTER_BILLING' && (a.itemIds ?? []).every((id) => credited.has(id)));
  }
  basis.taxCreditedMinor += posted.taxMinor;
  inv.creditedMinor = (inv.creditedMinor ?? 0) + summary.totalMinor;
  inv.creditMemos = [...(inv.creditMemos ?? []), summary.number];
  inv.status = statusFor(inv);
  if (isSettled(inv)) resolveCollection(s, inv.id);
  (s.creditMemos ??= []).push(summary);
  s.statusSyncs.push(inv.id);
  if (reversesRevenue) reverseCreditedRevenue(s, d, summary);
  // Asked for: the credited amounts leave the cap's consumption, and held over-cap time is released into the room.
  if (req.releaseCapped) {
    for (const l of summary.lines) {
      s.billedByLine[l.contractLineId] = (s.billedByLine[l.contractLineId] ?? 0) - l.amountMinor;
      if (!(s.capAmendedLines ??= []).includes(l.contractLineId)) s.capAmendedLines.push(l.contractLineId);
    }
  }
  const events = new Map(basis.events.map((e) => [e.sourceId, e]));
  const items: CreditAuditItem[] = memo.lines.flatMap((l) =>
    l.sourceItemIds.map((sid) => {
      const ev = events.get(sid);
      return { creditLineId: l.id, invoiceLineId: l.originalInvoiceLineId, sourceId: sid, sourceKind: ev?.kind ?? 'UNKNOWN', billingEventId: ev?.id ?? null, contractLineId: l.contractLineId, quoteLineId: ev?.quoteLineId ?? null, amountMinor: ev?.amountMinor ?? 0 };
    }),
  );
  const audit = {
    dealId: d.dealId,
    invoiceNumber: inv.number,
    creditMemoNumber: summary.number,
    currency: memo.currency,
    items,
    taxByLine: posted.taxByLine,
    invoiceLineOf: Object.fromEntries(memo.lines.map((l) => [l.id, l.originalInvoiceLineId])),
  };
  return { summary, audit };
}

/** The PSA item a credited time entry or expense refers to (a rebilled one, `TE-<id>~R<n>`, too); undefined for other items. */
export function psaRefOf(sourceId: string): { kind: 'timeEntry' | 'expense'; sourceId: string } | undefined {
  const m = /^(TE|EX)-(.+?)(?:~R\d+)?$/.exec(sourceId);
  return m ? { kind: m[1] === 'TE' ? 'timeEntry' : 'expense', sourceId: m[2]! } : undefined;
}

/** The PSA items a credit and rebill reads again. */
export const rebillItems = (memo: CreditMemoSummary): Array<{ kind: 'timeEntry' | 'expense'; sourceId: string }> =>
  memo.lines.flatMap((l) => l.sourceItemIds.flatMap((sid) => psaRefOf(sid) ?? []));

/**
 * A credit and rebill: each credited item the PSA still holds is taken again
 * (a new round of the item, billed at the lines' next invoice with the PSA's
 * current hours or amount, rated as of its date); what the credited items had
 * been invoiced at leaves the cap's consumption and the billed totals, so the
 * cap is recomputed from the net billed amount. An item the PSA no longer holds
 * stays credited.
 */
export function rebill(s: EngagementState, d: Deal, memo: CreditMemoSummary, plan: CreditPlan, items: readonly DeliveryItem[]): CreditMemoSummary {
  const invoiced = new Map(plan.basis.events.map((e) => [e.sourceId, e.amountMinor]));
  const out = { items: [] as string[], missing: [] as string[], amountMinor: 0 };
  for (const line of memo.lines) {
    for (const sid of line.sourceItemIds) {
      const ref = psaRefOf(sid);
      const item = ref && items.find((i) => i.kind === ref.kind && i.sourceId === ref.sourceId);
      if (!ref || !item) {
        out.missing.push(sid);
        continue;
      }
      const rounds = (s.rebillRounds ??= {});
      rounds[ref.sourceId] = (rounds[ref.sourceId] ?? 0) + 1;
      // A correction goes out at once, not at the next period's run.
      if (accept(s, d, item, rounds[ref.sourceId])) s.immediate = true;
      // The item is taken again whole: a part of it held over a cap goes back with it.
      for (const h of s.held.filter((x) => x.sourceId === sid)) {
        s.totals.CAPPED -= h.amountMinor;
        s.totals.delivered -= h.amountMinor;
      }
      s.held = s.held.filter((x) => x.sourceId !== sid);
      if (s.overCap) s.overCap = s.overCap.filter((p) => p.sourceId !== sid);
      if (s.releasing) s.releasing = s.releasing.filter((r) => r.sourceId !== sid);
      const amount = invoiced.get(sid) ?? 0;
      s.billedByLine[line.contractLineId] = (s.billedByLine[line.contractLineId] ?? 0) - amount;
      s.totals.BILLABLE -= amount;
      s.totals.delivered -= amount;
      out.items.push(sid);
      out.amountMinor += amount;
    }
  }
  memo.rebill = out;
  return memo;
}
