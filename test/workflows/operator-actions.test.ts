import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { createBillingActivities } from '../../src/activities/billing.activities';
import { createCreditActivities } from '../../src/activities/credit.activities';
import { createDealActivities } from '../../src/activities/deal.activities';
import type { Connectors } from '../../src/connectors';
import type { DbHandle } from '../../src/db';
import { AuditRepository } from '../../src/db/audit';
import { RuleSet } from '../../src/rules/ruleset';
import defaultRuleSet from '../../src/rules/rulesets/default.json';
import { amendContractUpdate, creditInvoiceUpdate, deliveryBatchSignal, getDeliveryStateQuery, getRevenueWaterfallQuery, paymentSignal, type AmendContractRequest, type CreditInvoiceRequest, type DeliveryItem } from '../../src/contract';
import { ERP_TASK_QUEUE } from '../../src/workflows/invoice-run.workflow';
import { DELIVERY_HISTORIES_DIR, maybeRecordHistory } from '../support/histories';
import { testLogger } from '../support/logger';
import type { TestSandbox } from '../support/sandbox';
import { engagementTestWorkflow } from './engagement.workflows';
import { avalara, catalog, customer, engagementBundle, netsuite, recordingPorts, skipTo, snapshotFor, useEngagementEnv, usd } from './engagement.support';

/*
 * Operator actions on a deal in delivery, 2030, LE-US (America/New_York), customer in New York:
 *   L1 ADVISORY_TM T&M at RC-STD (consultant/US $150.00/h), not-to-exceed $15,000.00 (100 h x $150.00, no tolerance),
 *   monthly in arrears, revenue as invoiced. SERVICES is taxed 8.875 % in US-NY (AvaTax sandbox, per line, half away from zero).
 */
const OPP = 'OPP-OPS';
const L1 = `CTR-${OPP}-L1`;
const DEAL = `deal-${OPP}`;

const time = (id: string, workDate: string, minutes: number): DeliveryItem => ({
  kind: 'timeEntry', sourceId: id, projectId: 'WS-OPS', taskId: `${L1}-T1`, resourceId: 'r-us', role: 'consultant', workDate, minutes, billable: true, approvedAt: `${workDate}T20:00:00Z`,
});
const pay = (eventId: string, invoiceNumber: string, amountMinor: number) => ({
  eventId, source: 'stripe' as const, kind: 'invoice.paid' as const, occurredAt: '2030-01-01T00:00:00Z', amountMinor, currency: 'USD', invoiceNumber,
});
const failureType = async (p: Promise<unknown>): Promise<string | undefined> => {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (err as WorkflowUpdateFailedError).cause;
    return cause instanceof ApplicationFailure ? cause.type ?? undefined : undefined;
  }
  throw new Error('the update was accepted');
};

