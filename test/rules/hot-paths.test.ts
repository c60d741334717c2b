import { classifyDeliveries, groupDecisions, groupInvoices, materializeInvoices } from '../../src/rules';
import { compiled, contract, te } from './fixtures';

const ASOF = '2025-04-01';

/** CL-TM without its cap, on another invoice schedule. */
const uncapped = (schedule: 'IMMEDIATE' | 'WEEKLY' | 'MONTHLY') =>
  compiled(
    contract((c) => {
      c.lines[0]!.cap = undefined;
      c.lines[0]!.invoiceSchedule = schedule;
    }),
  );

/** A deterministic shuffle (the engine must not depend on input order). */
const shuffled = <T>(xs: readonly T[]): T[] => {
  const out = xs.slice();
  let seed = 7;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
};

describe('grouping: many invoices in one call, and a grouping carried into the next call', () => {
  it('3,000 projects on IMMEDIATE invoices: one invoice each, 450 min x 15000 / 60 = 112,500', () => {
    const cc = uncapped('IMMEDIATE');
    const entries = Array.from({ length: 3000 }, (_, i) => te(`T${i}`, { projectId: `P${i}`, workDate: i % 2 ? '2025-03-03' : '2025-03-04' }));
    const ds = classifyDeliveries(cc, { timeEntries: shuffled(entries) }, ASOF, { scheduledCharges: false }, 'P1').decisions;
    const invs = groupInvoices(cc, ds, { asOf: ASOF });
    expect(invs).toHaveLength(3000);
    expect(invs.every((inv) => inv.lines.length === 1 && inv.subtotal.amountMinor === 112_500)).toBe(true);
    const p17 = invs.find((inv) => inv.projectId === 'P17')!;
    expect([p17.invoiceKey, p17.lines[0]!.sourceItemIds]).toEqual(['CUST-1|P17|LE-US|USD|PO-77|IMMEDIATE|IMMEDIATE:2025-03-03', ['T17']]);
  });

  it('a second call adds to the lines of the first call and opens new ones', () => {
    const cc = uncapped('WEEKLY');
    // 2025-03-03 is a Monday: T1 and T2 share the week, T3 (overtime) gets its own line, T4 the next week
    const first = classifyDeliveries(cc, { timeEntries: [te('T1'), te('T3', { overtime: true, minutes: 480 })] }, ASOF, { scheduledCharges: false }, 'P1').decisions;
    const second = classifyDeliveries(cc, { timeEntries: [te('T2', { workDate: '2025-03-05', minutes: 60 }), te('T4', { workDate: '2025-03-10' })] }, ASOF, { scheduledCharges: false }, 'P1').decisions;
    const grouping = groupDecisions(cc, first);
    groupDecisions(cc, second, grouping);
    const invs = materializeInvoices(cc, grouping, { asOf: ASOF });
    expect(invs.map((inv) => [inv.invoiceKey, inv.lines.map((l) => [l.amount.amountMinor, l.sourceItemIds])])).toEqual([
      // T1 112,500 + T2 60 min = 15,000; T3 480 x 15000 x 1.5 / 60 = 180,000
      ['CUST-1|P1|LE-US|USD|PO-77|WEEKLY|WEEKLY:2025-03-03', [[180_000, ['T3']], [127_500, ['T1', 'T2']]]],
      ['CUST-1|P1|LE-US|USD|PO-77|WEEKLY|WEEKLY:2025-03-10', [[112_500, ['T4']]]],
    ]);
  });
});

describe('cap order among many items on one day', () => {
  // cap 1,000,000 + 5 % = 1,050,000: nine items of 112,500 fit (1,012,500); the tenth in id order
  // is split 37,500 billed + 75,000 capped, every later one is capped
  const expected = (n: number) =>
    Array.from({ length: n }, (_, i) => `E${String(i).padStart(2, '0')}`).flatMap((id, i): [string, string, number][] =>
      i < 9 ? [[id, 'BILLABLE.TIME_AND_MATERIALS', 112_500]] : i === 9 ? [[id, 'BILLABLE.PARTIAL_UNDER_CAP', 37_500], [id, 'CAPPED.OVER_CAP', 75_000]] : [[id, 'CAPPED.OVER_CAP', 112_500]],
    );

  it.each([12, 40])('%i items on 2025-03-03 in shuffled order are billed in id order', (n) => {
    const entries = Array.from({ length: n }, (_, i) => te(`E${String(i).padStart(2, '0')}`));
    const ds = classifyDeliveries(compiled(), { timeEntries: shuffled(entries) }, ASOF, { scheduledCharges: false }, 'P1').decisions;
    const got = ds.map((d): [string, string, number] => [d.sourceId, d.reasonCode, d.amountMinor]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1));
    expect(got).toEqual(expected(n));
  });
});
