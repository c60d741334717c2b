import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createStripeAdapter } from '../../src/connectors/billing/stripe.adapter';
import { staticSecret } from '../../src/connectors/http';
import type { DbHandle } from '../../src/db';
import { AVALARA_VENDOR } from '../../src/sandbox/avalara/avalara.sandbox';
import { NETSUITE_VENDOR } from '../../src/sandbox/netsuite/netsuite.sandbox';
import { STRIPE_SANDBOX, STRIPE_VENDOR } from '../../src/sandbox/stripe/stripe.sandbox';
import { deliveryBatchSignal, getDeliveryStateQuery, paymentSignal } from '../../src/contract';
import type { TestSandbox } from '../support/sandbox';
import { DELIVERY_HISTORIES_DIR, maybeRecordHistory } from '../support/histories';
import { engagementTestWorkflow } from './engagement.workflows';
import { avalara, catalog, customer, engagementWorkers, netsuite, recordingPorts, skipTo, snapshotFor, usd, useEngagementEnv } from './engagement.support';

/*
 * A contract billed in Stripe instead of the ERP (invoiceSystem 'stripe'), 2030, LE-US, New York:
 *   L1 ADVISORY_TM, T&M at RC-STD $150.00/h, not-to-exceed 100 h = $15,000.00, monthly in arrears.
 * January: 10 h + 6 h = 16 h x $150.00 = $2,400.00, invoiced Feb 1.
 * Tax from AvaTax (SERVICES, US-NY 8.875 %): $2,400.00 x 0.08875 = $213.00 -> total $2,613.00,
 * carried to Stripe as its own invoice item, so Stripe's total is the q2c total.
 */
const OPP = 'OPP-STR';

describe('a contract billed in Stripe', () => {
  let env: TestWorkflowEnvironment;
  let sb: TestSandbox;
  let db: DbHandle;
  useEngagementEnv((c) => ({ env, sb, db } = c), [NETSUITE_VENDOR, AVALARA_VENDOR, STRIPE_VENDOR]);

  it('issues the invoice in Stripe with the tax on it, takes Stripe\'s invoice.paid, and writes the status back', async () => {
    const erp = netsuite(sb.url);
    const stripe = createStripeAdapter({ apiKey: staticSecret(STRIPE_SANDBOX.apiKey), webhookSecret: STRIPE_SANDBOX.webhookSecret, baseUrl: `${sb.url}/stripe`, timeoutMs: 5_000 });
    const ports = recordingPorts();
    const usEntity = catalog.legalEntities.find((e) => e.id === 'LE-US')!;
    const erpCustomer = await erp.upsertCustomer({ customer, legalEntity: usEntity, idempotencyKey: 'CUS-STR' });
    const billingCustomer = await stripe.createCustomer(customer, 'CUS-STR');
    const snapshot = snapshotFor(
      OPP,
      [{ id: 'QL-1', servicePackage: 'ADVISORY_TM', description: 'Advisory', quantity: 100, unit: 'HOUR', listPrice: usd(15_000), netPrice: usd(15_000), discountBp: 0, approvalStatus: 'APPROVED', externalIds: {} }],
      '2030-01-01',
    );
    const workers = await engagementWorkers({ env, taskQueue: 'stripe-billing', db: db.db, connectors: { erp, tax: avalara(sb.url), crm: ports.crm, psa: ports.psa, billing: stripe } });

    await workers.run(async () => {
      await skipTo(env, '2030-01-02T14:00:00Z');
      const handle = await env.client.workflow.start(engagementTestWorkflow, {
        taskQueue: 'stripe-billing',
        workflowId: `deal-${OPP}`,
        args: [
          {
            opportunityId: OPP,
            snapshot,
            view: { opportunityId: OPP, stage: 'IN_DELIVERY', ids: { erpCustomerId: erpCustomer.id, projectId: 'WS-STR' }, exceptions: [], timeline: [] },
            options: { invoiceSystem: 'stripe', billingCustomerId: billingCustomer.id },
          },
        ],
      });
      const state = () => handle.query(getDeliveryStateQuery);
      const te = (sourceId: string, workDate: string, minutes: number) => ({
        kind: 'timeEntry' as const, sourceId, projectId: 'WS-STR', taskId: `CTR-${OPP}-L1-T1`, resourceId: 'r-us', role: 'consultant', workDate, minutes, billable: true, approvedAt: `${workDate}T20:00:00Z`,
      });
      await skipTo(env, '2030-01-20T15:00:00Z');
      await handle.signal(deliveryBatchSignal, { batchId: 'kantata:jan', source: 'kantata', receivedAt: '2030-01-20T15:00:00Z', items: [te('1', '2030-01-10', 600), te('2', '2030-01-17', 360)] });

      await skipTo(env, '2030-02-02T15:00:00Z');
      const issued = (await state()).invoices;
      expect(issued.map((i) => [i.issueDate, i.subtotalMinor, i.taxMinor, i.totalMinor, i.system, i.status])).toEqual([['2030-02-01', 240_000, 21_300, 261_300, 'stripe', 'POSTED']]);
      const inv = issued[0]!;

      // Stripe holds the invoice, finalized and open, with the same total; the ERP has none.
      const inStripe = await stripe.listInvoices(billingCustomer.id);
      expect(inStripe.map((i) => [i.id, i.status, i.total.amountMinor, i.amountDue.amountMinor, i.canonicalInvoiceId])).toEqual([[inv.externalId, 'open', 261_300, 261_300, inv.id]]);
      expect(await erp.listInvoices(erpCustomer.id)).toEqual([]);

      // Paid in Stripe; the invoice.paid event names Stripe's invoice id only.
      const paid = await stripe.markInvoicePaid(inv.externalId!, 'pay-STR-1');
      expect(paid.status).toBe('paid');
      await handle.signal(paymentSignal, { eventId: 'evt_str_1', source: 'stripe', kind: 'invoice.paid', occurredAt: '2030-02-10T15:00:00Z', amountMinor: 261_300, currency: 'USD', stripeInvoiceId: inv.externalId! });
      await skipTo(env, '2030-02-11T15:00:00Z');
      expect((await state()).invoices[0]).toMatchObject({ paidMinor: 261_300, status: 'PAID' });
      expect(ports.crmStatus.get(inv.number)).toMatchObject({ status: 'PAID' });
      await maybeRecordHistory(handle, 'billed-in-stripe', DELIVERY_HISTORIES_DIR);
      await handle.terminate('test over');
    });
  }, 180_000);
});
