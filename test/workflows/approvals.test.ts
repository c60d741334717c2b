import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { DbHandle } from '../../src/db';
import { annotateAttentionUpdate, decideInvoiceUpdate, deliveryBatchSignal, getDeliveryStateQuery, paymentSignal, writeOffInvoiceUpdate, type DeliveryItem, type InvoiceDecision, type WriteOffRequest } from '../../src/contract';
import { DELIVERY_HISTORIES_DIR, maybeRecordHistory } from '../support/histories';
import type { TestSandbox } from '../support/sandbox';
import { engagementTestWorkflow } from './engagement.workflows';
import { avalara, catalog, customer, engagementWorkers, netsuite, recordingPorts, skipTo, snapshotFor, useEngagementEnv, usd } from './engagement.support';

/*
 * The approval checkpoint and the write-off, on a fixed-fee deal, 2030, LE-US (America/New_York):
 *   L1 TRANSFORMATION $100,000.00, milestones 30 / 50 / 20 %, billed on acceptance.
 * Invoices with a subtotal above $25,000.00 wait for an operator (approvalAboveMinor 2_500_000);
 * an unanswered approval raises an attention item after 5 days.
 * Tax: SERVICES at 8.875 % in US-NY (AvaTax sandbox, half up per line).
 *   M1 30 % = $30,000.00 (> $25,000.00: held) -> approved -> + $2,662.50 tax = $32,662.50
 *   M2 50 % = $50,000.00 (> $25,000.00: held) -> rejected: never posted, reported as leakage
 *   M3 20 % = $20,000.00 (<= $25,000.00: posted at once) + $1,775.00 tax = $21,775.00
 */
const OPP = 'OPP-APR';
const L1 = 'CTR-OPP-APR-L1';

const accepted = (key: string, at: string): DeliveryItem => ({ kind: 'milestone', sourceId: `${L1}-${key}`, projectId: 'WS-APR', status: 'accepted', at });

/** The failure type an Update's validator rejected with. */
async function rejectionOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) return (err.cause as { type?: string } | undefined)?.type;
    throw err;
  }
  return undefined;
}

