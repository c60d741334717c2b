import type { Contract, CreditMemo, Customer, FxRate, Invoice, Money, RevenueScheduleLine } from '../../canonical';
import { moneyToJsonNumber } from '../decimal';
import type { CustomerBody, CreditMemoBody, IntercompanyJournalBody, InvoiceBody, JournalEntryBody, Ref, SalesOrderBody } from './netsuite.schemas';

/** Ids the mapping needs from NetSuite configuration (items and GL accounts are per account setup). */
export interface NetSuiteMappingConfig {
  /** Service item used on sales order, invoice and credit memo lines. */
  serviceItemId: string;
  /** GL accounts of the revenue journal. */
  deferredRevenueAccountId: string;
  revenueAccountId: string;
  /**
   * GL accounts (internal ids) of intercompany journals. When absent, the
   * adapter finds them in the chart of accounts by the numbers in
   * DEFAULT_INTERCOMPANY_ACCOUNT_NUMBERS.
   */
  intercompanyAccounts?: IntercompanyAccounts;
}

/** The four accounts of an intercompany charge. */
export interface IntercompanyAccounts {
  /** Seller's side, debit: intercompany receivable (due from). */
  receivable: string;
  /** Seller's side, credit: intercompany revenue. */
  revenue: string;
  /** Buyer's side, debit: intercompany expense (cost of services). */
  expense: string;
  /** Buyer's side, credit: intercompany payable (due to). */
  payable: string;
}

/** Account numbers (not internal ids) looked up when `intercompanyAccounts` is not configured. */
export const DEFAULT_INTERCOMPANY_ACCOUNT_NUMBERS: Readonly<IntercompanyAccounts> = Object.freeze({ receivable: '1300', revenue: '4900', expense: '5900', payable: '2300' });

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
      ...(l.servicePeriod ? { custcol_q2c_service_start: l.servicePeriod.start, custcol_q2c_service_end: l.servicePeriod.end } : {}),
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

/**
 * An intercompany charge as one two-subsidiary journal. Seller (originating
 * `subsidiary`): debit due-from, credit intercompany revenue. Buyer
 * (`toSubsidiary`): debit intercompany expense, credit due-to. Amounts are in
 * the journal currency; the side whose base currency differs is converted by
 * `exchangeRate`, which is recorded with its date and source.
 */
export const toIntercompanyJournalBody = (
  amount: Money,
  ids: { externalId: string; sellerSubsidiaryId: string; buyerSubsidiaryId: string; currencyId: string; tranDate: string; memo: string; fxRate?: FxRate | undefined },
  accounts: IntercompanyAccounts,
): IntercompanyJournalBody => {
  const value = moneyToJsonNumber(amount);
  const seller = ref(ids.sellerSubsidiaryId);
  const buyer = ref(ids.buyerSubsidiaryId);
  return {
    externalId: ids.externalId,
    subsidiary: seller,
    toSubsidiary: buyer,
    currency: ref(ids.currencyId),
    tranDate: ids.tranDate,
    memo: ids.memo,
    ...(ids.fxRate
      ? { exchangeRate: Number(ids.fxRate.rate), custbody_q2c_fx_rate: `${ids.fxRate.base}/${ids.fxRate.quote} ${ids.fxRate.rate}`, custbody_q2c_fx_as_of: ids.fxRate.asOf, custbody_q2c_fx_source: ids.fxRate.source }
      : {}),
    line: {
      items: [
        { lineSubsidiary: seller, account: ref(accounts.receivable), debit: value, memo: `Due from ${ids.buyerSubsidiaryId}: ${ids.memo}`, eliminate: true, dueToFromSubsidiary: buyer },
        { lineSubsidiary: seller, account: ref(accounts.revenue), credit: value, memo: `Intercompany revenue: ${ids.memo}`, eliminate: false },
        { lineSubsidiary: buyer, account: ref(accounts.expense), debit: value, memo: `Intercompany cost of services: ${ids.memo}`, eliminate: false },
        { lineSubsidiary: buyer, account: ref(accounts.payable), credit: value, memo: `Due to ${ids.sellerSubsidiaryId}: ${ids.memo}`, eliminate: true, dueToFromSubsidiary: seller },
      ],
    },
  };
};
