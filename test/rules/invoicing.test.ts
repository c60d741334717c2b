import {
  classifyDeliveries, creditInvoiceLines, decideTax, fnv1a64, groupInvoices, intercompanyCharges, invoicedAmounts, preview, rerate,
  revenueSchedule, compileContract, taxLinesFor, recognisedToDate,
} from '../../src/rules';
import { Amendment, applyAmendment } from '../../src/canonical';
import { compiled, contract, ex, mc, project, ruleSet, te, usd } from './fixtures';

const ASOF = '2025-04-01';

describe('invoice grouping', () => {
  const batch = {
    timeEntries: [te('T1'), te('T2', { minutes: 480, overtime: true }), te('T3', { workDate: '2025-02-10', minutes: 60 }), te('T4', { minutes: 60 })],
    milestones: [mc('MC1', 'M1', '2025-03-10')],
    expenses: [ex('X1')],
  };

  it('groups by bill-to | project | entity | currency | PO | schedule:period with deterministic ids', () => {
    const cc = compiled();
    const ds = classifyDeliveries(cc, batch, ASOF, { scheduledCharges: false }, 'P1').decisions;
    const invs = groupInvoices(cc, ds, { asOf: ASOF });
    expect(invs.map((i) => [i.invoiceKey, i.subtotal.amountMinor, i.period])).toEqual([
      ['CUST-1|P1|LE-US|USD|PO-77|MONTHLY|MONTHLY:2025-02', 15_000, { start: '2025-02-01', end: '2025-02-28' }],
      // 112500 + 180000 + 15000 (T4, 60 min) + 25000 expense = 332500
      ['CUST-1|P1|LE-US|USD|PO-77|MONTHLY|MONTHLY:2025-03', 332_500, { start: '2025-03-01', end: '2025-03-31' }],
      ['CUST-1|P1|LE-US|USD|PO-77|ON_MILESTONE|ON_MILESTONE:M1', 1_500_000, { start: '2025-03-10', end: '2025-03-10' }],
    ]);
    expect(invs[1]!.id).toBe(`INV-${fnv1a64('CUST-1|P1|LE-US|USD|PO-77|MONTHLY|MONTHLY:2025-03')}`);
    expect(invs[1]!.dueDate).toBe('2025-05-01'); // issue 2025-04-01 + net 30
    expect(invs[1]!.lines.map((l) => [l.contractLineId, l.quoteLineId, l.description, l.amount.amountMinor, l.sourceItemIds, l.quantity?.value])).toEqual([
      ['CL-EXP', 'QL-EXP', 'Expenses: TRAVEL', 25_000, ['X1'], undefined],
      ['CL-TM', 'QL-TM', 'consultant (US) overtime @ USD 225.00/h', 180_000, ['T2'], 480],
      ['CL-TM', 'QL-TM', 'consultant (US) @ USD 150.00/h', 127_500, ['T1', 'T4'], 510],
    ]);
  });

  it('a line PO override splits the invoice', () => {
    const cc = compiled(contract((c) => (c.lines[4]!.poNumber = 'PO-EXP')));
    const ds = classifyDeliveries(cc, batch, ASOF, { scheduledCharges: false }, 'P1').decisions;
    expect(groupInvoices(cc, ds, { asOf: ASOF }).map((i) => i.invoiceKey)).toEqual([
      'CUST-1|P1|LE-US|USD|PO-77|MONTHLY|MONTHLY:2025-02',
      'CUST-1|P1|LE-US|USD|PO-77|MONTHLY|MONTHLY:2025-03',
      'CUST-1|P1|LE-US|USD|PO-77|ON_MILESTONE|ON_MILESTONE:M1',
      'CUST-1|P1|LE-US|USD|PO-EXP|MONTHLY|MONTHLY:2025-03',
    ]);
  });

  it('fnv1a64 matches the reference vector', () => {
    // FNV-1a 64 of "a" is af63dc4c8601ec8c; of "" the offset basis
    expect(fnv1a64('a')).toBe('af63dc4c8601ec8c');
    expect(fnv1a64('')).toBe('cbf29ce484222325');
    expect(fnv1a64('foobar')).toBe('85944171f73967e8');
  });
});

