import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { Worker } from '@temporalio/worker';
import { setupTelemetry, type Telemetry } from '../../src/telemetry';
import { kpiSinks } from '../../src/worker';
import { loadHistories } from '../support/histories';
import { tracedWorkflowBundle, workflowBundle } from '../support/temporal';

describe('recorded histories replay on the current workflow code', () => {
  const histories = loadHistories();

  it('has recorded histories to replay', () => {
    expect(histories.length).toBeGreaterThan(0);
  });

  it.each(histories.map((h) => [h.workflowId, h] as const))('%s replays without nondeterminism', async (_id, h) => {
    const result = await Worker.runReplayHistories({ workflowBundle: await workflowBundle(), sinks: kpiSinks() }, [h]);
    for await (const r of result) {
      expect(r.error).toBeUndefined();
    }
  });

  // A worker with tracing on (OTEL_* set) runs the OpenTelemetry workflow interceptors: the
  // histories recorded without them (and the traced one, deal-declined-traced, with them)
  // replay there too, so tracing can be turned on or off under running deals.
  describe('with the OpenTelemetry interceptors installed (tracing on)', () => {
    let telemetry: Telemetry;
    beforeAll(() => {
      telemetry = setupTelemetry({ serviceName: 'replay', env: {}, exporter: new InMemorySpanExporter() });
    });
    afterAll(() => telemetry.shutdown());

    it.each(histories.map((h) => [h.workflowId, h] as const))('%s replays without nondeterminism', async (_id, h) => {
      const result = await Worker.runReplayHistories(
        { workflowBundle: await tracedWorkflowBundle(), sinks: { ...kpiSinks(), ...telemetry.worker!.sinks }, interceptors: { activity: telemetry.worker!.interceptors.activity } },
        [h],
      );
      for await (const r of result) expect(r.error).toBeUndefined();
    });
  });
});
