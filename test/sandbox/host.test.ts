import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import type { SandboxVendor } from '../../src/sandbox/context';
import { FaultRegistry, seededRandom } from '../../src/sandbox/faults';
import { DuplicateExternalIdError, VersionConflictError } from '../../src/sandbox/store';
import { startTestSandbox, type TestSandbox } from '../support/sandbox';

/** A minimal vendor to exercise the host: POST /things creates, GET /things/:id reads, POST /events sends a webhook. */
const echoVendor: SandboxVendor = {
  vendor: 'echo',
  prefix: '/echo',
  errorBody: (status, message) => ({ err: { status, message } }),
  plugin: async (app, ctx) => {
    app.post('/things', async (req, reply) => {
      const body = req.body as { ref: string };
      const rec = await ctx.store.insert('echo', 'thing', { idFor: (seq) => `T${seq}`, externalId: body.ref, data: { ref: body.ref } });
      return reply.code(201).send({ id: rec.id });
    });
    app.get('/things/:id', async (req, reply) => {
      const rec = await ctx.store.get('echo', 'thing', (req.params as { id: string }).id);
      return rec ? rec.data : reply.code(404).send({ err: { status: 404, message: 'missing' } });
    });
    app.post('/events', async (req) => {
      const body = req.body as { type: string; n: number };
      const id = await ctx.webhooks.send({ vendor: 'echo', eventType: body.type, body: JSON.stringify(body), headers: { 'content-type': 'application/json', 'x-sig': 'sig' } });
      return { id };
    });
  },
};

let sandbox: TestSandbox;
let receiver: Server;
const received: { n: number; at: number; sig: string | undefined }[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ n: (JSON.parse(body) as { n: number }).n, at: Date.now(), sig: req.headers['x-sig'] as string | undefined });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const { port } = receiver.address() as AddressInfo;
  sandbox = await startTestSandbox({ vendors: [echoVendor], webhookTargets: { echo: `http://127.0.0.1:${port}/hook` } });
});
afterAll(async () => {
  await sandbox.close();
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
});
beforeEach(async () => {
  sandbox.faults.clear();
  received.length = 0;
});

