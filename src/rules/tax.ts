import type { Customer, Invoice, LegalEntity, TaxJurisdiction } from '../canonical';
import type { RuleSet } from './ruleset';

export type TaxReason = 'TAX.TAXABLE' | 'TAX.NOT_TAXABLE' | 'TAX.CUSTOMER_EXEMPT' | 'TAX.UNKNOWN_TAX_CODE';

export interface TaxDecision {
  taxable: boolean;
  reason: TaxReason;
  /** 'US-NY', 'DE' ...: where the supply is taxed (customer bill-to). */
  jurisdiction: string;
  taxCode: string;
}

export const jurisdictionKey = (j: TaxJurisdiction): string => (j.subdivision ? `${j.country}-${j.subdivision}` : j.country);

/**
 * Decide whether a line with `taxCode` is taxable where it is supplied.
 * Most specific jurisdiction override wins ('US-NY' over 'US' over the code default);
 * an exempt customer is never taxed. The amount comes from the tax connector.
 * Unknown tax codes are treated as taxable, so an omission can only over-ask, never under-collect.
 */
export const decideTax = (ruleSet: RuleSet, taxCode: string, where: TaxJurisdiction, customerExempt = false): TaxDecision => {
  const jurisdiction = jurisdictionKey(where);
  if (customerExempt) return { taxable: false, reason: 'TAX.CUSTOMER_EXEMPT', jurisdiction, taxCode };
  const rule = Object.prototype.hasOwnProperty.call(ruleSet.taxCodes, taxCode) ? ruleSet.taxCodes[taxCode] : undefined;
  if (!rule) return { taxable: true, reason: 'TAX.UNKNOWN_TAX_CODE', jurisdiction, taxCode };
  const specific = rule.jurisdictions[jurisdiction];
  const country = rule.jurisdictions[where.country];
  const taxable = specific ?? country ?? rule.taxable;
  return { taxable, reason: taxable ? 'TAX.TAXABLE' : 'TAX.NOT_TAXABLE', jurisdiction, taxCode };
};

/** Supply jurisdiction from the bill-to address (subdivision = region when it is a short code). */
export const customerJurisdiction = (customer: Pick<Customer, 'billTo'>): TaxJurisdiction => {
  const a = customer.billTo.address;
  return a.region && /^[A-Z0-9]{1,3}$/.test(a.region) ? { country: a.country, subdivision: a.region } : { country: a.country };
};

export interface TaxRequestGroup {
  /** One request to the tax connector per invoice, seller entity and jurisdiction. */
  invoiceId: string;
  sellerLegalEntityId: string;
  sellerJurisdiction: string;
  jurisdiction: string;
  lines: { invoiceLineId: string; taxCode: string; amountMinor: number }[];
}

/**
 * Tax decisions for each line of an invoice, plus the taxable lines grouped into
 * the request that goes to the tax connector (which computes the amounts).
 */
export const taxLinesFor = (
  ruleSet: RuleSet,
  invoice: Invoice,
  customer: Pick<Customer, 'billTo' | 'taxRegistration'>,
  seller: Pick<LegalEntity, 'id' | 'taxJurisdiction'>,
): { decisions: Map<string, TaxDecision>; request: TaxRequestGroup | null } => {
  const where = customerJurisdiction(customer);
  const exempt = customer.taxRegistration?.exempt ?? false;
  const decisions = new Map<string, TaxDecision>();
  const lines: TaxRequestGroup['lines'] = [];
  for (const l of invoice.lines) {
    const d = decideTax(ruleSet, l.taxCode, where, exempt);
    decisions.set(l.id, d);
    if (d.taxable) lines.push({ invoiceLineId: l.id, taxCode: l.taxCode, amountMinor: l.amount.amountMinor });
  }
  return {
    decisions,
    request:
      lines.length === 0
        ? null
        : { invoiceId: invoice.id, sellerLegalEntityId: seller.id, sellerJurisdiction: jurisdictionKey(seller.taxJurisdiction), jurisdiction: jurisdictionKey(where), lines },
  };
};
