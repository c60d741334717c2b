import type { DealSnapshot } from '../../src/contract';
import { deliveryView, revenueWaterfall, type TerminateContractRequest } from '../../src/engagement';
import { asRetainer, advisory, batch, dealFor, pay, refusalOf, Shell, snapshotFor, time, usd } from './fixtures';

/*
 * Termination on the core. 2030, LE-US (America/New_York), customer in New York, tax SERVICES 8.875 % per line,
 * half up. A retainer built by hand (the catalog sells none): the advisory line as RETAINER at RC-STD ($150.00/h),
 * $3,000.00 prepaid until Dec 31, overage billed, revenue as drawn.
 */
function retainerDeal(opportunityId: string, refundable: boolean) {
  const base = snapshotFor(opportunityId, [advisory('QL-1')], '2030-01-01');
  const snapshot = asRetainer(base, { prepaidMinor: 300_000, refundable });
  const L1 = `CTR-${opportunityId}-L1`;
  return { e: new Shell(dealFor({ opportunityId, snapshot, options: { overdueGraceDays: 60 }, ids: { erpCustomerId: 'ERP-CUS-1', erpContractId: 'SO-1', projectId: `WS-${opportunityId}` } }), '2030-01-02'), L1, T1: `${L1}-T1` };
}

const terminate = (effectiveDate: string, requestId = 'term-1'): TerminateContractRequest => ({ requestId, by: 'ops@firm.example', reason: 'customer ends the engagement', effectiveDate });

