import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import type { DbHandle } from '../../src/db';
import { AuditRepository } from '../../src/db/audit';
import { deliveryBatchSignal, getDeliveryStateQuery, paymentSignal, type DeliveryBatch, type DeliveryItem, type PaymentEvent } from '../../src/contract';
import type { TestSandbox } from '../support/sandbox';
import { DELIVERY_HISTORIES_DIR, maybeRecordHistory } from '../support/histories';
import { engagementTestWorkflow } from './engagement.workflows';
import { avalara, catalog, customer, engagementWorkers, netsuite, recordingPorts, skipTo, snapshotFor, useEngagementEnv, usd } from './engagement.support';

/*
 * A whole engagement, 2030, contracting entity LE-US (America/New_York), customer in New York:
 *   L1 TRANSFORMATION fixed fee $100,000.00, milestones 30 / 50 / 20 %, billed on acceptance, revenue at acceptance
 *   L2 ADVISORY_TM T&M at RC-STD, not-to-exceed $15,000.00 (100 h x $150.00), monthly in arrears, revenue as invoiced
 *   L3 EXPENSES monthly in arrears (TRAVEL at cost, MEALS capped at $75.00 per item, ENTERTAINMENT excluded)
 * Tax: SERVICES is taxable in US-NY at 8.875 % (AvaTax sandbox, rounded per line half up); EXPENSE_REBILL is not.
 * Resource r-de works for LE-DE (region DE: consultant '*' row $130.00/h; intercompany cost $60.00/h + 8 %).
 */
const OPP = 'OPP-ENG';
const L1 = 'CTR-OPP-ENG-L1';
const L2 = 'CTR-OPP-ENG-L2';
const L3 = 'CTR-OPP-ENG-L3';

const time = (id: string, resourceId: string, workDate: string, minutes: number, taskId = `${L2}-T1`): DeliveryItem => ({
  kind: 'timeEntry', sourceId: id, projectId: 'WS-ENG', taskId, resourceId, role: 'consultant', workDate, minutes, billable: true, approvedAt: `${workDate}T20:00:00Z`,
});
const expense = (id: string, category: string, incurredOn: string, amountMinor: number): DeliveryItem => ({
  kind: 'expense', sourceId: id, projectId: 'WS-ENG', resourceId: 'r-us', category, incurredOn, amountMinor, currency: 'USD', billable: true, approvedAt: `${incurredOn}T20:00:00Z`,
});
const milestone = (key: string, status: 'completed' | 'accepted', at: string): DeliveryItem => ({ kind: 'milestone', sourceId: `${L1}-${key}`, projectId: 'WS-ENG', status, at });
const batch = (batchId: string, items: DeliveryItem[]): DeliveryBatch => ({ batchId, source: 'kantata', receivedAt: '2030-01-01T00:00:00Z', items });
const pay = (eventId: string, invoiceNumber: string, amountMinor: number, kind: PaymentEvent['kind'] = 'invoice.paid', chargeId?: string): PaymentEvent => ({
  eventId, source: 'stripe', kind, occurredAt: '2030-01-01T00:00:00Z', amountMinor, currency: 'USD', invoiceNumber, ...(chargeId ? { chargeId } : {}),
});

