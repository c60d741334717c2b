import type { CreditMemo, CreditMemoLine, Invoice, InvoiceLine } from '../canonical';
import type { Decision } from './billability';
import type { CompiledContract } from './compile';
import { fnv1a64, groupDecisions, materializeInvoices } from './grouping';

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Invoiced amount per source item (each item has at most one invoiced part). */
export const invoicedAmounts = (decisions: readonly Decision[]): Map<string, number> => {
  const m = new Map<string, number>();
  for (const d of decisions) if (d.billingClass === 'BILLABLE' && d.lineKey !== undefined) m.set(d.sourceId, (m.get(d.sourceId) ?? 0) + d.amountMinor);
  return m;
};

export class CreditError extends Error {
  constructor(
    readonly code: 'RULES.CREDIT_UNKNOWN_LINE' | 'RULES.CREDIT_SOURCE_NOT_ON_LINE' | 'RULES.CREDIT_AMOUNT_UNKNOWN',
    message: string,
  ) {
    super(message);
    this.name = 'CreditError';
  }
}

/** What a credit memo needs of the invoice it reverses. */
export type CreditableInvoice = Pick<Invoice, 'id' | 'customerId' | 'currency'> & { lines: ReadonlyArray<Pick<InvoiceLine, 'id' | 'contractLineId' | 'description' | 'sourceItemIds' | 'taxCode' | 'taxable'>> };

export interface CreditSelection {
  invoiceLineId: string;
  /** Items to reverse; all items of the line when omitted. */
  sourceItemIds?: readonly string[];
}

/**
 * A credit memo reversing exactly the named source items of an invoice. The amount
 * per item is what was invoiced for it (from the run's decisions), so a partial
 * credit of a line is exact to the minor unit.
 */
export const creditInvoiceLines = (
  invoice: CreditableInvoice,
  selections: readonly CreditSelection[],
  amounts: ReadonlyMap<string, number>,
  opts: { issueDate: string; reason: CreditMemo['reason']; memoKey?: string },
): CreditMemo => {
  const lines: CreditMemoLine[] = [];
  const sorted = [...selections].sort((a, b) => cmp(a.invoiceLineId, b.invoiceLineId));
  const memoId = `CM-${fnv1a64(`${invoice.id}|${opts.memoKey ?? opts.reason}|${sorted.map((s) => `${s.invoiceLineId}:${(s.sourceItemIds ?? ['*']).join(',')}`).join(';')}`)}`;
  for (const sel of sorted) {
    const il = invoice.lines.find((l) => l.id === sel.invoiceLineId);
    if (!il) throw new CreditError('RULES.CREDIT_UNKNOWN_LINE', `invoice ${invoice.id} has no line ${sel.invoiceLineId}`);
    const ids = [...(sel.sourceItemIds ?? il.sourceItemIds)].sort(cmp);
    let amount = 0;
    for (const s of ids) {
      if (!il.sourceItemIds.includes(s)) throw new CreditError('RULES.CREDIT_SOURCE_NOT_ON_LINE', `${s} is not on invoice line ${il.id}`);
      const a = amounts.get(s);
      if (a === undefined) throw new CreditError('RULES.CREDIT_AMOUNT_UNKNOWN', `no invoiced amount known for ${s}`);
      amount += a;
    }
    if (amount === 0) continue;
    lines.push({
      id: `${memoId}-${lines.length + 1}`,
      originalInvoiceLineId: il.id,
      contractLineId: il.contractLineId,
      sourceItemIds: ids,
      description: `Credit: ${il.description}`,
      amount: { amountMinor: amount, currency: invoice.currency },
    });
  }
  const total = lines.reduce((a, l) => a + l.amount.amountMinor, 0);
  return {
    id: memoId,
    customerId: invoice.customerId,
    originalInvoiceId: invoice.id,
    currency: invoice.currency,
    reason: opts.reason,
    issueDate: opts.issueDate,
    lines,
    total: { amountMinor: total, currency: invoice.currency },
    externalIds: {},
  };
};

export interface RerateInput {
  /** The amended contract version, compiled with its pinned rule set. */
  cc: CompiledContract;
  originalInvoices: readonly Invoice[];
  originalDecisions: readonly Decision[];
  /** The same delivered items classified again under the amended version. */
  reratedDecisions: readonly Decision[];
  asOf: string;
  /** Makes rebill invoice keys distinct from the originals ('AMD-7'). */
  amendmentId: string;
}

export interface RerateResult {
  creditMemos: CreditMemo[];
  rebillInvoices: Invoice[];
  /** Source ids whose invoiced amount changed. */
  changed: string[];
  /** rebill - credit, in minor units. */
  delta: number;
}

/**
 * Re-rating after an amendment gives the delta, not a second full invoice: only
 * items whose invoiced amount changed are credited (in full, naming the exact
 * items) and rebilled at the new amount. Original - credits + rebills = re-rated total.
 */
export const rerate = (input: RerateInput): RerateResult => {
  const before = invoicedAmounts(input.originalDecisions);
  const after = invoicedAmounts(input.reratedDecisions);
  const all = new Set([...before.keys(), ...after.keys()]);
  const changed = [...all].filter((s) => (before.get(s) ?? 0) !== (after.get(s) ?? 0)).sort(cmp);
  const changedSet = new Set(changed);

  const where = new Map<string, { invoice: Invoice; lineId: string }>();
  for (const inv of input.originalInvoices) for (const l of inv.lines) for (const s of l.sourceItemIds) where.set(s, { invoice: inv, lineId: l.id });

  const perInvoice = new Map<string, { invoice: Invoice; byLine: Map<string, string[]> }>();
  for (const s of changed) {
    if ((before.get(s) ?? 0) === 0) continue;
    const w = where.get(s);
    if (!w) continue; // decided billable but never invoiced: nothing to credit
    const e = perInvoice.get(w.invoice.id) ?? { invoice: w.invoice, byLine: new Map<string, string[]>() };
    const list = e.byLine.get(w.lineId) ?? [];
    list.push(s);
    e.byLine.set(w.lineId, list);
    perInvoice.set(w.invoice.id, e);
  }
  const creditMemos = [...perInvoice.values()]
    .sort((a, b) => cmp(a.invoice.id, b.invoice.id))
    .map((e) =>
      creditInvoiceLines(
        e.invoice,
        [...e.byLine.entries()].map(([invoiceLineId, sourceItemIds]) => ({ invoiceLineId, sourceItemIds })),
        before,
        { issueDate: input.asOf, reason: 'RERATE', memoKey: input.amendmentId },
      ),
    );
  const rebillDecisions = input.reratedDecisions.filter((d) => changedSet.has(d.sourceId));
  const rebillInvoices = materializeInvoices(input.cc, groupDecisions(input.cc, rebillDecisions), { asOf: input.asOf, keySuffix: `REBILL:${input.amendmentId}` });
  const credited = creditMemos.reduce((a, m) => a + m.total.amountMinor, 0);
  const rebilled = rebillInvoices.reduce((a, i) => a + i.subtotal.amountMinor, 0);
  return { creditMemos, rebillInvoices, changed, delta: rebilled - credited };
};
