/**
 * The chaos suite (issue 15):
 *
 *   npm run chaos                          # full profile: 200 deals, 24 worker SIGKILLs, deploy from HEAD~1
 *   npm run chaos -- --profile short       # the profile npm test runs (test/chaos/chaos.test.ts)
 *   npm run chaos -- --deals 50 --deploy-from d4a67a7 --seed 7
 *
 * Exits 1 when a deal is lost, billed twice or not settled in time.
 */
import { Command, InvalidArgumentError } from 'commander';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { formatReport, PROFILES, runChaos, type ChaosProfile } from './run';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number, not ${v}`);
  return n;
};

const program = new Command('chaos')
  .option('--profile <name>', 'short | full', 'full')
  .option('--deals <n>', 'deals in the run', int('--deals'))
  .option('--kills <n>', 'worker SIGKILLs', int('--kills'))
  .option('--workers <n>', 'worker processes', int('--workers'))
  .option('--deploy-from <rev>', 'git revision whose workers run first ("none": no deploy)')
  .option('--seed <n>', 'seed of the faults, the storm and the deals', int('--seed'))
  .action(async (o: { profile: string; deals?: number; kills?: number; workers?: number; deployFrom?: string; seed?: number }) => {
    const base = PROFILES[o.profile as keyof typeof PROFILES];
    if (!base) throw new InvalidArgumentError(`--profile must be short or full, not ${o.profile}`);
    const { deployFrom: _, ...rest } = base;
    const profile: ChaosProfile = {
      ...rest,
      ...(o.deployFrom === 'none' ? {} : o.deployFrom ? { deployFrom: o.deployFrom } : base.deployFrom ? { deployFrom: base.deployFrom } : {}),
      ...(o.deals !== undefined ? { deals: o.deals } : {}),
      ...(o.kills !== undefined ? { kills: o.kills } : {}),
      ...(o.workers !== undefined ? { workers: o.workers } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
    };
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    const report = await runChaos(profile);
    for (const line of formatReport(report)) console.log(line);
    const c = report.reconciliation;
    const ok = c.duplicateCents === 0 && c.lostCents === 0 && c.duplicateRecords === 0 && c.settled === c.deals && report.settleSeconds !== undefined;
    process.exit(ok ? 0 : 1);
  });

program.parseAsync().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
