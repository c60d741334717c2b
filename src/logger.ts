import { isSpanContextValid, trace } from '@opentelemetry/api';
import pino, { type DestinationStream, type Logger } from 'pino';

const SECRET_HEADERS = [
  'authorization',
  'cookie',
  'x-q2c-signature',
  'stripe-signature',
  ...Array.from({ length: 100 }, (_, i) => `x-docusign-signature-${i + 1}`),
];

/**
 * Everything that may carry a credential, wherever a log line puts headers.
 * Webhook log lines carry the request headers (useful for vendor delivery ids),
 * so signatures and bearer keys must be censored, not merely left out.
 */
export const REDACT_PATHS = [
  ...SECRET_HEADERS.flatMap((h) => [`headers["${h}"]`, `req.headers["${h}"]`]),
  'secrets',
  '*.secrets',
];

/** The one root logger factory: every process (stack, worker, service) redacts the same secrets. */
export function createLogger(opts: { level?: string; service?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { service: opts.service ?? 'q2c' },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      mixin: traceContextMixin,
    },
    opts.destination,
  );
}

/**
 * pino mixin: the active span's ids on every line logged inside it (`trace_id`, `span_id`,
 * the names OpenTelemetry's log data model and the Temporal interceptors use), so a log line
 * leads to its trace. Nothing when tracing is off or no span is active.
 */
export function traceContextMixin(): { trace_id?: string; span_id?: string } {
  const ctx = trace.getActiveSpan()?.spanContext();
  return ctx && isSpanContextValid(ctx) ? { trace_id: ctx.traceId, span_id: ctx.spanId } : {};
}