describe('termination', () => {
  it('a refundable retainer: its unused prepayment is credited, work up to the date is billed, work after it excluded, and the deal closes', () => {
    const { e, L1, T1 } = retainerDeal('OPP-TERM-R', true);
    // Jan 2: the prepayment, 300,000 + 300,000 x 8.875 % = 26,625 -> 326,625.
    const prepayment = e.s.invoices[0]!;
    expect([prepayment.subtotalMinor, prepayment.taxMinor, prepayment.totalMinor]).toEqual([300_000, 26_625, 326_625]);
    e.deliver('2030-01-25', batch('jan', [time('1', T1, '2030-01-10', 600)])); // 10 h = 150,000 drawn
    e.advance('2030-02-10');
    expect(e.s.drawnByLine).toEqual({ [L1]: 150_000 });

    // Feb 10: terminated from Feb 15. Unused 300,000 - 150,000 drawn = 150,000 is refunded:
    // credit 150,000 + 150,000 x 8.875 % = 13,312.5 -> 13,313 tax = 163,313 on the prepayment invoice.
    const result = e.terminate(terminate('2030-02-15'));
    expect(result.contractVersion).toBe(2);
    expect(result.termination).toMatchObject({ effectiveDate: '2030-02-15', appliedOn: '2030-02-10', version: 2, erpContractId: 'SO-1', psaProjectClosed: true });
    expect(result.termination.refunds).toEqual([{ contractLineId: L1, amountMinor: 150_000, creditMemoNumber: 'CM-1' }]);
    expect(e.closedProjects).toEqual(['WS-OPP-TERM-R']);
    const memo = e.s.creditMemos![0]!;
    expect([memo.invoiceId, memo.reason, memo.subtotalMinor, memo.taxMinor, memo.totalMinor, memo.lines[0]!.sourceItemIds]).toEqual([prepayment.id, 'CANCELLATION', 150_000, 13_313, 163_313, [`RETAINER:${L1}`]]);
    const v2 = e.s.contract!;
    expect([v2.version, v2.status, v2.endDate, v2.lines[0]!.endDate, v2.lines[0]!.retainer]).toEqual([2, 'TERMINATED', '2030-02-15', '2030-02-15', { prepaid: usd(150_000), expiresOn: '2030-02-15', overage: 'BILL', refundable: true }]);
    // The same request again answers the same; another termination, and any amendment, are refused.
    expect(e.terminate(terminate('2030-02-15'))).toEqual(result);
    expect(refusalOf(() => e.terminate(terminate('2030-03-31', 'term-2')))).toBe('DEAL.ALREADY_TERMINATED');
    expect(refusalOf(() => e.terminate({ ...terminate('2030-02-16'), requestId: 'term-1' }))).toBe('DEAL.REQUEST_ID_REUSED');
    expect(refusalOf(() => e.amend({ requestId: 'co-1', by: 'ops@firm.example', baseVersion: 2, effectiveDate: '2030-02-10', reason: 'x', changes: [{ op: 'SET_TERMS', set: { poNumber: 'PO-1' } }] }))).toBe('DEAL.TERMINATED');

    // Work dated up to Feb 15 that arrives later is overage (the balance was refunded): 4 h = 60,000, billed Mar 1
    // with 60,000 x 8.875 % = 5,325 tax. Work after Feb 15 (2 h = 30,000) is excluded.
    e.deliver('2030-02-20', batch('feb', [time('2', T1, '2030-02-12', 240), time('3', T1, '2030-02-18', 120)]));
    e.advance('2030-03-02');
    const last = e.issuedOn('2030-03-01');
    expect([last.subtotalMinor, last.taxMinor, last.totalMinor, last.period]).toEqual([60_000, 5_325, 65_325, { start: '2030-02-01', end: '2030-02-28' }]);
    expect(e.s.excluded.map((x) => [x.sourceId, x.reasonCode, x.amountMinor])).toEqual([['TE-3', 'EXCLUDED.OUTSIDE_CONTRACT_DATES', 30_000]]);

    // Paid: the prepayment less its credit, 326,625 - 163,313 = 163,312, and the overage invoice, 65,325.
    e.payments('2030-03-05', pay('p-1', { invoiceNumber: prepayment.number }, 163_312), pay('p-2', { invoiceNumber: last.number }, 65_325));
    const summary = e.runToClose('2030-04-02');
    expect(summary.closedOn).toBe('2030-03-05');
    // Invoiced 326,625 + 65,325 = 391,950; credited 163,313; collected 228,637 = invoiced - credited.
    expect([summary.invoicedMinor, summary.collectedMinor, summary.credited?.totalMinor]).toEqual([391_950, 228_637, 163_313]);
    // prepayment 300,000 + drawn 150,000 + overage 60,000 billable; 30,000 excluded; delivered 540,000.
    expect(summary.totals).toEqual({ BILLABLE: 510_000, DEFERRED: 0, CAPPED: 0, EXCLUDED: 30_000, delivered: 540_000 });
    // Revenue: drawn 150,000 (Jan 31) + overage 60,000 (Feb 12); no breakage (the unused balance was refunded).
    expect(deliveryView(e.s, e.d, e.today).recognisedByMonth).toEqual({ '2030-01': 150_000, '2030-02': 60_000 });
    expect(summary.recognisedMinor).toBe(210_000);
    expect(summary.terminatedOn).toBe('2030-02-15');
  });

  it('a non-refundable retainer: the unused balance is breakage on the termination date', () => {
    const { e, T1 } = retainerDeal('OPP-TERM-N', false);
    e.deliver('2030-01-25', batch('jan', [time('1', T1, '2030-01-10', 600)])); // 10 h = 150,000 drawn
    e.advance('2030-02-10');
    expect(e.terminate(terminate('2030-02-15')).termination.refunds).toEqual([]);
    expect(e.s.creditMemos).toBeUndefined();
    e.payments('2030-02-20', pay('p-1', { invoiceNumber: e.s.invoices[0]!.number }, 326_625));
    const summary = e.runToClose('2030-04-02');
    // Closed on the first wake after Feb 15 with everything settled; the final revenue run posts February:
    // breakage 300,000 - 150,000 drawn = 150,000 on Feb 15.
    expect(summary.closedOn).toBe('2030-02-20');
    expect(deliveryView(e.s, e.d, e.today).recognisedByMonth).toEqual({ '2030-01': 150_000, '2030-02': 150_000 });
    // The contract ends Feb 15: two months, and nothing left to earn from February.
    const w = revenueWaterfall(e.s, e.d, summary.closedOn);
    expect(w.months.map((m) => [m.month, m.status, m.billedMinor, m.recognisedMinor, m.deferredMinor])).toEqual([
      ['2030-01', 'POSTED', 300_000, 150_000, 1_350_000],
      ['2030-02', 'POSTED', 0, 150_000, 0],
    ]);
    expect(w.totals).toEqual({ billedMinor: 300_000, creditedMinor: 0, recognisedMinor: 300_000, scheduledMinor: 0 });
  });

  it('refuses a date outside the term, and one before work already invoiced for a later period', () => {
    const { e, T1 } = retainerDeal('OPP-TERM-X', false);
    e.deliver('2030-02-20', batch('feb', [time('1', T1, '2030-02-10', 2_400)])); // 40 h: 300,000 drawn + 300,000 overage
    e.advance('2030-03-02'); // the February overage invoice (period Feb 1 - 28)
    const before = structuredClone(e.s);
    expect(refusalOf(() => e.terminate(terminate('2029-12-31')))).toBe('DEAL.TERMINATION_INVALID');
    expect(refusalOf(() => e.terminate(terminate('2030-12-31')))).toBe('DEAL.TERMINATION_INVALID');
    expect(refusalOf(() => e.terminate(terminate('2030-02-30')))).toBe('DEAL.TERMINATION_INVALID');
    expect(refusalOf(() => e.terminate(terminate('2030-01-31')))).toBe('DEAL.TERMINATION_INVALID'); // Feb's invoice is after it
    expect(refusalOf(() => e.terminate({ ...terminate('2030-03-15'), by: ' ' }))).toBe('DEAL.ACTION_INVALID');
    expect(e.s).toEqual(before);
    expect(e.terminate(terminate('2030-02-28')).contractVersion).toBe(2);
  });
});

