import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Contract } from '../../../src/canonical';
import { DocuSignClmAdapter, createDocuSignHttp } from '../../../src/connectors/clm/docusign.adapter';
import { verifyDocuSignConnect } from '../../../src/connectors/clm/docusign.connect';
import { ConnectorError } from '../../../src/connectors/errors';
import { HttpClient, JwtBearerAuth, staticSecret } from '../../../src/connectors/http';
import { SANDBOX_CLIENT_ID, SANDBOX_DOCUSIGN_ACCOUNT_ID, SANDBOX_DOCUSIGN_HMAC_KEYS, SANDBOX_JWT_PRIVATE_KEY } from '../../../src/sandbox/credentials';
import { DOCUSIGN_SANDBOX_AUDIENCE, DOCUSIGN_SANDBOX_USER_ID } from '../../../src/sandbox/docusign/docusign.sandbox';
import { startTestSandbox, type TestSandbox } from '../../support/sandbox';

interface Delivery {
  raw: string;
  headers: Record<string, string | string[] | undefined>;
  event: string;
  envelopeId: string;
  status: string;
}

let sandbox: TestSandbox;
let receiver: Server;
let clm: DocuSignClmAdapter;
let control: HttpClient;
let auth: JwtBearerAuth;
const deliveries: Delivery[] = [];

const contract = (id: string) =>
  Contract.parse({
    id,
    version: 2,
    status: 'SENT',
    opportunityId: `opp-${id}`,
    quoteId: 'q-1',
    customerId: 'cust-1',
    billToCustomerId: 'cust-1',
    contractingLegalEntityId: 'le-us',
    currency: 'USD',
    paymentTerms: { netDays: 30 },
    startDate: '2025-04-01',
    endDate: '2025-12-31',
    ruleSet: { id: 'default', version: 1 },
    lines: [
      { id: 'cl-1', quoteLineId: 'ql-1', billingModel: 'TIME_AND_MATERIALS', startDate: '2025-04-01', endDate: '2025-12-31', taxCode: 'SRV', revenueTreatment: 'AS_INVOICED', invoiceSchedule: 'MONTHLY', rateCardRef: 'rc-1', allocatedValue: { amountMinor: 5_000_000, currency: 'USD' } },
    ],
  });

const envelopeInput = (id: string) => ({
  contract: contract(id),
  document: { name: 'MSA.pdf', fileExtension: 'pdf', contentBase64: Buffer.from('%PDF-1.4 contract').toString('base64') },
  signers: [{ name: 'Dana Buyer', email: 'dana@customer.example' }],
  emailSubject: `Please sign contract ${id}`,
  idempotencyKey: `deal-opp-${id}/send-for-signature/${id}@2`,
});

