import { z } from 'zod';
import { ConnectorError } from '../../../src/connectors/errors';
import { HttpClient, InFlightLimit, TokenBucket, staticSecret, apiKeyAuth } from '../../../src/connectors/http';
import { json, startServer, type TestServer } from './helpers';

let server: TestServer;
const slow = { now: 0, peak: 0 };
const seen: { method: string; url: string; headers: Record<string, string | string[] | undefined>; body: string }[] = [];

beforeAll(async () => {
  server = await startServer((req, body, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    const url = new URL(req.url ?? '/', 'http://x');
    switch (url.pathname) {
      case '/ok':
        return json(res, 200, { id: 'a1', amount: 5 });
      case '/echo':
        return json(res, 201, { got: JSON.parse(body) as unknown, q: url.searchParams.get('q') });
      case '/limited':
        return json(res, 429, { message: 'too many' }, { 'retry-after': '2' });
      case '/boom':
        return json(res, 503, [{ errorCode: 'SERVER_UNAVAILABLE', message: 'down' }]);
      case '/vendor':
        return json(res, 400, [{ errorCode: 'UNABLE_TO_LOCK_ROW', message: 'row locked' }]);
      case '/missing':
        return json(res, 404, { error: 'nope' });
      case '/hang':
        return; // never answers
      case '/reset':
        return req.socket.destroy();
      case '/flaky': {
        // Busy twice (429 Retry-After 1 s, then 503), then the answer: what a noisy vendor does.
        const n = seen.filter((x) => x.url === '/flaky').length;
        if (n === 1) return json(res, 429, { message: 'busy' }, { 'retry-after': '1' });
        if (n === 2) return json(res, 503, { message: 'down' });
        return json(res, 201, { id: 'f1' });
      }
      case '/slow': {
        // Answers after 40 ms and records how many requests it was holding at once.
        slow.now += 1;
        slow.peak = Math.max(slow.peak, slow.now);
        setTimeout(() => {
          slow.now -= 1;
          json(res, 200, { ok: true });
        }, 40);
        return;
      }
      case '/reset-once':
        if (seen.filter((x) => x.url === '/reset-once').length === 1) return req.socket.destroy();
        return json(res, 200, { id: 'r1' });
      default:
        return json(res, 500, {});
    }
  });
});
afterAll(() => server.close());
beforeEach(() => (seen.length = 0));

const client = (extra: Partial<ConstructorParameters<typeof HttpClient>[0]> = {}) => new HttpClient({ system: 'test', baseUrl: `${server.url}/`, ...extra });

const failure = async (p: Promise<unknown>): Promise<ConnectorError> => {
  try {
    await p;
  } catch (err) {
    if (err instanceof ConnectorError) return err;
    throw err;
  }
  throw new Error('expected a ConnectorError');
};

test('parses JSON with a schema and sends auth, json body and query', async () => {
  const c = client({ auth: apiKeyAuth('X-Api-Key', staticSecret('k1')) });
  const res = await c.request({ method: 'POST', path: '/echo', query: { q: 'a b', skip: undefined }, json: { n: 1 }, schema: z.object({ got: z.object({ n: z.number() }), q: z.string() }) });
  expect(res.status).toBe(201);
  expect(res.body).toEqual({ got: { n: 1 }, q: 'a b' });
  expect(seen[0]?.headers['x-api-key']).toBe('k1');
  expect(seen[0]?.headers['content-type']).toBe('application/json');
  expect(seen[0]?.url).toBe('/echo?q=a+b');
});

test('a schema mismatch is HTTP.UNEXPECTED_RESPONSE, not retryable', async () => {
  const err = await failure(client().request({ method: 'GET', path: '/ok', schema: z.object({ id: z.number() }) }));
  expect(err.code).toBe('HTTP.UNEXPECTED_RESPONSE');
  expect(err.retryable).toBe(false);
  expect(err.message).toBe('test GET /ok: response does not match schema: id: Invalid input: expected number, received string');
});

test('429 carries Retry-After and pauses the limiter for every caller', async () => {
  let clock = 1_000_000;
  const sleeps: number[] = [];
  const bucket = new TokenBucket({ capacity: 10, refillPerSecond: 10, now: () => clock, sleep: async (ms) => { sleeps.push(ms); clock += ms; } });
  const c = client({ rateLimiter: bucket, now: () => clock });
  const err = await failure(c.request({ method: 'GET', path: '/limited' }));
  expect(err.code).toBe('HTTP.RATE_LIMITED');
  expect(err.retryable).toBe(true);
  expect(err.retryAfterMs).toBe(2000);
  expect(err.meta).toEqual({ system: 'test', method: 'GET', path: '/limited', status: 429 });
  await c.request({ method: 'GET', path: '/ok' });
  expect(sleeps).toEqual([2000]);
});

test('5xx is HTTP.SERVER_ERROR, retryable', async () => {
  const err = await failure(client().request({ method: 'GET', path: '/boom' }));
  expect(err.code).toBe('HTTP.SERVER_ERROR');
  expect(err.retryable).toBe(true);
});

test('a vendor classifier refines the code from the error body', async () => {
  const c = client({
    classify: ({ body }) => {
      const first = Array.isArray(body) ? (body[0] as { errorCode?: string; message?: string }) : undefined;
      return first?.errorCode === 'UNABLE_TO_LOCK_ROW' ? { code: 'SALESFORCE.ROW_LOCK', message: first.message, vendorCode: first.errorCode } : undefined;
    },
  });
  const err = await failure(c.request({ method: 'PATCH', path: '/vendor', json: {} }));
  expect(err.code).toBe('SALESFORCE.ROW_LOCK');
  expect(err.retryable).toBe(true);
  expect(err.message).toBe('test PATCH /vendor: 400 row locked');
  expect(err.meta.vendorCode).toBe('UNABLE_TO_LOCK_ROW');
});

