import { deliveryBatchSignal, getDeliveryStateQuery, paymentSignal } from '../../src/contract';
import { DELIVERY_HISTORIES_DIR, maybeRecordHistory } from '../support/histories';
import { engagementTestWorkflow } from './engagement.workflows';
import { asRetainer, avalara, catalog, customer, engagementWorkers, netsuite, recordingPorts, skipTo, snapshotFor, useEngagementEnv, usd } from './engagement.support';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { DbHandle } from '../../src/db';
import type { TestSandbox } from '../support/sandbox';

/*
 * A retainer on the time-skipping server, 2030, LE-US, New York (the catalog sells none: the advisory line is
 * turned into one): $3,000.00 prepaid, invoiced on the first run, expiring with the contract on 2030-12-31,
 * revenue as drawn. January: 10 h x $150.00 = $1,500.00 drawn. At expiry the unused $3,000.00 - $1,500.00 =
 * $1,500.00 is breakage, so by the close the retainer has recognised its prepayment: $3,000.00.
 */
const OPP = 'OPP-RET';
const L1 = `CTR-${OPP}-L1`;

describe('a retainer to its expiry', () => {
  let env: TestWorkflowEnvironment;
  let sb: TestSandbox;
  let db: DbHandle;
  useEngagementEnv((c) => ({ env, sb, db } = c));

  it('recognises drawdown per month and the unused prepayment as breakage at expiry', async () => {
    const erp = netsuite(sb.url);
    const ports = recordingPorts();
    const usEntity = catalog.legalEntities.find((e) => e.id === 'LE-US')!;
    const erpCustomer = await erp.upsertCustomer({ customer, legalEntity: usEntity, idempotencyKey: 'CUS-RET' });
    const base = snapshotFor(OPP, [{ id: 'QL-1', servicePackage: 'ADVISORY_TM', description: 'Advisory', quantity: 100, unit: 'HOUR', listPrice: usd(15_000), netPrice: usd(15_000), discountBp: 0, approvalStatus: 'APPROVED', externalIds: {} }], '2030-01-01');
    const snapshot = asRetainer(base, { prepaidMinor: 300_000 });
    const workers = await engagementWorkers({ env, taskQueue: 'retainer', db: db.db, connectors: { erp, tax: avalara(sb.url), crm: ports.crm, psa: ports.psa, billing: ports.billing } });
    const result = await workers.run(async () => {
      await skipTo(env, '2030-01-02T14:00:00Z');
      const handle = await env.client.workflow.start(engagementTestWorkflow, {
        taskQueue: 'retainer',
        workflowId: `deal-${OPP}`,
        args: [{ opportunityId: OPP, snapshot, view: { opportunityId: OPP, stage: 'IN_DELIVERY', ids: { erpCustomerId: erpCustomer.id, projectId: 'WS-RET' }, exceptions: [], timeline: [] } }],
      });
      const state = () => handle.query(getDeliveryStateQuery);
      await handle.signal(deliveryBatchSignal, {
        batchId: 'kantata:jan',
        source: 'kantata',
        receivedAt: '2030-01-25T15:00:00Z',
        items: [{ kind: 'timeEntry', sourceId: '1', projectId: 'WS-RET', taskId: `${L1}-T1`, resourceId: 'r-us', role: 'consultant', workDate: '2030-01-10', minutes: 600, billable: true, approvedAt: '2030-01-10T20:00:00Z' }],
      });
      await skipTo(env, '2030-02-02T15:00:00Z');
      // The prepayment invoice ($3,000.00 + 8.875 % tax = $3,266.25), paid in full.
      for (const inv of (await state()).invoices) {
        await handle.signal(paymentSignal, { eventId: `evt-${inv.number}`, source: 'stripe', kind: 'invoice.paid', occurredAt: '2030-02-02T15:00:00Z', amountMinor: inv.totalMinor, currency: 'USD', invoiceNumber: inv.number });
      }
      const view = await handle.result();
      // retainer-breakage-before-patch.json is this run recorded on the code before 'retainer-breakage-from-total' (it recognised 150,000).
      await maybeRecordHistory(handle, 'retainer-breakage', DELIVERY_HISTORIES_DIR);
      return { view, state: await state() };
    });
    expect(result.view.stage).toBe('CLOSED');
    // drawn 150,000 (January) + breakage 300,000 - 150,000 = 150,000 (December) = 300,000, the prepayment
    expect(result.state.recognisedByMonth).toEqual({ '2030-01': 150_000, '2030-12': 150_000 });
    expect(result.state.summary!.recognisedMinor).toBe(300_000);
  }, 180_000);
});
