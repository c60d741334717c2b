import { isSpanContextValid, trace } from '@opentelemetry/api';
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import pino, { type DestinationStream, type Level, type Logger } from 'pino';
import pretty from 'pino-pretty';

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

/** json: one JSON object per line (what log shippers read); pretty: one coloured line per record, for a person. */
export type LogFormat = 'json' | 'pretty';

/**
 * LOG_FORMAT `auto` resolved for a process: pretty only where a person reads the
 * output as it comes (`q2c up` / `npm start` on a terminal); JSON everywhere else.
 */
export const resolveLogFormat = (setting: LogFormat | 'auto', forPerson: boolean, isTTY = process.stdout.isTTY === true): LogFormat =>
  setting === 'auto' ? (forPerson && isTTY ? 'pretty' : 'json') : setting;

/**
 * One line per record for a person: time, level, [component] and the message's first
 * line (a multi-line message, such as the workflow bundler's report, ends in '…'), then
 * the record's own fields. Request headers are left out; LOG_FORMAT=json keeps everything.
 */
export function prettyStream(opts: { colorize?: boolean; destination?: DestinationStream } = {}): DestinationStream {
  return pretty({
    colorize: opts.colorize ?? process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname,service,component,headers',
    messageFormat: (log, messageKey) => prettyMessage(log, messageKey),
    singleLine: true,
    sync: true,
    ...(opts.destination ? { destination: opts.destination } : {}),
  });
}

export function prettyMessage(log: Record<string, unknown>, messageKey = 'msg'): string {
  const msg = String(log[messageKey] ?? '');
  const newline = msg.indexOf('\n');
  const first = newline < 0 ? msg : `${msg.slice(0, newline)} …`;
  return typeof log.component === 'string' ? `[${log.component}] ${first}` : first;
}

/** The one root logger factory: every process (stack, worker, service) redacts the same secrets. */
export function createLogger(opts: { level?: string; service?: string; destination?: DestinationStream; format?: LogFormat } = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { service: opts.service ?? 'q2c' },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      mixin: traceContextMixin,
    },
    opts.format === 'pretty' ? prettyStream(opts.destination ? { destination: opts.destination, colorize: false } : {}) : opts.destination,
  );
}

/**
 * Fastify's request log lines at `level`: 'info' is Fastify's own (two lines per
 * request); below it, one line per answered request at that level. The vendor
 * sandboxes log at debug (their traffic is the noise of a demo), and so does the
 * service inside the dev stack, where each webhook's own line tells the story.
 */
export function requestLogController(level: Level = 'info', opts: { requestIdLogLabel?: string } = {}): LogController {
  if (level === 'info') return new LogController(opts);
  return new (class extends LogController {
    override incomingRequest(): void {}
    override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
      const line = { method: request.method, url: request.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) };
      if (error) reply.log.error({ ...line, err: error }, 'request errored');
      else reply.log[level](line, 'request completed');
    }
  })(opts);
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
