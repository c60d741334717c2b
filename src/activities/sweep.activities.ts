import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type WorkflowClient } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Project } from '../canonical';
import { ConnectorError } from '../connectors/errors';
import { dealWorkflowId } from '../contract';
import { deliveryBatchSignal, type DeliveryBatch, type DeliveryItem } from '../contract';
import { IdentityRepository } from '../db/identity';
import { WatermarkRepository } from '../db/watermarks';
import { MappingError, projectFromContract } from './deal/mapping';
import { readDeal, type DealActivityDeps } from './deal.activities';

/** Watermarks of the PSA sweep: `syncWatermarks.source`. */
export const SWEEP_SOURCE = 'kantata';
/** Items per delivery signal: one workflow task per chunk, never one per time entry. */
export const DEFAULT_SWEEP_CHUNK = 500;
/**
 * Each window starts this long before the stored watermark, so a row the PSA
 * committed late (or stamped with a clock slightly behind ours) is still read.
 * Re-reading costs nothing in effect: the deal dedupes items by (kind, sourceId).
 */
export const DEFAULT_SWEEP_OVERLAP_MS = 2 * 60_000;
/** The deal's project structure is read from the CRM once and reused this long. */
export const DEFAULT_PROJECT_CACHE_MS = 6 * 3_600_000;
const EPOCH = new Date(0).toISOString();

export interface SweepActivityDeps extends DealActivityDeps {
  /** Signals the deal workflows; the worker passes its client (required by `sweepDeals`). */
  temporalClient?: WorkflowClient;
  sweep?: { overlapMs?: number; projectCacheMs?: number; now?: () => number };
}

/** A deal whose PSA project the sweep reads: from the identity map (kind 'deal', system 'kantata'). */
export interface SweepTarget {
  opportunityId: string;
  /** PSA (Kantata workspace) id. */
  projectId: string;
}

export interface SweepWindow {
  since: string;
  until: string;
}

export interface SweepDealResult {
  opportunityId: string;
  projectId: string;
  /** fed: read and delivered (possibly nothing new); closed: the deal workflow is not running; missing: no such workflow; failed: a vendor error, watermark kept. */
  status: 'fed' | 'closed' | 'missing' | 'failed';
  time: number;
  expenses: number;
  /** Milestone states fed (a completion and an acceptance count one each). */
  milestones: number;
  batches: number;
  /** The time stream's window (all three streams end at the same `until`). */
  window?: SweepWindow;
  error?: { code: string; message: string; retryable: boolean };
}

interface DealProject {
  project: Project;
  expenseContractLineId: string;
  at: number;
}

/** Stream names in `syncWatermarks.stream`, three per PSA project. */
export const sweepStreams = (projectId: string) => ({ time: `time:${projectId}`, expenses: `expenses:${projectId}`, milestones: `milestones:${projectId}` });
export type SweepStream = keyof ReturnType<typeof sweepStreams>;

/** `sweep:<project>:<stream>:<since>..<until>:<k>/<n>`: a retry reads a new window, so it never reuses an id for other content. */
export const sweepBatchId = (projectId: string, stream: SweepStream, w: SweepWindow, k: number, n: number): string =>
  `sweep:${projectId}:${stream}:${w.since}..${w.until}:${k}/${n}`;

const chunk = <T>(xs: readonly T[], size: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
};

/** Vendor and mapping failures of one deal are reported and retried by the next sweep; anything else fails the activity. */
function dealFailure(err: unknown): SweepDealResult['error'] | undefined {
  if (err instanceof ConnectorError) return { code: err.code, message: err.message, retryable: err.retryable };
  if (err instanceof MappingError) return { code: err.code, message: err.message, retryable: false };
  return undefined;
}

/**
 * The pull path of delivery intake (issue 6: webhooks get lost). For each
 * deal with a PSA project, reads approved time, approved expenses and
 * completed / accepted milestones since each stream's stored watermark,
 * signals them to the deal in chunks, and only then moves the watermarks: a
 * crash in between re-reads the windows next time, and the deal's dedupe on
 * (kind, sourceId) makes the second delivery a no-op.
 *
 * Signals go from here, not from the sweep workflow, so the items never enter
 * the sweep's history (100,000 entries at month end would be tens of MB of
 * activity results and signal events there).
 */
