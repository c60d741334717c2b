import type { Contract, CreditMemo, Customer, Invoice, RevenueScheduleLine } from '../../canonical';
import { moneyToJsonNumber } from '../decimal';
import type { CustomerBody, CreditMemoBody, InvoiceBody, JournalEntryBody, Ref, SalesOrderBody } from './netsuite.schemas';

/** Ids the mapping needs from NetSuite configuration (items and GL accounts are per account setup). */
export interface NetSuiteMappingConfig {
  /** Service item used on sales order, invoice and credit memo lines. */
  serviceItemId: string;
  /** GL accounts of the revenue journal. */
  deferredRevenueAccountId: string;
  revenueAccountId: string;
}

const ref = (id: string): Ref => ({ id });

export const toCustomerBody = (c: Customer, externalId: string, subsidiaryId: string, currencyId: string, parentId?: string): CustomerBody => ({
  externalId,
  companyName: c.name,
  ...(c.billTo.email ? { email: c.billTo.email } : {}),
  subsidiary: ref(subsidiaryId),
  currency: ref(currencyId),
  ...(parentId ? { parent: ref(parentId) } : {}),
  isInactive: c.status !== 'ACTIVE',
  custentity_q2c_customer_id: c.id,
});

export const toSalesOrderBody = (
  contract: Contract,
  ids: { externalId: string; tranId: string; customerId: string; subsidiaryId: string; currencyId: string },
  cfg: NetSuiteMappingConfig,
): SalesOrderBody => ({
  externalId: ids.externalId,
  tranId: ids.tranId,
  entity: ref(ids.customerId),
  subsidiary: ref(ids.subsidiaryId),
  currency: ref(ids.currencyId),
  tranDate: contract.signedAt ? contract.signedAt.slice(0, 10) : contract.startDate,
  startDate: contract.startDate,
  endDate: contract.endDate,
  ...(contract.poNumber ? { otherRefNum: contract.poNumber } : {}),
  memo: `Contract ${contract.id} v${contract.version}`,
  custbody_q2c_contract_id: contract.id,
  custbody_q2c_contract_version: contract.version,
  custbody_q2c_net_days: contract.paymentTerms.netDays,
  custbody_q2c_po_required: contract.poRequired,
  item: {
    items: contract.lines.map((l) => ({
      item: ref(cfg.serviceItemId),
      description: l.description,
      amount: moneyToJsonNumber(l.allocatedValue),
      custcol_q2c_contract_line_id: l.id,
      custcol_q2c_quote_line_id: l.quoteLineId,
      custcol_q2c_tax_code: l.taxCode,
      custcol_q2c_revenue_treatment: l.revenueTreatment,
      custcol_q2c_billing_model: l.billingModel,
      ...(l.poNumber ? { custcol_q2c_po: l.poNumber } : {}),
      revRecStartDate: l.startDate,
      revRecEndDate: l.endDate,
    })),
  },
});

export const toInvoiceBody = (
  inv: Invoice,
  ids: { externalId: string; tranId: string; customerId: string; subsidiaryId: string; currencyId: string; salesOrderId?: string | undefined },
  cfg: NetSuiteMappingConfig,
): InvoiceBody => ({
  externalId: ids.externalId,
  tranId: ids.tranId,
  entity: ref(ids.customerId),
  subsidiary: ref(ids.subsidiaryId),
  currency: ref(ids.currencyId),
  tranDate: inv.issueDate,
  dueDate: inv.dueDate,
  ...(inv.poNumber ? { otherRefNum: inv.poNumber } : {}),
  ...(ids.salesOrderId ? { createdFrom: ref(ids.salesOrderId) } : {}),
  memo: `Invoice ${inv.id} ${inv.period.start}..${inv.period.end}`,
  taxTotal: moneyToJsonNumber(inv.tax),
  custbody_q2c_invoice_id: inv.id,
  custbody_q2c_invoice_key: inv.invoiceKey,
  item: {
    items: inv.lines.map((l) => ({
      item: ref(cfg.serviceItemId),
      description: l.description,
      amount: moneyToJsonNumber(l.amount),
      ...(l.quantity ? { quantity: l.quantity.value } : {}),
      custcol_q2c_line_id: l.id,
      custcol_q2c_contract_line_id: l.contractLineId,
      custcol_q2c_tax_code: l.taxCode,
    })),
  },
});

export const toCreditMemoBody = (
  cm: CreditMemo,
  ids: { externalId: string; tranId: string; customerId: string; subsidiaryId: string; currencyId: string; invoiceId: string },
  cfg: NetSuiteMappingConfig,
): CreditMemoBody => ({
  externalId: ids.externalId,
  tranId: ids.tranId,
  entity: ref(ids.customerId),
  subsidiary: ref(ids.subsidiaryId),
  currency: ref(ids.currencyId),
  tranDate: cm.issueDate,
  createdFrom: ref(ids.invoiceId),
  memo: `Credit ${cm.id} (${cm.reason}) for invoice ${cm.originalInvoiceId}`,
  custbody_q2c_credit_memo_id: cm.id,
  item: {
    items: cm.lines.map((l) => ({
      item: ref(cfg.serviceItemId),
      description: l.description,
      amount: moneyToJsonNumber(l.amount),
      custcol_q2c_line_id: l.id,
      custcol_q2c_contract_line_id: l.contractLineId,
    })),
  },
});

/**
 * Recognised revenue as one balanced journal: for each schedule line, debit
 * deferred revenue and credit revenue (a REVERSAL line swaps the sides).
 */
export const toRevenueJournalBody = (
  lines: readonly RevenueScheduleLine[],
  ids: { externalId: string; subsidiaryId: string; currencyId: string; tranDate: string; memo: string },
  cfg: NetSuiteMappingConfig,
): JournalEntryBody => ({
  externalId: ids.externalId,
  subsidiary: ref(ids.subsidiaryId),
  currency: ref(ids.currencyId),
  tranDate: ids.tranDate,
  memo: ids.memo,
  line: {
    items: lines.flatMap((l) => {
      const amount = moneyToJsonNumber({ ...l.amount, amountMinor: Math.abs(l.amount.amountMinor) });
      const reverse = l.kind === 'REVERSAL' || l.amount.amountMinor < 0;
      const common = { memo: `${l.kind} ${l.contractId}/${l.contractLineId} ${l.recognitionDate}`, custcol_q2c_revenue_line_id: l.id, custcol_q2c_contract_line_id: l.contractLineId };
      const deferred = { account: ref(cfg.deferredRevenueAccountId), ...common };
      const revenue = { account: ref(cfg.revenueAccountId), ...common };
      return reverse ? [{ ...revenue, debit: amount }, { ...deferred, credit: amount }] : [{ ...deferred, debit: amount }, { ...revenue, credit: amount }];
    }),
  },
});
