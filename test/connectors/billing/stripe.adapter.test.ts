import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Stripe from 'stripe';
import type { Customer, Invoice } from '../../../src/canonical';
import { createStripeAdapter } from '../../../src/connectors/billing/stripe.adapter';
import { ConnectorError } from '../../../src/connectors/errors';
import { secretFromFile, staticSecret } from '../../../src/connectors/http';
import { STRIPE_SANDBOX, STRIPE_VENDOR } from '../../../src/sandbox/stripe/stripe.sandbox';
import { startTestSandbox, type TestSandbox } from '../../support/sandbox';
import { postedInvoice } from '../../support/invoice-fixture';

interface Received {
  signature: string;
  body: string;
}
let received: Received[] = [];
let receiver: Server;
let sb: TestSandbox;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      received.push({ signature: String(req.headers['stripe-signature']), body });
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const port = (receiver.address() as { port: number }).port;
  sb = await startTestSandbox({ vendors: [STRIPE_VENDOR], webhookTargets: { stripe: `http://127.0.0.1:${port}/webhooks/stripe` } });
});
afterAll(async () => {
  await sb.close();
  await new Promise<void>((r) => receiver.close(() => r()));
});
afterEach(() => sb.faults.clear());

const adapter = (opts: { apiKey?: ReturnType<typeof staticSecret>; timeoutMs?: number } = {}) =>
  createStripeAdapter({ apiKey: opts.apiKey ?? staticSecret(STRIPE_SANDBOX.apiKey), webhookSecret: STRIPE_SANDBOX.webhookSecret, baseUrl: `${sb.url}/stripe`, timeoutMs: opts.timeoutMs ?? 5_000 });

const usd = (amountMinor: number) => ({ amountMinor, currency: 'USD' });
const customer = (id: string): Customer => ({
  id,
  name: `Acme ${id}`,
  billTo: { address: { line1: '1 Main St', city: 'San Jose', region: 'CA', postalCode: '95113', country: 'US' }, email: 'ap@acme.test' },
  legalEntityId: 'le-us',
  parentId: null,
  currency: 'USD',
  externalIds: {},
  status: 'ACTIVE',
});
const invoice = (id: string): Invoice => postedInvoice(id);
const records = async (kind: string) => (await sb.store.list<Record<string, unknown>>('stripe', kind)).items.map((r) => r.data);
const events = async (type: string) => {
  await sb.webhooks.idle();
  return received.filter((r) => (JSON.parse(r.body) as { type: string }).type === type);
};

let cus: string;
beforeAll(async () => {
  cus = (await adapter().createCustomer(customer('cust-1'), 'deal-opp-1:billing-customer:cust-1')).id;
});

test('createCustomer with an Idempotency-Key: a repeat replays the first response, one customer exists', async () => {
  const again = await adapter().createCustomer(customer('cust-1'), 'deal-opp-1:billing-customer:cust-1');
  expect(again.id).toBe(cus);
  const all = (await records('customer')).filter((c) => (c['metadata'] as Record<string, string>)['q2c_customer_id'] === 'cust-1');
  expect(all.map((c) => [c['id'], c['name'], c['email']])).toEqual([[cus, 'Acme cust-1', 'ap@acme.test']]);
});

test('the same key with different parameters is STRIPE.IDEMPOTENCY_MISMATCH, not retryable', async () => {
  const err = await adapter()
    .createCustomer({ ...customer('cust-1'), name: 'Someone else' }, 'deal-opp-1:billing-customer:cust-1')
    .catch((e: unknown) => e);
  expect([(err as ConnectorError).code, (err as ConnectorError).retryable, (err as ConnectorError).meta.status]).toEqual(['STRIPE.IDEMPOTENCY_MISMATCH', false, 400]);
});

test('createInvoice: draft, one item per line plus tax, finalized; the whole call replayed gives the same invoice', async () => {
  const a = adapter();
  const input = { invoice: invoice('inv-1'), billingCustomerId: cus, idempotencyKey: 'deal-opp-1:stripe-invoice:inv-1', daysUntilDue: 30, finalize: true };
  const inv = await a.createInvoice(input);
  expect(inv).toEqual({ id: inv.id, billingCustomerId: cus, status: 'open', total: usd(1_538_573), amountPaid: usd(0), amountDue: usd(1_538_573), canonicalInvoiceId: 'inv-1', lineCount: 3 });
  const again = await a.createInvoice(input);
  expect(again).toEqual(inv);
  expect((await records('invoiceitem')).filter((i) => i['invoice'] === inv.id).map((i) => i['amount'])).toEqual([1_234_567, 200_000, 104_006]);
  expect((await records('invoice')).filter((i) => (i['metadata'] as Record<string, string>)['q2c_invoice_id'] === 'inv-1')).toHaveLength(1);
});

