import fc from 'fast-check';
import { deliveryView, invoiceRun, receive, type DeliveryBatch, type DeliveryItem, type EngagementState } from '../../src/engagement';
import { addDays } from '../../src/rules/dates';
import { advisory, batch, dealFor, expense, expenses, milestone, Shell, snapshotFor, time, transformation } from './fixtures';

/*
 * Properties of the engagement core over generated delivery: time entries (US and DE resources,
 * billable and internal tasks, marked not billable in the PSA), expenses (at cost, markup, capped per
 * item, excluded category, not billable) and milestone completions and acceptances, across January to
 * March 2030, in batches with duplicates (a duplicate is an exact copy, as a redelivered webhook is).
 * Contract: L1 TRANSFORMATION $100,000.00 (M1 30 %, M2 50 %, M3 20 %), L2 ADVISORY_TM at RC-STD capped
 * at a generated number of hours x $150.00, L3 EXPENSES.
 */
const OPP = 'OPP-PROP';
const L1 = `CTR-${OPP}-L1`;
const L2 = `CTR-${OPP}-L2`;
const MILESTONE_MINOR: Record<string, number> = { M1: 3_000_000, M2: 5_000_000, M3: 2_000_000 };

type Spec =
  | { kind: 'time'; n: number; resource: 'r-us' | 'r-de'; task: 'T1' | 'T2'; billable: boolean; day: number; minutes: number }
  | { kind: 'expense'; n: number; category: 'TRAVEL' | 'MATERIALS' | 'MEALS' | 'ENTERTAINMENT'; billable: boolean; day: number; amountMinor: number }
  | { kind: 'milestone'; key: 'M1' | 'M2' | 'M3'; status: 'completed' | 'accepted'; day: number };

const specs = (lastDay: number): fc.Arbitrary<Spec> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('time' as const), n: fc.integer({ min: 0, max: 24 }), resource: fc.constantFrom('r-us' as const, 'r-us' as const, 'r-de' as const), task: fc.constantFrom('T1' as const, 'T1' as const, 'T1' as const, 'T2' as const), billable: fc.constantFrom(true, true, true, false), day: fc.integer({ min: 0, max: lastDay }), minutes: fc.integer({ min: 1, max: 600 }) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('expense' as const), n: fc.integer({ min: 0, max: 12 }), category: fc.constantFrom('TRAVEL' as const, 'MATERIALS' as const, 'MEALS' as const, 'ENTERTAINMENT' as const), billable: fc.constantFrom(true, true, true, false), day: fc.integer({ min: 0, max: lastDay }), amountMinor: fc.integer({ min: 1, max: 50_000 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('milestone' as const), key: fc.constantFrom('M1' as const, 'M2' as const, 'M3' as const), status: fc.constantFrom('completed' as const, 'accepted' as const), day: fc.integer({ min: 0, max: lastDay }) }) },
  );

const dateOf = (day: number): string => addDays('2030-01-01', day);
const idOf = (sp: Spec): string => (sp.kind === 'time' ? `T:${sp.n}` : sp.kind === 'expense' ? `X:${sp.n}` : `M:${sp.key}:${sp.status}`);
const itemOf = (sp: Spec): DeliveryItem =>
  sp.kind === 'time'
    ? time(`${sp.n}`, `${L2}-${sp.task}`, dateOf(sp.day), sp.minutes, sp.resource, sp.billable)
    : sp.kind === 'expense'
      ? expense(`${sp.n}`, sp.category, dateOf(sp.day), sp.amountMinor, sp.billable)
      : milestone(`${L1}-${sp.key}`, sp.status, `${dateOf(sp.day)}T15:00:00Z`);

/** The items the specs describe, a repeated id being an exact copy of its first occurrence. */
function itemsOf(list: readonly Spec[]): Array<{ spec: Spec; item: DeliveryItem }> {
  const first = new Map<string, { spec: Spec; item: DeliveryItem }>();
  return list.map((sp) => {
    const id = idOf(sp);
    let x = first.get(id);
    if (!x) first.set(id, (x = { spec: sp, item: itemOf(sp) }));
    return x;
  });
}

/** x / d rounded half to even (non-negative integers). */
const halfEven = (x: number, d: number): number => {
  const q = Math.floor(x / d);
  const r = x - q * d;
  return 2 * r > d || (2 * r === d && q % 2 === 1) ? q + 1 : q;
};

/**
 * Oracle: the delivered value of the distinct items, computed here, not by the rules. Time: minutes x
 * hourly rate / 60 (US $150.00, DE $130.00, half even), whatever task or flag; expenses: cost (MATERIALS
 * + 10 % half even), whatever class; a milestone once, completed or accepted, at its share of the fee.
 */
