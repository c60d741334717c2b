import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { runSample, SAMPLE_CLOSE_DATE, type SampleResult } from '../../src/cli/sample';
import { reconcileDeal } from '../../src/cli/audit';
import { sandboxConnectorsConfig } from '../../src/cli/dev-secrets';
import { createConnectors } from '../../src/connectors';
import { openDb, type DbHandle } from '../../src/db';
import { AuditRepository } from '../../src/db/audit';
import { SANDBOX_DOCUSIGN_HMAC_KEYS } from '../../src/sandbox/credentials';
import { STRIPE_SANDBOX } from '../../src/sandbox/stripe/stripe.sandbox';
import { buildService } from '../../src/service/app';
import { parseOperatorKeys } from '../../src/service/auth';
import { createTemporalDealGateway } from '../../src/service/temporal-deal-gateway';
import { kpiSinks } from '../../src/worker';
import { demoBusinessDate, demoBusinessMs, demoRealMs, type DemoClock } from '../../src/contract';
import { sandboxActivityDeps, startDealWorkers } from '../support/deal';
import { testLogger } from '../support/logger';
import { startTestSandbox, type TestSandbox } from '../support/sandbox';
import { createDevServerEnv, workflowBundle } from '../support/temporal';

/** Real milliseconds per business day in this test: the 12-month contract runs in about 40 seconds. */
const DAY_MS = 100;

describe('demo clock arithmetic', () => {
  const clock: DemoClock = { dayMs: 250, realStart: '2030-06-01T12:00:00.000Z', businessStart: '2026-01-15T05:00:00.000Z', timeZone: 'America/New_York' };
  const real = Date.parse(clock.realStart);

  it('maps real time onto the business calendar: one day every dayMs, from local midnight of the contract start', () => {
    expect(demoBusinessDate(clock, real)).toBe('2026-01-15');
    expect(demoBusinessDate(clock, real + 249)).toBe('2026-01-15');
    expect(demoBusinessDate(clock, real + 250)).toBe('2026-01-16');
    // 365 days x 250 ms = 91.25 s after the start it is 2027-01-15 in New York.
    expect(demoBusinessDate(clock, real + 365 * 250)).toBe('2027-01-15');
    // 1 ms of real time = 86,400,000 / 250 = 345,600 ms of business time.
    expect(demoBusinessMs(clock, real + 1) - demoBusinessMs(clock, real)).toBe(345_600);
  });

  it('finds the real instant a business instant is reached', () => {
    const target = Date.parse('2026-02-01T05:00:00.000Z'); // Feb 1 midnight in New York, 17 days in
    expect(demoRealMs(clock, target) - real).toBe(17 * 250);
    expect(demoBusinessMs(clock, demoRealMs(clock, target + 1))).toBeGreaterThanOrEqual(target + 1);
  });
});

/*
 * `npm start`'s sample deal, run by the same code (runSample) on a real Temporal dev
 * server, with the vendor sandboxes, the webhook service and the workers, in demo mode
 * at one business day every 100 ms. Everything enters through the real intake paths:
 * signed Salesforce, DocuSign, Kantata and Stripe webhooks to the service.
 *
 * Contract (LE-US, America/New_York; customer in New York, NY: SERVICES taxed 8.875 % by
 * the AvaTax sandbox, EXPENSE_REBILL not taxed), 2026-01-15 to 2027-01-14 (12 months):
 *   L1 TRANSFORMATION fixed fee $120,000.00: M1 30 %, M2 50 %, M3 20 %, invoiced on acceptance
 *   L2 ADVISORY_TM 200 h x $150.00, not-to-exceed $30,000.00, monthly in arrears
 *   L3 EXPENSES at cost, monthly in arrears
 * Delivery: Jan 16 h + 2 h non-billable, travel $640.00, entertainment $180.00; Feb 32 h;
 * Mar 40 h, travel $480.00; M1 accepted Jan 27, M2 Mar 19, M3 Apr 15. Every invoice paid
 * (January's in two parts). The business clock keeps running while the workflow works, so
 * an invoice may be dated a day or two after its period boundary; amounts do not depend on it.
 */