test("each invoice item carries its line's service period as Stripe's period (unix seconds, inclusive)", async () => {
  const base = invoice('inv-sp');
  const withPeriod = { ...base, lines: [{ ...base.lines[0]!, servicePeriod: { start: '2025-01-06', end: '2025-01-29' } }, { ...base.lines[1]!, servicePeriod: { start: '2025-01-01', end: '2025-01-31' } }] };
  const inv = await adapter().createInvoice({ invoice: withPeriod, billingCustomerId: cus, idempotencyKey: 'deal-opp-1:stripe-invoice:inv-sp', daysUntilDue: 30, finalize: false });
  const items = (await records('invoiceitem')).filter((i) => i['invoice'] === inv.id && (i['metadata'] as Record<string, string>)['q2c_invoice_line_id']);
  // 2025-01-06T00:00:00Z = 1736121600, 2025-01-29T00:00:00Z = 1738108800 (+ 23 days x 86,400);
  // 2025-01-01T00:00:00Z = 1735689600, 2025-01-31T00:00:00Z = 1738281600 (+ 30 x 86,400)
  expect(items.map((i) => [(i['metadata'] as Record<string, string>)['q2c_invoice_line_id'], i['period']])).toEqual([
    ['inv-sp-l1', { start: 1_736_121_600, end: 1_738_108_800 }],
    ['inv-sp-l2', { start: 1_735_689_600, end: 1_738_281_600 }],
  ]);
});

test('timeout after commit on an invoice item: the retry replays it, the invoice has each item once', async () => {
  sb.faults.add({ vendor: 'stripe', kind: 'timeout_after_commit', method: 'POST', path: '^/v1/invoiceitems$', delayMs: 1_500, times: 1 });
  const a = adapter({ timeoutMs: 600 });
  const input = { invoice: invoice('inv-2'), billingCustomerId: cus, idempotencyKey: 'deal-opp-1:stripe-invoice:inv-2', daysUntilDue: 30, finalize: true };
  const err = await a.createInvoice(input).catch((e: unknown) => e);
  expect([(err as ConnectorError).code, (err as ConnectorError).retryable]).toEqual(['HTTP.TIMEOUT', true]);
  const inv = await a.createInvoice(input);
  expect([inv.status, inv.total, inv.lineCount]).toEqual(['open', usd(1_538_573), 3]);
  expect((await records('invoiceitem')).filter((i) => i['invoice'] === inv.id)).toHaveLength(3);
});

test('markInvoicePaid -> paid; invoice.paid webhook is signed so stripe.webhooks.constructEvent accepts it', async () => {
  const a = adapter();
  const inv = await a.createInvoice({ invoice: invoice('inv-3'), billingCustomerId: cus, idempotencyKey: 'deal-opp-1:stripe-invoice:inv-3', daysUntilDue: 30, finalize: true });
  const paid = await a.markInvoicePaid(inv.id, 'deal-opp-1:paid:inv-3');
  expect([paid.status, paid.amountPaid, paid.amountDue]).toEqual(['paid', usd(1_538_573), usd(0)]);
  const [hook] = await events('invoice.paid');
  expect(hook).toBeDefined();
  // The SDK's own verifier, independent of the adapter:
  const sdkEvent = new Stripe('sk_unused').webhooks.constructEvent(hook!.body, hook!.signature, STRIPE_SANDBOX.webhookSecret);
  expect([sdkEvent.type, (sdkEvent.data.object as { id: string }).id]).toEqual(['invoice.paid', inv.id]);
  const parsed = a.parseWebhook(hook!.body, hook!.signature);
  expect([parsed.type, parsed.objectId, parsed.amount, parsed.metadata['q2c_invoice_id']]).toEqual(['invoice.paid', inv.id, usd(1_538_573), 'inv-3']);
});

