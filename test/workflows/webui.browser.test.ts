/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { existsSync } from 'node:fs';
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { createActivities } from '../../src/activities';
import { EncryptionCodec } from '../../src/codec/encryption.codec';
import { openDb, type DbHandle } from '../../src/db';
import { buildService } from '../../src/service/app';
import { createTemporalDealGateway } from '../../src/service/temporal-deal-gateway';
import { contractSignatureSignal, dealWorkflowId, getDealStateQuery, type DealView } from '../../src/contract';
import { ERP_TASK_QUEUE } from '../../src/contract';
import { sandboxActivityDeps, seedClosedWonDeal } from '../support/deal';
import { testLogger } from '../support/logger';
import { startTestSandbox, type TestSandbox } from '../support/sandbox';
import { createDevServerEnv, freePort, workflowBundle } from '../support/temporal';

/**
 * The Temporal Web UI, in a real headless Chromium, shows a deal in flight: found by its
 * DealStage search attribute, with its encrypted input decoded through the q2c service's
 * codec endpoint. Chromium comes from Debian's `chromium` package (.ci/run installs it);
 * without one (CHROMIUM_PATH or /usr/bin/chromium) this file is skipped, saying so.
 */
const chromium = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && existsSync(p));
const describeWithBrowser = chromium ? describe : describe.skip;
if (!chromium) console.warn('webui.browser.test: skipped, no Chromium (apt-get install chromium, or set CHROMIUM_PATH)');

jest.setTimeout(180_000);

describeWithBrowser('the deal in the Temporal Web UI (headless Chromium)', () => {
  let env: TestWorkflowEnvironment;
  let sandbox: TestSandbox;
  let db: DbHandle;
  let service: FastifyInstance;
  let browser: Browser;
  let uiUrl: string;
  const codec = new EncryptionCodec([{ id: 'ui', key: Buffer.alloc(32, 9) }]);

  beforeAll(async () => {
    const uiPort = await freePort();
    uiUrl = `http://127.0.0.1:${uiPort}`;
    const servicePort = await freePort();
    env = await createDevServerEnv({ uiPort, uiCodecEndpoint: `http://127.0.0.1:${servicePort}/codec` });
    sandbox = await startTestSandbox();
    db = await openDb({ dataDir: 'memory://' });
    const client = new Client({ connection: env.connection, dataConverter: { payloadCodecs: [codec] } });
    service = await buildService({
      db: db.db,
      dealGateway: createTemporalDealGateway({ client: client.workflow, taskQueue: 'ui' }),
      logger: testLogger,
      secrets: { salesforceWebhookSecrets: [], kantataWebhookSecrets: [], docusignConnectKeys: [], stripeWebhookSecrets: [], operatorApiKeys: [] },
      codec,
      codecCorsOrigins: [uiUrl],
      openOnLoopback: true,
      kpiRefreshSeconds: 0,
    });
    await service.listen({ port: servicePort, host: '127.0.0.1' });
    browser = await puppeteer.launch({ executablePath: chromium!, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  });

  afterAll(async () => {
    await browser?.close();
    await service?.close();
    await sandbox?.close();
    await db?.close();
    await env?.teardown();
  });

  /** Opens a UI page and waits until its text contains every one of `texts`. */
  async function open(url: string, texts: string[]): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction((want: string[]) => want.every((t) => document.body.innerText.includes(t)), { timeout: 60_000, polling: 250 }, texts);
    return page;
  }

  it('lists the deal under its DealStage and shows its decoded input and search attributes', async () => {
    const { opportunityId } = await seedClosedWonDeal(sandbox.url, { key: 'UI' });
    const workflowId = dealWorkflowId(opportunityId);
    const dataConverter = { payloadCodecs: [codec] };
    const activities = createActivities(sandboxActivityDeps(sandbox.url, db.db));
    const main = await Worker.create({ connection: env.nativeConnection, taskQueue: 'ui', workflowBundle: await workflowBundle(), activities, dataConverter });
    const erp = await Worker.create({ connection: env.nativeConnection, taskQueue: ERP_TASK_QUEUE, activities, dataConverter });
    const client = new Client({ connection: env.connection, dataConverter });
    await main.runUntil(
      erp.runUntil(async () => {
        const handle = await client.workflow.start('dealWorkflow', { taskQueue: 'ui', workflowId, args: [{ opportunityId, correlationId: 'corr-webui-7' }] });
        const waitFor = async (stage: string): Promise<DealView> => {
          for (let i = 0; i < 300; i++) {
            const v = await handle.query(getDealStateQuery);
            if (v.stage === stage) return v;
            await new Promise((r) => setTimeout(r, 100));
          }
          throw new Error(`never reached ${stage}`);
        };
        const out = await waitFor('CONTRACT_OUT_FOR_SIGNATURE');
        await handle.signal(contractSignatureSignal, { eventId: 'e-ui', envelopeId: out.ids.envelopeId!, status: 'completed', occurredAt: '2026-01-20T10:00:00Z' });
        await waitFor('IN_DELIVERY');

        // The workflow list, filtered the way an operator looks for deals in a stage.
        const list = await open(`${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(`DealStage="IN_DELIVERY"`)}`, [workflowId, 'dealWorkflow', 'RUNNING']);
        await list.close();

        // The deal's page: its input is ciphertext on the server; the UI decodes it through
        // POST /codec/decode, so the correlation id is readable in the browser.
        const page = await open(`${uiUrl}/namespaces/default/workflows/${workflowId}`, ['dealWorkflow', 'Search Attributes']);
        const clickTab = async (label: string) => {
          const clicked = await page.evaluate((l: string) => {
            const el = [...document.querySelectorAll('a, button, [role="tab"]')].find((e) => (e as HTMLElement).innerText.trim() === l);
            (el as HTMLElement | undefined)?.click();
            return el !== undefined;
          }, label);
          expect(clicked).toBe(true);
        };
        await page.waitForFunction(() => document.body.innerText.includes('corr-webui-7'), { timeout: 60_000, polling: 250 });
        await clickTab('Search Attributes');
        await page.waitForFunction(() => /DealStage[\s\S]{0,200}IN_DELIVERY/.test(document.body.innerText), { timeout: 60_000, polling: 250 });
        await page.close();
        await handle.terminate('test done');
      }),
    );
  });
});
