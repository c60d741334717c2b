import { type AmendContractRequest, amendmentFor, applyPayments, canClose, creditBasisFrom, type CreditInvoiceRequest, dealOf, deliveryView, priorCredit, receive, validateDecision, wantedStage } from '../../src/engagement';
import { advisory, batch, dealFor, expense, expenses, milestone, pay, refusalOf, setupFor, Shell, snapshotFor, time, transformation, usd } from './fixtures';

/*
 * Operator actions (approve, reject, write off, amend, credit) and cash (payments, refunds, overdue), on the core.
 */
describe('approvals and write-offs (test/workflows/approvals.test.ts)', () => {
  /*
   * test/workflows/approvals.test.ts on the core. A fixed-fee deal, 2030, LE-US (America/New_York):
   *   L1 TRANSFORMATION $100,000.00, milestones 30 / 50 / 20 %, billed on acceptance.
   * Invoices with a subtotal above $25,000.00 wait for an operator (approvalAboveMinor 2_500_000);
   * an unanswered approval raises an attention item after 5 days. Tax: SERVICES 8.875 % (half up per line).
   *   M1 30 % = $30,000.00 (> $25,000.00: held) -> approved -> + $2,662.50 tax = $32,662.50
   *   M2 50 % = $50,000.00 (> $25,000.00: held) -> rejected: never posted, reported as leakage
   *   M3 20 % = $20,000.00 (<= $25,000.00: posted at once) + $1,775.00 tax = $21,775.00
   */
  const OPP = 'OPP-APR';
  const L1 = `CTR-${OPP}-L1`;
  const accepted = (key: string, at: string) => batch(`kantata:${key}`, [milestone(`${L1}-${key}`, 'accepted', at)]);
  const snapshot = snapshotFor(OPP, [transformation()], '2030-01-01');
  const fixedFee = (options = { approvalAboveMinor: 2_500_000, approvalTimeoutDays: 5, overdueGraceDays: 10 }) => new Shell(dealFor({ opportunityId: OPP, snapshot, options }), '2030-01-02');

  describe('the approval checkpoint and write-offs on the core', () => {
    it('holds large invoices for a decision, escalates when nobody acts, never posts a rejected one, and closes with a written-off balance', () => {
      const e = fixedFee();
      const issuedTotals = () => e.issued.map((x) => x.request.invoice.subtotal.amountMinor + x.result.taxMinor!).sort((a, b) => a - b);

      // M1 accepted Jan 10: $30,000.00 is above the threshold, so the draft waits and nothing reaches the issue step.
      e.deliver('2030-01-10', accepted('M1', '2030-01-10T14:00:00Z'));
      e.at('2030-01-14', {}); // a pass on the fourth day (something else arrived): not yet
      expect(e.s.invoices.map((i) => [i.issueDate, i.subtotalMinor, i.status])).toEqual([['2030-01-10', 3_000_000, 'AWAITING_APPROVAL']]);
      const m1 = e.s.invoices[0]!.id;
      expect(e.issued).toEqual([]);
      expect(e.s.attention).toEqual([]);
      expect(wantedStage(e.s)).toBe('IN_DELIVERY');

      // Five days without a decision (Jan 10 + 5 = Jan 15): an APPROVAL_TIMEOUT attention item, raised once.
      e.advance('2030-01-15');
      expect(e.attention()).toEqual([['APPROVAL_TIMEOUT', m1]]);
      expect(e.notices.filter((n) => n.kind === 'attentionRaised').map((n) => n.kind === 'attentionRaised' && n.item.id)).toEqual([`APPROVAL_TIMEOUT:${m1}`]);
      expect(wantedStage(e.s)).toBe('NEEDS_ATTENTION');

      // The validator refuses bad decisions and nothing changes.
      expect(refusalOf(() => e.decide({ invoiceId: 'INV-NOPE', decision: 'approve', by: 'controller' }))).toBe('DEAL.INVOICE_NOT_PENDING');
      expect(refusalOf(() => e.decide({ invoiceId: m1, decision: 'reject', by: 'controller' }))).toBe('DEAL.ACTION_INVALID'); // no reason
      expect(refusalOf(() => e.decide({ invoiceId: m1, decision: 'approve', by: ' ' }))).toBe('DEAL.ACTION_INVALID'); // no one
      expect(refusalOf(() => e.decide({ invoiceId: m1, decision: 'maybe' as 'approve', by: 'controller' }))).toBe('DEAL.ACTION_INVALID');
      expect(e.s.invoices[0]!.status).toBe('AWAITING_APPROVAL');
      expect(e.s.drafts.map((x) => x.approval)).toEqual(['REQUIRED']);

      // Approved: the escalation clears and the invoice is taxed and posted at once: $30,000.00 + $2,662.50 = $32,662.50.
      e.decide({ invoiceId: m1, decision: 'approve', by: 'controller' });
      expect(e.s.attention).toEqual([]);
      expect(e.s.invoices.map((i) => [i.subtotalMinor, i.taxMinor, i.totalMinor, i.status])).toEqual([[3_000_000, 266_250, 3_266_250, 'POSTED']]);
      expect(e.issued.map((x) => x.on)).toEqual(['2030-01-15']);
      expect(issuedTotals()).toEqual([3_266_250]);
      // Latency runs from the billable day (the issue date), not the approval day.
      expect(e.notices.filter((n) => n.kind === 'invoicePosted')).toEqual([{ kind: 'invoicePosted', issueDate: '2030-01-10' }]);
      expect(refusalOf(() => e.decide({ invoiceId: m1, decision: 'approve', by: 'controller' }))).toBe('DEAL.INVOICE_NOT_PENDING'); // decided already

      // M2 accepted Feb 5: $50,000.00 held, then rejected: it never reaches the issue step, and the line's billed amount is restored.
      e.deliver('2030-02-05', accepted('M2', '2030-02-05T14:00:00Z'));
      const m2 = e.issuedOn('2030-02-05');
      expect([m2.subtotalMinor, m2.status]).toEqual([5_000_000, 'AWAITING_APPROVAL']);
      expect(e.s.billedByLine[L1]).toBe(8_000_000); // $30,000.00 + $50,000.00
      e.advance('2030-02-06');
      e.decide({ invoiceId: m2.id, decision: 'reject', by: 'controller', reason: 'customer disputes M2 sign-off' });
      expect(e.invoice((i) => i.id === m2.id).status).toBe('REJECTED');
      expect(e.s.drafts).toEqual([]);
      expect(e.s.billedByLine[L1]).toBe(3_000_000); // 8,000,000 - 5,000,000
      expect(issuedTotals()).toEqual([3_266_250]);
      // A rejected invoice is not pending any more, and takes no payment: a payment naming it stays unmatched.
      expect(refusalOf(() => validateDecision(e.s, { invoiceId: m2.id, decision: 'approve', by: 'controller' }))).toBe('DEAL.INVOICE_NOT_PENDING');

      // M1 is paid short: $30,000.00 of $32,662.50. A write-off needs a reason; then $2,662.50 is written off.
      e.payments('2030-02-07', pay('evt-m1', { invoiceNumber: e.s.invoices[0]!.number }, 3_000_000));
      expect(e.s.invoices[0]!).toMatchObject({ paidMinor: 3_000_000, status: 'PARTIALLY_PAID' });
      e.advance('2030-02-08');
      expect(refusalOf(() => e.writeOff({ invoiceId: m1, by: 'controller', reason: '' }))).toBe('DEAL.ACTION_INVALID');
      expect(refusalOf(() => e.writeOff({ invoiceId: m2.id, by: 'controller', reason: 'x' }))).toBe('DEAL.INVOICE_UNKNOWN'); // rejected, never posted
      expect(refusalOf(() => e.writeOff({ invoiceId: 'INV-NOPE', by: 'controller', reason: 'x' }))).toBe('DEAL.INVOICE_UNKNOWN');
      const written = e.writeOff({ invoiceId: m1, by: 'controller', reason: 'tax short-paid, below collection threshold' });
      expect([written.writtenOffMinor, written.status]).toEqual([266_250, 'WRITTEN_OFF']); // 3,266,250 - 3,000,000
      expect(refusalOf(() => e.writeOff({ invoiceId: m1, by: 'controller', reason: 'again' }))).toBe('DEAL.NOTHING_TO_WRITE_OFF');
      // The CRM hears of the write-off on the same day (a status write-back, not a payment): VOID.
      expect(e.commandsOf('syncInvoiceStatus')).toEqual([
        { opportunityId: OPP, invoiceNumber: written.number, status: 'VOID', totalMinor: 3_266_250, paidMinor: 3_000_000, currency: 'USD', dueDate: '2030-02-09' },
      ]);
      expect(e.s.statusSyncs).toEqual([]);

      // M3 accepted Jun 15: $20,000.00 is under the threshold and goes straight out: + $1,775.00 = $21,775.00.
      e.deliver('2030-06-15', accepted('M3', '2030-06-15T14:00:00Z'));
      const m3 = e.issuedOn('2030-06-15');
      expect([m3.totalMinor, m3.status]).toEqual([2_177_500, 'POSTED']);
      e.payments('2030-06-20', pay('evt-m3', { invoiceNumber: m3.number }, 2_177_500));

      // The contract ends Dec 31; with M1 written off, M2 rejected and M3 paid, the deal closes on Jan 1.
      const summary = e.runToClose('2031-01-02');
      expect(summary.closedOn).toBe('2031-01-01');
      // Revenue: M1 $30,000.00 (January) and M3 $20,000.00 (June); the rejected M2's $50,000.00 queued for February is
      // withdrawn when it is rejected (Feb 6, before February is posted): recognised 30,000 + 20,000 = $50,000.00.
      expect(deliveryView(e.s, e.d, e.today).recognisedByMonth).toEqual({ '2030-01': 3_000_000, '2030-06': 2_000_000 });
      expect(summary.recognisedMinor).toBe(5_000_000);
      expect(summary.invoices.map((i) => [i.totalMinor, i.paidMinor, i.status])).toEqual([
        [3_266_250, 3_000_000, 'WRITTEN_OFF'],
        [5_000_000, 0, 'REJECTED'], // reported, never posted
        [2_177_500, 2_177_500, 'PAID'],
      ]);
      // Collected $30,000.00 + $21,775.00 = $51,775.00; leakage = rejected $50,000.00 + written off $2,662.50 = $52,662.50.
      expect(summary.collectedMinor).toBe(5_177_500);
      expect(summary.invoicedMinor).toBe(5_443_750); // 3,266,250 + 2,177,500 (the rejected draft is not invoiced)
      expect(summary.writtenOffMinor).toBe(266_250);
      expect(summary.leakage).toEqual({ cappedMinor: 0, excludedMinor: 0, rejectedMinor: 5_000_000, writtenOffMinor: 266_250, totalMinor: 5_266_250 });
      expect(issuedTotals()).toEqual([2_177_500, 3_266_250]);
      // One escalation over the whole deal.
      expect(e.notices.filter((n) => n.kind === 'attentionRaised').length).toBe(1);
    });

    it('an approved invoice is POSTED once issued and takes its payment (patched approved-invoice-posted)', () => {
      const snap = snapshotFor('OPP-APR2', [transformation()], '2031-01-01');
      const e = new Shell(dealFor({ opportunityId: 'OPP-APR2', snapshot: snap, options: { approvalAboveMinor: 2_500_000 } }), '2031-01-02');
      e.deliver('2031-01-10', batch('m1', [milestone('CTR-OPP-APR2-L1-M1', 'accepted', '2031-01-10T14:00:00Z')]));
      const held = e.s.invoices[0]!;
      expect(held.status).toBe('AWAITING_APPROVAL');
      // A payment naming the draft (its q2c id, as Stripe metadata carries it) waits: the invoice is not posted.
      e.payments('2031-01-11', pay('evt-early', { invoiceId: held.id }, 1_000_000));
      expect(e.s.payments.unmatched.map((p) => p.eventId)).toEqual(['evt-early']);
      expect(e.s.invoices[0]!.paidMinor).toBe(0);
      e.decide({ invoiceId: held.id, decision: 'approve', by: 'controller' });
      // 30 % of $100,000.00 = $30,000.00 + 8.875 % = $2,662.50 -> $32,662.50; the early $10,000.00 now applies.
      expect(e.s.invoices[0]!).toMatchObject({ totalMinor: 3_266_250, paidMinor: 1_000_000, status: 'PARTIALLY_PAID' });
      expect(e.s.payments.unmatched).toEqual([]);
      e.payments('2031-01-12', pay('evt-apr2', { invoiceNumber: e.s.invoices[0]!.number }, 2_266_250));
      expect(e.s.invoices[0]!).toMatchObject({ paidMinor: 3_266_250, status: 'PAID' });
      expect(e.commandsOf('recordPayment').map((p) => [p.eventId, p.status])).toEqual([
        ['evt-early', 'PARTIALLY_PAID'],
        ['evt-apr2', 'PAID'],
      ]);
    });

    it('a history from before the approved-invoice-posted patch keeps the old behaviour: the posted invoice stays AWAITING_APPROVAL and takes no payment', () => {
      const snap = snapshotFor('OPP-APR3', [transformation()], '2031-01-01');
      const d = dealOf({ dealId: 'deal-OPP-APR3', opportunityId: 'OPP-APR3', snapshot: snap, setup: setupFor(snap), ids: { erpCustomerId: 'C' }, options: { approvalAboveMinor: 2_500_000 }, patched: (id) => id !== 'approved-invoice-posted' });
      const e = new Shell(d, '2031-01-02');
      e.deliver('2031-01-10', batch('m1', [milestone('CTR-OPP-APR3-L1-M1', 'accepted', '2031-01-10T14:00:00Z')]));
      e.decide({ invoiceId: e.s.invoices[0]!.id, decision: 'approve', by: 'controller' });
      e.payments('2031-01-12', pay('evt', { invoiceNumber: e.s.invoices[0]!.number }, 3_266_250));
      expect(e.s.invoices[0]!).toMatchObject({ totalMinor: 3_266_250, paidMinor: 0, status: 'AWAITING_APPROVAL' });
      expect(e.s.payments.unmatched.map((p) => p.eventId)).toEqual(['evt']);
    });

    it('a failed posting stays a draft, raises POSTING_FAILED, is not retried the same day, and goes out the next day', () => {
      const e = new Shell(dealFor({ opportunityId: OPP, snapshot }), '2030-01-02');
      e.failNext.push({ code: 'ERP.CUSTOMER_INVALID', message: 'customer inactive' });
      e.deliver('2030-01-10', accepted('M1', '2030-01-10T14:00:00Z'));
      const id = e.s.invoices[0]!.id;
      expect(e.s.drafts.map((x) => [x.invoice.id, x.failed, x.requestedOn])).toEqual([[id, { code: 'ERP.CUSTOMER_INVALID', message: 'customer inactive' }, '2030-01-10']]);
      expect(e.attention()).toEqual([['POSTING_FAILED', id]]);
      expect(e.s.attention[0]!.message).toBe('ERP.CUSTOMER_INVALID: customer inactive');
      // Not posted: a payment naming it waits, and nothing else is tried today (another pass on Jan 10).
      e.payments('2030-01-10', pay('evt-1', { invoiceId: id }, 3_266_250));
      expect(e.issued.map((x) => [x.on, x.result.ok])).toEqual([['2030-01-10', false]]);
      expect(e.s.payments.unmatched.map((p) => p.eventId)).toEqual(['evt-1']);
      // The next day the timer fires (nextWake = Jan 11), the draft goes out, the item clears and the payment applies:
      // $30,000.00 + $2,662.50 = $32,662.50, paid in full.
      e.advance('2030-01-11');
      expect(e.issued.map((x) => [x.on, x.result.ok])).toEqual([['2030-01-10', false], ['2030-01-11', true]]);
      expect(e.s.attention).toEqual([]);
      expect(e.s.drafts).toEqual([]);
      expect(e.s.invoices[0]!).toMatchObject({ id, issueDate: '2030-01-10', totalMinor: 3_266_250, paidMinor: 3_266_250, status: 'PAID' });
    });

    it('an operator may reject a draft whose posting failed: it is dropped and never retried', () => {
      const e = new Shell(dealFor({ opportunityId: OPP, snapshot }), '2030-01-02');
      e.failNext.push({ code: 'ERP.CUSTOMER_INVALID', message: 'customer inactive' });
      e.deliver('2030-01-10', accepted('M1', '2030-01-10T14:00:00Z'));
      const id = e.s.invoices[0]!.id;
      e.decide({ invoiceId: id, decision: 'reject', by: 'controller', reason: 'customer gone' });
      expect(e.s.invoices[0]!.status).toBe('REJECTED');
      expect(e.s.attention).toEqual([]); // its POSTING_FAILED item goes with it
      expect(e.s.billedByLine[L1]).toBe(0);
      e.advance('2030-01-20');
      expect(e.issued).toHaveLength(1);
    });
  });
});