describe('the approval checkpoint and write-offs', () => {
  let env: TestWorkflowEnvironment;
  let sb: TestSandbox;
  let db: DbHandle;

  useEngagementEnv((c) => ({ env, sb, db } = c));
  const until = (iso: string) => skipTo(env, iso);

  it('holds large invoices for a decision, escalates when nobody acts, never posts a rejected one, and closes with a written-off balance', async () => {
    const erp = netsuite(sb.url);
    const ports = recordingPorts();
    const usEntity = catalog.legalEntities.find((e) => e.id === 'LE-US')!;
    const erpCustomer = await erp.upsertCustomer({ customer, legalEntity: usEntity, idempotencyKey: 'CUS-APR' });
    const snapshot = snapshotFor(
      OPP,
      [{ id: 'QL-1', servicePackage: 'TRANSFORMATION', description: 'Transformation', quantity: 1, unit: 'EACH', listPrice: usd(10_000_000), netPrice: usd(10_000_000), discountBp: 0, approvalStatus: 'APPROVED', externalIds: {} }],
      '2030-01-01',
    );
    const latencies: number[] = [];
    const exceptions: string[] = [];
    const kpis = { recordDealTransition: () => {}, recordDealException: (code: string) => void exceptions.push(code), recordInvoicePosted: (ms: number) => void latencies.push(ms) };
    const workers = await engagementWorkers({ env, taskQueue: 'approvals', db: db.db, connectors: { erp, tax: avalara(sb.url), crm: ports.crm, psa: ports.psa, billing: ports.billing }, kpis });

    await workers.run(async () => {
      await until('2030-01-02T14:00:00Z');
      const handle: WorkflowHandle<typeof engagementTestWorkflow> = await env.client.workflow.start(engagementTestWorkflow, {
        taskQueue: 'approvals',
        workflowId: `deal-${OPP}`,
        args: [
          {
            opportunityId: OPP,
            snapshot,
            view: { opportunityId: OPP, stage: 'IN_DELIVERY', ids: { erpCustomerId: erpCustomer.id, projectId: 'WS-APR' }, exceptions: [], timeline: [] },
            options: { approvalAboveMinor: 2_500_000, approvalTimeoutDays: 5, overdueGraceDays: 10 },
          },
        ],
      });
      const state = () => handle.query(getDeliveryStateQuery);
      const decide = (req: InvoiceDecision) => handle.executeUpdate(decideInvoiceUpdate, { args: [req] });
      const writeOff = (req: WriteOffRequest) => handle.executeUpdate(writeOffInvoiceUpdate, { args: [req] });
      const erpTotals = async () => (await erp.listInvoices(erpCustomer.id)).map((i) => i.total.amountMinor).sort((a, b) => a - b);

      // M1 accepted Jan 10: $30,000.00 is above the threshold, so the draft waits and nothing reaches the ERP.
      await until('2030-01-10T15:00:00Z');
      await handle.signal(deliveryBatchSignal, { batchId: 'kantata:m1', source: 'kantata', receivedAt: '2030-01-10T15:00:00Z', items: [accepted('M1', '2030-01-10T14:00:00Z')] });
      await until('2030-01-11T15:00:00Z');
      let s = await state();
      expect(s.invoices.map((i) => [i.issueDate, i.subtotalMinor, i.status])).toEqual([['2030-01-10', 3_000_000, 'AWAITING_APPROVAL']]);
      const m1 = s.invoices[0]!.id;
      expect(await erpTotals()).toEqual([]);
      expect(s.attention).toEqual([]);

      // Five days without a decision (Jan 10 + 5 = Jan 15): an APPROVAL_TIMEOUT attention item.
      await until('2030-01-15T15:00:00Z');
      s = await state();
      expect(s.attention.map((a) => [a.kind, a.invoiceId])).toEqual([['APPROVAL_TIMEOUT', m1]]);
      // An operator notes and assigns it (the console's exceptions page); an unknown item is refused.
      const noted = await handle.executeUpdate(annotateAttentionUpdate, { args: [{ attentionId: s.attention[0]!.id, by: 'ops', note: 'controller is out until the 16th', assignee: 'controller' }] });
      expect(noted).toMatchObject({ assignee: 'controller', notes: [{ by: 'ops', text: 'controller is out until the 16th' }] });
      expect((await state()).attention[0]).toMatchObject({ assignee: 'controller', notes: [{ by: 'ops', text: 'controller is out until the 16th' }] });
      expect(await rejectionOf(handle.executeUpdate(annotateAttentionUpdate, { args: [{ attentionId: 'NOPE', by: 'ops', note: 'x' }] }))).toBe('DEAL.ATTENTION_UNKNOWN');

      // The validator refuses bad decisions and nothing changes.
      expect(await rejectionOf(decide({ invoiceId: 'INV-NOPE', decision: 'approve', by: 'controller' }))).toBe('DEAL.INVOICE_NOT_PENDING');
      expect(await rejectionOf(decide({ invoiceId: m1, decision: 'reject', by: 'controller' }))).toBe('DEAL.ACTION_INVALID'); // no reason
      expect(await rejectionOf(decide({ invoiceId: m1, decision: 'approve', by: ' ' }))).toBe('DEAL.ACTION_INVALID'); // no one
      expect((await state()).invoices[0]!.status).toBe('AWAITING_APPROVAL');

      // Approved: the escalation clears and the invoice is taxed and posted: $30,000.00 + $2,662.50 = $32,662.50.
      await decide({ invoiceId: m1, decision: 'approve', by: 'controller' });
      await until('2030-01-16T15:00:00Z');
      s = await state();
      expect(s.attention).toEqual([]);
      expect(s.invoices.map((i) => [i.subtotalMinor, i.taxMinor, i.totalMinor, i.status])).toEqual([[3_000_000, 266_250, 3_266_250, 'POSTED']]);
      expect(await erpTotals()).toEqual([3_266_250]);
      expect(await rejectionOf(decide({ invoiceId: m1, decision: 'approve', by: 'controller' }))).toBe('DEAL.INVOICE_NOT_PENDING'); // decided already

      // M2 accepted Feb 5: $50,000.00 held, then rejected: it never reaches the ERP.
      await until('2030-02-05T15:00:00Z');
      await handle.signal(deliveryBatchSignal, { batchId: 'kantata:m2', source: 'kantata', receivedAt: '2030-02-05T15:00:00Z', items: [accepted('M2', '2030-02-05T14:00:00Z')] });
      await until('2030-02-06T15:00:00Z');
      const m2 = (await state()).invoices.find((i) => i.issueDate === '2030-02-05')!;
      expect([m2.subtotalMinor, m2.status]).toEqual([5_000_000, 'AWAITING_APPROVAL']);
      await decide({ invoiceId: m2.id, decision: 'reject', by: 'controller', reason: 'customer disputes M2 sign-off' });
      await until('2030-02-07T15:00:00Z');
      expect((await state()).invoices.find((i) => i.id === m2.id)!.status).toBe('REJECTED');
      expect(await erpTotals()).toEqual([3_266_250]);

      // M1 is paid short: $30,000.00 of $32,662.50. A write-off needs a reason; then $2,662.50 is written off.
      await handle.signal(paymentSignal, { eventId: 'evt-m1', source: 'stripe', kind: 'invoice.paid', occurredAt: '2030-02-07T15:00:00Z', amountMinor: 3_000_000, currency: 'USD', invoiceNumber: (await state()).invoices[0]!.number });
      await until('2030-02-08T15:00:00Z');
      expect((await state()).invoices[0]!).toMatchObject({ paidMinor: 3_000_000, status: 'PARTIALLY_PAID' });
      expect(await rejectionOf(writeOff({ invoiceId: m1, by: 'controller', reason: '' }))).toBe('DEAL.ACTION_INVALID');
      expect(await rejectionOf(writeOff({ invoiceId: m2.id, by: 'controller', reason: 'x' }))).toBe('DEAL.INVOICE_UNKNOWN'); // rejected, never posted
      const written = await writeOff({ invoiceId: m1, by: 'controller', reason: 'tax short-paid, below collection threshold' });
      expect([written.writtenOffMinor, written.status]).toEqual([266_250, 'WRITTEN_OFF']);
      expect(await rejectionOf(writeOff({ invoiceId: m1, by: 'controller', reason: 'again' }))).toBe('DEAL.NOTHING_TO_WRITE_OFF');

      // M3 accepted Jun 15: $20,000.00 is under the threshold and goes straight out: + $1,775.00 = $21,775.00.
      await until('2030-06-15T15:00:00Z');
      await handle.signal(deliveryBatchSignal, { batchId: 'kantata:m3', source: 'kantata', receivedAt: '2030-06-15T15:00:00Z', items: [accepted('M3', '2030-06-15T14:00:00Z')] });
      await until('2030-06-16T15:00:00Z');
      const m3 = (await state()).invoices.find((i) => i.issueDate === '2030-06-15')!;
      expect([m3.totalMinor, m3.status]).toEqual([2_177_500, 'POSTED']);
      await handle.signal(paymentSignal, { eventId: 'evt-m3', source: 'stripe', kind: 'invoice.paid', occurredAt: '2030-06-20T15:00:00Z', amountMinor: 2_177_500, currency: 'USD', invoiceNumber: m3.number });

      // The contract ends Dec 31; with M1 written off, M2 rejected and M3 paid, the deal closes on Jan 1.
      const view = await handle.result();
      await maybeRecordHistory(handle, 'approvals-escalation-write-off', DELIVERY_HISTORIES_DIR);
      expect(view.stage).toBe('CLOSED');
      const summary = (await state()).summary!;
      expect(summary.invoices.map((i) => [i.totalMinor, i.paidMinor, i.status])).toEqual([
        [3_266_250, 3_000_000, 'WRITTEN_OFF'],
        [5_000_000, 0, 'REJECTED'], // reported, never posted
        [2_177_500, 2_177_500, 'PAID'],
      ]);
      // Collected $30,000.00 + $21,775.00 = $51,775.00; leakage = rejected $50,000.00 + written off $2,662.50 = $52,662.50.
      expect(summary.collectedMinor).toBe(5_177_500);
      expect(summary.leakage).toMatchObject({ rejectedMinor: 5_000_000, writtenOffMinor: 266_250, totalMinor: 5_266_250 });
      expect(await erpTotals()).toEqual([2_177_500, 3_266_250]);

      // The KPIs: one escalation; invoice latency from the billable day's midnight in New York to posting.
      // M1: accepted Jan 10, posted on approval Jan 15 15:00Z (10:00 EST) = 5 d 10 h; M3: Jun 15 15:00Z (11:00 EDT) = 11 h.
      const HOUR = 3_600_000;
      expect(exceptions).toEqual(['DELIVERY.APPROVAL_TIMEOUT']);
      expect(latencies.length).toBe(2);
      expect(latencies[0]).toBeGreaterThanOrEqual(5 * 24 * HOUR + 10 * HOUR);
      expect(latencies[0]).toBeLessThan(5 * 24 * HOUR + 11 * HOUR);
      expect(latencies[1]).toBeGreaterThanOrEqual(11 * HOUR);
      expect(latencies[1]).toBeLessThan(12 * HOUR);
    });
  }, 300_000);
});

