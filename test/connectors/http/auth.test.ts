import { generateKeyPairSync, createVerify } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConnectorError } from '../../../src/connectors/errors';
import { ClientCredentialsAuth, HttpClient, JwtBearerAuth, basicAuth, bearerTokenAuth, secretFromEnv, secretFromFile, signJwtAssertion, staticSecret } from '../../../src/connectors/http';
import { json, startServer, type TestServer } from './helpers';

/** A tiny authorization server + API: tokens are `t<n>` and valid while their secret is the accepted one. */
let server: TestServer;
let acceptedSecrets = new Set(['s1']);
let issued = 0;
const validTokens = new Map<string, string>();
const grants: Record<string, string>[] = [];

beforeAll(async () => {
  server = await startServer((req, body, res) => {
    if (req.url === '/oauth/token') {
      const form = Object.fromEntries(new URLSearchParams(body));
      grants.push(form);
      const secret = form.client_secret ?? form.assertion ?? '';
      if (form.grant_type === 'client_credentials' && !acceptedSecrets.has(secret)) return json(res, 400, { error: 'invalid_client', error_description: 'bad secret' });
      const token = `t${++issued}`;
      validTokens.set(token, secret);
      return json(res, 200, { access_token: token, token_type: 'Bearer', expires_in: 3600 });
    }
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const secret = validTokens.get(token);
    if (secret === undefined || !acceptedSecrets.has(secret)) return json(res, 401, [{ errorCode: 'INVALID_SESSION_ID', message: 'Session expired or invalid' }]);
    return json(res, 200, { token });
  });
});
afterAll(() => server.close());
beforeEach(() => {
  acceptedSecrets = new Set(['s1']);
  issued = 0;
  validTokens.clear();
  grants.length = 0;
});

test('client credentials: token cached until refresh skew before expiry, then refreshed', async () => {
  let clock = 0;
  const auth = new ClientCredentialsAuth({ tokenUrl: `${server.url}/oauth/token`, clientId: 'cid', clientSecret: staticSecret('s1'), refreshSkewMs: 60_000, now: () => clock });
  const api = new HttpClient({ system: 'test', baseUrl: server.url, auth });
  expect((await api.request({ method: 'GET', path: '/api' })).body).toEqual({ token: 't1' });
  clock = 3_539_999; // 1 ms before expiry - skew
  expect((await api.request({ method: 'GET', path: '/api' })).body).toEqual({ token: 't1' });
  clock = 3_540_000;
  expect((await api.request({ method: 'GET', path: '/api' })).body).toEqual({ token: 't2' });
  expect(auth.tokenRequests).toBe(2);
  expect(grants[0]).toEqual({ grant_type: 'client_credentials', client_id: 'cid', client_secret: 's1' });
});

test('concurrent callers share one token request', async () => {
  const auth = new ClientCredentialsAuth({ tokenUrl: `${server.url}/oauth/token`, clientId: 'cid', clientSecret: staticSecret('s1') });
  const tokens = await Promise.all(Array.from({ length: 5 }, () => auth.headers()));
  expect(new Set(tokens.map((h) => h.authorization))).toEqual(new Set(['Bearer t1']));
  expect(auth.tokenRequests).toBe(1);
});

test('rotation: a rotated secret file is re-read after a 401 and the call succeeds', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'q2c-secret-'));
  const file = path.join(dir, 'client_secret');
  writeFileSync(file, 's1\n');
  const secret = secretFromFile(file);
  const auth = new ClientCredentialsAuth({ tokenUrl: `${server.url}/oauth/token`, clientId: 'cid', clientSecret: secret });
  const api = new HttpClient({ system: 'test', baseUrl: server.url, auth });
  expect((await api.request({ method: 'GET', path: '/api' })).body).toEqual({ token: 't1' });

  // The vendor rotates: only s2 is valid now (t1 dies with s1); the new value lands in the file.
  writeFileSync(file, 's2\n');
  acceptedSecrets = new Set(['s2']);
  expect((await api.request({ method: 'GET', path: '/api' })).body).toEqual({ token: 't2' });
  expect(grants.map((g) => g.client_secret)).toEqual(['s1', 's2']);
  expect(secret.previous()).toBe('s1');
});

test('rotation window: the old secret keeps working while the vendor accepts both', async () => {
  acceptedSecrets = new Set(['s1', 's2']);
  const auth = new ClientCredentialsAuth({ tokenUrl: `${server.url}/oauth/token`, clientId: 'cid', clientSecret: staticSecret('s1') });
  const api = new HttpClient({ system: 'test', baseUrl: server.url, auth });
  expect((await api.request({ method: 'GET', path: '/api' })).body).toEqual({ token: 't1' });
  expect(auth.tokenRequests).toBe(1);
});

test('a wrong secret that does not change on reload is HTTP.AUTH, not retryable', async () => {
  const auth = new ClientCredentialsAuth({ tokenUrl: `${server.url}/oauth/token`, clientId: 'cid', clientSecret: staticSecret('wrong') });
  const err = await auth.headers().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConnectorError);
  expect((err as ConnectorError).code).toBe('HTTP.AUTH');
  expect((err as ConnectorError).retryable).toBe(false);
  expect((err as ConnectorError).meta.vendorCode).toBe('invalid_client');
  expect(auth.tokenRequests).toBe(2); // once, then once more after re-reading the secret
});

test('JWT bearer: the assertion is RS256-signed with iss/sub/aud/exp', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const auth = new JwtBearerAuth({ tokenUrl: `${server.url}/oauth/token`, issuer: 'ik', subject: 'user-1', audience: 'account-d.docusign.com', privateKey: staticSecret(privateKey), scope: 'signature impersonation', now: () => 1_700_000_000_000 });
  expect(await auth.headers()).toEqual({ authorization: 'Bearer t1' });
  const grant = grants[0]!;
  expect(grant.grant_type).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
  const [h, p, s] = (grant.assertion ?? '').split('.') as [string, string, string];
  expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ alg: 'RS256', typ: 'JWT' });
  expect(JSON.parse(Buffer.from(p, 'base64url').toString())).toEqual({ iss: 'ik', sub: 'user-1', aud: 'account-d.docusign.com', iat: 1_700_000_000, exp: 1_700_000_180, scope: 'signature impersonation' });
  const v = createVerify('RSA-SHA256');
  v.update(`${h}.${p}`);
  expect(v.verify(publicKey, Buffer.from(s, 'base64url'))).toBe(true);
  expect(signJwtAssertion({ a: 1 }, privateKey).split('.')).toHaveLength(3);
});

test('bearer, basic and env secrets', async () => {
  const env: Record<string, string | undefined> = { TOKEN: 'abc', EMPTY: '' };
  expect(await bearerTokenAuth(secretFromEnv('TOKEN', env)).headers()).toEqual({ authorization: 'Bearer abc' });
  expect(await basicAuth(staticSecret('acct'), staticSecret('lic')).headers()).toEqual({ authorization: `Basic ${Buffer.from('acct:lic').toString('base64')}` });
  const missing = await secretFromEnv('EMPTY', env).get().catch((e: unknown) => e);
  expect((missing as ConnectorError).code).toBe('CONNECTOR.SECRET_MISSING');
  const rotating = bearerTokenAuth(secretFromEnv('TOKEN', env));
  await rotating.headers();
  expect(await rotating.onUnauthorized()).toBe(false); // same token: another try would fail the same way
  env.TOKEN = 'def';
  expect(await rotating.onUnauthorized()).toBe(true);
  expect(await rotating.headers()).toEqual({ authorization: 'Bearer def' });
});
