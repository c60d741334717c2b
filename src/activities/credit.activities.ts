import type { Logger } from 'pino';
import type { CreditMemo, CreditMemoLine, Customer, LegalEntity } from '../canonical';
import type { BillingPort } from '../connectors/billing/billing.port';
import type { ErpPort } from '../connectors/erp/erp.port';
import type { TaxPort } from '../connectors/tax/tax.port';
import type { Db } from '../db';
import { AuditRepository, type AuditLinkInput } from '../db/audit';
import { activityBoundary, entityAddress } from './boundary';
import type { CreditAuditItem, InvoiceItemLink } from '../contract';

export interface CreditActivityDeps {
  db: Db;
  logger: Logger;
  /** The billing system credits the invoices it issued (Stripe credit notes); the ERP the rest. */
  connectors: { erp: ErpPort; tax: TaxPort; billing?: BillingPort };
}

/** The invoice a credit memo reverses, as the deal knows it. */
export interface CreditedInvoiceRef {
  id: string;
  number: string;
  /** The issuing system's id of the invoice (the ERP's internal id, or the Stripe invoice id). */
  externalId: string;
  /** Where the invoice was issued (absent: the ERP). */
  system?: 'erp' | 'stripe';
  /** Tax of the invoice not yet reversed by earlier credit memos: a return never reverses more. */
  taxCapMinor: number;
  /** Tax codes of the invoice lines that were taxed. */
  taxableLines: Record<string, string>;
}

export interface PostCreditMemoInput {
  dealId: string;
  creditMemo: CreditMemo;
  invoice: CreditedInvoiceRef;
  erpCustomerId: string;
  customer: Customer;
  seller: LegalEntity;
}

export interface PostedCreditMemo {
  creditMemoId: string;
  number: string;
  externalId: string;
  /** Tax reversed per credit memo line (0 for lines of untaxed invoice lines). */
  taxByLine: Record<string, number>;
  taxMinor: number;
}

/** The ERP transaction number of a credit memo: its deterministic id (like invoices). */
export const creditMemoNumberOf = (creditMemoId: string): string => creditMemoId;

/**
 * Credit memos against posted invoices. Every write is keyed by the credit memo's
 * deterministic id (derived from the invoice, the operator's request id and the
 * items): the tax return's document code, the ERP external id and transaction
 * number, and the audit links' unique key, so a retried activity or a repeated
 * operator request finds what the first one made.
 *
 * Tax: the credited amounts of lines that were taxed on the invoice are sent to
 * the tax engine as a committed return (AvaTax ReturnInvoice), so the reported
 * tax liability drops with the credit and the per-line rounding is the engine's
 * own (a whole line returns exactly the tax it was charged). The ERP port's credit
 * memo carries lines only (no tax total), so the reversed tax goes to the ERP as
 * one explicit 'Sales tax credit' line per taxed credit line: the ERP credit memo's
 * total is then what the invoice's open balance drops by.
 */
