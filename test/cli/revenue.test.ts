import { Command } from 'commander';
import type { RevenueWaterfall } from '../../src/contract';
import { formatWaterfall, registerRevenueCommands } from '../../src/cli/revenue';

const waterfall: RevenueWaterfall = {
  dealId: 'deal-OPP-WF',
  contractId: 'CTR-OPP-WF',
  contractVersion: 2,
  currency: 'USD',
  asOf: '2030-03-10',
  revenuePostedThrough: '2030-02-28',
  contractValueMinor: 1_500_000,
  heldMinor: 0,
  months: [
    { month: '2030-02', status: 'POSTED', billedMinor: 750_000, creditedMinor: 0, recognisedMinor: 750_000, scheduledMinor: 0, billedNotRecognisedMinor: 0, unbilledMinor: 0, deferredMinor: 750_000 },
    { month: '2030-03', status: 'OPEN', billedMinor: 300_000, creditedMinor: 150_000, recognisedMinor: -50_005, scheduledMinor: 150_000, billedNotRecognisedMinor: 0, unbilledMinor: 0, deferredMinor: 600_000 },
  ],
  totals: { billedMinor: 1_050_000, creditedMinor: 150_000, recognisedMinor: 699_995, scheduledMinor: 150_000 },
};

describe('q2c revenue', () => {
  it('prints one line per month in major units, negatives signed, with a total', () => {
    const lines = formatWaterfall(waterfall);
    expect(lines[0]).toBe('revenue waterfall deal-OPP-WF  contract CTR-OPP-WF v2  USD  as of 2030-03-10');
    expect(lines[1]).toBe('contract value 15,000.00; revenue posted through 2030-02-28');
    expect(lines.slice(2).map((l) => l.split(/\s{2,}/))).toEqual([
      ['month', 'status', 'billed', 'credited', 'recognised', 'scheduled', 'billed-not-rec', 'unbilled', 'deferred'],
      ['2030-02', 'POSTED', '7,500.00', '0.00', '7,500.00', '0.00', '0.00', '0.00', '7,500.00'],
      ['2030-03', 'OPEN', '3,000.00', '1,500.00', '-500.05', '1,500.00', '0.00', '0.00', '6,000.00'],
      ['total', '10,500.00', '1,500.00', '6,999.95', '1,500.00'],
    ]);
  });

  it('takes an opportunity id or the deal workflow id, and prints JSON on --json', async () => {
    const asked: string[] = [];
    const out: string[] = [];
    const program = new Command().exitOverride();
    registerRevenueCommands(program, { waterfall: async (id) => (asked.push(id), waterfall), out: (l) => out.push(l) });
    await program.parseAsync(['revenue', 'OPP-WF'], { from: 'user' });
    await program.parseAsync(['revenue', 'deal-OPP-WF', '--json'], { from: 'user' });
    expect(asked).toEqual(['deal-OPP-WF', 'deal-OPP-WF']);
    expect(JSON.parse(out.at(-1)!)).toEqual(waterfall);
  });
});