describe('amendments and a credit (test/workflows/operator-actions.test.ts)', () => {
  /*
   * test/workflows/operator-actions.test.ts on the core. 2030, LE-US (America/New_York), customer in New York:
   *   L1 ADVISORY_TM T&M at RC-STD (consultant/US $150.00/h), not-to-exceed $15,000.00 (100 h x $150.00, no tolerance),
   *   monthly in arrears, revenue as invoiced. Tax: SERVICES 8.875 % per line, half up.
   */
  const OPP = 'OPP-OPS';
  const L1 = `CTR-${OPP}-L1`;
  const T1 = `${L1}-T1`;
  const snapshot = snapshotFor(OPP, [advisory('QL-1', 100)], '2030-01-01');
  const deal = () => dealFor({ opportunityId: OPP, snapshot, options: { overdueGraceDays: 60 }, ids: { erpCustomerId: 'ERP-CUS-1', erpContractId: 'SO-1', projectId: 'WS-OPS' } });

  const raise: AmendContractRequest = {
    requestId: 'co-1',
    by: 'ops@firm.example',
    baseVersion: 1,
    effectiveDate: '2030-02-10',
    reason: 'change order 1: 26.67 more hours',
    changes: [{ op: 'UPDATE_LINE', lineId: L1, set: { cap: { notToExceed: usd(1_900_000), toleranceBp: 0 }, allocatedValue: usd(1_900_000) } }],
  };

  /** January: 60 h + 50 h + 20 h + 10 h at $150.00/h against a $15,000.00 cap, billed Feb 1. */
  function january(): Shell {
    const e = new Shell(deal(), '2030-01-02');
    e.deliver(
      '2030-01-29',
      batch('kantata:jan', [
        time('1', T1, '2030-01-10', 3_600), // 60 h = $9,000.00; $6,000.00 of the cap left
        time('2', T1, '2030-01-20', 3_000), // 50 h = $7,500.00: $6,000.00 billed + $1,500.00 (600 min) capped
        time('3', T1, '2030-01-25', 1_200), // 20 h = $3,000.00 capped
        time('4', T1, '2030-01-28', 600), // 10 h = $1,500.00 capped
      ]),
    );
    e.advance('2030-02-02');
    return e;
  }

  describe('contract amendments in delivery', () => {
    it('a raised cap bills what it admits of the held items, oldest first; a stale amendment changes nothing; a credit memo reverses one time entry once', () => {
      const e = january();
      // Feb 1: $9,000.00 + $6,000.00 = $15,000.00 on one rate line; tax 1,500,000 x 8.875 % = 133,125.
      expect(e.s.invoices.map((i) => [i.issueDate, i.subtotalMinor, i.taxMinor, i.totalMinor, i.status])).toEqual([['2030-02-01', 1_500_000, 133_125, 1_633_125, 'POSTED']]);
      expect(e.s.held.map((h) => [h.sourceId, h.reasonCode, h.amountMinor]).sort()).toEqual([
        ['TE-2', 'CAPPED.OVER_CAP', 150_000],
        ['TE-3', 'CAPPED.OVER_CAP', 300_000],
        ['TE-4', 'CAPPED.OVER_CAP', 150_000],
      ]);
      expect(deliveryView(e.s, e.d, e.today).totals).toEqual({ BILLABLE: 1_500_000, DEFERRED: 0, CAPPED: 600_000, EXCLUDED: 0, delivered: 2_100_000 });
      expect(deliveryView(e.s, e.d, e.today).contractVersion).toBe(1);
      const feb1 = e.s.invoices[0]!;

      // Feb 5 work (8 h = $1,200.00) waits for February to close.
      e.deliver('2030-02-06', batch('kantata:feb', [time('5', T1, '2030-02-05', 480)]));

      // Feb 10: change order v1 -> v2 raises the cap (and the allocated value) to $19,000.00.
      e.advance('2030-02-10');
      const amended = e.amend(raise);
      // Room 1,900,000 - 1,500,000 billed = 400,000 of the 600,000 held (date order: TE-2 150,000, TE-3 250,000 of 300,000).
      expect(amended).toMatchObject({ contractVersion: 2, heldOverCapMinor: 600_000, releasableMinor: 400_000, amendment: { id: `CTR-${OPP}-A2`, requestId: 'co-1', baseVersion: 1, version: 2, appliedOn: '2030-02-10', erpContractId: 'SO-1' } });
      expect(e.amend(raise)).toEqual(amended); // the same request again: same answer, nothing applied twice
      expect(e.s.amendments).toHaveLength(1);
      expect(e.s.contract!.lines[0]!.cap).toEqual({ notToExceed: usd(1_900_000), toleranceBp: 0 });
      expect(e.s.capAmendedLines).toEqual([L1]);

      // A stale change order (written against v1) and a change to an unknown line are refused; nothing changes.
      const before = structuredClone(e.s);
      expect(refusalOf(() => e.amend({ ...raise, requestId: 'co-stale', changes: [{ op: 'UPDATE_LINE', lineId: L1, set: { cap: { notToExceed: usd(2_500_000), toleranceBp: 0 } } }] }))).toBe('DEAL.AMENDMENT_VERSION_CONFLICT');
      // Stale comes first: whatever else is wrong with it, a request on an old version is a conflict (rebase, then fix).
      expect(refusalOf(() => e.amend({ ...raise, requestId: 'co-stale-2', changes: [{ op: 'ADD_LINE', line: snapshot.contract.lines[0]! }] }))).toBe('DEAL.AMENDMENT_VERSION_CONFLICT');
      expect(refusalOf(() => e.amend({ ...raise, requestId: 'co-x', baseVersion: 2, changes: [{ op: 'UPDATE_LINE', lineId: 'NOPE', set: { discountBp: 500 } }] }))).toBe('DEAL.AMENDMENT_UNKNOWN_LINE');
      // A cap below what is billed: 1,000,000 < 1,500,000.
      expect(refusalOf(() => e.amend({ ...raise, requestId: 'co-y', baseVersion: 2, changes: [{ op: 'UPDATE_LINE', lineId: L1, set: { cap: { notToExceed: usd(1_000_000), toleranceBp: 0 } } }] }))).toBe('DEAL.AMENDMENT_INVALID');
      expect(e.s).toEqual(before);
      expect(deliveryView(e.s, e.d, e.today).contractVersion).toBe(2);
      expect(e.s.held.map((h) => [h.sourceId, h.amountMinor]).sort()).toEqual([['TE-2', 150_000], ['TE-3', 300_000], ['TE-4', 150_000]]); // released at the next run, not before

      // Mar 1, the next invoice run: the held parts go first (they are older), so TE-5 finds the cap full.
      //   TE-2 150,000 (600 min) + TE-3 250,000 (floor(1,200 x 250,000 / 300,000) = 1,000 min) = 400,000, billable from the
      //   amendment (Feb 10), so on the line's next regular invoice: February's, issued Mar 1 (no late January invoice);
      //   tax 400,000 x 8.875 % = 35,500; TE-5 120,000 CAPPED.
      e.advance('2030-03-02');
      const mar1 = e.issuedOn('2030-03-01');
      expect([mar1.subtotalMinor, mar1.taxMinor, mar1.totalMinor, mar1.period]).toEqual([400_000, 35_500, 435_500, { start: '2030-02-01', end: '2030-02-28' }]);
      expect(mar1.invoiceKey.endsWith('|MONTHLY:2030-02')).toBe(true);
      expect(e.s.invoices).toHaveLength(2);
      const mar1Request = e.issued.find((x) => x.request.invoice.id === mar1.id)!.request;
      expect(mar1Request.invoice.lines.map((l) => [l.amount.amountMinor, l.quantity, l.sourceItemIds])).toEqual([[400_000, { value: 1_600, unit: 'MINUTE' }, ['TE-2', 'TE-3']]]);
      expect(mar1Request.events.map((ev) => [ev.sourceId, ev.amountMinor, ev.id])).toEqual([
        ['TE-2', 150_000, `BE:CTR-${OPP}:v2:TE-2:1`],
        ['TE-3', 250_000, `BE:CTR-${OPP}:v2:TE-3:1`],
      ]);
      expect(e.s.held.map((h) => [h.sourceId, h.amountMinor]).sort()).toEqual([
        ['TE-3', 50_000],
        ['TE-4', 150_000],
        ['TE-5', 120_000],
      ]);
      // What stays held keeps its minutes: TE-3 1,200 - 1,000 = 200 min, TE-4 600, TE-5 480 (8 h x $150.00 = 120,000).
      expect(e.s.overCap!.map((p) => [p.sourceId, p.amountMinor, p.minutes])).toEqual([['TE-3', 50_000, 200], ['TE-4', 150_000, 600], ['TE-5', 120_000, 480]]);
      // Conservation: delivered 2,100,000 + 120,000 = 2,220,000 = billed 1,500,000 + 400,000 + capped 320,000.
      expect(deliveryView(e.s, e.d, e.today).totals).toEqual({ BILLABLE: 1_900_000, DEFERRED: 0, CAPPED: 320_000, EXCLUDED: 0, delivered: 2_220_000 });

      // Mar 5: TE-1 (60 h, $9,000.00) on the open Feb 1 invoice is disputed and credited.
      // Tax returned: 900,000 x 8.875 % = 79,875; credit 979,875; balance 1,633,125 - 979,875 = 653,250.
      e.advance('2030-03-05');
      const line = feb1.lines[0]!;
      const req: CreditInvoiceRequest = { requestId: 'dispute-7', invoiceId: feb1.number, by: 'ar@firm.example', reason: 'DISPUTE', note: 'customer disputes the 60 h of Jan 10', lines: [{ invoiceLineId: line.id, sourceItemIds: ['TE-1'] }] };
      const memo = e.credit(req);
      expect(memo).toMatchObject({ invoiceId: feb1.id, invoiceNumber: feb1.number, issueDate: '2030-03-05', reason: 'DISPUTE', subtotalMinor: 900_000, taxMinor: 79_875, totalMinor: 979_875 });
      expect(memo.lines).toEqual([{ id: `${memo.id}-1`, originalInvoiceLineId: line.id, contractLineId: L1, sourceItemIds: ['TE-1'], amountMinor: 900_000, taxMinor: 79_875 }]);
      expect(e.credit(req)).toEqual(memo); // the same request again: the same memo, nothing posted twice
      expect(e.creditPostings).toHaveLength(1);
      expect(refusalOf(() => e.credit({ ...req, requestId: 'dispute-8' }))).toBe('DEAL.ALREADY_CREDITED');
      expect(refusalOf(() => e.credit({ ...req, requestId: 'dispute-9', lines: [{ invoiceLineId: line.id, sourceItemIds: ['TE-9'] }] }))).toBe('DEAL.CREDIT_SOURCE_NOT_ON_LINE');
      const credited = e.invoice((i) => i.id === feb1.id);
      expect([credited.totalMinor, credited.creditedMinor, credited.paidMinor, credited.status, credited.creditMemos]).toEqual([1_633_125, 979_875, 0, 'POSTED', [memo.number]]);
      expect(e.s.creditMemos!.map((m) => m.id)).toEqual([memo.id]);
      // The CRM is told the credited invoice's status at once.
      expect(e.commandsOf('syncInvoiceStatus').map((c) => [c.invoiceNumber, c.status, c.totalMinor, c.paidMinor])).toEqual([[feb1.number, 'POSTED', 1_633_125, 0]]);

      // The customer pays what is left of both invoices.
      e.payments('2030-03-10', pay('evt-1', { invoiceNumber: feb1.number }, 653_250), pay('evt-2', { invoiceNumber: mar1.number }, 435_500));
      expect(e.s.invoices.map((i) => [i.number, i.status])).toEqual([
        [feb1.number, 'PAID'],
        [mar1.number, 'PAID'],
      ]);

      // Close on Jan 1, 2031. Invoiced 1,633,125 + 435,500 = 2,068,625; credited 979,875; collected 653,250 + 435,500 = 1,088,750
      // = invoiced - credited. TE-1 is not billed again; leakage 320,000 capped + 900,000 credited = 1,220,000.
      const summary = e.runToClose('2031-01-02');
      expect(summary.closedOn).toBe('2031-01-01');
      expect(summary.totals).toEqual({ BILLABLE: 1_900_000, DEFERRED: 0, CAPPED: 320_000, EXCLUDED: 0, delivered: 2_220_000 });
      expect(summary.invoices.map((i) => [i.number, i.totalMinor, i.paidMinor, i.creditedMinor ?? 0, i.status])).toEqual([
        [feb1.number, 1_633_125, 653_250, 979_875, 'PAID'],
        [mar1.number, 435_500, 435_500, 0, 'PAID'],
      ]);
      expect([summary.invoicedMinor, summary.taxMinor, summary.collectedMinor]).toEqual([2_068_625, 168_625, 1_088_750]);
      expect(summary.credited).toEqual({ memos: 1, subtotalMinor: 900_000, taxMinor: 79_875, totalMinor: 979_875 });
      expect(summary.leakage).toEqual({ cappedMinor: 320_000, excludedMinor: 0, rejectedMinor: 0, writtenOffMinor: 0, creditedMinor: 900_000, totalMinor: 1_220_000 });
      expect(e.issued).toHaveLength(2);
      // Revenue as invoiced: 1,500,000 on Feb 1 (posted with February), 400,000 on Mar 1; the credit takes back TE-1's
      // 900,000 on its date, Mar 5, in March's journal: March nets 400,000 - 900,000 = -500,000, and the line keeps
      // 1,500,000 + 400,000 - 900,000 = 1,000,000 = billed 1,900,000 - credited 900,000.
      expect(summary.recognisedMinor).toBe(1_000_000);
      expect(e.s.revenue.byMonth).toEqual({ '2030-02': 1_500_000, '2030-03': -500_000 });
      expect(e.commandsOf('postRevenue').flatMap((c) => c.lines.map((l) => [l.recognitionDate, l.kind, l.amount.amountMinor, l.sourceIds]))).toEqual([
        ['2030-02-01', 'RECOGNITION', 1_500_000, [feb1.lines[0]!.id]],
        ['2030-03-01', 'RECOGNITION', 400_000, [mar1.lines[0]!.id]],
        ['2030-03-05', 'REVERSAL', -900_000, [memo.lines[0]!.id, 'TE-1']],
      ]);
    });

    it('without an amendment the held over-cap time stays held at every later run', () => {
      const e = january();
      e.advance('2030-04-02');
      expect(e.s.invoices).toHaveLength(1);
      expect(e.s.held.map((h) => [h.sourceId, h.amountMinor]).sort()).toEqual([['TE-2', 150_000], ['TE-3', 300_000], ['TE-4', 150_000]]);
    });

    it('a cap raised past everything held releases all of it and empties the over-cap store', () => {
      const e = january();
      e.advance('2030-02-10');
      // $25,000.00 - $15,000.00 billed = $10,000.00 of room >= $6,000.00 held.
      const r = e.amend({ ...raise, changes: [{ op: 'UPDATE_LINE', lineId: L1, set: { cap: { notToExceed: usd(2_500_000), toleranceBp: 0 } } }] });
      expect([r.heldOverCapMinor, r.releasableMinor]).toEqual([600_000, 600_000]);
      e.advance('2030-03-02');
      expect(e.issuedOn('2030-03-01').subtotalMinor).toBe(600_000); // 150,000 + 300,000 + 150,000
      expect(e.s.held).toEqual([]);
      expect(e.s.overCap).toEqual([]);
      expect(e.s.billedByLine[L1]).toBe(2_100_000);
      expect(deliveryView(e.s, e.d, e.today).totals).toEqual({ BILLABLE: 2_100_000, DEFERRED: 0, CAPPED: 0, EXCLUDED: 0, delivered: 2_100_000 });
    });

    it('refuses what delivery cannot amend, naming why', () => {
      const e = january();
      const base = { requestId: 'co-r', by: 'ops', baseVersion: 1, effectiveDate: '2030-02-10', reason: 'why' };
      const before = structuredClone(e.s);
      const refused = (changes: unknown, over: Partial<AmendContractRequest> = {}) => refusalOf(() => e.amend({ ...base, ...over, changes } as AmendContractRequest));
      expect(refused([{ op: 'UPDATE_LINE', lineId: L1, set: { billingModel: 'RETAINER' } }])).toBe('DEAL.AMENDMENT_UNSUPPORTED');
      expect(refused([{ op: 'UPDATE_LINE', lineId: L1, set: { taxCode: 'SAAS' } }])).toBe('DEAL.AMENDMENT_UNSUPPORTED');
      expect(refused([{ op: 'ADD_LINE', line: snapshot.contract.lines[0] }])).toBe('DEAL.AMENDMENT_LINE_EXISTS'); // a line is added under a new id (test/engagement/scope.test.ts)
      expect(refused([{ op: 'UPDATE_LINE', lineId: L1, set: {} }])).toBe('DEAL.AMENDMENT_INVALID'); // nothing to change
      expect(refused([{ op: 'DELETE_LINE', lineId: L1 }])).toBe('DEAL.AMENDMENT_INVALID');
      expect(refused([])).toBe('DEAL.AMENDMENT_INVALID');
      expect(refused([{ op: 'UPDATE_LINE', lineId: L1, set: { cap: { notToExceed: { amountMinor: 2_000_000, currency: 'EUR' }, toleranceBp: 0 } } }])).toBe('DEAL.AMENDMENT_INVALID');
      expect(refused([{ op: 'SET_TERMS', set: { endDate: '2029-12-31' } }])).toBe('DEAL.AMENDMENT_INVALID'); // ends before it starts
      expect(refused([{ op: 'UPDATE_LINE', lineId: L1, set: { rateCardRef: 'RC-NOPE' } }])).toBe('DEAL.AMENDMENT_INVALID'); // not in the rule set
      expect(refused([{ op: 'UPDATE_LINE', lineId: L1, set: { discountBp: 500 } }], { effectiveDate: '10/02/2030' })).toBe('DEAL.AMENDMENT_INVALID');
      expect(refused([{ op: 'UPDATE_LINE', lineId: L1, set: { discountBp: 500 } }], { by: ' ' })).toBe('DEAL.ACTION_INVALID');
      expect(refused([{ op: 'UPDATE_LINE', lineId: L1, set: { discountBp: 500 } }], { reason: '' })).toBe('DEAL.ACTION_INVALID');
      expect(refused([{ op: 'UPDATE_LINE', lineId: L1, set: { discountBp: 500 } }], { requestId: ' ' })).toBe('DEAL.ACTION_INVALID');
      expect(e.s).toEqual(before);
      // A request id that already applied one amendment cannot carry another.
      e.amend({ ...base, changes: [{ op: 'SET_TERMS', set: { poNumber: 'PO-9' } }] });
      expect(refused([{ op: 'SET_TERMS', set: { poNumber: 'PO-10' } }], { baseVersion: 2 })).toBe('DEAL.REQUEST_ID_REUSED');
      expect(e.s.contract!.poNumber).toBe('PO-9');
    });

    it('a rate change from an effective date re-rates work dated from then on only, whenever it arrives', () => {
      const e = january();
      const jan = e.s.invoices[0]!;
      // Feb work: TE-5 on Feb 5 (8 h), reported late, after the change; TE-6 on Feb 20 (8 h).
      e.advance('2030-02-10');
      // 10 % off from Feb 15, on a line with room (cap raised to $25,000.00 too).
      const change: AmendContractRequest = {
        requestId: 'co-rate', by: 'ops', baseVersion: 1, effectiveDate: '2030-02-15', reason: 'rate concession',
        changes: [{ op: 'UPDATE_LINE', lineId: L1, set: { discountBp: 1_000, cap: { notToExceed: usd(2_500_000), toleranceBp: 0 } } }],
      };
      e.amend(change);
      expect(e.s.rateHistory).toEqual({ [L1]: [{ until: '2030-02-15', rateCardRef: 'RC-STD', discountBp: 0 }] });
      e.deliver('2030-02-25', batch('feb', [time('5', T1, '2030-02-05', 480), time('6', T1, '2030-02-20', 480)]));
      e.advance('2030-03-02');
      // Mar 1: held January parts first (at the rates they were valued at: $6,000.00), released by the Feb 10 amendment onto
      // the line's next regular invoice (February's), on the $150.00 line with TE-5 8 h x $150.00 = $1,200.00 (dated before
      // Feb 15: old terms); TE-6 8 h x $150.00 x 90 % = $1,080.00 on the discounted line.
      const feb = e.invoice((i) => i.period.start === '2030-02-01');
      const febRequest = e.issued.find((x) => x.request.invoice.id === feb.id)!.request;
      expect(febRequest.invoice.lines.map((l) => [l.amount.amountMinor, l.sourceItemIds]).sort()).toEqual([
        [108_000, ['TE-6']],
        [720_000, ['TE-2', 'TE-3', 'TE-4', 'TE-5']], // 600,000 + 120,000
      ]);
      expect(feb.subtotalMinor).toBe(828_000); // 600,000 + 120,000 + 108,000
      expect(e.issued.map((x) => x.request.invoice.subtotal.amountMinor)).toEqual([1_500_000, 828_000]);
      // Work already invoiced is not re-rated: the January invoice is as issued, and no credit memo exists.
      expect(e.invoice((i) => i.id === jan.id)).toEqual(jan);
      expect(e.s.creditMemos).toBeUndefined();

      // A second rate change effective before the first one is refused; one after it is taken.
      const next = { ...change, requestId: 'co-rate-2', baseVersion: 2, changes: [{ op: 'UPDATE_LINE' as const, lineId: L1, set: { discountBp: 2_000 } }] };
      expect(refusalOf(() => amendmentFor(e.s, e.d, { ...next, effectiveDate: '2030-02-14' }))).toBe('DEAL.AMENDMENT_INVALID');
      e.amend({ ...next, effectiveDate: '2030-03-15' });
      expect(e.s.rateHistory![L1]).toEqual([
        { until: '2030-02-15', rateCardRef: 'RC-STD', discountBp: 0 },
        { until: '2030-03-15', rateCardRef: 'RC-STD', discountBp: 1_000 },
      ]);
      // March: 1 h on Mar 10 at 10 % off = $135.00, 1 h on Mar 20 at 20 % off = $120.00; and 1 h of Feb 10, reported late,
      // at the terms before Feb 15 = $150.00, on a late February invoice of its own.
      e.deliver('2030-03-25', batch('mar', [time('7', T1, '2030-03-10', 60), time('8', T1, '2030-03-20', 60), time('9', T1, '2030-02-10', 60)]));
      e.advance('2030-04-02');
      const march = e.invoice((i) => i.period.start === '2030-03-01');
      expect(march.subtotalMinor).toBe(25_500); // 13,500 + 12,000
      const lateFeb = e.invoice((i) => i.period.start === '2030-02-01' && i.id !== feb.id);
      expect(lateFeb.subtotalMinor).toBe(15_000);
    });
  });
});