// Its own time-skipping server: the test server keeps its clock locked after a finished run.
describe('an approved invoice once posted', () => {
  let env: TestWorkflowEnvironment;
  let sb: TestSandbox;
  let db: DbHandle;

  useEngagementEnv((c) => ({ env, sb, db } = c));
  const until = (iso: string) => skipTo(env, iso);

  // Before patched('approved-invoice-posted') an approved invoice stayed AWAITING_APPROVAL once
  // posted and its payment never matched. This run is recorded (Q2C_RECORD_HISTORIES=1) as
  // test/histories/delivery/approved-invoice-paid.json, taken on the code before the fix, and
  // test/replay proves the fixed code still replays it.
  it('an approved invoice is POSTED once it reaches the ERP and takes its payment', async () => {
    const erp = netsuite(sb.url);
    const ports = recordingPorts();
    const usEntity = catalog.legalEntities.find((e) => e.id === 'LE-US')!;
    const erpCustomer = await erp.upsertCustomer({ customer, legalEntity: usEntity, idempotencyKey: 'CUS-APR2' });
    const opp = 'OPP-APR2';
    const snapshot = snapshotFor(
      opp,
      [{ id: 'QL-1', servicePackage: 'TRANSFORMATION', description: 'Transformation', quantity: 1, unit: 'EACH', listPrice: usd(10_000_000), netPrice: usd(10_000_000), discountBp: 0, approvalStatus: 'APPROVED', externalIds: {} }],
      '2031-01-01',
    );
    const workers = await engagementWorkers({ env, taskQueue: 'approvals-2', db: db.db, connectors: { erp, tax: avalara(sb.url), crm: ports.crm, psa: ports.psa, billing: ports.billing } });
    await workers.run(async () => {
      await until('2031-01-02T14:00:00Z');
      const handle = await env.client.workflow.start(engagementTestWorkflow, {
        taskQueue: 'approvals-2',
        workflowId: `deal-${opp}`,
        args: [
          {
            opportunityId: opp,
            snapshot,
            view: { opportunityId: opp, stage: 'IN_DELIVERY', ids: { erpCustomerId: erpCustomer.id, projectId: 'WS-APR2' }, exceptions: [], timeline: [] },
            options: { approvalAboveMinor: 2_500_000 },
          },
        ],
      });
      const state = () => handle.query(getDeliveryStateQuery);
      await until('2031-01-10T15:00:00Z');
      await handle.signal(deliveryBatchSignal, { batchId: 'kantata:m1', source: 'kantata', receivedAt: '2031-01-10T15:00:00Z', items: [{ kind: 'milestone', sourceId: `CTR-${opp}-L1-M1`, projectId: 'WS-APR2', status: 'accepted', at: '2031-01-10T14:00:00Z' }] });
      await until('2031-01-11T15:00:00Z');
      const held = (await state()).invoices[0]!;
      expect(held.status).toBe('AWAITING_APPROVAL');
      await handle.executeUpdate(decideInvoiceUpdate, { args: [{ invoiceId: held.id, decision: 'approve', by: 'controller' }] });
      await until('2031-01-12T15:00:00Z');
      const posted = (await state()).invoices[0]!;
      // 30 % of $100,000.00 = $30,000.00 + 8.875 % = $2,662.50 -> $32,662.50, paid in full.
      await handle.signal(paymentSignal, { eventId: 'evt-apr2', source: 'stripe', kind: 'invoice.paid', occurredAt: '2031-01-12T15:00:00Z', amountMinor: 3_266_250, currency: 'USD', invoiceNumber: posted.number });
      await until('2031-01-13T15:00:00Z');
      const paid = (await state()).invoices[0]!;
      await maybeRecordHistory(handle, 'approved-invoice-paid', DELIVERY_HISTORIES_DIR);
      await handle.terminate('test over');
      expect([posted.totalMinor, posted.status]).toEqual([3_266_250, 'POSTED']);
      expect([paid.paidMinor, paid.status]).toEqual([3_266_250, 'PAID']);
      expect(ports.crmStatus.get(posted.number)).toMatchObject({ status: 'PAID' });
    });
  }, 120_000);
});
