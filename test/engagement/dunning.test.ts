import { deliveryView, dunningDue, nextWake, localDate, type DeliveryOptions, type DunningReminder } from '../../src/engagement';
import { advisory, batch, dealFor, pay, refusalOf, Shell, snapshotFor, time } from './fixtures';

/*
 * Dunning on the core. One T&M deal, 2030, LE-US (America/New_York), net 30:
 *   L1 ADVISORY_TM at RC-STD $150.00/h, cap 200 h.
 *   January: 10 entries x 10 h = 100 h x $150.00 = $15,000.00, invoiced Feb 1 (monthly in arrears).
 *   Tax US-NY 8.875 %: 1,500,000 x 8,875 / 100,000 = 133,125 (half up) -> total 1,633,125.
 *   Due Feb 1 + 30 days = 2030-03-03 (February 2030 has 28 days).
 * The default policy: reminders 7, 14 and 30 days past due (the payment retried at 14 where the
 * invoice is in Stripe), escalation at 30, a promise paused through its date + 3 days:
 *   7 days: 03-10   14 days: 03-17   30 days: 04-02
 * OVERDUE grace is set to 60 days so no other deadline wakes the deal near these dates: the
 * passes on exactly 03-10, 03-17 and 04-02 come from nextWake's dunning dates.
 */
const OPP = 'OPP-DUN';
const L1 = `CTR-${OPP}-L1`;
const TOTAL = 1_633_125;

function invoiced(options: DeliveryOptions = {}) {
  const e = new Shell(dealFor({ opportunityId: OPP, snapshot: snapshotFor(OPP, [advisory('QL-1', 200)], '2030-01-01'), options: { overdueGraceDays: 60, ...options } }), '2030-01-02');
  const entries = Array.from({ length: 10 }, (_, i) => time(String(i + 1), `${L1}-T1`, `2030-01-${String(i + 6).padStart(2, '0')}`, 600));
  e.deliver('2030-01-20', batch('jan', entries));
  e.advance('2030-02-02');
  const inv = e.s.invoices[0]!;
  expect([inv.subtotalMinor, inv.taxMinor, inv.totalMinor, inv.issueDate, inv.dueDate]).toEqual([1_500_000, 133_125, TOTAL, '2030-02-01', '2030-03-03']);
  return { e, inv, n: { invoiceNumber: inv.number } };
}

const reminders = (e: Shell): Array<[string, number, number, number, boolean]> =>
  e.commandsOf('sendDunningReminder').map((r: DunningReminder) => [r.remindedOn, r.step, r.daysPastDue, r.openMinor, r.final]);

