import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import { dealAttentionRecords, pendingActivities } from '../../src/cli/audit';
import type { DbHandle } from '../../src/db';
import { ConnectorError } from '../../src/connectors/errors';
import type { ErpPort } from '../../src/connectors/erp/erp.port';
import { deliveryBatchSignal, getDeliveryStateQuery, type DeliveryItem } from '../../src/contract';
import { STALLED_ISSUE_AFTER_MS } from '../../src/engagement';
import { DELIVERY_HISTORIES_DIR, maybeRecordHistory } from '../support/histories';
import type { TestSandbox } from '../support/sandbox';
import { engagementTestWorkflow } from './engagement.workflows';
import { avalara, catalog, customer, engagementWorkers, netsuite, recordingPorts, skipTo, snapshotFor, useEngagementEnv, usd } from './engagement.support';

/*
 * A fixed-fee deal, LE-US: L1 TRANSFORMATION $100,000.00, milestones 30 / 50 / 20 %, billed on
 * acceptance. M1 (30 % = $30,000.00, + 8.875 % NY tax $2,662.50 = $32,662.50) is accepted at
 * 2030-01-10 15:00Z and issued at once. NetSuite takes each post but its answer is lost (a 503 after
 * the write) for 12 minutes of workflow time from the first attempt; Temporal retries the post
 * (at most 30 s apart) and the deal waits in "tax committed, not posted" meanwhile.
 */
const OPP = 'OPP-STALL';
const L1 = 'CTR-OPP-STALL-L1';
const LOST_FOR_MS = 12 * 60_000;

/** L1 TRANSFORMATION $100,000.00 from 2030-01-01. */
const fixedFee = (opp: string) =>
  snapshotFor(opp, [{ id: 'QL-1', servicePackage: 'TRANSFORMATION', description: 'Transformation', quantity: 1, unit: 'EACH', listPrice: usd(10_000_000), netPrice: usd(10_000_000), discountBp: 0, approvalStatus: 'APPROVED', externalIds: {} }], '2030-01-01');

/** NetSuite writes each post, but its answer is lost (a 503 after the write) for LOST_FOR_MS from the first attempt. */
const answerLost = (real: ErpPort, onAttempt: () => void = () => {}): ErpPort =>
  Object.assign(Object.create(real) as ErpPort, {
    postInvoice: async (input: Parameters<ErpPort['postInvoice']>[0]) => {
      onAttempt();
      const ref = await real.postInvoice(input);
      const info = Context.current().info;
      if (info.currentAttemptScheduledTimestampMs - info.scheduledTimestampMs < LOST_FOR_MS) throw new ConnectorError('HTTP.SERVER_ERROR', 'NetSuite answered 503 after the write');
      return ref;
    },
  });

const accepted = (key: string, at: string): DeliveryItem => ({ kind: 'milestone', sourceId: `${L1}-${key}`, projectId: 'WS-STALL', status: 'accepted', at });

