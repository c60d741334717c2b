import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { deliveryBatchSignal, getDeliveryStateQuery, getRevenueWaterfallQuery, paymentSignal } from '../../src/contract';
import type { DbHandle } from '../../src/db';
import { ActionRejectedError } from '../../src/service/deal-gateway';
import { createTemporalDealGateway } from '../../src/service/temporal-deal-gateway';
import { DELIVERY_HISTORIES_DIR, maybeRecordHistory } from '../support/histories';
import type { TestSandbox } from '../support/sandbox';
import { engagementTestWorkflow } from './engagement.workflows';
import { advisoryQuoteLine, approvedTime, asRetainer, avalara, engagementWorkers, erpDealRecords, netsuite, recordingPorts, skipTo, snapshotFor, useEngagementEnv } from './engagement.support';

/*
 * Termination of a refundable retainer on the time-skipping server, through the operator gateway (the
 * terminateContract update the HTTP route runs). 2030, LE-US, customer in New York, SERVICES taxed 8.875 % in
 * US-NY (AvaTax sandbox, per line, half away from zero). The advisory line as RETAINER at RC-STD ($150.00/h),
 * $3,000.00 prepaid until Dec 31, refundable, overage billed, revenue as drawn.
 */
const OPP = 'OPP-TERM';
const L1 = `CTR-${OPP}-L1`;
const TQ = 'termination';

const time = approvedTime('WS-TERM', L1);