describe('a whole engagement: delivery -> billing -> cash -> revenue -> close', () => {
  let env: TestWorkflowEnvironment;
  let sb: TestSandbox;
  let db: DbHandle;

  useEngagementEnv((c) => ({ env, sb, db } = c));
  const until = (iso: string) => skipTo(env, iso);

  it('bills, collects, recognises and closes to the cent; duplicates and out-of-order webhooks change nothing', async () => {
    const erp = netsuite(sb.url);
    const tax = avalara(sb.url);
    const ports = recordingPorts();
    const usEntity = catalog.legalEntities.find((e) => e.id === 'LE-US')!;
    const erpCustomer = await erp.upsertCustomer({ customer, legalEntity: usEntity, idempotencyKey: customer.id });
    const snapshot = snapshotFor(
      OPP,
      [
        { id: 'QL-1', servicePackage: 'TRANSFORMATION', description: 'Transformation', quantity: 1, unit: 'EACH', listPrice: usd(10_000_000), netPrice: usd(10_000_000), discountBp: 0, approvalStatus: 'APPROVED', externalIds: {} },
        { id: 'QL-2', servicePackage: 'ADVISORY_TM', description: 'Advisory', quantity: 100, unit: 'HOUR', listPrice: usd(15_000), netPrice: usd(15_000), discountBp: 0, approvalStatus: 'APPROVED', externalIds: {} },
        { id: 'QL-3', servicePackage: 'EXPENSES', description: 'Expenses', quantity: 1, unit: 'EACH', listPrice: usd(500_000), netPrice: usd(500_000), discountBp: 0, approvalStatus: 'APPROVED', externalIds: {} },
      ],
      '2030-01-01',
    );
    const workers = await engagementWorkers({
      env,
      taskQueue: 'engagement',
      db: db.db,
      connectors: { erp, tax, crm: ports.crm, psa: ports.psa, billing: ports.billing },
      resources: { 'r-us': { legalEntityId: 'LE-US', region: 'US' }, 'r-de': { legalEntityId: 'LE-DE', region: 'DE' } },
    });

    await workers.run(async () => {
      await until('2030-01-02T14:00:00Z');
      const handle: WorkflowHandle<typeof engagementTestWorkflow> = await env.client.workflow.start(engagementTestWorkflow, {
        taskQueue: 'engagement',
        workflowId: `deal-${OPP}`,
        args: [{ opportunityId: OPP, snapshot, view: { opportunityId: OPP, stage: 'IN_DELIVERY', ids: { erpCustomerId: erpCustomer.id, projectId: 'WS-ENG' }, exceptions: [], timeline: [] }, options: { overdueGraceDays: 10 } }],
      });
      const state = () => handle.query(getDeliveryStateQuery);
      const numberOf = async (issueDate: string) => (await state()).invoices.find((i) => i.issueDate === issueDate)!.number;

      // January delivery.
      const january = batch('kantata:jan', [
        time('1', 'r-us', '2030-01-10', 600), // 10 h x $150.00 = $1,500.00
        time('2', 'r-de', '2030-01-15', 480), // 8 h x $130.00 = $1,040.00 (LE-DE: intercompany)
        time('3', 'r-us', '2030-01-16', 120, `${L2}-T2`), // non-billable task: 2 h x $150.00 = $300.00 excluded
        expense('1', 'TRAVEL', '2030-01-12', 42_000), // $420.00 at cost
        expense('2', 'ENTERTAINMENT', '2030-01-18', 25_000), // $250.00 excluded category
      ]);
      await until('2030-01-20T15:00:00Z');
      await handle.signal(deliveryBatchSignal, january);
      await until('2030-01-26T15:00:00Z');
      await handle.signal(deliveryBatchSignal, batch('kantata:m1-done', [milestone('M1', 'completed', '2030-01-25T15:00:00Z')]));
      await until('2030-01-28T15:00:00Z');
      await handle.signal(deliveryBatchSignal, batch('kantata:m1-ok', [milestone('M1', 'accepted', '2030-01-28T14:00:00Z')]));

      // Jan 28: M1 invoiced on acceptance: 30 % of $100,000.00 = $30,000.00 + 8.875 % = $2,662.50 tax.
      await until('2030-01-29T15:00:00Z');
      let s = await state();
      expect(s.invoices.map((i) => [i.issueDate, i.subtotalMinor, i.taxMinor, i.totalMinor, i.status])).toEqual([['2030-01-28', 3_000_000, 266_250, 3_266_250, 'POSTED']]);
      // January's period is still open: TE-1, TE-2, EX-1 wait (DEFERRED); the excluded two are settled and reported.
      expect(s.pending).toEqual({ time: 2, expenses: 1, milestones: 0 });
      expect(s.totals).toEqual({ BILLABLE: 3_000_000, DEFERRED: 296_000, CAPPED: 0, EXCLUDED: 55_000, delivered: 3_351_000 });
      const m1 = s.invoices[0]!.number;

      // Feb 1: January in arrears on one invoice (same bill-to, project, entity, PO, period):
      // $1,500.00 + $1,040.00 (taxed: $133.125 -> $133.13, $92.30) + $420.00 travel (not taxed).
      await until('2030-02-02T15:00:00Z');
      s = await state();
      expect(s.invoices.map((i) => [i.issueDate, i.subtotalMinor, i.taxMinor, i.totalMinor])).toEqual([
        ['2030-01-28', 3_000_000, 266_250, 3_266_250],
        ['2030-02-01', 296_000, 22_543, 318_543],
      ]);
      expect(s.excluded.map((x) => [x.sourceId, x.reasonCode, x.amountMinor])).toEqual([
        ['TE-3', 'EXCLUDED.NON_BILLABLE_TASK', 30_000],
        ['EX-2', 'EXCLUDED.EXPENSE_CATEGORY', 25_000],
      ]);
      // 8 h x $60.00 cost = $480.00 + 8 % = $38.40 -> $518.40 charged LE-DE -> LE-US
      expect(s.intercompanyMinor).toBe(51_840);
      const jan = await numberOf('2030-02-01');

      await until('2030-02-10T15:00:00Z');
      await handle.signal(paymentSignal, pay('evt-1', m1, 1_000_000)); // partial

      // February: the cap is crossed by TE-5. $15,000.00 - $2,540.00 billed = $12,460.00 left;
      // TE-4 40 h = $6,000.00 fits, TE-5 60 h = $9,000.00 splits into $6,460.00 billed + $2,540.00 capped.
      // MEALS $100.00: $75.00 billed, $25.00 capped by policy. Duplicates ride along and change nothing.
      const february = batch('kantata:feb', [time('4', 'r-us', '2030-02-05', 2_400), time('5', 'r-us', '2030-02-20', 3_600), expense('3', 'MEALS', '2030-02-10', 10_000)]);
      await until('2030-02-20T15:00:00Z');
      await handle.signal(deliveryBatchSignal, february);
      await handle.signal(deliveryBatchSignal, february); // same batch id again
      await handle.signal(deliveryBatchSignal, january); // an old batch replayed
      await handle.signal(deliveryBatchSignal, batch('kantata:redelivered', [time('1', 'r-us', '2030-01-10', 600), time('4', 'r-us', '2030-02-05', 2_400), milestone('M1', 'accepted', '2030-01-28T14:00:00Z')]));
      await until('2030-02-25T15:00:00Z');
      await handle.signal(paymentSignal, pay('evt-2', m1, 2_266_250)); // the rest
      await handle.signal(paymentSignal, pay('evt-2', m1, 2_266_250)); // webhook delivered twice
      await until('2030-02-26T15:00:00Z');
      await handle.signal(deliveryBatchSignal, batch('kantata:m2-done', [milestone('M2', 'completed', '2030-02-26T15:00:00Z')]));

      // Mar 1: $6,000.00 + $6,460.00 on one rate line = $12,460.00, tax $1,105.825 -> $1,105.83; meals $75.00.
      await until('2030-03-02T15:00:00Z');
      s = await state();
      expect(s.invoices.map((i) => [i.issueDate, i.subtotalMinor, i.taxMinor, i.totalMinor, i.paidMinor, i.status])).toEqual([
        ['2030-01-28', 3_000_000, 266_250, 3_266_250, 3_266_250, 'PAID'],
        ['2030-02-01', 296_000, 22_543, 318_543, 0, 'POSTED'],
        ['2030-03-01', 1_253_500, 110_583, 1_364_083, 0, 'POSTED'],
      ]);
      expect(s.held.map((x) => [x.sourceId, x.reasonCode, x.amountMinor])).toEqual([
        ['EX-3', 'CAPPED.EXPENSE_POLICY_LIMIT', 2_500],
        ['TE-5', 'CAPPED.OVER_CAP', 254_000],
      ]);
      const feb = await numberOf('2030-03-01');

      // Over-payment, then the excess refunded (Stripe reports the cumulative refunded amount).
      await until('2030-03-05T15:00:00Z');
      await handle.signal(paymentSignal, pay('evt-3', jan, 328_543));
      await until('2030-03-06T15:00:00Z');
      expect((await state()).invoices.find((i) => i.number === jan)!.status).toBe('OVERPAID');
      await until('2030-03-08T15:00:00Z');
      await handle.signal(paymentSignal, pay('evt-4', jan, 10_000, 'charge.refunded', 'ch_1'));
      await handle.signal(paymentSignal, pay('evt-4b', jan, 10_000, 'charge.refunded', 'ch_1')); // same cumulative refund, later event

      // March: everything on L2 is now over the cap; travel is billed alone on Apr 1.
      await until('2030-03-20T15:00:00Z');
      await handle.signal(deliveryBatchSignal, batch('kantata:mar', [time('6', 'r-us', '2030-03-03', 60), expense('4', 'TRAVEL', '2030-03-15', 8_000)]));
      await until('2030-04-02T15:00:00Z');
      s = await state();
      expect(s.invoices.find((i) => i.number === jan)!).toMatchObject({ paidMinor: 318_543, refundedMinor: 10_000, status: 'PAID' });
      expect(s.invoices.find((i) => i.issueDate === '2030-04-01')!).toMatchObject({ subtotalMinor: 8_000, taxMinor: 0, totalMinor: 8_000 });
      expect(s.held.map((x) => [x.sourceId, x.amountMinor])).toEqual([['EX-3', 2_500], ['TE-5', 254_000], ['TE-6', 15_000]]); // 1 h x $150.00, all over the cap
      const apr = await numberOf('2030-04-01');

      await until('2030-04-05T15:00:00Z');
      await handle.signal(paymentSignal, pay('evt-5', feb, 1_364_083));
      // M2 accepted late (completed Feb 26, accepted Apr 10): 50 % = $50,000.00 + $4,437.50 tax.
      await until('2030-04-10T15:00:00Z');
      await handle.signal(deliveryBatchSignal, batch('kantata:m2-ok', [milestone('M2', 'accepted', '2030-04-10T14:00:00Z')]));
      await until('2030-04-11T15:00:00Z');
      const m2 = await numberOf('2030-04-10');
      expect((await state()).invoices.find((i) => i.number === m2)!.totalMinor).toBe(5_443_750);
      await until('2030-05-05T15:00:00Z');
      await handle.signal(paymentSignal, pay('evt-6', m2, 5_443_750));

      // The April travel invoice (due May 1) is unpaid after 10 days' grace: NEEDS_ATTENTION.
      await until('2030-05-12T15:00:00Z');
      s = await state();
      expect(s.attention.map((a) => [a.kind, a.invoiceId])).toEqual([['OVERDUE', apr]]);
      await until('2030-05-20T15:00:00Z');
      await handle.signal(paymentSignal, pay('evt-7', apr, 8_000));

      // M3: acceptance listed before completion in one batch (out of order): 20 % = $20,000.00 + $1,775.00 tax.
      await until('2030-06-15T15:00:00Z');
      await handle.signal(deliveryBatchSignal, batch('kantata:m3', [milestone('M3', 'accepted', '2030-06-15T14:00:00Z'), milestone('M3', 'completed', '2030-06-14T14:00:00Z')]));
      await until('2030-06-16T15:00:00Z');
      s = await state();
      expect(s.attention).toEqual([]);
      const m3 = await numberOf('2030-06-15');
      expect(s.invoices.find((i) => i.number === m3)!.totalMinor).toBe(2_177_500);
      await until('2030-07-01T15:00:00Z');
      await handle.signal(paymentSignal, pay('evt-8', m3, 2_177_500));

      // Revenue per month: M1 at acceptance (Jan); T&M and expenses as invoiced (Feb 1, Mar 1, Apr 1); M2 (Apr); M3 (Jun).
      await until('2030-07-02T15:00:00Z');
      s = await state();
      expect(s.recognisedByMonth).toEqual({
        '2030-01': 3_000_000,
        '2030-02': 296_000, // $1,500.00 + $1,040.00 + $420.00
        '2030-03': 1_253_500, // $12,460.00 + $75.00
        '2030-04': 5_008_000, // $80.00 + $50,000.00
        '2030-06': 2_000_000,
      });
      expect(s.recognisedByLine).toEqual({ [L1]: 10_000_000, [L2]: 1_500_000, [L3]: 57_500 });

      // The contract ends Dec 31: on Jan 1 (New York) everything is billed and paid, so the deal closes.
      const view = await handle.result();
      await maybeRecordHistory(handle, 'whole-engagement', DELIVERY_HISTORIES_DIR);
      expect(view.stage).toBe('CLOSED');
      s = await state();
      const summary = s.summary!;
      // delivered $118,840.00 = billed $115,575.00 + capped $2,715.00 + excluded $550.00 (conservation)
      expect(summary.totals).toEqual({ BILLABLE: 11_557_500, DEFERRED: 0, CAPPED: 271_500, EXCLUDED: 55_000, delivered: 11_884_000 });
      expect(summary.closedOn).toBe('2031-01-01');
      expect(summary.invoices.map((i) => [i.totalMinor, i.paidMinor, i.status])).toEqual([
        [3_266_250, 3_266_250, 'PAID'],
        [318_543, 318_543, 'PAID'],
        [1_364_083, 1_364_083, 'PAID'],
        [8_000, 8_000, 'PAID'],
        [5_443_750, 5_443_750, 'PAID'],
        [2_177_500, 2_177_500, 'PAID'],
      ]);
      expect(summary.invoicedMinor).toBe(12_578_126);
      expect(summary.taxMinor).toBe(1_020_626);
      expect(summary.collectedMinor).toBe(12_578_126);
      expect(summary.refundedMinor).toBe(10_000);
      expect(summary.leakage).toEqual({ cappedMinor: 271_500, excludedMinor: 55_000, rejectedMinor: 0, writtenOffMinor: 0, totalMinor: 271_500 });
      expect(summary.recognisedMinor).toBe(11_557_500);
      expect(summary.intercompanyMinor).toBe(51_840);

      // The systems agree: six invoices in the ERP, statuses in the CRM, invoice refs in the PSA.
      const erpInvoices = await erp.listInvoices(erpCustomer.id);
      expect(erpInvoices.map((i) => [i.tranId, i.total.amountMinor]).sort()).toEqual(summary.invoices.map((i) => [i.number, i.totalMinor]).sort());
      expect([...ports.crmStatus.values()].map((v) => [v.invoiceNumber, v.status, v.amountPaid.amountMinor]).sort()).toEqual(summary.invoices.map((i) => [i.number, 'PAID', i.totalMinor]).sort());
      expect(ports.psaInvoices.get(jan)).toMatchObject({ timeEntryIds: ['1', '2'], expenseIds: ['1'] });
      expect(ports.stages).toEqual(['Closed Won - Complete']);

      // Audit: invoice line -> billing event -> source item -> contract line -> quote line.
      const trail = await new AuditRepository(db.db).trail(jan);
      expect(trail.lines.flatMap((l) => l.items.map((i) => [i.sourceId, i.contractLineId, i.quoteLineId, i.amountMinor, i.billingEventId]))).toEqual(
        expect.arrayContaining([
          ['TE-1', L2, 'QL-2', 150_000, `BE:CTR-${OPP}:v1:TE-1:1`],
          ['TE-2', L2, 'QL-2', 104_000, `BE:CTR-${OPP}:v1:TE-2:1`],
          ['EX-1', L3, 'QL-3', 42_000, `BE:CTR-${OPP}:v1:EX-1:1`],
        ]),
      );
      expect(trail.lines.flatMap((l) => l.items).length).toBe(3);
      expect(trail.payments.map((p) => [p.sourceId, p.amountMinor])).toEqual([
        ['evt-3', 328_543],
        ['evt-4', -10_000],
      ]);
    });
  }, 300_000);
});
