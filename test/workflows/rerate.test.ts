import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { deliveryBatchSignal, getDeliveryStateQuery, paymentSignal } from '../../src/contract';
import type { DbHandle } from '../../src/db';
import { AuditRepository } from '../../src/db/audit';
import { createTemporalDealGateway } from '../../src/service/temporal-deal-gateway';
import { DELIVERY_HISTORIES_DIR, maybeRecordHistory } from '../support/histories';
import type { TestSandbox } from '../support/sandbox';
import { engagementTestWorkflow } from './engagement.workflows';
import { advisoryQuoteLine, approvedTime, avalara, engagementWorkers, erpDealRecords, netsuite, recordingPorts, skipTo, snapshotFor, useEngagementEnv } from './engagement.support';

/*
 * A retroactive rate cut on the time-skipping server, through the operator gateway (the amendContract update the
 * HTTP route runs). 2030, LE-US, customer in New York, SERVICES taxed 8.875 % in US-NY (AvaTax sandbox, per line,
 * half away from zero). L1 ADVISORY_TM T&M at RC-STD ($150.00/h), not-to-exceed $15,000.00, revenue as invoiced.
 * January: TE-1 40 h (Jan 10), TE-2 40 h (Jan 20), TE-3 20 h (Jan 25) = 1,500,000, the whole cap, invoiced Feb 1.
 * Feb 10: 10 % off from Jan 15. TE-2 and TE-3 are credited as invoiced (900,000 + 79,875 tax) and rebilled at once at
 * $135.00/h: 810,000 + 71,888 tax. The cap counts 600,000 + 810,000 = 1,410,000.
 */
const OPP = 'OPP-RERATE';
const L1 = `CTR-${OPP}-L1`;
const TQ = 'rerate';

const entry = approvedTime('WS-RR', L1);

describe('a retroactive rate cut', () => {
  let env: TestWorkflowEnvironment;
  let sb: TestSandbox;
  let db: DbHandle;
  useEngagementEnv((c) => ({ env, sb, db } = c));

  it('credits the invoiced work since its date and rebills it at the new rate in NetSuite, with the cap recomputed', async () => {
    const erp = netsuite(sb.url);
    const ports = recordingPorts();
    const snapshot = snapshotFor(OPP, [advisoryQuoteLine()], '2030-01-01');
    const { erpCustomer, so } = await erpDealRecords(erp, OPP, snapshot.contract, 'CUS-RR');

    const connectors = { erp, tax: avalara(sb.url), crm: ports.crm, psa: ports.psa, billing: ports.billing };
    const workers = await engagementWorkers({ env, taskQueue: TQ, db: db.db, connectors, resources: { 'r-us': { legalEntityId: 'LE-US', region: 'US' } }, operatorActions: true });
    const gateway = createTemporalDealGateway({ client: env.client.workflow, taskQueue: TQ });

    await workers.run(async () => {
      await skipTo(env, '2030-01-02T14:00:00Z');
      const handle = await env.client.workflow.start(engagementTestWorkflow, {
        taskQueue: TQ,
        workflowId: `deal-${OPP}`,
        args: [{ opportunityId: OPP, snapshot, view: { opportunityId: OPP, stage: 'IN_DELIVERY', ids: { erpCustomerId: erpCustomer.id, erpContractId: so.id, projectId: 'WS-RR' }, exceptions: [], timeline: [] }, options: { overdueGraceDays: 60, dunning: false } }],
      });
      const state = () => handle.query(getDeliveryStateQuery);
      const january = [entry('1', '2030-01-10', 2_400), entry('2', '2030-01-20', 2_400), entry('3', '2030-01-25', 1_200)];
      ports.delivered.push(...january);
      await handle.signal(deliveryBatchSignal, { batchId: 'kantata:jan', source: 'kantata', receivedAt: '2030-01-29T15:00:00Z', items: january });
      await skipTo(env, '2030-02-10T15:00:00Z');
      const feb1 = (await state()).invoices[0]!;
      expect([feb1.subtotalMinor, feb1.taxMinor]).toEqual([1_500_000, 133_125]);

      const { result } = await gateway.amendContract(OPP, { requestId: 'co-rate', by: 'ops@firm.example', baseVersion: 1, effectiveDate: '2030-01-15', reason: '10 % off from Jan 15', changes: [{ op: 'UPDATE_LINE', lineId: L1, set: { discountBp: 1_000 } }] });
      expect(result.contractVersion).toBe(2);
      const memoNumber = result.amendment.rerated![0]!.creditMemoNumber;
      expect(result.amendment.rerated).toEqual([{ invoiceNumber: feb1.number, creditMemoNumber: memoNumber, items: ['TE-2', 'TE-3'], creditedMinor: 900_000 }]);

      // The rebill goes out at once (the credit wakes the deal): January's work since Jan 15 at $135.00/h.
      await skipTo(env, '2030-02-11T15:00:00Z');
      const s = await state();
      const rebill = s.invoices[1]!;
      expect([rebill.issueDate, rebill.subtotalMinor, rebill.taxMinor, rebill.totalMinor, rebill.status]).toEqual(['2030-02-10', 810_000, 71_888, 881_888, 'POSTED']);
      // NetSuite: the credit memo from the Feb 1 invoice ($9,000.00 + $798.75) and the rebill invoice; the sales order at v2.
      const memos = (await sb.store.list<Record<string, unknown>>('netsuite', 'creditMemo', {})).items;
      expect(memos.map((m) => [m.data['tranId'], m.data['total'], (m.data['createdFrom'] as { id: string }).id])).toEqual([[memoNumber, 9_798.75, feb1.externalId]]);
      expect((await erp.listInvoices(erpCustomer.id)).map((i) => i.total.amountMinor).sort((a, b) => a - b)).toEqual([881_888, 1_633_125]);
      // Audit: the rebill invoice's items are the rebilled rounds of TE-2 and TE-3.
      const trail = await new AuditRepository(db.db).trail(rebill.number);
      expect(trail.lines.flatMap((l) => l.items.map((i) => [i.sourceId, i.amountMinor]))).toEqual([['TE-2~R1', 540_000], ['TE-3~R1', 270_000]]);

      for (const inv of s.invoices) {
        await handle.signal(paymentSignal, { eventId: `p-${inv.number}`, source: 'stripe', kind: 'invoice.paid', occurredAt: '2030-02-12T15:00:00Z', amountMinor: inv.totalMinor - (inv.creditedMinor ?? 0), currency: 'USD', invoiceNumber: inv.number });
      }
      const view = await handle.result();
      await maybeRecordHistory(handle, 'retroactive-rerate', DELIVERY_HISTORIES_DIR);
      expect(view.stage).toBe('CLOSED');
      const summary = (await state()).summary!;
      // Delivered at the rates in force: 40 h x 150.00 + 60 h x 135.00 = 600,000 + 810,000 = 1,410,000, all billed.
      expect(summary.totals).toEqual({ BILLABLE: 1_410_000, DEFERRED: 0, CAPPED: 0, EXCLUDED: 0, delivered: 1_410_000 });
      // Revenue as invoiced: 1,500,000 - 900,000 + 810,000 = 1,410,000; the rebilled credit is no leakage.
      expect(summary.recognisedMinor).toBe(1_410_000);
      expect(summary.leakage.totalMinor).toBe(0);
    });
  }, 300_000);
});