const failure = async (p: Promise<unknown>): Promise<ConnectorError> => {
  try {
    await p;
  } catch (err) {
    if (err instanceof ConnectorError) return err;
    throw err;
  }
  throw new Error('expected a ConnectorError');
};

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const msg = JSON.parse(raw) as { event: string; data: { envelopeId: string; envelopeSummary: { status: string } } };
      deliveries.push({ raw, headers: req.headers, event: msg.event, envelopeId: msg.data.envelopeId, status: msg.data.envelopeSummary.status });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  sandbox = await startTestSandbox({ webhookTargets: { docusign: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/docusign` } });
  const base = `${sandbox.url}/docusign`;
  auth = new JwtBearerAuth({ tokenUrl: `${base}/oauth/token`, issuer: SANDBOX_CLIENT_ID, subject: DOCUSIGN_SANDBOX_USER_ID, audience: DOCUSIGN_SANDBOX_AUDIENCE, scope: 'signature impersonation', privateKey: staticSecret(SANDBOX_JWT_PRIVATE_KEY) });
  clm = new DocuSignClmAdapter(createDocuSignHttp({ baseUrl: base, auth, timeoutMs: 2000 }), { accountId: SANDBOX_DOCUSIGN_ACCOUNT_ID });
  control = new HttpClient({ system: 'docusign-control', baseUrl: base });
});
afterAll(async () => {
  await sandbox.close();
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
});
beforeEach(() => {
  deliveries.length = 0;
  sandbox.faults.clear();
});

const envelopes = async (key: string) => (await sandbox.store.list('docusign', 'envelope')).items.filter((r) => JSON.stringify(r.data).includes(key));

test('creates an envelope once; the same key finds it again', async () => {
  const input = envelopeInput('c-100');
  const first = await clm.createEnvelope(input);
  expect([first.status, first.created]).toEqual(['sent', true]);
  expect(first.envelopeId).toMatch(/^00000000-0000-4000-8000-\d{12}$/);
  expect(await clm.createEnvelope(input)).toEqual({ envelopeId: first.envelopeId, status: 'sent', created: false });
  expect(await envelopes(input.idempotencyKey)).toHaveLength(1);

  const state = await clm.getEnvelope(first.envelopeId);
  expect(state).toEqual({
    envelopeId: first.envelopeId,
    status: 'sent',
    contractId: 'c-100',
    contractVersion: 2,
    sentAt: state.sentAt,
    completedAt: null,
    declinedAt: null,
    voidedAt: null,
    voidedReason: null,
  });
  expect(typeof state.sentAt).toBe('string');
  const stored = (await envelopes(input.idempotencyKey))[0]!.data as { recipients: { signers: unknown[] }; customFields: { textCustomFields: { name: string; value: string }[] }; documents: unknown[] };
  expect(stored.recipients.signers).toEqual([{ email: 'dana@customer.example', name: 'Dana Buyer', recipientId: '1', routingOrder: '1', status: 'sent' }]);
  expect(stored.customFields.textCustomFields.map((f) => [f.name, f.value])).toEqual([
    ['q2cIdempotencyKey', input.idempotencyKey],
    ['opportunityId', 'opp-c-100'],
    ['contractId', 'c-100'],
    ['contractVersion', '2'],
  ]);
  expect(stored.documents).toEqual([{ documentId: '1', name: 'MSA.pdf', fileExtension: 'pdf', bytes: 17 }]);
});

test('timeout after commit: the retry finds the envelope; exactly one exists', async () => {
  const input = envelopeInput('c-101');
  sandbox.faults.add({ vendor: 'docusign', kind: 'timeout_after_commit', method: 'POST', path: '/envelopes$', times: 1 });
  const err = await failure(clm.createEnvelope(input));
  expect(['HTTP.TIMEOUT', 'HTTP.CONNECTION']).toContain(err.code);
  expect(err.retryable).toBe(true);
  const retry = await clm.createEnvelope(input);
  expect(retry.created).toBe(false);
  const all = await envelopes(input.idempotencyKey);
  expect(all.map((r) => r.id)).toEqual([retry.envelopeId]);
});

test('completion is pushed by Connect, signed with every active HMAC key', async () => {
  const { envelopeId } = await clm.createEnvelope(envelopeInput('c-102'));
  await control.request({ method: 'POST', path: `/_sandbox/envelopes/${envelopeId}/complete` });
  await sandbox.webhooks.idle();
  expect(deliveries.map((d) => [d.event, d.envelopeId, d.status])).toEqual([['envelope-completed', envelopeId, 'completed']]);
  const d = deliveries[0]!;
  expect(Object.keys(d.headers).filter((h) => h.startsWith('x-docusign-signature-')).sort()).toEqual(['x-docusign-signature-1', 'x-docusign-signature-2']);
  expect(verifyDocuSignConnect(d.raw, d.headers, [SANDBOX_DOCUSIGN_HMAC_KEYS[1]])).toEqual({ ok: true });
  expect(verifyDocuSignConnect(d.raw, d.headers, ['old-key', SANDBOX_DOCUSIGN_HMAC_KEYS[0]])).toEqual({ ok: true });
  expect(verifyDocuSignConnect(d.raw, d.headers, ['wrong'])).toEqual({ ok: false, reason: 'BAD_SIGNATURE' });
  expect(verifyDocuSignConnect(`${d.raw} `, d.headers, [...SANDBOX_DOCUSIGN_HMAC_KEYS])).toEqual({ ok: false, reason: 'BAD_SIGNATURE' });
  expect(verifyDocuSignConnect(d.raw, {}, [...SANDBOX_DOCUSIGN_HMAC_KEYS])).toEqual({ ok: false, reason: 'MISSING_SIGNATURE' });
  expect(verifyDocuSignConnect(d.raw, d.headers, [])).toEqual({ ok: false, reason: 'NO_SECRET_CONFIGURED' });
  const state = await clm.getEnvelope(envelopeId);
  expect(state.status).toBe('completed');
  expect(typeof state.completedAt).toBe('string');
});

test('decline and void arrive as Connect events; void is idempotent; a completed envelope cannot be voided', async () => {
  const a = await clm.createEnvelope(envelopeInput('c-103'));
  const b = await clm.createEnvelope(envelopeInput('c-104'));
  await control.request({ method: 'POST', path: `/_sandbox/envelopes/${a.envelopeId}/decline`, json: { reason: 'price too high' } });
  await clm.voidEnvelope(b.envelopeId, 'superseded by amendment');
  await clm.voidEnvelope(b.envelopeId, 'superseded by amendment');
  await sandbox.webhooks.idle();
  expect(deliveries.map((d) => [d.event, d.envelopeId])).toEqual([
    ['envelope-declined', a.envelopeId],
    ['envelope-voided', b.envelopeId],
  ]);
  expect(JSON.parse(deliveries[0]!.raw).data.envelopeSummary.recipients.signers[0]).toMatchObject({ status: 'declined', declinedReason: 'price too high' });
  const voided = await clm.getEnvelope(b.envelopeId);
  expect([voided.status, voided.voidedReason]).toEqual(['voided', 'superseded by amendment']);

  const c = await clm.createEnvelope(envelopeInput('c-105'));
  await control.request({ method: 'POST', path: `/_sandbox/envelopes/${c.envelopeId}/complete` });
  const err = await failure(clm.voidEnvelope(c.envelopeId, 'too late'));
  expect([err.code, err.retryable, err.meta.vendorCode]).toEqual(['DOCUSIGN.ENVELOPE_STATE', false, 'ENVELOPE_CANNOT_VOID_INVALID_STATE']);
});

test('Connect hazards: duplicate, out of order and late deliveries', async () => {
  const a = await clm.createEnvelope(envelopeInput('c-106'));
  const b = await clm.createEnvelope(envelopeInput('c-107'));
  const c = await clm.createEnvelope(envelopeInput('c-108'));
  sandbox.faults.add({ vendor: 'docusign', kind: 'webhook_duplicate', eventType: 'envelope-completed', times: 1 });
  await control.request({ method: 'POST', path: `/_sandbox/envelopes/${a.envelopeId}/complete` });
  await sandbox.webhooks.idle();
  expect(deliveries.map((d) => d.envelopeId)).toEqual([a.envelopeId, a.envelopeId]);
  expect(deliveries[0]!.raw).toBe(deliveries[1]!.raw);

  deliveries.length = 0;
  sandbox.faults.add({ vendor: 'docusign', kind: 'webhook_out_of_order', times: 1 });
  await control.request({ method: 'POST', path: `/_sandbox/envelopes/${b.envelopeId}/complete` });
  await clm.voidEnvelope(c.envelopeId, 'customer withdrew');
  await sandbox.webhooks.idle();
  expect(deliveries.map((d) => [d.event, d.envelopeId])).toEqual([
    ['envelope-voided', c.envelopeId],
    ['envelope-completed', b.envelopeId],
  ]);

  deliveries.length = 0;
  const d = await clm.createEnvelope(envelopeInput('c-109'));
  sandbox.faults.add({ vendor: 'docusign', kind: 'webhook_late', delayMs: 500, times: 1 });
  const t0 = Date.now();
  await control.request({ method: 'POST', path: `/_sandbox/envelopes/${d.envelopeId}/complete` });
  expect(deliveries).toHaveLength(0);
  await sandbox.webhooks.idle();
  expect(deliveries.map((x) => x.envelopeId)).toEqual([d.envelopeId]);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(490);
});

test('errors: unknown envelope, rate limit, expired token refreshed', async () => {
  const e404 = await failure(clm.getEnvelope('00000000-0000-4000-8000-999999999999'));
  expect([e404.code, e404.retryable, e404.meta.vendorCode]).toEqual(['HTTP.NOT_FOUND', false, 'ENVELOPE_DOES_NOT_EXIST']);

  sandbox.faults.add({ vendor: 'docusign', kind: 'rate_limit', retryAfterSeconds: 5, times: 1 });
  const e429 = await failure(clm.getEnvelope('x'));
  expect([e429.code, e429.retryAfterMs, e429.meta.vendorCode]).toEqual(['HTTP.RATE_LIMITED', 5000, 'HOURLY_APIINVOCATION_LIMIT_EXCEEDED']);

  const { envelopeId } = await clm.createEnvelope(envelopeInput('c-110'));
  const before = auth.tokenRequests;
  await control.request({ method: 'POST', path: '/_sandbox/revoke-tokens' });
  expect((await clm.getEnvelope(envelopeId)).status).toBe('sent');
  expect(auth.tokenRequests).toBe(before + 1);
});

test('a JWT without the signature scope is refused with HTTP.AUTH', async () => {
  const base = `${sandbox.url}/docusign`;
  const noScope = new JwtBearerAuth({ tokenUrl: `${base}/oauth/token`, issuer: SANDBOX_CLIENT_ID, subject: DOCUSIGN_SANDBOX_USER_ID, audience: 'account.docusign.com', privateKey: staticSecret(SANDBOX_JWT_PRIVATE_KEY) });
  const adapter = new DocuSignClmAdapter(createDocuSignHttp({ baseUrl: base, auth: noScope }), { accountId: SANDBOX_DOCUSIGN_ACCOUNT_ID });
  const err = await failure(adapter.getEnvelope('x'));
  expect([err.code, err.meta.vendorCode]).toEqual(['HTTP.AUTH', 'invalid_grant']);
});

test('resend reminds a sent envelope and does nothing for a completed one', async () => {
  const a = await clm.createEnvelope(envelopeInput('c-111'));
  await clm.resendEnvelope(a.envelopeId);
  await clm.resendEnvelope(a.envelopeId);
  expect((await sandbox.store.get('docusign', 'envelope', a.envelopeId))!.data.resendCount).toBe(2);
  await control.request({ method: 'POST', path: `/_sandbox/envelopes/${a.envelopeId}/complete` });
  await clm.resendEnvelope(a.envelopeId);
  expect((await sandbox.store.get('docusign', 'envelope', a.envelopeId))!.data.resendCount).toBe(2);
});
