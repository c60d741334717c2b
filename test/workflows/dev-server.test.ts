import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { EncryptionCodec } from '../../src/codec/encryption.codec';
import { openDb, type DbHandle } from '../../src/db';
import { kpiSinks } from '../../src/worker';
import { contractSignatureSignal, dealWorkflowId, getDealStateQuery, type DealView } from '../../src/contract';
import { ERP_TASK_QUEUE } from '../../src/contract';
import { sandboxActivityDeps, seedClosedWonDeal } from '../support/deal';
import { startTestSandbox, type TestSandbox } from '../support/sandbox';
import { createDevServerEnv, workflowBundle } from '../support/temporal';

jest.setTimeout(120_000);

describe('a deal on the real dev server (Temporal CLI), payloads encrypted', () => {
  let env: TestWorkflowEnvironment;
  let sandbox: TestSandbox;
  let db: DbHandle;
  const dataConverter = { payloadCodecs: [new EncryptionCodec([{ id: 'test', key: Buffer.alloc(32, 7) }])] };

  beforeAll(async () => {
    env = await createDevServerEnv();
    sandbox = await startTestSandbox();
    db = await openDb({ dataDir: 'memory://' });
  });
  afterAll(async () => {
    await sandbox?.close();
    await db?.close();
    await env?.teardown();
  });

  it('reaches IN_DELIVERY, is listed by its DealStage search attribute, and its history holds no customer data in the clear', async () => {
    const { opportunityId } = await seedClosedWonDeal(sandbox.url, { key: 'DEV' });
    const activities = createActivities(sandboxActivityDeps(sandbox.url, db.db));
    const client = new Client({ connection: env.connection, dataConverter });
    const main = await Worker.create({ connection: env.nativeConnection, taskQueue: 'dev', workflowBundle: await workflowBundle(), activities, dataConverter, sinks: kpiSinks() });
    const erp = await Worker.create({ connection: env.nativeConnection, taskQueue: ERP_TASK_QUEUE, activities, dataConverter });
    await main.runUntil(
      erp.runUntil(async () => {
        const handle = await client.workflow.start('dealWorkflow', {
          taskQueue: 'dev',
          workflowId: dealWorkflowId(opportunityId),
          args: [{ opportunityId, correlationId: 'corr-dev' }],
        });
        const waitFor = async (stage: string): Promise<DealView> => {
          for (let i = 0; i < 200; i++) {
            const v = await handle.query(getDealStateQuery);
            if (v.stage === stage) return v;
            await new Promise((r) => setTimeout(r, 100));
          }
          throw new Error(`never reached ${stage}`);
        };
        const out = await waitFor('CONTRACT_OUT_FOR_SIGNATURE');
        await handle.signal(contractSignatureSignal, { eventId: 'e1', envelopeId: out.ids.envelopeId!, status: 'completed', occurredAt: '2026-01-20T10:00:00Z' });
        await waitFor('IN_DELIVERY');

        const listed: string[] = [];
        for await (const wf of client.workflow.list({ query: `DealStage = 'IN_DELIVERY' AND NeedsAttention = false` })) listed.push(wf.workflowId);
        expect(listed).toEqual([dealWorkflowId(opportunityId)]);

        // The server stores only ciphertext: the customer's name is nowhere in the raw history.
        const raw = JSON.stringify(await env.client.workflow.getHandle(handle.workflowId).fetchHistory());
        expect(raw).not.toContain('Globex');
        expect(raw).toContain('YmluYXJ5L2VuY3J5cHRlZA=='); // base64('binary/encrypted'), the codec's encoding
        await handle.terminate('test done');
      }),
    );
  });
});
