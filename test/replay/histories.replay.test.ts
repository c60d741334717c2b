import { Worker } from '@temporalio/worker';
import { kpiSinks } from '../../src/worker';
import { loadHistories } from '../support/histories';
import { workflowBundle } from '../support/temporal';

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
});
