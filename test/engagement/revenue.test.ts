import { deliveryView, revenueWaterfall, wantedStage, type AmendContractRequest, type RevenueWaterfallMonth } from '../../src/engagement';
import { asRetainer, advisory, batch, dealFor, pay, Shell, snapshotFor, time, usd } from './fixtures';

/*
 * Revenue a line's allocated value has no room for is held, not dropped. 2030, LE-US (America/New_York):
 *   L1 ADVISORY_TM T&M at $150.00/h, not-to-exceed and allocated value $15,000.00 (100 h), monthly in arrears,
 *   revenue as invoiced (recognised on the issue date, posted when its month closes).
 * Jan: 100 h = $15,000.00, invoiced Feb 1 -> recognised in February.
 * Feb 10: the cap goes to $19,000.00 but the allocated value stays $15,000.00.
 * Feb: 20 h = $3,000.00, invoiced Mar 1 -> at the March close (Apr 1) the line has no room: $3,000.00 held, an
 * attention item, the deal NEEDS_ATTENTION. Apr 10: the allocated value goes to $19,000.00 -> at the April close
 * (May 1) the $3,000.00 is recognised (Apr 30) and the item resolves.
 */
describe('revenue above a line\'s allocation', () => {
  const OPP = 'OPP-REVH';
  const L1 = `CTR-${OPP}-L1`;
  const T1 = `${L1}-T1`;
  const snapshot = snapshotFor(OPP, [advisory('QL-1', 100)], '2030-01-01');
  const amend = (requestId: string, baseVersion: number, effectiveDate: string, set: Record<string, unknown>): AmendContractRequest => ({
    requestId, by: 'ops@firm.example', baseVersion, effectiveDate, reason: requestId, changes: [{ op: 'UPDATE_LINE', lineId: L1, set } as AmendContractRequest['changes'][number]],
  });

  it('is held with an attention item and recognised once an amendment makes room', () => {
    const e = new Shell(dealFor({ opportunityId: OPP, snapshot, options: { overdueGraceDays: 60 } }), '2030-01-02');
    e.deliver('2030-01-29', batch('jan', [time('1', T1, '2030-01-10', 6_000)])); // 100 h = $15,000.00
    e.advance('2030-02-02');
    e.payments('2030-02-02', pay('p-1', { invoiceNumber: e.s.invoices[0]!.number }, e.s.invoices[0]!.totalMinor));
    e.advance('2030-02-10');
    e.amend(amend('cap-up', 1, '2030-02-10', { cap: { notToExceed: usd(1_900_000), toleranceBp: 0 } }));
    e.deliver('2030-02-20', batch('feb', [time('2', T1, '2030-02-15', 1_200)])); // 20 h = $3,000.00, billed Mar 1
    e.advance('2030-03-02');
    e.payments('2030-03-02', pay('p-2', { invoiceNumber: e.s.invoices[1]!.number }, e.s.invoices[1]!.totalMinor));
    expect(e.s.invoices.map((i) => i.subtotalMinor)).toEqual([1_500_000, 300_000]);

    // Apr 1 posts March: room 1,500,000 - 1,500,000 = 0 -> the 300,000 is held.
    e.advance('2030-04-02');
    let view = deliveryView(e.s, e.d, e.today);
    expect(view.recognisedByMonth).toEqual({ '2030-02': 1_500_000 });
    expect(view.revenueHeldByLine).toEqual({ [L1]: 300_000 });
    expect(e.s.attention.map((a) => [a.id, a.kind, a.contractLineId])).toEqual([[`REVENUE_HELD:${L1}`, 'REVENUE_HELD', L1]]);
    expect(wantedStage(e.s)).toBe('NEEDS_ATTENTION');
    expect(e.notices.filter((n) => n.kind === 'attentionRaised').map((n) => n.kind === 'attentionRaised' && n.item.kind)).toEqual(['REVENUE_HELD']);

    // Apr 10: allocated value 1,900,000 -> May 1 posts April with the release: 300,000 on Apr 30.
    e.advance('2030-04-10');
    e.amend(amend('alloc-up', 2, '2030-04-10', { allocatedValue: usd(1_900_000) }));
    e.advance('2030-05-02');
    view = deliveryView(e.s, e.d, e.today);
    expect(view.recognisedByMonth).toEqual({ '2030-02': 1_500_000, '2030-04': 300_000 });
    expect(view.recognisedByLine).toEqual({ [L1]: 1_800_000 }); // 1,500,000 + 300,000 = everything invoiced
    expect(view.revenueHeldByLine).toBeUndefined();
    expect(e.s.attention).toEqual([]);
    expect(wantedStage(e.s)).toBe('IN_DELIVERY');
    const journals = e.commandsOf('postRevenue').map((c) => c.lines.map((l) => [l.recognitionDate, l.amount.amountMinor, l.sourceIds]));
    expect(journals).toEqual([
      [['2030-02-01', 1_500_000, [e.s.invoices[0]!.lines[0]!.id]]],
      [['2030-04-30', 300_000, [`HELD:${L1}`]]],
    ]);
  });
});

