import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { deliveryBatchSignal, getDeliveryStateQuery, paymentSignal } from '../../src/contract';
import type { DbHandle } from '../../src/db';
import { IdentityRepository } from '../../src/db/identity';
import { createTemporalDealGateway } from '../../src/service/temporal-deal-gateway';
import type { TestSandbox } from '../support/sandbox';
import { engagementTestWorkflow } from './engagement.workflows';
import { advisoryQuoteLine, approvedTime, avalara, customer, engagementWorkers, erpDealRecords, netsuite, recordingPorts, skipTo, snapshotFor, useEngagementEnv } from './engagement.support';

/*
 * A bill-to change on the time-skipping server, through the operator gateway. 2030, LE-US, New York, SERVICES
 * 8.875 % (AvaTax sandbox). T&M at $150.00/h. January: 10 h = 150,000 + 13,313 tax, invoiced Feb 1 to the deal's
 * customer. Feb 10: invoices go to NewCo Holdings (CUS-NEWCO, CRM account 001NEWCO) from now on. February:
 * 4 h = 60,000 + 5,325 tax, invoiced Mar 1 to NewCo in NetSuite.
 */
const OPP = 'OPP-BILLTO';
const L1 = `CTR-${OPP}-L1`;
const TQ = 'bill-to';
const entry = approvedTime('WS-BT', L1);

describe('a bill-to change', () => {
  let env: TestWorkflowEnvironment;
  let sb: TestSandbox;
  let db: DbHandle;
  useEngagementEnv((c) => ({ env, sb, db } = c));

  it('sends the invoices issued from then on to the new customer in NetSuite; earlier ones stay with theirs', async () => {
    const erp = netsuite(sb.url);
    const ports = recordingPorts();
    ports.accounts.set('001NEWCO', { ...customer, id: '001NEWCO', name: 'NewCo Holdings', externalIds: {} });
    await new IdentityRepository(db.db).link('customer', 'CUS-NEWCO', 'salesforce', '001NEWCO');
    const snapshot = snapshotFor(OPP, [advisoryQuoteLine()], '2030-01-01');
    const { erpCustomer, so } = await erpDealRecords(erp, OPP, snapshot.contract, 'CUS-BT');
    const connectors = { erp, tax: avalara(sb.url), crm: ports.crm, psa: ports.psa, billing: ports.billing };
    const workers = await engagementWorkers({ env, taskQueue: TQ, db: db.db, connectors, resources: { 'r-us': { legalEntityId: 'LE-US', region: 'US' } }, operatorActions: true });
    const gateway = createTemporalDealGateway({ client: env.client.workflow, taskQueue: TQ });

    await workers.run(async () => {
      await skipTo(env, '2030-01-02T14:00:00Z');
      const handle = await env.client.workflow.start(engagementTestWorkflow, {
        taskQueue: TQ,
        workflowId: `deal-${OPP}`,
        args: [{ opportunityId: OPP, snapshot, view: { opportunityId: OPP, stage: 'IN_DELIVERY', ids: { erpCustomerId: erpCustomer.id, erpContractId: so.id, projectId: 'WS-BT' }, exceptions: [], timeline: [] }, options: { overdueGraceDays: 60, dunning: false } }],
      });
      const state = () => handle.query(getDeliveryStateQuery);
      await handle.signal(deliveryBatchSignal, { batchId: 'kantata:jan', source: 'kantata', receivedAt: '2030-01-29T15:00:00Z', items: [entry('1', '2030-01-10', 600)] });
      await skipTo(env, '2030-02-10T15:00:00Z');

      const { result } = await gateway.amendContract(OPP, { requestId: 'bt-1', by: 'ar@firm.example', baseVersion: 1, effectiveDate: '2030-02-10', reason: 'invoices to the holding', changes: [{ op: 'SET_TERMS', set: { billToCustomerId: 'CUS-NEWCO' } }] });
      const newco = result.amendment.billTo!;
      expect(newco.customerId).toBe('CUS-NEWCO');
      expect(newco.erpCustomerId).not.toBe(erpCustomer.id);

      await handle.signal(deliveryBatchSignal, { batchId: 'kantata:feb', source: 'kantata', receivedAt: '2030-02-20T15:00:00Z', items: [entry('2', '2030-02-12', 240)] });
      await skipTo(env, '2030-03-02T15:00:00Z');
      const s = await state();
      expect(s.invoices.map((i) => [i.issueDate, i.totalMinor, i.billTo?.customerId ?? null])).toEqual([
        ['2030-02-01', 163_313, null],
        ['2030-03-01', 65_325, 'CUS-NEWCO'],
      ]);
      // NetSuite: January's invoice under the deal's customer, February's under NewCo.
      expect((await erp.listInvoices(erpCustomer.id)).map((i) => i.tranId)).toEqual([s.invoices[0]!.number]);
      expect((await erp.listInvoices(newco.erpCustomerId)).map((i) => i.tranId)).toEqual([s.invoices[1]!.number]);
      const newcoRecord = (await sb.store.list<Record<string, unknown>>('netsuite', 'customer', {})).items.find((c) => c.id === newco.erpCustomerId)!;
      expect(newcoRecord.data['companyName']).toBe('NewCo Holdings');

      for (const inv of s.invoices) await handle.signal(paymentSignal, { eventId: `p-${inv.number}`, source: 'stripe', kind: 'invoice.paid', occurredAt: '2030-03-05T15:00:00Z', amountMinor: inv.totalMinor, currency: 'USD', invoiceNumber: inv.number });
      await skipTo(env, '2030-03-06T15:00:00Z');
      expect((await state()).invoices.map((i) => i.status)).toEqual(['PAID', 'PAID']);
      await handle.terminate('test over');
    });
  }, 300_000);
});
