import { dealOf, deliveryView, initialEngagementState, receive, wantedStage, type DeliveryBatch, type DeliveryItem, type Unapproval } from '../../src/engagement';
import { advisory, batch, dealFor, expense, expenses, ruleSet, setupFor, Shell, snapshotFor, time } from './fixtures';

/*
 * Bad data inside otherwise valid deliveries (issue 15): each gets a clear, specific outcome and
 * nothing valid in the same batch is lost or half-done. 2030, LE-US, one contract:
 *   L1 ADVISORY_TM T&M at RC-STD ($150.00/h consultant US), monthly in arrears, cap 100 h x $150.00 + 5 %
 *   L2 EXPENSES monthly in arrears (TRAVEL at cost), USD
 * January's work is invoiced on Feb 1 (the test's issue step numbers it; subtotals are asserted).
 */
const OPP = 'OPP-BAD';
const L1 = `CTR-${OPP}-L1`;
const L2 = `CTR-${OPP}-L2`;
const T1 = `${L1}-T1`;
const T2 = `${L1}-T2`; // Internal admin: not billable
const snapshot = snapshotFor(OPP, [advisory(), expenses()], '2030-01-01');

const engagement = (patched = true) => {
  const d = dealFor({ opportunityId: OPP, snapshot });
  if (!patched) d.patched = () => false;
  return new Shell(d, '2030-01-02');
};
/** RC-STD without its '*' role row: a role the card does not name has no rate. */
const namedRolesOnly = () => {
  const d = dealFor({ opportunityId: OPP, snapshot });
  d.setup.ruleSet = { ...ruleSet, rateCards: ruleSet.rateCards.map((c) => (c.id === 'RC-STD' ? { ...c, rates: c.rates.filter((r) => r.role !== '*') } : c)) };
  return new Shell(d, '2030-01-02');
};
const as = (item: DeliveryItem, patch: Record<string, unknown>): DeliveryItem => ({ ...item, ...patch }) as DeliveryItem;
const withdraw = (batchId: string, ...unapprovals: Unapproval[]): DeliveryBatch => ({ ...batch(batchId, []), unapprovals });
const unapproved = (sourceId: string, at: string, kind: Unapproval['kind'] = 'timeEntry'): Unapproval => ({ kind, sourceId, at });
const subtotals = (e: Shell) => e.s.invoices.map((i) => [i.issueDate, i.subtotalMinor]);

