import type { DeliveryItem } from '../../src/contract';
import { advisory, batch, dealFor, pay, refusalOf, Shell, snapshotFor, time, usd } from './fixtures';

/*
 * Credit and rebill on the core. 2030, LE-US (America/New_York), customer in New York, tax SERVICES 8.875 % per
 * line, half up. L1 ADVISORY_TM T&M at RC-STD ($150.00/h), not-to-exceed $15,000.00 (100 h), monthly in arrears,
 * revenue as invoiced.
 */
const OPP = 'OPP-REBILL';
const L1 = `CTR-${OPP}-L1`;
const T1 = `${L1}-T1`;

/** A time entry as the PSA holds it now (what the relay would deliver). */
const inPsa = (sourceId: string, workDate: string, minutes: number): DeliveryItem => ({
  kind: 'timeEntry', sourceId, projectId: `WS-${OPP}`, taskId: T1, resourceId: 'r-us', role: 'consultant', workDate, minutes, billable: true, approvedAt: `${workDate}T20:00:00Z`,
});

describe('credit and rebill', () => {
  it('bills the PSA\'s corrected hours again, with the cap recomputed from the net billed amount', () => {
    const snapshot = snapshotFor(OPP, [advisory('QL-1', 100)], '2030-01-01');
    const e = new Shell(dealFor({ opportunityId: OPP, snapshot, options: { overdueGraceDays: 60 } }), '2030-01-02');
    // January: 60 h + 40 h = $15,000.00, the whole cap; Feb 1: 1,500,000 + 133,125 tax.
    e.deliver('2030-01-29', batch('jan', [time('1', T1, '2030-01-10', 3_600), time('2', T1, '2030-01-20', 2_400)]));
    e.advance('2030-02-02');
    const feb1 = e.s.invoices[0]!;
    expect([feb1.subtotalMinor, feb1.taxMinor]).toEqual([1_500_000, 133_125]);
    expect(e.s.billedByLine[L1]).toBe(1_500_000);

    // The customer disputes TE-1; the project manager corrects it to 50 h in the PSA.
    e.psa = [inPsa('1', '2030-01-10', 3_000), inPsa('2', '2030-01-20', 2_400)];
    e.advance('2030-02-05');
    const req = { requestId: 'rebill-1', invoiceId: feb1.number, by: 'ar@firm.example', reason: 'ERROR' as const, note: 'TE-1 was 50 h, not 60', lines: [{ invoiceLineId: feb1.lines[0]!.id, sourceItemIds: ['TE-1'] }], rebill: true };
    const memo = e.credit(req);
    // Credited 900,000 + 79,875 tax; TE-1 taken again as TE-1~R1 (50 h, its PSA id kept); the cap gives back 900,000:
    // 1,500,000 - 900,000 = 600,000, and TE-1~R1 takes 750,000 of it again.
    expect([memo.subtotalMinor, memo.taxMinor, memo.totalMinor]).toEqual([900_000, 79_875, 979_875]);
    expect(memo.rebill).toEqual({ items: ['TE-1'], missing: [], amountMinor: 900_000 });
    const rebilled = e.issued.at(-1)!.request;
    expect(rebilled.invoice.lines.map((l) => [l.sourceItemIds, l.quantity, l.amount.amountMinor])).toEqual([[['TE-1~R1'], { value: 3_000, unit: 'MINUTE' }, 750_000]]);
    expect(e.s.billedByLine[L1]).toBe(1_350_000);
    expect(e.credit(req)).toEqual(memo); // the same request: nothing credited or rebilled twice
    expect(e.s.invoices).toHaveLength(2);

    // The correction goes out at once: TE-1~R1 (Jan 10, 50 h = 750,000) on a January invoice of Feb 5,
    // 600,000 + 750,000 = 1,350,000 of the cap. Without the recompute the cap would still count TE-1's 900,000
    // and hold all of TE-1~R1. Feb 10: 20 h = 300,000 more, billed Mar 1 with 150,000 of room left:
    // 150,000 (10 h) billed, 150,000 (10 h) capped.
    e.deliver('2030-02-20', batch('feb', [time('3', T1, '2030-02-10', 1_200)]));
    e.advance('2030-03-02');
    const later = e.s.invoices.slice(1).map((i) => [i.issueDate, i.period.start, i.subtotalMinor, i.taxMinor]);
    // 750,000 x 8.875 % = 66,562.5 -> 66,563; 150,000 x 8.875 % = 13,312.5 -> 13,313.
    expect(later).toEqual([['2030-02-05', '2030-01-01', 750_000, 66_563], ['2030-03-01', '2030-02-01', 150_000, 13_313]]);
    expect(e.s.billedByLine[L1]).toBe(1_500_000);
    expect(e.s.held.map((h) => [h.sourceId, h.reasonCode, h.amountMinor])).toEqual([['TE-3', 'CAPPED.OVER_CAP', 150_000]]);

    for (const inv of e.s.invoices) e.payments('2030-03-05', pay(`p-${inv.number}`, { invoiceNumber: inv.number }, inv.totalMinor - (inv.creditedMinor ?? 0)));
    const summary = e.runToClose('2031-01-02');
    // Delivered as the PSA holds it: 50 h + 40 h + 20 h = 110 h = 1,650,000 = billed 1,500,000 + capped 150,000.
    expect(summary.totals).toEqual({ BILLABLE: 1_500_000, DEFERRED: 0, CAPPED: 150_000, EXCLUDED: 0, delivered: 1_650_000 });
    // The rebilled credit is not leakage: leakage is the capped 150,000 only.
    expect(summary.credited).toEqual({ memos: 1, subtotalMinor: 900_000, taxMinor: 79_875, totalMinor: 979_875, rebilledMinor: 900_000 });
    expect(summary.leakage).toEqual({ cappedMinor: 150_000, excludedMinor: 0, rejectedMinor: 0, writtenOffMinor: 0, creditedMinor: 0, totalMinor: 150_000 });
    // Revenue: 1,500,000 - 900,000 (reversed Feb 5) + 750,000 + 150,000 = 1,500,000.
    expect(summary.recognisedMinor).toBe(1_500_000);
  });

  it('refuses to rebill a milestone, keeps an item the PSA no longer holds credited', () => {
    const snapshot = snapshotFor(`${OPP}-2`, [advisory('QL-1', 100)], '2030-01-01');
    const L = `CTR-${OPP}-2-L1`;
    const e = new Shell(dealFor({ opportunityId: `${OPP}-2`, snapshot, options: { overdueGraceDays: 60 } }), '2030-01-02');
    e.deliver('2030-01-29', batch('jan', [time('1', `${L}-T1`, '2030-01-10', 600)])); // 10 h = 150,000
    e.advance('2030-02-05');
    const inv = e.s.invoices[0]!;
    const req = { requestId: 'r-1', invoiceId: inv.number, by: 'ar@firm.example', reason: 'ERROR' as const, note: 'x', lines: [{ invoiceLineId: inv.lines[0]!.id }], rebill: true };
    expect(refusalOf(() => e.credit({ ...req, rebill: 'yes' as unknown as boolean }))).toBe('DEAL.ACTION_INVALID');
    e.psa = []; // the entry was deleted in the PSA
    const memo = e.credit(req);
    expect(memo.rebill).toEqual({ items: [], missing: ['TE-1'], amountMinor: 0 });
    expect(e.s.billedByLine[L]).toBe(150_000); // a plain credit keeps the cap's consumption
    expect(e.s.pending.time).toEqual([]);
    void usd;
  });
});