test('createCreditNote: custom lines lower what an open invoice asks for; a repeat creates nothing; more than remains is refused', async () => {
  const a = adapter();
  const inv = await a.createInvoice({ invoice: invoice('inv-cn'), billingCustomerId: cus, idempotencyKey: 'deal-opp-1:stripe-invoice:inv-cn', daysUntilDue: 30, finalize: true });
  const input = { billingInvoiceId: inv.id, lines: [{ description: 'credit 6 h', amount: usd(90_000) }, { description: 'Sales tax credit', amount: usd(7_988) }], memo: 'DISPUTE: credit memo CM-1', metadata: { q2c_credit_memo_id: 'CM-1' }, idempotencyKey: 'deal-opp-1:credit-memo:CM-1' };
  const note = await a.createCreditNote(input);
  // 90,000 + 7,988 = 97,988 off the invoice's 1,538,573: 1,440,585 remains.
  expect([note.total, note.type]).toEqual([usd(97_988), 'pre_payment']);
  expect((await a.createCreditNote(input)).id).toBe(note.id);
  expect((await records('credit_note')).filter((n) => n['invoice'] === inv.id)).toHaveLength(1);
  expect((await records('invoice')).find((i) => i['id'] === inv.id)!['amount_remaining']).toBe(1_440_585);
  const err = await a.createCreditNote({ ...input, lines: [{ description: 'too much', amount: usd(1_440_586) }], idempotencyKey: 'deal-opp-1:credit-memo:CM-2' }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConnectorError);
});

test('a tampered or wrongly signed webhook is STRIPE.SIGNATURE_INVALID', async () => {
  const [hook] = await events('invoice.paid');
  const a = adapter();
  for (const [body, sig] of [
    [hook!.body.replace('"paid"', '"void"'), hook!.signature],
    [hook!.body, hook!.signature.replace(/v1=[0-9a-f]{4}/, 'v1=0000')],
  ] as const) {
    const err = (() => {
      try {
        a.parseWebhook(body, sig);
        return undefined;
      } catch (e) {
        return e;
      }
    })();
    expect([(err as ConnectorError).code, (err as ConnectorError).retryable]).toEqual(['STRIPE.SIGNATURE_INVALID', false]);
  }
});

test('listInvoices follows starting_after to the last page (newest first)', async () => {
  const a = adapter();
  const other = (await a.createCustomer(customer('cust-list'), 'deal-opp-2:billing-customer:cust-list')).id;
  const ids: string[] = [];
  for (const n of [1, 2, 3, 4, 5]) ids.push((await a.createInvoice({ invoice: invoice(`list-${n}`), billingCustomerId: other, idempotencyKey: `deal-opp-2:inv:${n}`, daysUntilDue: 15, finalize: false })).id);
  const list = await a.listInvoices(other, 2);
  expect(list.map((i) => i.id)).toEqual([...ids].reverse());
  expect(list.map((i) => i.status)).toEqual(['draft', 'draft', 'draft', 'draft', 'draft']);
});

test('createSubscription: a monthly support price; the first period is invoiced in advance; cancel', async () => {
  const a = adapter();
  const sub = await a.createSubscription({ billingCustomerId: cus, pricePerMonth: usd(150_000), productName: 'Premium support', idempotencyKey: 'deal-opp-1:support:cl-2', metadata: { q2c_contract_line_id: 'cl-2' }, daysUntilDue: 30 });
  expect(sub).toEqual({ id: sub.id, billingCustomerId: cus, status: 'active', pricePerMonth: usd(150_000), priceId: sub.priceId });
  const replay = await a.createSubscription({ billingCustomerId: cus, pricePerMonth: usd(150_000), productName: 'Premium support', idempotencyKey: 'deal-opp-1:support:cl-2', metadata: { q2c_contract_line_id: 'cl-2' }, daysUntilDue: 30 });
  expect(replay.id).toBe(sub.id);
  const subInvoices = (await records('invoice')).filter((i) => i['subscription'] === sub.id);
  expect(subInvoices.map((i) => [i['status'], i['total']])).toEqual([['open', 150_000]]);
  expect(await records('subscription')).toHaveLength(1);
  expect((await a.cancelSubscription(sub.id)).status).toBe('canceled');
});

