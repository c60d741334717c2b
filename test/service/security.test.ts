import { parseConfig } from '../../src/config';
import type { DbHandle } from '../../src/db';
import { createKeyring } from '../../src/service/auth';
import { rateLimitKey, rateLimitedProblem } from '../../src/service/security';
import { SECRETS, openTestDb, q2cHeaders, resetDb, serviceSecrets, startHarness, type Harness } from './support/harness';
import { closedWon } from './support/payloads';

const ops = { authorization: `Bearer ${SECRETS.operatorOperate}` };
const reader = { authorization: `Bearer ${SECRETS.operatorRead}` };
const DEAL = '006Hs00001AbCdEIAZ';

describe('security headers (helmet) and per-client rate limits', () => {
  let database: DbHandle;
  let h: Harness | undefined;
  beforeAll(async () => {
    database = await openTestDb();
  });
  afterAll(() => database.close());
  beforeEach(() => resetDb(database));
  afterEach(() => h?.close());

  it('sets the same security headers on a page, an API answer and an error', async () => {
    h = await startHarness(database);
    h.gateway.running.set(`deal-${DEAL}`, { stage: 'IN_DELIVERY', correlationId: 'c1' });
    const answers = [
      await h.inject({ method: 'GET', url: '/dashboard', headers: reader }),
      await h.inject({ method: 'GET', url: `/deals/${DEAL}`, headers: reader }),
      await h.inject({ method: 'GET', url: `/deals/${DEAL}` }),
      await h.inject({ method: 'GET', url: '/docs', headers: reader }),
    ];
    expect(answers.map((r) => r.statusCode)).toEqual([200, 200, 401, 200]);
    for (const res of answers) {
      expect(res.headers).toMatchObject({
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-resource-policy': 'same-origin',
        'strict-transport-security': 'max-age=31536000; includeSubDomains',
      });
      const csp = String(res.headers['content-security-policy']).split(';');
      expect(csp).toEqual(expect.arrayContaining(["default-src 'self'", "script-src 'self'", "script-src-attr 'none'", "object-src 'none'", "frame-ancestors 'none'", "connect-src 'self'"]));
      expect(csp.filter((d) => d.startsWith('script-src'))).toEqual(["script-src 'self'", "script-src-attr 'none'"]);
    }
    expect(answers.slice(0, 3).map((r) => r.headers['content-security-policy'])).not.toContainEqual(expect.stringContaining('unsafe-inline'));
    // Swagger UI injects <style> elements: on its pages only, inline styles (not scripts) are allowed.
    expect(String(answers[3]!.headers['content-security-policy']).split(';')).toContain("style-src 'self' 'unsafe-inline'");
    // The API answer is JSON with the headers above, the page additionally allows only its own inline style.
    expect(answers[1]!.headers['content-security-policy']).toContain("style-src 'self';");
    expect(answers[0]!.headers['content-security-policy']).toMatch(/style-src 'self' 'sha256-[A-Za-z0-9+/]{43}=';/);
  });

  it('keys a request by its operator key holder when the key is valid, else by address', () => {
    const keyring = createKeyring(serviceSecrets.operatorApiKeys);
    const basic = `Basic ${Buffer.from(`me:${SECRETS.operatorRead}`).toString('base64')}`;
    expect(rateLimitKey(keyring, { headers: ops, ip: '10.0.0.1' })).toBe('key:ops');
    expect(rateLimitKey(keyring, { headers: { authorization: basic }, ip: '10.0.0.2' })).toBe('key:dashboard');
    expect(rateLimitKey(keyring, { headers: { authorization: 'Bearer not-a-key-000000000' }, ip: '10.0.0.3' })).toBe('ip:10.0.0.3');
    expect(rateLimitKey(keyring, { headers: {}, ip: '10.0.0.4' })).toBe('ip:10.0.0.4');
    expect(rateLimitKey(keyring, { headers: {}, ip: '10.0.0.5', principal: { name: 'alice', scopes: ['read'], via: 'bearer' } })).toBe('key:alice');
    // 1.5 s left in the window: Retry-After rounds up to 2 s.
    expect(rateLimitedProblem({ max: 3, ttl: 1500 }).body).toEqual({ error: 'RATE_LIMITED', message: 'too many requests: at most 3 a minute; retry in 2 s', limit: 3, retryAfterSeconds: 2 });
  });

  it('answers a client over its limit 429 with Retry-After in the error shape, while another client goes on', async () => {
    h = await startHarness(database, { deps: { rateLimit: { perMinute: 3, webhooksPerMinute: 0 } } });
    h.gateway.running.set(`deal-${DEAL}`, { stage: 'IN_DELIVERY', correlationId: 'c1' });
    const get = (headers: Record<string, string> = {}) => h!.inject({ method: 'GET', url: `/deals/${DEAL}`, headers });

    expect([(await get(ops)).statusCode, (await get(ops)).statusCode, (await get(ops)).statusCode]).toEqual([200, 200, 200]);
    const over = await get(ops);
    expect(over.statusCode).toBe(429);
    const retryAfter = Number(over.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(over.json()).toEqual({ error: 'RATE_LIMITED', message: `too many requests: at most 3 a minute; retry in ${retryAfter} s`, limit: 3, retryAfterSeconds: retryAfter });
    expect(over.headers['x-ratelimit-limit']).toBe('3');
    expect(over.headers['x-ratelimit-remaining']).toBe('0');
    // Helmet's headers are on the 429 too.
    expect(over.headers['x-content-type-options']).toBe('nosniff');

    // Same address, another key holder: a budget of its own.
    expect((await get(reader)).statusCode).toBe(200);
    expect((await get(reader)).headers['x-ratelimit-remaining']).toBe('1');

    // Guessing keys counts against the address: the fourth try without a valid key is 429, not 401.
    const guesses = [await get(), await get({ authorization: 'Bearer wrong-key-000000000000' }), await get()];
    expect(guesses.map((r) => r.statusCode)).toEqual([401, 401, 401]);
    expect((await get()).statusCode).toBe(429);
  });

  it('limits each webhook endpoint per sender address, counts the refusals and keeps no inbox row for them', async () => {
    h = await startHarness(database, { deps: { rateLimit: { perMinute: 0, webhooksPerMinute: 2 } } });
    const deliver = (eventId: string) => {
      const body = JSON.stringify(closedWon({ eventId }));
      return h!.inject({ method: 'POST', url: '/webhooks/salesforce/opportunity', payload: body, headers: q2cHeaders(body, SECRETS.salesforceNew) });
    };
    const codes = [(await deliver('e1')).statusCode, (await deliver('e2')).statusCode];
    const third = await deliver('e3');
    expect([...codes, third.statusCode]).toEqual([202, 202, 429]);
    expect(third.json()).toMatchObject({ error: 'RATE_LIMITED', limit: 2 });
    expect(Number(third.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect((await h.inboxRows()).map((r) => r.eventId)).toEqual(['e1', 'e2']);
    const metrics = (await h.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain('q2c_webhooks_received_total{source="salesforce",outcome="rate_limited"} 1');
    // Another endpoint has its own budget; the operator side is unlimited here (perMinute 0).
    const stripe = await h.inject({ method: 'POST', url: '/webhooks/stripe', payload: '{}', headers: { 'content-type': 'application/json' } });
    expect(stripe.statusCode).toBe(401);
    for (let i = 0; i < 5; i++) expect((await h.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('behind a trusted proxy, counts each client by its forwarded address', async () => {
    expect(parseConfig({ TRUST_PROXY: ' 10.0.0.0/8,10.1.2.3 ' }).TRUST_PROXY).toBe('10.0.0.0/8,10.1.2.3');
    expect(parseConfig({ TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
    expect(parseConfig({}).TRUST_PROXY).toBeUndefined();
    expect([parseConfig({}).RATE_LIMIT_PER_MINUTE, parseConfig({}).WEBHOOK_RATE_LIMIT_PER_MINUTE]).toEqual([600, 6000]);

    const from = (client: string) => ({ 'x-forwarded-for': client });
    h = await startHarness(database, { deps: { trustProxy: '127.0.0.1', rateLimit: { perMinute: 1, webhooksPerMinute: 0 } } });
    const proxied = [await h.inject({ method: 'GET', url: '/healthz', headers: from('203.0.113.7') }), await h.inject({ method: 'GET', url: '/healthz', headers: from('203.0.113.7') }), await h.inject({ method: 'GET', url: '/healthz', headers: from('198.51.100.9') })];
    expect(proxied.map((r) => r.statusCode)).toEqual([200, 429, 200]);
    await h.close();

    // Without trustProxy the header is the client's word, not its address: one budget for both.
    h = await startHarness(database, { deps: { rateLimit: { perMinute: 1, webhooksPerMinute: 0 } } });
    const direct = [await h.inject({ method: 'GET', url: '/healthz', headers: from('203.0.113.7') }), await h.inject({ method: 'GET', url: '/healthz', headers: from('198.51.100.9') })];
    expect(direct.map((r) => r.statusCode)).toEqual([200, 429]);
  });

  it('never limits loopback clients when told to (the dev stack)', async () => {
    h = await startHarness(database, { deps: { rateLimit: { perMinute: 1, webhooksPerMinute: 1, exemptLoopback: true } } });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push((await h.inject({ method: 'GET', url: '/healthz' })).statusCode);
    expect(answers).toEqual([200, 200, 200, 200]);
  });
});