describe('tax decisions', () => {
  it.each([
    ['SERVICES', { country: 'US', subdivision: 'NY' }, false, true, 'TAX.TAXABLE'],
    ['SERVICES', { country: 'US', subdivision: 'CA' }, false, false, 'TAX.NOT_TAXABLE'],
    ['SERVICES', { country: 'DE' }, false, true, 'TAX.TAXABLE'],
    ['SERVICES', { country: 'US', subdivision: 'NY' }, true, false, 'TAX.CUSTOMER_EXEMPT'],
    ['SAAS', { country: 'US', subdivision: 'CA' }, false, false, 'TAX.NOT_TAXABLE'],
    ['SAAS', { country: 'US', subdivision: 'NY' }, false, true, 'TAX.TAXABLE'],
    ['NEW_CODE', { country: 'US', subdivision: 'NY' }, false, true, 'TAX.UNKNOWN_TAX_CODE'],
  ] as const)('%s in %j exempt=%s -> taxable %s (%s)', (code, where, exempt, taxable, reason) => {
    expect(decideTax(ruleSet, code, where, exempt)).toMatchObject({ taxable, reason });
  });

  it('builds one connector request per invoice with only the taxable lines', () => {
    const cc = compiled();
    const ds = classifyDeliveries(cc, { timeEntries: [te('T1')], expenses: [ex('X1')] }, ASOF, { scheduledCharges: false }, 'P1').decisions;
    const [inv] = groupInvoices(cc, ds, { asOf: ASOF });
    const customer = { billTo: { address: { line1: '1 Main', city: 'Albany', region: 'NY', country: 'US' } } };
    const t = taxLinesFor(ruleSet, inv!, customer, { id: 'LE-US', taxJurisdiction: { country: 'US', subdivision: 'DE' } });
    // SERVICES is taxable in US-NY; EXPENSE_REBILL is not
    expect(t.request).toEqual({
      invoiceId: inv!.id, sellerLegalEntityId: 'LE-US', sellerJurisdiction: 'US-DE', jurisdiction: 'US-NY',
      lines: [{ invoiceLineId: inv!.lines[1]!.id, taxCode: 'SERVICES', amountMinor: 112_500 }],
    });
    expect(t.decisions.get(inv!.lines[0]!.id)?.reason).toBe('TAX.NOT_TAXABLE');
  });
});

describe('intercompany', () => {
  it('cost-plus for time delivered by another entity: 480 min x 6000 / 60 = 48000 + 8 % = 51840', () => {
    const r = intercompanyCharges(ruleSet, 'LE-US', [
      te('T1', { resourceLegalEntityId: 'LE-DE', minutes: 480 }),
      te('T2', { resourceLegalEntityId: 'LE-DE', minutes: 60, role: 'architect', workDate: '2025-03-20' }), // 9000 -> 9000 + 720
      te('T3'), // same entity: no charge
      te('T4', { resourceLegalEntityId: 'LE-DE', approved: false }),
      te('T1', { resourceLegalEntityId: 'LE-DE', minutes: 480 }), // duplicate
    ]);
    expect(r.charges.map((c) => [c.sourceItemId, c.costMinor, c.markupMinor, c.amountMinor])).toEqual([
      ['T1', 48_000, 3_840, 51_840],
      ['T2', 9_000, 720, 9_720],
    ]);
    expect(r.invoices).toEqual([
      { key: 'IC|LE-DE|LE-US|USD|2025-03', fromLegalEntityId: 'LE-DE', toLegalEntityId: 'LE-US', currency: 'USD', period: { start: '2025-03-01', end: '2025-03-31' }, amountMinor: 61_560, sourceItemIds: ['T1', 'T2'] },
    ]);
  });
});

