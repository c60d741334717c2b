import { Customer, formatZodIssues, Quote, toDecimalString, type ApprovalStatus, type InvoiceStatus, type Money, type QuantityUnit } from '../../canonical';
import { jsonNumberToMoney, moneyToJsonNumber } from '../decimal';
import { ConnectorError } from '../errors';
import type { CrmOpportunity, DunningTaskInput } from './crm.port';
import type { AccountRecord, OpportunityRecord, QuoteLineRecord, QuoteRecord } from './salesforce.schemas';

export const toOpportunity = (r: OpportunityRecord): CrmOpportunity => ({
  id: r.Id,
  name: r.Name,
  accountId: r.AccountId,
  stage: r.StageName,
  isClosed: r.IsClosed,
  isWon: r.IsWon,
  closeDate: r.CloseDate,
  amount: r.Amount === null || r.CurrencyIsoCode === null ? null : jsonNumberToMoney(r.Amount, r.CurrencyIsoCode),
  primaryQuoteId: r.SBQQ__PrimaryQuote__c,
  projectUrl: r.Q2C_Project_URL__c,
  soldLegalEntityId: r.Q2C_Sold_Entity__c ?? null,
  deliveryLegalEntityId: r.Q2C_Delivery_Entity__c ?? null,
  poNumber: r.Q2C_PO_Number__c ?? null,
});

/**
 * Account -> canonical customer, validated. The id is the Salesforce id here;
 * the caller maps it to the canonical id through the identity map. Invalid
 * master data is a non-retryable error naming the field.
 */
export function toCustomer(a: AccountRecord): Customer {
  const [line1, ...rest] = (a.BillingStreet ?? '').split('\n');
  const candidate = {
    id: a.Id,
    name: a.Name,
    billTo: {
      address: {
        line1: line1 ?? '',
        ...(rest.length ? { line2: rest.join(', ') } : {}),
        city: a.BillingCity ?? '',
        ...(a.BillingState ? { region: a.BillingState } : {}),
        ...(a.BillingPostalCode ? { postalCode: a.BillingPostalCode } : {}),
        country: a.BillingCountryCode ?? '',
      },
      ...(a.Q2C_Billing_Email__c ? { email: a.Q2C_Billing_Email__c } : {}),
      ...(a.Q2C_Billing_Contact__c ? { attention: a.Q2C_Billing_Contact__c } : {}),
    },
    legalEntityId: a.Q2C_Legal_Entity__c ?? '',
    parentId: a.ParentId,
    ...(a.CurrencyIsoCode ? { currency: a.CurrencyIsoCode } : {}),
    ...(a.Q2C_Tax_Id__c ? { taxRegistration: { scheme: 'TAX', number: a.Q2C_Tax_Id__c, country: a.BillingCountryCode ?? '' } } : {}),
    externalIds: { salesforce: a.Id },
  };
  const parsed = Customer.safeParse(candidate);
  if (!parsed.success) {
    throw new ConnectorError('CRM.ACCOUNT_INVALID', `Salesforce account ${a.Id} is not a valid customer: ${formatZodIssues(parsed.error).join('; ')}`, { meta: { system: 'salesforce', recordId: a.Id } });
  }
  return parsed.data;
}

/** Advanced Approvals status first; without it, the CPQ quote status. */
const approvalStatus = (q: QuoteRecord): ApprovalStatus => {
  switch (q.ApprovalStatus__c) {
    case 'Approved':
      return 'APPROVED';
    case 'Pending':
      return 'PENDING';
    case 'Rejected':
    case 'Recalled':
      return 'REJECTED';
    default:
      return q.SBQQ__Status__c === 'Denied' ? 'REJECTED' : q.SBQQ__Status__c === 'In Review' ? 'PENDING' : q.SBQQ__Status__c === 'Approved' || q.SBQQ__Status__c === 'Accepted' ? 'APPROVED' : 'NOT_REQUIRED';
  }
};

const UNITS: ReadonlySet<string> = new Set(['EACH', 'HOUR', 'DAY', 'MONTH', 'YEAR']);

