import { ActivityFailure, ApplicationFailure, log, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { SweepActivities, SweepDealResult } from '../activities/sweep.activities';
import type { SweepInput, SweepSummary } from '../contract';

/** Deals per sweepDeals activity: keeps the sweep's history small (1,000 deals = 50 activities). */
export const DEFAULT_SWEEP_GROUP_SIZE = 20;
/** sweepDeals activities in flight at once; the PSA connector's rate limit paces the reads. */
export const DEFAULT_SWEEP_PARALLELISM = 4;

export const SWEEP_RETRY: ActivityOptions['retry'] = { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 5 };
/** A group reads up to 20 projects; the heartbeat after each deal (and each signal) proves progress. */
export const SWEEP_GROUP_OPTIONS: ActivityOptions = { startToCloseTimeout: '20 minutes', heartbeatTimeout: '2 minutes', retry: SWEEP_RETRY };
export const SWEEP_LIST_OPTIONS: ActivityOptions = { startToCloseTimeout: '1 minute', retry: SWEEP_RETRY };

const lists = proxyActivities<SweepActivities>(SWEEP_LIST_OPTIONS);
const groups = proxyActivities<SweepActivities>(SWEEP_GROUP_OPTIONS);

const codeOf = (err: ActivityFailure): string => (err.cause instanceof ApplicationFailure && err.cause.type ? err.cause.type : 'ACTIVITY.FAILED');

/**
 * One reconciliation sweep (started by the 'q2c-psa-sweep' Schedule, overlap
 * SKIP): every deal with a PSA project gets the approved time and expenses
 * changed since its watermark, as batched delivery signals. The items travel
 * from activity to deal directly; this workflow sees only counts.
 */
export async function reconciliationSweepWorkflow(input: SweepInput = {}): Promise<SweepSummary> {
  const targets = await lists.listSweepTargets(input.opportunityIds ? { opportunityIds: input.opportunityIds } : {});
  const size = Math.max(1, input.groupSize ?? DEFAULT_SWEEP_GROUP_SIZE);
  const queue: Array<typeof targets> = [];
  for (let i = 0; i < targets.length; i += size) queue.push(targets.slice(i, i + size));

  const results: SweepDealResult[] = [];
  const failed: SweepSummary['failed'] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < queue.length) {
      const group = queue[next++]!;
      try {
        results.push(...(await groups.sweepDeals({ targets: group, ...(input.chunkSize ? { chunkSize: input.chunkSize } : {}) })));
      } catch (err) {
        // A group that keeps failing is reported; the other groups still run, the next sweep retries it.
        if (!(err instanceof ActivityFailure)) throw err;
        for (const t of group) failed.push({ opportunityId: t.opportunityId, code: codeOf(err), message: err.cause?.message ?? err.message });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, input.parallelism ?? DEFAULT_SWEEP_PARALLELISM), queue.length) }, lane));

  results.sort((a, b) => (a.opportunityId < b.opportunityId ? -1 : a.opportunityId > b.opportunityId ? 1 : 0));
  for (const r of results) if (r.status === 'failed') failed.push({ opportunityId: r.opportunityId, code: r.error?.code ?? 'UNKNOWN', message: r.error?.message ?? '' });
  failed.sort((a, b) => (a.opportunityId < b.opportunityId ? -1 : a.opportunityId > b.opportunityId ? 1 : 0));
  const summary: SweepSummary = {
    deals: targets.length,
    fed: results.filter((r) => r.status === 'fed').length,
    time: results.reduce((a, r) => a + r.time, 0),
    expenses: results.reduce((a, r) => a + r.expenses, 0),
    // Results recorded before the milestone stream have no count.
    milestones: results.reduce((a, r) => a + (r.milestones ?? 0), 0),
    batches: results.reduce((a, r) => a + r.batches, 0),
    skipped: results.filter((r) => r.status === 'closed' || r.status === 'missing').map((r) => ({ opportunityId: r.opportunityId, status: r.status as 'closed' | 'missing' })),
    failed,
  };
  if (failed.length > 0) log.warn('sweep left deals for the next run', { failed: failed.length });
  log.info('sweep done', { deals: summary.deals, time: summary.time, expenses: summary.expenses, milestones: summary.milestones, batches: summary.batches });
  return summary;
}
