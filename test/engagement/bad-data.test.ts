import { dealOf, deliveryView, initialEngagementState, receive, wantedStage, type DeliveryItem } from '../../src/engagement';
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

describe('histories from before these changes (patched says no)', () => {
  it('defer a foreign expense, as they did', () => {
    const d = dealOf({ dealId: `deal-${OPP}`, opportunityId: OPP, snapshot, setup: setupFor(snapshot), ids: {}, patched: () => false });
    const s = initialEngagementState();
    receive(s, d, [batch('b1', [time('1', T1, '2030-01-10', 600), expense('2', 'TRAVEL', '2030-01-13', 30_000, true, 'EUR')])], []);
    expect([s.excluded, s.attention]).toEqual([[], []]);
    expect(s.pending.expenses.map((x) => x.id)).toEqual(['EX-2']);
  });
});
