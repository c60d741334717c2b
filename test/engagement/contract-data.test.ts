import type { Contract } from '../../src/canonical';
import { amendmentFor, deliveryView, type DeliveryOptions } from '../../src/engagement';
import { advisory, batch, dealFor, expense, refusalOf, Shell, snapshotFor, time, usd } from './fixtures';

/*
 * Contract data the engagement core honours (2030, LE-US, RC-STD consultant/US USD 150.00/h).
 * One T&M line (expenses go to it: the deal has no expenses line), its cap set to
 * USD 10,000.00 with no tolerance.
 *   January: 8 entries of 7.5 h = 60 h x 150.00 = 9,000.00 (8 x 112,500 = 900,000), and
 *            TRAVEL at cost 1,500.00 (150,000) on Jan 20; billed on Feb 1.
 */
const OPP = 'OPP-CAPX';
const LINE = `CTR-${OPP}-L1`;
const T1 = `${LINE}-T1`;
const shell = (includesExpenses: boolean | undefined, options?: DeliveryOptions) => {
  const snapshot = snapshotFor(OPP, [advisory('QL-1', 100)], '2030-01-01');
  const cap: NonNullable<Contract['lines'][number]['cap']> = { notToExceed: usd(1_000_000), toleranceBp: 0, ...(includesExpenses !== undefined ? { includesExpenses } : {}) };
  snapshot.contract = { ...snapshot.contract, lines: snapshot.contract.lines.map((l) => ({ ...l, cap })) };
  const e = new Shell(dealFor({ opportunityId: OPP, snapshot, ...(options ? { options } : {}) }), '2030-01-02');
  const days = ['02', '03', '04', '07', '08', '09', '10', '11'];
  e.deliver('2030-01-21', batch('jan', [...days.map((dd, i) => time(`${i + 1}`, T1, `2030-01-${dd}`, 450)), expense('X1', 'TRAVEL', '2030-01-20', 150_000)]));
  e.advance('2030-02-01');
  return e;
};

describe('cap.includesExpenses in the engagement', () => {
  it('true (the default): the expense fills the cap: 1,000.00 of it billed, 500.00 held; the cap is used up (10,000.00)', () => {
    const e = shell(undefined);
    expect(e.s.invoices.map((i) => [i.issueDate, i.subtotalMinor])).toEqual([['2030-02-01', 1_000_000]]); // 900,000 + 100,000
    expect(e.s.billedByLine[LINE]).toBe(1_000_000);
    expect(deliveryView(e.s, e.d, e.today).totals).toEqual({ BILLABLE: 1_000_000, DEFERRED: 0, CAPPED: 50_000, EXCLUDED: 0, delivered: 1_050_000 });
  });

  it('false: the expense is billed in full beside the cap; cap consumption stays 9,000.00, so 1,000.00 of time still fits', () => {
    const e = shell(false);
    expect(e.s.invoices.map((i) => [i.issueDate, i.subtotalMinor])).toEqual([['2030-02-01', 1_050_000]]); // 900,000 + 150,000
    expect(e.s.billedByLine[LINE]).toBe(900_000);
    expect(deliveryView(e.s, e.d, e.today).totals).toEqual({ BILLABLE: 1_050_000, DEFERRED: 0, CAPPED: 0, EXCLUDED: 0, delivered: 1_050_000 });
    // February: 10 h = 1,500.00 of time; 10,000.00 - 9,000.00 = 1,000.00 billed on Mar 1, 500.00 held over the cap
    e.deliver('2030-02-10', batch('feb', [time('9', T1, '2030-02-05', 600)]));
    e.advance('2030-03-01');
    expect(e.s.invoices.map((i) => [i.issueDate, i.subtotalMinor])).toEqual([['2030-02-01', 1_050_000], ['2030-03-01', 100_000]]);
    expect(e.s.billedByLine[LINE]).toBe(1_000_000);
    expect(deliveryView(e.s, e.d, e.today).totals.CAPPED).toBe(50_000);
  });

  it('false: a rejected invoice gives back to the cap only what counted against it (the time, not the expense)', () => {
    const e = shell(false, { approvalAboveMinor: 0 });
    const inv = e.s.invoices[0]!;
    expect([inv.status, inv.subtotalMinor, e.s.billedByLine[LINE]]).toEqual(['AWAITING_APPROVAL', 1_050_000, 900_000]);
    e.decide({ invoiceId: inv.id, decision: 'reject', by: 'controller', reason: 'wrong PO' });
    // 900,000 - 900,000 of time; the expense's 150,000 never counted
    expect(e.s.billedByLine[LINE]).toBe(0);
  });

  it('an amendment keeps the term when it raises the cap, and may not flip it in delivery', () => {
    const e = shell(false);
    const req = { requestId: 'a1', by: 'ops', reason: 'more scope', baseVersion: 1, effectiveDate: '2030-02-02' };
    const next = amendmentFor(e.s, e.d, { ...req, changes: [{ op: 'UPDATE_LINE', lineId: LINE, set: { cap: { notToExceed: usd(2_000_000), toleranceBp: 0 } } }] });
    expect(next.lines[0]!.cap).toEqual({ notToExceed: usd(2_000_000), toleranceBp: 0, includesExpenses: false });
    expect(refusalOf(() => amendmentFor(e.s, e.d, { ...req, changes: [{ op: 'UPDATE_LINE', lineId: LINE, set: { cap: { notToExceed: usd(2_000_000), toleranceBp: 0, includesExpenses: true } } }] }))).toBe('DEAL.AMENDMENT_INVALID');
  });
});

