import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { openDb, type DbHandle } from '../../src/db';
import { dealWorkflow } from '../../src/workflows';
import { createTimeSkippingEnv, workflowBundle } from '../support/temporal';
import { testLogger } from '../support/logger';
import { maybeRecordHistory } from '../support/histories';

describe('walking skeleton on the time-skipping test server', () => {
  let env: TestWorkflowEnvironment;
  let db: DbHandle;

  beforeAll(async () => {
    env = await createTimeSkippingEnv();
    db = await openDb({ dataDir: 'memory://' });
  });
  afterAll(async () => {
    await env?.teardown();
    await db?.close();
  });

  it('skips a 30-day delivery timer: 30 days of workflow time in seconds of wall time', async () => {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'skeleton',
      workflowBundle: await workflowBundle(),
      activities: createActivities({ db: db.db, logger: testLogger }),
    });
    const result = await worker.runUntil(async () => {
      const started = Date.now();
      const handle = await env.client.workflow.start(dealWorkflow, {
        taskQueue: 'skeleton',
        workflowId: 'deal-OPP-SKELETON',
        args: [{ opportunityId: 'OPP-SKELETON', correlationId: 'corr-1' }],
      });
      const skewBefore = await env.currentTimeMs();
      const state = await handle.result();
      const skipped = (await env.currentTimeMs()) - skewBefore;
      await maybeRecordHistory(handle, 'deal-skeleton');
      return { state, wallMs: Date.now() - started, skippedMs: skipped };
    });
    expect(result.state).toEqual({ stage: 'CLOSED', dealId: 'deal-OPP-SKELETON' });
    // 30 days = 30 x 86,400,000 ms of workflow time passed ...
    expect(result.skippedMs).toBeGreaterThanOrEqual(30 * 86_400_000);
    // ... in seconds of wall time, not days: the server skipped the timer. (Typically
    // ~0.3 s with the native test server; the bound is loose so a loaded CI machine
    // or the slower Java test server cannot make it flaky.)
    expect(result.wallMs).toBeLessThan(10_000);
  });
});