describe('credits', () => {
  /*
   * Credit memos against a posted invoice. 2030, LE-US, customer in New York:
   *   L1 ADVISORY_TM $150.00/h (cap 100 h), L2 EXPENSES (TRAVEL at cost).
   * January: TE-1, TE-2, TE-3 10 h each = $1,500.00 each, on one rate line of $4,500.00; EX-1 travel $420.00.
   * Feb 1 invoice: $4,500.00 taxed 8.875 % = $399.375 -> $399.38 (one line, half up); travel not taxed;
   * total 450,000 + 39,938 + 42,000 = 531,938.
   * The ERP returns tax per credited taxable line (8.875 %, half up) but never more than the cap the core gives it.
   */
  const OPP = 'OPP-CRD';
  const L1 = `CTR-${OPP}-L1`;
  const L2 = `CTR-${OPP}-L2`;

  const snapshot = snapshotFor(OPP, [advisory('QL-1'), expenses('QL-2')], '2030-01-01');

  function invoiced(options = {}, patched?: (id: string) => boolean) {
    const d = patched ? dealOf({ dealId: `deal-${OPP}`, opportunityId: OPP, snapshot, setup: setupFor(snapshot), ids: { erpCustomerId: 'C' }, options, patched }) : dealFor({ opportunityId: OPP, snapshot, options });
    const e = new Shell(d, '2030-01-02');
    e.deliver('2030-01-30', batch('jan', [time('1', `${L1}-T1`, '2030-01-05', 600), time('2', `${L1}-T1`, '2030-01-12', 600), time('3', `${L1}-T1`, '2030-01-19', 600), expense('1', 'TRAVEL', '2030-01-20', 42_000)]));
    e.advance('2030-02-03');
    const inv = e.s.invoices[0]!;
    const [timeLine, travelLine] = inv.lines;
    return { e, inv, timeLine: timeLine!.id, travelLine: travelLine!.id };
  }

  const req = (requestId: string, invoiceId: string, lines: CreditInvoiceRequest['lines']): CreditInvoiceRequest => ({ requestId, invoiceId, by: 'ar@firm.example', reason: 'DISPUTE', note: 'disputed', lines });

  describe('credit memos', () => {
    it('credits named items, whole lines and the rest of a line; each item once; tax returned never beyond what the invoice carries', () => {
      const { e, inv, timeLine, travelLine } = invoiced();
      expect([inv.subtotalMinor, inv.taxMinor, inv.totalMinor]).toEqual([492_000, 39_938, 531_938]);
      expect(inv.lines.map((l) => [l.contractLineId, l.amountMinor])).toEqual([[L1, 450_000], [L2, 42_000]]);

      // TE-1 by name: $1,500.00 + tax 150,000 x 8.875 % = 13,312.5 -> 13,313. The ERP may return up to the invoice's 39,938.
      const m1 = e.credit(req('c-1', inv.number, [{ invoiceLineId: timeLine, sourceItemIds: ['TE-1'] }]));
      expect([m1.subtotalMinor, m1.taxMinor, m1.totalMinor]).toEqual([150_000, 13_313, 163_313]);
      expect(m1.lines.map((l) => [l.originalInvoiceLineId, l.contractLineId, l.sourceItemIds, l.amountMinor])).toEqual([[timeLine, L1, ['TE-1'], 150_000]]);
      expect(e.creditPostings[0]!.invoice).toEqual({ id: inv.id, number: inv.number, externalId: inv.externalId, taxCapMinor: 39_938, taxableLines: { [timeLine]: 'SERVICES' } });

      // The travel line whole (no items named): $420.00, no tax (not a taxable line); the cap is now 39,938 - 13,313 = 26,625.
      const m2 = e.credit(req('c-2', inv.id, [{ invoiceLineId: travelLine }]));
      expect([m2.subtotalMinor, m2.taxMinor, m2.lines[0]!.sourceItemIds]).toEqual([42_000, 0, ['EX-1']]);
      expect(e.creditPostings[1]!.invoice.taxCapMinor).toBe(26_625);

      // TE-2 by name: 13,313 again (cap 26,625 -> 13,312 left).
      const m3 = e.credit(req('c-3', inv.number, [{ invoiceLineId: timeLine, sourceItemIds: ['TE-2'] }]));
      expect([m3.subtotalMinor, m3.taxMinor]).toEqual([150_000, 13_313]);

      // The time line whole: only TE-3 is left to credit ($1,500.00); its 13,313 of tax is capped at the 13,312 the invoice still carries.
      const m4 = e.credit(req('c-4', inv.number, [{ invoiceLineId: timeLine }]));
      expect(e.creditPostings[3]!.invoice.taxCapMinor).toBe(13_312); // 39,938 - 13,313 - 0 - 13,313
      expect([m4.subtotalMinor, m4.taxMinor, m4.totalMinor, m4.lines[0]!.sourceItemIds]).toEqual([150_000, 13_312, 163_312, ['TE-3']]);

      // Everything is credited: 163,313 + 42,000 + 163,313 + 163,312 = 531,938 = the invoice's total; tax 13,313 x 2 + 13,312 = 39,938.
      const after = e.invoice((i) => i.id === inv.id);
      expect([after.creditedMinor, after.status, after.creditMemos]).toEqual([531_938, 'CREDITED', ['CM-1', 'CM-2', 'CM-3', 'CM-4']]);
      expect(refusalOf(() => e.credit(req('c-5', inv.number, [{ invoiceLineId: timeLine }])))).toBe('DEAL.ALREADY_CREDITED'); // every item of the line
      expect(refusalOf(() => e.credit(req('c-6', inv.number, [{ invoiceLineId: timeLine, sourceItemIds: ['TE-3'] }])))).toBe('DEAL.ALREADY_CREDITED');
      // The state keeps no copy of posted invoices: the basis comes from the audit trail and the memos issued.
      expect(e.s.creditBasis).toBeUndefined();
      expect(creditBasisFrom(e.s, e.d, after, e.audit.get(inv.number)!)).toMatchObject({ credited: { [timeLine]: ['TE-1', 'TE-2', 'TE-3'], [travelLine]: ['EX-1'] }, taxCreditedMinor: 39_938 });

      // The CRM heard each credit's status: open while something was left, VOID once nothing is owed.
      expect(e.commandsOf('syncInvoiceStatus').map((c) => [c.invoiceNumber, c.status])).toEqual([
        [inv.number, 'POSTED'],
        [inv.number, 'POSTED'],
        [inv.number, 'POSTED'],
        [inv.number, 'VOID'],
      ]);

      // A fully credited invoice is settled: the deal closes without a payment.
      const summary = e.runToClose('2031-01-02');
      expect(summary.closedOn).toBe('2031-01-01');
      expect(summary.credited).toEqual({ memos: 4, subtotalMinor: 492_000, taxMinor: 39_938, totalMinor: 531_938 });
      expect(summary.collectedMinor).toBe(0);
      expect(summary.leakage).toEqual({ cappedMinor: 0, excludedMinor: 0, rejectedMinor: 0, writtenOffMinor: 0, creditedMinor: 492_000, totalMinor: 492_000 });
    });

    it('refuses unknown lines and items, duplicates, bad requests and invoices it cannot credit; nothing changes', () => {
      const { e, inv, timeLine, travelLine } = invoiced();
      const before = structuredClone(e.s);
      const refused = (r: CreditInvoiceRequest) => refusalOf(() => e.credit(r));
      expect(refused(req('x', inv.number, [{ invoiceLineId: `${inv.id}-9` }]))).toBe('DEAL.CREDIT_UNKNOWN_LINE');
      expect(refused(req('x', inv.number, [{ invoiceLineId: timeLine, sourceItemIds: ['TE-9'] }]))).toBe('DEAL.CREDIT_SOURCE_NOT_ON_LINE');
      expect(refused(req('x', inv.number, [{ invoiceLineId: travelLine, sourceItemIds: ['TE-1'] }]))).toBe('DEAL.CREDIT_SOURCE_NOT_ON_LINE'); // on another line
      expect(refused(req('x', inv.number, [{ invoiceLineId: timeLine, sourceItemIds: ['TE-1', 'TE-1'] }]))).toBe('DEAL.ACTION_INVALID');
      expect(refused(req('x', inv.number, [{ invoiceLineId: timeLine }, { invoiceLineId: timeLine }]))).toBe('DEAL.ACTION_INVALID');
      expect(refused(req('x', inv.number, [{ invoiceLineId: timeLine, sourceItemIds: [] }]))).toBe('DEAL.ACTION_INVALID');
      expect(refused(req('x', inv.number, []))).toBe('DEAL.ACTION_INVALID');
      expect(refused({ ...req('x', inv.number, [{ invoiceLineId: timeLine }]), note: ' ' })).toBe('DEAL.ACTION_INVALID');
      expect(refused({ ...req('x', inv.number, [{ invoiceLineId: timeLine }]), reason: 'GOODWILL' as 'DISPUTE' })).toBe('DEAL.ACTION_INVALID');
      expect(refused(req('x', 'INV-NOPE', [{ invoiceLineId: timeLine }]))).toBe('DEAL.INVOICE_UNKNOWN');
      expect(refusalOf(() => priorCredit(e.s, req(' ', inv.number, [{ invoiceLineId: timeLine }])))).toBe('DEAL.ACTION_INVALID');
      expect(e.s).toEqual(before);
      expect(e.creditPostings).toEqual([]);
      // A request id is bound to what it asked for.
      e.credit(req('c-1', inv.number, [{ invoiceLineId: timeLine, sourceItemIds: ['TE-1'] }]));
      expect(refusalOf(() => e.credit(req('c-1', inv.number, [{ invoiceLineId: timeLine, sourceItemIds: ['TE-2'] }])))).toBe('DEAL.REQUEST_ID_REUSED');
      expect(refusalOf(() => e.credit(req('c-1', 'INV-OTHER', [{ invoiceLineId: timeLine, sourceItemIds: ['TE-1'] }])))).toBe('DEAL.REQUEST_ID_REUSED');
      expect(e.s.creditMemos).toHaveLength(1);
    });

    it('a run from before credit-basis-from-audit credits from the basis its state kept; without one it refuses', () => {
      const { e, inv, timeLine } = invoiced({}, (id) => id !== 'credit-basis-from-audit');
      expect(Object.keys(e.s.creditBasis!)).toEqual([inv.id]);
      const m = e.credit(req('c-1', inv.number, [{ invoiceLineId: timeLine, sourceItemIds: ['TE-1'] }]));
      expect([m.subtotalMinor, m.taxMinor]).toEqual([150_000, 13_313]);
      expect(e.s.creditBasis![inv.id]).toMatchObject({ credited: { [timeLine]: ['TE-1'] }, taxCreditedMinor: 13_313 });
      expect(refusalOf(() => e.credit(req('c-2', inv.number, [{ invoiceLineId: timeLine, sourceItemIds: ['TE-1'] }])))).toBe('DEAL.ALREADY_CREDITED');
      // An invoice the old run posted without a kept basis (issued before bases were kept) cannot be credited here.
      delete e.s.creditBasis![inv.id];
      expect(refusalOf(() => e.credit(req('c-3', inv.number, [{ invoiceLineId: timeLine, sourceItemIds: ['TE-2'] }])))).toBe('DEAL.CREDIT_BASIS_MISSING');
    });

    it('a written-off invoice and an invoice awaiting approval are not credited; a Stripe invoice is credited in Stripe', () => {
      const { e, inv, timeLine } = invoiced();
      e.writeOff({ invoiceId: inv.id, by: 'controller', reason: 'uncollectable' });
      expect(refusalOf(() => e.credit(req('w', inv.number, [{ invoiceLineId: timeLine }])))).toBe('DEAL.CREDIT_UNSUPPORTED');

      const held = new Shell(dealFor({ opportunityId: 'OPP-H', snapshot: snapshotFor('OPP-H', [transformation()], '2030-01-01'), options: { approvalAboveMinor: 0 } }), '2030-01-02');
      held.deliver('2030-01-10', batch('m1', [milestone('CTR-OPP-H-L1-M1', 'accepted', '2030-01-10T14:00:00Z')]));
      const draft = held.s.invoices[0]!;
      expect(draft.status).toBe('AWAITING_APPROVAL');
      expect(refusalOf(() => held.credit(req('h', draft.id, [{ invoiceLineId: draft.lines[0]!.id }])))).toBe('DEAL.INVOICE_UNKNOWN');

      const stripe = invoiced({ invoiceSystem: 'stripe', billingCustomerId: 'cus_1' });
      expect(stripe.inv.system).toBe('stripe');
      stripe.e.credit(req('s', stripe.inv.number, [{ invoiceLineId: stripe.timeLine }]));
      expect(stripe.e.creditPostings.at(-1)!.invoice).toMatchObject({ system: 'stripe', externalId: stripe.inv.externalId });
    });

    it('a credit that clears an overdue balance resolves its attention item; one on a paid invoice leaves it overpaid', () => {
      const { e, inv, timeLine, travelLine } = invoiced({ overdueGraceDays: 10 });
      // Due Feb 1 + 30 = Mar 3; overdue from Mar 13. The customer pays everything but the travel ($420.00).
      e.payments('2030-03-01', pay('p-1', { invoiceNumber: inv.number }, 489_938)); // 531,938 - 42,000
      e.advance('2030-03-13');
      expect(e.attention()).toEqual([['OVERDUE', inv.id]]);
      e.credit(req('c-travel', inv.number, [{ invoiceLineId: travelLine }]));
      expect(e.s.attention).toEqual([]);
      expect(e.invoice((i) => i.id === inv.id).status).toBe('PAID'); // 531,938 - 42,000 credited = 489,938 paid
      // Crediting TE-1 too: 489,938 paid > 531,938 - 42,000 - 163,313 = 326,625 due: OVERPAID, which the CRM sees as PAID.
      e.credit(req('c-te1', inv.number, [{ invoiceLineId: timeLine, sourceItemIds: ['TE-1'] }]));
      expect(e.invoice((i) => i.id === inv.id).status).toBe('OVERPAID');
      expect(e.commandsOf('syncInvoiceStatus').map((c) => c.status)).toEqual(['PAID', 'PAID']);
    });
  });
});

