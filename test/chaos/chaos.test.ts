/**
 * The chaos suite's short profile (bench/chaos, `npm run chaos -- --profile short`): the same
 * code as the full run, on fewer deals. Workers and the service run as their own processes
 * (src/worker.ts, src/service/main.ts) against a PostgreSQL cluster and a Temporal dev server of
 * the run's own; the harness SIGKILLs workers, restarts the dev server and PostgreSQL, makes
 * about 30 % of vendor requests fail, storms every webhook and sends bad data, then checks the
 * vendors' records against what the inputs say by hand.
 */
import { formatReport, PROFILES, runChaos } from '../../bench/chaos/run';

jest.setTimeout(15 * 60_000);

test('short chaos profile: nothing billed twice, nothing lost, every deal settled within 60 s of the last fault', async () => {
  const lines: string[] = [];
  const report = await runChaos(PROFILES.short, (l) => lines.push(l));
  const table = formatReport(report);
  // The run's own account, for the CI log.
  console.log([...lines, ...table].join('\n'));
  const r = report.reconciliation;
  expect(r.findings).toEqual([]);
  expect({ duplicateCents: r.duplicateCents, lostCents: r.lostCents, duplicateRecords: r.duplicateRecords, orphanTax: r.orphanTaxDocuments }).toEqual({ duplicateCents: 0, lostCents: 0, duplicateRecords: 0, orphanTax: 0 });
  // Each deal: M1 + M2 + last month's time = 3 invoices, each taxed once and paid once.
  expect({ settled: r.settled, invoices: r.invoices, taxDocuments: r.taxDocuments, payments: r.payments }).toEqual({ settled: r.deals, invoices: 3 * r.deals, taxDocuments: 3 * r.deals, payments: 3 * r.deals });
  expect(r.erpCents).toBe(r.expectedCents);
  expect(report.settleSeconds).toBeLessThan(60);
  expect(report.crashes).toEqual([]);
  expect(report.stormUnexpected).toEqual([]);
  const kills = report.faults.find((f) => f.kind.startsWith('worker SIGKILL'))!;
  expect([kills.injected, kills.survived]).toEqual([PROFILES.short.kills, PROFILES.short.kills]);
  for (const kind of ['tampered', 'stale', 'wrongSignature']) {
    const row = report.faults.find((f) => f.kind === `webhook ${kind} copy`)!;
    expect(row.survived).toBe(row.injected);
  }
});