describe('dunning: reminders at days past due', () => {
  it('reminds on 03-10, 03-17 and 04-02, naming what is open; a partial payment of 1,000,000 leaves 633,125 in the next; escalates at 30 days', () => {
    const { e, inv, n } = invoiced();
    e.advance('2030-03-09');
    expect(reminders(e)).toEqual([]); // 6 days past due
    // The deal's next wake is the first dunning date, local midnight in New York.
    expect(localDate(nextWake(e.s, e.d, e.today), e.d.tz)).toBe('2030-03-10');
    e.advance('2030-03-10');
    expect(reminders(e)).toEqual([['2030-03-10', 7, 7, TOTAL, false]]);
    const first = e.commandsOf('sendDunningReminder')[0]!;
    expect(first).toEqual({
      dealId: `deal-${OPP}`, opportunityId: OPP, key: `deal-${OPP}:dunning:${inv.id}:7`, invoiceId: inv.id, invoiceNumber: inv.number,
      step: 7, daysPastDue: 7, final: false, dueDate: '2030-03-03', remindedOn: '2030-03-10', openMinor: TOTAL, totalMinor: TOTAL, currency: 'USD',
    });
    // 1,633,125 - 1,000,000 = 633,125 open.
    e.payments('2030-03-12', pay('evt-1', n, 1_000_000));
    e.advance('2030-04-02');
    expect(reminders(e)).toEqual([
      ['2030-03-10', 7, 7, TOTAL, false],
      ['2030-03-17', 14, 14, 633_125, false],
      ['2030-04-02', 30, 30, 633_125, true],
    ]);
    // No retry: the invoice is in the ERP, not in a billing system that can charge it.
    expect(e.commandsOf('retryInvoicePayment')).toEqual([]);
    expect(e.attention()).toEqual([['DUNNING_ESCALATED', inv.id]]);
    expect(e.s.attention[0]!.message).toBe(`invoice ${inv.number} is 30 days past due with 633125 minor units open after 3 reminder(s)`);
    // A KPI notice per reminder.
    expect(e.notices.filter((x) => x.kind === 'dunningReminder').map((x) => x.kind === 'dunningReminder' && [x.step, x.openMinor])).toEqual([[7, TOTAL], [14, 633_125], [30, 633_125]]);
    // The view shows the stage.
    expect(deliveryView(e.s, e.d, e.today).invoices[0]!.dunning).toMatchObject({ stage: 'ESCALATED', escalatedOn: '2030-04-02' });

    // Paid in full: the escalation resolves, dunning stops, the view says SETTLED.
    e.payments('2030-04-10', pay('evt-2', n, 633_125));
    expect(e.s.attention).toEqual([]);
    e.advance('2030-06-30');
    expect(reminders(e)).toHaveLength(3);
    expect(deliveryView(e.s, e.d, e.today).invoices[0]!.dunning!.stage).toBe('SETTLED');
  });

  it('is idempotent: a pass repeated on the same day, or after continue-as-new, reminds nobody twice', () => {
    const { e } = invoiced();
    e.advance('2030-03-10');
    e.pass();
    e.at('2030-03-10', {});
    e.continueAsNew();
    expect(dunningDue(e.s, e.d, '2030-03-10')).toEqual({ commands: [], notices: [] });
    expect(reminders(e)).toEqual([['2030-03-10', 7, 7, TOTAL, false]]);
    e.advance('2030-03-17');
    e.continueAsNew();
    expect(reminders(e).map((r) => r[0])).toEqual(['2030-03-10', '2030-03-17']);
  });

  it('a deal that slept past several steps sends the latest one only and records the others as skipped', () => {
    const { e, inv } = invoiced();
    // As if the worker were down from Mar 4 to Apr 5: one pass, 33 days past due.
    e.today = '2030-04-05';
    e.pass();
    expect(reminders(e)).toEqual([['2030-04-05', 30, 33, TOTAL, true]]);
    expect(e.invoice((i) => i.id === inv.id).dunning).toMatchObject({ skipped: [7, 14], escalatedOn: '2030-04-05' });
  });

  it('sends nothing for invoices paid, written off or credited, nor when dunning is off', () => {
    const paid = invoiced();
    paid.e.payments('2030-03-02', pay('evt-1', paid.n, TOTAL));
    paid.e.advance('2030-06-30');
    expect(reminders(paid.e)).toEqual([]);

    const writtenOff = invoiced();
    writtenOff.e.at('2030-03-05', {});
    writtenOff.e.writeOff({ invoiceId: writtenOff.inv.id, by: 'controller', reason: 'customer insolvent' });
    writtenOff.e.advance('2030-06-30');
    expect(reminders(writtenOff.e)).toEqual([]);

    // Credited in full (subtotal 1,500,000 and its tax 133,125): CREDITED, nothing open.
    const credited = invoiced();
    credited.e.at('2030-03-05', {});
    const memo = credited.e.credit({ requestId: 'c-1', invoiceId: credited.inv.id, by: 'ar', reason: 'ERROR', note: 'billed to the wrong entity', lines: credited.inv.lines.map((l) => ({ invoiceLineId: l.id })) });
    expect(memo.totalMinor).toBe(TOTAL);
    expect(credited.e.invoice((i) => i.id === credited.inv.id).status).toBe('CREDITED');
    credited.e.advance('2030-06-30');
    expect(reminders(credited.e)).toEqual([]);

    const off = invoiced({ dunning: false });
    off.e.advance('2030-06-30');
    expect(reminders(off.e)).toEqual([]);
    expect(off.e.s.attention.map((a) => a.kind)).toEqual(['OVERDUE']); // 03-03 + 60 = 05-02: the old deadline alone
  });

  it('follows a configured policy: reminders at 3 and 10 days, escalation at 20', () => {
    const { e, inv } = invoiced({ dunning: { steps: [{ daysPastDue: 10 }, { daysPastDue: 3 }], escalateAfterDays: 20 } });
    e.advance('2030-03-25');
    expect(reminders(e)).toEqual([
      ['2030-03-06', 3, 3, TOTAL, false],
      ['2030-03-13', 10, 10, TOTAL, true],
    ]);
    expect(e.s.attention.map((a) => [a.kind, a.raisedOn])).toEqual([['DUNNING_ESCALATED', '2030-03-23']]);
    expect(e.invoice((i) => i.id === inv.id).dunning!.escalatedOn).toBe('2030-03-23');
  });
});