describe('termination of a subscription', () => {
  /*
   * A subscription built by hand: the advisory line as SUBSCRIPTION, $1,000.00 a month in advance, revenue ratable
   * over 2030 (allocated $12,000.00). Jan, Feb and Mar are billed on Jan 2, Feb 1 and Mar 1 (100,000 + 8,875 tax each);
   * ratable revenue posts Jan 101,918 and Feb 92,054 (365 days, largest remainder).
   * Mar 10: terminated from Mar 15. The periods up to it come to 100,000 + 100,000 + 100,000 x 15 / 31 days
   * (48,387.1 -> 48,387) = 248,387: the line's revenue from now on. March was billed in full, so its unused
   * 100,000 - 48,387 = 51,613 is credited (+ 51,613 x 8.875 % = 4,580.7 -> 4,581 tax = 56,194). The rest of the
   * revenue, 248,387 - 101,918 - 92,054 = 54,415, is one line on Mar 15. No period after March is billed.
   */
  it('stops the charges, credits the part of the period billed in advance after the date, and recognises what the periods earned', () => {
    const base = snapshotFor('OPP-TERM-S', [advisory('QL-1')], '2030-01-01');
    const snapshot: DealSnapshot = {
      ...base,
      contract: {
        ...base.contract,
        lines: base.contract.lines.map((l) => {
          const { cap: _cap, rateCardRef: _rc, ...rest } = l;
          return { ...rest, billingModel: 'SUBSCRIPTION' as const, revenueTreatment: 'RATABLE_DAILY' as const, allocatedValue: usd(1_200_000), subscription: { amountPerPeriod: usd(100_000), period: 'MONTHLY' as const, timing: 'IN_ADVANCE' as const } };
        }),
      },
    };
    const L1 = 'CTR-OPP-TERM-S-L1';
    const e = new Shell(dealFor({ opportunityId: 'OPP-TERM-S', snapshot }), '2030-01-02');
    e.advance('2030-03-10');
    expect(e.s.invoices.map((i) => [i.issueDate, i.subtotalMinor])).toEqual([['2030-01-02', 100_000], ['2030-02-01', 100_000], ['2030-03-01', 100_000]]);
    expect(e.s.revenue.byMonth).toEqual({ '2030-01': 101_918, '2030-02': 92_054 });

    const { termination } = e.terminate(terminate('2030-03-15'));
    expect(termination.refunds).toEqual([{ contractLineId: L1, amountMinor: 51_613, creditMemoNumber: 'CM-1' }]);
    const memo = e.s.creditMemos![0]!;
    expect([memo.invoiceNumber, memo.subtotalMinor, memo.taxMinor, memo.totalMinor, memo.lines[0]!.sourceItemIds]).toEqual([e.s.invoices[2]!.number, 51_613, 4_581, 56_194, [`SUB:${L1}:2030-03-01`]]);
    expect(e.s.contract!.lines[0]!.allocatedValue).toEqual(usd(248_387));

    for (const inv of e.s.invoices) e.payments('2030-03-20', pay(`p-${inv.number}`, { invoiceNumber: inv.number }, inv.totalMinor - (inv.creditedMinor ?? 0)));
    const summary = e.runToClose('2030-06-01');
    expect(e.s.invoices).toHaveLength(3); // nothing billed after March
    expect(summary.closedOn).toBe('2030-03-20');
    expect(e.s.revenue.byMonth).toEqual({ '2030-01': 101_918, '2030-02': 92_054, '2030-03': 54_415 });
    // Recognised 248,387 = billed 300,000 - credited 51,613.
    expect(summary.recognisedMinor).toBe(248_387);
  });
});