describe('a role the rate card has no row for', () => {
  it('waits DEFERRED.NO_RATE under a NO_RATE attention item naming the entries; the batch\'s other time is billed', () => {
    const e = namedRolesOnly();
    e.deliver('2030-01-20', batch('b1', [time('1', T1, '2030-01-10', 600), as(time('2', T1, '2030-01-11', 120), { role: 'astronaut' }), as(time('3', T1, '2030-01-12', 60), { role: 'astronaut' })]));
    e.advance('2030-02-02');
    // Feb 1: TE-1 only: 600 min x $150.00 / 60 = $1,500.00.
    expect(subtotals(e)).toEqual([['2030-02-01', 150_000]]);
    expect(e.s.pending.time.map((t) => t.id)).toEqual(['TE-2', 'TE-3']);
    expect(e.s.attention.map((a) => [a.id, a.kind, a.contractLineId, a.itemIds, a.message])).toEqual([
      [
        `NO_RATE:${L1}:astronaut:US`,
        'NO_RATE',
        L1,
        ['TE-2', 'TE-3'],
        `2 time entries on line ${L1} for role 'astronaut' in region US have no rate on rate card RC-STD (TE-2, TE-3): not billed, DEFERRED.NO_RATE until an amendment gives the line a rate for them or the PSA withdraws them`,
      ],
    ]);
    expect(wantedStage(e.s)).toBe('NEEDS_ATTENTION');
    expect(e.notices.filter((n) => n.kind === 'attentionRaised')).toHaveLength(1);

    // The PSA withdraws one: the item names the other; withdraws both: it closes, and nothing was billed for them.
    e.deliver('2030-02-05', withdraw('u1', unapproved('2', '2030-02-05T10:00:00Z')));
    expect(e.s.attention.map((a) => [a.id, a.itemIds])).toEqual([[`NO_RATE:${L1}:astronaut:US`, ['TE-3']]]);
    e.deliver('2030-02-06', withdraw('u2', unapproved('3', '2030-02-06T10:00:00Z')));
    expect(e.s.attention).toEqual([]);
    expect(e.s.pending.time).toEqual([]);
    expect(subtotals(e)).toEqual([['2030-02-01', 150_000]]);
  });

  it('closes once an amendment gives the line a rate for them; they are billed then, once', () => {
    const e = namedRolesOnly();
    e.deliver('2030-01-20', batch('b1', [time('1', T1, '2030-01-10', 600), as(time('2', T1, '2030-01-11', 120), { role: 'astronaut' }), as(time('3', T1, '2030-01-12', 60), { role: 'astronaut' })]));
    e.advance('2030-02-02');
    expect(e.s.attention.map((a) => a.kind)).toEqual(['NO_RATE']);
    e.advance('2030-02-10');
    // RC-BLENDED from Jan 11 on: consultant US 6 x $150.00 + architect 3 x $220.00 + pm 1 x $175.00 = $1,735.00 / 10 = $173.50/h for any role.
    e.amend({ requestId: 'rate-astronaut', by: 'ops', baseVersion: 1, effectiveDate: '2030-01-11', reason: 'astronauts bill at the blend', changes: [{ op: 'UPDATE_LINE', lineId: L1, set: { rateCardRef: 'RC-BLENDED' } }] });
    e.advance('2030-03-02');
    expect(e.s.attention).toEqual([]);
    expect(e.s.pending.time).toEqual([]);
    // TE-1 stays at RC-STD ($1,500.00, Feb 1); TE-2 120 min + TE-3 60 min = 180 min x $173.50 / 60 = $520.50 on Mar 1.
    expect(subtotals(e)).toEqual([
      ['2030-02-01', 150_000],
      ['2030-03-01', 52_050],
    ]);
  });

  it("is priced by a card's '*' role row where it has one (RC-STD: any other role $120.00/h): the card's own rate", () => {
    const e = engagement();
    e.deliver('2030-01-20', batch('b1', [as(time('2', T1, '2030-01-11', 120), { role: 'astronaut' })]));
    e.advance('2030-02-02');
    // 120 min x $120.00 / 60 = $240.00
    expect(subtotals(e)).toEqual([['2030-02-01', 24_000]]);
    expect(e.s.attention).toEqual([]);
  });
});

describe('an expense in another currency than the contract', () => {
  it('is EXCLUDED.CURRENCY_MISMATCH (value 0, the amount in the detail); the same batch\'s USD items are billed', () => {
    const e = engagement();
    e.deliver('2030-01-20', batch('b1', [time('1', T1, '2030-01-10', 600), expense('1', 'TRAVEL', '2030-01-12', 42_000), expense('2', 'TRAVEL', '2030-01-13', 30_000, true, 'EUR')]));
    expect(e.s.pending.expenses.map((x) => x.id)).toEqual(['EX-1']);
    e.advance('2030-02-02');
    // Feb 1: $1,500.00 time + $420.00 travel = $1,920.00; the EUR 300.00 is on no invoice.
    expect(subtotals(e)).toEqual([['2030-02-01', 192_000]]);
    expect(e.s.excluded).toEqual([
      { sourceId: 'EX-2', kind: 'EXPENSE', contractLineId: L2, serviceDate: '2030-01-13', reasonCode: 'EXCLUDED.CURRENCY_MISMATCH', amountMinor: 0, detail: 'TRAVEL EUR 300.00 on a USD contract: not billed; re-submit it in USD' },
    ]);
    expect(deliveryView(e.s, e.d, e.today).totals).toEqual({ BILLABLE: 192_000, DEFERRED: 0, CAPPED: 0, EXCLUDED: 0, delivered: 192_000 });
    expect(e.s.pending.expenses).toEqual([]);
  });
});

