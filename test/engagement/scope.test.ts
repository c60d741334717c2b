import { dealOf, deliveryView, type AmendContractRequest, type EngagementState } from '../../src/engagement';
import { advisory, batch, dealFor, milestone, nyTaxOfLine, refusalOf, RESOURCES, setupFor, Shell, snapshotFor, time, usd } from './fixtures';

/*
 * Scope change orders in delivery, on the core (test/workflows/scope-change.test.ts runs the same on the
 * time-skipping server). 2030, LE-US (America/New_York), customer in New York, SERVICES taxed 8.875 % (half up
 * per line):
 *   L1 ADVISORY_TM T&M at RC-STD (consultant/US $150.00/h), not-to-exceed $15,000.00, monthly in arrears.
 * Change order v1 -> v2 on 2030-02-10 adds a fixed-fee line of $20,000.00: milestones 30 % / 70 %, billed on
 * acceptance, revenue at a point in time. q2c gives it the next free id, L2, and milestones L2-M1 / L2-M2.
 *   L2-M1 30 % = 2,000,000 x 3,000 / 10,000 = 600,000 ($6,000.00); L2-M2 70 % = 1,400,000.
 * The PSA (played by the fixture's shell) gives every new record the id `psa-<canonical id>`: what it reports
 * (a milestone accepted, time on a task) carries those ids, so only the updated billing setup finds the line.
 */
const OPP = 'OPP-SCOPE';
const C = `CTR-${OPP}`;
const L1 = `${C}-L1`;
const L2 = `${C}-L2`;
const snapshot = snapshotFor(OPP, [advisory('QL-1', 100)], '2030-01-01');

const migration = {
  description: 'Data migration',
  billingModel: 'FIXED_FEE_MILESTONE' as const,
  taxCode: 'SERVICES',
  revenueTreatment: 'POINT_IN_TIME' as const,
  invoiceSchedule: 'ON_MILESTONE' as const,
  allocatedValue: usd(2_000_000),
  fee: usd(2_000_000),
  milestones: [
    { name: 'Migration design signed off', percentBp: 3_000 },
    { name: 'Cut-over accepted', percentBp: 7_000 },
  ],
};
const changeOrder = (requestId: string, baseVersion: number, changes: AmendContractRequest['changes']): AmendContractRequest => ({
  requestId, by: 'ops@firm.example', baseVersion, effectiveDate: '2030-02-10', reason: `${requestId}: data migration`, changes,
});
const addMigration = changeOrder('co-2', 1, [{ op: 'ADD_LINE', line: migration, tasks: [{ name: 'Migration work', billable: true }] }]);

/** January: 10 h on L1 = $1,500.00, invoiced Feb 1 (so L1 is billed). */
function deal(): Shell {
  const e = new Shell(dealFor({ opportunityId: OPP, snapshot, options: { overdueGraceDays: 60 } }), '2030-01-02');
  e.deliver('2030-01-20', batch('jan', [time('1', `${L1}-T1`, '2030-01-15', 600)]));
  e.advance('2030-02-10');
  expect(e.s.invoices.map((i) => [i.issueDate, i.subtotalMinor])).toEqual([['2030-02-01', 150_000]]);
  return e;
}

