import { type Quote } from '../../src/canonical';
import { canClose, deliveryView, type EngagementState, invoiceRun, receive, revenueDue } from '../../src/engagement';
import { addDays } from '../../src/rules/dates';
import { asRetainer, advisory, batch, dealFor, expense, expenses, milestone, pay, Shell, snapshotFor, time, transformation, usd } from './fixtures';

/*
 * The engagement core from delivery to cash, on its own: no Temporal, no server, no clock. A Shell
 * (fixtures.ts) plays src/workflows/delivery.ts around it, and the test chooses the issue step's answers.
 */
describe('the whole engagement (test/workflows/engagement.test.ts)', () => {
  /*
   * test/workflows/engagement.test.ts's whole engagement, on the core alone. 2030, LE-US (America/New_York), customer in New York:
   *   L1 TRANSFORMATION fixed fee $100,000.00, milestones 30 / 50 / 20 %, billed on acceptance, revenue at acceptance
   *   L2 ADVISORY_TM T&M at RC-STD, not-to-exceed $15,000.00 (100 h x $150.00), monthly in arrears, revenue as invoiced
   *   L3 EXPENSES monthly in arrears (TRAVEL at cost, MEALS capped at $75.00 per item, ENTERTAINMENT excluded)
   * Tax (the test's issue step): SERVICES 8.875 % per line, half up; EXPENSE_REBILL not taxed.
   * Resource r-de works for LE-DE (region DE: consultant '*' row $130.00/h; intercompany cost $60.00/h + 8 %).
   */
  const OPP = 'OPP-ENG';
  const L1 = `CTR-${OPP}-L1`;
  const L2 = `CTR-${OPP}-L2`;
  const L3 = `CTR-${OPP}-L3`;
  const T1 = `${L2}-T1`;
  const T2 = `${L2}-T2`; // Internal admin: not billable

  const engagement = () => new Shell(dealFor({ opportunityId: OPP, snapshot: snapshotFor(OPP, [transformation(), advisory(), expenses()], '2030-01-01'), options: { overdueGraceDays: 10 } }), '2030-01-02');

  describe('a whole engagement on the core: delivery -> billing -> cash -> revenue -> close', () => {
    const january = batch('kantata:jan', [
      time('1', T1, '2030-01-10', 600), // 10 h x $150.00 = $1,500.00
      time('2', T1, '2030-01-15', 480, 'r-de'), // 8 h x $130.00 = $1,040.00 (LE-DE: intercompany)
      time('3', T2, '2030-01-16', 120), // non-billable task: 2 h x $150.00 = $300.00 excluded
      expense('1', 'TRAVEL', '2030-01-12', 42_000), // $420.00 at cost
      expense('2', 'ENTERTAINMENT', '2030-01-18', 25_000), // $250.00 excluded category
    ]);

    it('bills, collects, recognises and closes to the cent; duplicates and out-of-order webhooks change nothing', () => {
      const e = engagement();
      e.deliver('2030-01-20', january);
      e.deliver('2030-01-26', batch('kantata:m1-done', [milestone(`${L1}-M1`, 'completed', '2030-01-25T15:00:00Z')]));
      // Completed, not accepted: the milestone waits.
      expect(e.s.invoices).toEqual([]);
      e.deliver('2030-01-28', batch('kantata:m1-ok', [milestone(`${L1}-M1`, 'accepted', '2030-01-28T14:00:00Z')]));

      // Jan 28: M1 invoiced on acceptance: 30 % of $100,000.00 = $30,000.00 + 8.875 % = $2,662.50 tax.
      e.advance('2030-01-29');
      expect(e.s.invoices.map((i) => [i.issueDate, i.subtotalMinor, i.taxMinor, i.totalMinor, i.status])).toEqual([['2030-01-28', 3_000_000, 266_250, 3_266_250, 'POSTED']]);
      // January's period is still open: TE-1, TE-2, EX-1 wait (DEFERRED: $1,500.00 + $1,040.00 + $420.00 = $2,960.00);
      // the excluded two are settled and reported ($300.00 + $250.00 = $550.00).
      let v = deliveryView(e.s, e.d, e.today);
      expect(v.pending).toEqual({ time: 2, expenses: 1, milestones: 0 });
      expect(v.totals).toEqual({ BILLABLE: 3_000_000, DEFERRED: 296_000, CAPPED: 0, EXCLUDED: 55_000, delivered: 3_351_000 });
      const m1 = e.s.invoices[0]!.number;

      // Feb 1: January in arrears on one invoice: $1,500.00 + $1,040.00 (taxed: $133.125 -> $133.13, $92.30) + $420.00 travel (not taxed).
      e.advance('2030-02-02');
      expect(e.s.invoices.map((i) => [i.issueDate, i.subtotalMinor, i.taxMinor, i.totalMinor])).toEqual([
        ['2030-01-28', 3_000_000, 266_250, 3_266_250],
        ['2030-02-01', 296_000, 22_543, 318_543],
      ]);
      expect(e.s.excluded.map((x) => [x.sourceId, x.reasonCode, x.amountMinor])).toEqual([
        ['TE-3', 'EXCLUDED.NON_BILLABLE_TASK', 30_000],
        ['EX-2', 'EXCLUDED.EXPENSE_CATEGORY', 25_000],
      ]);
      // 8 h x $60.00 cost = $480.00 + 8 % = $38.40 -> $518.40 charged LE-DE -> LE-US, once, keyed by month and run
      // (runs with pending work: Jan 20, Jan 26, Jan 28, Feb 1 = R4).
      expect(e.s.intercompanyMinor).toBe(51_840);
      expect(e.commandsOf('postIntercompany').map((c) => [c.key, c.amountMinor, c.sources])).toEqual([['LE-DE-LE-US-2030-01-R4', 51_840, [{ sourceId: 'TE-2', amountMinor: 51_840 }]]]);
      // The issue step got the January invoice's lines with their source items: time on one rate line per rate, travel on its own.
      const janRequest = e.issued.find((x) => x.on === '2030-02-01')!.request;
      expect(janRequest.invoice.lines.map((l) => [l.contractLineId, l.amount.amountMinor, l.sourceItemIds, janRequest.taxableLineIds.includes(l.id)])).toEqual([
        [L2, 104_000, ['TE-2'], true],
        [L2, 150_000, ['TE-1'], true],
        [L3, 42_000, ['EX-1'], false],
      ]);
      expect(janRequest.events.map((ev) => [ev.sourceId, ev.contractLineId, ev.quoteLineId, ev.amountMinor, ev.id]).sort()).toEqual([
        ['EX-1', L3, 'QL-3', 42_000, `BE:CTR-${OPP}:v1:EX-1:1`],
        ['TE-1', L2, 'QL-2', 150_000, `BE:CTR-${OPP}:v1:TE-1:1`],
        ['TE-2', L2, 'QL-2', 104_000, `BE:CTR-${OPP}:v1:TE-2:1`],
      ]);
      const jan = e.issuedOn('2030-02-01').number;

      e.payments('2030-02-10', pay('evt-1', { invoiceNumber: m1 }, 1_000_000)); // partial
      expect(e.invoice((i) => i.number === m1)).toMatchObject({ paidMinor: 1_000_000, status: 'PARTIALLY_PAID' });
      expect(e.invoice((i) => i.number === m1).paidOn).toBeUndefined(); // not settled yet

      // February: the cap is crossed by TE-5. $15,000.00 - $2,540.00 billed = $12,460.00 left;
      // TE-4 40 h = $6,000.00 fits, TE-5 60 h = $9,000.00 splits into $6,460.00 billed + $2,540.00 capped.
      // MEALS $100.00: $75.00 billed, $25.00 capped by policy. Duplicates ride along and change nothing.
      const february = batch('kantata:feb', [time('4', T1, '2030-02-05', 2_400), time('5', T1, '2030-02-20', 3_600), expense('3', 'MEALS', '2030-02-10', 10_000)]);
      e.deliver('2030-02-20', february, february, january, batch('kantata:redelivered', [time('1', T1, '2030-01-10', 600), time('4', T1, '2030-02-05', 2_400), milestone(`${L1}-M1`, 'accepted', '2030-01-28T14:00:00Z')]));
      expect(e.s.pending).toMatchObject({ time: [{ id: 'TE-4' }, { id: 'TE-5' }], expenses: [{ id: 'EX-3' }], milestones: [] });
      e.payments('2030-02-25', pay('evt-2', { invoiceNumber: m1 }, 2_266_250), pay('evt-2', { invoiceNumber: m1 }, 2_266_250)); // the rest; the webhook delivered twice
      e.deliver('2030-02-26', batch('kantata:m2-done', [milestone(`${L1}-M2`, 'completed', '2030-02-26T15:00:00Z')]));

      // Mar 1: $6,000.00 + $6,460.00 on one rate line = $12,460.00, tax $1,105.825 -> $1,105.83; meals $75.00.
      e.advance('2030-03-02');
      expect(e.s.invoices.map((i) => [i.issueDate, i.subtotalMinor, i.taxMinor, i.totalMinor, i.paidMinor, i.status])).toEqual([
        ['2030-01-28', 3_000_000, 266_250, 3_266_250, 3_266_250, 'PAID'], // $10,000.00 + $22,662.50, evt-2 once
        ['2030-02-01', 296_000, 22_543, 318_543, 0, 'POSTED'],
        ['2030-03-01', 1_253_500, 110_583, 1_364_083, 0, 'POSTED'],
      ]);
      expect(e.s.held.map((x) => [x.sourceId, x.reasonCode, x.amountMinor])).toEqual([
        ['EX-3', 'CAPPED.EXPENSE_POLICY_LIMIT', 2_500],
        ['TE-5', 'CAPPED.OVER_CAP', 254_000],
      ]);
      expect(e.s.billedByLine[L2]).toBe(1_500_000); // $2,540.00 + $12,460.00: the cap exactly
      const feb = e.issuedOn('2030-03-01').number;

      // Over-payment, then the excess refunded (Stripe reports the cumulative refunded amount).
      e.payments('2030-03-05', pay('evt-3', { invoiceNumber: jan }, 328_543));
      e.advance('2030-03-06');
      expect(e.invoice((i) => i.number === jan)).toMatchObject({ paidMinor: 328_543, status: 'OVERPAID', paidOn: '2030-03-05' });
      // Days to pay: M1 issued Jan 28, settled by evt-2 on Feb 25 = 28 days; January's issued Feb 1, settled Mar 5.
      expect(e.invoice((i) => i.number === m1)).toMatchObject({ issueDate: '2030-01-28', paidOn: '2030-02-25' });
      e.payments('2030-03-08', pay('evt-4', { invoiceNumber: jan }, 10_000, 'charge.refunded', { chargeId: 'ch_1' }), pay('evt-4b', { invoiceNumber: jan }, 10_000, 'charge.refunded', { chargeId: 'ch_1' }));

      // March: everything on L2 is now over the cap; travel is billed alone on Apr 1.
      e.deliver('2030-03-20', batch('kantata:mar', [time('6', T1, '2030-03-03', 60), expense('4', 'TRAVEL', '2030-03-15', 8_000)]));
      e.advance('2030-04-02');
      expect(e.invoice((i) => i.number === jan)).toMatchObject({ paidMinor: 318_543, refundedMinor: 10_000, status: 'PAID', paidOn: '2030-03-05' }); // 328,543 - 10,000 once; still settled on Mar 5
      expect(e.issuedOn('2030-04-01')).toMatchObject({ subtotalMinor: 8_000, taxMinor: 0, totalMinor: 8_000 });
      expect(e.s.held.map((x) => [x.sourceId, x.amountMinor])).toEqual([['EX-3', 2_500], ['TE-5', 254_000], ['TE-6', 15_000]]); // 1 h x $150.00, all over the cap
      const apr = e.issuedOn('2030-04-01').number;

      e.payments('2030-04-05', pay('evt-5', { invoiceNumber: feb }, 1_364_083));
      // M2 accepted late (completed Feb 26, accepted Apr 10): 50 % = $50,000.00 + $4,437.50 tax.
      e.deliver('2030-04-10', batch('kantata:m2-ok', [milestone(`${L1}-M2`, 'accepted', '2030-04-10T14:00:00Z')]));
      e.advance('2030-04-11');
      const m2 = e.issuedOn('2030-04-10');
      expect([m2.subtotalMinor, m2.taxMinor, m2.totalMinor]).toEqual([5_000_000, 443_750, 5_443_750]);
      e.payments('2030-05-05', pay('evt-6', { invoiceNumber: m2.number }, 5_443_750));

      // The April travel invoice (due May 1) is unpaid after 10 days' grace (May 11): NEEDS_ATTENTION.
      e.advance('2030-05-10');
      expect(e.s.attention).toEqual([]);
      e.advance('2030-05-12');
      expect(e.attention()).toEqual([['OVERDUE', e.issuedOn('2030-04-01').id]]);
      expect(e.s.attention[0]!.raisedOn).toBe('2030-05-11');
      e.payments('2030-05-20', pay('evt-7', { invoiceNumber: apr }, 8_000));
      expect(e.s.attention).toEqual([]);

      // M3: acceptance listed before completion in one batch (out of order): 20 % = $20,000.00 + $1,775.00 tax.
      e.deliver('2030-06-15', batch('kantata:m3', [milestone(`${L1}-M3`, 'accepted', '2030-06-15T14:00:00Z'), milestone(`${L1}-M3`, 'completed', '2030-06-14T14:00:00Z')]));
      e.advance('2030-06-16');
      const m3 = e.issuedOn('2030-06-15');
      expect(m3.totalMinor).toBe(2_177_500);
      e.payments('2030-07-01', pay('evt-8', { invoiceNumber: m3.number }, 2_177_500));

      // Revenue per month: M1 at acceptance (Jan); T&M and expenses as invoiced (Feb 1, Mar 1, Apr 1); M2 (Apr); M3 (Jun).
      e.advance('2030-07-02');
      v = deliveryView(e.s, e.d, e.today);
      expect(v.recognisedByMonth).toEqual({
        '2030-01': 3_000_000,
        '2030-02': 296_000, // $1,500.00 + $1,040.00 + $420.00
        '2030-03': 1_253_500, // $12,460.00 + $75.00
        '2030-04': 5_008_000, // $80.00 + $50,000.00
        '2030-06': 2_000_000,
      });
      expect(v.recognisedByLine).toEqual({ [L1]: 10_000_000, [L2]: 1_500_000, [L3]: 57_500 });
      expect(v.revenuePostedThrough).toBe('2030-06-30');

      // The contract ends Dec 31: nothing closes before; on Jan 1 (New York) everything is billed and paid, so the deal closes.
      e.advance('2030-12-31');
      expect(e.closed).toBe(false);
      const summary = e.runToClose('2031-01-01');
      // delivered $118,840.00 = billed $115,575.00 + capped $2,715.00 + excluded $550.00 (conservation)
      expect(summary.totals).toEqual({ BILLABLE: 11_557_500, DEFERRED: 0, CAPPED: 271_500, EXCLUDED: 55_000, delivered: 11_884_000 });
      expect(summary.closedOn).toBe('2031-01-01');
      expect(summary.invoices.map((i) => [i.totalMinor, i.paidMinor, i.status])).toEqual([
        [3_266_250, 3_266_250, 'PAID'],
        [318_543, 318_543, 'PAID'],
        [1_364_083, 1_364_083, 'PAID'],
        [8_000, 8_000, 'PAID'],
        [5_443_750, 5_443_750, 'PAID'],
        [2_177_500, 2_177_500, 'PAID'],
      ]);
      expect(summary.invoicedMinor).toBe(12_578_126);
      expect(summary.taxMinor).toBe(1_020_626); // 266,250 + 22,543 + 110,583 + 0 + 443,750 + 177,500
      expect(summary.collectedMinor).toBe(12_578_126);
      expect(summary.refundedMinor).toBe(10_000);
      expect(summary.leakage).toEqual({ cappedMinor: 271_500, excludedMinor: 55_000, rejectedMinor: 0, writtenOffMinor: 0, totalMinor: 271_500 });
      expect(summary.recognisedMinor).toBe(11_557_500);
      expect(summary.intercompanyMinor).toBe(51_840);

      // Six invoices reached the issue step, each once; the CRM heard of every payment with the invoice's new status.
      expect(e.issued.map((x) => x.result.number)).toEqual(summary.invoices.map((i) => i.number));
      expect(e.commandsOf('recordPayment').map((p) => [p.eventId, p.invoiceNumber, p.appliedMinor, p.status, p.paidMinor])).toEqual([
        ['evt-1', m1, 1_000_000, 'PARTIALLY_PAID', 1_000_000],
        ['evt-2', m1, 2_266_250, 'PAID', 3_266_250],
        ['evt-3', jan, 328_543, 'PAID', 328_543], // OVERPAID is PAID to the CRM
        ['evt-4', jan, -10_000, 'PAID', 318_543],
        ['evt-5', feb, 1_364_083, 'PAID', 1_364_083],
        ['evt-6', m2.number, 5_443_750, 'PAID', 5_443_750],
        ['evt-7', apr, 8_000, 'PAID', 8_000],
        ['evt-8', m3.number, 2_177_500, 'PAID', 2_177_500],
      ]);
      // Revenue journals: one per recognition date, the months in order, the final one at close empty (nothing left).
      expect(e.commandsOf('postRevenue').map((j) => [j.key.split(':')[0], j.lines.reduce((a, l) => a + l.amount.amountMinor, 0)])).toEqual([
        ['2030-01-28', 3_000_000],
        ['2030-02-01', 296_000],
        ['2030-03-01', 1_253_500],
        ['2030-04-01', 8_000],
        ['2030-04-10', 5_000_000],
        ['2030-06-15', 2_000_000],
      ]);
    });

    it('a late item for a period already invoiced goes on its own invoice with the run suffix R<n>', () => {
      const e = engagement();
      e.deliver('2030-01-20', batch('jan', [time('1', T1, '2030-01-10', 600)])); // 10 h = $1,500.00
      e.advance('2030-02-02');
      const first = e.issuedOn('2030-02-01');
      const key = `CUS-ENG|PRJ-${OPP}|LE-US|USD|-|MONTHLY|MONTHLY:2030-01`;
      expect([first.invoiceKey, first.subtotalMinor]).toEqual([key, 150_000]);
      const runs = e.s.runSeq;
      // Feb 5: 4 h more of Jan 28 arrive after January was invoiced: $600.00 on an invoice of its own, key + `|R<run>`.
      e.deliver('2030-02-05', batch('late', [time('7', T1, '2030-01-28', 240)]));
      const late = e.issuedOn('2030-02-05');
      expect(e.s.runSeq).toBe(runs + 1);
      expect([late.invoiceKey, late.subtotalMinor, late.period]).toEqual([`${key}|R${runs + 1}`, 60_000, { start: '2030-01-01', end: '2030-01-31' }]);
      expect(late.id).not.toBe(first.id);
      expect(e.s.invoices).toHaveLength(2);
      // The first invoice is untouched.
      expect(e.invoice((i) => i.id === first.id).subtotalMinor).toBe(150_000);
    });
  });
});

