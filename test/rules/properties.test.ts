import fc from 'fast-check';
import type { TimeEntry } from '../../src/canonical';
import {
  RuleSet, classTotals, classifyDeliveries, compileContract, groupInvoices, invoicedAmounts, rerate, revenueSchedule, type Decision,
} from '../../src/rules';
import { contract, project, ruleSet as defaultRules, te, usd } from './fixtures';

// A rule set whose rates a test can compute independently: one row per role, any region.
const RATES: Record<string, number> = { consultant: 15_000, architect: 22_000, pm: 17_500, tester: 9_990 };
const ruleSet = RuleSet.parse({
  ...defaultRules,
  rateCards: [
    { id: 'RC-STD', currency: 'USD', overtimeMultiplierBp: 15_000, rates: Object.entries(RATES).map(([role, hourlyRate]) => ({ role, region: '*', from: '2025-01-01', hourlyRate })) },
  ],
});

/** Oracle: value of one entry by BigInt arithmetic, half-even. */
const oracleValue = (e: TimeEntry, discountBp: number): number => {
  const num = BigInt(e.minutes) * BigInt(RATES[e.role]!) * BigInt(e.overtime ? 15_000 : 10_000) * BigInt(10_000 - discountBp);
  const den = 6_000_000_000n;
  const q = num / den;
  const r = num % den;
  return Number(2n * r > den || (2n * r === den && q % 2n === 1n) ? q + 1n : q);
};

const arbEntry = fc.record({
  n: fc.integer({ min: 0, max: 60 }),
  line: fc.constantFrom('CL-TM', 'CL-TM', 'CL-TM', 'CL-RET', 'CL-NOPE'),
  role: fc.constantFrom(...Object.keys(RATES)),
  day: fc.integer({ min: 0, max: 150 }),
  minutes: fc.integer({ min: 1, max: 720 }),
  approved: fc.boolean(),
  overtime: fc.boolean(),
  nonBillable: fc.boolean(),
});

const isoDay = (n: number): string => new Date(Date.UTC(2025, 0, 1 + n)).toISOString().slice(0, 10);

type RawEntry = { n: number; line: string; role: string; day: number; minutes: number; approved: boolean; overtime: boolean; nonBillable: boolean };

const toEntries = (raw: RawEntry[]): TimeEntry[] => {
  // ids from a small pool produce duplicates; a duplicate is an exact copy (what a redelivered webhook carries)
  const byId = new Map<string, TimeEntry>();
  return raw.map((r) => {
    const id = `T${r.n}`;
    const prev = byId.get(id);
    if (prev) return prev;
    const e = te(id, {
      contractLineId: r.line, role: r.role, workDate: isoDay(r.day), minutes: r.minutes, approved: r.approved, overtime: r.overtime,
      taskId: r.nonBillable ? 'TK-NB' : 'TK',
    });
    byId.set(id, e);
    return e;
  });
};

const arbScenario = fc.record({
  raw: fc.array(arbEntry, { maxLength: 80 }),
  cap: fc.option(fc.record({ nte: fc.integer({ min: 0, max: 3_000_000 }), tol: fc.integer({ min: 0, max: 2_000 }) }), { nil: undefined }),
  discountBp: fc.integer({ min: 0, max: 5_000 }),
  asOfDay: fc.integer({ min: 0, max: 180 }),
  seed: fc.integer(),
});

const setup = (s: { cap?: { nte: number; tol: number } | undefined; discountBp: number }) =>
  contract((c) => {
    c.lines[0]!.cap = s.cap ? { notToExceed: usd(s.cap.nte), toleranceBp: s.cap.tol } : undefined;
    c.lines[0]!.discountBp = s.discountBp;
    c.lines[2]!.discountBp = s.discountBp;
  });

