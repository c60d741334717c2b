import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import path from 'node:path';
import type { Customer, Invoice } from '../../../src/canonical';
import { createStripeAdapter, type StripeAdapter } from '../../../src/connectors/billing/stripe.adapter';
import { staticSecret } from '../../../src/connectors/http';
import { postedInvoice } from '../../support/invoice-fixture';

/**
 * An independent check of the Stripe adapter's request shapes: the same calls
 * against stripe-mock, which validates every request against Stripe's OpenAPI
 * spec (unknown or malformed parameters are 400s) and answers with fixtures.
 * stripe-mock is installed by scripts/stripe-mock.sh (CI runs it).
 */
const BIN = path.resolve(__dirname, '../../../.temporal/bin/stripe-mock');
const present = existsSync(BIN);
if (!present) {
  console.warn(`[stripe-mock] ${BIN} is absent: skipping the Stripe request-shape check. Run \`bash scripts/stripe-mock.sh\` to install it.`);
}
const describeIf = present ? describe : describe.skip;

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

const waitForPort = async (port: number, deadlineMs: number): Promise<void> => {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`stripe-mock did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

const usd = (amountMinor: number) => ({ amountMinor, currency: 'USD' });
const customer: Customer = {
  id: 'cust-1',
  name: 'Acme',
  billTo: { address: { line1: '1 Main St', city: 'San Jose', region: 'CA', postalCode: '95113', country: 'US' }, email: 'ap@acme.test' },
  legalEntityId: 'le-us',
  parentId: null,
  currency: 'USD',
  externalIds: {},
  status: 'ACTIVE',
};
// The shared posted invoice with one consulting line: $1,000.00 + $72.50 tax = $1,072.50.
const invoice: Invoice = {
  ...postedInvoice('inv-1'),
  lines: [{ id: 'l1', contractLineId: 'cl-1', quoteLineId: 'ql-1', description: 'Consulting', amount: usd(100_000), sourceItemIds: ['te-1'], taxCode: 'SE000000', taxable: true }],
  subtotal: usd(100_000),
  tax: usd(7_250),
  total: usd(107_250),
};

describeIf('Stripe adapter request shapes against stripe-mock', () => {
  let proc: ChildProcess;
  let adapter: StripeAdapter;
  let stderr = '';

  beforeAll(async () => {
    const port = await freePort();
    proc = spawn(BIN, ['-http-addr', `127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    await waitForPort(port, 15_000);
    adapter = createStripeAdapter({ apiKey: staticSecret('sk_test_123'), webhookSecret: 'whsec_unused', baseUrl: `http://127.0.0.1:${port}` });
  });
  afterAll(() => {
    proc?.kill('SIGTERM');
  });

  // stripe-mock answers with fixtures, so ids and amounts are its own; what is checked is that
  // every request the adapter sends is accepted by Stripe's OpenAPI spec (a bad parameter is a 400).
  test('customer, invoice (draft + items + finalize), pay, list', async () => {
    const cus = await adapter.createCustomer(customer, 'k-cus').catch((e: unknown) => Promise.reject(new Error(`${String(e)}\n${stderr}`)));
    expect(cus.id).toMatch(/^cus_/);
    const inv = await adapter.createInvoice({ invoice, billingCustomerId: cus.id, idempotencyKey: 'k-inv', daysUntilDue: 30, finalize: true });
    expect(inv.id).toMatch(/^in_/);
    expect((await adapter.markInvoicePaid(inv.id, 'k-paid')).id).toMatch(/^in_/);
    expect((await adapter.getInvoice(inv.id)).id).toMatch(/^in_/);
    const list = await adapter.listInvoices(cus.id, 10);
    expect(list.length).toBeGreaterThan(0);
    expect(list.every((i) => i.id.startsWith('in_'))).toBe(true);
  });

  test('subscription (product, monthly price, send_invoice) and cancel', async () => {
    const sub = await adapter.createSubscription({ billingCustomerId: 'cus_123', pricePerMonth: usd(150_000), productName: 'Support', idempotencyKey: 'k-sub', metadata: { q2c_contract_line_id: 'cl-2' }, daysUntilDue: 30 });
    expect(sub.id).toMatch(/^sub_/);
    expect((await adapter.cancelSubscription(sub.id)).id).toMatch(/^sub_/);
  });

  test('payment intent confirmed server-side, and a refund', async () => {
    const p = await adapter.collectPayment({ customerId: 'cust-1', billingCustomerId: 'cus_123', amount: usd(50_000), idempotencyKey: 'k-pi', paymentMethod: 'pm_card_visa', invoiceId: 'inv-1' });
    expect(p.id).toMatch(/^pi_/);
    expect(p.externalIds).toEqual({ stripe: p.id });
    const r = await adapter.refundPayment(p.id, usd(20_000), 'k-re');
    expect(r.id).toMatch(/^re_/);
  });
});