describe('dunning: promise to pay', () => {
  const promise = (extra: Partial<{ requestId: string; promisedOn: string; note: string; by: string; invoiceId: string }> = {}, invoiceId = '') => ({
    requestId: 'ptp-1', invoiceId, by: 'ar@firm.example', promisedOn: '2030-03-31', note: 'AP run on the 31st', ...extra,
  });

  it('a promise on 03-15 to pay by 03-31 pauses the 03-17 reminder; paid on 04-02 (in the grace), it is kept and no reminder follows', () => {
    const { e, inv, n } = invoiced();
    e.advance('2030-03-10');
    e.at('2030-03-15', {});
    const r = e.promise(promise({}, inv.id));
    expect(r.promise).toEqual({ requestId: 'ptp-1', by: 'ar@firm.example', promisedOn: '2030-03-31', note: 'AP run on the 31st', madeOn: '2030-03-15', pausedThrough: '2030-04-03' });
    expect(r.invoice.dunning).toMatchObject({ stage: 'PROMISED' });
    // Through the promised date + 3 days: the deal wakes on 04-04 for the promise, nothing before.
    expect(localDate(nextWake(e.s, e.d, e.today), e.d.tz)).toBe('2030-04-01'); // the month boundary (the invoice run)
    e.advance('2030-04-01');
    expect(localDate(nextWake(e.s, e.d, e.today), e.d.tz)).toBe('2030-04-04');
    expect(reminders(e)).toEqual([['2030-03-10', 7, 7, TOTAL, false]]);
    e.payments('2030-04-02', pay('evt-1', n, TOTAL));
    e.advance('2030-06-30');
    expect(reminders(e)).toEqual([['2030-03-10', 7, 7, TOTAL, false]]);
    expect(e.s.attention).toEqual([]);
    expect(e.invoice((i) => i.id === inv.id).dunning!.promises).toEqual([{ ...r.promise, outcome: 'KEPT', endedOn: '2030-04-02' }]);
  });

  it('a broken promise raises PROMISE_BROKEN on 04-04, resumes with the final notice naming 633,125 (14 skipped), and escalates; a new promise resolves the item', () => {
    const { e, inv, n } = invoiced();
    e.advance('2030-03-10');
    e.at('2030-03-15', {});
    e.promise(promise({}, inv.id));
    e.payments('2030-03-31', pay('evt-1', n, 1_000_000)); // part of it
    e.advance('2030-04-03');
    expect(reminders(e)).toHaveLength(1);
    expect(e.s.attention).toEqual([]);
    e.advance('2030-04-04');
    // 04-04 is 32 days past due: steps 14 and 30 are due; the 30-day final notice goes, 14 is skipped.
    expect(reminders(e)).toEqual([
      ['2030-03-10', 7, 7, TOTAL, false],
      ['2030-04-04', 30, 32, 633_125, true],
    ]);
    expect(e.commandsOf('sendDunningReminder')[1]!.brokenPromise).toEqual({ promisedOn: '2030-03-31', by: 'ar@firm.example' });
    expect(e.attention()).toEqual([['PROMISE_BROKEN', inv.id], ['DUNNING_ESCALATED', inv.id]]);
    expect(e.s.attention[0]!.message).toBe(`invoice ${inv.number}: ar@firm.example promised payment by 2030-03-31; 633125 minor units still open on 2030-04-04`);
    const dun = deliveryView(e.s, e.d, e.today).invoices[0]!.dunning!;
    expect(dun).toMatchObject({ stage: 'PROMISE_BROKEN', skipped: [14] });
    expect(dun.promises!.map((p) => [p.outcome, p.endedOn])).toEqual([['BROKEN', '2030-04-04']]);

    // A second promise: allowed once the first is broken; it resolves PROMISE_BROKEN (not the escalation).
    e.at('2030-04-06', {});
    e.promise(promise({ requestId: 'ptp-2', promisedOn: '2030-04-20' }, inv.number));
    expect(e.attention()).toEqual([['DUNNING_ESCALATED', inv.id]]);
    e.payments('2030-04-20', pay('evt-2', n, 633_125));
    expect(e.s.attention).toEqual([]);
    expect(reminders(e)).toHaveLength(2);
  });

  it('refuses what it cannot honour, with codes; the same request id again returns the first promise', () => {
    const { e, inv, n } = invoiced();
    e.at('2030-03-15', {});
    expect(refusalOf(() => e.promise(promise({}, 'INV-NOPE')))).toBe('DEAL.INVOICE_UNKNOWN');
    expect(refusalOf(() => e.promise(promise({ promisedOn: '2030-03-14' }, inv.id)))).toBe('DEAL.PROMISE_DATE_PAST');
    // At most 60 days ahead: 03-15 + 60 = 05-14.
    expect(refusalOf(() => e.promise(promise({ promisedOn: '2030-05-15' }, inv.id)))).toBe('DEAL.PROMISE_TOO_FAR');
    expect(refusalOf(() => e.promise(promise({ by: ' ' }, inv.id)))).toBe('DEAL.ACTION_INVALID');
    const first = e.promise(promise({ promisedOn: '2030-05-14' }, inv.id));
    expect(e.promise(promise({ promisedOn: '2030-05-14' }, inv.id))).toEqual(first);
    expect(e.s.invoices[0]!.dunning!.promises).toHaveLength(1);
    expect(refusalOf(() => e.promise(promise({ requestId: 'ptp-2', promisedOn: '2030-03-20' }, inv.id)))).toBe('DEAL.PROMISE_OPEN');
    e.payments('2030-03-16', pay('evt-1', n, TOTAL));
    expect(refusalOf(() => e.promise(promise({ requestId: 'ptp-3' }, inv.id)))).toBe('DEAL.INVOICE_SETTLED');

    const off = invoiced({ dunning: false });
    expect(refusalOf(() => off.e.promise(promise({ promisedOn: '2030-02-10' }, off.inv.id)))).toBe('DEAL.DUNNING_OFF');
  });
});

