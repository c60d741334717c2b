import { request } from 'undici';
import { startTestSandbox, type TestSandbox } from '../support/sandbox';

let sb: TestSandbox;
beforeAll(async () => {
  sb = await startTestSandbox();
});
afterAll(async () => sb.close());

const call = async (method: 'GET' | 'POST', path: string, headers: Record<string, string> = {}, body?: string) => {
  const res = await request(`${sb.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  return { status: res.statusCode, body: (await res.body.json()) as unknown };
};

test('the host mounts NetSuite, Stripe and Avalara beside the other vendors', async () => {
  const health = (await call('GET', '/_sandbox/health')).body as { vendors: string[] };
  expect(health.vendors).toEqual(expect.arrayContaining(['netsuite', 'stripe', 'avalara']));
});

test('each rejects bad credentials with its own error body', async () => {
  expect(await call('GET', '/netsuite/services/rest/record/v1/customer/1', { authorization: 'Bearer nope' })).toEqual({
    status: 401,
    body: {
      type: 'https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2',
      title: 'Unauthorized',
      status: 401,
      'o:errorDetails': [
        {
          detail: 'Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail.',
          'o:errorCode': 'INVALID_LOGIN',
        },
      ],
    },
  });
  expect(await call('GET', '/stripe/v1/customers', { authorization: 'Bearer sk_test_wrongkey1234' })).toEqual({
    status: 401,
    body: { error: { type: 'invalid_request_error', message: 'Invalid API Key provided: sk_test_****1234' } },
  });
  const avalara = await call('POST', '/avalara/api/v2/transactions/create', { authorization: `Basic ${Buffer.from('1:2').toString('base64')}`, 'content-type': 'application/json' }, '{}');
  expect(avalara.status).toBe(401);
  expect((avalara.body as { error: { code: string; message: string } }).error).toMatchObject({ code: 'AuthenticationException', message: 'Authentication failed.' });
});

test('injected faults answer in the vendor error shape: NetSuite 429 is CONCURRENCY_LIMIT_EXCEEDED, Stripe 429 is rate_limit', async () => {
  sb.faults.add({ vendor: 'netsuite', kind: 'rate_limit', retryAfterSeconds: 1, times: 1 });
  sb.faults.add({ vendor: 'stripe', kind: 'rate_limit', retryAfterSeconds: 1, times: 1 });
  const ns = await call('GET', '/netsuite/services/rest/record/v1/customer/1');
  expect([ns.status, (ns.body as { 'o:errorDetails': { 'o:errorCode': string }[] })['o:errorDetails'][0]!['o:errorCode']]).toEqual([429, 'CONCURRENCY_LIMIT_EXCEEDED']);
  const st = await call('GET', '/stripe/v1/customers');
  expect(st).toEqual({ status: 429, body: { error: { type: 'invalid_request_error', message: 'rate limit exceeded', code: 'rate_limit' } } });
});