describe('a retroactive rate cut', () => {
  /*
   * The same T&M line ($150.00/h, not-to-exceed $15,000.00). January: TE-1 40 h (Jan 10), TE-2 40 h (Jan 20),
   * TE-3 20 h (Jan 25) = 600,000 + 600,000 + 300,000 = 1,500,000, the whole cap, invoiced Feb 1.
   * Feb 10: a change order gives 10 % off (discountBp 1,000) from Jan 15: $135.00/h for TE-2 and TE-3.
   *   Credit: TE-2 + TE-3 as invoiced, 900,000 + 79,875 tax. Rebill at once: 40 h + 20 h at 135.00 = 540,000 + 270,000
   *   = 810,000 + 71,888 tax (810,000 x 8.875 % = 71,887.5). The cap counts 1,500,000 - 900,000 + 810,000 = 1,410,000.
   * Feb 5 (reported Feb 20): TE-4 10 h at 135.00 = 135,000; 90,000 of room: 90,000 billed Mar 1 (+ 7,988 tax,
   *   7,987.5 rounded half up), 45,000 capped. Before the cut the cap was full and all of TE-4 would have been capped.
   */
  it('credits the invoiced work since its date, rebills it at the new rate, and recomputes the cap from the net billed amount', () => {
    const opp = `${OPP}-RR`;
    const L = `CTR-${opp}-L1`;
    const T = `${L}-T1`;
    const snapshot = snapshotFor(opp, [advisory('QL-1', 100)], '2030-01-01');
    const e = new Shell(dealFor({ opportunityId: opp, snapshot, options: { overdueGraceDays: 60 } }), '2030-01-02');
    e.deliver('2030-01-29', batch('jan', [time('1', T, '2030-01-10', 2_400), time('2', T, '2030-01-20', 2_400), time('3', T, '2030-01-25', 1_200)]));
    e.advance('2030-02-02');
    const feb1 = e.s.invoices[0]!;
    expect([feb1.subtotalMinor, e.s.billedByLine[L]]).toEqual([1_500_000, 1_500_000]);
    e.psa = [1, 2, 3].map((n) => ({ ...inPsa(String(n), ['2030-01-10', '2030-01-20', '2030-01-25'][n - 1]!, [2_400, 2_400, 1_200][n - 1]!), taskId: T }));

    e.advance('2030-02-10');
    const r = e.amend({ requestId: 'co-rate', by: 'ops@firm.example', baseVersion: 1, effectiveDate: '2030-01-15', reason: '10 % off from Jan 15', changes: [{ op: 'UPDATE_LINE', lineId: L, set: { discountBp: 1_000 } }] });
    expect(r.amendment.rerated).toEqual([{ invoiceNumber: feb1.number, creditMemoNumber: 'CM-1', items: ['TE-2', 'TE-3'], creditedMinor: 900_000 }]);
    const memo = e.s.creditMemos![0]!;
    expect([memo.reason, memo.subtotalMinor, memo.taxMinor, memo.lines.map((l) => l.sourceItemIds)]).toEqual(['ERROR', 900_000, 79_875, [['TE-2', 'TE-3']]]);
    const rebilled = e.s.invoices[1]!;
    expect([rebilled.issueDate, rebilled.period.start, rebilled.subtotalMinor, rebilled.taxMinor]).toEqual(['2030-02-10', '2030-01-01', 810_000, 71_888]);
    expect(e.issued.at(-1)!.request.invoice.lines.flatMap((l) => l.sourceItemIds)).toEqual(['TE-2~R1', 'TE-3~R1']);
    expect(e.s.billedByLine[L]).toBe(1_410_000);

    e.deliver('2030-02-20', batch('feb', [time('4', T, '2030-02-05', 600)]));
    e.advance('2030-03-02');
    const mar1 = e.issuedOn('2030-03-01');
    expect([mar1.subtotalMinor, mar1.taxMinor]).toEqual([90_000, 7_988]);
    expect(e.s.held.map((h) => [h.sourceId, h.amountMinor])).toEqual([['TE-4', 45_000]]);
    expect(e.s.billedByLine[L]).toBe(1_500_000);

    for (const inv of e.s.invoices) e.payments('2030-03-05', pay(`p-${inv.number}`, { invoiceNumber: inv.number }, inv.totalMinor - (inv.creditedMinor ?? 0)));
    const summary = e.runToClose('2031-01-02');
    // Delivered at the rates in force: 40 h x 150.00 + 70 h x 135.00 = 600,000 + 945,000 = 1,545,000 = billed 1,500,000 + capped 45,000.
    expect(summary.totals).toEqual({ BILLABLE: 1_500_000, DEFERRED: 0, CAPPED: 45_000, EXCLUDED: 0, delivered: 1_545_000 });
    // Revenue as invoiced: 1,500,000 - 900,000 + 810,000 + 90,000 = 1,500,000.
    expect(summary.recognisedMinor).toBe(1_500_000);
  });
});