describe('the same PSA id delivered again', () => {
  it('with the same content changes nothing; with other content the first stands and a conflict names each field', () => {
    const e = engagement();
    const te1 = time('1', T1, '2030-01-10', 600);
    const ex1 = expense('1', 'TRAVEL', '2030-01-12', 42_000);
    e.deliver('2030-01-20', batch('b1', [te1, ex1]));
    // webhooks repeat: notes and approval stamps are not content, nor is an optional field one of them leaves out
    e.deliver('2030-01-21', batch('b2', [as(te1, { notes: 'again', approvedAt: '2030-01-21T08:00:00Z', role: undefined }), ex1]));
    expect(e.s.conflicts).toBeUndefined();
    e.deliver('2030-01-22', { ...batch('b3', [as(te1, { minutes: 300 }), as(ex1, { amountMinor: 40_000, currency: 'EUR' })]), receivedAt: '2030-01-22T09:00:00Z' });
    // the same other content again: still one entry each
    e.deliver('2030-01-23', batch('b4', [as(te1, { minutes: 300 })]));
    expect(e.s.conflicts).toEqual([
      { itemId: 'TE-1', kind: 'TIME', sourceId: '1', batchId: 'b3', receivedAt: '2030-01-22T09:00:00Z', differences: [{ field: 'minutes', kept: '600', received: '300' }], keptState: 'PENDING' },
      { itemId: 'EX-1', kind: 'EXPENSE', sourceId: '1', batchId: 'b3', receivedAt: '2030-01-22T09:00:00Z', differences: [{ field: 'amount', kept: 'USD 420.00', received: 'EUR 400.00' }], keptState: 'PENDING' },
    ]);
    // and logged by the workflow (a warn notice per new conflict)
    expect(e.notices.filter((n) => n.kind === 'warn').map((n) => n.kind === 'warn' && n.fields.itemId)).toEqual(['TE-1', 'EX-1']);
    e.advance('2030-02-02');
    // Billed once, as first delivered: 600 min x $150.00 / 60 = $1,500.00 + $420.00 = $1,920.00.
    expect(subtotals(e)).toEqual([['2030-02-01', 192_000]]);
    e.deliver('2030-02-03', batch('b5', [as(te1, { workDate: '2030-01-09', role: 'architect' })]));
    expect(e.s.conflicts!.at(-1)).toMatchObject({
      itemId: 'TE-1',
      differences: [
        { field: 'workDate', kept: '2030-01-10', received: '2030-01-09' },
        { field: 'role', kept: 'consultant', received: 'architect' },
      ],
      keptState: 'SETTLED',
    });
    expect(deliveryView(e.s, e.d, e.today).conflicts).toHaveLength(3);
    e.advance('2030-03-02');
    expect(subtotals(e)).toEqual([['2030-02-01', 192_000]]);
  });

  it('keeps what it needs across continue-as-new, in one short string per item', () => {
    const e = engagement();
    e.deliver('2030-01-20', batch('b1', [time('1', T1, '2030-01-10', 600), as(time('2', T1, '2030-01-10', 60), { role: 'a|b%7C' })]));
    expect(e.s.delivered).toEqual({ 'T:1': `600|2030-01-10|consultant|${T1}|r-us|true`, 'T:2': `60|2030-01-10|a%7Cb%257C|${T1}|r-us|true` });
    e.continueAsNew();
    e.deliver('2030-01-21', batch('b2', [time('1', T1, '2030-01-10', 480), as(time('2', T1, '2030-01-10', 60), { role: 'a|b' })]));
    expect(e.s.conflicts!.map((c) => c.differences)).toEqual([[{ field: 'minutes', kept: '600', received: '480' }], [{ field: 'role', kept: 'a|b%7C', received: 'a|b' }]]);
  });
});