describe('service periods on the invoices the deal issues', () => {
  /*
   * Cap 10,000.00 (expenses count; none here). January: 60 h (9,000.00) on Jan 2..11 and 10 h (1,500.00)
   * on Jan 14: 1,000.00 of it billed, 500.00 held over the cap. Feb 1 invoices January.
   * Feb 10 the cap is raised to 20,000.00: the held 500.00 is billable from Feb 10 and joins
   * February's invoice (Mar 1) with 1 h (150.00) worked Feb 5, on the same invoice line.
   */
  it("released over-cap time carries the day it was worked, not the day it was released", () => {
    const snapshot = snapshotFor('OPP-REL', [advisory('QL-1', 100)], '2030-01-01');
    const line = `CTR-OPP-REL-L1`;
    snapshot.contract = { ...snapshot.contract, lines: snapshot.contract.lines.map((l) => ({ ...l, cap: { notToExceed: usd(1_000_000), toleranceBp: 0 } })) };
    const r = new Shell(dealFor({ opportunityId: 'OPP-REL', snapshot }), '2030-01-02');
    const task = `${line}-T1`;
    const days = ['02', '03', '04', '07', '08', '09', '10', '11'];
    r.deliver('2030-01-20', batch('jan', [...days.map((dd, i) => time(`${i + 1}`, task, `2030-01-${dd}`, 450)), time('9', task, '2030-01-14', 600)]));
    r.advance('2030-02-01');
    const jan = r.issued[0]!.request.invoice;
    expect(jan.lines.map((l) => [l.amount.amountMinor, l.servicePeriod])).toEqual([[1_000_000, { start: '2030-01-02', end: '2030-01-14' }]]);
    r.advance('2030-02-10');
    r.amend({ requestId: 'raise', by: 'ops', reason: 'more hours', baseVersion: 1, effectiveDate: '2030-02-10', changes: [{ op: 'UPDATE_LINE', lineId: line, set: { cap: { notToExceed: usd(2_000_000), toleranceBp: 0 } } }] });
    r.deliver('2030-02-12', batch('feb', [time('10', task, '2030-02-05', 60)]));
    r.advance('2030-03-01');
    const feb = r.issued[1]!.request.invoice;
    // 50,000 released (worked Jan 14) + 15,000 (Feb 5) on February's invoice
    expect([feb.period, feb.lines.map((l) => [l.amount.amountMinor, l.sourceItemIds, l.servicePeriod])]).toEqual([
      { start: '2030-02-01', end: '2030-02-28' },
      [[65_000, ['TE-10', 'TE-9'], { start: '2030-01-14', end: '2030-02-05' }]],
    ]);
  });
});