describe('revenue schedules', () => {
  const full = (asOf: string, batch = {}) => {
    const cc = compiled();
    const ds = classifyDeliveries(cc, batch, asOf, {}, 'P1').decisions;
    const invs = groupInvoices(cc, ds, { asOf });
    return revenueSchedule({ contract: cc.contract, decisions: ds, invoices: invs, asOf });
  };

  it('ratable daily: 310000 over 76 days (17 / 28 / 31) = 69342 + 114211 + 126447', () => {
    const r = full(ASOF);
    expect(r.lines.filter((l) => l.contractLineId === 'CL-SUB').map((l) => [l.recognitionDate, l.amount.amountMinor])).toEqual([
      ['2025-01-31', 69_342],
      ['2025-02-28', 114_211],
      ['2025-03-31', 126_447],
    ]);
  });

  it('point in time on acceptance; as invoiced for T&M', () => {
    const r = full(ASOF, { milestones: [mc('MC1', 'M1', '2025-03-10'), mc('MC2', 'M2', null)], timeEntries: [te('T1')] });
    expect(r.lines.filter((l) => l.contractLineId !== 'CL-SUB').map((l) => [l.contractLineId, l.kind, l.recognitionDate, l.amount.amountMinor])).toEqual([
      ['CL-TM', 'RECOGNITION', '2025-04-01', 112_500],
      ['CL-FF', 'RECOGNITION', '2025-03-10', 1_500_000],
    ]);
  });

  it('retainer: recognised as drawn, breakage of the unused 60000 at expiry 2025-06-30', () => {
    const batch = { timeEntries: [te('R1', { contractLineId: 'CL-RET', minutes: 480 }), te('R2', { contractLineId: 'CL-RET', minutes: 480, workDate: '2025-04-02' })] };
    const before = full('2025-06-01', batch);
    expect(before.lines.filter((l) => l.contractLineId === 'CL-RET').map((l) => [l.kind, l.recognitionDate, l.amount.amountMinor])).toEqual([
      ['RECOGNITION', '2025-03-31', 120_000],
      ['RECOGNITION', '2025-04-30', 120_000],
    ]);
    const after = full('2025-07-01', batch);
    expect(after.lines.filter((l) => l.contractLineId === 'CL-RET').map((l) => [l.kind, l.recognitionDate, l.amount.amountMinor])).toEqual([
      ['RECOGNITION', '2025-03-31', 120_000],
      ['RECOGNITION', '2025-04-30', 120_000],
      ['BREAKAGE', '2025-06-30', 60_000],
    ]);
    expect(recognisedToDate(after.lines, '2025-04-30')['CL-RET']).toBe(240_000);
  });

  it('never above the allocated value: the excess is held back', () => {
    const c = contract((x) => (x.lines[0]!.allocatedValue = usd(200_000)));
    const cc = compileContract(c, ruleSet, project);
    const ds = classifyDeliveries(cc, { timeEntries: [te('T1'), te('T2', { workDate: '2025-03-04' })] }, ASOF, { scheduledCharges: false }, 'P1').decisions;
    const r = revenueSchedule({ contract: c, decisions: ds, invoices: groupInvoices(cc, ds, { asOf: ASOF }), asOf: ASOF });
    // invoiced 2 x 112500 = 225000 on one invoice line; 200000 recognised, 25000 held back
    expect(r.lines.filter((l) => l.contractLineId === 'CL-TM').map((l) => l.amount.amountMinor)).toEqual([200_000]);
    expect(r.heldBack).toEqual({ 'CL-TM': 25_000 });
  });
});

describe('credit memos and re-rating', () => {
  const batch = { timeEntries: [te('T1'), te('T2', { minutes: 480, overtime: true })], milestones: [mc('MC1', 'M1', '2025-03-10')] };

  it('a partial credit names the exact items: crediting T1 alone = 112500', () => {
    const cc = compiled();
    const ds = classifyDeliveries(cc, batch, ASOF, { scheduledCharges: false }, 'P1').decisions;
    const inv = groupInvoices(cc, ds, { asOf: ASOF }).find((i) => i.schedule === 'MONTHLY')!;
    const stLine = inv.lines.find((l) => l.sourceItemIds.includes('T1'))!;
    const cm = creditInvoiceLines(inv, [{ invoiceLineId: stLine.id, sourceItemIds: ['T1'] }], invoicedAmounts(ds), { issueDate: '2025-04-10', reason: 'DISPUTE' });
    expect(cm.lines.map((l) => [l.originalInvoiceLineId, l.sourceItemIds, l.amount.amountMinor])).toEqual([[stLine.id, ['T1'], 112_500]]);
    expect(cm.total).toEqual(usd(112_500));
    expect(() => creditInvoiceLines(inv, [{ invoiceLineId: stLine.id, sourceItemIds: ['T2'] }], invoicedAmounts(ds), { issueDate: '2025-04-10', reason: 'DISPUTE' })).toThrow('T2 is not on invoice line');
  });

  it('an amendment (10 % discount) credits and rebills only the changed items', () => {
    const v1 = contract();
    const cc1 = compileContract(v1, ruleSet, project);
    const d1 = classifyDeliveries(cc1, batch, ASOF, { scheduledCharges: false }, 'P1').decisions;
    const inv1 = groupInvoices(cc1, d1, { asOf: ASOF });
    const v2 = applyAmendment(v1, Amendment.parse({ id: 'AMD-1', contractId: 'C-1', baseVersion: 1, effectiveDate: '2025-03-01', reason: 'discount', changes: [{ op: 'UPDATE_LINE', lineId: 'CL-TM', set: { discountBp: 1000 } }] }));
    const cc2 = compileContract(v2, ruleSet, project);
    const d2 = classifyDeliveries(cc2, batch, '2025-04-15', { scheduledCharges: false }, 'P1').decisions;
    const r = rerate({ cc: cc2, originalInvoices: inv1, originalDecisions: d1, reratedDecisions: d2, asOf: '2025-04-15', amendmentId: 'AMD-1' });
    expect(r.changed).toEqual(['T1', 'T2']);
    // credit 112500 (T1) + 180000 (T2); rebill 101250 + 162000 = 263250; delta -29250
    expect(r.creditMemos.map((m) => m.lines.map((l) => [l.sourceItemIds, l.amount.amountMinor]))).toEqual([[[['T2'], 180_000], [['T1'], 112_500]]]);
    expect(r.rebillInvoices.map((i) => [i.invoiceKey, i.subtotal.amountMinor])).toEqual([['CUST-1|P1|LE-US|USD|PO-77|MONTHLY|MONTHLY:2025-03|REBILL:AMD-1', 263_250]]);
    expect(r.delta).toBe(-29_250);
  });
});

