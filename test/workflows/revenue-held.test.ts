import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createBillingActivities } from '../../src/activities/billing.activities';
import { createDealActivities } from '../../src/activities/deal.activities';
import type { Connectors } from '../../src/connectors';
import type { DbHandle } from '../../src/db';
import { RuleSet } from '../../src/rules/ruleset';
import defaultRuleSet from '../../src/rules/rulesets/default.json';
import { amendContractUpdate, deliveryBatchSignal, getDeliveryStateQuery, paymentSignal, type AmendContractRequest } from '../../src/contract';
import { ERP_TASK_QUEUE } from '../../src/workflows/invoice-run.workflow';
import { DELIVERY_HISTORIES_DIR, maybeRecordHistory } from '../support/histories';
import { testLogger } from '../support/logger';
import type { TestSandbox } from '../support/sandbox';
import { engagementTestWorkflow } from './engagement.workflows';
import { advisoryQuoteLine, approvedTime, avalara, catalog, engagementBundle, erpDealRecords, netsuite, recordingPorts, skipTo, snapshotFor, usd, useEngagementEnv } from './engagement.support';

/*
 * Revenue above a line's allocation is held, not dropped (test/engagement/revenue.test.ts on the time-skipping
 * server). 2030, LE-US, New York: L1 ADVISORY_TM $150.00/h, cap and allocated value $15,000.00, revenue as invoiced.
 *   Jan 100 h = $15,000.00 (invoiced Feb 1, recognised in February). Feb 10: cap -> $19,000.00, allocation unchanged.
 *   Feb 20 h = $3,000.00 (invoiced Mar 1): no room at the March close -> $3,000.00 held, NEEDS_ATTENTION.
 *   Apr 10: allocated value -> $19,000.00: recognised at the April close (Apr 30); the deal is IN_DELIVERY again.
 */
const OPP = 'OPP-REVH';
const L1 = `CTR-${OPP}-L1`;
const time = approvedTime('WS-REVH', L1);

describe('revenue above a line\'s allocation on the workflow', () => {
  let env: TestWorkflowEnvironment;
  let sb: TestSandbox;
  let db: DbHandle;
  useEngagementEnv((c) => ({ env, sb, db } = c));

  it('holds it with NEEDS_ATTENTION and recognises it once an amendment makes room', async () => {
    const erp = netsuite(sb.url);
    const ports = recordingPorts();
    const snapshot = snapshotFor(OPP, [advisoryQuoteLine()], '2030-01-01');
    const { erpCustomer, so } = await erpDealRecords(erp, OPP, snapshot.contract, 'CUS-REVH');
    const connectors = { erp, tax: avalara(sb.url), crm: ports.crm, psa: ports.psa, billing: ports.billing };
    const ruleSet = RuleSet.parse(defaultRuleSet);
    const activities = {
      ...createBillingActivities({ db: db.db, logger: testLogger, catalog, ruleSets: () => ruleSet, connectors, resources: { 'r-us': { legalEntityId: 'LE-US', region: 'US' } } }),
      postErpContract: createDealActivities({ db: db.db, logger: testLogger, catalog, connectors: connectors as unknown as Connectors }).postErpContract,
    };
    const main = await Worker.create({ connection: env.nativeConnection, taskQueue: 'revenue-held', workflowBundle: await engagementBundle(), activities });
    const erpWorker = await Worker.create({ connection: env.nativeConnection, taskQueue: ERP_TASK_QUEUE, activities, maxTaskQueueActivitiesPerSecond: 50 });
    const amend = (requestId: string, baseVersion: number, effectiveDate: string, set: Record<string, unknown>): AmendContractRequest => ({
      requestId, by: 'ops@firm.example', baseVersion, effectiveDate, reason: requestId, changes: [{ op: 'UPDATE_LINE', lineId: L1, set } as AmendContractRequest['changes'][number]],
    });
    const seen = await main.runUntil(
      erpWorker.runUntil(async () => {
        await skipTo(env, '2030-01-02T14:00:00Z');
        const handle = await env.client.workflow.start(engagementTestWorkflow, {
          taskQueue: 'revenue-held',
          workflowId: `deal-${OPP}`,
          args: [{ opportunityId: OPP, snapshot, view: { opportunityId: OPP, stage: 'IN_DELIVERY', ids: { erpCustomerId: erpCustomer.id, erpContractId: so.id, projectId: 'WS-REVH' }, exceptions: [], timeline: [] }, options: { overdueGraceDays: 60 } }],
        });
        const state = () => handle.query(getDeliveryStateQuery);
        const payAll = async (on: string) => {
          for (const inv of (await state()).invoices) {
            if (inv.paidMinor === 0) await handle.signal(paymentSignal, { eventId: `evt-${inv.number}`, source: 'stripe', kind: 'invoice.paid', occurredAt: `${on}T15:00:00Z`, amountMinor: inv.totalMinor, currency: 'USD', invoiceNumber: inv.number });
          }
        };
        await handle.signal(deliveryBatchSignal, { batchId: 'kantata:jan', source: 'kantata', receivedAt: '2030-01-29T15:00:00Z', items: [time('1', '2030-01-10', 6_000)] });
        await skipTo(env, '2030-02-02T15:00:00Z');
        await payAll('2030-02-02');
        await skipTo(env, '2030-02-10T15:00:00Z');
        await handle.executeUpdate(amendContractUpdate, { args: [amend('cap-up', 1, '2030-02-10', { cap: { notToExceed: usd(1_900_000), toleranceBp: 0 } })] });
        await handle.signal(deliveryBatchSignal, { batchId: 'kantata:feb', source: 'kantata', receivedAt: '2030-02-20T15:00:00Z', items: [time('2', '2030-02-15', 1_200)] });
        await skipTo(env, '2030-03-02T15:00:00Z');
        await payAll('2030-03-02');
        await skipTo(env, '2030-04-02T15:00:00Z');
        const held = await state();
        await skipTo(env, '2030-04-10T15:00:00Z');
        await handle.executeUpdate(amendContractUpdate, { args: [amend('alloc-up', 2, '2030-04-10', { allocatedValue: usd(1_900_000) })] });
        await skipTo(env, '2030-05-02T15:00:00Z');
        const released = await state();
        // revenue-held-before-patch.json is this run on the code before 'revenue-held-not-dropped' (the 300,000 was dropped).
        await maybeRecordHistory(handle, 'revenue-held', DELIVERY_HISTORIES_DIR);
        await handle.terminate('test over');
        return { held, released };
      }),
    );
    // Apr 1 posted March: the line's $15,000.00 allocation is full, the $3,000.00 invoiced Mar 1 is held.
    expect(seen.held.recognisedByMonth).toEqual({ '2030-02': 1_500_000 });
    expect(seen.held.revenueHeldByLine).toEqual({ [L1]: 300_000 });
    expect(seen.held.attention.map((a) => a.kind)).toEqual(['REVENUE_HELD']);
    // May 1 posted April with the release: 1,500,000 + 300,000 = 1,800,000, everything invoiced.
    expect(seen.released.recognisedByMonth).toEqual({ '2030-02': 1_500_000, '2030-04': 300_000 });
    expect(seen.released.recognisedMinor).toBe(1_800_000);
    expect(seen.released.revenueHeldByLine).toBeUndefined();
    expect(seen.released.attention).toEqual([]);
  }, 180_000);
});
