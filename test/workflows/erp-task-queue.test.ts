import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { parseConfig } from '../../src/config';
import { deliveryBatchSignal, ERP_TASK_QUEUE, getDeliveryStateQuery, type DeliveryItem } from '../../src/contract';
import type { DbHandle } from '../../src/db';
import { createErpWorker } from '../../src/worker';
import { sandboxActivityDeps } from '../support/deal';
import type { TestSandbox } from '../support/sandbox';
import { engagementTestWorkflow } from './engagement.workflows';
import { avalara, catalog, customer, engagementWorkers, netsuite, recordingPorts, skipTo, snapshotFor, useEngagementEnv, usd } from './engagement.support';

/*
 * The ERP task queue is a setting: ERP_TASK_QUEUE=acme-netsuite makes the ERP worker poll that queue
 * and the deals started with it schedule their ERP activities there. A fixed-fee deal's first
 * milestone (30 % of $100,000.00 + 8.875 % NY tax = $32,662.50) is posted by the only ERP worker,
 * on acme-netsuite; nothing polls the default queue.
 */
const OPP = 'OPP-ERPQ';
const L1 = 'CTR-OPP-ERPQ-L1';

describe('a configured ERP task queue', () => {
  let env: TestWorkflowEnvironment;
  let sb: TestSandbox;
  let db: DbHandle;

  useEngagementEnv((c) => ({ env, sb, db } = c));

  it('is read from ERP_TASK_QUEUE and defaults to q2c-erp, for the ERP worker too', async () => {
    expect(parseConfig({}).ERP_TASK_QUEUE).toBe(ERP_TASK_QUEUE);
    expect(ERP_TASK_QUEUE).toBe('q2c-erp');
    expect(parseConfig({ ERP_TASK_QUEUE: 'acme-netsuite' }).ERP_TASK_QUEUE).toBe('acme-netsuite');
    expect(parseConfig({ ERP_TASK_QUEUE: ' ' }).ERP_TASK_QUEUE).toBe('q2c-erp'); // empty counts as unset
    expect(() => parseConfig({ ERP_TASK_QUEUE: 'two names' })).toThrow(/ERP_TASK_QUEUE/);
    const byDefault = await createErpWorker({ connection: env.nativeConnection, deps: sandboxActivityDeps(sb.url, db.db), slots: 5 });
    expect(byDefault.options.taskQueue).toBe('q2c-erp');
    await byDefault.runUntil(async () => {}); // releases the connection
  });

  it('carries the deal to it: the invoice is posted by the ERP worker the setting made', async () => {
    const config = parseConfig({ ERP_TASK_QUEUE: 'acme-netsuite' });
    const erp = netsuite(sb.url);
    const ports = recordingPorts();
    const usEntity = catalog.legalEntities.find((e) => e.id === 'LE-US')!;
    const erpCustomer = await erp.upsertCustomer({ customer, legalEntity: usEntity, idempotencyKey: 'CUS-ERPQ' });
    const snapshot = snapshotFor(
      OPP,
      [{ id: 'QL-1', servicePackage: 'TRANSFORMATION', description: 'Transformation', quantity: 1, unit: 'EACH', listPrice: usd(10_000_000), netPrice: usd(10_000_000), discountBp: 0, approvalStatus: 'APPROVED', externalIds: {} }],
      '2030-01-01',
    );
    // The main worker, and the one ERP worker: the worker's own, on the configured queue (NetSuite sandbox).
    const workers = await engagementWorkers({ env, taskQueue: 'erp-queue', db: db.db, connectors: { erp, tax: avalara(sb.url), crm: ports.crm, psa: ports.psa, billing: ports.billing }, erpTaskQueue: false });
    const erpWorker = await createErpWorker({ connection: env.nativeConnection, deps: sandboxActivityDeps(sb.url, db.db), slots: 5, taskQueue: config.ERP_TASK_QUEUE });
    expect(erpWorker.options.taskQueue).toBe('acme-netsuite');
    await workers.run(() => erpWorker.runUntil(async () => {
      await skipTo(env, '2030-01-10T15:00:00Z');
      const handle: WorkflowHandle<typeof engagementTestWorkflow> = await env.client.workflow.start(engagementTestWorkflow, {
        taskQueue: 'erp-queue',
        workflowId: `deal-${OPP}`,
        args: [{ opportunityId: OPP, snapshot, view: { opportunityId: OPP, stage: 'IN_DELIVERY', ids: { erpCustomerId: erpCustomer.id, projectId: 'WS-ERPQ' }, exceptions: [], timeline: [] }, erpTaskQueue: config.ERP_TASK_QUEUE }],
      });
      const item: DeliveryItem = { kind: 'milestone', sourceId: `${L1}-M1`, projectId: 'WS-ERPQ', status: 'accepted', at: '2030-01-10T14:00:00Z' };
      await handle.signal(deliveryBatchSignal, { batchId: 'kantata:m1', source: 'kantata', receivedAt: '2030-01-10T15:00:00Z', items: [item] });
      await skipTo(env, '2030-01-11T15:00:00Z');
      const s = await handle.query(getDeliveryStateQuery);
      expect(s.invoices.map((i) => [i.totalMinor, i.status])).toEqual([[3_266_250, 'POSTED']]);
      expect((await erp.listInvoices(erpCustomer.id)).map((i) => [i.tranId, i.total.amountMinor])).toEqual([[s.invoices[0]!.number, 3_266_250]]);
      // The history says where each activity was scheduled: the ERP post on acme-netsuite, tax and audit on the main queue.
      const scheduled = (await handle.fetchHistory()).events!.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [[e.activityTaskScheduledEventAttributes.activityType!.name, e.activityTaskScheduledEventAttributes.taskQueue!.name]] : []));
      expect(scheduled).toEqual([
        ['prepareBilling', 'erp-queue'],
        ['taxInvoice', 'erp-queue'],
        ['postInvoice', 'acme-netsuite'],
        ['recordInvoiceIssued', 'erp-queue'],
      ]);
      await handle.terminate('test done');
    }));
  }, 120_000);
});