const shuffle = <T>(xs: readonly T[], seed: number): T[] => {
  const a = [...xs];
  let x = seed | 0 || 1;
  for (let i = a.length - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = Math.abs(x) % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
};

const sortDecisions = (ds: readonly Decision[]) =>
  ds.map((d) => `${d.sourceId}|${d.reasonCode}|${d.amountMinor}|${d.minutes}|${d.lineKey ?? ''}`).sort();

describe('properties', () => {
  it('conservation: billable + deferred + capped + excluded = delivered value, to the minor unit', () => {
    fc.assert(
      fc.property(arbScenario, (s) => {
        const c = setup(s);
        const entries = toEntries(s.raw);
        const ds = classifyDeliveries(compileContract(c, ruleSet, project), { timeEntries: entries }, isoDay(s.asOfDay), { scheduledCharges: false }, 'P1').decisions;
        const seen = new Set<string>();
        let expected = 0;
        for (const e of entries) {
          if (seen.has(e.id)) continue;
          seen.add(e.id);
          if (e.contractLineId !== 'CL-NOPE') expected += oracleValue(e, s.discountBp);
        }
        const t = classTotals(ds);
        expect(t.BILLABLE + t.DEFERRED + t.CAPPED + t.EXCLUDED).toBe(expected);
        // and per item: the parts of every item add up to its own value
        const perItem = new Map<string, number>();
        for (const d of ds) if (d.reasonCode !== 'EXCLUDED.DUPLICATE') perItem.set(d.sourceId, (perItem.get(d.sourceId) ?? 0) + d.amountMinor);
        for (const e of entries) if (e.contractLineId !== 'CL-NOPE') expect(perItem.get(e.id)).toBe(oracleValue(e, s.discountBp));
      }),
      { numRuns: 200 },
    );
  });

  it('caps are never exceeded (not-to-exceed + tolerance, with earlier billing)', () => {
    fc.assert(
      fc.property(arbScenario, fc.integer({ min: 0, max: 1_000_000 }), (s, prior) => {
        fc.pre(s.cap !== undefined);
        const c = setup(s);
        const ds = classifyDeliveries(compileContract(c, ruleSet, project), { timeEntries: toEntries(s.raw) }, isoDay(s.asOfDay), { scheduledCharges: false, billedByLine: { 'CL-TM': prior } }, 'P1').decisions;
        const billed = ds.filter((d) => d.contractLineId === 'CL-TM' && d.billingClass === 'BILLABLE').reduce((a, d) => a + d.amountMinor, 0);
        const limit = s.cap!.nte + Math.floor((s.cap!.nte * s.cap!.tol) / 10_000);
        expect(billed).toBeLessThanOrEqual(Math.max(0, limit - prior));
        // and nothing is dropped: if anything was capped, the cap is used up to the minor unit
        if (ds.some((d) => d.contractLineId === 'CL-TM' && d.billingClass === 'CAPPED')) expect(billed).toBe(Math.max(0, limit - prior));
      }),
      { numRuns: 200 },
    );
  });

  it('no source item is on two invoice lines, and every invoiced item is billable', () => {
    fc.assert(
      fc.property(arbScenario, (s) => {
        const cc = compileContract(setup(s), ruleSet, project);
        const asOf = isoDay(s.asOfDay);
        const ds = classifyDeliveries(cc, { timeEntries: toEntries(s.raw) }, asOf, {}, 'P1').decisions;
        const invs = groupInvoices(cc, ds, { asOf });
        const all = invs.flatMap((i) => i.lines.flatMap((l) => l.sourceItemIds));
        expect(new Set(all).size).toBe(all.length);
        const invoiced = invoicedAmounts(ds);
        expect([...invoiced.keys()].sort()).toEqual([...all].sort());
        expect(invs.reduce((a, i) => a + i.subtotal.amountMinor, 0)).toBe([...invoiced.values()].reduce((a, b) => a + b, 0));
      }),
      { numRuns: 200 },
    );
  });

  it('decisions and invoices are the same under any input order', () => {
    fc.assert(
      fc.property(arbScenario, (s) => {
        const c = setup(s);
        const asOf = isoDay(s.asOfDay);
        const entries = toEntries(s.raw);
        const once = (es: TimeEntry[]) => {
          const cc = compileContract(c, ruleSet, project);
          const ds = classifyDeliveries(cc, { timeEntries: es }, asOf, {}, 'P1').decisions;
          return { ds: sortDecisions(ds), invs: groupInvoices(cc, ds, { asOf }) };
        };
        const a = once(entries);
        const b = once(shuffle(entries, s.seed));
        expect(b.ds).toEqual(a.ds);
        expect(b.invs).toEqual(a.invs);
      }),
      { numRuns: 150 },
    );
  });

  it('revenue never exceeds the allocated value of any line', () => {
    fc.assert(
      fc.property(arbScenario, fc.array(fc.integer({ min: 0, max: 2_000_000 }), { minLength: 5, maxLength: 5 }), (s, alloc) => {
        const c = contract((x) => {
          x.lines.forEach((l, i) => (l.allocatedValue = usd(alloc[i]!)));
          x.lines[1]!.fee = usd(Math.min(alloc[1]!, 5_000_000));
          x.lines[1]!.milestones = [{ milestoneId: 'M1', percentBp: 5000 }];
        });
        const cc = compileContract(c, ruleSet, project);
        const asOf = isoDay(s.asOfDay);
        const ds = classifyDeliveries(cc, { timeEntries: toEntries(s.raw) }, asOf, {}, 'P1').decisions;
        const r = revenueSchedule({ contract: c, decisions: ds, invoices: groupInvoices(cc, ds, { asOf }), asOf });
        for (const [i, line] of c.lines.entries()) {
          const total = r.lines.filter((l) => l.contractLineId === line.id).reduce((a, l) => a + l.amount.amountMinor, 0);
          expect(total).toBeLessThanOrEqual(alloc[i]!);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('original - credits + rebills = re-rated total', () => {
    fc.assert(
      fc.property(arbScenario, fc.integer({ min: 0, max: 5_000 }), (s, newDiscount) => {
        const asOf = isoDay(s.asOfDay);
        const entries = toEntries(s.raw);
        const c1 = setup(s);
        const cc1 = compileContract(c1, ruleSet, project);
        const d1 = classifyDeliveries(cc1, { timeEntries: entries }, asOf, { scheduledCharges: false }, 'P1').decisions;
        const inv1 = groupInvoices(cc1, d1, { asOf });
        const c2 = setup({ ...s, discountBp: newDiscount });
        const cc2 = compileContract({ ...c2, version: 2 }, ruleSet, project);
        const d2 = classifyDeliveries(cc2, { timeEntries: entries }, asOf, { scheduledCharges: false }, 'P1').decisions;
        const r = rerate({ cc: cc2, originalInvoices: inv1, originalDecisions: d1, reratedDecisions: d2, asOf, amendmentId: 'A' });
        const original = inv1.reduce((a, i) => a + i.subtotal.amountMinor, 0);
        const credits = r.creditMemos.reduce((a, m) => a + m.total.amountMinor, 0);
        const rebills = r.rebillInvoices.reduce((a, i) => a + i.subtotal.amountMinor, 0);
        const rerated = [...invoicedAmounts(d2).values()].reduce((a, b) => a + b, 0);
        expect(original - credits + rebills).toBe(rerated);
        expect(rebills - credits).toBe(r.delta);
        // credits name only items that were invoiced, each once
        const credited = r.creditMemos.flatMap((m) => m.lines.flatMap((l) => l.sourceItemIds));
        expect(new Set(credited).size).toBe(credited.length);
        if (newDiscount === s.discountBp) expect(r.changed).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });
});
