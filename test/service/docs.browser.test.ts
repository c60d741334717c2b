/// <reference lib="dom" />
import { existsSync } from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import type { DbHandle } from '../../src/db';
import { LISTED } from './support/deals';
import { openTestDb, startHarness, type Harness } from './support/harness';

/**
 * Swagger UI and the dashboard in a real headless Chromium, under the service's
 * Content-Security-Policy (helmet): both render, and the browser reports no violation.
 * Chromium comes from Debian's `chromium` package (.ci/run installs it); without one
 * (CHROMIUM_PATH or /usr/bin/chromium) this file is skipped, saying so.
 */
const chromium = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && existsSync(p));
const describeWithBrowser = chromium ? describe : describe.skip;
if (!chromium) console.warn('docs.browser.test: skipped, no Chromium (apt-get install chromium, or set CHROMIUM_PATH)');

jest.setTimeout(120_000);

describeWithBrowser('/docs and /dashboard in headless Chromium, under the CSP', () => {
  let database: DbHandle;
  let h: Harness;
  let browser: Browser;

  beforeAll(async () => {
    database = await openTestDb();
    // As in the dev stack: reads need no key from loopback.
    h = await startHarness(database, { deps: { openOnLoopback: true } });
    h.gateway.listed = LISTED;
    browser = await puppeteer.launch({ executablePath: chromium!, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
    await database?.close();
  });

  /** Opens a page, recording CSP violations and failed requests. */
  async function open(path: string): Promise<{ page: Page; violations: string[]; failed: string[] }> {
    const page = await browser.newPage();
    const violations: string[] = [];
    const failed: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    // The browser asks for /favicon.ico on its own; the service has none.
    page.on('requestfailed', (r) => failed.push(r.url()));
    page.on('response', (r) => {
      if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) failed.push(`${r.status()} ${r.url()}`);
    });
    await page.evaluateOnNewDocument(() => {
      document.addEventListener('securitypolicyviolation', (e) => console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`));
    });
    await page.goto(`${h.baseUrl}${path}`, { waitUntil: 'networkidle0' });
    return { page, violations, failed };
  }

  it('renders Swagger UI with every tag and the operations, loading nothing from elsewhere', async () => {
    const { page, violations, failed } = await open('/docs');
    await page.waitForFunction(() => document.body.innerText.includes('/deals/{id}/invoices/{invoiceId}/decision'), { timeout: 30_000 });
    const text = await page.evaluate(() => document.body.innerText);
    expect(text).toContain('q2c service API');
    for (const tag of ['webhooks', 'deals', 'operations', 'inbox', 'rulesets', 'metrics']) expect(text).toContain(tag);
    expect(text).toContain('Authorize');
    // Swagger UI's own stylesheet applied: the operation blocks are laid out by it.
    const styled = await page.evaluate(() => getComputedStyle(document.querySelector('.opblock')!).borderRadius);
    expect(styled).not.toBe('0px');
    expect(violations).toEqual([]);
    expect(failed).toEqual([]);
    await page.close();
  });

  it('renders the dashboard with its inline style allowed by hash', async () => {
    const { page, violations, failed } = await open('/dashboard');
    const th = await page.evaluate(() => getComputedStyle(document.querySelector('th')!).backgroundColor);
    expect(th).toBe('rgb(246, 248, 250)'); // #f6f8fa from the page's <style>
    expect(violations).toEqual([]);
    expect(failed).toEqual([]);
    await page.close();
  });
});
