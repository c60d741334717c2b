import { Writable } from 'node:stream';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { createLogger } from '../../src/logger';
import { setupTelemetry, tracesExporters } from '../../src/telemetry';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: createLogger({ level: 'info', destination }) };
}

describe('log lines carry the active trace (the pino mixin in src/logger.ts)', () => {
  it('adds nothing while tracing is off, even inside a span', () => {
    const { lines, logger } = capture();
    trace.getTracer('t').startActiveSpan('off', (span) => {
      logger.info('inside a span, tracing off');
      span.end();
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toHaveProperty('trace_id');
    expect(lines[0]).not.toHaveProperty('span_id');
  });

  it('adds trace_id and span_id of the active span, and nothing outside one', async () => {
    const exporter = new InMemorySpanExporter();
    const telemetry = setupTelemetry({ serviceName: 'log-test', env: {}, exporter });
    try {
      const { lines, logger } = capture();
      const child = logger.child({ dealId: 'OPP-1' });
      logger.info('before');
      await telemetry.tracer.startActiveSpan('outer', async (outer) => {
        child.info('in outer');
        await new Promise((r) => setTimeout(r, 5));
        // Still there after an await (AsyncLocalStorage context), and the inner span replaces it.
        await telemetry.tracer.startActiveSpan('inner', async (inner) => {
          child.info('in inner');
          inner.end();
        });
        outer.end();
      });
      logger.info('after');
      const [outer, inner] = ['outer', 'inner'].map((n) => exporter.getFinishedSpans().find((s) => s.name === n)!.spanContext());
      expect(lines.map((l) => [l.msg, l.trace_id, l.span_id])).toEqual([
        ['before', undefined, undefined],
        ['in outer', outer!.traceId, outer!.spanId],
        ['in inner', outer!.traceId, inner!.spanId],
        ['after', undefined, undefined],
      ]);
      expect(inner!.traceId).toBe(outer!.traceId);
    } finally {
      await telemetry.shutdown();
    }
  });
});

describe('tracing is off unless the standard OTEL_* variables turn it on', () => {
  it.each([
    [{}, []],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, ['otlp']],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, ['otlp']],
    [{ OTEL_TRACES_EXPORTER: 'otlp' }, ['otlp']],
    [{ OTEL_TRACES_EXPORTER: 'otlp,console' }, ['otlp', 'console']],
    [{ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, []],
    [{ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' }, []],
  ] as const)('%j -> %j', (env, expected) => {
    expect(tracesExporters(env)).toEqual(expected);
  });

  it('registers nothing when off: no interceptors, no worker options', () => {
    const off = setupTelemetry({ serviceName: 'x', env: {} });
    expect(off.enabled).toBe(false);
    expect(off.clientInterceptors).toBeUndefined();
    expect(off.worker).toBeUndefined();
  });
});