describe('the revenue waterfall', () => {
  const OPP = 'OPP-WF';
  const L1 = `CTR-${OPP}-L1`;
  const T1 = `${L1}-T1`;

  /*
   * T&M as invoiced, $150.00/h, allocated $15,000.00, 2030 (contract Jan 1 - Dec 31).
   * Jan: 40 h ($6,000.00) + 10 h ($1,500.00), invoiced Feb 1: $7,500.00. Feb: 20 h = $3,000.00, invoiced Mar 1.
   * Mar 5: the 10 h are credited ($1,500.00). As of Mar 10 (February posted on Mar 1):
   *   Jan POSTED: nothing billed or recognised; deferred 1,500,000.
   *   Feb POSTED: billed 750,000, recognised 750,000 (the Feb 1 invoice); deferred 1,500,000 - 750,000 = 750,000.
   *   Mar OPEN:   billed 300,000, credited 150,000; scheduled 300,000 (Mar 1 invoice) - 150,000 (the reversal) = 150,000;
   *               net billed 750,000 + 300,000 - 150,000 = 900,000 = recognised 750,000 + 150,000: no balance either way;
   *               deferred 1,500,000 - 900,000 = 600,000, and so through November; in December, the contract's last
   *               month, nothing is left to earn (an unused cap never will be): 0.
   */
  it('shows billed, credited, recognised and scheduled per month with the month-end balances', () => {
    const snapshot = snapshotFor(OPP, [advisory('QL-1', 100)], '2030-01-01');
    const e = new Shell(dealFor({ opportunityId: OPP, snapshot, options: { overdueGraceDays: 60 } }), '2030-01-02');
    e.deliver('2030-01-29', batch('jan', [time('1', T1, '2030-01-10', 2_400), time('2', T1, '2030-01-20', 600)]));
    e.advance('2030-02-02');
    e.deliver('2030-02-20', batch('feb', [time('3', T1, '2030-02-15', 1_200)]));
    e.advance('2030-03-05');
    const feb1 = e.s.invoices[0]!;
    const memo = e.credit({ requestId: 'c-1', invoiceId: feb1.number, by: 'ar@firm.example', reason: 'DISPUTE', note: '10 h of Jan 20', lines: [{ invoiceLineId: feb1.lines[0]!.id, sourceItemIds: ['TE-2'] }] });
    expect(memo.subtotalMinor).toBe(150_000);
    e.advance('2030-03-10');
    const w = revenueWaterfall(e.s, e.d, e.today);
    expect([w.contractValueMinor, w.revenuePostedThrough, w.heldMinor, w.months.length]).toEqual([1_500_000, '2030-02-28', 0, 12]);
    const row = (m: RevenueWaterfallMonth) => [m.month, m.status, m.billedMinor, m.creditedMinor, m.recognisedMinor, m.scheduledMinor, m.billedNotRecognisedMinor, m.unbilledMinor, m.deferredMinor];
    expect(w.months.slice(0, 4).map(row)).toEqual([
      ['2030-01', 'POSTED', 0, 0, 0, 0, 0, 0, 1_500_000],
      ['2030-02', 'POSTED', 750_000, 0, 750_000, 0, 0, 0, 750_000],
      ['2030-03', 'OPEN', 300_000, 150_000, 0, 150_000, 0, 0, 600_000],
      ['2030-04', 'SCHEDULED', 0, 0, 0, 0, 0, 0, 600_000],
    ]);
    expect(row(w.months[10]!)).toEqual(['2030-11', 'SCHEDULED', 0, 0, 0, 0, 0, 0, 600_000]);
    expect(row(w.months[11]!)).toEqual(['2030-12', 'SCHEDULED', 0, 0, 0, 0, 0, 0, 0]);
    expect(w.totals).toEqual({ billedMinor: 1_050_000, creditedMinor: 150_000, recognisedMinor: 750_000, scheduledMinor: 150_000 });
  });

  /*
   * A retainer (the advisory line as RETAINER, $3,000.00 prepaid to Dec 31, revenue as drawn, allocated $15,000.00):
   * the prepayment is billed Jan 2; 10 h ($1,500.00) drawn in January. As of Feb 2 (January posted):
   *   Jan POSTED: billed 300,000, recognised 150,000 -> billed, not recognised 150,000; deferred 1,500,000 - 150,000.
   *   Dec SCHEDULED: the breakage, 300,000 - 150,000 drawn = 150,000 -> cumulative 300,000 = billed; deferred 0 (the
   *   contract's last month: the rest of the $15,000.00 allocation will never be earned).
   * Credit the prepayment on Feb 5: no revenue comes back (the prepayment is not revenue) and the breakage becomes
   * 300,000 - 300,000 credited - 150,000 drawn < 0 = none: the work drawn is now recognised and unbilled, 150,000.
   */
  it('shows a retainer\'s prepayment as billed, not recognised, and its breakage at expiry; a credited prepayment lowers the breakage', () => {
    const base = snapshotFor(`${OPP}-R`, [advisory('QL-1')], '2030-01-01');
    const R1 = `CTR-${OPP}-R-L1`;
    const snapshot = asRetainer(base, { prepaidMinor: 300_000 });
    const e = new Shell(dealFor({ opportunityId: `${OPP}-R`, snapshot }), '2030-01-02');
    e.deliver('2030-01-25', batch('jan', [time('1', `${R1}-T1`, '2030-01-10', 600)]));
    e.advance('2030-02-02');
    const row = (m: RevenueWaterfallMonth) => [m.month, m.status, m.billedMinor, m.creditedMinor, m.recognisedMinor, m.scheduledMinor, m.billedNotRecognisedMinor, m.unbilledMinor, m.deferredMinor];
    let w = revenueWaterfall(e.s, e.d, e.today);
    expect(row(w.months[0]!)).toEqual(['2030-01', 'POSTED', 300_000, 0, 150_000, 0, 150_000, 0, 1_350_000]);
    expect(row(w.months[1]!)).toEqual(['2030-02', 'OPEN', 0, 0, 0, 0, 150_000, 0, 1_350_000]);
    expect(row(w.months[11]!)).toEqual(['2030-12', 'SCHEDULED', 0, 0, 0, 150_000, 0, 0, 0]);

    e.advance('2030-02-05');
    const prepayment = e.s.invoices[0]!;
    e.credit({ requestId: 'c-r', invoiceId: prepayment.number, by: 'ar@firm.example', reason: 'CANCELLATION', note: 'prepayment refunded', lines: [{ invoiceLineId: prepayment.lines[0]!.id }] });
    expect(e.s.revenue.pending.filter((l) => l.kind === 'REVERSAL')).toEqual([]);
    expect(e.s.revenue.prepaidCreditedByLine).toEqual({ [R1]: 300_000 });
    w = revenueWaterfall(e.s, e.d, e.today);
    expect(row(w.months[1]!)).toEqual(['2030-02', 'OPEN', 0, 300_000, 0, 0, 0, 150_000, 1_350_000]);
    expect(row(w.months[11]!)).toEqual(['2030-12', 'SCHEDULED', 0, 0, 0, 0, 0, 150_000, 0]);
    // At close: revenue is the 150,000 drawn, no breakage.
    expect(e.runToClose('2031-01-02').recognisedMinor).toBe(150_000);
  });
});
