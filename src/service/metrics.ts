import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DEAL_STAGES, isTerminal, type DealStage } from '../contract';
import type { DealSummary } from './deal-gateway';

/** Outcome label of a webhook delivery, one per way a delivery can end. */
export type WebhookOutcome =
  | 'dispatched'
  | 'duplicate'
  | 'unauthorized'
  | 'bad_request'
  | 'too_large'
  | 'unsupported_media_type'
  | 'unprocessable'
  | 'dispatch_failed'
  | 'rate_limited'
  | 'error';

/** A registry per service instance, so several apps (tests) never collide on metric names. */
export function createMetrics(opts: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  const webhooksReceived = new Counter({
    name: 'q2c_webhooks_received_total',
    help: 'Webhook deliveries by source and outcome',
    labelNames: ['source', 'outcome'] as const,
    registers: [registry],
  });
  const dispatchSeconds = new Histogram({
    name: 'q2c_webhook_dispatch_seconds',
    help: 'Time to hand an accepted webhook to its deal workflow (signal / signalWithStart)',
    labelNames: ['source', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'q2c_' });
  return { registry, webhooksReceived, dispatchSeconds, kpis: createBusinessKpis(registry) };
}

export type Metrics = ReturnType<typeof createMetrics>;

const HOUR = 3600;
const DAY = 24 * HOUR;
/** Deal cycle times run from hours to months. */
const CYCLE_BUCKETS = [HOUR, 4 * HOUR, 12 * HOUR, DAY, 2 * DAY, 3 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 60 * DAY, 90 * DAY];
/** Invoice latency: minutes (automated runs) to weeks (disputes, manual holds). */
const INVOICE_BUCKETS = [60, 15 * 60, HOUR, 4 * HOUR, DAY, 2 * DAY, 3 * DAY, 7 * DAY, 14 * DAY, 30 * DAY];
const OPEN_STAGES = DEAL_STAGES.filter((s) => !isTerminal(s));
/** The stage label of a deal whose workflow has not set DealStage yet. */
export const UNSET_STAGE = 'UNSET';

/**
 * The seed's business KPIs, next to the technical metrics on the same registry.
 *
 * Two kinds:
 * - gauges from the deal list (`setDealList`): open deals per stage and deals
 *   needing attention, refreshed by `createDealKpiRefresher` at most every N seconds;
 * - events the deal's own code reports (`recordDealTransition`,
 *   `recordDealException`, `recordInvoicePosted`): cycle times, exception rate and
 *   invoice latency, which no listing can reconstruct.
 *
 * The recorders count what the process they run in sees. Workflow code reports
 * through the worker's KPI sink (src/workflows/sinks.ts; `createWorker({ kpis })`),
 * which adds no history event and is not called on replay. The stack process
 * passes the same `Metrics` to `createWorker({ kpis: metrics.kpis })` and
 * `buildService({ metrics })`, so /metrics shows them; a standalone worker
 * without a registry drops them.
 */
export function createBusinessKpis(registry: Registry) {
  const dealsOpen = new Gauge({
    name: 'q2c_deals_open',
    help: 'Open (running) deal workflows by DealStage, from the workflow visibility store',
    labelNames: ['stage'] as const,
    registers: [registry],
  });
  const dealsNeedingAttention = new Gauge({
    name: 'q2c_deals_needing_attention',
    help: 'Open deal workflows with NeedsAttention = true',
    registers: [registry],
  });
  const refreshedAt = new Gauge({
    name: 'q2c_deal_kpis_refreshed_timestamp_seconds',
    help: 'When the deal gauges were last computed from the visibility store (Unix seconds)',
    registers: [registry],
  });
  const refreshFailures = new Counter({
    name: 'q2c_deal_kpi_refresh_failures_total',
    help: 'Deal listings for the KPI gauges that failed (the gauges keep their last values)',
    registers: [registry],
  });
  const stageReachedSeconds = new Histogram({
    name: 'q2c_deal_stage_reached_seconds',
    help: 'Time from the deal start (closed-won) to reaching each stage; quote-to-project cycle time is stage="PROJECT_PROVISIONED"',
    labelNames: ['stage'] as const,
    buckets: CYCLE_BUCKETS,
    registers: [registry],
  });
  const dealExceptions = new Counter({
    name: 'q2c_deal_exceptions_total',
    help: 'Exceptions that parked a deal in NEEDS_ATTENTION, by namespaced error code',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  const invoiceLatencySeconds = new Histogram({
    name: 'q2c_invoice_latency_seconds',
    help: 'From the billable event (period end, milestone acceptance) to the invoice posted in the ERP',
    buckets: INVOICE_BUCKETS,
    registers: [registry],
  });

  const dunningReminders = new Counter({
    name: 'q2c_dunning_reminders_total',
    help: 'Dunning reminders sent to the CRM, by step (days past due)',
    labelNames: ['step'],
    registers: [registry],
  });

  return {
    /**
     * The deal reached `stage`, `sinceDealStartMs` after it started (closed-won).
     * Quote-to-project cycle time: `recordDealTransition('PROJECT_PROVISIONED', ms)`.
     */
    recordDealTransition(stage: DealStage, sinceDealStartMs: number): void {
      stageReachedSeconds.observe({ stage }, Math.max(0, sinceDealStartMs) / 1000);
    },
    /** An exception parked a deal (`code` from the closed error-code union, e.g. 'ERP.CUSTOMER_INVALID'). */
    recordDealException(code: string): void {
      dealExceptions.inc({ code });
    },
    /** An invoice was posted `latencyMs` after the event that made it billable. */
    recordInvoicePosted(latencyMs: number): void {
      invoiceLatencySeconds.observe(Math.max(0, latencyMs) / 1000);
    },
    /** A dunning reminder went out at `step` days past due. */
    recordDunningReminder(step: number): void {
      dunningReminders.inc({ step: String(step) });
    },
    /** Sets the gauges from a listing of open deals; every non-terminal stage gets a sample, zero included. */
    setDealList(deals: readonly DealSummary[], at: Date): void {
      const counts = new Map<string, number>(OPEN_STAGES.map((s) => [s, 0]));
      for (const d of deals) {
        const stage = d.stage ?? UNSET_STAGE;
        counts.set(stage, (counts.get(stage) ?? 0) + 1);
      }
      dealsOpen.reset();
      for (const [stage, n] of counts) dealsOpen.set({ stage }, n);
      dealsNeedingAttention.set(deals.filter((d) => d.needsAttention).length);
      refreshedAt.set(at.getTime() / 1000);
    },
    refreshFailed(): void {
      refreshFailures.inc();
    },
  };
}

export type BusinessKpis = ReturnType<typeof createBusinessKpis>;

export interface DealKpiRefresherOptions {
  kpis: BusinessKpis;
  /** Lists the open deals (DealGateway.listDeals({ openOnly: true })). */
  listOpenDeals: () => Promise<DealSummary[]>;
  clock: () => Date;
  /** At most one listing per interval, however often /metrics is scraped. */
  intervalSeconds: number;
  /** A scrape waits this long for a listing, then answers with the previous values. */
  timeoutMs?: number;
  onError?: (err: unknown) => void;
}

/**
 * Keeps the deal gauges at most `intervalSeconds` old without a Temporal call per
 * scrape: a scrape inside the interval answers the stored values; concurrent
 * scrapes share one listing; a failed listing is not retried before the next interval.
 */
export function createDealKpiRefresher(opts: DealKpiRefresherOptions) {
  const intervalMs = opts.intervalSeconds * 1000;
  const timeoutMs = opts.timeoutMs ?? 5000;
  let lastAttemptMs = -Infinity;
  let inflight: Promise<void> | undefined;

  const refresh = async () => {
    try {
      const deals = await opts.listOpenDeals();
      opts.kpis.setDealList(deals, opts.clock());
    } catch (err) {
      opts.kpis.refreshFailed();
      opts.onError?.(err);
    } finally {
      inflight = undefined;
    }
  };

  return {
    async refreshIfStale(): Promise<void> {
      if (!inflight) {
        const now = opts.clock().getTime();
        if (now - lastAttemptMs < intervalMs) return;
        lastAttemptMs = now;
        inflight = refresh();
      }
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        timer.unref();
      });
      await Promise.race([inflight, timeout]);
      clearTimeout(timer);
    },
  };
}