describe('dunning: a payment retry in Stripe', () => {
  const stripe: DeliveryOptions = { invoiceSystem: 'stripe', billingCustomerId: 'cus_1' };

  it('at 14 days the payment is retried first; declined, the reminder says so', () => {
    const { e, inv } = invoiced(stripe);
    e.advance('2030-03-17');
    expect(e.commandsOf('retryInvoicePayment')).toEqual([
      { dealId: `deal-${OPP}`, key: `deal-${OPP}:dunning:${inv.id}:14:retry`, invoiceId: inv.id, invoiceNumber: inv.number, externalId: inv.externalId, step: 14, expectedMinor: TOTAL, currency: 'USD' },
    ]);
    expect(reminders(e)).toEqual([
      ['2030-03-10', 7, 7, TOTAL, false],
      ['2030-03-17', 14, 14, TOTAL, false],
    ]);
    expect(e.commandsOf('sendDunningReminder')[1]!.retryDeclined).toBe('Your card was declined.');
    // The order: the retry before the reminder of its step.
    expect(e.commands.filter((c) => c.kind === 'retryInvoicePayment' || c.kind === 'sendDunningReminder').map((c) => c.kind)).toEqual(['sendDunningReminder', 'retryInvoicePayment', 'sendDunningReminder']);
    e.pass();
    expect(e.commandsOf('retryInvoicePayment')).toHaveLength(1);
  });

  it('collected by the retry: no reminder, and the money counts once, from the invoice.paid event', () => {
    const { e, inv } = invoiced(stripe);
    e.retryAnswer = () => ({ outcome: 'PAID' });
    e.advance('2030-03-17');
    expect(reminders(e)).toEqual([['2030-03-10', 7, 7, TOTAL, false]]);
    expect(e.invoice((i) => i.id === inv.id)).toMatchObject({ paidMinor: 0, status: 'POSTED' }); // the answer moves no money
    expect(deliveryView(e.s, e.d, e.today).invoices[0]!.dunning!.stage).toBe('RETRIED');
    // Stripe's invoice.paid names its own invoice id; it is the only payment applied.
    e.payments('2030-03-17', pay('evt_paid', { stripeInvoiceId: inv.externalId! }, TOTAL));
    e.payments('2030-03-18', pay('evt_paid', { stripeInvoiceId: inv.externalId! }, TOTAL)); // redelivered
    expect(e.invoice((i) => i.id === inv.id)).toMatchObject({ paidMinor: TOTAL, status: 'PAID' });
    e.advance('2030-06-30');
    expect(reminders(e)).toHaveLength(1);
    expect(e.s.attention).toEqual([]);
  });

  it('a promise broken on a retry day: the retry first, then one reminder naming both the broken promise and the decline', () => {
    const { e, inv } = invoiced(stripe);
    e.advance('2030-03-10');
    e.at('2030-03-15', {});
    e.promise({ requestId: 'ptp-1', invoiceId: inv.id, by: 'ar@firm.example', promisedOn: '2030-03-20', note: 'wire on the 20th' });
    e.advance('2030-03-23');
    expect(e.commandsOf('retryInvoicePayment')).toEqual([]); // 03-17 fell in the pause (through 03-20 + 3)
    e.advance('2030-03-24');
    expect(e.commandsOf('retryInvoicePayment').map((r) => [r.step, r.expectedMinor])).toEqual([[14, TOTAL]]);
    const last = e.commandsOf('sendDunningReminder')[1]!;
    expect([last.step, last.daysPastDue, last.brokenPromise, last.retryDeclined]).toEqual([14, 21, { promisedOn: '2030-03-20', by: 'ar@firm.example' }, 'Your card was declined.']);
    expect(e.attention()).toEqual([['PROMISE_BROKEN', inv.id]]);
  });

  it('a retry collected on the escalation day holds the escalation 3 days for its invoice.paid event', () => {
    const { e, inv } = invoiced({ ...stripe, dunning: { steps: [{ daysPastDue: 7 }, { daysPastDue: 30, retryPayment: true }] } });
    e.retryAnswer = () => ({ outcome: 'PAID' });
    e.advance('2030-04-04');
    expect(e.commandsOf('retryInvoicePayment').map((r) => r.step)).toEqual([30]);
    expect(reminders(e).map((r) => r[0])).toEqual(['2030-03-10']);
    expect(e.s.attention).toEqual([]); // 04-02 + 3 = 04-05
    e.advance('2030-04-05');
    expect(e.s.attention.map((a) => [a.kind, a.invoiceId, a.raisedOn])).toEqual([['DUNNING_ESCALATED', inv.id, '2030-04-05']]);
  });

  it('no retry when anything was paid outside Stripe (it would charge the whole invoice again)', () => {
    const { e, n } = invoiced(stripe);
    e.payments('2030-03-12', pay('evt-wire', n, 1_000_000));
    e.advance('2030-03-17');
    expect(e.commandsOf('retryInvoicePayment')).toEqual([]);
    expect(reminders(e).map((r) => [r[0], r[3]])).toEqual([['2030-03-10', TOTAL], ['2030-03-17', 633_125]]);
  });
});
