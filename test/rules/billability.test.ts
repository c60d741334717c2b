import { classTotals, classifyDeliveries, compileContract, RuleSet, type Deliveries, type BillingState } from '../../src/rules';
import { compiled, contract, ex, mc, project, rows, ruleSet, te, usd } from './fixtures';

const ASOF = '2025-04-01';
const run = (batch: Deliveries, state: BillingState = {}, asOf = ASOF, cc = compiled()) =>
  classifyDeliveries(cc, batch, asOf, { scheduledCharges: false, ...state }, 'P1').decisions;

describe('time and materials', () => {
  it('classifies every case with its reason and exact value', () => {
    const ds = run({
      timeEntries: [
        te('T01'), // 450 min x 15000 / 60 = 112500
        te('T02', { minutes: 480, overtime: true }), // 480 x 15000 x 1.5 / 60 = 180000
        te('T03', { region: 'EU', minutes: 60 }), // consultant/* 13000 x 60/60 = 13000
        te('T04', { taskId: 'TK-NB' }), // 112500, non-billable task
        te('T05', { approved: false }), // 112500, unapproved
        te('T06', { workDate: '2024-12-31' }), // before the line starts; no rate either -> 0
        te('T07', { workDate: '2025-04-01' }), // April not closed on 2025-04-01
        te('T08', { workDate: '2025-04-05' }), // after the run date
        te('T01'), // duplicate delivery
        te('T09', { contractLineId: 'CL-NOPE' }), // unknown line
        te('T10', { contractLineId: 'CL-FF', minutes: 60 }), // fixed-fee line: valued 15000, excluded
        te('T11', { contractLineId: 'CL-SUB', minutes: 60 }), // subscription line: no card -> 0
        te('T12', { contractLineId: 'CL-EXP', minutes: 60 }), // expenses line: time does not belong
      ],
    });
    expect(rows(ds)).toEqual([
      ['T01', 'BILLABLE.TIME_AND_MATERIALS', 112_500],
      ['T01', 'EXCLUDED.DUPLICATE', 0],
      ['T02', 'BILLABLE.TIME_AND_MATERIALS', 180_000],
      ['T03', 'BILLABLE.TIME_AND_MATERIALS', 13_000],
      ['T04', 'EXCLUDED.NON_BILLABLE_TASK', 112_500],
      ['T05', 'EXCLUDED.UNAPPROVED', 112_500],
      ['T06', 'EXCLUDED.OUTSIDE_CONTRACT_DATES', 0],
      ['T07', 'DEFERRED.PERIOD_NOT_CLOSED', 112_500],
      ['T08', 'DEFERRED.NOT_YET_DUE', 112_500],
      ['T09', 'EXCLUDED.UNKNOWN_CONTRACT_LINE', 0],
      ['T10', 'EXCLUDED.COVERED_BY_FIXED_FEE', 0],
      ['T11', 'EXCLUDED.COVERED_BY_SUBSCRIPTION', 0],
      ['T12', 'EXCLUDED.WRONG_LINE_TYPE', 0],
    ]);
    const t = classTotals(ds);
    // billable 112500 + 180000 + 13000 = 305500; deferred 2 x 112500; excluded 2 x 112500
    expect(t).toEqual({ BILLABLE: 305_500, DEFERRED: 225_000, CAPPED: 0, EXCLUDED: 225_000, delivered: 755_500 });
  });

  it('line discount 10 %: 450 x 15000 x 0.9 / 60 = 101250', () => {
    const cc = compiled(contract((c) => (c.lines[0]!.discountBp = 1000)));
    expect(rows(run({ timeEntries: [te('T1')] }, {}, ASOF, cc))).toEqual([['T1', 'BILLABLE.TIME_AND_MATERIALS', 101_250]]);
  });

  it('no rate card row -> DEFERRED.NO_RATE with value 0', () => {
    const rs = RuleSet.parse(JSON.parse(JSON.stringify(ruleSet)));
    rs.rateCards[0]!.rates = rs.rateCards[0]!.rates.filter((r) => r.role !== '*');
    const cc = compileContract(contract(), rs, project);
    expect(rows(run({ timeEntries: [te('T1', { role: 'intern' })] }, {}, ASOF, cc))).toEqual([['T1', 'DEFERRED.NO_RATE', 0]]);
  });

  it('PO required and none on file -> DEFERRED.AWAITING_PO', () => {
    const cc = compiled(contract((c) => { c.poRequired = true; c.poNumber = undefined; }));
    expect(rows(run({ timeEntries: [te('T1')] }, {}, ASOF, cc))).toEqual([['T1', 'DEFERRED.AWAITING_PO', 112_500]]);
  });

  it('weekly schedule: a Wednesday is billable once its Monday-start week has ended', () => {
    const cc = compiled(contract((c) => (c.lines[0]!.invoiceSchedule = 'WEEKLY')));
    // 2025-03-05 is a Wednesday: week 2025-03-03..2025-03-09
    expect(rows(run({ timeEntries: [te('T1', { workDate: '2025-03-05' })] }, {}, '2025-03-09', cc))).toEqual([['T1', 'DEFERRED.PERIOD_NOT_CLOSED', 112_500]]);
    expect(rows(run({ timeEntries: [te('T1', { workDate: '2025-03-05' })] }, {}, '2025-03-10', cc))).toEqual([['T1', 'BILLABLE.TIME_AND_MATERIALS', 112_500]]);
  });

  it('already processed ids are duplicates', () => {
    expect(rows(run({ timeEntries: [te('T1')] }, { processedIds: new Set(['T1']) }))).toEqual([['T1', 'EXCLUDED.DUPLICATE', 0]]);
  });
});

