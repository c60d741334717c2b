import { createHash } from 'node:crypto';
import type { DbHandle } from '../../src/db';
import type { DealSummary } from '../../src/service/deal-gateway';
import { LISTED } from './support/deals';
import { SECRETS, openTestDb, startHarness, type Harness } from './support/harness';

const read = { authorization: `Bearer ${SECRETS.operatorRead}` };
const basic = (key: string) => ({ authorization: `Basic ${Buffer.from(`me:${key}`).toString('base64')}` });

describe('deal list and dashboard', () => {
  let database: DbHandle;
  let h: Harness;
  beforeAll(async () => {
    database = await openTestDb();
  });
  afterAll(() => database.close());
  beforeEach(async () => {
    h = await startHarness(database, { deps: { uiBaseUrl: 'http://temporal.example:8233/', namespace: 'q2c prod' } });
    h.gateway.listed = LISTED;
  });
  afterEach(() => h.close());

  const ids = (items: DealSummary[]) => items.map((d) => d.opportunityId);

  it('GET /deals lists the deals, filtered by stage and needs-attention', async () => {
    const all = await h.inject({ method: 'GET', url: '/deals', headers: read });
    expect(all.statusCode).toBe(200);
    expect(all.json()).toEqual({ items: LISTED });

    const parked = await h.inject({ method: 'GET', url: '/deals?stage=NEEDS_ATTENTION', headers: read });
    expect(ids(parked.json().items)).toEqual(['006A00000000002AAA']);
    const calm = await h.inject({ method: 'GET', url: '/deals?needsAttention=false&stage=', headers: read });
    expect(ids(calm.json().items)).toEqual(['006A00000000001AAA', '006A00000000003AAA', '006A00000000004AAA']);
    const one = await h.inject({ method: 'GET', url: '/deals?needsAttention=false&limit=1', headers: read });
    expect(ids(one.json().items)).toEqual(['006A00000000001AAA']);

    expect(h.gateway.listQueries).toEqual([
      { limit: 200 },
      { stage: 'NEEDS_ATTENTION', limit: 200 },
      { needsAttention: false, limit: 200 },
      { needsAttention: false, limit: 1 },
    ]);
  });

  it('GET /deals answers 400 naming each bad parameter, and never lists then', async () => {
    const res = await h.inject({ method: 'GET', url: "/deals?stage=CLOSED'%20OR%20'1'='1&needsAttention=maybe&limit=0", headers: read });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error).toBe('BAD_REQUEST');
    expect(body.message).toBe('invalid query');
    expect(body.issues.map((i: { path: string }) => i.path)).toEqual(['stage', 'needsAttention', 'limit']);
    expect(body.issues[1].message).toBe('expected true or false');
    expect(h.gateway.listQueries).toEqual([]);
    expect((await h.inject({ method: 'GET', url: '/deals?stage=a&stage=b', headers: read })).statusCode).toBe(400);
    expect((await h.inject({ method: 'GET', url: '/deals' })).statusCode).toBe(401);
  });

  it('GET /dashboard renders every row escaped, linked to the deal and to the Temporal Web UI', async () => {
    const res = await h.inject({ method: 'GET', url: '/dashboard', headers: read });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    // The CSP comes from helmet (security.ts): no inline script; the page's one inline <style> allowed by its hash only.
    const style = /<style>([\s\S]*?)<\/style>/.exec(res.body)![1]!;
    const styleHash = createHash('sha256').update(style, 'utf8').digest('base64');
    const csp = String(res.headers['content-security-policy']).split(';');
    expect(csp).toContain(`style-src 'self' 'sha256-${styleHash}'`);
    expect(csp).toEqual(expect.arrayContaining(["script-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "object-src 'none'"]));
    expect(csp.join(';')).not.toContain('unsafe-inline');
    expect(res.headers['cache-control']).toBe('no-store');
    const rows = res.body.split('\n').filter((l) => l.startsWith('<tr'));
    expect(rows).toEqual([
      '<tr><td><a href="/deals/006A00000000001AAA">006A00000000001AAA</a></td><td>IN_DELIVERY</td><td>no</td><td>CUST-1</td><td>US01</td><td>RUNNING</td><td>2025-03-01T09:00:00.000Z</td><td></td><td><a href="http://temporal.example:8233/namespaces/q2c%20prod/workflows/deal-006A00000000001AAA" rel="noreferrer">deal-006A00000000001AAA</a></td></tr>',
      '<tr class="attention"><td><a href="/deals/006A00000000002AAA">006A00000000002AAA</a></td><td>NEEDS_ATTENTION</td><td>yes</td><td>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;Co</td><td>O&#39;Brien Ltd</td><td>RUNNING</td><td>2025-03-20T10:30:00.000Z</td><td></td><td><a href="http://temporal.example:8233/namespaces/q2c%20prod/workflows/deal-006A00000000002AAA" rel="noreferrer">deal-006A00000000002AAA</a></td></tr>',
      '<tr><td><a href="/deals/006A00000000003AAA">006A00000000003AAA</a></td><td>CLOSED</td><td>no</td><td>CUST-3</td><td>DE01</td><td>COMPLETED</td><td>2025-01-05T08:00:00.000Z</td><td>2025-03-28T17:00:00.000Z</td><td><a href="http://temporal.example:8233/namespaces/q2c%20prod/workflows/deal-006A00000000003AAA" rel="noreferrer">deal-006A00000000003AAA</a></td></tr>',
      '<tr><td><a href="/deals/006A00000000004AAA">006A00000000004AAA</a></td><td>—</td><td>no</td><td></td><td></td><td>RUNNING</td><td>2025-03-31T11:59:00.000Z</td><td></td><td><a href="http://temporal.example:8233/namespaces/q2c%20prod/workflows/deal-006A00000000004AAA" rel="noreferrer">deal-006A00000000004AAA</a></td></tr>',
    ]);
    expect(res.body).toContain('<p class="muted">4 deals, 1 needing attention</p>');
    expect(res.body).not.toMatch(/<script|https?:\/\/(?!temporal\.example)/);
  });

  it('GET /dashboard keeps the filter selected, and answers a bad filter with a 400 page naming it', async () => {
    const res = await h.inject({ method: 'GET', url: '/dashboard?stage=NEEDS_ATTENTION&needsAttention=true', headers: read });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<option value="NEEDS_ATTENTION" selected>NEEDS_ATTENTION</option>');
    expect(res.body).toContain('<option value="true" selected>yes</option>');
    expect(res.body).toContain('<p class="muted">1 deal, 1 needing attention</p>');
    expect(h.gateway.listQueries).toEqual([{ stage: 'NEEDS_ATTENTION', needsAttention: true, limit: 200 }]);

    const bad = await h.inject({ method: 'GET', url: '/dashboard?stage=%3Cb%3ELOST', headers: read });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(bad.body).toContain('<h1>invalid query</h1>');
    expect(bad.body).toMatch(/<li><code>stage<\/code>: Invalid option: expected one of &quot;QUOTE_ACCEPTED&quot;\|/);
    expect(bad.body).not.toContain('<b>');
  });

  it('asks a browser for the key with Basic; Basic reads but never operates', async () => {
    const none = await h.inject({ method: 'GET', url: '/dashboard' });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Basic realm="q2c operator", charset="UTF-8"');

    expect((await h.inject({ method: 'GET', url: '/dashboard', headers: basic(SECRETS.operatorRead) })).statusCode).toBe(200);
    h.gateway.running.set('deal-006A00000000002AAA', { stage: 'NEEDS_ATTENTION', correlationId: 'c' });
    expect((await h.inject({ method: 'GET', url: '/deals/006A00000000002AAA', headers: basic(SECRETS.operatorRead) })).statusCode).toBe(200);

    const forged = await h.inject({
      method: 'POST',
      url: '/deals/006A00000000002AAA/resolve',
      headers: { ...basic(SECRETS.operatorOperate), 'content-type': 'application/json' },
      payload: '{"action":"retry"}',
    });
    expect(forged.statusCode).toBe(403);
    expect(forged.json()).toEqual({ error: 'FORBIDDEN', message: "the 'operate' scope needs the key as a Bearer token", requiredScope: 'operate' });
    expect(h.gateway.calls).toEqual([]);
  });

  it('with openOnLoopback, reads need no key from 127.0.0.1 and operating still does', async () => {
    await h.close();
    h = await startHarness(database, { deps: { openOnLoopback: true } });
    h.gateway.listed = LISTED;
    h.gateway.running.set('deal-006A00000000002AAA', { stage: 'NEEDS_ATTENTION', correlationId: 'c' });
    expect((await h.inject({ method: 'GET', url: '/dashboard' })).statusCode).toBe(200);
    expect((await h.inject({ method: 'GET', url: '/deals?stage=CLOSED' })).json()).toEqual({ items: [LISTED[2]] });
    expect((await h.inject({ method: 'GET', url: '/deals/006A00000000002AAA' })).statusCode).toBe(200);
    const resolve = await h.inject({ method: 'POST', url: '/deals/006A00000000002AAA/resolve', headers: { 'content-type': 'application/json' }, payload: '{"action":"retry"}' });
    expect(resolve.statusCode).toBe(401);
    expect(h.gateway.calls).toEqual([]);
  });
});
