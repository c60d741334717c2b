import { createHmac } from 'node:crypto';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { contractSignatureSignal, dealWorkflowId } from '../../src/contract';
import type { DbHandle } from '../../src/db';
import { createLogger } from '../../src/logger';
import { buildService } from '../../src/service/app';
import { createTemporalDealGateway } from '../../src/service/temporal-deal-gateway';
import { setupTelemetry, WORKFLOW_INTERCEPTOR_MODULES, type Telemetry } from '../../src/telemetry';
import { createErpWorker, createWorker, WORKFLOW_BUNDLER_OPTIONS, WORKFLOWS_PATH } from '../../src/worker';
import { sandboxActivityDeps, seedClosedWonDeal, untilDeal } from '../support/deal';
import { maybeRecordHistory } from '../support/histories';
import { startTestSandbox, type TestSandbox } from '../support/sandbox';
import { createDevServerEnv } from '../support/temporal';
import { openDb } from '../../src/db';
import { serviceSecrets, SECRETS } from '../service/support/harness';

jest.setTimeout(180_000);
const TASK_QUEUE = 'trace-test';

// Set up before any Fastify instance (sandbox, service) exists: @fastify/otel registers on initialisation.
const exporter = new InMemorySpanExporter();
let telemetry: Telemetry;
let env: TestWorkflowEnvironment;
let sandbox: TestSandbox;
let db: DbHandle;
let service: FastifyInstance;
let serviceUrl: string;
let client: Client;
let workers: Worker[];
let runs: Array<Promise<void>>;

beforeAll(async () => {
  telemetry = setupTelemetry({ serviceName: 'q2c-trace-test', env: {}, exporter });
  env = await createDevServerEnv();
  sandbox = await startTestSandbox();
  db = await openDb({ dataDir: 'memory://' });
  // The client the service uses, with the tracing interceptors, as service main builds it.
  client = new Client({ connection: env.connection, namespace: 'default', interceptors: telemetry.clientInterceptors! });
  // Workflow code bundled with the OpenTelemetry workflow interceptors, as the worker bundles it when tracing is on.
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, ...WORKFLOW_BUNDLER_OPTIONS, workflowInterceptorModules: [...WORKFLOW_INTERCEPTOR_MODULES], logger: quiet });
  const deps = sandboxActivityDeps(sandbox.url, db.db);
  workers = [
    await createWorker({ connection: env.nativeConnection, taskQueue: TASK_QUEUE, deps, workflowBundle, telemetry: telemetry.worker }),
    await createErpWorker({ connection: env.nativeConnection, deps, telemetry: telemetry.worker, slots: 5 }),
  ];
  runs = workers.map((w) => w.run());
  service = await buildService({
    db: db.db,
    dealGateway: createTemporalDealGateway({ client: client.workflow, taskQueue: TASK_QUEUE }),
    logger: createLogger({ level: 'silent' }),
    secrets: serviceSecrets,
  });
  serviceUrl = await service.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  for (const w of workers ?? []) if (w.getState() === 'RUNNING') w.shutdown();
  await Promise.allSettled(runs ?? []);
  await service?.close();
  await sandbox?.close();
  await db?.close();
  await env?.teardown();
  await telemetry?.shutdown();
});

const quiet = { trace: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: console.error, log: () => {} };

