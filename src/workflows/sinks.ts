import { proxySinks, type Sinks } from '@temporalio/workflow';
import type { DealStage } from '../contract';

/**
 * The business KPIs workflow code reports (src/service/metrics.ts `createBusinessKpis`
 * implements them). A sink call adds no event to the history and produces no
 * command, so it needs no `patched()`; the worker registers the sinks with
 * `callDuringReplay: false`, so a replayed workflow task does not count twice.
 * (A workflow task that fails and is retried may report again: these are
 * metrics, not ledger entries.)
 */
// A type, not an interface: a sink must be assignable to Record<string, SinkFunction>.
export type KpiRecorder = {
  /** The deal reached `stage`, `sinceDealStartMs` (workflow time) after it started. */
  recordDealTransition(stage: DealStage, sinceDealStartMs: number): void;
  /** An exception parked the deal in NEEDS_ATTENTION; `code` is the namespaced error code. */
  recordDealException(code: string): void;
  /** An invoice was posted `latencyMs` (workflow time) after the event that made it billable. */
  recordInvoicePosted(latencyMs: number): void;
  /** A dunning reminder went out at `step` days past due (optional: recorders from before dunning leave it out). */
  recordDunningReminder?(step: number): void;
};

export interface KpiSinks extends Sinks {
  kpis: KpiRecorder;
}

/** The KPI sink, for workflow code: `kpis.recordInvoicePosted(ms)`. */
export const { kpis } = proxySinks<KpiSinks>();