describe('an invoice held between tax committed and posted', () => {
  let env: TestWorkflowEnvironment;
  let sb: TestSandbox;
  let db: DbHandle;

  useEngagementEnv((c) => ({ env, sb, db } = c));
  const until = (iso: string) => skipTo(env, iso);
  /** The fixed-fee deal `opp` started in delivery on `taskQueue`, billed to `erpCustomerId`, its PSA project `projectId`. */
  const startFixedFee = (taskQueue: string, opp: string, erpCustomerId: string, projectId: string, options?: Parameters<typeof engagementTestWorkflow>[0]['options']): Promise<WorkflowHandle<typeof engagementTestWorkflow>> =>
    env.client.workflow.start(engagementTestWorkflow, {
      taskQueue,
      workflowId: `deal-${opp}`,
      args: [{ opportunityId: opp, snapshot: fixedFee(opp), view: { opportunityId: opp, stage: 'IN_DELIVERY', ids: { erpCustomerId, projectId }, exceptions: [], timeline: [] }, ...(options ? { options } : {}) }],
    });

  it('raises ISSUE_STALLED after ten minutes, clears it once the post goes through, and issues the invoice once', async () => {
    const real = netsuite(sb.url);
    let attempts = 0;
    // The vendor writes the invoice, then the answer is lost: every retry finds the same record (idempotency key).
    const erp = answerLost(real, () => attempts++);
    const ports = recordingPorts();
    const usEntity = catalog.legalEntities.find((e) => e.id === 'LE-US')!;
    const erpCustomer = await real.upsertCustomer({ customer, legalEntity: usEntity, idempotencyKey: 'CUS-STALL' });
    const exceptions: string[] = [];
    const kpis = { recordDealTransition: () => {}, recordDealException: (code: string) => void exceptions.push(code), recordInvoicePosted: () => {} };
    const workers = await engagementWorkers({ env, taskQueue: 'stalled-issue', db: db.db, connectors: { erp, tax: avalara(sb.url), crm: ports.crm, psa: ports.psa, billing: ports.billing }, kpis });

    await workers.run(async () => {
      await until('2030-01-10T14:00:00Z');
      const handle = await startFixedFee('stalled-issue', OPP, erpCustomer.id, 'WS-STALL');
      const state = () => handle.query(getDeliveryStateQuery);
      await until('2030-01-10T15:00:00Z');
      await handle.signal(deliveryBatchSignal, { batchId: 'kantata:m1', source: 'kantata', receivedAt: '2030-01-10T15:00:00Z', items: [accepted('M1', '2030-01-10T14:00:00Z')] });
      await until('2030-01-10T15:01:00Z');
      const m1 = (await state()).invoices[0]!.id;

      // 9 minutes in: retrying, not yet a stall.
      await until('2030-01-10T15:09:00Z');
      expect((await state()).attention).toEqual([]);
      expect(attempts).toBeGreaterThan(1);

      // 11 minutes in (the threshold is 10): the deal names the invoice and where it is held.
      expect(STALLED_ISSUE_AFTER_MS).toBe(10 * 60_000);
      await until('2030-01-10T15:11:00Z');
      let s = await state();
      expect(s.attention.map((a) => [a.id, a.kind, a.invoiceId, a.issueStep, a.message, a.raisedOn])).toEqual([
        [`ISSUE_STALLED:${m1}`, 'ISSUE_STALLED', m1, 'POST', `invoice ${m1}: tax committed, not posted to the ERP after 10 minutes`, '2030-01-10'],
      ]);
      expect(exceptions).toEqual(['DELIVERY.ISSUE_STALLED']);
      // Temporal holds the post's last failure meanwhile: `q2c reconcile` names it with the item.
      const pending = pendingActivities((await handle.describe()).raw);
      expect(pending).toEqual([{ activityType: 'postInvoice', lastFailure: 'HTTP.SERVER_ERROR: NetSuite answered 503 after the write' }]);
      expect(dealAttentionRecords(s.attention, pending)).toEqual([
        { id: `ISSUE_STALLED:${m1}`, kind: 'ISSUE_STALLED', invoiceId: m1, message: `invoice ${m1}: tax committed, not posted to the ERP after 10 minutes`, lastFailure: 'HTTP.SERVER_ERROR: NetSuite answered 503 after the write' },
      ]);
      // Tax is committed; the ERP already has the invoice (its answer was lost).
      expect((await avalara(sb.url).getTaxDocument(m1))?.status).toBe('COMMITTED');

      // 12 minutes in the post's answer comes back: the item clears itself and the invoice is posted, once.
      await until('2030-01-10T15:20:00Z');
      s = await state();
      expect(s.attention).toEqual([]);
      expect(s.invoices.map((i) => [i.id, i.subtotalMinor, i.taxMinor, i.totalMinor, i.status])).toEqual([[m1, 3_000_000, 266_250, 3_266_250, 'POSTED']]);
      expect((await real.listInvoices(erpCustomer.id)).map((i) => [i.tranId, i.total.amountMinor])).toEqual([[s.invoices[0]!.number, 3_266_250]]);
      expect([...ports.crmStatus.keys()]).toEqual([s.invoices[0]!.number]);
      // Recorded running (the rest of the deal is other tests'): replayed by test/replay with the patch in force.
      await maybeRecordHistory(handle, 'stalled-issue-cleared', DELIVERY_HISTORIES_DIR);
      await handle.terminate('test done');
    });
  }, 120_000);

  it('in a child invoice run (a large run): the run tells the deal, which raises and clears the same item', async () => {
    const real = netsuite(sb.url);
    const erp = answerLost(real);
    const ports = recordingPorts();
    const usEntity = catalog.legalEntities.find((e) => e.id === 'LE-US')!;
    const erpCustomer = await real.upsertCustomer({ customer, legalEntity: usEntity, idempotencyKey: 'CUS-STALL-CHILD' });
    const opp = 'OPP-STALLC';
    const workers = await engagementWorkers({ env, taskQueue: 'stalled-issue-child', db: db.db, connectors: { erp, tax: avalara(sb.url), crm: ports.crm, psa: ports.psa, billing: ports.billing } });
    await workers.run(async () => {
      await until('2030-02-10T15:00:00Z');
      // Every run through a child workflow.
      const handle = await startFixedFee('stalled-issue-child', opp, erpCustomer.id, 'WS-STALLC', { childRunThreshold: 0 });
      const state = () => handle.query(getDeliveryStateQuery);
      await handle.signal(deliveryBatchSignal, { batchId: 'kantata:m1', source: 'kantata', receivedAt: '2030-02-10T15:00:00Z', items: [{ kind: 'milestone', sourceId: 'CTR-OPP-STALLC-L1-M1', projectId: 'WS-STALLC', status: 'accepted', at: '2030-02-10T14:00:00Z' }] });
      await until('2030-02-10T15:01:00Z');
      const m1 = (await state()).invoices[0]!.id;
      await until('2030-02-10T15:11:00Z');
      expect((await state()).attention.map((a) => [a.id, a.issueStep, a.message])).toEqual([[`ISSUE_STALLED:${m1}`, 'POST', `invoice ${m1}: tax committed, not posted to the ERP after 10 minutes`]]);
      await until('2030-02-10T15:20:00Z');
      const s = await state();
      expect(s.attention).toEqual([]);
      expect(s.invoices.map((i) => [i.id, i.totalMinor, i.status])).toEqual([[m1, 3_266_250, 'POSTED']]);
      expect((await real.listInvoices(erpCustomer.id)).map((i) => i.tranId)).toEqual([s.invoices[0]!.number]);
      // The child run signalled twice (held, then posted): nothing when a run goes well.
      const signals = (await handle.fetchHistory()).events!.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'issueProgress');
      expect(signals).toHaveLength(2);
      await maybeRecordHistory(handle, 'stalled-issue-child-run', DELIVERY_HISTORIES_DIR);
      await handle.terminate('test done');
    });
  }, 120_000);

  it('a 30-minute crash loop in each of the three steps loses none of them: taxed, posted and recorded once', async () => {
    // What a crash loop looks like to Temporal: attempts that never complete. Each step's attempts fail before
    // touching the vendor for 31 minutes of workflow time from its first schedule (BILLING_RETRY: no attempt count,
    // at most 30 s apart, a day in all), then succeed. M1 as above: $30,000.00 + $2,662.50 tax = $32,662.50.
    const LOOP_MS = 31 * 60_000;
    const crashing = () => {
      const info = Context.current().info;
      if (info.currentAttemptScheduledTimestampMs - info.scheduledTimestampMs < LOOP_MS) throw new ConnectorError('HTTP.CONNECTION', 'worker died mid-step');
    };
    const attempts = { tax: 0, post: 0, record: 0 };
    const real = netsuite(sb.url);
    const erp: ErpPort = Object.assign(Object.create(real) as ErpPort, {
      postInvoice: async (input: Parameters<ErpPort['postInvoice']>[0]) => {
        attempts.post++;
        crashing();
        return real.postInvoice(input);
      },
    });
    const realTax = avalara(sb.url);
    const tax = Object.assign(Object.create(realTax) as typeof realTax, {
      calculateTax: async (input: Parameters<typeof realTax.calculateTax>[0]) => {
        attempts.tax++;
        crashing();
        return realTax.calculateTax(input);
      },
    });
    const ports = recordingPorts();
    const crm = Object.assign(Object.create(ports.crm) as typeof ports.crm, {
      recordInvoiceStatus: async (input: Parameters<typeof ports.crm.recordInvoiceStatus>[0]) => {
        attempts.record++;
        crashing();
        return ports.crm.recordInvoiceStatus(input);
      },
    });
    const usEntity = catalog.legalEntities.find((e) => e.id === 'LE-US')!;
    const erpCustomer = await real.upsertCustomer({ customer, legalEntity: usEntity, idempotencyKey: 'CUS-LOOP' });
    const opp = 'OPP-LOOP';
    const workers = await engagementWorkers({ env, taskQueue: 'crash-loop', db: db.db, connectors: { erp, tax, crm, psa: ports.psa, billing: ports.billing } });
    await workers.run(async () => {
      await until('2030-03-10T15:00:00Z');
      const handle = await startFixedFee('crash-loop', opp, erpCustomer.id, 'WS-LOOP');
      const state = () => handle.query(getDeliveryStateQuery);
      await handle.signal(deliveryBatchSignal, { batchId: 'kantata:m1', source: 'kantata', receivedAt: '2030-03-10T15:00:00Z', items: [{ kind: 'milestone', sourceId: 'CTR-OPP-LOOP-L1-M1', projectId: 'WS-LOOP', status: 'accepted', at: '2030-03-10T14:00:00Z' }] });
      // Three loops of 31 minutes one after the other: 93 minutes, then a little more.
      await until('2030-03-10T16:40:00Z');
      const s = await state();
      expect(s.invoices.map((i) => [i.subtotalMinor, i.taxMinor, i.totalMinor, i.status])).toEqual([[3_000_000, 266_250, 3_266_250, 'POSTED']]);
      expect(s.attention).toEqual([]);
      // 31 minutes at most 30 s apart after 1 + 2 + 4 + 8 + 16 s of backoff: 60 or more attempts per step.
      expect(attempts.tax).toBeGreaterThanOrEqual(60);
      expect(attempts.post).toBeGreaterThanOrEqual(60);
      expect(attempts.record).toBeGreaterThanOrEqual(60);
      expect((await realTax.getTaxDocument(s.invoices[0]!.id))?.status).toBe('COMMITTED');
      expect((await real.listInvoices(erpCustomer.id)).map((i) => [i.tranId, i.total.amountMinor])).toEqual([[s.invoices[0]!.number, 3_266_250]]);
      expect([...ports.crmStatus.keys()]).toEqual([s.invoices[0]!.number]);
      await handle.terminate('test done');
    });
  }, 180_000);
});
