import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

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
  return { registry, webhooksReceived, dispatchSeconds };
}

export type Metrics = ReturnType<typeof createMetrics>;
