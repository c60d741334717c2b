import { context, trace, type Tracer } from '@opentelemetry/api';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { ClientInterceptors } from '@temporalio/client';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { WorkerInterceptors, WorkerOptions } from '@temporalio/worker';
import type { Config } from '../config';

/**
 * The workflow interceptor module of @temporalio/interceptors-opentelemetry: bundled with the
 * workflow code (bundleWorkflowCode's workflowInterceptorModules, or the worker's
 * interceptors.workflowModules). It adds a span per workflow run, signal, update and
 * scheduled activity, and the trace context to the headers of what the workflow starts.
 */
export const WORKFLOW_INTERCEPTOR_MODULES: readonly string[] = [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')];

export type TelemetryEnv = Pick<Config, 'OTEL_SDK_DISABLED' | 'OTEL_TRACES_EXPORTER' | 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' | 'OTEL_SERVICE_NAME'>;

/** Which exporters the standard OTEL_* variables ask for; none unless configured (tracing is off by default). */
export function tracesExporters(env: TelemetryEnv): Array<'otlp' | 'console'> {
  if (env.OTEL_SDK_DISABLED === 'true') return [];
  const named = env.OTEL_TRACES_EXPORTER?.split(',').map((s) => s.trim());
  if (named) return named.includes('none') ? [] : [...new Set(named)].filter((n): n is 'otlp' | 'console' => n === 'otlp' || n === 'console');
  // An OTLP endpoint alone turns OTLP export on: setting it is how every OTel SDK is pointed at a collector.
  return env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? ['otlp'] : [];
}

/**
 * The OTLP/HTTP traces URL from the configuration (the exporter would read the same variables;
 * passed explicitly so the configuration is the one place they are read). Unset: the
 * exporter's default, http://localhost:4318/v1/traces. Headers, certificates and timeout
 * (OTEL_EXPORTER_OTLP_HEADERS ...) the exporter reads itself.
 */
export function otlpTracesUrl(env: TelemetryEnv): string | undefined {
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  return env.OTEL_EXPORTER_OTLP_ENDPOINT && `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
}

export interface Telemetry {
  /** False: nothing is registered, no interceptor installed, no span made (the cost of tracing off). */
  readonly enabled: boolean;
  /** Interceptors for every Temporal client of the process (start, signalWithStart, update, query spans; context in headers). */
  readonly clientInterceptors: ClientInterceptors | undefined;
  /** What a Worker needs: activity interceptors, the workflow interceptor modules and the sink workflow spans leave by. */
  readonly worker: { interceptors: WorkerInterceptors; sinks: NonNullable<WorkerOptions['sinks']> } | undefined;
  readonly tracer: Tracer;
  /** Flushes and stops export (end of process). */
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  /** service.name of the spans (OTEL_SERVICE_NAME wins). */
  serviceName: string;
  env: TelemetryEnv;
  /** Tests: export here (synchronously) regardless of the environment. */
  exporter?: SpanExporter;
}

const OFF: Telemetry = {
  enabled: false,
  clientInterceptors: undefined,
  worker: undefined,
  tracer: trace.getTracer('q2c'),
  shutdown: async () => {},
};

let installed: Telemetry | undefined;

/**
 * Tracing for this process, set up once, before the first Fastify instance and the first
 * undici request: the global tracer provider (AsyncLocalStorage context, W3C trace context),
 * Fastify's request spans (@fastify/otel, on every instance as it initialises), undici's
 * client spans (the connectors' vendor calls) and the Temporal interceptors, so one trace runs
 * webhook request -> signalWithStart -> workflow -> activity -> vendor HTTP call.
 * Off (the default) it registers nothing.
 */
export function setupTelemetry(opts: TelemetryOptions): Telemetry {
  if (installed) return installed;
  const url = otlpTracesUrl(opts.env);
  const exporters: SpanExporter[] = opts.exporter
    ? [opts.exporter]
    : tracesExporters(opts.env).map((e) => (e === 'otlp' ? new OTLPTraceExporter(url ? { url } : {}) : new ConsoleSpanExporter()));
  if (exporters.length === 0) return OFF;

  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: opts.env.OTEL_SERVICE_NAME ?? opts.serviceName });
  // Tests read their spans at once; a real exporter batches.
  const processors: SpanProcessor[] = exporters.map((e) => (opts.exporter ? new SimpleSpanProcessor(e) : new BatchSpanProcessor(e)));
  const provider = new NodeTracerProvider({ resource, spanProcessors: processors });
  provider.register();
  const unregister = registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        // HTTP semantic conventions name a server span `{method} {route}` (@fastify/otel calls it `request`).
        requestHook: (span, request) => span.updateName(`${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`),
        // Fastify names an anonymous plugin by its source text; a hook span gets the route instead.
        lifecycleHook: (span, info) => {
          if (info.handler && !/^[\w$.@/-]{1,64}$/.test(info.handler)) span.updateName(`${info.hookName} - ${info.request.routeOptions.url ?? 'route'}`);
        },
      }),
      new UndiciInstrumentation(),
    ],
  });
  const workflowSpans = workflowSpanProcessor(processors);
  const telemetry: Telemetry = {
    enabled: true,
    clientInterceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] },
    worker: {
      interceptors: {
        client: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] },
        workflowModules: [...WORKFLOW_INTERCEPTOR_MODULES],
        activity: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })],
      },
      // The interceptors package is typed against OpenTelemetry 1.x; the processor and resource are 2.x (same shape where it reads them).
      sinks: { exporter: makeWorkflowExporter(workflowSpans as never, resource as never) },
    },
    tracer: provider.getTracer('q2c'),
    shutdown: async () => {
      unregister();
      await provider.shutdown();
      trace.disable();
      context.disable();
      installed = undefined;
    },
  };
  installed = telemetry;
  return telemetry;
}

/** Flushes and stops the process's tracing, if it was set up (a short-lived CLI command's last step). */
export async function shutdownTelemetry(): Promise<void> {
  await installed?.shutdown();
}

/**
 * Workflow spans arrive through the sink in OpenTelemetry 1.x's shape (the interceptors' own
 * sdk-trace-base runs inside the workflow sandbox): `parentSpanId` and `instrumentationLibrary`,
 * where 2.x processors and exporters read `parentSpanContext` and `instrumentationScope`.
 * Without this, an exporter drops the workflow spans' parent (and OTLP throws on the scope).
 */
export function workflowSpanProcessor(processors: SpanProcessor[]): Pick<SpanProcessor, 'onEnd'> {
  return {
    onEnd(span: ReadableSpan) {
      const v1 = span as ReadableSpan & { parentSpanId?: string; instrumentationLibrary?: ReadableSpan['instrumentationScope'] };
      const ctx = span.spanContext();
      const adapted: ReadableSpan = Object.assign(Object.create(null) as object, v1, {
        spanContext: () => ctx,
        parentSpanContext: span.parentSpanContext ?? (v1.parentSpanId ? { traceId: ctx.traceId, spanId: v1.parentSpanId, traceFlags: ctx.traceFlags, isRemote: false } : undefined),
        instrumentationScope: span.instrumentationScope ?? v1.instrumentationLibrary ?? { name: '@temporalio/interceptor-workflow' },
      });
      for (const p of processors) p.onEnd(adapted);
    },
  };
}

export type { Resource };
