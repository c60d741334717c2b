import type { Customer, Quote } from '../../src/canonical';
import { loadCatalog } from '../../src/activities/deal/catalog';
import { MappingError, contractFromQuote, projectFromContract } from '../../src/activities/deal/mapping';
import { RuleSet, classifyDeliveries, compileContract, revenueSchedule } from '../../src/rules';
import defaultRuleSet from '../../src/rules/rulesets/default.json';

const ruleSet = RuleSet.parse(defaultRuleSet);

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

  it("carries the package's cap term for expenses onto the T&M cap; a package without it leaves the term unset (expenses count)", () => {
    const pkg = catalog.servicePackages.ADVISORY_TM!;
    const excl = { ...catalog, servicePackages: { ...catalog.servicePackages, ADVISORY_TM: { ...pkg, capIncludesExpenses: false } } };
    expect(contractFromQuote({ quote, customer, catalog: excl, startDate: '2026-01-15' }).lines[1]!.cap).toEqual({ notToExceed: usd(3_000_000), toleranceBp: 0, includesExpenses: false });
    expect(contract.lines[1]!.cap).not.toHaveProperty('includesExpenses');
  });

  it('rejects a package the catalog does not know, naming the line', () => {
    const bad = { ...quote, lines: [{ ...quote.lines[0]!, servicePackage: 'MYSTERY' }] };
    expect(() => contractFromQuote({ quote: bad, customer, catalog, startDate: '2026-01-15' })).toThrow(
      new MappingError('CATALOG.UNKNOWN_SERVICE_PACKAGE', "quote line QL-1: unknown service package 'MYSTERY'"),
    );
  });
});

describe('contractFromQuote: per-line service periods from the quote lines', () => {
  // Term from the close date 2026-01-15 for the longest monthly line (QL-3, 18 months): 2026-01-15..2027-07-14.
  const phased: Quote = {
    ...quote,
    lines: [
      quote.lines[0]!,
      // T&M advisory only in the second and third quarters of 2026
      { ...quote.lines[1]!, serviceStart: '2026-04-01', serviceEnd: '2026-09-30' },
      // support starts later and runs to the end of the term (no end date on the quote line)
      { ...quote.lines[2]!, serviceStart: '2026-02-01' },
    ],
  };
  const contract = contractFromQuote({ quote: phased, customer, catalog, startDate: '2026-01-15' });

  it("gives each contract line its quote line's dates, the contract's term where the quote line has none", () => {
    expect(contract.lines.map((l) => [l.quoteLineId, l.startDate, l.endDate])).toEqual([
      ['QL-1', '2026-01-15', '2027-07-14'],
      ['QL-2', '2026-04-01', '2026-09-30'],
      ['QL-3', '2026-02-01', '2027-07-14'],
    ]);
    expect([contract.startDate, contract.endDate]).toEqual(['2026-01-15', '2027-07-14']);
  });

  it("bills the subscription on its own line's schedule and dates the work window by the line", () => {
    const cc = compileContract(contract, ruleSet);
    const run = classifyDeliveries(cc, { timeEntries: [
      // before the advisory line's own start (2026-04-01), inside the contract term: outside the line's dates
      { id: 'TE-1', projectId: 'P', contractId: contract.id, contractLineId: 'CTR-OPP-1-L2', taskId: 'T', role: 'consultant', region: 'US', resourceLegalEntityId: 'LE-US', workDate: '2026-03-02', minutes: 60, approved: true, overtime: false, externalIds: {} },
    ] }, '2026-03-15');
    // support from 2026-02-01, monthly in advance at 2,000.00: periods 2026-02-01 and 2026-03-01 are due by 2026-03-15
    // (with the contract's dates they would have been 2026-01-15, 2026-02-15 and 2026-03-15)
    expect(run.decisions.filter((d) => d.kind === 'SUBSCRIPTION').map((d) => [d.sourceId, d.amountMinor, d.reasonCode])).toEqual([
      ['SUB:CTR-OPP-1-L3:2026-02-01', 200_000, 'BILLABLE.SUBSCRIPTION_PERIOD'],
      ['SUB:CTR-OPP-1-L3:2026-03-01', 200_000, 'BILLABLE.SUBSCRIPTION_PERIOD'],
    ]);
    expect(run.decisions.find((d) => d.sourceId === 'TE-1')?.reasonCode).toBe('EXCLUDED.OUTSIDE_CONTRACT_DATES');
  });

  it('recognises ratable revenue over the line\'s own days', () => {
    // 3,600,000 over 2026-02-01..2027-07-14 = 529 days; nothing in January 2026 (the contract starts 2026-01-15)
    const rev = revenueSchedule({ contract, decisions: [], invoices: [], asOf: '2027-07-14' }).lines.filter((l) => l.contractLineId === 'CTR-OPP-1-L3');
    expect(rev[0]!.recognitionDate).toBe('2026-02-28');
    expect(rev.reduce((a, l) => a + l.amount.amountMinor, 0)).toBe(3_600_000);
    // 3,600,000 x days / 529: 28 d -> 190,548.20, 30 d -> 204,158.79, 31 d -> 210,964.08, 14 d -> 95,274.10.
    // Floors: 2 x 190,548 + 6 x 204,158 + 9 x 210,964 + 95,274 = 3,599,994; the 6 minor units left go to the
    // six 30-day months (largest remainder .79), so February stays 190,548 and April 2026 gets 204,159.
    expect(rev.slice(0, 3).map((l) => [l.recognitionDate, l.amount.amountMinor])).toEqual([
      ['2026-02-28', 190_548],
      ['2026-03-31', 210_964],
      ['2026-04-30', 204_159],
    ]);
    expect(rev.at(-1)!.recognitionDate).toBe('2027-07-14');
    expect(rev.at(-1)!.amount.amountMinor).toBe(95_274);
  });

  it('refuses a service period outside the contract term, naming the quote line field', () => {
    const early: Quote = { ...quote, lines: [{ ...quote.lines[1]!, serviceStart: '2026-01-01' }] };
    // quote of one hourly line: the default 12-month term 2026-01-15..2027-01-14
    expect(() => contractFromQuote({ quote: early, customer, catalog, startDate: '2026-01-15' })).toThrow(
      new MappingError('CRM.QUOTE_LINE_DATES_INVALID', 'lines.0.serviceStart: quote line QL-2 starts 2026-01-01, before the contract term 2026-01-15..2027-01-14'),
    );
    const late: Quote = { ...quote, lines: [{ ...quote.lines[1]!, serviceStart: '2026-06-01', serviceEnd: '2027-01-15' }] };
    expect(() => contractFromQuote({ quote: late, customer, catalog, startDate: '2026-01-15' })).toThrow(
      new MappingError('CRM.QUOTE_LINE_DATES_INVALID', 'lines.0.serviceEnd: quote line QL-2 ends 2027-01-15, after the contract term 2026-01-15..2027-01-14'),
    );
    // only a start, after the term ends: its end would default to the term's end, before the start
    const after: Quote = { ...quote, lines: [{ ...quote.lines[1]!, serviceStart: '2027-02-01' }] };
    expect(() => contractFromQuote({ quote: after, customer, catalog, startDate: '2026-01-15' })).toThrow(
      new MappingError('CRM.QUOTE_LINE_DATES_INVALID', 'lines.0.serviceStart: quote line QL-2 starts 2027-02-01, after the contract term 2026-01-15..2027-01-14'),
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
