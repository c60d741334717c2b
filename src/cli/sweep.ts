import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import type { Command } from 'commander';
import { SWEEP_SCHEDULE_ID, SWEEP_WORKFLOW_TYPE, type SweepInput, type SweepSummary } from '../contract';

export { SWEEP_SCHEDULE_ID };
export const DEFAULT_SWEEP_EVERY = '15 minutes';
/** After downtime one sweep covers everything since the watermarks: missed runs are not caught up one by one. */
const CATCHUP_WINDOW = '1 minute';
const MANUAL_RUN_ID = `${SWEEP_SCHEDULE_ID}-manual`;

export interface SweepScheduleOptions {
  taskQueue: string;
  every?: Duration;
  input?: SweepInput;
}

/**
 * Creates the sweep's Schedule, or updates it to these settings when it exists
 * (so running this on every deploy is safe). Overlap SKIP: a sweep still running
 * when the next is due is not doubled. A paused schedule stays paused.
 */
export async function ensureSweepSchedule(client: Client, opts: SweepScheduleOptions): Promise<'created' | 'updated'> {
  const spec = { intervals: [{ every: opts.every ?? DEFAULT_SWEEP_EVERY }] };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: SWEEP_WORKFLOW_TYPE,
    workflowId: SWEEP_SCHEDULE_ID,
    taskQueue: opts.taskQueue,
    args: [opts.input ?? {}],
  };
  try {
    await client.schedule.create({
      scheduleId: SWEEP_SCHEDULE_ID,
      spec,
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: CATCHUP_WINDOW },
      state: { note: 'q2c: PSA reconciliation sweep (approved time and expenses the webhooks missed)' },
    });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(SWEEP_SCHEDULE_ID).update((prev) => ({
    ...prev,
    spec,
    action,
    policies: { ...prev.policies, overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: CATCHUP_WINDOW },
  }));
  return 'updated';
}

/** One line per figure, then one per deal left for the next run. */
export function formatSweepSummary(s: SweepSummary): string[] {
  const out = [`swept ${s.deals} deal(s): ${s.time} time entries, ${s.expenses} expenses and ${s.milestones} milestone events in ${s.batches} batch(es) to ${s.fed} deal(s)`];
  for (const k of s.skipped) out.push(`  skipped ${k.opportunityId}: deal workflow ${k.status}`);
  for (const f of s.failed) out.push(`  failed  ${f.opportunityId}: ${f.code} ${f.message}`);
  return out;
}

export interface SweepCommandDeps {
  /** A Temporal client for the deployment's namespace, and how to let it go. */
  client: () => Promise<{ client: Client; close(): Promise<void> }>;
  /** The task queue the q2c worker (with the sweep activities and a Temporal client) polls. */
  taskQueue: string;
  out?: (line: string) => void;
}

/** `q2c sweep schedule [--every <duration>] [--pause|--unpause]` and `q2c sweep run [--deal <opp...>]`; the lead wires the deps. */
export function registerSweepCommands(program: Command, deps: SweepCommandDeps): void {
  const print = deps.out ?? ((line: string) => console.log(line));
  const sweep = program.command('sweep').description('the PSA reconciliation sweep: feeds approved time and expenses the webhooks missed');
  sweep
    .command('schedule')
    .description(`create or update the '${SWEEP_SCHEDULE_ID}' Temporal Schedule (overlap: skip)`)
    .option('--every <duration>', 'interval, e.g. "15 minutes" or "1h"', DEFAULT_SWEEP_EVERY)
    .option('--pause', 'pause the schedule')
    .option('--unpause', 'unpause the schedule')
    .action(async (opts: { every: string; pause?: boolean; unpause?: boolean }) => {
      const h = await deps.client();
      try {
        const outcome = await ensureSweepSchedule(h.client, { taskQueue: deps.taskQueue, every: opts.every as Duration });
        const handle = h.client.schedule.getHandle(SWEEP_SCHEDULE_ID);
        if (opts.pause) await handle.pause('paused from the q2c CLI');
        if (opts.unpause) await handle.unpause('unpaused from the q2c CLI');
        const d = await handle.describe();
        print(`schedule ${SWEEP_SCHEDULE_ID} ${outcome}: every ${opts.every}, overlap ${d.policies.overlap}, ${d.state.paused ? 'paused' : 'active'}; next ${d.info.nextActionTimes[0]?.toISOString() ?? '-'}`);
      } finally {
        await h.close();
      }
    });
  sweep
    .command('run')
    .description('run one sweep now and wait for it (fails if a manual sweep is already running)')
    .option('--deal <opportunityId...>', 'only these opportunities')
    .action(async (opts: { deal?: string[] }) => {
      const h = await deps.client();
      try {
        const summary = await h.client.workflow.execute<(input: SweepInput) => Promise<SweepSummary>>(SWEEP_WORKFLOW_TYPE, {
          taskQueue: deps.taskQueue,
          workflowId: MANUAL_RUN_ID,
          args: [opts.deal?.length ? { opportunityIds: opts.deal } : {}],
        });
        for (const line of formatSweepSummary(summary)) print(line);
        process.exitCode = summary.failed.length === 0 ? 0 : 1;
      } finally {
        await h.close();
      }
    });
}
