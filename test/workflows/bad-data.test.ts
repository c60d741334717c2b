import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createBillingActivities } from '../../src/activities/billing.activities';
import type { DbHandle } from '../../src/db';
import { RuleSet } from '../../src/rules/ruleset';
import defaultRuleSet from '../../src/rules/rulesets/default.json';
import { deliveryBatchSignal, getDeliveryStateQuery, type DeliveryItem } from '../../src/contract';
import { ERP_TASK_QUEUE } from '../../src/workflows/invoice-run.workflow';
import { DELIVERY_HISTORIES_DIR, maybeRecordHistory } from '../support/histories';
import { testLogger } from '../support/logger';
import type { TestSandbox } from '../support/sandbox';
import { engagementTestWorkflow } from './engagement.workflows';
import { advisoryQuoteLine, approvedTime, avalara, catalog, engagementBundle, erpDealRecords, netsuite, recordingPorts, skipTo, snapshotFor, useEngagementEnv } from './engagement.support';

/*
 * Bad data inside valid deliveries, through the deal's signals on the time-skipping server (test/engagement/bad-data.test.ts
 * on the core). 2030, LE-US: L1 ADVISORY_TM at RC-STD without its '*' row ($150.00/h consultant US), monthly in arrears;
 * expenses go to L1 at cost. January, one batch: TE-1 600 min, TE-2 120 min, TE-3 60 min as 'astronaut' (no rate),
 * EX-1 USD 420.00, EX-2 EUR 300.00; then TE-1 again with 300 min, and TE-2 withdrawn before billing.
 */
const OPP = 'OPP-BADW';
const L1 = `CTR-${OPP}-L1`;
const time = approvedTime('WS-BADW', L1);
const expense = (id: string, amountMinor: number, currency: string): DeliveryItem => ({
  kind: 'expense', sourceId: id, projectId: 'WS-BADW', resourceId: 'r-us', category: 'TRAVEL', incurredOn: '2030-01-12', amountMinor, currency, billable: true, approvedAt: '2030-01-12T20:00:00Z',
});
/** A batch as the relay hands it over; `unapprovals` as the `*-unapproved` kinds do (a field code before them ignores). */
const relayed = (batchId: string, receivedAt: string, items: DeliveryItem[], unapprovals?: Array<{ kind: 'timeEntry' | 'expense'; sourceId: string; at: string }>) => ({
  batchId, source: 'kantata' as const, receivedAt, items, ...(unapprovals ? { unapprovals } : {}),
});

