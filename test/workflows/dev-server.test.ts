import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { openDb, type DbHandle } from '../../src/db';
import { dealWorkflow } from '../../src/workflows';
import { getDealStateQuery } from '../../src/workflows/deal.messages';
import { createDevServerEnv, workflowBundle } from '../support/temporal';
import { testLogger } from '../support/logger';

describe('walking skeleton on the real dev server (Temporal CLI)', () => {
  let env: TestWorkflowEnvironment;
  let db: DbHandle;

  beforeAll(async () => {
    env = await createDevServerEnv();
    db = await openDb({ dataDir: 'memory://' });
  });
  afterAll(async () => {
    await env?.teardown();
    await db?.close();
  });

  it('starts a deal, answers its state query and lists it through visibility', async () => {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'skeleton-dev',
      workflowBundle: await workflowBundle(),
      activities: createActivities({ db: db.db, logger: testLogger }),
    });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(dealWorkflow, {
        taskQueue: 'skeleton-dev',
        workflowId: 'deal-OPP-DEV',
        args: [{ opportunityId: 'OPP-DEV', correlationId: 'corr-dev' }],
      });
      // The skeleton sits in delivery for 30 real days here: poll its query until the activity has run.
      let state: unknown;
      for (let i = 0; i < 50; i++) {
        state = await handle.query(getDealStateQuery);
        if ((state as { stage: string }).stage === 'IN_DELIVERY') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(state).toEqual({ stage: 'IN_DELIVERY', dealId: 'deal-OPP-DEV' });
      const listed: string[] = [];
      for await (const wf of env.client.workflow.list({ query: `WorkflowType = 'dealWorkflow' AND ExecutionStatus = 'Running'` })) {
        listed.push(wf.workflowId);
      }
      expect(listed).toEqual(['deal-OPP-DEV']);
      await handle.terminate('test finished');
    });
  });
});