describe('invoice runs (and test/workflows/engagement.long.test.ts)', () => {
  /*
   * Invoice runs on the core, 2030, LE-US (America/New_York), customer in New York.
   * Rates: consultant/US $150.00/h (RC-STD). Tax: SERVICES 8.875 % per line, half up; EXPENSE_REBILL not taxed in NY.
   */

  describe('T&M monthly in arrears', () => {
    const OPP = 'OPP-TM';
    const T1 = `CTR-${OPP}-L1-T1`;
    it('time waits (DEFERRED) until its month closes, then goes out on the 1st on one invoice per period', () => {
      const e = new Shell(dealFor({ opportunityId: OPP, snapshot: snapshotFor(OPP, [advisory('QL-1')], '2030-01-01') }), '2030-01-02');
      e.deliver('2030-01-20', batch('jan', [time('1', T1, '2030-01-10', 450), time('2', T1, '2030-01-17', 480)])); // 7.5 h = $1,125.00; 8 h = $1,200.00
      e.deliver('2030-01-31', batch('jan-2', [time('3', T1, '2030-01-31', 60)])); // 1 h = $150.00 on the month's last day
      expect(e.s.invoices).toEqual([]);
      expect(deliveryView(e.s, e.d, e.today).totals).toEqual({ BILLABLE: 0, DEFERRED: 247_500, CAPPED: 0, EXCLUDED: 0, delivered: 247_500 }); // 112,500 + 120,000 + 15,000
      // Feb 1 bills January; a February entry reported the next day waits for March.
      e.advance('2030-02-01');
      e.deliver('2030-02-02', batch('feb', [time('4', T1, '2030-02-01', 60)]));
      const jan = e.issuedOn('2030-02-01');
      expect([jan.subtotalMinor, jan.taxMinor, jan.period]).toEqual([247_500, 21_966, { start: '2030-01-01', end: '2030-01-31' }]); // 247,500 x 8.875 % = 21,965.625 -> 21,966
      expect(e.issued[0]!.request.invoice.lines.map((l) => [l.amount.amountMinor, l.quantity, l.sourceItemIds])).toEqual([[247_500, { value: 990, unit: 'MINUTE' }, ['TE-1', 'TE-2', 'TE-3']]]);
      expect(e.s.pending.time.map((t) => t.id)).toEqual(['TE-4']);
      expect(deliveryView(e.s, e.d, e.today).totals).toEqual({ BILLABLE: 247_500, DEFERRED: 15_000, CAPPED: 0, EXCLUDED: 0, delivered: 262_500 });
      // Nothing more in February; Mar 1 bills TE-4 alone.
      e.advance('2030-03-01');
      expect(e.s.invoices.map((i) => [i.issueDate, i.subtotalMinor])).toEqual([['2030-02-01', 247_500], ['2030-03-01', 15_000]]);
    });
  });

  describe('fixed-fee milestones, billed on acceptance', () => {
    const OPP = 'OPP-FF';
    const L1 = `CTR-${OPP}-L1`;
    const fixedFee = () => new Shell(dealFor({ opportunityId: OPP, snapshot: snapshotFor(OPP, [transformation()], '2030-01-01') }), '2030-01-02');

    it('completion then acceptance: invoiced on the acceptance day, dated by acceptance in New York', () => {
      const e = fixedFee();
      e.deliver('2030-01-10', batch('m1-done', [milestone(`${L1}-M1`, 'completed', '2030-01-10T15:00:00Z')]));
      expect(e.s.invoices).toEqual([]);
      expect(deliveryView(e.s, e.d, e.today).totals.DEFERRED).toBe(3_000_000); // 30 % of $100,000.00, not accepted
      // Accepted at 22:00 in New York on Jan 15 (03:00Z on the 16th); reported the next morning.
      e.deliver('2030-01-16', batch('m1-ok', [milestone(`${L1}-M1`, 'accepted', '2030-01-16T03:00:00Z')]));
      const inv = e.s.invoices[0]!;
      expect([inv.issueDate, inv.period, inv.subtotalMinor, inv.taxMinor, inv.status]).toEqual(['2030-01-16', { start: '2030-01-15', end: '2030-01-15' }, 3_000_000, 266_250, 'POSTED']);
      expect(inv.invoiceKey).toBe(`CUS-ENG|PRJ-${OPP}|LE-US|USD|-|ON_MILESTONE|ON_MILESTONE:${L1}-M1`);
      // Revenue at acceptance, posted once January has closed.
      expect(e.commandsOf('postRevenue')).toEqual([]);
      e.advance('2030-02-01');
      expect(e.commandsOf('postRevenue').map((j) => [j.key.split(':')[0], j.lines.map((l) => [l.kind, l.amount.amountMinor])])).toEqual([['2030-01-15', [['RECOGNITION', 3_000_000]]]]);
    });

    it('acceptance before completion, in separate batches: billed on acceptance, the later completion changes nothing', () => {
      const e = fixedFee();
      e.deliver('2030-02-05', batch('m2-ok', [milestone(`${L1}-M2`, 'accepted', '2030-02-05T14:00:00Z')]));
      expect(e.s.invoices.map((i) => [i.issueDate, i.subtotalMinor])).toEqual([['2030-02-05', 5_000_000]]); // 50 %
      const before = structuredClone(e.s);
      expect(receive(e.s, e.d, [batch('m2-done', [milestone(`${L1}-M2`, 'completed', '2030-02-03T14:00:00Z')])], [])).toBe(false);
      expect(e.s).toEqual(before);
      e.advance('2030-03-02');
      expect(e.s.invoices).toHaveLength(1);
    });

    it('acceptance listed before completion in one batch, and an acceptance the same day as another run: one invoice at once', () => {
      const e = fixedFee();
      e.payments('2030-06-15', pay('evt-x', { invoiceNumber: 'INV-X' }, 1)); // a pass (and a run) earlier that day
      expect(e.s.lastRunOn).toBe('2030-06-15');
      e.deliver('2030-06-15', batch('m3', [milestone(`${L1}-M3`, 'accepted', '2030-06-15T14:00:00Z'), milestone(`${L1}-M3`, 'completed', '2030-06-14T14:00:00Z')]));
      expect(e.s.invoices.map((i) => [i.issueDate, i.subtotalMinor, i.totalMinor])).toEqual([['2030-06-15', 2_000_000, 2_177_500]]); // 20 % + 8.875 %
      expect(e.s.pending.milestones).toEqual([]);
    });

    it('a milestone completed but never accepted stays DEFERRED and holds the deal open past the contract end', () => {
      const e = fixedFee();
      e.deliver('2030-03-01', batch('m2-done', [milestone(`${L1}-M2`, 'completed', '2030-03-01T14:00:00Z')]));
      e.advance('2031-01-10');
      expect(e.closed).toBe(false);
      expect(e.s.invoices).toEqual([]);
      expect(deliveryView(e.s, e.d, e.today).totals).toEqual({ BILLABLE: 0, DEFERRED: 5_000_000, CAPPED: 0, EXCLUDED: 0, delivered: 5_000_000 });
    });
  });

  describe('expenses', () => {
    const OPP = 'OPP-EX';
    it('at cost, with markup, capped per item, an excluded category, and not billable in the PSA (reported at once, at its amount in the contract currency)', () => {
      const e = new Shell(dealFor({ opportunityId: OPP, snapshot: snapshotFor(OPP, [advisory('QL-1'), expenses('QL-2')], '2030-01-01') }), '2030-01-02');
      e.deliver(
        '2030-01-20',
        batch('jan', [
          expense('1', 'TRAVEL', '2030-01-05', 42_000), // $420.00 at cost
          expense('2', 'MATERIALS', '2030-01-06', 12_345), // $123.45 + 10 % = 1,234.5 -> 1,234 (half even) = $135.79
          expense('3', 'MEALS', '2030-01-07', 10_000), // $100.00: $75.00 billed + $25.00 CAPPED by policy
          expense('4', 'ENTERTAINMENT', '2030-01-08', 25_000), // $250.00 excluded category
          expense('5', 'TRAVEL', '2030-01-09', 9_900, false), // $99.00 not billable in the PSA
          expense('6', 'TRAVEL', '2030-01-10', 5_000, false, 'EUR'), // not billable, in EUR: reported at 0 USD
        ]),
      );
      // Not-billable items are settled at intake, the excluded category by that day's run: none waits for the period.
      expect(e.s.excluded.map((x) => [x.sourceId, x.reasonCode, x.amountMinor])).toEqual([
        ['EX-5', 'EXCLUDED.NOT_BILLABLE_IN_PSA', 9_900],
        ['EX-6', 'EXCLUDED.NOT_BILLABLE_IN_PSA', 0],
        ['EX-4', 'EXCLUDED.EXPENSE_CATEGORY', 25_000],
      ]);
      expect(e.s.pending.expenses.map((x) => x.id)).toEqual(['EX-1', 'EX-2', 'EX-3']);
      e.advance('2030-02-01');
      const inv = e.issuedOn('2030-02-01');
      const request = e.issued[0]!.request;
      expect(request.invoice.lines.map((l) => [l.description, l.amount.amountMinor, l.sourceItemIds, l.taxCode])).toEqual([
        ['Expenses: MATERIALS', 13_579, ['EX-2'], 'EXPENSE_REBILL'],
        ['Expenses: MEALS', 7_500, ['EX-3'], 'EXPENSE_REBILL'],
        ['Expenses: TRAVEL', 42_000, ['EX-1'], 'EXPENSE_REBILL'],
      ]);
      expect(request.taxableLineIds).toEqual([]);
      expect([inv.subtotalMinor, inv.taxMinor, inv.totalMinor]).toEqual([63_079, 0, 63_079]); // 13,579 + 7,500 + 42,000
      expect(e.s.held.map((x) => [x.sourceId, x.reasonCode, x.amountMinor])).toEqual([['EX-3', 'CAPPED.EXPENSE_POLICY_LIMIT', 2_500]]);
      expect(e.s.excluded.map((x) => [x.sourceId, x.reasonCode, x.amountMinor])).toEqual([
        ['EX-5', 'EXCLUDED.NOT_BILLABLE_IN_PSA', 9_900],
        ['EX-6', 'EXCLUDED.NOT_BILLABLE_IN_PSA', 0],
        ['EX-4', 'EXCLUDED.EXPENSE_CATEGORY', 25_000],
      ]);
      // delivered 100,479 = billed 63,079 + capped 2,500 + excluded 34,900 (25,000 + 9,900 + 0)
      expect(deliveryView(e.s, e.d, e.today).totals).toEqual({ BILLABLE: 63_079, DEFERRED: 0, CAPPED: 2_500, EXCLUDED: 34_900, delivered: 100_479 });
    });
  });

  /*
   * A retainer, built by hand (the catalog sells none): the advisory line as RETAINER at RC-STD, $3,000.00
   * prepaid, expiring with the contract on 2030-12-31, allocated $15,000.00, revenue as drawn.
   */
  function retainerDeal(overage: 'BILL' | 'CAP') {
    const OPP = `OPP-RET-${overage}`;
    const base = snapshotFor(OPP, [advisory('QL-1')], '2030-01-01');
    const snapshot = asRetainer(base, { prepaidMinor: 300_000, overage });
    return { e: new Shell(dealFor({ opportunityId: OPP, snapshot }), '2030-01-02'), L1: `CTR-${OPP}-L1` };
  }

  describe('retainers', () => {
    it('invoices the prepayment at the start, draws delivered work down at rate-card value, and bills the overage', () => {
      const { e, L1 } = retainerDeal('BILL');
      // Jan 2, the first run: the prepayment, $3,000.00 + 8.875 % = $266.25.
      expect(e.s.invoices.map((i) => [i.issueDate, i.subtotalMinor, i.taxMinor, i.invoiceKey.split('|').slice(-1)[0]])).toEqual([['2030-01-02', 300_000, 26_625, 'MONTHLY:2030-01']]);
      expect(e.issued[0]!.request.invoice.lines.map((l) => [l.description, l.sourceItemIds])).toEqual([['Retainer prepayment until 2030-12-31', [`RETAINER:${L1}`]]]);
      // January: 10 h = $1,500.00 drawn; 15 h = $2,250.00: $1,500.00 drawn (the rest of the balance) + $750.00 overage.
      e.deliver('2030-01-25', batch('jan', [time('1', `${L1}-T1`, '2030-01-10', 600), time('2', `${L1}-T1`, '2030-01-20', 900)]));
      e.advance('2030-02-01');
      // The overage is January's, whose key the prepayment took: a late invoice, R3 (runs Jan 2, Jan 25, Feb 1).
      const overage = e.issuedOn('2030-02-01');
      expect([overage.subtotalMinor, overage.taxMinor, overage.invoiceKey.split('|').slice(-2).join('|')]).toEqual([75_000, 6_656, 'MONTHLY:2030-01|R3']); // 6,656.25 -> 6,656
      expect(e.issued[1]!.request.invoice.lines.map((l) => [l.description, l.amount.amountMinor, l.sourceItemIds])).toEqual([['Retainer overage', 75_000, ['TE-2']]]);
      expect(e.s.drawnByLine).toEqual({ [L1]: 300_000 });
      expect(e.s.billedByLine).toEqual({ [L1]: 375_000 }); // prepayment + overage
      // delivered 675,000 = the prepayment 300,000 + work 150,000 + 225,000, all BILLABLE
      expect(deliveryView(e.s, e.d, e.today).totals).toEqual({ BILLABLE: 675_000, DEFERRED: 0, CAPPED: 0, EXCLUDED: 0, delivered: 675_000 });
      // Revenue as drawn (Jan 31) and the overage when delivered (Jan 20); the prepayment invoice is not revenue.
      expect(deliveryView(e.s, e.d, e.today).recognisedByMonth).toEqual({ '2030-01': 375_000 });
      // The prepayment is charged once: later runs do not bill it again.
      e.advance('2030-04-02');
      expect(e.s.invoices).toHaveLength(2);
    });

    it('with overage CAP, work beyond the balance is CAPPED, not billed', () => {
      const { e, L1 } = retainerDeal('CAP');
      e.deliver('2030-01-25', batch('jan', [time('1', `${L1}-T1`, '2030-01-10', 600), time('2', `${L1}-T1`, '2030-01-20', 900)]));
      e.advance('2030-02-02');
      expect(e.s.invoices.map((i) => i.subtotalMinor)).toEqual([300_000]);
      expect(e.s.held.map((x) => [x.sourceId, x.reasonCode, x.amountMinor])).toEqual([['TE-2', 'CAPPED.RETAINER_EXHAUSTED', 75_000]]);
      expect(deliveryView(e.s, e.d, e.today).totals).toEqual({ BILLABLE: 600_000, DEFERRED: 0, CAPPED: 75_000, EXCLUDED: 0, delivered: 675_000 });
    });

    /*
     * A retainer's breakage. Prepaid $3,000.00, drawn $1,500.00 in January: at expiry (Dec 31) the unused $1,500.00
     * is breakage, so by the close the retainer's revenue is the prepayment, $3,000.00. (Before
     * 'retainer-breakage-from-total' the core recognised $1,500.00: invoiceRun passed revenueSchedule only the run's
     * own decisions, and no run computed breakage.)
     */
    it('at close a retainer has recognised its whole prepayment: drawdown + breakage', () => {
      const { e, L1 } = retainerDeal('BILL');
      e.deliver('2030-01-25', batch('jan', [time('1', `${L1}-T1`, '2030-01-10', 600)])); // 10 h = $1,500.00 drawn
      e.advance('2030-02-02');
      e.payments('2030-02-02', pay('p-1', { invoiceNumber: e.s.invoices[0]!.number }, e.s.invoices[0]!.totalMinor));
      const summary = e.runToClose('2031-01-02');
      expect(summary.closedOn).toBe('2031-01-01');
      // drawn 150,000 (Jan 31) + breakage 300,000 - 150,000 = 150,000 (Dec 31) = 300,000
      expect(deliveryView(e.s, e.d, e.today).recognisedByMonth).toEqual({ '2030-01': 150_000, '2030-12': 150_000 });
      expect(summary.recognisedMinor).toBe(300_000);
    });

    /*
     * When an item settles in a run on or after the expiry, breakage is prepaid - everything drawn:
     * 300,000 - 165,000 = 135,000 (before the patch: prepaid - what *that run* drew, 300,000 - 15,000 = 285,000,
     * so the retainer recognised $4,500.00 on a $3,000.00 prepayment).
     */
    it('breakage counts everything drawn before the expiry, not only the last run', () => {
      const { e, L1 } = retainerDeal('BILL');
      e.deliver('2030-01-25', batch('jan', [time('1', `${L1}-T1`, '2030-01-10', 600)])); // $1,500.00 drawn in January
      e.advance('2030-02-02');
      e.payments('2030-02-02', pay('p-1', { invoiceNumber: e.s.invoices[0]!.number }, e.s.invoices[0]!.totalMinor));
      e.deliver('2030-12-31', batch('dec', [time('3', `${L1}-T1`, '2030-12-20', 60)])); // 1 h = $150.00, drawn at the Jan 1 run
      const summary = e.runToClose('2031-01-02');
      expect(e.s.drawnByLine).toEqual({ [L1]: 165_000 });
      // Dec: 15,000 drawn + breakage 300,000 - 165,000 = 135,000 -> 150,000; total 150,000 + 150,000 = 300,000 = the prepayment
      expect(deliveryView(e.s, e.d, e.today).recognisedByMonth).toEqual({ '2030-01': 150_000, '2030-12': 150_000 });
      expect(summary.recognisedMinor).toBe(300_000);
    });
  });

  /*
   * test/workflows/engagement.long.test.ts on the core: a 3-year T&M deal billed weekly (weeks start Monday,
   * New York): one hour every Wednesday from 2031-01-01 to 2033-12-28 = 157 entries, each 1 h x $150.00 = $150.00
   * + 8.875 % ($13.3125 -> $13.31) = $163.31 per weekly invoice. Time is reported on the 1st of the next month,
   * invoices are paid on the 3rd, and the state continues as new (as JSON) every month.
   */
  describe('a 3-year weekly-billed deal', () => {
    it('invoices every week exactly once across 36 continue-as-new carries, and closes to the cent', () => {
      const OPP = 'OPP-LONG';
      const WEEKS = 157;
      const base = snapshotFor(OPP, [advisory('QL-1', 1_000)], '2031-01-01');
      const snapshot = { ...base, contract: { ...base.contract, endDate: '2033-12-31', lines: base.contract.lines.map((l) => ({ ...l, endDate: '2033-12-31', invoiceSchedule: 'WEEKLY' as const })) } };
      const e = new Shell(dealFor({ opportunityId: OPP, snapshot }), '2031-01-01');
      const wednesdays = Array.from({ length: WEEKS }, (_, i) => addDays('2031-01-01', 7 * i));
      expect(wednesdays[WEEKS - 1]).toBe('2033-12-28');
      const paid = new Set<string>();
      for (let y = 2031; y <= 2033 && !e.closed; y++) {
        for (let m = 1; m <= 12 && !e.closed; m++) {
          const month = `${y}-${String(m).padStart(2, '0')}`;
          const next = m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
          const items = wednesdays.filter((d) => d.startsWith(month)).map((d) => ({ ...time(`W${d}`, `CTR-${OPP}-L1-T1`, d, 60), projectId: 'WS-LONG' }));
          e.deliver(`${next}-01`, batch(`kantata:${month}`, items));
          e.advance(`${next}-03`);
          const due = e.s.invoices.filter((i) => !paid.has(i.number) && i.status === 'POSTED');
          due.forEach((i) => paid.add(i.number));
          if (due.length > 0) e.payments(`${next}-03`, ...due.map((i) => pay(`evt-${i.number}`, { invoiceNumber: i.number }, i.totalMinor)));
          if (!e.closed) e.continueAsNew();
        }
      }
      // The last week (Mon Dec 26 - Sun Jan 1) is invoiced Mon 2034-01-02 and paid on the 3rd: the deal closes then.
      expect(e.summary?.closedOn).toBe('2034-01-03');
      const summary = e.summary!;
      expect(e.s.continuedAsNew).toBe(35); // every month but the last, which closed
      expect(paid.size).toBe(WEEKS);
      expect(summary.invoices).toHaveLength(WEEKS);
      expect(new Set(e.s.invoices.map((i) => i.invoiceKey)).size).toBe(WEEKS);
      expect(new Set(e.issued.map((x) => x.request.invoice.id)).size).toBe(WEEKS); // each issued once
      expect(summary.invoices.every((i) => i.totalMinor === 16_331 && i.paidMinor === 16_331 && i.status === 'PAID')).toBe(true);
      expect(e.s.invoices.map((i) => i.period.start)).toEqual(wednesdays.map((d) => addDays(d, -2))); // each week from its Monday
      expect(summary.totals).toEqual({ BILLABLE: 2_355_000, DEFERRED: 0, CAPPED: 0, EXCLUDED: 0, delivered: 2_355_000 }); // 157 x $150.00
      expect(summary.invoicedMinor).toBe(2_563_967); // 157 x $163.31
      expect(summary.recognisedMinor).toBe(2_355_000);
    });
  });

  describe('an invoice run with nothing to do', () => {
    it('changes nothing but the run date, and counts no run', () => {
      const OPP = 'OPP-IDLE';
      const e = new Shell(dealFor({ opportunityId: OPP, snapshot: snapshotFor(OPP, [advisory('QL-1')], '2030-01-01') }), '2030-01-02');
      const before = structuredClone(e.s);
      expect(invoiceRun(e.s, e.d, '2030-01-03')).toEqual({ commands: [], notices: [] });
      expect(e.s).toEqual({ ...before, lastRunOn: '2030-01-03' });
    });
  });
});