export const createSweepActivities = (deps: SweepActivityDeps) => {
  const { psa } = deps.connectors;
  const identities = new IdentityRepository(deps.db);
  const watermarks = new WatermarkRepository(deps.db);
  const overlapMs = deps.sweep?.overlapMs ?? DEFAULT_SWEEP_OVERLAP_MS;
  const cacheMs = deps.sweep?.projectCacheMs ?? DEFAULT_PROJECT_CACHE_MS;
  const now = deps.sweep?.now ?? Date.now;
  const projects = new Map<string, DealProject>();

  /**
   * The canonical project (to map PSA stories to contract lines), derived from
   * the deal as loadDeal reads it and part 1 provisioned it. The opportunity
   * need not be won any more: a deal in delivery has moved on to the delivery stages.
   */
  const projectOf = async (opportunityId: string): Promise<DealProject> => {
    const hit = projects.get(opportunityId);
    if (hit && now() - hit.at < cacheMs) return hit;
    const { snapshot } = await readDeal(deps, opportunityId, { requireWon: false });
    const { contract, quote, customer } = snapshot;
    const project = projectFromContract({ contract, quote, catalog: deps.catalog, customer });
    const lines = contract.lines;
    const expenseLine = lines.find((l) => l.billingModel === 'EXPENSES') ?? lines.find((l) => l.billingModel === 'TIME_AND_MATERIALS') ?? lines[0]!;
    const entry = { project, expenseContractLineId: expenseLine.id, at: now() };
    projects.set(opportunityId, entry);
    return entry;
  };

  const readCursors = async (projectId: string): Promise<Record<SweepStream, string>> => {
    const streams = sweepStreams(projectId);
    const stored = await watermarks.cursors(SWEEP_SOURCE, Object.values(streams));
    return { time: stored[streams.time] ?? EPOCH, expenses: stored[streams.expenses] ?? EPOCH, milestones: stored[streams.milestones] ?? EPOCH };
  };

  const windowFrom = (cursor: string, until: string): SweepWindow => ({
    since: cursor === EPOCH ? EPOCH : new Date(Math.max(0, Date.parse(cursor) - overlapMs)).toISOString(),
    until,
  });

  async function sweepOne(client: WorkflowClient, t: SweepTarget, chunkSize: number, beat: () => void): Promise<SweepDealResult> {
    const base = { opportunityId: t.opportunityId, projectId: t.projectId, time: 0, expenses: 0, milestones: 0, batches: 0 };
    const handle = client.getHandle(dealWorkflowId(t.opportunityId));
    try {
      const described = await handle.describe();
      if (described.status.name !== 'RUNNING') return { ...base, status: 'closed' };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { ...base, status: 'missing' };
      throw err;
    }
    let read: Record<SweepStream, { items: DeliveryItem[]; window: SweepWindow }>;
    try {
      const { project, expenseContractLineId } = await projectOf(t.opportunityId);
      const cursors = await readCursors(t.projectId);
      // The window ends when reading starts: rows changed while we read are read again next time.
      const until = new Date(now()).toISOString();
      const tw = windowFrom(cursors.time, until);
      const xw = windowFrom(cursors.expenses, until);
      const mw = windowFrom(cursors.milestones, until);
      // The same items the Kantata webhook relay delivers for these records (one mapping, in the PSA connector).
      const time = await psa.listDeliveredTime({ projectId: t.projectId, project, since: tw.since, reportedAt: until });
      const expenses = await psa.listDeliveredExpenses({ projectId: t.projectId, project, since: xw.since, reportedAt: until, expenseContractLineId });
      const milestones = await psa.listDeliveredMilestones({ projectId: t.projectId, since: mw.since, until });
      // Milestones added in the PSA by hand carry no q2c reference: no contract line bills them (as time on tasks q2c did not create).
      if (milestones.foreign.length > 0) deps.logger.info({ opportunityId: t.opportunityId, projectId: t.projectId, ignored: milestones.foreign }, 'sweep ignored milestones q2c did not create');
      read = {
        time: { items: time, window: tw },
        expenses: { items: expenses, window: xw },
        milestones: { items: milestones.items, window: mw },
      };
    } catch (err) {
      const error = dealFailure(err);
      if (!error) throw err;
      deps.logger.warn({ opportunityId: t.opportunityId, projectId: t.projectId, code: error.code }, 'sweep could not read the deal; its watermarks stay');
      return { ...base, status: 'failed', error };
    }
    const order: SweepStream[] = ['time', 'expenses', 'milestones'];
    let batches = 0;
    for (const stream of order) {
      const { items, window: w } = read[stream];
      const parts = chunk(items, chunkSize);
      for (const [i, part] of parts.entries()) {
        const batch: DeliveryBatch = { batchId: sweepBatchId(t.projectId, stream, w, i + 1, parts.length), source: 'sweep', receivedAt: w.until, items: part };
        await handle.signal(deliveryBatchSignal, batch);
        batches += 1;
        beat();
      }
    }
    // Only now: everything up to `until` has reached the deal.
    const streams = sweepStreams(t.projectId);
    for (const stream of order) await watermarks.advance(SWEEP_SOURCE, streams[stream], read[stream].window.until);
    const counts = { time: read.time.items.length, expenses: read.expenses.items.length, milestones: read.milestones.items.length };
    if (counts.time + counts.expenses + counts.milestones > 0) {
      deps.logger.info({ opportunityId: t.opportunityId, projectId: t.projectId, ...counts, batches }, 'sweep fed the deal');
    }
    return { ...base, status: 'fed', ...counts, batches, window: read.time.window };
  }

  return {
    /** Deals the sweep reads: every (opportunity, PSA project) the identity map holds, optionally only some opportunities. */
    async listSweepTargets(input: { opportunityIds?: string[] } = {}): Promise<SweepTarget[]> {
      const links = await identities.links('deal', 'kantata', input.opportunityIds);
      return links.map((l) => ({ opportunityId: l.canonicalId, projectId: l.externalId }));
    },

    /**
     * Sweeps a group of deals one after another. Progress is heartbeated after
     * each deal, so a retried attempt resumes after the last deal it finished.
     */
    async sweepDeals(input: { targets: SweepTarget[]; chunkSize?: number }): Promise<SweepDealResult[]> {
      const client = deps.temporalClient;
      if (!client) throw ApplicationFailure.create({ type: 'SWEEP.NO_TEMPORAL_CLIENT', message: 'the sweep activities need a Temporal client in their deps', nonRetryable: true });
      const chunkSize = Math.max(1, input.chunkSize ?? DEFAULT_SWEEP_CHUNK);
      const ctx = Context.current();
      const resumed = ctx.info.heartbeatDetails as { results?: SweepDealResult[] } | undefined;
      const results: SweepDealResult[] = [...(resumed?.results ?? [])];
      for (const t of input.targets.slice(results.length)) {
        results.push(await sweepOne(client, t, chunkSize, () => ctx.heartbeat({ results })));
        ctx.heartbeat({ results });
      }
      return results;
    },
  };
};

export type SweepActivities = ReturnType<typeof createSweepActivities>;
