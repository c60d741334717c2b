import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { DbHandle } from '../../src/db';
import { createMetrics, type Metrics } from '../../src/service/metrics';
import { createWorker, defaultMaxCachedWorkflows } from '../../src/worker';
import { dealWorkflow } from '../../src/workflows';
import { contractSignatureSignal, dealWorkflowId, resolveExceptionUpdate } from '../../src/contract';
import { patchSalesforce, sandboxActivityDeps, seedClosedWonDeal, untilDeal as until } from '../support/deal';
import { useSandboxAndDb, type TestSandbox } from '../support/sandbox';
import { createTimeSkippingEnv, workflowBundle } from '../support/temporal';

const TASK_QUEUE = 'kpi-sinks';
const DAY_S = 86_400;
jest.setTimeout(120_000);

let env: TestWorkflowEnvironment;
let sandbox: TestSandbox;
let db: DbHandle;
let metrics: Metrics;
let worker: Worker;
let run: Promise<void>;

useSandboxAndDb((c) => ({ sandbox, db } = c));
describe('deal KPIs through the worker sink', () => {
  beforeEach(async () => {
    env = await createTimeSkippingEnv();
    metrics = createMetrics();
    worker = await createWorker({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUE,
      deps: sandboxActivityDeps(sandbox.url, db.db),
      workflowBundle: await workflowBundle(),
      kpis: metrics.kpis,
      // No cache: every workflow task replays the deal from its first event, so a
      // sink that ran on replay would count each transition again and again.
      maxCachedWorkflows: 0,
    });
    run = worker.run();
  });
  afterEach(async () => {
    worker.shutdown();
    await run;
    await env?.teardown();
  });

  /** count and sum of q2c_deal_stage_reached_seconds per stage, and q2c_deal_exceptions_total per code, from the exposition. */
  async function scrape(): Promise<{ reached: Record<string, { count: number; sum: number }>; exceptions: Record<string, number> }> {
    const reached: Record<string, { count: number; sum: number }> = {};
    const exceptions: Record<string, number> = {};
    for (const line of (await metrics.registry.metrics()).split('\n')) {
      const stage = /^q2c_deal_stage_reached_seconds_(count|sum)\{stage="([A-Z_]+)"\} (\S+)$/.exec(line);
      if (stage) (reached[stage[2]!] ??= { count: 0, sum: 0 })[stage[1] as 'count' | 'sum'] = Number(stage[3]);
      const exception = /^q2c_deal_exceptions_total\{code="([^"]+)"\} (\S+)$/.exec(line);
      if (exception) exceptions[exception[1]!] = Number(exception[2]);
    }
    return { reached, exceptions };
  }

  const start = (opportunityId: string) =>
    env.client.workflow.start(dealWorkflow, { taskQueue: TASK_QUEUE, workflowId: dealWorkflowId(opportunityId), args: [{ opportunityId, correlationId: `corr-${opportunityId}` }] });
  const sign = (envelopeId: string) => ({ eventId: `evt-${envelopeId}`, envelopeId, status: 'completed' as const, occurredAt: '2026-01-20T10:00:00Z' });

  test('one deal: each stage reached once on the histogram, timed in workflow time, not doubled by replay', async () => {
    const { opportunityId } = await seedClosedWonDeal(sandbox.url, { key: 'KPI1' });
    const handle = await start(opportunityId);
    const out = await until(handle, (v) => v.stage === 'CONTRACT_OUT_FOR_SIGNATURE', 'out for signature');
    // The customer signs two days later (skipped time): the cycle time is the workflow's, not the test's wall clock.
    await env.sleep(2 * DAY_S * 1000);
    await handle.signal(contractSignatureSignal, sign(out.ids.envelopeId!));
    const view = await until(handle, (v) => v.stage === 'IN_DELIVERY', 'in delivery');

    const { reached, exceptions } = await scrape();
    const stages = ['QUOTE_ACCEPTED', 'CUSTOMER_VALIDATED', 'CONTRACT_OUT_FOR_SIGNATURE', 'CONTRACT_SIGNED', 'PROJECT_PROVISIONED', 'ERP_CONTRACT_POSTED', 'BILLING_SCHEDULED', 'IN_DELIVERY'];
    expect(Object.fromEntries(Object.entries(reached).map(([s, v]) => [s, v.count]))).toEqual(Object.fromEntries(stages.map((s) => [s, 1])));
    // Each observation is what the deal's own timeline says: stage time - deal start.
    const startedAt = Date.parse(view.timeline[0]!.at);
    for (const s of stages) expect(reached[s]!.sum).toBeCloseTo((Date.parse(view.timeline.find((t) => t.stage === s)!.at) - startedAt) / 1000, 3);
    // quote-to-project cycle time: the two days waiting for the signature, plus the activities' few seconds
    expect(reached['PROJECT_PROVISIONED']!.sum).toBeGreaterThanOrEqual(2 * DAY_S);
    expect(reached['PROJECT_PROVISIONED']!.sum).toBeLessThan(2 * DAY_S + 600);
    expect(reached['QUOTE_ACCEPTED']!.sum).toBe(0);
    expect(exceptions).toEqual({});
    await handle.terminate('test done');
  });

  test('a parked deal counts its exception once; the operator resumption is not a second arrival', async () => {
    // CHF is not enabled in the ERP: the customer master is rejected (ERP.CUSTOMER_INVALID).
    const { opportunityId, accountId } = await seedClosedWonDeal(sandbox.url, { key: 'KPI2', account: { CurrencyIsoCode: 'CHF' } });
    const handle = await start(opportunityId);
    await until(handle, (v) => v.stage === 'NEEDS_ATTENTION', 'needs attention');
    await patchSalesforce(sandbox.url, 'Account', accountId, { CurrencyIsoCode: 'USD' });
    await handle.executeUpdate(resolveExceptionUpdate, { args: [{ action: 'retry' }] });
    const out = await until(handle, (v) => v.stage === 'CONTRACT_OUT_FOR_SIGNATURE', 'out for signature');
    await handle.signal(contractSignatureSignal, sign(out.ids.envelopeId!));
    const view = await until(handle, (v) => v.stage === 'IN_DELIVERY', 'in delivery');
    // The timeline shows QUOTE_ACCEPTED twice (resumed); the KPI counts arrivals.
    expect(view.timeline.filter((t) => t.stage === 'QUOTE_ACCEPTED')).toHaveLength(2);

    const { reached, exceptions } = await scrape();
    expect(exceptions).toEqual({ 'ERP.CUSTOMER_INVALID': 1 });
    expect([reached['QUOTE_ACCEPTED']!.count, reached['NEEDS_ATTENTION']!.count, reached['PROJECT_PROVISIONED']!.count]).toEqual([1, 1, 1]);
    await handle.terminate('test done');
  });

});

test('the default workflow cache is half the V8 heap at ~5 MiB per cached deal, never under 10', () => {
  const GiB = 2 ** 30;
  expect(defaultMaxCachedWorkflows(4 * GiB)).toBe(2_048); // 4,096 MiB x 0.5 / 1 MiB
  expect(defaultMaxCachedWorkflows(8 * GiB)).toBe(4_096);
  expect(defaultMaxCachedWorkflows(64 * 2 ** 20)).toBe(32); // 64 MiB x 0.5 / 1 MiB
  expect(defaultMaxCachedWorkflows(8 * 2 ** 20)).toBe(10); // never below 10
});