describe('an approval the PSA withdraws', () => {
  it('takes an unbilled item back (EXCLUDED.UNAPPROVED, value 0) and takes it again when approved again', () => {
    const e = engagement();
    e.deliver('2030-01-20', batch('b1', [time('1', T1, '2030-01-10', 600), time('2', T1, '2030-01-11', 120), expense('1', 'TRAVEL', '2030-01-12', 42_000)]));
    e.deliver('2030-01-21', withdraw('u1', unapproved('2', '2030-01-21T10:00:00Z'), unapproved('1', '2030-01-21T10:00:00Z', 'expense')));
    expect(e.s.pending.time.map((t) => t.id)).toEqual(['TE-1']);
    expect(e.s.pending.expenses).toEqual([]);
    expect(e.s.excluded.map((r) => [r.sourceId, r.kind, r.reasonCode, r.amountMinor, r.detail])).toEqual([
      ['TE-2', 'TIME', 'EXCLUDED.UNAPPROVED', 0, 'un-approved in the PSA at 2030-01-21T10:00:00Z before it was billed; taken again if it is approved again'],
      ['EX-1', 'EXPENSE', 'EXCLUDED.UNAPPROVED', 0, 'un-approved in the PSA at 2030-01-21T10:00:00Z before it was billed; taken again if it is approved again'],
    ]);
    expect(e.s.attention).toEqual([]);
    // the expense is approved again (corrected): taken, its UNAPPROVED entry gone
    e.deliver('2030-01-25', batch('b2', [expense('1', 'TRAVEL', '2030-01-12', 41_000)]));
    expect(e.s.excluded.map((r) => r.sourceId)).toEqual(['TE-2']);
    e.advance('2030-02-02');
    // Feb 1: TE-1 $1,500.00 + EX-1 as approved again $410.00 = $1,910.00; TE-2 on no invoice.
    expect(subtotals(e)).toEqual([['2030-02-01', 191_000]]);
  });

  it('raises UNAPPROVED_AFTER_BILLING for a billed item, closed by its approval again or by a credit of it', () => {
    const e = engagement();
    e.deliver('2030-01-20', batch('b1', [time('1', T1, '2030-01-10', 600), time('2', T1, '2030-01-11', 120), time('3', T2, '2030-01-12', 60)]));
    e.advance('2030-02-02');
    // Feb 1: (600 + 120) min x $150.00 / 60 = $1,800.00 (TE-3 is internal admin: excluded)
    expect(subtotals(e)).toEqual([['2030-02-01', 180_000]]);
    // never delivered, or excluded anyway: nothing to do
    e.deliver('2030-02-03', withdraw('u0', unapproved('99', '2030-02-03T10:00:00Z'), unapproved('3', '2030-02-03T10:00:00Z')));
    expect(e.s.attention).toEqual([]);
    e.deliver('2030-02-04', withdraw('u1', unapproved('1', '2030-02-04T10:00:00Z'), unapproved('2', '2030-02-04T10:00:00Z')));
    expect(e.s.attention.map((a) => [a.id, a.kind, a.itemIds, a.raisedOn])).toEqual([
      ['UNAPPROVED:TE-1', 'UNAPPROVED_AFTER_BILLING', ['TE-1'], '2030-02-04'],
      ['UNAPPROVED:TE-2', 'UNAPPROVED_AFTER_BILLING', ['TE-2'], '2030-02-04'],
    ]);
    expect(e.s.attention[0]!.message).toBe('time entry 1 (TE-1) was un-approved in the PSA at 2030-02-04T10:00:00Z after it was billed (or held over its cap): credit it, or approve it again in the PSA');
    expect(wantedStage(e.s)).toBe('NEEDS_ATTENTION');
    // a repeat of the withdrawal raises nothing more
    e.deliver('2030-02-05', withdraw('u2', unapproved('1', '2030-02-05T10:00:00Z')));
    expect(e.s.attention).toHaveLength(2);
    // TE-1 approved again in the PSA: nothing to bill again, its item closes
    e.deliver('2030-02-06', batch('b2', [time('1', T1, '2030-01-10', 600)]));
    expect(e.s.attention.map((a) => a.id)).toEqual(['UNAPPROVED:TE-2']);
    // TE-2 credited: the operator's decision is carried out, its item closes
    const inv = e.s.invoices[0]!;
    const line = inv.lines[0]!;
    const memo = e.credit({ requestId: 'c-te2', invoiceId: inv.number, by: 'ar', reason: 'ERROR', note: 'TE-2 un-approved in the PSA', lines: [{ invoiceLineId: line.id, sourceItemIds: ['TE-2'] }] });
    // 120 min x $150.00 / 60 = $300.00
    expect(memo.subtotalMinor).toBe(30_000);
    expect(e.s.attention).toEqual([]);
    expect(wantedStage(e.s)).toBe('IN_DELIVERY');
    expect(subtotals(e)).toEqual([['2030-02-01', 180_000]]);
  });
});

describe('histories from before these changes (patched says no)', () => {
  it('drop repeats silently, defer a foreign expense and ignore withdrawals, as they did', () => {
    const d = dealOf({ dealId: `deal-${OPP}`, opportunityId: OPP, snapshot, setup: setupFor(snapshot), ids: {}, patched: () => false });
    const s = initialEngagementState();
    receive(s, d, [batch('b1', [time('1', T1, '2030-01-10', 600), expense('2', 'TRAVEL', '2030-01-13', 30_000, true, 'EUR')])], []);
    receive(s, d, [batch('b2', [time('1', T1, '2030-01-10', 300)]), withdraw('u1', unapproved('1', '2030-01-21T10:00:00Z'))], []);
    expect([s.delivered, s.conflicts, s.excluded, s.attention]).toEqual([undefined, undefined, [], []]);
    expect(s.pending.time.map((t) => [t.id, t.minutes])).toEqual([['TE-1', 600]]);
    expect(s.pending.expenses.map((x) => x.id)).toEqual(['EX-2']);
  });
});