describe('revenue', () => {
  /* Revenue on the core: per closed month, never above a line's allocated value, and the last part at close. */

  describe('revenue per closed month', () => {
    const OPP = 'OPP-REV';
    const L1 = `CTR-${OPP}-L1`;
    const L2 = `CTR-${OPP}-L2`;
    it('posts a month once it has closed, one journal per recognition date, each once', () => {
      const e = new Shell(dealFor({ opportunityId: OPP, snapshot: snapshotFor(OPP, [transformation('QL-1'), advisory('QL-2')], '2030-01-01') }), '2030-01-02');
      // M1 accepted Jan 28 (revenue at acceptance: $30,000.00); 10 h on Jan 10 as invoiced ($1,500.00 on Feb 1).
      e.deliver('2030-01-28', batch('jan', [milestone(`${L1}-M1`, 'accepted', '2030-01-28T14:00:00Z'), time('1', `${L2}-T1`, '2030-01-10', 600)]));
      e.advance('2030-01-31');
      expect(e.commandsOf('postRevenue')).toEqual([]);
      expect(e.s.revenue.pending.map((l) => [l.recognitionDate, l.amount.amountMinor])).toEqual([['2030-01-28', 3_000_000]]);
      // Feb 1: January closes: M1's journal. The T&M invoice of Feb 1 is February revenue.
      e.advance('2030-02-01');
      expect(e.commandsOf('postRevenue').map((j) => [j.key, j.legalEntity.id, j.lines.map((l) => [l.contractLineId, l.treatment, l.amount.amountMinor])])).toEqual([
        [`2030-01-28:1:${e.commandsOf('postRevenue')[0]!.lines[0]!.id}`, 'LE-US', [[L1, 'POINT_IN_TIME', 3_000_000]]],
      ]);
      expect(e.s.revenue.postedThrough).toBe('2030-01-31');
      // The same day again, and a direct call: nothing is posted twice.
      expect(revenueDue(e.s, e.d, '2030-02-01').commands).toEqual([]);
      expect(revenueDue(e.s, e.d, '2030-02-20').commands).toEqual([]);
      // Mar 1: February's: the invoice of Feb 1 ($1,500.00, as invoiced).
      e.advance('2030-03-01');
      expect(e.commandsOf('postRevenue').map((j) => [j.key.split(':')[0], j.lines.map((l) => [l.contractLineId, l.treatment, l.amount.amountMinor])])).toEqual([
        ['2030-01-28', [[L1, 'POINT_IN_TIME', 3_000_000]]],
        ['2030-02-01', [[L2, 'AS_INVOICED', 150_000]]],
      ]);
      expect(deliveryView(e.s, e.d, e.today).recognisedByMonth).toEqual({ '2030-01': 3_000_000, '2030-02': 150_000 });
      // Months with nothing still move the posting date on.
      e.advance('2030-05-01');
      expect(e.s.revenue.postedThrough).toBe('2030-04-30');
      expect(e.commandsOf('postRevenue')).toHaveLength(2);
    });

    it("never recognises more than a line's allocated value: the excess is held back", () => {
      // L2 EXPENSES allocated $5,000.00; travel billed $3,000.00 in January and $3,000.00 in February (as invoiced).
      const e = new Shell(dealFor({ opportunityId: 'OPP-RX', snapshot: snapshotFor('OPP-RX', [advisory('QL-1'), expenses('QL-2', 500_000)], '2030-01-01') }), '2030-01-02');
      const L = 'CTR-OPP-RX-L2';
      e.deliver('2030-01-20', batch('jan', [expense('1', 'TRAVEL', '2030-01-10', 300_000)]));
      e.deliver('2030-02-20', batch('feb', [expense('2', 'TRAVEL', '2030-02-10', 300_000)]));
      e.advance('2030-04-01');
      expect(e.s.invoices.map((i) => i.subtotalMinor)).toEqual([300_000, 300_000]);
      // Feb: 300,000; Mar: min(300,000, 500,000 - 300,000) = 200,000.
      expect(deliveryView(e.s, e.d, e.today).recognisedByMonth).toEqual({ '2030-02': 300_000, '2030-03': 200_000 });
      expect(e.s.revenue.recognisedByLine).toEqual({ [L]: 500_000 });
      expect(e.commandsOf('postRevenue').map((j) => j.lines.map((l) => l.amount.amountMinor))).toEqual([[300_000], [200_000]]);
    });
  });

  /*
   * A managed-support subscription billed by Stripe's own schedule (ids.subscriptionIds), revenue ratable daily:
   * $1,000.00 a month x 12 = $12,000.00 allocated, from 2030-01-15 to 2031-01-14 (365 days). Per month, by largest
   * remainder of 1,200,000 x days / 365: Jan 17 d 55,890.41; Feb 28 d 92,054.79; 30-day months 98,630.14;
   * 31-day months 101,917.81; Jan 2031 14 d 46,027.40. Floors add to 1,199,993; the 7 largest remainders
   * (six 31-day months .808, Feb .79) take one more each.
   */
  describe('ratable revenue and the close', () => {
    const OPP = 'OPP-SUB';
    const support: Quote['lines'][number] = { id: 'QL-1', servicePackage: 'MANAGED_SUPPORT', description: 'Support', quantity: 12, unit: 'MONTH', listPrice: usd(100_000), netPrice: usd(100_000), discountBp: 0, approvalStatus: 'APPROVED', externalIds: {} };
    const deal = () => dealFor({ opportunityId: OPP, snapshot: snapshotFor(OPP, [support], '2030-01-15'), ids: { erpCustomerId: 'C', subscriptionIds: ['sub_1'] } });

    it('recognises each month once closed and the last, open month at close (final), to the allocated value', () => {
      const e = new Shell(deal(), '2030-01-15');
      expect(e.s.invoices).toEqual([]); // Stripe invoices the subscription
      e.advance('2031-01-14');
      expect(e.closed).toBe(false);
      expect(deliveryView(e.s, e.d, e.today).recognisedByMonth).toEqual({
        '2030-01': 55_890,
        '2030-02': 92_055,
        '2030-03': 101_918,
        '2030-04': 98_630,
        '2030-05': 101_918,
        '2030-06': 98_630,
        '2030-07': 101_918,
        '2030-08': 101_918,
        '2030-09': 98_630,
        '2030-10': 101_918,
        '2030-11': 98_630,
        '2030-12': 101_918,
      });
      // At the contract end (Jan 15, 2031) January is not closed: only the final pass posts its 46,027 (dated Jan 14).
      const without = structuredClone(e.s);
      expect(revenueDue(without, e.d, '2031-01-15').commands.flatMap((c) => (c.kind === 'postRevenue' ? c.input.lines.map((l) => l.recognitionDate) : []))).toEqual([]);
      const summary = e.runToClose('2031-01-15');
      expect(summary.closedOn).toBe('2031-01-15');
      const last = e.commandsOf('postRevenue').at(-1)!;
      expect([last.key.split(':')[0], last.lines.map((l) => l.amount.amountMinor)]).toEqual(['2031-01-14', [46_027]]);
      expect(deliveryView(e.s, e.d, e.today).recognisedByMonth['2031-01']).toBe(46_027);
      expect(summary.recognisedMinor).toBe(1_200_000);
      // Twelve monthly periods in advance, $1,000.00 each, billed (by Stripe), never invoiced here.
      expect(summary.totals).toEqual({ BILLABLE: 1_200_000, DEFERRED: 0, CAPPED: 0, EXCLUDED: 0, delivered: 1_200_000 });
      expect(summary.invoices).toEqual([]);
    });
  });
});
describe('the close', () => {
  const OPP = 'OPP-CLOSE';
  const T1 = `CTR-${OPP}-L1-T1`;
  /** One invoice (Feb 1: 10 h = $1,500.00 + $133.13 tax = $1,633.13), paid in full; the contract ends Dec 31. */
  function settled(): Shell {
    const e = new Shell(dealFor({ opportunityId: OPP, snapshot: snapshotFor(OPP, [advisory('QL-1')], '2030-01-01') }), '2030-01-02');
    e.deliver('2030-01-20', batch('jan', [time('1', T1, '2030-01-10', 600)]));
    e.advance('2030-02-01');
    e.payments('2030-02-10', pay('p', { invoiceNumber: e.s.invoices[0]!.number }, 163_313));
    e.advance('2030-12-31');
    return e;
  }

  it('canClose only after the contract ends, with nothing pending, unissued, unmatched or open, and every invoice settled', () => {
    const e = settled();
    expect(e.closed).toBe(false);
    expect(canClose(e.s, e.d, '2030-12-31')).toBe(false); // the contract's last day
    expect(canClose(e.s, e.d, '2031-01-01')).toBe(true);
    const closesWith = (change: (s: EngagementState) => void): boolean => {
      const s = structuredClone(e.s);
      change(s);
      return canClose(s, e.d, '2031-01-01');
    };
    expect(closesWith(() => {})).toBe(true);
    expect(closesWith((s) => receive(s, e.d, [batch('late', [time('2', T1, '2030-12-30', 60)])], []))).toBe(false); // an item pending
    expect(closesWith((s) => receive(s, e.d, [], [pay('u', { invoiceNumber: 'INV-NOPE' }, 100)]))).toBe(false); // a payment unmatched
    expect(closesWith((s) => (s.invoices[0]!.paidMinor = 163_312))).toBe(false); // one cent open
    expect(closesWith((s) => s.attention.push({ id: 'X', kind: 'OVERDUE', message: 'x', raisedOn: '2030-12-31' }))).toBe(false); // an item open
    expect(closesWith((s) => s.drafts.push({ invoice: e.issued[0]!.request.invoice, taxableLineIds: [], events: [], approval: 'REQUIRED', requestedOn: '2030-12-31' }))).toBe(false); // a draft unissued
    const summary = e.runToClose('2031-01-01');
    expect([summary.closedOn, summary.invoicedMinor, summary.taxMinor, summary.collectedMinor, summary.refundedMinor, summary.writtenOffMinor]).toEqual(['2031-01-01', 163_313, 13_313, 163_313, 0, 0]);
    expect(summary.credited).toBeUndefined();
    expect(summary.leakage).toEqual({ cappedMinor: 0, excludedMinor: 0, rejectedMinor: 0, writtenOffMinor: 0, totalMinor: 0 });
  });

  it('the closing summary adds up leakage from every source: capped, rejected, written off and credited (excluded reported beside it)', () => {
    // L1 TRANSFORMATION $100,000.00 (approval above $40,000.00: M2's $50,000.00 waits), L2 ADVISORY_TM capped at 10 h = $1,500.00.
    const opp = 'OPP-LEAK';
    const e = new Shell(dealFor({ opportunityId: opp, snapshot: snapshotFor(opp, [transformation('QL-1'), advisory('QL-2', 10)], '2030-01-01'), options: { approvalAboveMinor: 4_000_000 } }), '2030-01-02');
    const L1 = `CTR-${opp}-L1`;
    const L2 = `CTR-${opp}-L2`;
    // M1 $30,000.00 + $2,662.50 tax, posted at once; later credited whole: credited $30,000.00 net.
    e.deliver('2030-01-10', batch('m1', [milestone(`${L1}-M1`, 'accepted', '2030-01-10T14:00:00Z')]));
    // January: 12 h = $1,800.00: $1,500.00 billed + $300.00 CAPPED; 1 h on the internal task = $150.00 EXCLUDED.
    e.deliver('2030-01-20', batch('jan', [time('1', `${L2}-T1`, '2030-01-15', 720), time('2', `${L2}-T2`, '2030-01-16', 60)]));
    // Feb 1: $1,500.00 + $133.13 = $1,633.13; $1,500.00 paid, the $133.13 tax written off.
    e.advance('2030-02-01');
    const tm = e.issuedOn('2030-02-01');
    e.payments('2030-02-10', pay('p-tm', { invoiceNumber: tm.number }, 150_000));
    e.writeOff({ invoiceId: tm.id, by: 'controller', reason: 'tax short-paid' });
    // M2 $50,000.00 rejected.
    e.deliver('2030-02-15', batch('m2', [milestone(`${L1}-M2`, 'accepted', '2030-02-15T14:00:00Z')]));
    e.decide({ invoiceId: e.issuedOn('2030-02-15').id, decision: 'reject', by: 'controller', reason: 'sign-off withdrawn' });
    const m1 = e.issuedOn('2030-01-10');
    e.advance('2030-03-01');
    e.credit({ requestId: 'cancel-m1', invoiceId: m1.number, by: 'ar', reason: 'CANCELLATION', note: 'phase cancelled', lines: [{ invoiceLineId: m1.lines[0]!.id }] });
    const summary = e.runToClose('2031-01-02');
    expect(summary.invoices.map((i) => [i.number === m1.number ? 'M1' : i.number === tm.number ? 'TM' : 'M2', i.totalMinor, i.paidMinor, i.writtenOffMinor, i.creditedMinor ?? 0, i.status])).toEqual([
      ['M1', 3_266_250, 0, 0, 3_266_250, 'CREDITED'],
      ['TM', 163_313, 150_000, 13_313, 0, 'WRITTEN_OFF'],
      ['M2', 5_000_000, 0, 0, 0, 'REJECTED'],
    ]);
    expect(summary.totals).toEqual({ BILLABLE: 8_150_000, DEFERRED: 0, CAPPED: 30_000, EXCLUDED: 15_000, delivered: 8_195_000 }); // 3,000,000 + 150,000 + 5,000,000 billed
    expect([summary.invoicedMinor, summary.taxMinor, summary.collectedMinor, summary.writtenOffMinor]).toEqual([3_429_563, 279_563, 150_000, 13_313]); // M1 + TM; tax 266,250 + 13,313
    expect(summary.credited).toEqual({ memos: 1, subtotalMinor: 3_000_000, taxMinor: 266_250, totalMinor: 3_266_250 });
    // total = capped 30,000 + rejected 5,000,000 + written off 13,313 + credited 3,000,000 = 8,043,313 (excluded 15,000 beside it)
    expect(summary.leakage).toEqual({ cappedMinor: 30_000, excludedMinor: 15_000, rejectedMinor: 5_000_000, writtenOffMinor: 13_313, creditedMinor: 3_000_000, totalMinor: 8_043_313 });
  });
});