describe('operator actions in delivery: contract amendment and credit memo', () => {
  let env: TestWorkflowEnvironment;
  let sb: TestSandbox;
  let db: DbHandle;

  useEngagementEnv((c) => ({ env, sb, db } = c));
  const until = (iso: string) => skipTo(env, iso);

  it('a raised cap bills what it admits of the held items; a stale amendment changes nothing; a credit memo reverses one time entry once', async () => {
    const erp = netsuite(sb.url);
    const tax = avalara(sb.url);
    const ports = recordingPorts();
    const usEntity = catalog.legalEntities.find((e) => e.id === 'LE-US')!;
    const erpCustomer = await erp.upsertCustomer({ customer, legalEntity: usEntity, idempotencyKey: customer.id });
    const snapshot = snapshotFor(
      OPP,
      [{ id: 'QL-1', servicePackage: 'ADVISORY_TM', description: 'Advisory', quantity: 100, unit: 'HOUR', listPrice: usd(15_000), netPrice: usd(15_000), discountBp: 0, approvalStatus: 'APPROVED', externalIds: {} }],
      '2030-01-01',
    );
    expect(snapshot.contract.lines.map((l) => [l.id, l.cap])).toEqual([[L1, { notToExceed: usd(1_500_000), toleranceBp: 0 }]]);
    // Part 1 of the deal posted contract v1 as the sales order (same key the workflow's amendment uses).
    const soKey = `${OPP}:erp-contract`;
    const so = await erp.postContract({ contract: snapshot.contract, erpCustomerId: erpCustomer.id, legalEntity: usEntity, idempotencyKey: soKey, tranId: `SO-${OPP}` });

    const ruleSet = RuleSet.parse(defaultRuleSet);
    const connectors = { erp, tax, crm: ports.crm, psa: ports.psa, billing: ports.billing };
    const activities = {
      ...createBillingActivities({ db: db.db, logger: testLogger, catalog, ruleSets: () => ruleSet, connectors, resources: { 'r-us': { legalEntityId: 'LE-US', region: 'US' } } }),
      ...createCreditActivities({ db: db.db, logger: testLogger, connectors }),
      postErpContract: createDealActivities({ db: db.db, logger: testLogger, catalog, connectors: connectors as unknown as Connectors }).postErpContract,
    };
    const main = await Worker.create({ connection: env.nativeConnection, taskQueue: 'operator-actions', workflowBundle: await engagementBundle(), activities });
    const erpWorker = await Worker.create({ connection: env.nativeConnection, taskQueue: ERP_TASK_QUEUE, activities, maxTaskQueueActivitiesPerSecond: 50 });

    await main.runUntil(
      erpWorker.runUntil(async () => {
        await until('2030-01-02T14:00:00Z');
        const handle: WorkflowHandle<typeof engagementTestWorkflow> = await env.client.workflow.start(engagementTestWorkflow, {
          taskQueue: 'operator-actions',
          workflowId: DEAL,
          args: [{ opportunityId: OPP, snapshot, view: { opportunityId: OPP, stage: 'IN_DELIVERY', ids: { erpCustomerId: erpCustomer.id, erpContractId: so.id, projectId: 'WS-OPS' }, exceptions: [], timeline: [] }, options: { overdueGraceDays: 60 } }],
        });
        const state = () => handle.query(getDeliveryStateQuery);
        const amend = (req: AmendContractRequest) => handle.executeUpdate(amendContractUpdate, { args: [req] });
        const credit = (req: CreditInvoiceRequest) => handle.executeUpdate(creditInvoiceUpdate, { args: [req] });

        // January: 60 h + 50 h + 20 h + 10 h at $150.00/h against a $15,000.00 cap.
        await until('2030-01-29T15:00:00Z');
        await handle.signal(deliveryBatchSignal, {
          batchId: 'kantata:jan',
          source: 'kantata',
          receivedAt: '2030-01-29T15:00:00Z',
          items: [
            time('1', '2030-01-10', 3_600), // 60 h = $9,000.00; $6,000.00 of the cap left
            time('2', '2030-01-20', 3_000), // 50 h = $7,500.00: $6,000.00 billed + $1,500.00 (600 min) capped
            time('3', '2030-01-25', 1_200), // 20 h = $3,000.00 capped
            time('4', '2030-01-28', 600), // 10 h = $1,500.00 capped
          ],
        });

        // Feb 1: $9,000.00 + $6,000.00 = $15,000.00 on one rate line; tax 1,500,000 x 8.875 % = 133,125.
        await until('2030-02-02T15:00:00Z');
        let s = await state();
        expect(s.invoices.map((i) => [i.issueDate, i.subtotalMinor, i.taxMinor, i.totalMinor, i.status])).toEqual([['2030-02-01', 1_500_000, 133_125, 1_633_125, 'POSTED']]);
        expect(s.held.map((h) => [h.sourceId, h.reasonCode, h.amountMinor]).sort()).toEqual([
          ['TE-2', 'CAPPED.OVER_CAP', 150_000],
          ['TE-3', 'CAPPED.OVER_CAP', 300_000],
          ['TE-4', 'CAPPED.OVER_CAP', 150_000],
        ]);
        expect(s.totals).toEqual({ BILLABLE: 1_500_000, DEFERRED: 0, CAPPED: 600_000, EXCLUDED: 0, delivered: 2_100_000 });
        expect(s.contractVersion).toBe(1);
        const feb1 = s.invoices[0]!;

        // Feb 5 work (8 h = $1,200.00) waits for February to close.
        await until('2030-02-06T15:00:00Z');
        await handle.signal(deliveryBatchSignal, { batchId: 'kantata:feb', source: 'kantata', receivedAt: '2030-02-06T15:00:00Z', items: [time('5', '2030-02-05', 480)] });

        // Feb 10: change order v1 -> v2 raises the cap (and the allocated value) to $19,000.00.
        await until('2030-02-10T15:00:00Z');
        const raise: AmendContractRequest = {
          requestId: 'co-1',
          by: 'ops@firm.example',
          baseVersion: 1,
          effectiveDate: '2030-02-10',
          reason: 'change order 1: 26.67 more hours',
          changes: [{ op: 'UPDATE_LINE', lineId: L1, set: { cap: { notToExceed: usd(1_900_000), toleranceBp: 0 }, allocatedValue: usd(1_900_000) } }],
        };
        const amended = await amend(raise);
        // Room 1,900,000 - 1,500,000 billed = 400,000 of the 600,000 held (date order: TE-2 150,000, TE-3 250,000 of 300,000).
        expect(amended).toMatchObject({ contractVersion: 2, heldOverCapMinor: 600_000, releasableMinor: 400_000, amendment: { id: `${snapshot.contract.id}-A2`, baseVersion: 1, version: 2, appliedOn: '2030-02-10', erpContractId: so.id } });
        expect(await amend(raise)).toEqual(amended); // the same request again: same answer, nothing applied twice

        // The ERP's sales order is the same record, now at v2 with the new line value.
        const order = (await sb.store.getByExternalId<Record<string, unknown>>('netsuite', 'salesOrder', soKey))!;
        expect(order.id).toBe(so.id);
        expect(order.data['custbody_q2c_contract_version']).toBe(2);
        expect(order.data['memo']).toBe(`Contract ${snapshot.contract.id} v2`);
        expect((order.data['item'] as { items: Array<{ amount: number }> }).items.map((i) => i.amount)).toEqual([19_000]);

        // A stale change order (written against v1) and a change to an unknown line are refused; nothing changes.
        const stale = await failureType(amend({ ...raise, requestId: 'co-stale', changes: [{ op: 'UPDATE_LINE', lineId: L1, set: { cap: { notToExceed: usd(2_500_000), toleranceBp: 0 } } }] }));
        expect(stale).toBe('DEAL.AMENDMENT_VERSION_CONFLICT');
        expect(await failureType(amend({ ...raise, requestId: 'co-x', baseVersion: 2, changes: [{ op: 'UPDATE_LINE', lineId: 'NOPE', set: { discountBp: 500 } }] }))).toBe('DEAL.AMENDMENT_UNKNOWN_LINE');
        expect(await failureType(amend({ ...raise, requestId: 'co-y', baseVersion: 2, changes: [{ op: 'UPDATE_LINE', lineId: L1, set: { cap: { notToExceed: usd(1_000_000), toleranceBp: 0 } } }] }))).toBe('DEAL.AMENDMENT_INVALID'); // below the 1,500,000 billed
        s = await state();
        expect(s.contractVersion).toBe(2);
        expect(s.amendments!.map((a) => [a.id, a.requestId, a.version])).toEqual([[`${snapshot.contract.id}-A2`, 'co-1', 2]]);
        expect(s.held.map((h) => [h.sourceId, h.amountMinor]).sort()).toEqual([['TE-2', 150_000], ['TE-3', 300_000], ['TE-4', 150_000]]); // released at the next run, not before
        expect((await sb.store.getByExternalId<Record<string, unknown>>('netsuite', 'salesOrder', soKey))!.data['custbody_q2c_contract_version']).toBe(2);

        // Mar 1, the next invoice run: the held parts go first (they are older), so TE-5 finds the cap full.
        //   TE-2 150,000 (600 min) + TE-3 250,000 (floor(1,200 x 250,000 / 300,000) = 1,000 min) = 400,000, billable from the
        //   amendment (Feb 10): on the line's next regular invoice, February's (issued Mar 1), not a late January one;
        //   tax 400,000 x 8.875 % = 35,500; TE-5 120,000 CAPPED.
        await until('2030-03-02T15:00:00Z');
        s = await state();
        const mar1 = s.invoices.find((i) => i.issueDate === '2030-03-01')!;
        expect([mar1.subtotalMinor, mar1.taxMinor, mar1.totalMinor, mar1.period]).toEqual([400_000, 35_500, 435_500, { start: '2030-02-01', end: '2030-02-28' }]);
        expect(mar1.invoiceKey.endsWith('|MONTHLY:2030-02')).toBe(true);
        expect(s.invoices).toHaveLength(2);
        expect(s.held.map((h) => [h.sourceId, h.amountMinor]).sort()).toEqual([
          ['TE-3', 50_000],
          ['TE-4', 150_000],
          ['TE-5', 120_000],
        ]);
        // Conservation: delivered 2,100,000 + 120,000 = 2,220,000 = billed 1,500,000 + 400,000 + capped 320,000.
        expect(s.totals).toEqual({ BILLABLE: 1_900_000, DEFERRED: 0, CAPPED: 320_000, EXCLUDED: 0, delivered: 2_220_000 });
        const mar1Trail = await new AuditRepository(db.db).trail(mar1.number);
        expect(mar1Trail.lines.flatMap((l) => l.items.map((i) => [i.sourceId, i.amountMinor, i.billingEventId]))).toEqual([
          ['TE-2', 150_000, `BE:${snapshot.contract.id}:v2:TE-2:1`],
          ['TE-3', 250_000, `BE:${snapshot.contract.id}:v2:TE-3:1`],
        ]);
        const erpInvoices = await erp.listInvoices(erpCustomer.id);
        expect(erpInvoices.map((i) => [i.tranId, i.total.amountMinor]).sort()).toEqual([[feb1.number, 1_633_125], [mar1.number, 435_500]].sort());

        // Mar 5: TE-1 (60 h, $9,000.00) on the open Feb 1 invoice is disputed and credited.
        // Tax returned: 900,000 x 8.875 % = 79,875; credit 979,875; balance 1,633,125 - 979,875 = 653,250.
        await until('2030-03-05T15:00:00Z');
        const line = feb1.lines[0]!;
        const req: CreditInvoiceRequest = { requestId: 'dispute-7', invoiceId: feb1.number, by: 'ar@firm.example', reason: 'DISPUTE', note: 'customer disputes the 60 h of Jan 10', lines: [{ invoiceLineId: line.id, sourceItemIds: ['TE-1'] }] };
        const memo = await credit(req);
        expect(memo).toMatchObject({ invoiceId: feb1.id, invoiceNumber: feb1.number, issueDate: '2030-03-05', reason: 'DISPUTE', subtotalMinor: 900_000, taxMinor: 79_875, totalMinor: 979_875 });
        expect(memo.lines).toEqual([{ id: `${memo.id}-1`, originalInvoiceLineId: line.id, contractLineId: L1, sourceItemIds: ['TE-1'], amountMinor: 900_000, taxMinor: 79_875 }]);
        expect(await credit(req)).toEqual(memo); // the same request again: the same memo, nothing posted twice
        expect(await failureType(credit({ ...req, requestId: 'dispute-8' }))).toBe('DEAL.ALREADY_CREDITED');
        expect(await failureType(credit({ ...req, requestId: 'dispute-9', lines: [{ invoiceLineId: line.id, sourceItemIds: ['TE-9'] }] }))).toBe('DEAL.CREDIT_SOURCE_NOT_ON_LINE');

        s = await state();
        const credited = s.invoices.find((i) => i.id === feb1.id)!;
        expect([credited.totalMinor, credited.creditedMinor, credited.paidMinor, credited.status, credited.creditMemos]).toEqual([1_633_125, 979_875, 0, 'POSTED', [memo.number]]);
        expect(s.creditMemos!.map((m) => m.id)).toEqual([memo.id]);

        // The ERP holds one credit memo, created from the invoice: 900,000 + a 79,875 tax line = $9,798.75.
        const memos = (await sb.store.list<Record<string, unknown>>('netsuite', 'creditMemo', {})).items;
        expect(memos).toHaveLength(1);
        const cm = memos[0]!;
        expect(cm.externalId).toBe(`${DEAL}:credit-memo:${memo.id}`);
        expect([cm.data['tranId'], cm.data['total'], (cm.data['createdFrom'] as { id: string }).id]).toEqual([memo.number, 9_798.75, credited.externalId]);
        expect((cm.data['item'] as { items: Array<{ amount: number; custcol_q2c_line_id: string }> }).items.map((i) => [i.custcol_q2c_line_id, i.amount])).toEqual([
          [`${memo.id}-1`, 9_000],
          [`${memo.id}-1-TAX`, 798.75],
        ]);
        // The tax engine has the return (one document, committed).
        const ret = (await tax.getTaxDocument(memo.id))!;
        expect([ret.status, ret.totalTax.amountMinor]).toEqual(['COMMITTED', -79_875]);

        // Audit: credit memo line -> invoice line -> TE-1 (and the tax reversed on that line).
        const trail = await new AuditRepository(db.db).trail(feb1.number);
        expect(trail.creditMemos.map((c) => [c.documentLineId, c.reversesLineId, c.sourceKind, c.sourceId, c.amountMinor, c.billingEventId])).toEqual([
          [`${memo.id}-1`, line.id, 'TIME', 'TE-1', 900_000, `BE:${snapshot.contract.id}:v1:TE-1:1`],
          [`${memo.id}-1-TAX`, line.id, 'TAX', `${memo.number}:${memo.id}-1`, 79_875, null],
        ]);

        // The customer pays what is left of both invoices; the CRM sees them paid.
        await until('2030-03-10T15:00:00Z');
        await handle.signal(paymentSignal, pay('evt-1', feb1.number, 653_250));
        await handle.signal(paymentSignal, pay('evt-2', mar1.number, 435_500));
        await until('2030-03-11T15:00:00Z');
        expect((await state()).invoices.map((i) => [i.number, i.status])).toEqual([
          [feb1.number, 'PAID'],
          [mar1.number, 'PAID'],
        ]);
        expect(ports.crmStatus.get(feb1.number)).toMatchObject({ status: 'PAID', amountPaid: usd(653_250) });

        // Close on Jan 1, 2031. Invoiced 1,633,125 + 435,500 = 2,068,625; credited 979,875; collected 653,250 + 435,500 = 1,088,750
        // = invoiced - credited. TE-1 is not billed again; leakage 320,000 capped + 900,000 credited = 1,220,000.
        const view = await handle.result();
        // Recorded runs of this test: amended-cap-and-credit-memo.json before 'credit-basis-from-audit',
        // amended-cap-and-credit-memo-audit-basis.json before 'released-time-on-next-invoice',
        // amended-cap-released-on-next-invoice.json before 'credit-reverses-revenue', and this one.
        await maybeRecordHistory(handle, 'credit-reverses-revenue', DELIVERY_HISTORIES_DIR);
        expect(view.stage).toBe('CLOSED');
        const summary = (await state()).summary!;
        expect(summary.totals).toEqual({ BILLABLE: 1_900_000, DEFERRED: 0, CAPPED: 320_000, EXCLUDED: 0, delivered: 2_220_000 });
        expect(summary.invoices.map((i) => [i.number, i.totalMinor, i.paidMinor, i.creditedMinor ?? 0, i.status])).toEqual([
          [feb1.number, 1_633_125, 653_250, 979_875, 'PAID'],
          [mar1.number, 435_500, 435_500, 0, 'PAID'],
        ]);
        expect([summary.invoicedMinor, summary.taxMinor, summary.collectedMinor]).toEqual([2_068_625, 168_625, 1_088_750]);
        expect(summary.credited).toEqual({ memos: 1, subtotalMinor: 900_000, taxMinor: 79_875, totalMinor: 979_875 });
        expect(summary.leakage).toEqual({ cappedMinor: 320_000, excludedMinor: 0, rejectedMinor: 0, writtenOffMinor: 0, creditedMinor: 900_000, totalMinor: 1_220_000 });
        expect((await sb.store.list('netsuite', 'creditMemo', {})).items).toHaveLength(1);
        expect((await erp.listInvoices(erpCustomer.id)).length).toBe(2);
        // Revenue as invoiced: 1,500,000 (Feb 1) + 400,000 (Mar 1) - 900,000 taken back by the credit on Mar 5
        // = 1,000,000 = billed 1,900,000 - credited 900,000.
        expect(summary.recognisedMinor).toBe(1_000_000);
        // In the ERP the reversal is March's journal line: debit revenue (4000), credit deferred revenue (2500), $9,000.00.
        const journals = (await sb.store.list<Record<string, unknown>>('netsuite', 'journalEntry', {})).items;
        const reversal = journals
          .flatMap((j) => (j.data['line'] as { items: Record<string, unknown>[] }).items.map((l) => ({ date: j.data['tranDate'], l })))
          .filter(({ l }) => String(l['custcol_q2c_revenue_line_id']).startsWith(`REV-CREDIT-${memo.id}`))
          .map(({ date, l }) => [date, (l['account'] as { id: string }).id, l['debit'] ?? 0, l['credit'] ?? 0]);
        expect(reversal).toEqual([
          ['2030-03-05', '4000', 9_000, 0],
          ['2030-03-05', '2500', 0, 9_000],
        ]);
        // The waterfall (the workflow's query, answered after the close too): contract value 1,900,000 after the amendment.
        // Feb: billed 1,500,000 = recognised -> no balance, deferred 1,900,000 - 1,500,000 = 400,000. Mar: billed 400,000,
        // credited 900,000, recognised 400,000 - 900,000 = -500,000; net billed 1,000,000 = recognised 1,000,000; deferred 900,000.
        const w = await handle.query(getRevenueWaterfallQuery);
        expect([w.contractVersion, w.contractValueMinor, w.months.length, w.months.every((m) => m.status === 'POSTED')]).toEqual([2, 1_900_000, 13, true]);
        expect(w.months.slice(1, 3).map((m) => [m.month, m.billedMinor, m.creditedMinor, m.recognisedMinor, m.billedNotRecognisedMinor, m.unbilledMinor, m.deferredMinor])).toEqual([
          ['2030-02', 1_500_000, 0, 1_500_000, 0, 0, 400_000],
          ['2030-03', 400_000, 900_000, -500_000, 0, 0, 900_000],
        ]);
        expect(w.totals).toEqual({ billedMinor: 1_900_000, creditedMinor: 900_000, recognisedMinor: 1_000_000, scheduledMinor: 0 });
      }),
    );
  }, 300_000);
});
