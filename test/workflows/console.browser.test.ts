/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { FastifyInstance } from 'fastify';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { SAMPLE_LINES } from '../../src/cli/sample';
import { openDb, type DbHandle } from '../../src/db';
import { SANDBOX_DOCUSIGN_HMAC_KEYS } from '../../src/sandbox/credentials';
import { STRIPE_SANDBOX } from '../../src/sandbox/stripe/stripe.sandbox';
import { buildService } from '../../src/service/app';
import { parseOperatorKeys } from '../../src/service/auth';
import { createTemporalDealGateway } from '../../src/service/temporal-deal-gateway';
import { DEAL_WORKFLOW_TYPE, dealWorkflowId, demoBusinessMs, getDealStateQuery, getDeliveryStateQuery, type DealInput, type DealView, type DeliveryView } from '../../src/contract';
import { patchSalesforce, sandboxActivityDeps, seedClosedWonDeal, startDealWorkers } from '../support/deal';
import { testLogger } from '../support/logger';
import { startTestSandbox, type TestSandbox } from '../support/sandbox';
import { createDevServerEnv } from '../support/temporal';

/**
 * The operator console in a real headless Chromium, over the real stack: a Temporal dev
 * server, the deal workflow and its workers, the vendor sandboxes and the service. One deal,
 * closed-won with the sample's three lines (fee $120,000.00 in milestones 30/50/20 %), for an
 * account in CHF (not enabled in the ERP), with an approval threshold of $25,000.00:
 *   - a Kantata webhook for it arrives before the deal runs: kept as DEAL_NOT_FOUND;
 *   - the deal parks at syncCustomerMaster (ERP.CUSTOMER_INVALID); the operator fixes the account
 *     in Salesforce and presses Retry: the exception leaves the list;
 *   - signed, in delivery, M1 is accepted: 30 % x $120,000.00 = $36,000.00 is held for approval;
 *     the controller approves it: taxed 8.875 % ($3,195.00) and posted, $39,195.00;
 *   - the operator replays the early webhook: it reaches the deal.
 * Chromium: Debian's (CHROMIUM_PATH or /usr/bin/chromium); without one this file is skipped.
 * Q2C_SCREENSHOTS=1 writes docs/console-*.png.
 */
const chromium = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && existsSync(p));
const describeWithBrowser = chromium ? describe : describe.skip;
if (!chromium) console.warn('console.browser.test: skipped, no Chromium (apt-get install chromium, or set CHROMIUM_PATH)');
const SCREENSHOTS = process.env.Q2C_SCREENSHOTS === '1';
const DOCS = path.resolve(__dirname, '../../docs');

jest.setTimeout(300_000);

const KEYS = { ops: 'console-ops-key-0123456789abcdef', controller: 'console-controller-key-0123456789' };
const KANTATA_SECRET = 'console-kantata-secret-0123456789';
const TASK_QUEUE = 'console';

