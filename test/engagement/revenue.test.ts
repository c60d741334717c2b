import { deliveryView, wantedStage, type AmendContractRequest } from '../../src/engagement';
import { advisory, batch, dealFor, pay, Shell, snapshotFor, time, usd } from './fixtures';

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