describe('cash (and test/workflows/stripe-billing.test.ts)', () => {
  /*
   * Cash on one T&M invoice. 2030, LE-US, customer in New York; L1 ADVISORY_TM $150.00/h.
   * January: TE-1 10 h = $1,500.00, invoiced Feb 1: tax 150,000 x 8.875 % = 13,312.5 -> 13,313; total 163,313.
   * Net 30: due Mar 3 (Feb 1 + 30 days, February 2030 has 28); with 10 days' grace overdue from Mar 13.
   */
  const OPP = 'OPP-CASH';
  const L1 = `CTR-${OPP}-L1`;

  function invoiced(options = {}) {
    const e = new Shell(dealFor({ opportunityId: OPP, snapshot: snapshotFor(OPP, [advisory('QL-1')], '2030-01-01'), options: { overdueGraceDays: 10, ...options } }), '2030-01-02');
    e.deliver('2030-01-20', batch('jan', [time('1', `${L1}-T1`, '2030-01-10', 600)]));
    e.advance('2030-02-02');
    const inv = e.s.invoices[0]!;
    expect([inv.totalMinor, inv.dueDate]).toEqual([163_313, '2030-03-03']);
    return { e, inv, n: { invoiceNumber: inv.number } };
  }

  describe('payments and refunds', () => {
    it('a partial payment, the rest, and the same event again: applied once each', () => {
      const { e, inv, n } = invoiced();
      e.payments('2030-02-10', pay('evt-1', n, 63_313));
      expect(e.invoice((i) => i.id === inv.id)).toMatchObject({ paidMinor: 63_313, status: 'PARTIALLY_PAID' });
      e.payments('2030-02-12', pay('evt-2', n, 100_000), pay('evt-2', n, 100_000));
      e.payments('2030-02-13', pay('evt-1', n, 63_313)); // a redelivered webhook, a day later
      expect(e.invoice((i) => i.id === inv.id)).toMatchObject({ paidMinor: 163_313, status: 'PAID' }); // 63,313 + 100,000
      expect(e.commandsOf('recordPayment').map((p) => [p.eventId, p.appliedMinor, p.paidMinor, p.status, p.totalMinor, p.dueDate])).toEqual([
        ['evt-1', 63_313, 63_313, 'PARTIALLY_PAID', 163_313, '2030-03-03'],
        ['evt-2', 100_000, 163_313, 'PAID', 163_313, '2030-03-03'],
      ]);
      expect(e.s.payments.seen).toEqual(['evt-1', 'evt-2']);
    });

    it('refunds are cumulative per charge: only what is new applies, charge by charge', () => {
      const { e, inv, n } = invoiced();
      e.payments('2030-02-10', pay('evt-p1', n, 100_000, 'payment_intent.succeeded', { paymentIntentId: 'pi_1' }), pay('evt-p2', n, 63_313, 'payment_intent.succeeded', { paymentIntentId: 'pi_2' }));
      // ch_1: $50.00 refunded, then $80.00 in all (applies $30.00 more), then $80.00 again in a later event (applies nothing).
      e.payments('2030-02-15', pay('evt-r1', n, 5_000, 'charge.refunded', { chargeId: 'ch_1' }));
      e.payments('2030-02-16', pay('evt-r2', n, 8_000, 'charge.refunded', { chargeId: 'ch_1' }));
      e.payments('2030-02-17', pay('evt-r3', n, 8_000, 'charge.refunded', { chargeId: 'ch_1' }));
      // ch_2: $20.00 of its own; a refund without a charge id is keyed by its payment intent.
      e.payments('2030-02-18', pay('evt-r4', n, 2_000, 'charge.refunded', { chargeId: 'ch_2' }), pay('evt-r5', n, 1_000, 'charge.refunded', { paymentIntentId: 'pi_2' }));
      // Refunded 8,000 + 2,000 + 1,000 = 11,000; paid 163,313 - 11,000 = 152,313.
      expect(e.invoice((i) => i.id === inv.id)).toMatchObject({ paidMinor: 152_313, refundedMinor: 11_000, status: 'PARTIALLY_PAID' });
      expect(e.s.payments.refundedByCharge).toEqual({ ch_1: 8_000, ch_2: 2_000, pi_2: 1_000 });
      expect(e.commandsOf('recordPayment').map((p) => [p.eventId, p.kind, p.appliedMinor, p.status])).toEqual([
        ['evt-p1', 'payment_intent.succeeded', 100_000, 'PARTIALLY_PAID'],
        ['evt-p2', 'payment_intent.succeeded', 63_313, 'PAID'],
        ['evt-r1', 'charge.refunded', -5_000, 'PARTIALLY_PAID'],
        ['evt-r2', 'charge.refunded', -3_000, 'PARTIALLY_PAID'],
        // evt-r3: nothing new, no record
        ['evt-r4', 'charge.refunded', -2_000, 'PARTIALLY_PAID'],
        ['evt-r5', 'charge.refunded', -1_000, 'PARTIALLY_PAID'],
      ]);
    });

    it('a payment for an invoice not posted yet waits unmatched, counted as unapplied; it applies once the invoice posts', () => {
      const e = new Shell(dealFor({ opportunityId: OPP, snapshot: snapshotFor(OPP, [advisory('QL-1')], '2030-01-01') }), '2030-01-02');
      e.deliver('2030-01-20', batch('jan', [time('1', `${L1}-T1`, '2030-01-10', 600)]));
      // Nothing is invoiced before February; a payment naming the number the invoice will get arrives early.
      expect(e.s.invoices).toEqual([]);
      e.payments('2030-01-25', pay('evt-early', { invoiceNumber: 'INV-1001' }, 163_313));
      expect(e.s.payments.unmatched.map((p) => p.eventId)).toEqual(['evt-early']);
      expect(deliveryView(e.s, e.d, e.today).unappliedMinor).toBe(163_313);
      expect(e.commandsOf('recordPayment')).toEqual([]);
      // Feb 1 the invoice posts as INV-1001 and the waiting payment applies in the same pass.
      e.advance('2030-02-01');
      expect(e.s.invoices[0]!).toMatchObject({ number: 'INV-1001', paidMinor: 163_313, status: 'PAID' });
      expect(e.s.payments.unmatched).toEqual([]);
      expect(deliveryView(e.s, e.d, e.today).unappliedMinor).toBe(0);
    });

    it('a payment in another currency never applies: it stays unmatched, counted as unapplied, and the deal cannot close', () => {
      const { e, inv, n } = invoiced();
      e.payments('2030-02-10', pay('evt-eur', n, 163_313, 'invoice.paid', { currency: 'EUR' }));
      e.payments('2030-02-11', pay('evt-unknown', { invoiceNumber: 'INV-NOPE' }, 5_000), pay('evt-unknown-refund', { invoiceNumber: 'INV-NOPE' }, 1_000, 'charge.refunded', { chargeId: 'ch_9' }));
      expect(e.invoice((i) => i.id === inv.id)).toMatchObject({ paidMinor: 0, status: 'POSTED' });
      expect(e.s.payments.unmatched.map((p) => p.eventId)).toEqual(['evt-eur', 'evt-unknown', 'evt-unknown-refund']);
      // Unapplied: 163,313 + 5,000 (refunds are not money held).
      expect(deliveryView(e.s, e.d, e.today).unappliedMinor).toBe(168_313);
      // Paid in USD, the invoice is settled; the unmatched events still hold the deal open after the contract ends.
      e.payments('2030-02-12', pay('evt-usd', n, 163_313));
      e.advance('2031-01-05');
      expect(e.closed).toBe(false);
      expect(canClose(e.s, e.d, e.today)).toBe(false);
      e.s.payments.unmatched = [];
      expect(canClose(e.s, e.d, e.today)).toBe(true);
    });

    it('an over-payment is OVERPAID and its excess is unapplied cash', () => {
      const { e, inv, n } = invoiced();
      e.payments('2030-02-10', pay('evt-1', n, 170_000));
      expect(e.invoice((i) => i.id === inv.id)).toMatchObject({ paidMinor: 170_000, status: 'OVERPAID' });
      expect(deliveryView(e.s, e.d, e.today).unappliedMinor).toBe(6_687); // 170,000 - 163,313
      expect(e.commandsOf('recordPayment')[0]!.status).toBe('PAID');
    });

    it('receive takes each payment event once, in any batch', () => {
      const { e, n } = invoiced();
      const ev = pay('evt-x', n, 1_000);
      expect(receive(e.s, e.d, [], [ev, ev])).toBe(true);
      expect(receive(e.s, e.d, [], [ev])).toBe(false);
      expect(e.s.payments.unmatched).toHaveLength(1);
      expect(applyPayments(e.s, e.d, e.today).commands).toHaveLength(1);
      expect(applyPayments(e.s, e.d, e.today).commands).toHaveLength(0);
    });
  });

  describe('overdue invoices', () => {
    it('an invoice open after its due date + grace raises OVERDUE once; a partial payment keeps it; paying the rest resolves it', () => {
      const { e, inv, n } = invoiced();
      e.at('2030-03-12', {}); // a pass the day before (something else arrived)
      expect(e.s.attention).toEqual([]); // due Mar 3 + 10 = Mar 13
      e.advance('2030-03-13');
      expect(e.attention()).toEqual([['OVERDUE', inv.id]]);
      expect(e.s.attention[0]!.message).toBe(`invoice ${inv.number} is overdue: 163313 minor units open since 2030-03-03`);
      expect(wantedStage(e.s)).toBe('NEEDS_ATTENTION');
      e.payments('2030-03-20', pay('evt-1', n, 100_000));
      expect(e.attention()).toEqual([['OVERDUE', inv.id]]);
      e.payments('2030-03-25', pay('evt-2', n, 63_313));
      expect(e.s.attention).toEqual([]);
      expect(wantedStage(e.s)).toBe('IN_DELIVERY');
      e.advance('2030-06-01');
      expect(e.notices.filter((x) => x.kind === 'attentionRaised')).toHaveLength(1);
    });

    it('a write-off resolves the overdue item and tells the CRM the invoice is void', () => {
      const { e, inv, n } = invoiced();
      e.payments('2030-02-20', pay('evt-1', n, 150_000));
      e.advance('2030-03-13');
      expect(e.attention()).toEqual([['OVERDUE', inv.id]]);
      const w = e.writeOff({ invoiceId: inv.id, by: 'controller', reason: 'tax short-paid' });
      expect([w.writtenOffMinor, w.status]).toEqual([13_313, 'WRITTEN_OFF']); // 163,313 - 150,000
      expect(e.s.attention).toEqual([]);
      expect(e.commandsOf('syncInvoiceStatus')).toEqual([{ opportunityId: OPP, invoiceNumber: inv.number, status: 'VOID', totalMinor: 163_313, paidMinor: 150_000, currency: 'USD', dueDate: '2030-03-03' }]);
      // Written off is settled: the deal closes at the contract's end.
      expect(e.runToClose('2031-01-02').leakage).toEqual({ cappedMinor: 0, excludedMinor: 0, rejectedMinor: 0, writtenOffMinor: 13_313, totalMinor: 13_313 });
    });
  });

  /*
   * test/workflows/stripe-billing.test.ts on the core: invoiceSystem 'stripe'.
   * January: 10 h + 6 h = 16 h x $150.00 = $2,400.00, invoiced Feb 1; tax $2,400.00 x 8.875 % = $213.00 -> total $2,613.00.
   */
  describe('a contract billed in Stripe', () => {
    it("issues the invoice in Stripe, takes Stripe's invoice.paid by Stripe's invoice id, and tells the CRM", () => {
      const e = new Shell(dealFor({ opportunityId: 'OPP-STR', snapshot: snapshotFor('OPP-STR', [advisory('QL-1')], '2030-01-01'), options: { invoiceSystem: 'stripe', billingCustomerId: 'cus_STR' } }), '2030-01-02');
      e.deliver('2030-01-20', batch('kantata:jan', [time('1', 'CTR-OPP-STR-L1-T1', '2030-01-10', 600), time('2', 'CTR-OPP-STR-L1-T1', '2030-01-17', 360)]));
      e.advance('2030-02-02');
      const issued = e.s.invoices;
      expect(issued.map((i) => [i.issueDate, i.subtotalMinor, i.taxMinor, i.totalMinor, i.system, i.status])).toEqual([['2030-02-01', 240_000, 21_300, 261_300, 'stripe', 'POSTED']]);
      const inv = issued[0]!;
      expect(inv.externalId).toBe('in_1001');
      // Stripe's invoice.paid names Stripe's invoice id only.
      e.payments('2030-02-10', pay('evt_str_1', { stripeInvoiceId: inv.externalId! }, 261_300));
      expect(e.s.invoices[0]).toMatchObject({ paidMinor: 261_300, status: 'PAID' });
      expect(e.commandsOf('recordPayment')).toEqual([
        { dealId: 'deal-OPP-STR', opportunityId: 'OPP-STR', invoiceNumber: inv.number, eventId: 'evt_str_1', kind: 'invoice.paid', appliedMinor: 261_300, currency: 'USD', status: 'PAID', totalMinor: 261_300, paidMinor: 261_300, dueDate: '2030-03-03' },
      ]);
    });
  });
});
