import { randomBytes } from 'node:crypto';
import { EncryptionCodec } from '../../src/codec/encryption.codec';
import type { DbHandle } from '../../src/db';
import type { ServiceDeps } from '../../src/service/app';
import { SECRETS, openTestDb, startHarness, type Harness } from './support/harness';

const KEY_CURRENT = { id: 'k2025', key: randomBytes(32) };
const KEY_RETIRED = { id: 'k2024', key: randomBytes(32) };
const KEY_FOREIGN = { id: 'other-team', key: randomBytes(32) };
const UI = 'http://localhost:8233';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const text = (s: string) => Buffer.from(s, 'base64').toString('utf8');
const read = { authorization: `Bearer ${SECRETS.operatorRead}` };
const json = { 'content-type': 'application/json', 'x-namespace': 'default' };

/** A JSON payload as the TypeScript SDK's default converter writes it, in protobuf JSON. */
const plainPayload = (value: unknown) => ({ metadata: { encoding: b64('json/plain') }, data: b64(JSON.stringify(value)) });

describe('codec server (Temporal remote codec protocol)', () => {
  let database: DbHandle;
  let h: Harness;
  const start = async (deps: Partial<ServiceDeps> = {}) => {
    h = await startHarness(database, { deps: { codec: new EncryptionCodec([KEY_CURRENT, KEY_RETIRED]), ...deps } });
  };
  const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
    h.inject({ method: 'POST', url, payload: JSON.stringify(body), headers: { ...json, ...read, ...headers } });

  beforeAll(async () => {
    database = await openTestDb();
  });
  afterAll(() => database.close());
  afterEach(() => h.close());

  it('encodes with the newest key and decodes back to the exact payloads; leaves unencrypted payloads alone', async () => {
    await start();
    const original = [plainPayload({ customer: 'Acme GmbH', amountMinor: 1250000 }), { metadata: { encoding: b64('binary/null') } }];

    const encoded = await post('/codec/encode', { payloads: original });
    expect(encoded.statusCode).toBe(200);
    const { payloads } = encoded.json();
    expect(payloads).toHaveLength(2);
    for (const p of payloads) {
      expect(Object.keys(p.metadata).sort()).toEqual(['encoding', 'encryption-key-id']);
      expect(text(p.metadata.encoding)).toBe('binary/encrypted');
      expect(text(p.metadata['encryption-key-id'])).toBe('k2025');
    }
    expect(text(payloads[0].data)).not.toContain('Acme');

    // What the service encrypted, the workers' codec (same keys, another instance) decrypts.
    const worker = new EncryptionCodec([KEY_CURRENT]);
    const [first] = await worker.decode([{ metadata: { encoding: Buffer.from(text(payloads[0].metadata.encoding)), 'encryption-key-id': Buffer.from('k2025') }, data: Buffer.from(payloads[0].data, 'base64') }]);
    expect(JSON.parse(Buffer.from(first!.data!).toString())).toEqual({ customer: 'Acme GmbH', amountMinor: 1250000 });

    const decoded = await post('/codec/decode', { payloads: [...payloads, plainPayload('already clear')] });
    expect(decoded.statusCode).toBe(200);
    expect(decoded.json()).toEqual({ payloads: [...original, plainPayload('already clear')] });
  });

  it('decodes history written under a retired key that is still listed', async () => {
    await start();
    const [old] = await new EncryptionCodec([KEY_RETIRED]).encode([{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"2024 deal"') }]);
    const res = await post('/codec/decode', { payloads: [{ metadata: { encoding: b64('binary/encrypted'), 'encryption-key-id': b64('k2024') }, data: Buffer.from(old!.data!).toString('base64') }] });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ payloads: [plainPayload('2024 deal')] });
  });

  it('answers 400 naming the payload and the key when a payload is encrypted with an unknown key', async () => {
    await start();
    const [foreign] = await new EncryptionCodec([KEY_FOREIGN]).encode([{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"secret"') }]);
    const asJson = { metadata: { encoding: b64('binary/encrypted'), 'encryption-key-id': b64('other-team') }, data: Buffer.from(foreign!.data!).toString('base64') };
    const res = await post('/codec/decode', { payloads: [plainPayload(1), asJson] });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error: 'BAD_REQUEST',
      message: "could not decode payloads.1: payload encrypted with unknown key 'other-team'",
      issues: [{ path: 'payloads.1', message: "payload encrypted with unknown key 'other-team'" }],
    });

    // Right key id, wrong bytes: GCM authentication fails, also a 400.
    const tampered = { ...asJson, metadata: { ...asJson.metadata, 'encryption-key-id': b64('k2025') } };
    const bad = await post('/codec/decode', { payloads: [tampered] });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toBe('could not decode payloads.0: Unsupported state or unable to authenticate data');
  });

  it('validates the body: not base64, not a payload list, not JSON', async () => {
    await start();
    // Raw JSON where protobuf JSON has base64 bytes.
    const notBase64 = await post('/codec/decode', { payloads: [{ metadata: { encoding: b64('json/plain') }, data: '{"a":1}' }] });
    expect(notBase64.statusCode).toBe(400);
    expect(notBase64.json()).toEqual({ error: 'BAD_REQUEST', message: 'invalid decode request', issues: [{ path: 'payloads.0.data', message: 'expected base64' }] });
    // Unpadded and URL-safe base64 are protobuf JSON too.
    const loose = await post('/codec/decode', { payloads: [{ metadata: { encoding: b64('json/plain').replace(/=+$/, '') }, data: 'e30' }] });
    expect(loose.json()).toEqual({ payloads: [plainPayload({})] });
    const noList = await post('/codec/encode', { payload: [] });
    expect(noList.json().issues).toEqual([{ path: 'payloads', message: 'Invalid input: expected array, received undefined' }]);
    const malformed = await h.inject({ method: 'POST', url: '/codec/decode', payload: '{"payloads":', headers: { ...json, ...read } });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error).toBe('BAD_REQUEST');
  });

  it('answers the Web UI preflight with exact CORS headers, without a key', async () => {
    await start();
    const pre = await h.inject({
      method: 'OPTIONS',
      url: '/codec/decode',
      headers: { origin: UI, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' },
    });
    expect(pre.statusCode).toBe(204);
    const cors = Object.fromEntries(Object.entries(pre.headers).filter(([k]) => k.startsWith('access-control-') || k === 'vary'));
    expect(cors).toEqual({
      'access-control-allow-origin': UI,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'POST, OPTIONS',
      'access-control-allow-headers': 'Authorization, Content-Type, X-Namespace',
      'access-control-max-age': '600',
      vary: 'Origin',
    });
    expect(pre.body).toBe('');

    const res = await post('/codec/decode', { payloads: [plainPayload(1)] }, { origin: UI });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(UI);
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(res.headers.vary).toBe('Origin');

    // The UI can read why it was refused.
    const noKey = await h.inject({ method: 'POST', url: '/codec/decode', payload: '{"payloads":[]}', headers: { ...json, origin: UI } });
    expect(noKey.statusCode).toBe(401);
    expect(noKey.headers['access-control-allow-origin']).toBe(UI);
  });

  it('refuses other origins (preflight and request) and honours a configured origin list', async () => {
    await start({ codecCorsOrigins: ['https://temporal.example.com'] });
    for (const origin of [UI, 'https://evil.example', 'https://temporal.example.com.evil.example']) {
      const pre = await h.inject({ method: 'OPTIONS', url: '/codec/encode', headers: { origin, 'access-control-request-method': 'POST' } });
      expect(pre.statusCode).toBe(403);
      expect(pre.headers['access-control-allow-origin']).toBeUndefined();
      const res = await post('/codec/encode', { payloads: [] }, { origin });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual({ error: 'FORBIDDEN', message: `origin '${origin}' is not allowed to use the codec` });
    }
    const ok = await h.inject({ method: 'OPTIONS', url: '/codec/encode', headers: { origin: 'https://temporal.example.com', 'access-control-request-method': 'POST' } });
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('https://temporal.example.com');
  });

  it('needs a read key (Bearer or Basic), unless open on loopback; is absent without a codec', async () => {
    await start();
    const body = { payloads: [plainPayload('x')] };
    expect((await h.inject({ method: 'POST', url: '/codec/decode', payload: JSON.stringify(body), headers: json })).statusCode).toBe(401);
    const basic = { authorization: `Basic ${b64(`dashboard:${SECRETS.operatorRead}`)}` };
    expect((await post('/codec/decode', body, basic)).statusCode).toBe(200);
    await h.close();

    await start({ openOnLoopback: true });
    const open = await h.inject({ method: 'POST', url: '/codec/decode', payload: JSON.stringify(body), headers: json });
    expect(open.statusCode).toBe(200);
    expect(open.json()).toEqual(body);
    // A presented key must still be valid.
    expect((await post('/codec/decode', body, { authorization: 'Bearer not-a-key-at-all-000' })).statusCode).toBe(401);
    await h.close();

    h = await startHarness(database);
    const none = await post('/codec/decode', body);
    expect(none.statusCode).toBe(404);
  });
});