describe('not-to-exceed cap with tolerance', () => {
  // limit = 1,000,000 + 5 % = 1,050,000. Ten 8h entries at USD 150.00 = 120,000 each.
  const tenDays = Array.from({ length: 10 }, (_, i) => te(`C${String(i).padStart(2, '0')}`, { minutes: 480, workDate: `2025-03-${String(i + 3).padStart(2, '0')}` }));

  it('bills 8 x 120000 = 960000, splits the 9th (90000 billed / 30000 capped), caps the 10th', () => {
    const ds = run({ timeEntries: tenDays });
    const r = rows(ds);
    expect(r.slice(0, 8).every(([, code, n]) => code === 'BILLABLE.TIME_AND_MATERIALS' && n === 120_000)).toBe(true);
    expect(r.slice(8)).toEqual([
      ['C08', 'BILLABLE.PARTIAL_UNDER_CAP', 90_000],
      ['C08', 'CAPPED.OVER_CAP', 30_000],
      ['C09', 'CAPPED.OVER_CAP', 120_000],
    ]);
    // minutes split in proportion: 480 x 90000 / 120000 = 360 billed, 120 capped
    expect(ds.filter((d) => d.sourceId === 'C08').map((d) => d.minutes).sort()).toEqual([120, 360]);
    expect(classTotals(ds)).toEqual({ BILLABLE: 1_050_000, DEFERRED: 0, CAPPED: 150_000, EXCLUDED: 0, delivered: 1_200_000 });
  });

  it('the split does not depend on input order', () => {
    expect(rows(run({ timeEntries: [...tenDays].reverse() }))).toEqual(rows(run({ timeEntries: tenDays })));
  });

  it('counts what earlier runs billed: 1,000,000 billed before leaves 50,000', () => {
    expect(rows(run({ timeEntries: tenDays.slice(0, 2) }, { billedByLine: { 'CL-TM': 1_000_000 } }))).toEqual([
      ['C00', 'BILLABLE.PARTIAL_UNDER_CAP', 50_000],
      ['C00', 'CAPPED.OVER_CAP', 70_000],
      ['C01', 'CAPPED.OVER_CAP', 120_000],
    ]);
  });

  it('the explanation names the cap figures', () => {
    const d = run({ timeEntries: tenDays }).find((x) => x.sourceId === 'C09')!;
    expect(d.detail).toBe('cap USD 10,000.00 + 500 bp tolerance = USD 10,500.00; USD 0.00 left before this item');
  });
});

