import type { Customer, Quote } from '../../src/canonical';
import { loadCatalog } from '../../src/activities/deal/catalog';
import { MappingError, contractFromQuote, projectFromContract } from '../../src/activities/deal/mapping';

const catalog = loadCatalog();
const usd = (amountMinor: number) => ({ amountMinor, currency: 'USD' });

const customer: Customer = {
  id: 'CUS-001A',
  name: 'Globex Corporation',
  billTo: { address: { line1: '1 Main St', city: 'New York', region: 'NY', postalCode: '10001', country: 'US' }, email: 'ap@globex.example' },
  legalEntityId: 'LE-US',
  parentId: null,
  externalIds: {},
  status: 'ACTIVE',
};

const quote: Quote = {
  id: 'Q-1',
  opportunityId: 'OPP-1',
  customerId: 'CUS-001A',
  currency: 'USD',
  approvalStatus: 'APPROVED',
  externalIds: {},
  lines: [
    // 1 x $120,000.00 fixed fee
    { id: 'QL-1', servicePackage: 'TRANSFORMATION', description: 'Transformation', quantity: 1, unit: 'EACH', listPrice: usd(12_000_000), netPrice: usd(12_000_000), discountBp: 0, approvalStatus: 'APPROVED', externalIds: {} },
    // 200 h x $150.00 = $30,000.00, the not-to-exceed cap
    { id: 'QL-2', servicePackage: 'ADVISORY_TM', description: 'Advisory', quantity: 200, unit: 'HOUR', listPrice: usd(15_000), netPrice: usd(15_000), discountBp: 0, approvalStatus: 'APPROVED', externalIds: {} },
    // 18 months x $2,000.00 support, 10 % off list $2,222.22 -> rounding irrelevant, net is given
    { id: 'QL-3', servicePackage: 'MANAGED_SUPPORT', description: 'Support', quantity: 18, unit: 'MONTH', listPrice: usd(222_222), netPrice: usd(200_000), discountBp: 1000, approvalStatus: 'APPROVED', externalIds: {} },
  ],
};

describe('contractFromQuote', () => {
  const contract = contractFromQuote({ quote, customer, catalog, startDate: '2026-01-15', poNumber: 'PO-77' });

  it('keeps the quote line link and the catalog billing terms on every line', () => {
    expect(contract.lines.map((l) => [l.id, l.quoteLineId, l.billingModel, l.invoiceSchedule, l.revenueTreatment, l.taxCode])).toEqual([
      ['CTR-OPP-1-L1', 'QL-1', 'FIXED_FEE_MILESTONE', 'ON_MILESTONE', 'POINT_IN_TIME', 'SERVICES'],
      ['CTR-OPP-1-L2', 'QL-2', 'TIME_AND_MATERIALS', 'MONTHLY', 'AS_INVOICED', 'SERVICES'],
      ['CTR-OPP-1-L3', 'QL-3', 'SUBSCRIPTION', 'MONTHLY', 'RATABLE_DAILY', 'SAAS'],
    ]);
  });

  it('values each line at quantity x net price and caps T&M at the quoted value', () => {
    const [ff, tm, sub] = contract.lines;
    expect(ff!.fee).toEqual(usd(12_000_000));
    // milestones 30 % / 50 % / 20 % of the fee
    expect(ff!.milestones).toEqual([
      { milestoneId: 'CTR-OPP-1-L1-M1', percentBp: 3000 },
      { milestoneId: 'CTR-OPP-1-L1-M2', percentBp: 5000 },
      { milestoneId: 'CTR-OPP-1-L1-M3', percentBp: 2000 },
    ]);
    expect(tm!.cap).toEqual({ notToExceed: usd(3_000_000), toleranceBp: 0 }); // 200 x 15,000
    expect(tm!.rateCardRef).toBe('RC-STD');
    expect(sub!.allocatedValue).toEqual(usd(3_600_000)); // 18 x 200,000
    expect(sub!.subscription).toEqual({ amountPerPeriod: usd(200_000), period: 'MONTHLY', timing: 'IN_ADVANCE' });
  });

  it('runs the term from the close date for the longest monthly line (18 months)', () => {
    expect([contract.startDate, contract.endDate]).toEqual(['2026-01-15', '2027-07-14']);
    expect(contract.ruleSet).toEqual({ id: 'default', version: 1 });
    expect(contract.poNumber).toBe('PO-77');
    expect(contract.contractingLegalEntityId).toBe('LE-US');
  });

  it('rejects a package the catalog does not know, naming the line', () => {
    const bad = { ...quote, lines: [{ ...quote.lines[0]!, servicePackage: 'MYSTERY' }] };
    expect(() => contractFromQuote({ quote: bad, customer, catalog, startDate: '2026-01-15' })).toThrow(
      new MappingError('CATALOG.UNKNOWN_SERVICE_PACKAGE', "quote line QL-1: unknown service package 'MYSTERY'"),
    );
  });
});

describe('projectFromContract', () => {
  const contract = contractFromQuote({ quote, customer, catalog, startDate: '2026-01-15' });
  const project = projectFromContract({ contract, quote, catalog, customer });

  it('builds phases, milestones and tasks from each package template, linked to contract lines', () => {
    expect(project.templateId).toBe('TPL-TRANSFORMATION+TPL-ADVISORY+TPL-SUPPORT');
    expect(project.phases.map((p) => p.id)).toEqual(['CTR-OPP-1-L1-DISCOVER', 'CTR-OPP-1-L1-BUILD', 'CTR-OPP-1-L1-LAUNCH', 'CTR-OPP-1-L2-ADVISE', 'CTR-OPP-1-L3-RUN']);
    // project milestone ids are the contract's milestone ids, so acceptance maps straight to billing
    expect(project.phases.flatMap((p) => p.milestones.map((m) => m.id))).toEqual(contract.lines[0]!.milestones!.map((m) => m.milestoneId));
    expect(project.phases[1]!.tasks).toEqual([
      { id: 'CTR-OPP-1-L1-T2', name: 'Implementation', billable: true, contractLineId: 'CTR-OPP-1-L1' },
      { id: 'CTR-OPP-1-L1-T3', name: 'Internal QA', billable: false, contractLineId: 'CTR-OPP-1-L1' },
    ]);
    expect(project.rolePlaceholders).toHaveLength(5);
  });

  it('fails with PSA.TEMPLATE_MISSING when nothing sold has a template', () => {
    const expensesOnly = { ...quote, lines: [{ ...quote.lines[1]!, id: 'QL-9', servicePackage: 'EXPENSES' }] };
    const c = contractFromQuote({ quote: expensesOnly, customer, catalog, startDate: '2026-01-15' });
    expect(() => projectFromContract({ contract: c, quote: expensesOnly, catalog, customer })).toThrow(/PSA.TEMPLATE_MISSING|no project template/);
  });
});