function deliveredOracle(list: ReadonlyArray<{ spec: Spec }>): number {
  const seen = new Set<string>();
  let total = 0;
  for (const { spec } of list) {
    const id = spec.kind === 'milestone' ? `M:${spec.key}` : idOf(spec);
    if (seen.has(id)) continue;
    seen.add(id);
    if (spec.kind === 'time') total += halfEven(spec.minutes * (spec.resource === 'r-us' ? 15_000 : 13_000), 60);
    else if (spec.kind === 'expense') total += spec.amountMinor + (spec.billable && spec.category === 'MATERIALS' ? halfEven(spec.amountMinor * 1_000, 10_000) : 0);
    else total += MILESTONE_MINOR[spec.key]!;
  }
  return total;
}

const deal = (capHours: number) => dealFor({ opportunityId: OPP, snapshot: snapshotFor(OPP, [transformation('QL-1'), advisory('QL-2', capHours), expenses('QL-3')], '2030-01-01') });

/** Items cut into batches at the given positions; each batch is reported `lag` days after its latest item. */
function batchesOf(items: readonly DeliveryItem[], cuts: readonly number[], lags: readonly number[], prefix: string): Array<{ on: string; batch: DeliveryBatch }> {
  const at = [...new Set(cuts.map((c) => c % (items.length + 1)))].sort((a, b) => a - b);
  const bounds = [0, ...at, items.length];
  const out: Array<{ on: string; batch: DeliveryBatch }> = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const part = items.slice(bounds[i], bounds[i + 1]);
    if (part.length === 0) continue;
    const latest = part.map((x) => (x.kind === 'timeEntry' ? x.workDate : x.kind === 'expense' ? x.incurredOn : x.at.slice(0, 10))).sort().at(-1)!;
    out.push({ on: addDays(latest, lags[i % Math.max(1, lags.length)] ?? 0), batch: batch(`${prefix}:${i}`, part) });
  }
  return out.sort((a, b) => (a.on < b.on ? -1 : a.on > b.on ? 1 : 0));
}

const scenario = fc.record({
  capHours: fc.integer({ min: 1, max: 80 }),
  specs: fc.array(specs(89), { minLength: 1, maxLength: 40 }),
  cuts: fc.array(fc.nat(), { maxLength: 6 }),
  lags: fc.array(fc.integer({ min: 0, max: 10 }), { minLength: 1, maxLength: 6 }),
});

const sum = (xs: readonly { amountMinor: number }[]): number => xs.reduce((a, x) => a + x.amountMinor, 0);

