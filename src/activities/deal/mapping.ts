import { Contract, Project, type ContractLine, type Customer, type Quote, type QuoteLine } from '../../canonical';
import { addDays, addMonths } from '../../rules';
import type { Catalog, ServicePackage } from './catalog';

/** A quote line whose service package the catalog does not know: the deal cannot get a billable structure. */
export class MappingError extends Error {
  override name = 'MappingError';
  constructor(
    readonly code: 'CATALOG.UNKNOWN_SERVICE_PACKAGE' | 'PSA.TEMPLATE_MISSING' | 'CATALOG.UNKNOWN_LEGAL_ENTITY' | 'CRM.QUOTE_LINE_DATES_INVALID',
    message: string,
  ) {
    super(message);
  }
}

const DEFAULT_TERM_MONTHS = 12;

/** The contract term in months: the longest MONTH/YEAR quote line, else 12. */
export function termMonths(quote: Quote): number {
  const months = quote.lines.map((l) => (l.unit === 'MONTH' ? l.quantity : l.unit === 'YEAR' ? l.quantity * 12 : 0));
  return Math.max(DEFAULT_TERM_MONTHS, ...months);
}

export function servicePackageOf(catalog: Catalog, line: QuoteLine): ServicePackage {
  const pkg = catalog.servicePackages[line.servicePackage];
  if (!pkg) throw new MappingError('CATALOG.UNKNOWN_SERVICE_PACKAGE', `quote line ${line.id}: unknown service package '${line.servicePackage}'`);
  return pkg;
}

/**
 * A quote line's service period, defaulting to the contract term; a period that
 * is not inside the term is refused with the quote line's field path.
 */
export function lineServicePeriod(q: QuoteLine, index: number, term: { startDate: string; endDate: string }): { startDate: string; endDate: string } {
  const startDate = q.serviceStart ?? term.startDate;
  const endDate = q.serviceEnd ?? term.endDate;
  const bad = (field: 'serviceStart' | 'serviceEnd', why: string): never => {
    throw new MappingError('CRM.QUOTE_LINE_DATES_INVALID', `lines.${index}.${field}: quote line ${q.id} ${why}`);
  };
  if (startDate < term.startDate) bad('serviceStart', `starts ${startDate}, before the contract term ${term.startDate}..${term.endDate}`);
  if (startDate > term.endDate) bad('serviceStart', `starts ${startDate}, after the contract term ${term.startDate}..${term.endDate}`);
  if (endDate > term.endDate) bad('serviceEnd', `ends ${endDate}, after the contract term ${term.startDate}..${term.endDate}`);
  if (endDate < startDate) bad('serviceEnd', `ends ${endDate}, before its service start ${startDate}`);
  return { startDate, endDate };
}

export const contractIdFor = (opportunityId: string): string => `CTR-${opportunityId}`;

/**
 * The signed quote as a canonical contract (version 1): one contract line per
 * quote line, keeping the link, with billing terms from the service catalog.
 * Pure: the same quote always gives the same contract.
 */
