import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { z } from 'zod';
import { createStripeAdapter } from '../../src/connectors/billing/stripe.adapter';
import { createSalesforceHttp, SalesforceCrmAdapter } from '../../src/connectors/crm/salesforce.adapter';
import { ClientCredentialsAuth, staticSecret, type HttpClient } from '../../src/connectors/http';
import { deliveryBatchSignal, getDeliveryStateQuery, paymentSignal, promiseToPayUpdate } from '../../src/contract';
import { openDb, type DbHandle } from '../../src/db';
import { AVALARA_VENDOR } from '../../src/sandbox/avalara/avalara.sandbox';
import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET } from '../../src/sandbox/credentials';
import { NETSUITE_VENDOR } from '../../src/sandbox/netsuite/netsuite.sandbox';
import { salesforceVendor } from '../../src/sandbox/salesforce/salesforce.sandbox';
import { STRIPE_SANDBOX, STRIPE_VENDOR } from '../../src/sandbox/stripe/stripe.sandbox';
import type { DealGateway } from '../../src/service/deal-gateway';
import { stripeSource } from '../../src/service/webhooks/stripe';
import { DELIVERY_HISTORIES_DIR, maybeRecordHistory } from '../support/histories';
import { startTestSandbox, type TestSandbox } from '../support/sandbox';
import { createTimeSkippingEnv } from '../support/temporal';
import { engagementTestWorkflow } from './engagement.workflows';
import { avalara, catalog, customer, engagementWorkers, netsuite, recordingPorts, skipTo, snapshotFor, usd } from './engagement.support';

/*
 * Dunning on the time-skipping server, through the Salesforce and Stripe sandboxes. 2030, LE-US (New York):
 *   L1 ADVISORY_TM, RC-STD $150.00/h, cap 200 h; invoiced in Stripe, net 30.
 *   January 100 h x $150.00 = $15,000.00 + AvaTax US-NY 8.875 % $1,331.25 = $16,331.25, issued Feb 1, due 03-03.
 * Policy: reminders at 7, 14 and 30 days past due, the payment retried at 14 and at 30; a promise
 * pauses through its date + 3 days.
 *   03-10 (7 days): task 1 in Salesforce, USD 16,331.25 open.
 *   03-15: promise to pay by 03-20 -> paused through 03-23: on 03-17 (14 days) nothing is sent or charged.
 *   03-24 (21 days): the promise is broken (PROMISE_BROKEN); step 14's retry on the customer's card on file is
 *          declined; task 2 names the broken promise and the decline.
 *   03-25: the customer puts a working card on file.
 *   04-02 (30 days): the retry collects $16,331.25; no task; Stripe's signed invoice.paid webhook reaches the
 *          deal through the service's own Stripe parsing: PAID once, 1,633,125, the items resolved.
 */