/** SBQQ__Quote__c + SBQQ__QuoteLine__c -> canonical Quote, validated; invalid CRM data is a non-retryable error naming the field. */
export function toQuote(q: QuoteRecord, lines: readonly QuoteLineRecord[], customerId: string): Quote {
  const candidate = {
    id: q.Id,
    opportunityId: q.SBQQ__Opportunity2__c,
    customerId,
    currency: q.CurrencyIsoCode,
    approvalStatus: approvalStatus(q),
    ...(q.SBQQ__ExpirationDate__c ? { validUntil: q.SBQQ__ExpirationDate__c } : {}),
    lines: lines.map((l) => ({
      id: l.Id,
      servicePackage: l.SBQQ__ProductCode__c,
      description: l.SBQQ__Description__c ?? '',
      quantity: l.SBQQ__Quantity__c,
      unit: (l.Q2C_Unit__c && UNITS.has(l.Q2C_Unit__c.toUpperCase()) ? l.Q2C_Unit__c.toUpperCase() : 'EACH') as QuantityUnit,
      listPrice: jsonNumberToMoney(l.SBQQ__ListPrice__c, q.CurrencyIsoCode),
      netPrice: jsonNumberToMoney(l.SBQQ__NetPrice__c, q.CurrencyIsoCode),
      discountBp: Math.round((l.SBQQ__Discount__c ?? 0) * 100),
      ...(l.SBQQ__StartDate__c ? { serviceStart: l.SBQQ__StartDate__c } : {}),
      ...(l.SBQQ__EndDate__c ? { serviceEnd: l.SBQQ__EndDate__c } : {}),
      externalIds: { salesforce: l.Id },
    })),
    externalIds: { salesforce: q.Id },
  };
  const parsed = Quote.safeParse(candidate);
  if (!parsed.success) {
    throw new ConnectorError('HTTP.UNEXPECTED_RESPONSE', `Salesforce quote ${q.Id} is not a valid quote: ${formatZodIssues(parsed.error).join('; ')}`, { meta: { system: 'salesforce', recordId: q.Id } });
  }
  return parsed.data;
}

/** Canonical customer -> Account fields for an upsert (the external id travels in the URL, not the body). */
export const toAccountFields = (c: Customer, parentAccountId?: string): Record<string, unknown> => ({
  Name: c.name,
  BillingStreet: [c.billTo.address.line1, c.billTo.address.line2].filter(Boolean).join('\n'),
  BillingCity: c.billTo.address.city,
  BillingState: c.billTo.address.region ?? null,
  BillingPostalCode: c.billTo.address.postalCode ?? null,
  BillingCountryCode: c.billTo.address.country,
  CurrencyIsoCode: c.currency ?? null,
  ParentId: parentAccountId ?? null,
  Q2C_Legal_Entity__c: c.legalEntityId,
  Q2C_Tax_Id__c: c.taxRegistration?.number ?? null,
});

const INVOICE_STATUS: Readonly<Record<InvoiceStatus, string>> = { DRAFT: 'Draft', POSTED: 'Posted', PARTIALLY_PAID: 'Partially Paid', PAID: 'Paid', VOID: 'Void' };
export const invoiceStatusPicklist = (s: InvoiceStatus): string => INVOICE_STATUS[s];
export { moneyToJsonNumber };

/** SOQL string literal with quotes and backslashes escaped. */
export const soqlString = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
/** SOQL dateTime literal (no quotes, no milliseconds). */
export const soqlDateTime = (iso: string): string => {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new ConnectorError('HTTP.VALIDATION', `not an instant: ${iso}`);
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
};

/** Money as a collector reads it: 'USD 6,331.25' (the currency's own decimals, thousands grouped). */
export const formatMoney = (m: Money): string => {
  const [whole, frac] = toDecimalString(m).split('.');
  const sign = whole!.startsWith('-') ? '-' : '';
  const digits = whole!.replace('-', '').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${m.currency} ${sign}${digits}${frac !== undefined ? `.${frac}` : ''}`;
};

/** A dunning reminder -> Task fields (WhatId = the opportunity; Salesforce derives AccountId from it). */
export const toDunningTaskFields = (i: DunningTaskInput): Record<string, unknown> => ({
  WhatId: i.opportunityId,
  Subject: `${i.final ? 'Final payment reminder' : 'Payment reminder'}: invoice ${i.invoiceNumber}, ${formatMoney(i.open)} open, ${i.daysPastDue} days past due`,
  ActivityDate: i.remindOn,
  Status: 'Not Started',
  Priority: i.final ? 'High' : 'Normal',
  Type: 'Dunning',
  Description: [
    `Invoice ${i.invoiceNumber} was due on ${i.dueDate}: ${formatMoney(i.open)} of ${formatMoney(i.total)} is open, ${i.daysPastDue} days past due.`,
    ...(i.notes ?? []),
  ].join('\n'),
  CurrencyIsoCode: i.open.currency,
  Q2C_Dunning_Key__c: i.key,
  Q2C_Invoice_Number__c: i.invoiceNumber,
  Q2C_Amount_Open__c: moneyToJsonNumber(i.open),
  Q2C_Days_Past_Due__c: i.daysPastDue,
  Q2C_Dunning_Step__c: i.step,
});
