import { classTotals, classifyDeliveries } from '../../src/rules';
import { compiled, contract, ex, te, usd } from './fixtures';

/*
 * Contract term `cap.includesExpenses` on a capped T&M line (RC-STD consultant/US USD 150.00/h).
 * CL-TM capped at USD 10,000.00 with no tolerance; run on 2025-04-01 (March closed).
 *   time:    8 entries of 7.5 h on 2025-03-03..10 = 60 h x 150.00 = 9,000.00 (8 x 112,500 = 900,000)
 *   expense: TRAVEL at cost USD 1,500.00 (150,000) on 2025-03-20, on CL-TM, receipt attached
 * The cap is filled in (date, kind, id) order: the time first, then the expense.
 */
const capped = (includesExpenses?: boolean) =>
  compiled(
    contract((c) => {
      const tm = c.lines.find((l) => l.id === 'CL-TM')!;
      tm.cap = { notToExceed: usd(1_000_000), toleranceBp: 0, ...(includesExpenses !== undefined ? { includesExpenses } : {}) };
    }),
  );
const time = [3, 4, 5, 6, 7, 8, 9, 10].map((day, i) => te(`TE-${i + 1}`, { workDate: `2025-03-${String(day).padStart(2, '0')}` }));
const travel = ex('EX-1', { contractLineId: 'CL-TM', amount: usd(150_000), incurredOn: '2025-03-20' });
const parts = (includesExpenses: boolean | undefined, billedByLine: Record<string, number> = {}) =>
  classifyDeliveries(capped(includesExpenses), { timeEntries: time, expenses: [travel] }, '2025-04-01', { billedByLine, scheduledCharges: false }).decisions;
const expenseParts = (ds: ReturnType<typeof parts>) => ds.filter((d) => d.sourceId === 'EX-1').map((d) => [d.reasonCode, d.amountMinor]);

describe('cap.includesExpenses', () => {
  it('absent (as before the term) and true: the expense consumes the cap: 10,000.00 - 9,000.00 = 1,000.00 billed, 500.00 CAPPED', () => {
    for (const term of [undefined, true]) {
      const ds = parts(term);
      expect(expenseParts(ds)).toEqual([
        ['BILLABLE.PARTIAL_UNDER_CAP', 100_000],
        ['CAPPED.OVER_CAP', 50_000],
      ]);
      // billed 900,000 + 100,000 = the cap; delivered 900,000 + 150,000
      expect(classTotals(ds)).toMatchObject({ BILLABLE: 1_000_000, CAPPED: 50_000, delivered: 1_050_000 });
    }
  });

  it('false: the expense is billed in full outside the cap (1,500.00) and the time alone uses it (9,000.00)', () => {
    const ds = parts(false);
    expect(expenseParts(ds)).toEqual([['BILLABLE.EXPENSE_AT_COST', 150_000]]);
    expect(classTotals(ds)).toMatchObject({ BILLABLE: 1_050_000, CAPPED: 0, delivered: 1_050_000 });
  });

  it('false: earlier runs passed in billedByLine count time only, so the cap still has 1,000.00 for time', () => {
    // 9,000.00 of time already billed; now 10 h (1,500.00) more on 2025-03-24 and the expense:
    // time: 1,000.00 billed + 500.00 CAPPED; the expense outside the cap: 1,500.00 billed
    const more = te('TE-9', { workDate: '2025-03-24', minutes: 600 });
    const ds = classifyDeliveries(capped(false), { timeEntries: [more], expenses: [travel] }, '2025-04-01', { billedByLine: { 'CL-TM': 900_000 }, scheduledCharges: false }).decisions;
    expect(ds.map((d) => [d.sourceId, d.reasonCode, d.amountMinor])).toEqual([
      ['TE-9', 'BILLABLE.PARTIAL_UNDER_CAP', 100_000],
      ['EX-1', 'BILLABLE.EXPENSE_AT_COST', 150_000],
      ['TE-9', 'CAPPED.OVER_CAP', 50_000],
    ]);
  });
});
