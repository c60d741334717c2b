import type { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { DbHandle } from '../../src/db';
import { addDays } from '../../src/rules/dates';
import { deliveryBatchSignal, getDeliveryStateQuery, paymentSignal, type DeliveryItem } from '../../src/contract';
import { DELIVERY_HISTORIES_DIR, maybeRecordHistory } from '../support/histories';
import type { TestSandbox } from '../support/sandbox';
import { engagementTestWorkflow } from './engagement.workflows';
import { avalara, catalog, customer, engagementWorkers, netsuite, recordingPorts, skipTo, snapshotFor, useEngagementEnv, usd } from './engagement.support';

/*
 * A 3-year T&M deal billed weekly (weeks start Monday, New York): one hour of a US
 * consultant every Wednesday from 2031-01-01 to 2033-12-28 = 157 entries, each
 * 1 h x $150.00 = $150.00 + 8.875 % NY tax ($13.3125 -> $13.31) = $163.31 per weekly invoice.
 * Time is reported once a month; invoices are paid two days later.
 */
const OPP = 'OPP-LONG';
const WEEKS = 157;
const MAX_HISTORY = 1_000;

describe('a 3-year weekly-billed deal', () => {
  let env: TestWorkflowEnvironment;
  let sb: TestSandbox;
  let db: DbHandle;
  useEngagementEnv((c) => ({ env, sb, db } = c));
  const until = (iso: string) => skipTo(env, iso);

  it('continues as new with bounded history and invoices every week exactly once', async () => {
    const erp = netsuite(sb.url);
    const ports = recordingPorts();
    const erpCustomer = await erp.upsertCustomer({ customer, legalEntity: catalog.legalEntities.find((e) => e.id === 'LE-US')!, idempotencyKey: customer.id });
    const base = snapshotFor(OPP, [{ id: 'QL-1', servicePackage: 'ADVISORY_TM', description: 'Advisory', quantity: 1_000, unit: 'HOUR', listPrice: usd(15_000), netPrice: usd(15_000), discountBp: 0, approvalStatus: 'APPROVED', externalIds: {} }], '2031-01-01');
    const snapshot = { ...base, contract: { ...base.contract, endDate: '2033-12-31', lines: base.contract.lines.map((l) => ({ ...l, endDate: '2033-12-31', invoiceSchedule: 'WEEKLY' as const })) } };
    const workers = await engagementWorkers({ env, taskQueue: 'long', db: db.db, connectors: { erp, tax: avalara(sb.url), crm: ports.crm, psa: ports.psa, billing: ports.billing } });

    const wednesdays = Array.from({ length: WEEKS }, (_, i) => addDays('2031-01-01', 7 * i));
    expect(wednesdays[WEEKS - 1]).toBe('2033-12-28');

    const result = await workers.run(async () => {
      await until('2031-01-01T14:00:00Z');
      const handle = await env.client.workflow.start(engagementTestWorkflow, {
        taskQueue: 'long',
        workflowId: `deal-${OPP}`,
        args: [{ opportunityId: OPP, snapshot, view: { opportunityId: OPP, stage: 'IN_DELIVERY', ids: { erpCustomerId: erpCustomer.id }, exceptions: [], timeline: [] }, options: { maxHistoryEvents: MAX_HISTORY, childRunThreshold: 3 } }],
      });
      const paid = new Set<string>();
      for (let y = 2031; y <= 2033; y++) {
        for (let m = 1; m <= 12; m++) {
          const month = `${y}-${String(m).padStart(2, '0')}`;
          const next = m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
          const items: DeliveryItem[] = wednesdays
            .filter((d) => d.startsWith(month))
            .map((d) => ({ kind: 'timeEntry', sourceId: `W${d}`, projectId: 'WS-LONG', resourceId: 'r-us', role: 'consultant', workDate: d, minutes: 60, billable: true, approvedAt: `${d}T20:00:00Z` }));
          await until(`${next}-01T17:00:00Z`);
          await handle.signal(deliveryBatchSignal, { batchId: `kantata:${month}`, source: 'kantata', receivedAt: `${next}-01T17:00:00Z`, items });
          await until(`${next}-03T17:00:00Z`);
          for (const inv of (await handle.query(getDeliveryStateQuery)).invoices) {
            if (paid.has(inv.number) || inv.status !== 'POSTED') continue;
            paid.add(inv.number);
            await handle.signal(paymentSignal, { eventId: `evt-${inv.number}`, source: 'stripe', kind: 'invoice.paid', occurredAt: `${next}-03T17:00:00Z`, amountMinor: inv.totalMinor, currency: 'USD', invoiceNumber: inv.number });
          }
        }
      }
      // The last week's invoice (issued Monday 2034-01-02) is paid in the loop's last pass or the next.
      await until('2034-01-10T17:00:00Z');
      for (const inv of (await handle.query(getDeliveryStateQuery)).invoices) {
        if (paid.has(inv.number) || inv.status !== 'POSTED') continue;
        paid.add(inv.number);
        await handle.signal(paymentSignal, { eventId: `evt-${inv.number}`, source: 'stripe', kind: 'invoice.paid', occurredAt: '2034-01-10T17:00:00Z', amountMinor: inv.totalMinor, currency: 'USD', invoiceNumber: inv.number });
      }
      const view = await handle.result();
      const state = await env.client.workflow.getHandle(`deal-${OPP}`).query(getDeliveryStateQuery);

      // Walk the chain of runs and measure each one's history.
      const lengths: number[] = [];
      let runId: string | undefined = handle.firstExecutionRunId;
      while (runId) {
        const history: temporal.api.history.v1.IHistory = await env.client.workflow.getHandle(`deal-${OPP}`, runId).fetchHistory();
        const events: temporal.api.history.v1.IHistoryEvent[] = history.events ?? [];
        lengths.push(events.length);
        const next = events[events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
        // The first run (ends in continue-as-new) and the last (starts from a carried state, closes).
        if (lengths.length === 1 || !next) await maybeRecordHistory(env.client.workflow.getHandle(`deal-${OPP}`, runId), `weekly-3y-${lengths.length === 1 ? 'first' : 'last'}-run`, DELIVERY_HISTORIES_DIR);
        runId = next;
      }
      return { view, state, lengths, paid: paid.size };
    });

    expect(result.view.stage).toBe('CLOSED');
    const summary = result.state.summary!;
    expect(result.paid).toBe(WEEKS);
    expect(summary.invoices).toHaveLength(WEEKS);
    expect(new Set(summary.invoices.map((i) => i.number)).size).toBe(WEEKS);
    expect(summary.invoices.every((i) => i.totalMinor === 16_331 && i.paidMinor === 16_331 && i.status === 'PAID')).toBe(true);
    expect(summary.totals).toEqual({ BILLABLE: 2_355_000, DEFERRED: 0, CAPPED: 0, EXCLUDED: 0, delivered: 2_355_000 }); // 157 x $150.00
    expect(summary.invoicedMinor).toBe(2_563_967); // 157 x $163.31
    expect(summary.recognisedMinor).toBe(2_355_000);
    // No duplicate in the ERP either.
    const inErp = await erp.listInvoices(erpCustomer.id);
    expect(inErp).toHaveLength(WEEKS);
    expect(new Set(inErp.map((i) => i.tranId)).size).toBe(WEEKS);

    // History stayed bounded: several runs, each far below Temporal's 10,240-event warning.
    expect(result.state.continuedAsNew).toBe(result.lengths.length - 1);
    expect(result.lengths.length).toBeGreaterThanOrEqual(3);
    for (const n of result.lengths) expect(n).toBeLessThan(MAX_HISTORY + 200);
    console.log(`3-year weekly deal: ${result.lengths.length} runs, history events per run ${result.lengths.join(', ')}`);
  }, 600_000);
});
