import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { DbHandle } from '../../src/db';
import { deliveryBatchSignal, getDeliveryStateQuery, type DeliveryItem } from '../../src/contract';
import { BULK_ISSUE_PRIORITY, issuePriorityKey } from '../../src/engagement';
import type { TestSandbox } from '../support/sandbox';
import { engagementTestWorkflow } from './engagement.workflows';
import { advisoryQuoteLine, approvedTime, avalara, engagementWorkers, erpDealRecords, netsuite, recordingPorts, skipTo, snapshotFor, useEngagementEnv, usd } from './engagement.support';

/*
 * Month-end's periodic invoices yield to the invoices a customer waits for now. 2030, LE-US:
 * L1 ADVISORY_TM (monthly in arrears, $150.00/h) and L2 TRANSFORMATION $100,000.00 (milestones,
 * invoiced on acceptance). M1 is accepted on Jan 15: its invoice ($30,000.00) is issued at once at
 * the default priority. January's time (600 min = $1,500.00) is invoiced on Feb 1, its tax, post
 * and record steps at BULK_ISSUE_PRIORITY (4: behind the default 3 on the same task queues).
 */
const OPP = 'OPP-PRIO';
const L1 = `CTR-${OPP}-L1`;
const L2 = `CTR-${OPP}-L2`;
const time = approvedTime('WS-PRIO', L1);
const accepted = (key: string, at: string): DeliveryItem => ({ kind: 'milestone', sourceId: `${L2}-${key}`, projectId: 'WS-PRIO', status: 'accepted', at });
const batch = (batchId: string, receivedAt: string, items: DeliveryItem[]) => ({ batchId, source: 'kantata' as const, receivedAt, items });

test('periodic invoices issue at the bulk priority; the others at the default', () => {
  expect([issuePriorityKey('MONTHLY'), issuePriorityKey('WEEKLY'), issuePriorityKey('IMMEDIATE'), issuePriorityKey('ON_MILESTONE')]).toEqual([BULK_ISSUE_PRIORITY, BULK_ISSUE_PRIORITY, undefined, undefined]);
  expect(BULK_ISSUE_PRIORITY).toBeGreaterThan(3); // Temporal's default key: lower goes first
});

describe('issuing priority on the workflow', () => {
  let env: TestWorkflowEnvironment;
  let sb: TestSandbox;
  let db: DbHandle;
  useEngagementEnv((c) => ({ env, sb, db } = c));

  it("schedules a monthly invoice's tax, post and record at priority 4 and a milestone invoice's at the default", async () => {
    const erp = netsuite(sb.url);
    const ports = recordingPorts();
    const fee = { id: 'QL-2', servicePackage: 'TRANSFORMATION', description: 'Transformation', quantity: 1, unit: 'EACH' as const, listPrice: usd(10_000_000), netPrice: usd(10_000_000), discountBp: 0, approvalStatus: 'APPROVED' as const, externalIds: {} };
    const snapshot = snapshotFor(OPP, [advisoryQuoteLine(), fee], '2030-01-01');
    const { erpCustomer, so } = await erpDealRecords(erp, OPP, snapshot.contract, 'CUS-PRIO');
    const workers = await engagementWorkers({ env, taskQueue: 'issue-priority', db: db.db, connectors: { erp, tax: avalara(sb.url), crm: ports.crm, psa: ports.psa, billing: ports.billing }, resources: { 'r-us': { legalEntityId: 'LE-US', region: 'US' } } });
    const { invoices, scheduled } = await workers.run(async () => {
      await skipTo(env, '2030-01-02T14:00:00Z');
      const handle = await env.client.workflow.start(engagementTestWorkflow, {
        taskQueue: 'issue-priority',
        workflowId: `deal-${OPP}`,
        args: [{ opportunityId: OPP, snapshot, view: { opportunityId: OPP, stage: 'IN_DELIVERY', ids: { erpCustomerId: erpCustomer.id, erpContractId: so.id, projectId: 'WS-PRIO' }, exceptions: [], timeline: [] }, options: { overdueGraceDays: 60 } }],
      });
      await skipTo(env, '2030-01-15T15:00:00Z');
      await handle.signal(deliveryBatchSignal, batch('kantata:m1', '2030-01-15T15:00:00Z', [accepted('M1', '2030-01-15T14:00:00Z'), time('1', '2030-01-10', 600)]));
      await skipTo(env, '2030-02-02T15:00:00Z');
      const state = await handle.query(getDeliveryStateQuery);
      const history = await handle.fetchHistory();
      await handle.terminate('test over');
      const steps = new Set(['taxInvoice', 'postInvoice', 'recordInvoiceIssued']);
      return {
        invoices: state.invoices.map((i) => [i.issueDate, i.subtotalMinor]),
        scheduled: (history.events ?? [])
          .map((e) => e.activityTaskScheduledEventAttributes)
          .filter((a) => a && steps.has(a.activityType?.name ?? ''))
          .map((a) => [a!.activityType!.name, a!.priority?.priorityKey ?? 'default']),
      };
    });
    // M1: 30 % x $100,000.00 = $30,000.00 on Jan 15; January's time: 600 min x $150.00 / 60 = $1,500.00 on Feb 1.
    expect(invoices).toEqual([
      ['2030-01-15', 3_000_000],
      ['2030-02-01', 150_000],
    ]);
    expect(scheduled).toEqual([
      ['taxInvoice', 'default'],
      ['postInvoice', 'default'],
      ['recordInvoiceIssued', 'default'],
      ['taxInvoice', 4],
      ['postInvoice', 4],
      ['recordInvoiceIssued', 4],
    ]);
  }, 180_000);
});