describe('retainer drawdown', () => {
  const three = ['03', '04', '05'].map((d, i) => te(`R${i}`, { contractLineId: 'CL-RET', minutes: 480, workDate: `2025-03-${d}` }));

  it('draws 120000 + 120000 + 60000 of 300000, bills the remaining 60000 as overage', () => {
    const ds = run({ timeEntries: three });
    expect(rows(ds)).toEqual([
      ['R0', 'BILLABLE.RETAINER_DRAWDOWN', 120_000],
      ['R1', 'BILLABLE.RETAINER_DRAWDOWN', 120_000],
      ['R2', 'BILLABLE.RETAINER_DRAWDOWN', 60_000],
      ['R2', 'BILLABLE.RETAINER_OVERAGE', 60_000],
    ]);
    // only the overage is invoiced (the drawdown was prepaid)
    expect(ds.filter((d) => d.lineKey !== undefined).map((d) => [d.sourceId, d.amountMinor])).toEqual([['R2', 60_000]]);
  });

  it('overage CAP: the rest is CAPPED.RETAINER_EXHAUSTED', () => {
    const cc = compiled(contract((c) => (c.lines[2]!.retainer!.overage = 'CAP')));
    expect(rows(run({ timeEntries: three }, {}, ASOF, cc)).slice(2)).toEqual([
      ['R2', 'BILLABLE.RETAINER_DRAWDOWN', 60_000],
      ['R2', 'CAPPED.RETAINER_EXHAUSTED', 60_000],
    ]);
  });

  it('earlier drawdown is honoured: 250000 drawn leaves 50000', () => {
    expect(rows(run({ timeEntries: three.slice(0, 1) }, { drawnByLine: { 'CL-RET': 250_000 } }))).toEqual([
      ['R0', 'BILLABLE.RETAINER_DRAWDOWN', 50_000],
      ['R0', 'BILLABLE.RETAINER_OVERAGE', 70_000],
    ]);
  });

  it('the prepayment itself is billed at the retainer start', () => {
    const ds = classifyDeliveries(compiled(), {}, ASOF, {}, 'P1').decisions.filter((d) => d.kind === 'RETAINER');
    expect(rows(ds)).toEqual([['RETAINER:CL-RET', 'BILLABLE.RETAINER_FEE', 300_000]]);
  });
});

describe('milestones', () => {
  it('bills accepted milestones (30 % of 5,000,000 = 1,500,000), defers the rest', () => {
    const ds = run({
      milestones: [
        mc('MC1', 'M1', '2025-03-10'),
        mc('MC2', 'M2', null),
        mc('MC3', 'M1', '2025-03-11'), // second completion of M1
        mc('MC4', 'M9', '2025-03-10'),
        mc('MC5', 'M2', '2025-04-02', { id: 'MC5' }), // accepted after the run date ... but M2 already seen
      ],
    });
    expect(rows(ds)).toEqual([
      ['MC1', 'BILLABLE.MILESTONE_ACCEPTED', 1_500_000],
      ['MC2', 'DEFERRED.MILESTONE_NOT_ACCEPTED', 3_500_000],
      ['MC3', 'EXCLUDED.DUPLICATE', 0],
      ['MC4', 'EXCLUDED.UNKNOWN_MILESTONE', 0],
      ['MC5', 'EXCLUDED.DUPLICATE', 0],
    ]);
  });

  it('acceptance after the run date defers', () => {
    expect(rows(run({ milestones: [mc('MC2', 'M2', '2025-04-02')] }))).toEqual([['MC2', 'DEFERRED.MILESTONE_NOT_ACCEPTED', 3_500_000]]);
  });

  it('percent milestones split the fee exactly: 1000 over 3 x 3333 bp = 334 + 333 + 333 (+1 unallocated bp -> 0)', () => {
    const cc = compiled(contract((c) => {
      c.lines[1]!.fee = usd(1000);
      c.lines[1]!.allocatedValue = usd(1000);
      c.lines[1]!.milestones = [{ milestoneId: 'A', percentBp: 3333 }, { milestoneId: 'B', percentBp: 3333 }, { milestoneId: 'C', percentBp: 3333 }];
    }));
    expect([...cc.lines.get('CL-FF')!.milestoneAmounts.entries()]).toEqual([['A', 334], ['B', 333], ['C', 333]]);
  });
});

