import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createStripeAdapter } from '../../src/connectors/billing/stripe.adapter';
import { staticSecret } from '../../src/connectors/http';
import type { DbHandle } from '../../src/db';
import { AVALARA_VENDOR } from '../../src/sandbox/avalara/avalara.sandbox';
import { NETSUITE_VENDOR } from '../../src/sandbox/netsuite/netsuite.sandbox';
import { STRIPE_SANDBOX, STRIPE_VENDOR } from '../../src/sandbox/stripe/stripe.sandbox';
import { creditInvoiceUpdate, deliveryBatchSignal, getDeliveryStateQuery, paymentSignal } from '../../src/contract';
import type { TestSandbox } from '../support/sandbox';
import { engagementTestWorkflow } from './engagement.workflows';
import { avalara, catalog, customer, engagementWorkers, netsuite, recordingPorts, skipTo, snapshotFor, usd, useEngagementEnv } from './engagement.support';

/*
 * A credit memo on an invoice issued in Stripe (invoiceSystem 'stripe'), 2030, LE-US, New York:
 *   L1 ADVISORY_TM, T&M at RC-STD $150.00/h, not-to-exceed 100 h = $15,000.00, monthly in arrears.
 * January: 10 h + 6 h = 16 h x $150.00 = $2,400.00, invoiced Feb 1.
 * Tax from AvaTax (SERVICES, US-NY 8.875 %): $2,400.00 x 0.08875 = $213.00 -> total $2,613.00,
 * carried to Stripe as its own invoice item, so Stripe's total is the q2c total.
 */
const OPP = 'OPP-STR';

describe('a credit on an invoice issued in Stripe', () => {
  let env: TestWorkflowEnvironment;
  let sb: TestSandbox;
  let db: DbHandle;
  useEngagementEnv((c) => ({ env, sb, db } = c), [NETSUITE_VENDOR, AVALARA_VENDOR, STRIPE_VENDOR]);

  /*
   * The same January (10 h + 6 h at $150.00 = 240,000 + 21,300 tax = 261,300, issued in Stripe on Feb 1), then the
   * 6 h of Jan 17 are disputed on Feb 5: a Stripe credit note of 90,000 + 7,988 tax returned through AvaTax
   * (90,000 x 8.875 % = 7,987.5, half up) = 97,988, which lowers what the invoice asks for to 261,300 - 97,988 = 163,312;
   * the revenue of the 6 h is taken back on the credit's date.
   */
  it('credits an invoice issued in Stripe with a Stripe credit note, tax returned, and takes its revenue back', async () => {
    const opp = `${OPP}-CN`;
    const erp = netsuite(sb.url);
    const stripe = createStripeAdapter({ apiKey: staticSecret(STRIPE_SANDBOX.apiKey), webhookSecret: STRIPE_SANDBOX.webhookSecret, baseUrl: `${sb.url}/stripe`, timeoutMs: 5_000 });
    const ports = recordingPorts();
    const usEntity = catalog.legalEntities.find((e) => e.id === 'LE-US')!;
    const erpCustomer = await erp.upsertCustomer({ customer, legalEntity: usEntity, idempotencyKey: 'CUS-STR-CN' });
    const billingCustomer = await stripe.createCustomer(customer, 'CUS-STR-CN');
    const snapshot = snapshotFor(
      opp,
      [{ id: 'QL-1', servicePackage: 'ADVISORY_TM', description: 'Advisory', quantity: 100, unit: 'HOUR', listPrice: usd(15_000), netPrice: usd(15_000), discountBp: 0, approvalStatus: 'APPROVED', externalIds: {} }],
      '2030-01-01',
    );
    const workers = await engagementWorkers({ env, taskQueue: 'stripe-credit', db: db.db, connectors: { erp, tax: avalara(sb.url), crm: ports.crm, psa: ports.psa, billing: stripe }, operatorActions: true });

    await workers.run(async () => {
      await skipTo(env, '2030-01-02T14:00:00Z');
      const handle = await env.client.workflow.start(engagementTestWorkflow, {
        taskQueue: 'stripe-credit',
        workflowId: `deal-${opp}`,
        args: [{ opportunityId: opp, snapshot, view: { opportunityId: opp, stage: 'IN_DELIVERY', ids: { erpCustomerId: erpCustomer.id, projectId: 'WS-STR' }, exceptions: [], timeline: [] }, options: { invoiceSystem: 'stripe', billingCustomerId: billingCustomer.id, dunning: false } }],
      });
      const state = () => handle.query(getDeliveryStateQuery);
      const te = (sourceId: string, workDate: string, minutes: number) => ({
        kind: 'timeEntry' as const, sourceId, projectId: 'WS-STR', taskId: `CTR-${opp}-L1-T1`, resourceId: 'r-us', role: 'consultant', workDate, minutes, billable: true, approvedAt: `${workDate}T20:00:00Z`,
      });
      await skipTo(env, '2030-01-20T15:00:00Z');
      await handle.signal(deliveryBatchSignal, { batchId: 'kantata:jan', source: 'kantata', receivedAt: '2030-01-20T15:00:00Z', items: [te('1', '2030-01-10', 600), te('2', '2030-01-17', 360)] });
      await skipTo(env, '2030-02-05T15:00:00Z');
      const inv = (await state()).invoices[0]!;
      expect([inv.system, inv.totalMinor]).toEqual(['stripe', 261_300]);

      const memo = await handle.executeUpdate(creditInvoiceUpdate, {
        args: [{ requestId: 'dispute-str', invoiceId: inv.number, by: 'ar@firm.example', reason: 'DISPUTE', note: '6 h of Jan 17 not agreed', lines: [{ invoiceLineId: inv.lines[0]!.id, sourceItemIds: ['TE-2'] }] }],
      });
      expect([memo.subtotalMinor, memo.taxMinor, memo.totalMinor]).toEqual([90_000, 7_988, 97_988]);
      // Stripe: one credit note on the invoice, which now asks for 163,312; the ERP holds no credit memo.
      const notes = (await sb.store.list<Record<string, unknown>>('stripe', 'credit_note', {})).items.map((n) => n.data);
      expect(notes.map((n) => [n['id'], n['invoice'], n['total'], n['type']])).toEqual([[memo.externalId, inv.externalId, 97_988, 'pre_payment']]);
      expect((await stripe.getInvoice(inv.externalId!)).amountDue.amountMinor).toBe(163_312);
      expect((await sb.store.list('netsuite', 'creditMemo', {})).items).toEqual([]);
      const s = await state();
      expect(s.invoices[0]).toMatchObject({ creditedMinor: 97_988, status: 'POSTED' });

      // The customer pays what is left; revenue: 240,000 (Feb 1) - 90,000 (Feb 5) = 150,000.
      await handle.signal(paymentSignal, { eventId: 'evt_str_cn', source: 'stripe', kind: 'invoice.paid', occurredAt: '2030-02-10T15:00:00Z', amountMinor: 163_312, currency: 'USD', stripeInvoiceId: inv.externalId! });
      await skipTo(env, '2030-03-02T15:00:00Z');
      expect((await state()).invoices[0]).toMatchObject({ paidMinor: 163_312, status: 'PAID' });
      expect((await state()).recognisedByMonth).toEqual({ '2030-02': 150_000 });
      await handle.terminate('test over');
    });
  }, 180_000);
});
