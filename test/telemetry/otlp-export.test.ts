import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { otlpTracesUrl, setupTelemetry } from '../../src/telemetry';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}
interface OtlpBody {
  resourceSpans: Array<{ resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> }; scopeSpans: Array<{ scope: { name: string }; spans: OtlpSpan[] }> }>;
}

describe('OTLP export (OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  it('derives the traces URL the way the OTLP exporter does', () => {
    expect(otlpTracesUrl({})).toBeUndefined();
    expect(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toBe('http://collector:4318/v1/traces');
    expect(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://tempo:4318/otlp/v1/traces' })).toBe('http://tempo:4318/otlp/v1/traces');
  });

  it("posts the process's spans and the workflow spans (from the sandbox's sink) to the collector, the workflow span under its parent", async () => {
    const bodies: Array<{ path: string; body: OtlpBody }> = [];
    const collector = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push({ path: req.url!, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpBody });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    const telemetry = setupTelemetry({ serviceName: 'q2c-worker', env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } });
    try {
      expect(telemetry.enabled).toBe(true);
      const parent = telemetry.tracer.startSpan('RunActivity:loadDeal');
      const { traceId, spanId } = parent.spanContext();
      parent.end();
      // A span as the workflow sandbox serialises it (OpenTelemetry 1.x shape) through the `exporter` sink.
      const sink = (telemetry.worker!.sinks as unknown as { exporter: { export: { fn: (info: object, spans: object[]) => void } } }).exporter.export;
      sink.fn({ workflowId: 'deal-OPP-1' }, [
        {
          name: 'StartActivity:postInvoice',
          kind: 0,
          spanContext: { traceId, spanId: '1111111111111111', traceFlags: 1 },
          parentSpanId: spanId,
          startTime: [1_765_000_000, 0],
          endTime: [1_765_000_001, 0],
          status: { code: 0 },
          attributes: {},
          links: [],
          events: [],
          duration: [1, 0],
          ended: true,
          droppedAttributesCount: 0,
          droppedEventsCount: 0,
          droppedLinksCount: 0,
          instrumentationLibrary: { name: '@temporalio/interceptor-workflow' },
        },
      ]);
    } finally {
      await telemetry.shutdown();
      await new Promise((r) => collector.close(r));
    }
    expect(bodies.map((b) => b.path)).toEqual(expect.arrayContaining(['/v1/traces']));
    const spans = bodies.flatMap((b) => b.body.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => ({ ...s, scope: ss.scope.name, service: rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue })))));
    const activity = spans.find((s) => s.name === 'RunActivity:loadDeal')!;
    const fromWorkflow = spans.find((s) => s.name === 'StartActivity:postInvoice')!;
    expect(activity).toMatchObject({ scope: 'q2c', service: 'q2c-worker' });
    expect(fromWorkflow).toMatchObject({ traceId: activity.traceId, parentSpanId: activity.spanId, spanId: '1111111111111111', scope: '@temporalio/interceptor-workflow', service: 'q2c-worker' });
  });
});
