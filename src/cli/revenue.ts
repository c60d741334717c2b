import type { Command } from 'commander';
import { dealWorkflowId, type RevenueWaterfall } from '../contract';

export interface RevenueCommandDeps {
  /** The deal's waterfall (the workflow's query), by workflow id. */
  waterfall: (dealId: string) => Promise<RevenueWaterfall>;
  out?: (line: string) => void;
}

const amount = (minor: number): string => {
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  return `${sign}${Math.floor(abs / 100).toLocaleString('en-US')}.${String(abs % 100).padStart(2, '0')}`;
};

const COLUMNS = ['month', 'status', 'billed', 'credited', 'recognised', 'scheduled', 'billed-not-rec', 'unbilled', 'deferred'] as const;

/** The waterfall as a fixed-width table, one line per month, money in major units of the contract currency. */
export function formatWaterfall(w: RevenueWaterfall): string[] {
  const rows = w.months.map((m) => [m.month, m.status, amount(m.billedMinor), amount(m.creditedMinor), amount(m.recognisedMinor), amount(m.scheduledMinor), amount(m.billedNotRecognisedMinor), amount(m.unbilledMinor), amount(m.deferredMinor)]);
  const total = ['total', '', amount(w.totals.billedMinor), amount(w.totals.creditedMinor), amount(w.totals.recognisedMinor), amount(w.totals.scheduledMinor), '', '', ''];
  const all = [[...COLUMNS], ...rows, total];
  const widths = COLUMNS.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [
    `revenue waterfall ${w.dealId}  contract ${w.contractId} v${w.contractVersion}  ${w.currency}  as of ${w.asOf}`,
    `contract value ${amount(w.contractValueMinor)}; revenue posted through ${w.revenuePostedThrough ?? '(nothing yet)'}${w.heldMinor > 0 ? `; held above allocation ${amount(w.heldMinor)}` : ''}`,
    ...all.map(line),
  ];
}

export function registerRevenueCommands(program: Command, deps: RevenueCommandDeps): void {
  const print = deps.out ?? ((line: string) => console.log(line));
  program
    .command('revenue <deal>')
    .description('the revenue waterfall of a deal in delivery: billed, credited, recognised and scheduled per month, with the month-end balances')
    .option('--json', 'print the waterfall as JSON')
    .action(async (deal: string, opts: { json?: boolean }) => {
      const w = await deps.waterfall(deal.startsWith(dealWorkflowId('')) ? deal : dealWorkflowId(deal));
      if (opts.json) print(JSON.stringify(w, null, 2));
      else for (const line of formatWaterfall(w)) print(line);
    });
}