test('collectPayment -> canonical payment and payment_intent.succeeded; partial refund -> charge.refunded; declined card', async () => {
  const a = adapter();
  const p = await a.collectPayment({ customerId: 'cust-1', billingCustomerId: cus, amount: usd(50_000), idempotencyKey: 'deal-opp-1:pay:inv-1', paymentMethod: STRIPE_SANDBOX.paymentMethodOk, invoiceId: 'inv-1' });
  expect(p).toEqual({ id: p.id, customerId: 'cust-1', amount: usd(50_000), receivedOn: new Date().toISOString().slice(0, 10), method: 'CARD', reference: p.reference, allocations: [{ invoiceId: 'inv-1', amount: usd(50_000) }], externalIds: { stripe: p.id } });
  expect(p.reference).toMatch(/^ch_/);
  const again = await a.collectPayment({ customerId: 'cust-1', billingCustomerId: cus, amount: usd(50_000), idempotencyKey: 'deal-opp-1:pay:inv-1', paymentMethod: STRIPE_SANDBOX.paymentMethodOk, invoiceId: 'inv-1' });
  expect(again.id).toBe(p.id);
  expect(await records('charge')).toHaveLength(1);
  const [succeeded] = await events('payment_intent.succeeded');
  expect(a.parseWebhook(succeeded!.body, succeeded!.signature)).toMatchObject({ type: 'payment_intent.succeeded', objectId: p.id, amount: usd(50_000) });

  const refund = await a.refundPayment(p.id, usd(20_000), 'deal-opp-1:refund:inv-1');
  expect([refund.status, refund.amount]).toEqual(['succeeded', usd(20_000)]);
  const [refunded] = await events('charge.refunded');
  expect(a.parseWebhook(refunded!.body, refunded!.signature)).toMatchObject({ type: 'charge.refunded', objectId: p.reference, amount: usd(20_000) });

  const declined = await a.collectPayment({ customerId: 'cust-1', billingCustomerId: cus, amount: usd(50_000), idempotencyKey: 'deal-opp-1:pay:inv-9', paymentMethod: STRIPE_SANDBOX.paymentMethodDeclined }).catch((e: unknown) => e);
  expect([(declined as ConnectorError).code, (declined as ConnectorError).retryable, (declined as ConnectorError).meta.vendorCode]).toEqual(['STRIPE.CARD_DECLINED', false, 'card_declined']);
});

test('duplicate webhook delivery: the same signed event (same id) arrives twice', async () => {
  sb.faults.add({ vendor: 'stripe', kind: 'webhook_duplicate', eventType: '^invoice\\.finalized$', times: 1 });
  received = [];
  const a = adapter();
  await a.createInvoice({ invoice: invoice('inv-dup'), billingCustomerId: cus, idempotencyKey: 'deal-opp-1:stripe-invoice:inv-dup', daysUntilDue: 30, finalize: true });
  const hooks = await events('invoice.finalized');
  expect(hooks).toHaveLength(2);
  expect(hooks.map((h) => a.parseWebhook(h.body, h.signature).id)).toEqual([a.parseWebhook(hooks[0]!.body, hooks[0]!.signature).id, a.parseWebhook(hooks[0]!.body, hooks[0]!.signature).id]);
});

test('errors: bad key -> HTTP.AUTH; 429 -> HTTP.RATE_LIMITED with Retry-After; 500 -> HTTP.SERVER_ERROR; unknown id -> HTTP.NOT_FOUND', async () => {
  const bad = await adapter({ apiKey: staticSecret('sk_test_wrong') }).getInvoice('in_x').catch((e: unknown) => e);
  expect([(bad as ConnectorError).code, (bad as ConnectorError).meta.status]).toEqual(['HTTP.AUTH', 401]);
  sb.faults.add({ vendor: 'stripe', kind: 'rate_limit', retryAfterSeconds: 3, times: 1 });
  const limited = await adapter().getInvoice('in_x').catch((e: unknown) => e);
  expect([(limited as ConnectorError).code, (limited as ConnectorError).retryable, (limited as ConnectorError).retryAfterMs]).toEqual(['HTTP.RATE_LIMITED', true, 3000]);
  sb.faults.add({ vendor: 'stripe', kind: 'status', status: 500, times: 1 });
  const down = await adapter().getInvoice('in_x').catch((e: unknown) => e);
  expect([(down as ConnectorError).code, (down as ConnectorError).retryable]).toEqual(['HTTP.SERVER_ERROR', true]);
  const missing = await adapter().getInvoice('in_nope').catch((e: unknown) => e);
  expect([(missing as ConnectorError).code, (missing as ConnectorError).meta.vendorCode]).toEqual(['HTTP.NOT_FOUND', 'resource_missing']);
});

test('API key rotation: after a 401 the key file is re-read and the call repeated once', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'q2c-stripe-'));
  const file = path.join(dir, 'key');
  writeFileSync(file, 'sk_test_rolled_away');
  const secret = secretFromFile(file);
  await secret.get(); // cached: the old, now expired key
  writeFileSync(file, STRIPE_SANDBOX.apiKey);
  const inv = await adapter({ apiKey: secret }).listInvoices(cus);
  expect(inv.length).toBeGreaterThan(0);
  expect(await secret.get()).toBe(STRIPE_SANDBOX.apiKey);
});