describeWithBrowser('the operator console (headless Chromium, real stack)', () => {
  let env: TestWorkflowEnvironment;
  let sandbox: TestSandbox;
  let db: DbHandle;
  let service: FastifyInstance;
  let workers: { stop(): Promise<void> };
  let browser: Browser;
  let page: Page;
  let baseUrl: string;
  let opportunityId: string;
  let accountId: string;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    env = await createDevServerEnv();
    sandbox = await startTestSandbox();
    db = await openDb({ dataDir: 'memory://' });
    workers = await startDealWorkers(env, TASK_QUEUE, sandboxActivityDeps(sandbox.url, db.db));
    service = await buildService({
      db: db.db,
      dealGateway: createTemporalDealGateway({ client: env.client.workflow, taskQueue: TASK_QUEUE }),
      logger: testLogger,
      secrets: {
        salesforceWebhookSecrets: ['console-salesforce-secret-0123456789'],
        kantataWebhookSecrets: [KANTATA_SECRET],
        docusignConnectKeys: [...SANDBOX_DOCUSIGN_HMAC_KEYS],
        stripeWebhookSecrets: [STRIPE_SANDBOX.webhookSecret],
        operatorApiKeys: parseOperatorKeys(`ops:read+operate:${KEYS.ops},controller:approve:${KEYS.controller}`),
      },
      kpiRefreshSeconds: 0,
    });
    baseUrl = await service.listen({ port: 0, host: '127.0.0.1' });
    sandbox.webhooks.setTarget('docusign', `${baseUrl}/webhooks/docusign/connect`);
    browser = await puppeteer.launch({ executablePath: chromium!, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    page = await browser.newPage();
    await page.setViewport({ width: 1360, height: 900 });
    page.on('console', (m) => {
      if (/Content[- ]Security[- ]Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
    });
    ({ opportunityId, accountId } = await seedClosedWonDeal(sandbox.url, { key: 'CONSOLE', lines: SAMPLE_LINES, account: { CurrencyIsoCode: 'CHF' } }));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await service?.close();
    await workers?.stop();
    await sandbox?.close();
    await db?.close();
    await env?.teardown();
  });

  const handle = () => env.client.workflow.getHandle(dealWorkflowId(opportunityId));
  const deal = () => handle().query(getDealStateQuery);
  async function until<T>(read: () => Promise<T>, ok: (t: T) => boolean, what: string, timeoutMs = 90_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read().catch(() => undefined);
      if (value !== undefined && ok(value)) return value;
      if (Date.now() > deadline) throw new Error(`never: ${what} (last: ${JSON.stringify(value)?.slice(0, 500)})`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const text = () => page.evaluate(() => document.body.innerText);
  const shot = async (name: string) => {
    if (!SCREENSHOTS) return;
    mkdirSync(DOCS, { recursive: true });
    await page.screenshot({ path: path.join(DOCS, `console-${name}.png`), fullPage: true });
  };
  async function signIn(key: string) {
    await page.goto(`${baseUrl}/console/deals`, { waitUntil: 'domcontentloaded' });
    if (page.url().includes('/console/sign-in')) {
      await page.type('input[name="key"]', key);
      await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click('button[type="submit"]')]);
    }
  }
  async function signOut() {
    await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click('header form[action="/console/sign-out"] button')]);
  }
  /** Reloads `url` until its text satisfies `ok`. */
  async function reloadUntil(url: string, ok: (body: string) => boolean, what: string) {
    return until(async () => (await page.goto(url, { waitUntil: 'domcontentloaded' }), text()), ok, what);
  }
  const postKantata = async (kind: string, payload: unknown) => {
    const body = JSON.stringify(payload);
    const ts = Math.floor(Date.now() / 1000);
    const signature = createHmac('sha256', KANTATA_SECRET).update(`${ts}.${body}`).digest('hex');
    return fetch(`${baseUrl}/webhooks/kantata/${kind}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-q2c-timestamp': String(ts), 'x-q2c-signature': signature }, body });
  };

  it('signs in, retries a parked exception (it leaves the list), approves a held invoice (it is posted), replays a rejected webhook', async () => {
    // A webhook for the deal before it runs: verified, then kept as DEAL_NOT_FOUND.
    const early = await postKantata('time-entry-approved', { eventId: 'kt-early-1', occurredAt: new Date().toISOString(), workspaceId: 'WS-UNKNOWN', opportunityId, items: [{ id: 'te-early-1', user_id: 'u1', date_performed: '2026-01-16', time_in_minutes: 60, billable: true, approved: true }] });
    expect(early.status).toBe(422);

    await env.client.workflow.start(DEAL_WORKFLOW_TYPE, {
      workflowId: dealWorkflowId(opportunityId),
      taskQueue: TASK_QUEUE,
      args: [{ opportunityId, correlationId: 'console-browser', delivery: { demo: { dayMs: 1000 }, approvalAboveMinor: 2_500_000 } } satisfies DealInput],
    });
    await until(deal, (v) => v.stage === 'NEEDS_ATTENTION', 'the deal parks');

    // 1. Sign in (operate) and see the exception, grouped by code and system.
    await signIn(KEYS.ops);
    expect(await text()).toContain('ops');
    await page.goto(`${baseUrl}/console/exceptions`, { waitUntil: 'domcontentloaded' });
    const row = `tr.item[data-deal="${opportunityId}"]`;
    expect(await page.$(row)).not.toBeNull();
    expect(await page.$eval('#groups', (t) => (t as HTMLElement).innerText)).toMatch(/ERP\.CUSTOMER_INVALID\s+erp\s+1\s+1\s+1/);
    await shot('exceptions');

    // 2. The account is fixed in Salesforce; Retry: the exception leaves the list.
    await patchSalesforce(sandbox.url, 'Account', accountId, { CurrencyIsoCode: 'USD' });
    await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click(`${row} form input[name="action"][value="retry"] ~ button`)]);
    expect(await text()).toContain('retry applied to exception 1');
    await reloadUntil(`${baseUrl}/console/exceptions`, (body) => body.includes('Nothing is parked.'), 'the exception leaves the list');
    const out = await until(deal, (v) => v.stage === 'CONTRACT_OUT_FOR_SIGNATURE', 'out for signature');
    expect(out.timeline.some((t) => t.note === 'operator: retry by ops')).toBe(true);

    // Signed in the DocuSign sandbox (its Connect webhook reaches the deal), then M1 accepted in Kantata.
    expect((await fetch(`${sandbox.url}/docusign/_sandbox/envelopes/${out.ids.envelopeId}/complete`, { method: 'POST' })).status).toBeLessThan(300);
    const inDelivery = await until(deal, (v) => v.stage === 'IN_DELIVERY', 'in delivery');
    const clock = (await until(() => handle().query(getDeliveryStateQuery), (d) => d.demo !== undefined, 'the demo clock')).demo!;
    const m1 = `CTR-${opportunityId}-L1-M1`;
    for (const kind of ['milestone-completed', 'milestone-accepted']) {
      const at = new Date(demoBusinessMs(clock, Date.now())).toISOString();
      const res = await postKantata(kind, { eventId: `kt-${kind}`, occurredAt: new Date().toISOString(), workspaceId: inDelivery.ids.projectId, items: [{ id: m1, title: 'M1', story_type: 'milestone', at }] });
      expect(res.status).toBe(202);
    }
    const held = await until(() => handle().query(getDeliveryStateQuery), (d: DeliveryView) => d.invoices.some((i) => i.status === 'AWAITING_APPROVAL'), 'M1 held for approval');
    const m1Invoice = held.invoices.find((i) => i.status === 'AWAITING_APPROVAL')!;
    expect(m1Invoice.subtotalMinor).toBe(3_600_000); // 30 % x $120,000.00

    // 3. The operator cannot release billing; the controller can.
    await page.goto(`${baseUrl}/console/billing`, { waitUntil: 'domcontentloaded' });
    expect(await text()).toContain('needs the approve scope');
    await signOut();
    await signIn(KEYS.controller);
    await page.goto(`${baseUrl}/console/billing`, { waitUntil: 'domcontentloaded' });
    const heldRow = `#held tr[data-invoice="${m1Invoice.number}"]`;
    expect(await page.$eval(heldRow, (r) => (r as HTMLElement).innerText)).toContain('USD 36,000.00');
    expect(await page.$eval('#held-total', (e) => (e as HTMLElement).innerText)).toBe('USD 36,000.00');
    await shot('billing');
    await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click(`${heldRow} form input[name="decision"][value="approve"] ~ button`)]);
    expect(await text()).toContain(`Invoice ${m1Invoice.number} approved`);
    const posted = await until(() => handle().query(getDeliveryStateQuery), (d: DeliveryView) => d.invoices.some((i) => i.id === m1Invoice.id && i.status === 'POSTED'), 'M1 posted');
    // $36,000.00 + 8.875 % tax $3,195.00 = $39,195.00
    expect(posted.invoices.find((i) => i.id === m1Invoice.id)!.totalMinor).toBe(3_919_500);

    // 4. The deal at its stage with its amounts, on the list and on its page.
    const dealRow = `#deals tr[data-deal="${opportunityId}"]`;
    const listed = await reloadUntil(`${baseUrl}/console/deals`, (body) => body.includes('USD 39,195.00'), 'the deal list shows the posted invoice');
    expect(listed).toContain('IN DELIVERY');
    expect(await page.$eval(dealRow, (r) => (r as HTMLElement).innerText)).toMatch(/IN DELIVERY[\s\S]*USD 39,195\.00[\s\S]*USD 0\.00[\s\S]*USD 39,195\.00/);
    await page.goto(`${baseUrl}/console/deals/${opportunityId}`, { waitUntil: 'domcontentloaded' });
    expect(await page.$eval(`#invoices tr[data-invoice="${m1Invoice.number}"]`, (r) => (r as HTMLElement).innerText)).toMatch(/POSTED[\s\S]*USD 39,195\.00/);
    expect(await page.$eval('#actions', (t) => (t as HTMLElement).innerText)).toMatch(/ops\s+console\s+resolve[\s\S]*controller\s+console\s+decide/);
    await shot('deal-actions');

    // 5. The early webhook, replayed from the inbox: it reaches the deal now, once.
    await signOut();
    await signIn(KEYS.ops);
    await page.goto(`${baseUrl}/console/inbox`, { waitUntil: 'domcontentloaded' });
    const inboxRow = (await page.$$eval('#inbox tr[data-inbox]', (rows) => rows.map((r) => ({ id: r.getAttribute('data-inbox'), text: (r as HTMLElement).innerText })))).find((r) => r.text.includes('kt-early-1'))!;
    expect(inboxRow.text).toContain('DEAL_NOT_FOUND');
    await shot('inbox');
    await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click(`#inbox tr[data-inbox="${inboxRow.id}"] button`)]);
    expect(await text()).toContain(`Delivery ${inboxRow.id} replayed to ${dealWorkflowId(opportunityId)}.`);
    expect(await page.$(`#inbox tr[data-inbox="${inboxRow.id}"]`)).toBeNull();

    // 6. KPIs: Chart.js from the service's own origin draws every chart (no inline script).
    await page.goto(`${baseUrl}/console/kpis`, { waitUntil: 'networkidle0' });
    await page.waitForFunction(() => [...document.querySelectorAll('canvas[data-kpi]')].every((c) => c.getAttribute('data-drawn') === 'true'), { timeout: 10_000 });
    // The stylesheet applied and nothing was refused under the pages' strict CSP (no inline script or style).
    expect(await page.$eval('header', (e) => getComputedStyle(e).backgroundColor)).toBe('rgb(36, 41, 47)');
    expect(cspViolations).toEqual([]);
    const view: DealView = await deal();
    expect(view.stage === 'IN_DELIVERY' || view.stage === 'NEEDS_ATTENTION').toBe(true);
  });
});