describe('dunning through Salesforce and Stripe', () => {
  let env: TestWorkflowEnvironment;
  let sb: TestSandbox;
  let db: DbHandle;
  let relay: Server;
  /** Where the relay hands Stripe's events: the running deal. */
  let deliver: (ev: Parameters<DealGateway['signalPayment']>[1]) => Promise<void> = async () => {};
  const relayed: string[] = [];

  beforeAll(async () => {
    env = await createTimeSkippingEnv();
    // Stripe's webhooks go to a relay that verifies and parses them as the service does, then signals the deal.
    const source = stripeSource([STRIPE_SANDBOX.webhookSecret]);
    relay = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const rawBody = Buffer.concat(chunks);
          const incoming = { rawBody, headers: req.headers as Record<string, string>, params: {} };
          if (!source.verify(incoming, Date.now()).ok) return res.writeHead(401).end();
          const json = JSON.parse(rawBody.toString('utf8')) as { type?: string };
          if (json.type !== 'invoice.paid') return res.writeHead(200).end(); // only what the deal is sent in this test
          const parsed = source.parse(json, incoming);
          relayed.push(parsed.eventType);
          await parsed.dispatch({ signalPayment: async (_opp: string, ev: Parameters<DealGateway['signalPayment']>[1]) => (await deliver(ev), { workflowId: 'deal' }) } as unknown as DealGateway, { opportunityId: '', correlationId: 'relay', receivedAt: new Date() });
          res.writeHead(200).end();
        })().catch(() => res.writeHead(500).end());
      });
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    sb = await startTestSandbox({ vendors: [NETSUITE_VENDOR, AVALARA_VENDOR, STRIPE_VENDOR, salesforceVendor], webhookTargets: { stripe: `http://127.0.0.1:${(relay.address() as AddressInfo).port}/webhooks/stripe` } });
    db = await openDb({ dataDir: 'memory://' });
  }, 120_000);
  afterAll(async () => {
    await env?.teardown();
    await sb?.close();
    await db?.close();
    await new Promise((r) => relay?.close(r));
  });

  it('reminds through CRM tasks, pauses for a promise, retries the card and takes the money once', async () => {
    const instanceUrl = `${sb.url}/salesforce`;
    const auth = new ClientCredentialsAuth({ tokenUrl: `${instanceUrl}/services/oauth2/token`, clientId: SANDBOX_CLIENT_ID, clientSecret: staticSecret(SANDBOX_CLIENT_SECRET) });
    const sfHttp: HttpClient = createSalesforceHttp({ instanceUrl, auth, timeoutMs: 15_000 });
    const crm = new SalesforceCrmAdapter(sfHttp, { apiVersion: '60.0' });
    const V = '/services/data/v60.0';
    const accountId = (await sfHttp.request<{ id: string }>({ method: 'POST', path: `${V}/sobjects/Account`, json: { Name: 'Acme Corp' } })).body.id;
    const OPP = (await sfHttp.request<{ id: string }>({ method: 'POST', path: `${V}/sobjects/Opportunity`, json: { Name: 'Acme advisory', AccountId: accountId, StageName: 'Closed Won', CloseDate: '2029-12-15', Amount: 30000, CurrencyIsoCode: 'USD' } })).body.id;
    const tasks = async () =>
      crm.query(`SELECT Id, Subject, AccountId, WhatId, Priority, Q2C_Amount_Open__c, Q2C_Days_Past_Due__c, Q2C_Dunning_Step__c, Description FROM Task WHERE WhatId = '${OPP}' ORDER BY CreatedDate ASC`, z.looseObject({ Id: z.string() }));

    const erp = netsuite(sb.url);
    const stripe = createStripeAdapter({ apiKey: staticSecret(STRIPE_SANDBOX.apiKey), webhookSecret: STRIPE_SANDBOX.webhookSecret, baseUrl: `${sb.url}/stripe`, timeoutMs: 15_000 });
    const stripeForm = (path: string, form: Record<string, string>) =>
      fetch(`${sb.url}/stripe${path}`, { method: 'POST', headers: { authorization: `Bearer ${STRIPE_SANDBOX.apiKey}`, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
    const ports = recordingPorts();
    const usEntity = catalog.legalEntities.find((e) => e.id === 'LE-US')!;
    const erpCustomer = await erp.upsertCustomer({ customer, legalEntity: usEntity, idempotencyKey: 'CUS-DUN' });
    const billingCustomer = await stripe.createCustomer(customer, 'CUS-DUN');
    // The card on file is one that will be declined.
    expect((await stripeForm(`/v1/customers/${billingCustomer.id}`, { 'invoice_settings[default_payment_method]': STRIPE_SANDBOX.paymentMethodDeclined })).status).toBe(200);
    const snapshot = snapshotFor(
      OPP,
      [{ id: 'QL-1', servicePackage: 'ADVISORY_TM', description: 'Advisory', quantity: 200, unit: 'HOUR', listPrice: usd(15_000), netPrice: usd(15_000), discountBp: 0, approvalStatus: 'APPROVED', externalIds: {} }],
      '2030-01-01',
    );
    const workers = await engagementWorkers({ env, taskQueue: 'dunning', db: db.db, connectors: { erp, tax: avalara(sb.url), crm, psa: ports.psa, billing: stripe } });

    await workers.run(async () => {
      await skipTo(env, '2030-01-02T14:00:00Z');
      const handle: WorkflowHandle<typeof engagementTestWorkflow> = await env.client.workflow.start(engagementTestWorkflow, {
        taskQueue: 'dunning',
        workflowId: `deal-${OPP}`,
        args: [
          {
            opportunityId: OPP,
            snapshot,
            view: { opportunityId: OPP, stage: 'IN_DELIVERY', ids: { erpCustomerId: erpCustomer.id, projectId: 'WS-DUN' }, exceptions: [], timeline: [] },
            options: { invoiceSystem: 'stripe', billingCustomerId: billingCustomer.id, overdueGraceDays: 60, dunning: { steps: [{ daysPastDue: 7 }, { daysPastDue: 14, retryPayment: true }, { daysPastDue: 30, retryPayment: true }] } },
          },
        ],
      });
      deliver = async (ev) => handle.signal(paymentSignal, ev);
      const state = () => handle.query(getDeliveryStateQuery);
      const invoice = async () => (await state()).invoices[0]!;

      await skipTo(env, '2030-01-20T15:00:00Z');
      const te = (n: number) => ({
        kind: 'timeEntry' as const, sourceId: `${n}`, projectId: 'WS-DUN', taskId: `CTR-${OPP}-L1-T1`, resourceId: 'r-us', role: 'consultant', workDate: `2030-01-${String(n + 5).padStart(2, '0')}`, minutes: 600, billable: true, approvedAt: '2030-01-20T15:00:00Z',
      });
      await handle.signal(deliveryBatchSignal, { batchId: 'kantata:jan', source: 'kantata', receivedAt: '2030-01-20T15:00:00Z', items: Array.from({ length: 10 }, (_, i) => te(i + 1)) });

      await skipTo(env, '2030-02-02T15:00:00Z');
      const inv = await invoice();
      expect([inv.subtotalMinor, inv.taxMinor, inv.totalMinor, inv.dueDate, inv.system]).toEqual([1_500_000, 133_125, 1_633_125, '2030-03-03', 'stripe']);

      // 7 days past due: one task, on the opportunity (and so on its account).
      await skipTo(env, '2030-03-09T15:00:00Z');
      expect(await tasks()).toEqual([]);
      await skipTo(env, '2030-03-10T15:00:00Z');
      let t = await tasks();
      expect(t.map((x) => [x.Subject, x.AccountId, x.Priority, x.Q2C_Amount_Open__c, x.Q2C_Days_Past_Due__c, x.Q2C_Dunning_Step__c])).toEqual([
        [`Payment reminder: invoice ${inv.number}, USD 16,331.25 open, 7 days past due`, accountId, 'Normal', 16331.25, 7, 7],
      ]);

      // The promise (operator update): through 03-20 + 3 days, the 14-day step neither reminds nor charges.
      await skipTo(env, '2030-03-15T15:00:00Z');
      const promised = await handle.executeUpdate(promiseToPayUpdate, { args: [{ requestId: 'ptp-1', invoiceId: inv.id, by: 'ar@firm.example', promisedOn: '2030-03-20', note: 'CFO confirmed the wire for the 20th' }] });
      expect(promised.promise).toMatchObject({ madeOn: '2030-03-15', pausedThrough: '2030-03-23' });
      expect(promised.invoice.dunning!.stage).toBe('PROMISED');
      await skipTo(env, '2030-03-23T15:00:00Z');
      expect(await tasks()).toHaveLength(1);
      expect((await stripe.getInvoice(inv.externalId!)).status).toBe('open');
      expect((await state()).attention).toEqual([]);

      // Broken on 03-24: PROMISE_BROKEN; the 14-day retry on the declined card; task 2 says both.
      await skipTo(env, '2030-03-24T15:00:00Z');
      t = await tasks();
      expect(t.map((x) => [x.Q2C_Dunning_Step__c, x.Q2C_Days_Past_Due__c, x.Q2C_Amount_Open__c])).toEqual([[7, 7, 16331.25], [14, 21, 16331.25]]);
      expect(String(t[1]!.Description)).toBe(
        [`Invoice ${inv.number} was due on 2030-03-03: USD 16,331.25 of USD 16,331.25 is open, 21 days past due.`, 'ar@firm.example promised payment by 2030-03-20; it has not arrived.', 'The payment retry on file was declined: stripe invoices.pay: Your card was declined.'].join('\n'),
      );
      let s = await state();
      expect(s.attention.map((a) => [a.kind, a.invoiceId])).toEqual([['PROMISE_BROKEN', inv.id]]);
      expect(s.invoices[0]!.dunning).toMatchObject({ stage: 'PROMISE_BROKEN', retries: [{ step: 14, on: '2030-03-24', outcome: 'DECLINED' }], next: { step: 30, on: '2030-04-02', retryPayment: true } });

      // A working card on file; on 04-02 the retry collects; the deal learns of it from Stripe's invoice.paid only.
      await skipTo(env, '2030-03-25T15:00:00Z');
      expect((await stripeForm(`/v1/customers/${billingCustomer.id}`, { 'invoice_settings[default_payment_method]': STRIPE_SANDBOX.paymentMethodOk })).status).toBe(200);
      await skipTo(env, '2030-04-02T15:00:00Z');
      await sb.webhooks.idle();
      await skipTo(env, '2030-04-03T15:00:00Z');
      expect(relayed).toEqual(['invoice.paid']);
      const inStripe = await stripe.getInvoice(inv.externalId!);
      expect([inStripe.status, inStripe.amountPaid.amountMinor]).toEqual(['paid', 1_633_125]);
      s = await state();
      expect(s.invoices[0]).toMatchObject({ paidMinor: 1_633_125, status: 'PAID' }); // once: not the retry's answer and the event
      expect(s.invoices[0]!.dunning).toMatchObject({ stage: 'SETTLED', retries: [{ step: 14, outcome: 'DECLINED' }, { step: 30, on: '2030-04-02', outcome: 'PAID' }] });
      expect(s.attention).toEqual([]);
      expect(await tasks()).toHaveLength(2);
      expect(s.unappliedMinor).toBe(0);

      // Nothing more: a month on, still two tasks.
      await skipTo(env, '2030-05-05T15:00:00Z');
      expect(await tasks()).toHaveLength(2);
      await maybeRecordHistory(handle, 'dunned-promise-retry', DELIVERY_HISTORIES_DIR);
      await handle.terminate('test over');
    });
  }, 240_000);
});
