// The reconciliation sweep's public contract: its schedule id, workflow type, input and summary.
/** The Temporal Schedule that runs the sweep; also the prefix of its runs' workflow ids. */
export const SWEEP_SCHEDULE_ID = 'q2c-psa-sweep';
export const SWEEP_WORKFLOW_TYPE = 'reconciliationSweepWorkflow';

export interface SweepInput {
  /** Only these opportunities (default: every deal with a PSA project). */
  opportunityIds?: string[];
  groupSize?: number;
  parallelism?: number;
  /** Items per delivery signal. */
  chunkSize?: number;
}

export interface SweepSummary {
  deals: number;
  fed: number;
  time: number;
  expenses: number;
  /** Milestone completions and acceptances read from the PSA. */
  milestones: number;
  batches: number;
  /** Deals whose workflow is closed or absent: nothing is delivered to them. */
  skipped: Array<{ opportunityId: string; status: 'closed' | 'missing' }>;
  /** Deals the sweep could not read; their watermark stays, the next sweep tries again. */
  failed: Array<{ opportunityId: string; code: string; message: string }>;
}