describe('subscription', () => {
  it('bills each started period in advance; the short last period is prorated 100000 x 17 / 31 = 54838.7 -> 54839', () => {
    const ds = classifyDeliveries(compiled(), {}, ASOF, {}, 'P1').decisions.filter((d) => d.kind === 'SUBSCRIPTION');
    expect(rows(ds)).toEqual([
      ['SUB:CL-SUB:2025-01-15', 'BILLABLE.SUBSCRIPTION_PERIOD', 100_000],
      ['SUB:CL-SUB:2025-02-15', 'BILLABLE.SUBSCRIPTION_PERIOD', 100_000],
      ['SUB:CL-SUB:2025-03-15', 'BILLABLE.SUBSCRIPTION_PERIOD', 54_839],
    ]);
  });

  it('in arrears: the running period waits for its end', () => {
    const cc = compiled(contract((c) => (c.lines[3]!.subscription!.timing = 'IN_ARREARS')));
    const ds = classifyDeliveries(cc, {}, '2025-02-20', {}, 'P1').decisions.filter((d) => d.kind === 'SUBSCRIPTION');
    expect(rows(ds)).toEqual([
      ['SUB:CL-SUB:2025-01-15', 'BILLABLE.SUBSCRIPTION_PERIOD', 100_000],
      ['SUB:CL-SUB:2025-02-15', 'DEFERRED.PERIOD_NOT_CLOSED', 100_000],
    ]);
  });
});

describe('expense policy', () => {
  it('at cost, markup, per-item cap, excluded category, missing receipt, FX', () => {
    const ds = run(
      {
        expenses: [
          ex('X1'), // TRAVEL at cost 25000
          ex('X2', { category: 'MATERIALS', amount: usd(10_000) }), // 10000 + 10 % = 11000
          ex('X3', { category: 'MEALS', amount: usd(9_000) }), // cap 7500 per item: 7500 billed, 1500 capped
          ex('X4', { category: 'ENTERTAINMENT', amount: usd(5_000) }),
          ex('X5', { amount: usd(8_000), receipt: undefined }), // above 7500 without a receipt
          ex('X6', { amount: { amountMinor: 10_000, currency: 'EUR' } }), // EUR 100.00 x 1.0845 = USD 108.45
          ex('X7', { amount: { amountMinor: 10_000, currency: 'GBP' } }), // no GBP rate
          ex('X8', { contractLineId: 'CL-FF' }), // not on a fixed-fee line
          ex('X9', { approved: false }),
        ],
      },
      { fxRates: [{ base: 'EUR', quote: 'USD', rate: '1.0845', asOf: '2025-03-01', source: 'ECB' }, { base: 'EUR', quote: 'USD', rate: '2', asOf: '2025-03-06', source: 'ECB' }] },
    );
    expect(rows(ds)).toEqual([
      ['X1', 'BILLABLE.EXPENSE_AT_COST', 25_000],
      ['X2', 'BILLABLE.EXPENSE_MARKUP', 11_000],
      ['X3', 'BILLABLE.EXPENSE_CAPPED_PART', 7_500],
      ['X3', 'CAPPED.EXPENSE_POLICY_LIMIT', 1_500],
      ['X4', 'EXCLUDED.EXPENSE_CATEGORY', 5_000],
      ['X5', 'DEFERRED.RECEIPT_MISSING', 8_000],
      ['X6', 'BILLABLE.EXPENSE_AT_COST', 10_845],
      ['X7', 'DEFERRED.FX_RATE_MISSING', 0],
      ['X8', 'EXCLUDED.WRONG_LINE_TYPE', 25_000],
      ['X9', 'EXCLUDED.UNAPPROVED', 25_000],
    ]);
    expect(ds.find((d) => d.sourceId === 'X6')!.detail).toBe('EUR 100.00 at 1.0845 (ECB, 2025-03-01) = USD 108.45');
  });
});
