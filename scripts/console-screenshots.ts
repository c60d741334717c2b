/**
 * Screenshots of the operator console on a running stack, for the README:
 *
 *   npm start                                   # wait for the sample deal to close
 *   npx tsx scripts/console-screenshots.ts      # writes docs/console-deals.png, -deal.png, -kpis.png
 *
 * Signs in with the dev stack's first operator key (.q2c/dev-secrets.json, or
 * Q2C_OPERATOR_KEY), opens the deals list, the first deal and the KPIs in Debian's
 * headless Chromium (CHROMIUM_PATH or /usr/bin/chromium). The exceptions, billing
 * and inbox screenshots come from test/workflows/console.browser.test.ts
 * (Q2C_SCREENSHOTS=1), which stages a deal with something to act on.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const REPO = path.resolve(__dirname, '..');
const serviceUrl = (process.env.Q2C_SERVICE_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
const dataDir = path.resolve(REPO, process.env.Q2C_DATA_DIR ?? '.q2c');

function operatorKey(): string {
  if (process.env.Q2C_OPERATOR_KEY) return process.env.Q2C_OPERATOR_KEY;
  const file = path.join(dataDir, 'dev-secrets.json');
  if (!existsSync(file)) throw new Error(`no operator key: set Q2C_OPERATOR_KEY, or run npm start first (it writes ${file})`);
  const keys = String((JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>).Q2C_OPERATOR_API_KEYS ?? '');
  const first = keys.split(',')[0]?.split(':');
  if (!first || first.length < 3) throw new Error(`${file}: Q2C_OPERATOR_API_KEYS holds no name:scopes:key entry`);
  return first.slice(2).join(':');
}

async function main(): Promise<void> {
  const chromium = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && existsSync(p));
  if (!chromium) throw new Error('no Chromium: apt-get install chromium, or set CHROMIUM_PATH');
  const browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1360, height: 900 });
    await page.goto(`${serviceUrl}/console/sign-in`, { waitUntil: 'domcontentloaded' });
    await page.type('input[name="key"]', operatorKey());
    await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click('button[type="submit"]')]);
    if (page.url().includes('/console/sign-in')) throw new Error('sign-in refused: is the key one of the service\'s operator keys?');

    const shot = async (name: string) => {
      const file = path.join(REPO, 'docs', `console-${name}.png`);
      await page.screenshot({ path: file as `${string}.png`, fullPage: true });
      console.log(`wrote ${path.relative(REPO, file)}`);
    };
    await page.goto(`${serviceUrl}/console/deals`, { waitUntil: 'networkidle0' });
    await shot('deals');
    const first = await page.$eval('a[href^="/console/deals/"]', (a) => (a as HTMLAnchorElement).getAttribute('href'));
    if (!first) throw new Error('no deal in the console: run the sample first');
    await page.goto(`${serviceUrl}${first}`, { waitUntil: 'networkidle0' });
    await shot('deal');
    await page.goto(`${serviceUrl}/console/kpis`, { waitUntil: 'networkidle0' });
    await shot('kpis');
  } finally {
    await browser.close();
  }
}

main().catch((err: unknown) => {
  console.error(`console-screenshots: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
