import type { Address } from '../../canonical';
import { jsonNumberToMoney, moneyToJsonNumber } from '../decimal';
import type { TaxDocument, TaxDocumentInput } from './tax.port';
import type { AvalaraAddress, CreateTransactionModel, TransactionModel } from './avalara.schemas';

const address = (a: Address): AvalaraAddress => ({
  line1: a.line1,
  ...(a.line2 ? { line2: a.line2 } : {}),
  city: a.city,
  ...(a.region ? { region: a.region } : {}),
  ...(a.postalCode ? { postalCode: a.postalCode } : {}),
  country: a.country,
});

export const toCreateTransaction = (input: TaxDocumentInput, companyCode: string): CreateTransactionModel => ({
  type: input.kind === 'INVOICE' ? 'SalesInvoice' : 'ReturnInvoice',
  code: input.documentCode,
  companyCode,
  date: input.date,
  customerCode: input.customerCode,
  currencyCode: input.currency,
  ...(input.purchaseOrderNo ? { purchaseOrderNo: input.purchaseOrderNo } : {}),
  ...(input.exemptionNo ? { exemptionNo: input.exemptionNo } : {}),
  commit: input.commit,
  addresses: { shipFrom: address(input.shipFrom), shipTo: address(input.shipTo) },
  lines: input.lines.map((l) => ({
    number: l.lineId,
    quantity: l.quantity ?? 1,
    // Returns are sent as negative amounts, as AvaTax expects for ReturnInvoice.
    amount: moneyToJsonNumber({ ...l.amount, amountMinor: input.kind === 'RETURN' ? -Math.abs(l.amount.amountMinor) : l.amount.amountMinor }),
    taxCode: l.taxCode,
    itemCode: l.lineId,
    ...(l.description ? { description: l.description } : {}),
  })),
});

export const fromTransaction = (t: TransactionModel): TaxDocument => {
  const cur = t.currencyCode;
  return {
    documentCode: t.code,
    vendorId: String(t.id),
    status: t.status === 'Committed' ? 'COMMITTED' : 'SAVED',
    totalAmount: jsonNumberToMoney(t.totalAmount, cur),
    totalTax: jsonNumberToMoney(t.totalTax, cur),
    lines: t.lines.map((l) => ({
      lineId: l.lineNumber,
      taxable: jsonNumberToMoney(l.taxableAmount, cur),
      exempt: jsonNumberToMoney(l.exemptAmount, cur),
      tax: jsonNumberToMoney(l.tax, cur),
      jurisdictions: l.details.filter((d) => d.tax !== 0 || d.rate !== 0).map((d) => d.jurisName),
    })),
  };
};
