import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { Worker } from '@temporalio/worker';
import { setupTelemetry, type Telemetry } from '../../src/telemetry';
import { kpiSinks } from '../../src/worker';
import { DELIVERY_HISTORIES_DIR, loadHistories } from '../support/histories';
import { tracedWorkflowBundle } from '../support/temporal';
import { engagementBundle } from '../workflows/engagement.support';

// Histories of the delivery part alone (engagementTestWorkflow), recorded by
// test/workflows/*.test.ts with Q2C_RECORD_HISTORIES=1 on the code named in each test.
describe('recorded delivery histories replay on the current workflow code', () => {
  const histories = loadHistories(DELIVERY_HISTORIES_DIR);

  it('has recorded delivery histories to replay', () => {
    expect(histories.map((h) => h.workflowId)).toContain('approved-invoice-paid');
  });

  it.each(histories.map((h) => [h.workflowId, h] as const))('%s replays without nondeterminism', async (_id, h) => {
    const result = Worker.runReplayHistories({ workflowBundle: await engagementBundle(), sinks: kpiSinks() }, [h]);
    for await (const r of result) expect(r.error).toBeUndefined();
  });

  describe('with the OpenTelemetry interceptors installed (tracing on)', () => {
    let telemetry: Telemetry;
    beforeAll(() => {
      telemetry = setupTelemetry({ serviceName: 'replay', env: {}, exporter: new InMemorySpanExporter() });
    });
    afterAll(() => telemetry.shutdown());

    it.each(histories.map((h) => [h.workflowId, h] as const))('%s replays without nondeterminism', async (_id, h) => {
      const bundle = await tracedWorkflowBundle(require.resolve('../workflows/engagement.workflows'));
      const result = Worker.runReplayHistories({ workflowBundle: bundle, sinks: { ...kpiSinks(), ...telemetry.worker!.sinks } }, [h]);
      for await (const r of result) expect(r.error).toBeUndefined();
    });
  });
});