describe('a disputed-hours credit and the cap', () => {
  /*
   * T&M at $150.00/h, not-to-exceed $15,000.00. January: TE-1 60 h (900,000), TE-2 50 h (750,000): 600,000 of TE-2
   * billed, 150,000 (10 h) held over the cap; Feb 1: 1,500,000. Feb 5: TE-1 is disputed and credited.
   * A plain credit keeps TE-1's 900,000 counted against the cap: the 10 h stay held. Asked to release
   * (releaseCapped), the cap counts 1,500,000 - 900,000 = 600,000 and the 150,000 held is billed on the line's next
   * regular invoice, February's of Mar 1 (+ 13,313 tax, 13,312.5 rounded half up).
   */
  function disputed(opp: string, releaseCapped?: boolean) {
    const L = `CTR-${opp}-L1`;
    const snapshot = snapshotFor(opp, [advisory('QL-1', 100)], '2030-01-01');
    const e = new Shell(dealFor({ opportunityId: opp, snapshot, options: { overdueGraceDays: 60 } }), '2030-01-02');
    e.deliver('2030-01-29', batch('jan', [time('1', `${L}-T1`, '2030-01-10', 3_600), time('2', `${L}-T1`, '2030-01-20', 3_000)]));
    e.advance('2030-02-05');
    const inv = e.s.invoices[0]!;
    expect(e.s.held.map((h) => [h.sourceId, h.amountMinor])).toEqual([['TE-2', 150_000]]);
    e.credit({ requestId: 'd-1', invoiceId: inv.number, by: 'ar@firm.example', reason: 'DISPUTE', note: 'TE-1 not worked', lines: [{ invoiceLineId: inv.lines[0]!.id, sourceItemIds: ['TE-1'] }], ...(releaseCapped !== undefined ? { releaseCapped } : {}) });
    e.advance('2030-03-02');
    return { e, L };
  }

  it('releases no capped time unless the operator asks', () => {
    const { e, L } = disputed(`${OPP}-D1`);
    expect(e.s.invoices).toHaveLength(1);
    expect(e.s.held.map((h) => [h.sourceId, h.amountMinor])).toEqual([['TE-2', 150_000]]);
    expect(e.s.billedByLine[L]).toBe(1_500_000);
  });

  it('with releaseCapped, bills the held time into the room the credit made', () => {
    const { e, L } = disputed(`${OPP}-D2`, true);
    const mar1 = e.issuedOn('2030-03-01');
    expect([mar1.period.start, mar1.subtotalMinor, mar1.taxMinor]).toEqual(['2030-02-01', 150_000, 13_313]);
    expect(e.s.held).toEqual([]);
    expect(e.s.billedByLine[L]).toBe(750_000); // 600,000 + 150,000
    expect(refusalOf(() => e.credit({ requestId: 'd-2', invoiceId: mar1.number, by: 'x', reason: 'ERROR', note: 'x', lines: [{ invoiceLineId: mar1.lines[0]!.id }], rebill: true, releaseCapped: true }))).toBe('DEAL.ACTION_INVALID');
  });
});