describe('termination of a refundable retainer', () => {
  let env: TestWorkflowEnvironment;
  let sb: TestSandbox;
  let db: DbHandle;
  useEngagementEnv((c) => ({ env, sb, db } = c));

  it('credits the unused prepayment, posts the last version, closes the PSA project, bills the work up to the date and closes', async () => {
    const erp = netsuite(sb.url);
    const ports = recordingPorts();
    const base = snapshotFor(OPP, [advisoryQuoteLine()], '2030-01-01');
    const snapshot = asRetainer(base, { prepaidMinor: 300_000, refundable: true });
    // Part 1 of the deal posted contract v1 as the sales order (the key the workflow posts later versions with).
    const { erpCustomer, so } = await erpDealRecords(erp, OPP, snapshot.contract, 'CUS-TERM');

    const connectors = { erp, tax: avalara(sb.url), crm: ports.crm, psa: ports.psa, billing: ports.billing };
    const workers = await engagementWorkers({ env, taskQueue: TQ, db: db.db, connectors, resources: { 'r-us': { legalEntityId: 'LE-US', region: 'US' } }, operatorActions: true });
    const gateway = createTemporalDealGateway({ client: env.client.workflow, taskQueue: TQ });

    await workers.run(async () => {
      await skipTo(env, '2030-01-02T14:00:00Z');
      const handle = await env.client.workflow.start(engagementTestWorkflow, {
        taskQueue: TQ,
        workflowId: `deal-${OPP}`,
        args: [{ opportunityId: OPP, snapshot, view: { opportunityId: OPP, stage: 'IN_DELIVERY', ids: { erpCustomerId: erpCustomer.id, erpContractId: so.id, projectId: 'WS-TERM' }, exceptions: [], timeline: [] }, options: { overdueGraceDays: 60 } }],
      });
      const state = () => handle.query(getDeliveryStateQuery);
      await handle.signal(deliveryBatchSignal, { batchId: 'kantata:jan', source: 'kantata', receivedAt: '2030-01-25T15:00:00Z', items: [time('1', '2030-01-10', 600)] }); // 10 h = 150,000 drawn
      await skipTo(env, '2030-02-10T15:00:00Z');
      const prepayment = (await state()).invoices[0]!;
      // The prepayment: 300,000 + 300,000 x 8.875 % = 26,625 tax = 326,625.
      expect([prepayment.subtotalMinor, prepayment.taxMinor, prepayment.totalMinor]).toEqual([300_000, 26_625, 326_625]);

      // Feb 10: terminated from Feb 15. Unused 300,000 - 150,000 drawn = 150,000 refunded on the prepayment invoice:
      // 150,000 + 150,000 x 8.875 % = 13,312.5 -> 13,313 tax = 163,313.
      const req = { requestId: 'term-1', by: 'ops@firm.example', reason: 'customer ends the engagement', effectiveDate: '2030-02-15' };
      const { result } = await gateway.terminateContract(OPP, req);
      expect(result.contractVersion).toBe(2);
      expect(result.termination).toMatchObject({ effectiveDate: '2030-02-15', appliedOn: '2030-02-10', version: 2, erpContractId: so.id, psaProjectClosed: true });
      const memoNumber = result.termination.refunds[0]!.creditMemoNumber;
      expect(result.termination.refunds).toEqual([{ contractLineId: L1, amountMinor: 150_000, creditMemoNumber: memoNumber }]);
      expect((await gateway.terminateContract(OPP, req)).result).toEqual(result); // the same request: the same answer
      const refused = await gateway.terminateContract(OPP, { ...req, requestId: 'term-2' }).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(ActionRejectedError);
      expect((refused as ActionRejectedError).reason).toBe('DEAL.ALREADY_TERMINATED');

      // What the systems see: the sales order ends Feb 15 (v2), one credit memo from the prepayment invoice, the project closed.
      const order = await sb.store.get<Record<string, unknown>>('netsuite', 'salesOrder', so.id);
      expect(order!.data['endDate']).toBe('2030-02-15');
      const memos = (await sb.store.list<Record<string, unknown>>('netsuite', 'creditMemo', {})).items;
      expect(memos.map((m) => [m.data['tranId'], m.data['total'], (m.data['createdFrom'] as { id: string }).id])).toEqual([[memoNumber, 1_633.13, prepayment.externalId]]);
      expect(ports.closedProjects).toEqual([{ projectId: 'WS-TERM', reason: 'contract terminated from 2030-02-15: customer ends the engagement' }]);

      // Late work up to Feb 15 is overage (the balance was refunded): 4 h = 60,000 + 5,325 tax, on March 1's invoice.
      // Work after Feb 15 (2 h) is excluded.
      await handle.signal(deliveryBatchSignal, { batchId: 'kantata:feb', source: 'kantata', receivedAt: '2030-02-20T15:00:00Z', items: [time('2', '2030-02-12', 240), time('3', '2030-02-18', 120)] });
      await skipTo(env, '2030-03-02T15:00:00Z');
      const s = await state();
      const last = s.invoices[1]!;
      expect([last.issueDate, last.subtotalMinor, last.taxMinor, last.totalMinor]).toEqual(['2030-03-01', 60_000, 5_325, 65_325]);
      expect(s.excluded.map((x) => [x.sourceId, x.reasonCode, x.amountMinor])).toEqual([['TE-3', 'EXCLUDED.OUTSIDE_CONTRACT_DATES', 30_000]]);

      // Paid: 326,625 - 163,313 = 163,312 and 65,325.
      await handle.signal(paymentSignal, { eventId: 'p-1', source: 'stripe', kind: 'invoice.paid', occurredAt: '2030-03-05T15:00:00Z', amountMinor: 163_312, currency: 'USD', invoiceNumber: prepayment.number });
      await handle.signal(paymentSignal, { eventId: 'p-2', source: 'stripe', kind: 'invoice.paid', occurredAt: '2030-03-05T15:00:00Z', amountMinor: 65_325, currency: 'USD', invoiceNumber: last.number });
      const view = await handle.result();
      await maybeRecordHistory(handle, 'terminated-refundable-retainer', DELIVERY_HISTORIES_DIR);
      expect(view.stage).toBe('CLOSED');
      const summary = (await state()).summary!;
      expect(summary.terminatedOn).toBe('2030-02-15');
      // Invoiced 326,625 + 65,325 = 391,950; credited 163,313; collected 228,637 = invoiced - credited.
      expect([summary.invoicedMinor, summary.collectedMinor, summary.credited?.totalMinor]).toEqual([391_950, 228_637, 163_313]);
      // Revenue: drawn 150,000 (Jan) + overage 60,000 (Feb 12); no breakage: the unused balance was refunded.
      expect(summary.recognisedMinor).toBe(210_000);
      const w = await handle.query(getRevenueWaterfallQuery);
      expect(w.months.map((m) => [m.month, m.billedMinor, m.creditedMinor, m.recognisedMinor, m.deferredMinor])).toEqual([
        ['2030-01', 300_000, 0, 150_000, 1_350_000],
        ['2030-02', 0, 150_000, 60_000, 0],
        ['2030-03', 60_000, 0, 0, 0],
      ]);
    });
  }, 300_000);
});