test('allowStatus lets the caller handle a 404 itself', async () => {
  const res = await client().request({ method: 'GET', path: '/missing', allowStatus: [404] });
  expect(res.status).toBe(404);
  expect(res.body).toEqual({ error: 'nope' });
  const err = await failure(client().request({ method: 'GET', path: '/missing' }));
  expect(err.code).toBe('HTTP.NOT_FOUND');
});

test('no answer within the deadline is HTTP.TIMEOUT', async () => {
  const started = Date.now();
  const err = await failure(client({ timeoutMs: 150 }).request({ method: 'POST', path: '/hang', json: {} }));
  expect(err.code).toBe('HTTP.TIMEOUT');
  expect(err.retryable).toBe(true);
  expect(err.message).toBe('test POST /hang: no response within 150 ms');
  expect(Date.now() - started).toBeLessThan(2000);
});

test('a reset connection is HTTP.CONNECTION', async () => {
  const err = await failure(client().request({ method: 'GET', path: '/reset' }));
  expect(err.code).toBe('HTTP.CONNECTION');
  expect(err.retryable).toBe(true);
});

describe('a repeat policy', () => {
  const repeat = { retries: 2, baseDelayMs: 250, maxWaitMs: 2_000 };
  const sleeps: number[] = [];
  const repeating = () => client({ repeat, sleep: async (ms) => void sleeps.push(ms) });
  beforeEach(() => (sleeps.length = 0));

  test('sends again what the vendor did not process (429 after its Retry-After, 503 after the backoff), any method', async () => {
    const res = await repeating().request({ method: 'POST', path: '/flaky', json: { n: 1 } });
    expect(res.status).toBe(201);
    expect(seen.map((x) => x.method)).toEqual(['POST', 'POST', 'POST']);
    // Retry-After: 1 -> 1000 ms; then the 503 waits the backoff of the second repeat: 250 x 2^1 = 500 ms.
    expect(sleeps).toEqual([1000, 500]);
  });

  test('gives up after its retries with the last answer as the error', async () => {
    const err = await failure(repeating().request({ method: 'GET', path: '/boom' }));
    expect(err.code).toBe('HTTP.SERVER_ERROR');
    expect(seen).toHaveLength(3);
    expect(sleeps).toEqual([250, 500]);
  });

  test('a Retry-After longer than it may wait ends the call at once: the activity retry waits', async () => {
    const err = await failure(client({ repeat: { ...repeat, maxWaitMs: 1_000 }, sleep: async (ms) => void sleeps.push(ms) }).request({ method: 'GET', path: '/limited' }));
    expect(err.code).toBe('HTTP.RATE_LIMITED');
    expect(err.retryAfterMs).toBe(2000);
    expect(seen).toHaveLength(1);
  });

  test('a lost connection is repeated for a read, never for a write (it may have been committed)', async () => {
    expect((await repeating().request({ method: 'GET', path: '/reset-once' })).body).toEqual({ id: 'r1' });
    expect(seen).toHaveLength(2);
    seen.length = 0;
    const err = await failure(repeating().request({ method: 'POST', path: '/reset', json: {} }));
    expect(err.code).toBe('HTTP.CONNECTION');
    expect(seen).toHaveLength(1);
  });

  test('a status the caller handles itself is answered, not repeated', async () => {
    expect((await repeating().request({ method: 'GET', path: '/boom', allowStatus: [503] })).status).toBe(503);
    expect(seen).toHaveLength(1);
  });
});

test('absolute URLs (e.g. a nextRecordsUrl on another host) are used as they are', () => {
  const c = client();
  expect(c.url('https://example.test/a?b=1').toString()).toBe('https://example.test/a?b=1');
  expect(c.url('/x', { p: 2 }).toString()).toBe(`${server.url}/x?p=2`);
});

test('an in-flight limit holds requests to the vendor at the limit, never above, and never leaves a slot idle while others wait', async () => {
  slow.peak = 0;
  const limit = new InFlightLimit(3);
  const c = client({ inFlight: limit });
  const started = Date.now();
  await Promise.all(Array.from({ length: 12 }, () => c.request({ method: 'GET', path: '/slow' })));
  const elapsed = Date.now() - started;
  expect(slow.peak).toBe(3);
  // 12 requests of 40 ms through 3 slots are 4 waves: at least 160 ms (slots held until each answer is read).
  expect(elapsed).toBeGreaterThanOrEqual(4 * 40 - 5);
  expect(limit.stats()).toEqual({ inFlight: 0, waiting: 0 });
  // Without the limit the same 12 are in flight together: the limit, not the server, made the 3.
  slow.peak = 0;
  await Promise.all(Array.from({ length: 12 }, () => client().request({ method: 'GET', path: '/slow' })));
  expect(slow.peak).toBe(12);
});

test('an in-flight slot is freed when the request fails (transport error or vendor refusal)', async () => {
  const limit = new InFlightLimit(1);
  const c = client({ inFlight: limit });
  await failure(c.request({ method: 'GET', path: '/reset' }));
  await failure(c.request({ method: 'GET', path: '/boom' }));
  expect(limit.stats()).toEqual({ inFlight: 0, waiting: 0 });
  await c.request({ method: 'GET', path: '/ok' });
});