describe('properties of the engagement core', () => {
  it('conservation: BILLABLE + DEFERRED + CAPPED + EXCLUDED = delivered after every pass, and delivered = the value of the distinct items, to the cent', () => {
    fc.assert(
      fc.property(scenario, ({ capHours, specs: list, cuts, lags }) => {
        const items = itemsOf(list);
        const e = new Shell(deal(capHours), '2030-01-01');
        for (const { on, batch: b } of batchesOf(items.map((x) => x.item), cuts, lags, 'b')) {
          e.deliver(on, b);
          const t = deliveryView(e.s, e.d, e.today).totals;
          expect(t.BILLABLE + t.DEFERRED + t.CAPPED + t.EXCLUDED).toBe(t.delivered);
        }
        // Every period has closed by May 1: the last run has classified everything.
        e.advance('2030-05-01');
        const t = deliveryView(e.s, e.d, e.today).totals;
        expect(t.BILLABLE + t.DEFERRED + t.CAPPED + t.EXCLUDED).toBe(t.delivered);
        expect(t.delivered).toBe(deliveredOracle(items));
        // Each class is accounted for item by item: billed on invoices, held, excluded; only unaccepted milestones wait.
        expect(t.BILLABLE).toBe(e.s.invoices.reduce((a, i) => a + i.subtotalMinor, 0));
        expect(t.CAPPED).toBe(sum(e.s.held));
        expect(t.EXCLUDED).toBe(sum(e.s.excluded));
        expect(t.DEFERRED).toBe(e.s.pending.milestones.reduce((a, m) => a + MILESTONE_MINOR[m.milestoneId.slice(-2)]!, 0));
        expect(e.s.pending.time.length + e.s.pending.expenses.length).toBe(0);
        // The cap holds: L2 never bills more than capHours x $150.00.
        expect(e.s.billedByLine[L2] ?? 0).toBeLessThanOrEqual(capHours * 15_000);
        expect(new Set(e.s.invoices.map((i) => i.invoiceKey)).size).toBe(e.s.invoices.length);
      }),
      { numRuns: 60 },
    );
  });

  it('idempotence: a batch received twice leaves the state deep-equal to receiving it once, before and after the next run', () => {
    fc.assert(
      fc.property(scenario, fc.nat(), ({ capHours, specs: list, cuts, lags }, pick) => {
        const all = batchesOf(itemsOf(list).map((x) => x.item), cuts, lags, 'b');
        const k = pick % all.length;
        const e = new Shell(deal(capHours), '2030-01-01');
        for (const { on, batch: b } of all.slice(0, k)) e.deliver(on, b);
        const { on, batch: b } = all[k]!;
        e.advance(on);
        const once: EngagementState = structuredClone(e.s);
        const twice: EngagementState = structuredClone(e.s);
        receive(once, e.d, [b], []);
        receive(twice, e.d, [b, b], []);
        expect(receive(twice, e.d, [b], [])).toBe(false);
        expect(twice).toEqual(once);
        expect(invoiceRun(twice, e.d, on)).toEqual(invoiceRun(once, e.d, on));
        expect(twice).toEqual(once);
        // And after the run: the batch again changes nothing.
        receive(twice, e.d, [b], []);
        expect(twice).toEqual(once);
      }),
      { numRuns: 40 },
    );
  });

  it('idempotence over a whole engagement: every batch twice, and every earlier batch again with each new one, gives the same state and commands', () => {
    fc.assert(
      fc.property(scenario, ({ capHours, specs: list, cuts, lags }) => {
        const batches = batchesOf(itemsOf(list).map((x) => x.item), cuts, lags, 'b');
        const once = new Shell(deal(capHours), '2030-01-01');
        const again = new Shell(deal(capHours), '2030-01-01');
        batches.forEach(({ on, batch: b }, i) => {
          once.deliver(on, b);
          again.deliver(on, ...batches.slice(0, i).map((x) => x.batch), b, b);
        });
        once.advance('2030-05-01');
        again.advance('2030-05-01');
        expect(again.s).toEqual(once.s);
        expect(again.commands).toEqual(once.commands);
        expect(again.issued).toEqual(once.issued);
      }),
      { numRuns: 30 },
    );
  });

  it("order independence: one period's items, shuffled and batched differently, give the same invoices (amount per key) and totals", () => {
    fc.assert(
      fc.property(
        fc.record({ capHours: fc.integer({ min: 1, max: 80 }), specs: fc.array(specs(27), { minLength: 1, maxLength: 40 }), cutsA: fc.array(fc.nat(), { maxLength: 5 }), cutsB: fc.array(fc.nat(), { maxLength: 5 }), lagsA: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 5 }), lagsB: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 5 }) }),
        fc.func(fc.double({ noNaN: true })),
        ({ capHours, specs: list, cutsA, cutsB, lagsA, lagsB }, rank) => {
          // January's items (dated Jan 1-28), reported by Jan 31 in both arrangements; the second in another order and other batches.
          const items = itemsOf(list).map((x) => x.item);
          const shuffled = items.map((item, i) => ({ item, r: rank(i) })).sort((a, b) => a.r - b.r || 0).map((x) => x.item);
          const run = (order: DeliveryItem[], cuts: number[], lags: number[], prefix: string) => {
            const e = new Shell(deal(capHours), '2030-01-01');
            for (const { on, batch: b } of batchesOf(order, cuts, lags, prefix)) e.deliver(on, b);
            e.advance('2030-02-01');
            const view = deliveryView(e.s, e.d, e.today);
            const byKey = (xs: readonly { sourceId: string; reasonCode: string; amountMinor: number }[]) => xs.map((x) => `${x.sourceId}|${x.reasonCode}|${x.amountMinor}`).sort();
            return {
              invoices: Object.fromEntries(e.s.invoices.map((i) => [i.invoiceKey, i.subtotalMinor])),
              lines: e.issued.map((x) => [x.request.invoice.invoiceKey, x.request.invoice.lines.map((l) => [l.contractLineId, l.amount.amountMinor, l.sourceItemIds])] as const).sort((a, b) => (a[0] < b[0] ? -1 : 1)),
              totals: view.totals,
              billedByLine: e.s.billedByLine,
              held: byKey(e.s.held),
              excluded: byKey(e.s.excluded),
              intercompanyMinor: e.s.intercompanyMinor,
            };
          };
          expect(run(shuffled, cutsB, lagsB, 'B')).toEqual(run(items, cutsA, lagsA, 'A'));
        },
      ),
      { numRuns: 60 },
    );
  });
});