describe('bad delivery data on the workflow', () => {
  let env: TestWorkflowEnvironment;
  let sb: TestSandbox;
  let db: DbHandle;
  useEngagementEnv((c) => ({ env, sb, db } = c));

  it('bills what is valid once and makes the rest visible: NO_RATE, CURRENCY_MISMATCH, a conflict, a withdrawal before and after billing', async () => {
    const erp = netsuite(sb.url);
    const ports = recordingPorts();
    const snapshot = snapshotFor(OPP, [advisoryQuoteLine()], '2030-01-01');
    const { erpCustomer, so } = await erpDealRecords(erp, OPP, snapshot.contract, 'CUS-BADW');
    const std = RuleSet.parse(defaultRuleSet);
    const ruleSet = { ...std, rateCards: std.rateCards.map((c) => (c.id === 'RC-STD' ? { ...c, rates: c.rates.filter((r) => r.role !== '*') } : c)) };
    const activities = createBillingActivities({ db: db.db, logger: testLogger, catalog, ruleSets: () => ruleSet, connectors: { erp, tax: avalara(sb.url), crm: ports.crm, psa: ports.psa, billing: ports.billing }, resources: { 'r-us': { legalEntityId: 'LE-US', region: 'US' } } });
    const main = await Worker.create({ connection: env.nativeConnection, taskQueue: 'bad-data', workflowBundle: await engagementBundle(), activities });
    const erpWorker = await Worker.create({ connection: env.nativeConnection, taskQueue: ERP_TASK_QUEUE, activities, maxTaskQueueActivitiesPerSecond: 50 });
    const seen = await main.runUntil(
      erpWorker.runUntil(async () => {
        await skipTo(env, '2030-01-02T14:00:00Z');
        const handle = await env.client.workflow.start(engagementTestWorkflow, {
          taskQueue: 'bad-data',
          workflowId: `deal-${OPP}`,
          args: [{ opportunityId: OPP, snapshot, view: { opportunityId: OPP, stage: 'IN_DELIVERY', ids: { erpCustomerId: erpCustomer.id, erpContractId: so.id, projectId: 'WS-BADW' }, exceptions: [], timeline: [] }, options: { overdueGraceDays: 60 } }],
        });
        const state = () => handle.query(getDeliveryStateQuery);
        await skipTo(env, '2030-01-29T15:00:00Z');
        await handle.signal(deliveryBatchSignal, relayed('kantata:jan', '2030-01-29T15:00:00Z', [time('1', '2030-01-10', 600), time('2', '2030-01-11', 120), { ...time('3', '2030-01-12', 60), role: 'astronaut' } as DeliveryItem, expense('1', 42_000, 'USD'), expense('2', 30_000, 'EUR')]));
        await skipTo(env, '2030-01-30T15:00:00Z');
        await handle.signal(deliveryBatchSignal, relayed('kantata:jan-again', '2030-01-30T15:00:00Z', [time('1', '2030-01-10', 300)]));
        await handle.signal(deliveryBatchSignal, relayed('kantata:jan-withdrawn', '2030-01-30T16:00:00Z', [], [{ kind: 'timeEntry', sourceId: '2', at: '2030-01-30T16:00:00Z' }]));
        await skipTo(env, '2030-02-02T15:00:00Z');
        const billed = await state();
        await handle.signal(deliveryBatchSignal, relayed('kantata:feb-withdrawn', '2030-02-02T15:00:00Z', [], [{ kind: 'timeEntry', sourceId: '1', at: '2030-02-02T15:00:00Z' }]));
        await skipTo(env, '2030-02-04T15:00:00Z');
        const withdrawn = await state();
        // 'bad-data-before-patch.json' is this run on the code before 'expense-currency-mismatch', 'no-rate-attention', 'delivery-conflicts' and 'psa-unapprovals'.
        await maybeRecordHistory(handle, 'bad-data', DELIVERY_HISTORIES_DIR);
        await handle.terminate('test over');
        return { billed, withdrawn };
      }),
    );
    // Feb 1: TE-1 as first delivered, 600 min x $150.00 / 60 = $1,500.00, + EX-1 $420.00 = $1,920.00.
    expect(seen.billed.invoices.map((i) => [i.issueDate, i.subtotalMinor])).toEqual([['2030-02-01', 192_000]]);
    expect(seen.billed.pending).toEqual({ time: 1, expenses: 0, milestones: 0 });
    expect(seen.billed.excluded.map((r) => [r.sourceId, r.reasonCode, r.amountMinor])).toEqual([
      ['EX-2', 'EXCLUDED.CURRENCY_MISMATCH', 0],
      ['TE-2', 'EXCLUDED.UNAPPROVED', 0],
    ]);
    expect(seen.billed.conflicts).toEqual([
      { itemId: 'TE-1', kind: 'TIME', sourceId: '1', batchId: 'kantata:jan-again', receivedAt: '2030-01-30T15:00:00Z', differences: [{ field: 'minutes', kept: '600', received: '300' }], keptState: 'PENDING' },
    ]);
    expect(seen.billed.attention.map((a) => [a.id, a.kind, a.itemIds])).toEqual([[`NO_RATE:${L1}:astronaut:US`, 'NO_RATE', ['TE-3']]]);
    // NO_RATE from the day the entry arrived (the rate is missing whatever the period); the withdrawal on the day it arrived
    expect(seen.withdrawn.attention.map((a) => [a.id, a.kind, a.raisedOn])).toEqual([
      [`NO_RATE:${L1}:astronaut:US`, 'NO_RATE', '2030-01-29'],
      ['UNAPPROVED:TE-1', 'UNAPPROVED_AFTER_BILLING', '2030-02-02'],
    ]);
    expect(seen.withdrawn.invoices.map((i) => [i.issueDate, i.subtotalMinor])).toEqual([['2030-02-01', 192_000]]);
  }, 180_000);
});