export const createCreditActivities = (deps: CreditActivityDeps) => {
  const { erp, tax } = deps.connectors;
  const audit = new AuditRepository(deps.db);

  return {
    /** Tax return, then the credit memo in the ERP applied to the invoice. Meant for the 'q2c-erp' queue. */
    postCreditMemo: (input: PostCreditMemoInput): Promise<PostedCreditMemo> =>
      activityBoundary(async () => {
        const { creditMemo: cm, invoice } = input;
        const taxByLine: Record<string, number> = {};
        for (const l of cm.lines) taxByLine[l.id] = 0;
        const taxed = cm.lines.filter((l) => invoice.taxableLines[l.originalInvoiceLineId] !== undefined);
        if (taxed.length > 0 && invoice.taxCapMinor > 0) {
          const doc = await tax.calculateTax({
            documentCode: cm.id,
            kind: 'RETURN',
            customerCode: input.customer.id,
            date: cm.issueDate,
            currency: cm.currency,
            shipFrom: entityAddress(input.seller),
            shipTo: input.customer.billTo.address,
            lines: taxed.map((l) => ({ lineId: l.id, amount: l.amount, taxCode: invoice.taxableLines[l.originalInvoiceLineId]!, description: l.description })),
            commit: true,
          });
          let room = invoice.taxCapMinor;
          for (const l of taxed) {
            const t = Math.abs(doc.lines.find((x) => x.lineId === l.id)?.tax.amountMinor ?? 0);
            taxByLine[l.id] = Math.min(t, room);
            room -= taxByLine[l.id]!;
          }
        }
        const taxLines: CreditMemoLine[] = cm.lines
          .filter((l) => (taxByLine[l.id] ?? 0) > 0)
          .map((l) => ({
            id: `${l.id}-TAX`,
            originalInvoiceLineId: l.originalInvoiceLineId,
            contractLineId: l.contractLineId,
            sourceItemIds: l.sourceItemIds,
            description: `Sales tax credit (${l.id})`,
            amount: { amountMinor: taxByLine[l.id]!, currency: cm.currency },
          }));
        const taxMinor = taxLines.reduce((a, l) => a + l.amount.amountMinor, 0);
        const number = creditMemoNumberOf(cm.id);
        if (invoice.system === 'stripe') {
          // The invoice lives in Stripe: a credit note there, its lines the credited amounts and the tax returned on them.
          const { billing } = deps.connectors;
          if (!billing) throw new Error('the invoice was issued in the billing system, and no billing connector is configured');
          const note = await billing.createCreditNote({
            billingInvoiceId: invoice.externalId,
            lines: [...cm.lines, ...taxLines].map((l) => ({ description: l.description, amount: l.amount })),
            memo: `${cm.reason}: credit memo ${cm.id}`,
            metadata: { q2c_credit_memo_id: cm.id, q2c_invoice_id: invoice.id, q2c_deal_id: input.dealId },
            idempotencyKey: `${input.dealId}:credit-memo:${cm.id}`,
          });
          deps.logger.info({ dealId: input.dealId, creditMemoId: cm.id, invoice: invoice.number, subtotalMinor: cm.total.amountMinor, taxMinor, creditNote: note.id }, 'credit note issued in the billing system');
          return { creditMemoId: cm.id, number: note.number, externalId: note.id, taxByLine, taxMinor };
        }
        const ref = await erp.postCreditMemo({
          creditMemo: { ...cm, lines: [...cm.lines, ...taxLines], total: { amountMinor: cm.total.amountMinor + taxMinor, currency: cm.currency } },
          erpCustomerId: input.erpCustomerId,
          legalEntity: input.seller,
          erpInvoiceId: invoice.externalId,
          idempotencyKey: `${input.dealId}:credit-memo:${cm.id}`,
          tranId: number,
        });
        deps.logger.info({ dealId: input.dealId, creditMemoId: cm.id, invoice: invoice.number, subtotalMinor: cm.total.amountMinor, taxMinor, created: ref.created }, 'credit memo posted');
        return { creditMemoId: cm.id, number: ref.tranId ?? number, externalId: ref.id, taxByLine, taxMinor };
      }),

    /** The source items of a posted invoice's lines with their billing events and amounts, from its audit links: what a credit memo reverses. */
    loadInvoiceItems: (input: { dealId: string; invoiceNumber: string }): Promise<InvoiceItemLink[]> =>
      activityBoundary(async () => {
        const links = await audit.forDocument(input.invoiceNumber, 'invoice');
        return links
          .filter((l) => l.dealId === input.dealId && l.sourceId !== null)
          .map((l) => ({ invoiceLineId: l.documentLineId, sourceId: l.sourceId!, billingEventId: l.billingEventId, sourceKind: l.sourceKind ?? 'UNKNOWN', contractLineId: l.contractLineId ?? '', quoteLineId: l.quoteLineId, amountMinor: l.amountMinor }));
      }),

    /** Audit links: credit memo line -> invoice line it reverses -> source item (and the tax reversed per line). */
    recordCreditMemo: (input: { dealId: string; invoiceNumber: string; creditMemoNumber: string; currency: string; items: CreditAuditItem[]; taxByLine: Record<string, number>; invoiceLineOf: Record<string, string> }): Promise<number> =>
      activityBoundary(async () => {
        const links: AuditLinkInput[] = input.items.map((i) => ({
          dealId: input.dealId,
          documentKind: 'credit_memo',
          // Keyed by the invoice number, like payments, so the invoice's trail lists its credits.
          documentNumber: input.invoiceNumber,
          documentLineId: i.creditLineId,
          billingEventId: i.billingEventId,
          sourceKind: i.sourceKind,
          sourceId: i.sourceId,
          contractLineId: i.contractLineId,
          quoteLineId: i.quoteLineId,
          amountMinor: i.amountMinor,
          currency: input.currency,
          reversesLineId: i.invoiceLineId,
        }));
        for (const [lineId, t] of Object.entries(input.taxByLine)) {
          if (t <= 0) continue;
          links.push({
            dealId: input.dealId,
            documentKind: 'credit_memo',
            documentNumber: input.invoiceNumber,
            documentLineId: `${lineId}-TAX`,
            billingEventId: null,
            sourceKind: 'TAX',
            sourceId: `${input.creditMemoNumber}:${lineId}`,
            contractLineId: null,
            quoteLineId: null,
            amountMinor: t,
            currency: input.currency,
            reversesLineId: input.invoiceLineOf[lineId] ?? null,
          });
        }
        return audit.record(links);
      }),
  };
};

export type CreditActivities = ReturnType<typeof createCreditActivities>;
