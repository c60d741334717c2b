import { classifyDeliveries, groupInvoices } from '../../src/rules';
import { compiled, ex, mc, te } from './fixtures';

/*
 * Invoice lines carry servicePeriod = first..last service date of the items they bill.
 * Contract C-1 (test/rules/fixtures.ts), run on 2025-04-01 (March closed).
 */
const ASOF = '2025-04-01';
const periods = (asOf: string, batch: Parameters<typeof classifyDeliveries>[1], scheduledCharges = false) => {
  const cc = compiled();
  const ds = classifyDeliveries(cc, batch, asOf, { scheduledCharges }, 'P1').decisions;
  return groupInvoices(cc, ds, { asOf }).flatMap((inv) => inv.lines.map((l) => [inv.invoiceKey.split('|').slice(5).join('|'), l.contractLineId, l.sourceItemIds, l.servicePeriod]));
};

describe('invoice line service periods', () => {
  it('time and expenses: min and max of the work and expense dates on each line; a milestone: its acceptance day', () => {
    expect(
      periods(ASOF, {
        // one invoice line at 150.00/h: worked Mar 3, Mar 17, Mar 31 -> 2025-03-03..2025-03-31
        timeEntries: [te('T1', { workDate: '2025-03-17' }), te('T2', { workDate: '2025-03-03' }), te('T3', { workDate: '2025-03-31' })],
        // TRAVEL on Mar 5 and Mar 12 -> 2025-03-05..2025-03-12
        expenses: [ex('X1', { incurredOn: '2025-03-12' }), ex('X2', { incurredOn: '2025-03-05' })],
        milestones: [mc('MC1', 'M1', '2025-03-10')],
      }),
    ).toEqual([
      ['MONTHLY|MONTHLY:2025-03', 'CL-EXP', ['X1', 'X2'], { start: '2025-03-05', end: '2025-03-12' }],
      ['MONTHLY|MONTHLY:2025-03', 'CL-TM', ['T1', 'T2', 'T3'], { start: '2025-03-03', end: '2025-03-31' }],
      ['ON_MILESTONE|ON_MILESTONE:M1', 'CL-FF', ['MC1'], { start: '2025-03-10', end: '2025-03-10' }],
    ]);
  });

  it('a subscription period its whole period, a retainer prepayment its term', () => {
    // CL-SUB from 2025-01-15, monthly in advance: on 2025-02-01 the period 2025-01-15..2025-02-14 is billed
    // (it is due on its start day, Jan 15, so it is on January's invoice); CL-RET: 2025-01-01..2025-06-30
    expect(periods('2025-02-01', {}, true)).toEqual([
      ['MONTHLY|MONTHLY:2025-01', 'CL-RET', ['RETAINER:CL-RET'], { start: '2025-01-01', end: '2025-06-30' }],
      ['MONTHLY|MONTHLY:2025-01', 'CL-SUB', ['SUB:CL-SUB:2025-01-15'], { start: '2025-01-15', end: '2025-02-14' }],
    ]);
  });

  it('items held over the cap do not widen the billed line', () => {
    // CL-TM cap limit 1,050,000 (10,000.00 + 5 %): seven 10 h days at 150,000 from Mar 3 reach it exactly;
    // the eighth (Mar 12) is CAPPED.OVER_CAP and not invoiced, so the line's period ends Mar 11
    const days = ['03', '04', '05', '06', '07', '10', '11', '12'];
    const long = days.map((dd, i) => te(`T${i + 1}`, { workDate: `2025-03-${dd}`, minutes: 600 }));
    expect(periods(ASOF, { timeEntries: long })).toEqual([['MONTHLY|MONTHLY:2025-03', 'CL-TM', ['T1', 'T2', 'T3', 'T4', 'T5', 'T6', 'T7'], { start: '2025-03-03', end: '2025-03-11' }]]);
  });
});