describe('preview', () => {
  it('explains every item and links it to its invoice line', () => {
    const p = preview({
      contract: contract(), ruleSet, project, asOf: ASOF,
      batch: { timeEntries: [te('T1'), te('T4', { taskId: 'TK-NB' })] },
      state: { scheduledCharges: false },
      customer: { billTo: { address: { line1: '1', city: 'NYC', region: 'NY', country: 'US' } } },
      seller: { id: 'LE-US', taxJurisdiction: { country: 'US' } },
    });
    expect(p.items.map((i) => [i.sourceId, i.billingClass, i.reasonCode, i.amount.amountMinor, i.invoiceLineId, i.quoteLineId])).toEqual([
      ['T1', 'BILLABLE', 'BILLABLE.TIME_AND_MATERIALS', 112_500, p.invoices[0]!.lines[0]!.id, 'QL-TM'],
      ['T4', 'EXCLUDED', 'EXCLUDED.NON_BILLABLE_TASK', 112_500, null, 'QL-TM'],
    ]);
    expect(p.items[1]!.explanation).toBe('The task is marked non-billable, so this time is not charged.');
    expect(p.items[0]!.invoiceKey).toBe(p.invoices[0]!.invoiceKey);
    expect(p.invoices[0]!.lines[0]!.taxable).toBe(true); // SERVICES in US-NY
    expect(p.totals.delivered).toEqual(usd(225_000));
    expect(p.ruleSet).toEqual({ id: 'default', version: 1 });
  });
});

describe('the worked example in README.md (Billing rules)', () => {
  it('delivered 1,477,500 = billed 1,050,000 + deferred 112,500 + capped 202,500 + excluded 112,500', () => {
    const eight = Array.from({ length: 8 }, (_, i) => te(`D${i}`, { minutes: 480, workDate: `2025-03-${String(i + 5).padStart(2, '0')}` }));
    const p = preview({
      contract: contract(), ruleSet, project, asOf: ASOF, state: { scheduledCharges: false },
      batch: { timeEntries: [te('T1'), te('T2', { workDate: '2025-03-04', minutes: 480, overtime: true }), te('T3', { taskId: 'TK-NB' }), te('T4', { workDate: '2025-04-01' }), ...eight] },
    });
    expect(p.items.filter((i) => i.sourceId.startsWith('D')).map((i) => [i.sourceId, i.reasonCode, i.amount.amountMinor]).slice(5)).toEqual([
      ['D5', 'BILLABLE.TIME_AND_MATERIALS', 120_000],
      ['D6', 'BILLABLE.PARTIAL_UNDER_CAP', 37_500],
      ['D6', 'CAPPED.OVER_CAP', 82_500],
      ['D7', 'CAPPED.OVER_CAP', 120_000],
    ]);
    expect([p.totals.delivered, p.totals.BILLABLE, p.totals.DEFERRED, p.totals.CAPPED, p.totals.EXCLUDED].map((m) => m.amountMinor)).toEqual([
      1_477_500, 1_050_000, 112_500, 202_500, 112_500,
    ]);
    expect(p.invoices.map((i) => [i.invoiceKey, i.subtotal.amountMinor, i.lines.length])).toEqual([['CUST-1|P1|LE-US|USD|PO-77|MONTHLY|MONTHLY:2025-03', 1_050_000, 2]]);
  });
});