describe('a change order adding scope in delivery', () => {
  it('adds a fixed-fee milestone line to the contract, the PSA project and the billing setup; its first milestone is invoiced at $6,000.00', () => {
    const e = deal();
    const result = e.amend(addMigration);
    expect(result.contractVersion).toBe(2);
    expect(result.amendment).toMatchObject({ id: `${C}-A2`, version: 2, addedLines: [L2], removedLines: [] });

    // The new line as q2c completed it: next free id, the change order as its quote line, dates from the effective date.
    const v2 = e.s.contract!;
    expect(v2.lines.map((l) => l.id)).toEqual([L1, L2]);
    expect(v2.lines[1]).toMatchObject({
      id: L2, quoteLineId: `${C}-A2`, startDate: '2030-02-10', endDate: '2030-12-31', fee: usd(2_000_000), allocatedValue: usd(2_000_000),
      milestones: [{ milestoneId: `${L2}-M1`, percentBp: 3_000, name: 'Migration design signed off' }, { milestoneId: `${L2}-M2`, percentBp: 7_000, name: 'Cut-over accepted' }],
    });

    // The PSA project got one phase with both milestones and the task, each billing on L2.
    expect(e.psaScope).toEqual([
      {
        id: `${L2}-P1`,
        name: 'Data migration',
        milestones: [
          { id: `${L2}-M1`, name: 'Migration design signed off', contractLineId: L2 },
          { id: `${L2}-M2`, name: 'Cut-over accepted', contractLineId: L2 },
        ],
        tasks: [{ id: `${L2}-T1`, name: 'Migration work', billable: true, contractLineId: L2 }],
      },
    ]);
    expect(result.amendment.psa).toEqual({ added: { [`${L2}-P1`]: `psa-${L2}-P1`, [`${L2}-M1`]: `psa-${L2}-M1`, [`${L2}-M2`]: `psa-${L2}-M2`, [`${L2}-T1`]: `psa-${L2}-T1` } });

    // Feb 15: 8 h on the new task (PSA id) is covered by the fixed fee, not billed on the T&M line L1 at $150.00/h.
    e.deliver('2030-02-15', batch('feb-time', [time('2', `psa-${L2}-T1`, '2030-02-14', 480)]));
    // Feb 20: the PSA reports L2-M1 accepted (its PSA id) -> invoiced that day: 600,000 + tax 600,000 x 8.875 % = 53,250.
    e.deliver('2030-02-20', batch('feb-ms', [milestone(`psa-${L2}-M1`, 'accepted', '2030-02-20T15:00:00Z')]));
    const inv = e.issuedOn('2030-02-20');
    expect(nyTaxOfLine(600_000)).toBe(53_250);
    expect([inv.subtotalMinor, inv.taxMinor, inv.totalMinor]).toEqual([600_000, 53_250, 653_250]);
    expect(inv.lines.map((l) => [l.contractLineId, l.amountMinor])).toEqual([[L2, 600_000]]);
    const issued = e.issued.find((x) => x.on === '2030-02-20')!.request.invoice;
    expect(issued.lines.map((l) => [l.contractLineId, l.quoteLineId, l.sourceItemIds])).toEqual([[L2, `${C}-A2`, [`MS-psa-${L2}-M1`]]]);
    expect(e.s.excluded.map((x) => [x.sourceId, x.contractLineId, x.reasonCode])).toEqual([['TE-2', L2, 'EXCLUDED.COVERED_BY_FIXED_FEE']]);

    // Mar 1: February's T&M invoice has nothing on L1 (TE-2 is L2's); revenue: L2's 600,000 at a point in time, within its allocation.
    e.advance('2030-03-02');
    expect(e.s.invoices.map((i) => [i.issueDate, i.subtotalMinor])).toEqual([['2030-02-01', 150_000], ['2030-02-20', 600_000]]);
    expect(deliveryView(e.s, e.d, e.today).recognisedByLine).toEqual({ [L1]: 150_000, [L2]: 600_000 });
    // Conservation: delivered 150,000 (TE-1) + 600,000 (L2-M1) + 0 (TE-2, covered) = billed 750,000.
    expect(e.s.totals).toEqual({ BILLABLE: 750_000, CAPPED: 0, EXCLUDED: 0, delivered: 750_000 });
  });

  it('keeps the added scope across continue-as-new (prepareBilling reads only the snapshot\'s project)', () => {
    const e = deal();
    e.amend(addMigration);
    const carried = JSON.parse(JSON.stringify(e.s)) as EngagementState;
    // A new run: the setup as prepareBilling returns it for the snapshot, the added scope from the state.
    const d = dealOf({ dealId: `deal-${OPP}`, opportunityId: OPP, snapshot, setup: setupFor(snapshot, RESOURCES), ids: { erpCustomerId: 'ERP-CUS-1', projectId: `WS-${OPP}` }, options: { overdueGraceDays: 60 }, scope: carried.scope! });
    const next = new Shell(d, e.today, carried);
    next.deliver('2030-02-20', batch('feb-ms', [milestone(`psa-${L2}-M1`, 'accepted', '2030-02-20T15:00:00Z')]));
    expect(next.issuedOn('2030-02-20').lines.map((l) => [l.contractLineId, l.amountMinor])).toEqual([[L2, 600_000]]);
  });

  it('refuses a duplicate line id, another currency, removing a billed line, and an id q2c would not give', () => {
    const e = deal();
    const refused = (changes: AmendContractRequest['changes'], baseVersion = 1) => refusalOf(() => e.amend(changeOrder(`co-x-${Math.random()}`, baseVersion, changes)));
    expect(refused([{ op: 'ADD_LINE', line: { ...migration, id: L1 } }])).toBe('DEAL.AMENDMENT_LINE_EXISTS');
    expect(refused([{ op: 'ADD_LINE', line: { ...migration, id: L2 } }, { op: 'ADD_LINE', line: { ...migration, id: L2 } }])).toBe('DEAL.AMENDMENT_LINE_EXISTS');
    expect(refused([{ op: 'ADD_LINE', line: { ...migration, fee: { amountMinor: 2_000_000, currency: 'EUR' } } }])).toBe('DEAL.AMENDMENT_CURRENCY_MISMATCH');
    expect(refused([{ op: 'ADD_LINE', line: { ...migration, id: 'MIGRATION' } }])).toBe('DEAL.AMENDMENT_INVALID');
    expect(refused([{ op: 'REMOVE_LINE', lineId: L1 }])).toBe('DEAL.AMENDMENT_LINE_BILLED'); // invoiced Feb 1
    expect(refused([{ op: 'ADD_LINE', line: { ...migration, endDate: '2031-01-31' } }])).toBe('DEAL.AMENDMENT_INVALID'); // past the contract's end
    expect(refused([{ op: 'ADD_LINE', line: { ...migration, milestones: [{ milestoneId: 'MIG-1', percentBp: 3_000 }, { milestoneId: 'MIG-1', percentBp: 7_000 }] } }])).toBe('DEAL.AMENDMENT_INVALID'); // one milestone id twice
    // Nothing changed.
    expect(e.s.contract).toBeUndefined();
    expect(e.psaScope).toEqual([]);
  });

  it('removes a line nothing was billed on: its PSA records are archived, work on it is excluded, and its id is never given again', () => {
    const e = deal();
    e.amend(addMigration);
    const removal = e.amend(changeOrder('co-3', 2, [{ op: 'REMOVE_LINE', lineId: L2 }]));
    expect(removal).toMatchObject({ contractVersion: 3, amendment: { addedLines: [], removedLines: [L2], psa: { added: {}, archived: true } } });
    expect(e.s.contract!.lines.map((l) => l.id)).toEqual([L1]);
    expect(e.archivedScope).toEqual([`${L2}-P1`, `${L2}-M1`, `${L2}-M2`, `${L2}-T1`]);
    // Work reported on the archived task is excluded (not billed on L1, not dropped): 2 h x $150.00 = 30,000 delivered.
    e.deliver('2030-02-15', batch('late', [time('3', `psa-${L2}-T1`, '2030-02-14', 120)]));
    e.advance('2030-03-02');
    expect(e.s.excluded.map((x) => [x.sourceId, x.contractLineId, x.reasonCode])).toEqual([['TE-3', L2, 'EXCLUDED.UNKNOWN_CONTRACT_LINE']]);
    expect(e.s.invoices.map((i) => i.subtotalMinor)).toEqual([150_000]);
    // The removed id is not given again: the next added line is L3.
    expect(refusalOf(() => e.amend(changeOrder('co-4', 3, [{ op: 'ADD_LINE', line: { ...migration, id: L2 } }])))).toBe('DEAL.AMENDMENT_LINE_EXISTS');
    expect(e.amend(changeOrder('co-5', 3, [{ op: 'ADD_LINE', line: migration }])).amendment.addedLines).toEqual([`${C}-L3`]);
  });

  it('adds a capped T&M line whose task\'s time bills on it at the rate card', () => {
    const e = deal();
    const tm = { description: 'Hypercare', billingModel: 'TIME_AND_MATERIALS' as const, taxCode: 'SERVICES', revenueTreatment: 'AS_INVOICED' as const, invoiceSchedule: 'MONTHLY' as const, rateCardRef: 'RC-STD', cap: { notToExceed: usd(300_000) }, allocatedValue: usd(300_000) };
    e.amend(changeOrder('co-6', 1, [{ op: 'ADD_LINE', line: tm }]));
    expect(e.psaScope.map((p) => p.tasks)).toEqual([[{ id: `${L2}-T1`, name: 'Hypercare', billable: true, contractLineId: L2 }]]);
    // 24 h on the new task in February: 20 h x $150.00 = 300,000 billed Mar 1 up to the cap, 4 h = 60,000 capped.
    e.deliver('2030-02-20', batch('hc', [time('4', `psa-${L2}-T1`, '2030-02-18', 1_440)]));
    e.advance('2030-03-02');
    const mar1 = e.issuedOn('2030-03-01');
    expect(mar1.lines.map((l) => [l.contractLineId, l.amountMinor])).toEqual([[L2, 300_000]]);
    expect(e.s.held.map((h) => [h.sourceId, h.contractLineId, h.amountMinor])).toEqual([['TE-4', L2, 60_000]]);
  });
});