export function contractFromQuote(args: {
  quote: Quote;
  customer: Customer;
  catalog: Catalog;
  /** First day of delivery (the close date), a business date of the contracting entity. */
  startDate: string;
  poNumber?: string;
  paymentTermsNetDays?: number;
}): Contract {
  const { quote, customer, catalog, startDate } = args;
  const id = contractIdFor(quote.opportunityId);
  const endDate = addDays(addMonths(startDate, termMonths(quote)), -1);
  const lines = quote.lines.map((q, i): ContractLine => {
    const pkg = servicePackageOf(catalog, q);
    const lineId = `${id}-L${i + 1}`;
    const value = { amountMinor: q.netPrice.amountMinor * q.quantity, currency: quote.currency };
    // the line's own service period when the quote line carries one (revenue, schedules and date checks follow it)
    const period = lineServicePeriod(q, i, { startDate, endDate });
    const base = {
      id: lineId,
      quoteLineId: q.id,
      description: q.description || q.servicePackage,
      billingModel: pkg.billingModel,
      startDate: period.startDate,
      endDate: period.endDate,
      taxCode: pkg.taxCode,
      revenueTreatment: pkg.revenueTreatment,
      invoiceSchedule: pkg.invoiceSchedule,
      discountBp: q.discountBp,
      allocatedValue: value,
    };
    switch (pkg.billingModel) {
      case 'FIXED_FEE_MILESTONE': {
        const milestones = (pkg.template?.phases ?? []).flatMap((p) => (p.milestone ? [{ milestoneId: `${lineId}-${p.milestone.key}`, percentBp: p.milestone.percentBp }] : []));
        return { ...base, fee: value, milestones };
      }
      case 'TIME_AND_MATERIALS':
        return { ...base, rateCardRef: pkg.rateCardRef, ...(pkg.capAtQuotedValue ? { cap: { notToExceed: value, toleranceBp: 0, ...(pkg.capIncludesExpenses !== undefined ? { includesExpenses: pkg.capIncludesExpenses } : {}) } } : {}) };
      case 'RETAINER':
        return { ...base, rateCardRef: pkg.rateCardRef, retainer: { prepaid: value, expiresOn: period.endDate, overage: 'BILL' } };
      case 'SUBSCRIPTION':
        return { ...base, subscription: { amountPerPeriod: q.netPrice, period: pkg.subscriptionPeriod ?? 'MONTHLY', timing: 'IN_ADVANCE' } };
      case 'EXPENSES':
        return base;
    }
  });
  // Parsing applies the schema's defaults and cross-field checks (milestones within the fee, currencies).
  return Contract.parse({
    id,
    version: 1,
    status: 'DRAFT',
    opportunityId: quote.opportunityId,
    quoteId: quote.id,
    customerId: customer.id,
    billToCustomerId: customer.id,
    contractingLegalEntityId: customer.legalEntityId,
    currency: quote.currency,
    paymentTerms: { netDays: args.paymentTermsNetDays ?? 30 },
    ...(args.poNumber ? { poNumber: args.poNumber } : {}),
    startDate,
    endDate,
    ruleSet: catalog.ruleSet,
    lines,
  });
}

/**
 * The PSA project for a contract: for every line whose package has a template,
 * its phases, milestones, tasks (billable flag, contract line) and role placeholders.
 */
export function projectFromContract(args: { contract: Contract; quote: Quote; catalog: Catalog; customer: Customer }): Project {
  const { contract, quote, catalog } = args;
  const phases: Project['phases'] = [];
  const rolePlaceholders: Project['rolePlaceholders'] = [];
  const templates: string[] = [];
  for (const line of contract.lines) {
    const quoteLine = quote.lines.find((q) => q.id === line.quoteLineId)!;
    const pkg = servicePackageOf(catalog, quoteLine);
    if (!pkg.template) continue;
    templates.push(pkg.template.id);
    for (const p of pkg.template.phases) {
      phases.push({
        id: `${line.id}-${p.key}`,
        name: p.name,
        milestones: p.milestone ? [{ id: `${line.id}-${p.milestone.key}`, name: p.milestone.name, contractLineId: line.id }] : [],
        tasks: p.tasks.map((t) => ({ id: `${line.id}-${t.key}`, name: t.name, billable: t.billable, contractLineId: line.id })),
      });
    }
    pkg.template.roles.forEach((r, i) =>
      rolePlaceholders.push({ id: `${line.id}-R${i + 1}`, role: r.role, region: r.region, plannedMinutes: r.plannedMinutes, phaseId: `${line.id}-${pkg.template!.phases[0]!.key}` }),
    );
  }
  if (phases.length === 0) {
    throw new MappingError('PSA.TEMPLATE_MISSING', `no project template for the packages sold on ${contract.id}: ${quote.lines.map((l) => l.servicePackage).join(', ')}`);
  }
  return Project.parse({
    id: `PRJ-${contract.opportunityId}`,
    name: `${args.customer.name} — ${quote.lines.map((l) => l.servicePackage).join(' + ')}`,
    contractId: contract.id,
    contractVersion: contract.version,
    customerId: contract.customerId,
    templateId: templates.join('+'),
    startDate: contract.startDate,
    endDate: contract.endDate,
    phases,
    rolePlaceholders,
  });
}