const call = async (method: 'GET' | 'POST' | 'DELETE' | 'PUT', path: string, body?: unknown, timeoutMs = 5000) => {
  const res = await request(`${sandbox.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    headersTimeout: timeoutMs,
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text ? (JSON.parse(text) as unknown) : undefined };
};

test('records are created and listed in /_sandbox/state', async () => {
  const a = await call('POST', '/echo/things', { ref: 'state-1' });
  expect(a.status).toBe(201);
  const id = (a.body as { id: string }).id;
  expect(id).toMatch(/^T\d+$/);
  expect((await call('GET', `/echo/things/${id}`)).body).toEqual({ ref: 'state-1' });
  const state = (await call('GET', '/_sandbox/state/echo/thing')).body as { count: number; records: { id: string; externalId: string; version: number; data: unknown }[] };
  expect(state.records.find((r) => r.externalId === 'state-1')).toEqual({ id, externalId: 'state-1', version: 1, data: { ref: 'state-1' } });
});

test('unknown routes answer 404 in the vendor error shape', async () => {
  expect(await call('GET', '/echo/nope')).toMatchObject({ status: 404, body: { err: { status: 404, message: 'no such resource: GET /nope' } } });
});

test('status fault: vendor error body, handler not run, consumed after `times`', async () => {
  await call('POST', '/_sandbox/faults', { vendor: 'echo', kind: 'status', status: 503, method: 'POST', path: '^/things$', times: 1, message: 'maintenance' });
  const r1 = await call('POST', '/echo/things', { ref: 'status-1' });
  expect(r1.status).toBe(503);
  expect(r1.body).toEqual({ err: { status: 503, message: 'maintenance' } });
  expect(await sandbox.store.getByExternalId('echo', 'thing', 'status-1')).toBeUndefined();
  expect((await call('POST', '/echo/things', { ref: 'status-1' })).status).toBe(201);
});

test('probability: a fault hits each matching request with its chance, drawn from the seeded generator', async () => {
  await call('PUT', '/_sandbox/faults/seed', { seed: 42 });
  const [id] = ((await call('POST', '/_sandbox/faults', { vendor: 'echo', kind: 'status', status: 503, method: 'GET', path: '^/things/', probability: 0.3 })).body as { ids: string[] }).ids;
  const statuses: number[] = [];
  for (let i = 0; i < 40; i++) statuses.push((await call('GET', `/echo/things/P${i}`)).status);
  // The same generator, replayed: request i is hit exactly when its draw is below 0.3.
  const draw = seededRandom(42);
  const expected = statuses.map(() => (draw() < 0.3 ? 503 : 404));
  expect(statuses).toEqual(expected);
  const hits = expected.filter((s) => s === 503).length;
  expect(hits).toBeGreaterThan(0);
  expect(hits).toBeLessThan(40);
  const listed = ((await call('GET', '/_sandbox/faults')).body as { faults: { id: string; matched: number; fired: number }[] }).faults;
  expect(listed.find((f) => f.id === id)).toMatchObject({ matched: 40, fired: hits });
});

test('`times` counts the hits of a probabilistic fault, not the requests it matched', () => {
  const registry = new FaultRegistry(seededRandom(7));
  registry.add({ vendor: 'v', kind: 'status', status: 500, probability: 0.5, times: 2 });
  const hits = Array.from({ length: 50 }, () => registry.takeHttp('v', 'GET', '/x').length).reduce((a, b) => a + b, 0);
  expect(hits).toBe(2);
  expect(registry.list()).toEqual([]);
});

test('request counts: every request a vendor received, by route pattern and status, faults and resets included', async () => {
  await call('DELETE', '/_sandbox/requests');
  await call('POST', '/echo/things', { ref: 'count-1' });
  await call('POST', '/echo/things', { ref: 'count-2' });
  sandbox.faults.add({ vendor: 'echo', kind: 'status', status: 503, method: 'GET', times: 1 });
  await call('GET', '/echo/things/T1');
  sandbox.faults.add({ vendor: 'echo', kind: 'reset', method: 'GET', times: 1 });
  await expect(call('GET', '/echo/things/T2')).rejects.toThrow();
  await call('GET', '/echo/nope');
  const counts = ((await call('GET', '/_sandbox/requests?vendor=echo')).body as { requests: unknown[] }).requests;
  expect(counts).toEqual([
    { vendor: 'echo', method: 'GET', route: '/echo/nope', status: 404, count: 1 },
    { vendor: 'echo', method: 'POST', route: '/echo/things', status: 201, count: 2 },
    { vendor: 'echo', method: 'GET', route: '/echo/things/:id', status: 0, count: 1 },
    { vendor: 'echo', method: 'GET', route: '/echo/things/:id', status: 503, count: 1 },
  ]);
});

test('rate-limit fault: 429 with Retry-After', async () => {
  sandbox.faults.add({ vendor: 'echo', kind: 'rate_limit', retryAfterSeconds: 3 });
  const r = await call('GET', '/echo/things/T1');
  expect(r.status).toBe(429);
  expect(r.headers['retry-after']).toBe('3');
  expect(r.body).toEqual({ err: { status: 429, message: 'rate limit exceeded' } });
});

test('latency fault delays the answer', async () => {
  sandbox.faults.add({ vendor: 'echo', kind: 'latency', ms: 300, times: 1 });
  const t0 = Date.now();
  expect((await call('GET', '/echo/things/none')).status).toBe(404);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
});

test('reset fault: connection dropped and nothing created', async () => {
  sandbox.faults.add({ vendor: 'echo', kind: 'reset', times: 1 });
  await expect(call('POST', '/echo/things', { ref: 'reset-1' })).rejects.toThrow();
  expect(await sandbox.store.getByExternalId('echo', 'thing', 'reset-1')).toBeUndefined();
});

test('timeout-after-commit (socket destroyed): the caller fails but the record exists', async () => {
  sandbox.faults.add({ vendor: 'echo', kind: 'timeout_after_commit', method: 'POST', times: 1 });
  await expect(call('POST', '/echo/things', { ref: 'tac-1' })).rejects.toThrow();
  expect((await sandbox.store.getByExternalId('echo', 'thing', 'tac-1'))?.data).toEqual({ ref: 'tac-1' });
});

test('timeout-after-commit (delayed): the answer comes after the client deadline', async () => {
  sandbox.faults.add({ vendor: 'echo', kind: 'timeout_after_commit', delayMs: 2500, times: 1 });
  await expect(call('POST', '/echo/things', { ref: 'tac-2' }, 200)).rejects.toThrow();
  expect((await sandbox.store.getByExternalId('echo', 'thing', 'tac-2'))?.data).toEqual({ ref: 'tac-2' });
});

test('webhooks: delivered with headers and recorded', async () => {
  await call('POST', '/echo/events', { type: 'a', n: 1 });
  await sandbox.webhooks.idle();
  expect(received.map((r) => [r.n, r.sig])).toEqual([[1, 'sig']]);
  const log = (await call('GET', '/_sandbox/webhooks?vendor=echo')).body as { webhooks: { eventType: string; attempts: number; delivered: boolean; lastStatus: number }[] };
  expect(log.webhooks.at(-1)).toMatchObject({ eventType: 'a', attempts: 1, delivered: true, lastStatus: 200 });
});

test('webhook faults: duplicate, out of order, late', async () => {
  sandbox.faults.add({ vendor: 'echo', kind: 'webhook_duplicate', eventType: '^dup$', times: 1 });
  await call('POST', '/echo/events', { type: 'dup', n: 1 });
  await sandbox.webhooks.idle();
  expect(received.map((r) => r.n)).toEqual([1, 1]);

  received.length = 0;
  sandbox.faults.add({ vendor: 'echo', kind: 'webhook_out_of_order', times: 1 });
  await call('POST', '/echo/events', { type: 'x', n: 2 });
  await call('POST', '/echo/events', { type: 'x', n: 3 });
  await sandbox.webhooks.idle();
  expect(received.map((r) => r.n)).toEqual([3, 2]);

  received.length = 0;
  sandbox.faults.add({ vendor: 'echo', kind: 'webhook_late', delayMs: 400, times: 1 });
  const t0 = Date.now();
  await call('POST', '/echo/events', { type: 'y', n: 4 });
  await sandbox.webhooks.idle();
  expect(received.map((r) => r.n)).toEqual([4]);
  expect(received[0]!.at - t0).toBeGreaterThanOrEqual(390);
});

test('fault control rejects bad input', async () => {
  expect((await call('POST', '/_sandbox/faults', { vendor: 'echo', kind: 'explode' })).status).toBe(400);
  expect((await call('POST', '/_sandbox/faults', { vendor: 'echo', kind: 'reset', path: '(' })).status).toBe(400);
  const ids = ((await call('POST', '/_sandbox/faults', [{ vendor: 'echo', kind: 'reset' }])).body as { ids: string[] }).ids;
  expect(ids).toHaveLength(1);
  expect((await call('DELETE', '/_sandbox/faults')).body).toEqual({ cleared: 'all' });
  expect(sandbox.faults.list()).toEqual([]);
});

describe('store', () => {
  test('external id unique per vendor + kind', async () => {
    await sandbox.store.insert('echo', 'widget', { externalId: 'w-1', data: { a: 1 } });
    await expect(sandbox.store.insert('echo', 'widget', { externalId: 'w-1', data: { a: 2 } })).rejects.toBeInstanceOf(DuplicateExternalIdError);
    await sandbox.store.insert('echo', 'gadget', { externalId: 'w-1', data: { a: 3 } }); // other kind: fine
    expect((await sandbox.store.list('echo', 'widget', { contains: { a: 1 } })).total).toBe(1);
  });

  test('update checks the version', async () => {
    const rec = await sandbox.store.insert('echo', 'versioned', { data: { n: 1 } });
    const v2 = await sandbox.store.update<{ n: number }>('echo', 'versioned', rec.id, (d) => ({ n: d.n + 1 }), { expectedVersion: 1 });
    expect([v2.version, v2.data]).toEqual([2, { n: 2 }]);
    await expect(sandbox.store.update('echo', 'versioned', rec.id, (d) => d, { expectedVersion: 1 })).rejects.toBeInstanceOf(VersionConflictError);
  });

  test('list pages by seq and by offset, total before paging', async () => {
    for (let i = 1; i <= 5; i++) await sandbox.store.insert('echo', 'paged', { data: { i } });
    const first = await sandbox.store.list<{ i: number }>('echo', 'paged', { limit: 2 });
    expect([first.total, first.items.map((r) => r.data.i)]).toEqual([5, [1, 2]]);
    const next = await sandbox.store.list<{ i: number }>('echo', 'paged', { limit: 2, afterSeq: first.items[1]!.seq });
    expect(next.items.map((r) => r.data.i)).toEqual([3, 4]);
    const byOffset = await sandbox.store.list<{ i: number }>('echo', 'paged', { limit: 2, offset: 4 });
    expect(byOffset.items.map((r) => r.data.i)).toEqual([5]);
  });

  test('idempotency: first entry wins', async () => {
    expect(await sandbox.store.putIdempotency('echo', 'k1', { requestHash: 'h1', statusCode: 200, response: { id: 'a' } })).toBe(true);
    expect(await sandbox.store.putIdempotency('echo', 'k1', { requestHash: 'h2', statusCode: 200, response: { id: 'b' } })).toBe(false);
    expect(await sandbox.store.getIdempotency('echo', 'k1')).toEqual({ requestHash: 'h1', statusCode: 200, response: { id: 'a' } });
  });
});