describe('the sample deal in demo mode on the dev server', () => {
  let env: TestWorkflowEnvironment;
  let sandbox: TestSandbox;
  let db: DbHandle;
  let service: FastifyInstance;
  let workers: { stop(): Promise<void> };
  let result: SampleResult;
  const lines: string[] = [];

  beforeAll(async () => {
    env = await createDevServerEnv();
    sandbox = await startTestSandbox();
    db = await openDb({ dataDir: 'memory://' });
    workers = await startDealWorkers(env, 'demo', sandboxActivityDeps(sandbox.url, db.db));
    const secrets = { salesforce: 'demo-salesforce-secret', kantata: 'demo-kantata-secret' };
    service = await buildService({
      db: db.db,
      dealGateway: createTemporalDealGateway({ client: env.client.workflow, taskQueue: 'demo' }),
      logger: testLogger,
      secrets: {
        salesforceWebhookSecrets: [secrets.salesforce],
        kantataWebhookSecrets: [secrets.kantata],
        docusignConnectKeys: [...SANDBOX_DOCUSIGN_HMAC_KEYS],
        stripeWebhookSecrets: [STRIPE_SANDBOX.webhookSecret],
        operatorApiKeys: parseOperatorKeys('demo:read+operate:demo-operator-key'),
      },
    });
    const serviceUrl = await service.listen({ port: 0, host: '127.0.0.1' });
    sandbox.webhooks.setTarget('docusign', `${serviceUrl}/webhooks/docusign/connect`);
    sandbox.webhooks.setTarget('stripe', `${serviceUrl}/webhooks/stripe`);
    result = await runSample({ client: env.client, taskQueue: 'demo', sandboxUrl: sandbox.url, serviceUrl, secrets }, (line) => lines.push(line), { dayMs: DAY_MS, key: 'DEMO' });
  }, 240_000);

  afterAll(async () => {
    if (process.env.DEMO_TEST_LOG) console.log(lines.join('\n'));
    await service?.close();
    await workers?.stop();
    await sandbox?.close();
    await db?.close();
    await env?.teardown();
  });

  it('goes stage by stage from closed-won to CLOSED, on the accelerated calendar', () => {
    expect(result.view.stage).toBe('CLOSED');
    expect(result.view.timeline.map((t) => t.stage)).toEqual([
      'QUOTE_ACCEPTED',
      'CUSTOMER_VALIDATED',
      'CONTRACT_OUT_FOR_SIGNATURE',
      'CONTRACT_SIGNED',
      'PROJECT_PROVISIONED',
      'ERP_CONTRACT_POSTED',
      'BILLING_SCHEDULED',
      'IN_DELIVERY',
      'CLOSED',
    ]);
    expect(result.delivery?.demo).toMatchObject({ dayMs: DAY_MS, businessStart: '2026-01-15T05:00:00.000Z', timeZone: 'America/New_York' });
    expect(SAMPLE_CLOSE_DATE).toBe('2026-01-15');
    // 365 business days at 100 ms: well under a minute of real time for delivery to close.
    expect(result.elapsedMs).toBeLessThan(365 * DAY_MS + 30_000);
  });

  it('bills, collects and closes to the cent', () => {
    const d = result.delivery!;
    const s = d.summary!;
    // Issue order: M1 (Jan 27), January (Feb 1), February (Mar 1), M2 (Mar 19), March (Apr 1), M3 (Apr 15).
    expect(d.invoices.map((i) => [i.subtotalMinor, i.taxMinor, i.totalMinor, i.paidMinor, i.status])).toEqual([
      // M1: 30 % x $120,000.00 = $36,000.00; tax 8.875 % = $3,195.00
      [3_600_000, 319_500, 3_919_500, 3_919_500, 'PAID'],
      // January: 16 h x $150.00 = $2,400.00 (tax $213.00) + travel $640.00 (not taxed)
      [304_000, 21_300, 325_300, 325_300, 'PAID'],
      // February: 32 h x $150.00 = $4,800.00; tax $426.00
      [480_000, 42_600, 522_600, 522_600, 'PAID'],
      // M2: 50 % = $60,000.00; tax $5,325.00
      [6_000_000, 532_500, 6_532_500, 6_532_500, 'PAID'],
      // March: 40 h x $150.00 = $6,000.00 (tax $532.50) + travel $480.00
      [648_000, 53_250, 701_250, 701_250, 'PAID'],
      // M3: 20 % = $24,000.00; tax $2,130.00
      [2_400_000, 213_000, 2_613_000, 2_613_000, 'PAID'],
    ]);
    expect(d.invoices.map((i) => i.issueDate.slice(0, 7))).toEqual(['2026-01', '2026-02', '2026-03', '2026-03', '2026-04', '2026-04']);
    // Billable $134,320.00 = $120,000.00 + 88 h x $150.00 ($13,200.00) + $1,120.00 travel;
    // excluded $480.00 = 2 h non-billable x $150.00 ($300.00) + entertainment $180.00.
    expect(s.totals).toEqual({ BILLABLE: 13_432_000, DEFERRED: 0, CAPPED: 0, EXCLUDED: 48_000, delivered: 13_480_000 });
    expect(d.excluded.map((x) => [x.reasonCode, x.amountMinor])).toEqual([
      ['EXCLUDED.NON_BILLABLE_TASK', 30_000],
      ['EXCLUDED.EXPENSE_CATEGORY', 18_000],
    ]);
    // Invoiced = subtotals $134,320.00 + tax $11,821.50 = $146,141.50, all collected.
    expect(s.invoicedMinor).toBe(14_614_150);
    expect(s.taxMinor).toBe(1_182_150);
    expect(s.collectedMinor).toBe(14_614_150);
    expect(s.refundedMinor).toBe(0);
    expect(s.leakage).toEqual({ cappedMinor: 0, excludedMinor: 48_000, rejectedMinor: 0, writtenOffMinor: 0, totalMinor: 0 });
    // Revenue: milestones at acceptance, time and expenses as invoiced (Jan's on Feb 1 ...).
    expect(d.recognisedByMonth).toEqual({
      '2026-01': 3_600_000, // M1
      '2026-02': 304_000, // January's invoice
      '2026-03': 6_480_000, // February's invoice $4,800.00 + M2 $60,000.00
      '2026-04': 3_048_000, // March's invoice $6,480.00 + M3 $24,000.00
    });
    expect(s.recognisedMinor).toBe(13_432_000);
    expect(s.intercompanyMinor).toBe(0);
    // The contract ends 2027-01-14: the deal closes the next business day.
    expect(s.closedOn).toBe('2027-01-15');
    expect(result.invoiceNumbers).toHaveLength(6);
  });

  it('leaves an audit trail and reconciles with NetSuite', async () => {
    const repo = new AuditRepository(db.db);
    const january = result.delivery!.invoices[1]!;
    const trail = await repo.trail(january.number);
    const items = trail.lines.flatMap((l) => l.items);
    expect(items.map((i) => [i.sourceKind, i.amountMinor]).sort()).toEqual([
      ['EXPENSE', 64_000],
      ['TIME', 120_000],
      ['TIME', 120_000],
    ]);
    expect(items.every((i) => i.quoteLineId && i.contractLineId && i.billingEventId)).toBe(true);
    // Paid $1,000.00, then the rest $2,253.00, by card in the Stripe sandbox.
    expect(trail.payments.map((p) => [p.sourceKind, p.amountMinor])).toEqual([
      ['payment_intent.succeeded', 100_000],
      ['payment_intent.succeeded', 225_300],
    ]);
    const erp = createConnectors({ ...sandboxConnectorsConfig(sandbox.url), logger: testLogger }).erp;
    const invoices = result.delivery!.invoices.map((i) => ({ number: i.number, totalMinor: i.totalMinor, paidMinor: i.paidMinor, status: i.status, erpCustomerId: result.view.ids.erpCustomerId! }));
    const diffs = await reconcileDeal(result.workflowId, { db: async () => ({ db: db.db, close: async () => {} }), erp: () => erp, dealInvoices: async () => invoices }, repo);
    expect(diffs).toEqual([]);
    const posted = await erp.listInvoices(result.view.ids.erpCustomerId!);
    expect(posted.map((i) => [i.tranId, i.total.amountMinor]).sort()).toEqual(invoices.map((i) => [i.number, i.totalMinor]).sort());
  });

  it("replays its own history (the demo clock is deterministic)", async () => {
    const history = await env.client.workflow.getHandle(result.workflowId).fetchHistory();
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle(), sinks: kpiSinks() }, history, result.workflowId);
  });
});