async function until<T>(what: string, read: () => T | undefined): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = read();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never saw ${what}`);
}

test('one trace runs webhook request -> signalWithStart -> workflow -> activity -> vendor HTTP call', async () => {
  const { opportunityId, accountId } = await seedClosedWonDeal(sandbox.url, { key: 'TRACE' });
  const body = JSON.stringify({
    eventId: 'trace-evt-1',
    eventType: 'opportunity.closed_won',
    occurredAt: new Date().toISOString(),
    opportunity: { id: opportunityId, accountId, stageName: 'Closed Won', isWon: true },
  });
  const ts = Math.floor(Date.now() / 1000);
  const res = await fetch(`${serviceUrl}/webhooks/salesforce/opportunity`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'x-q2c-timestamp': String(ts), 'x-q2c-signature': createHmac('sha256', SECRETS.salesforceNew).update(`${ts}.${body}`).digest('hex') },
  });
  expect(res.status).toBe(202);

  // The deal runs its activities (Salesforce reads, the DocuSign envelope) and waits for the signature;
  // a declined signature ends it, so its own workflow span ends and is exported too.
  const handle = client.workflow.getHandle(dealWorkflowId(opportunityId));
  const view = await untilDeal(handle, (v) => Boolean(v.ids.envelopeId), 'the envelope sent');
  await handle.signal(contractSignatureSignal, { eventId: 'trace-decline', envelopeId: view.ids.envelopeId!, status: 'declined', occurredAt: new Date().toISOString() });
  expect((await handle.result()).stage).toBe('CANCELLED');
  // A history with the interceptors' headers, replayed with and without them by test/replay.
  await maybeRecordHistory(handle, 'deal-declined-traced');

  const spans = () => exporter.getFinishedSpans();
  const webhook = await until('the webhook request span', () =>
    spans().find((s) => s.kind === SpanKind.SERVER && s.attributes['http.route'] === '/webhooks/salesforce/opportunity'),
  );
  const traceId = webhook.spanContext().traceId;
  const inTrace = () => spans().filter((s) => s.spanContext().traceId === traceId);
  const named = (prefix: string) => () => inTrace().find((s) => s.name.startsWith(prefix));

  const signalWithStart = await until('the client SignalWithStartWorkflow span', named('SignalWithStartWorkflow:dealWorkflow'));
  const runWorkflow = await until('the RunWorkflow span', named('RunWorkflow:dealWorkflow'));
  const startActivity = await until('a StartActivity span from the workflow', named('StartActivity:'));
  const runActivity = await until('a RunActivity span', named('RunActivity:'));
  // A read of the opportunity from the Salesforce sandbox (the connectors call vendors through undici).
  const vendorCall = await until('an undici client span reading from the Salesforce sandbox', () =>
    inTrace().find((s) => s.kind === SpanKind.CLIENT && s.attributes['http.request.method'] === 'GET' && String(s.attributes['url.full'] ?? '').startsWith(`${sandbox.url}/salesforce/`)),
  );

  // Each hop is the child of the one before it: one trace, linked end to end.
  const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
  const byId = new Map(inTrace().map((s) => [s.spanContext().spanId, s]));
  const runActivityOf = (s: ReadableSpan) => byId.get(parentOf(s)!)!.name.replace('RunActivity:', '');
  const chain = (s: ReadableSpan): string[] => {
    const out = [s.name];
    for (let p = parentOf(s); p && byId.has(p); p = parentOf(byId.get(p)!)) out.push(byId.get(p)!.name);
    return out;
  };
  // The test's own fetch (undici, instrumented too) is the root; the service's span is its child.
  expect(webhook.name).toBe('POST /webhooks/salesforce/opportunity');
  expect(chain(signalWithStart)).toEqual(['SignalWithStartWorkflow:dealWorkflow', 'handler - /webhooks/salesforce/opportunity', webhook.name, 'POST']);
  expect(parentOf(runWorkflow)).toBe(signalWithStart.spanContext().spanId);
  expect(parentOf(startActivity)).toBe(runWorkflow.spanContext().spanId);
  // The signal of signalWithStart is handled in the workflow under the same client span.
  const handleSignal = await until('the HandleSignal span', named('HandleSignal:closedWon'));
  expect(parentOf(handleSignal)).toBe(signalWithStart.spanContext().spanId);
  // A vendor call: up through RunActivity, StartActivity, RunWorkflow, the client span, to the webhook request.
  expect(chain(vendorCall).slice(1, 6)).toEqual([
    `RunActivity:${runActivityOf(vendorCall)}`,
    `StartActivity:${runActivityOf(vendorCall)}`,
    'RunWorkflow:dealWorkflow',
    'SignalWithStartWorkflow:dealWorkflow',
    'handler - /webhooks/salesforce/opportunity',
  ]);
  expect(vendorCall.attributes['http.response.status_code']).toBe(200);
  // The trace context crossed the wire: the sandbox's own server span is the vendor call's child.
  expect(inTrace().some((s) => s.kind === SpanKind.SERVER && parentOf(s) === vendorCall.spanContext().spanId)).toBe(true);
  expect(runActivity.attributes['temporalWorkflowId']).toBe(dealWorkflowId(opportunityId));
  // Workflow spans come through the sink with the worker's resource.
  expect(runWorkflow.resource.attributes['service.name']).toBe('q2c-trace-test');
});
