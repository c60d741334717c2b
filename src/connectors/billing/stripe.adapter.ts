import Stripe from 'stripe';
import type { Logger } from 'pino';
import type { Customer, Money, Payment } from '../../canonical';
import { ConnectorError, type ConnectorErrorCode } from '../errors';
import { collect, paginateCursor, parseRetryAfter, TokenBucket, type SecretSource } from '../http';
import type { BillingCreditNote, BillingCustomerRef, BillingInvoice, BillingPort, BillingSubscription, BillingWebhookEvent, CollectPaymentInput, CreateCreditNoteInput, CreateInvoiceInput, CreateSubscriptionInput } from './billing.port';
import { fromEvent, fromInvoice, fromPaymentIntent, fromSubscription, stripeMoney, toCustomerParams, toInvoiceItemParams, toInvoiceParams } from './stripe.mapper';
import { StripeEventSchema } from './stripe.schemas';

/** Maps an error from the Stripe SDK to a classified ConnectorError. */
export function stripeConnectorError(err: unknown, operation: string): ConnectorError {
  if (!(err instanceof Stripe.errors.StripeError)) {
    return new ConnectorError('HTTP.CONNECTION', `stripe ${operation}: ${(err as Error)?.message ?? String(err)}`, { cause: err, meta: { system: 'stripe' } });
  }
  const status = err.statusCode;
  let code: ConnectorErrorCode;
  if (err instanceof Stripe.errors.StripeIdempotencyError) code = err.code === 'idempotency_key_in_use' || status === 409 ? 'STRIPE.IDEMPOTENCY_IN_USE' : 'STRIPE.IDEMPOTENCY_MISMATCH';
  else if (err instanceof Stripe.errors.StripeCardError) code = 'STRIPE.CARD_DECLINED';
  else if (err instanceof Stripe.errors.StripeRateLimitError || status === 429) code = 'HTTP.RATE_LIMITED';
  else if (err instanceof Stripe.errors.StripeAuthenticationError) code = 'HTTP.AUTH';
  else if (err instanceof Stripe.errors.StripePermissionError) code = 'HTTP.FORBIDDEN';
  else if (err instanceof Stripe.errors.StripeSignatureVerificationError) code = 'STRIPE.SIGNATURE_INVALID';
  else if (err instanceof Stripe.errors.StripeConnectionError) code = /timeout/i.test(err.message) ? 'HTTP.TIMEOUT' : 'HTTP.CONNECTION';
  else if (status !== undefined && status >= 500) code = 'HTTP.SERVER_ERROR';
  else if (status === 404) code = 'HTTP.NOT_FOUND';
  else if (err instanceof Stripe.errors.StripeInvalidRequestError) code = 'STRIPE.INVALID_REQUEST';
  else code = 'HTTP.UNEXPECTED_RESPONSE';
  const retryAfterMs = parseRetryAfter(err.headers?.['retry-after'], Date.now());
  return new ConnectorError(code, `stripe ${operation}: ${err.message}`, {
    cause: err,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    meta: {
      system: 'stripe',
      ...(status !== undefined ? { status } : {}),
      ...(err.code ? { vendorCode: err.code } : { vendorCode: err.type }),
      ...(err.requestId ? { requestId: err.requestId } : {}),
      ...(err.param ? { param: err.param } : {}),
    },
  });
}

export interface StripeAdapterOptions {
  /** The official SDK client (maxNetworkRetries 0: Temporal owns retries). */
  stripe: Stripe;
  /** API key passed per request so a rotated key is picked up by reload(). */
  apiKey: SecretSource;
  /** Endpoint signing secret for webhooks (whsec_...). */
  webhookSecret: string;
  rateLimiter?: TokenBucket;
  logger?: Logger;
}

/**
 * Billing and payments on Stripe through the `stripe` SDK. Every create sends
 * an Idempotency-Key derived from the caller's key; an invoice is built as
 * draft -> items attached to it -> finalize, each step with its own derived
 * key, so a retry at any point replays the steps already done.
 */
export class StripeAdapter implements BillingPort {
  constructor(private readonly options: StripeAdapterOptions) {}

  private get stripe(): Stripe {
    return this.options.stripe;
  }

  /** Runs one SDK call: rate limit, current API key, one repeat after a 401 if the key was rotated, error classification. */
  private async call<T>(operation: string, fn: (opts: Stripe.RequestOptions) => Promise<T>, idempotencyKey?: string): Promise<T> {
    const attempt = async (): Promise<T> => {
      await this.options.rateLimiter?.acquire();
      return fn({ apiKey: await this.options.apiKey.get(), ...(idempotencyKey ? { idempotencyKey } : {}) });
    };
    try {
      return await attempt();
    } catch (err) {
      if (err instanceof Stripe.errors.StripeAuthenticationError) {
        const before = await this.options.apiKey.get();
        await this.options.apiKey.reload();
        if ((await this.options.apiKey.get()) !== before) {
          try {
            return await attempt();
          } catch (again) {
            throw stripeConnectorError(again, operation);
          }
        }
      }
      const mapped = stripeConnectorError(err, operation);
      this.options.logger?.warn({ operation, code: mapped.code, status: mapped.meta.status }, 'stripe call failed');
      throw mapped;
    }
  }

  async createCustomer(customer: Customer, idempotencyKey: string): Promise<BillingCustomerRef> {
    const c = await this.call('customers.create', (o) => this.stripe.customers.create(toCustomerParams(customer), o), idempotencyKey);
    return { id: c.id };
  }

  async createInvoice(input: CreateInvoiceInput): Promise<BillingInvoice> {
    const { invoice, billingCustomerId, idempotencyKey } = input;
    const draft = await this.call('invoices.create', (o) => this.stripe.invoices.create(toInvoiceParams(invoice, billingCustomerId, input.daysUntilDue), o), `${idempotencyKey}:invoice`);
    for (const item of toInvoiceItemParams(invoice, billingCustomerId, draft.id)) {
      await this.call('invoiceItems.create', (o) => this.stripe.invoiceItems.create(item.params, o), `${idempotencyKey}:${item.key}`);
    }
    if (input.finalize) return this.finalizeInvoice(draft.id, `${idempotencyKey}:finalize`);
    return this.getInvoice(draft.id);
  }

  async finalizeInvoice(billingInvoiceId: string, idempotencyKey: string): Promise<BillingInvoice> {
    return fromInvoice(await this.call('invoices.finalizeInvoice', (o) => this.stripe.invoices.finalizeInvoice(billingInvoiceId, { auto_advance: false }, o), idempotencyKey));
  }

  async payInvoice(billingInvoiceId: string, idempotencyKey: string): Promise<BillingInvoice> {
    // Without paid_out_of_band Stripe charges the invoice's (or the customer's invoice_settings) default payment method off session.
    return fromInvoice(await this.call('invoices.pay', (o) => this.stripe.invoices.pay(billingInvoiceId, { off_session: true }, o), idempotencyKey));
  }

  async markInvoicePaid(billingInvoiceId: string, idempotencyKey: string): Promise<BillingInvoice> {
    return fromInvoice(await this.call('invoices.pay', (o) => this.stripe.invoices.pay(billingInvoiceId, { paid_out_of_band: true }, o), idempotencyKey));
  }

  async createCreditNote(input: CreateCreditNoteInput): Promise<BillingCreditNote> {
    const note = await this.call(
      'creditNotes.create',
      (o) =>
        this.stripe.creditNotes.create(
          {
            invoice: input.billingInvoiceId,
            lines: input.lines.map((l) => ({ type: 'custom_line_item' as const, unit_amount: l.amount.amountMinor, quantity: 1, description: l.description })),
            memo: input.memo,
            metadata: input.metadata,
          },
          o,
        ),
      input.idempotencyKey,
    );
    return { id: note.id, number: note.number, total: { amountMinor: note.total, currency: note.currency.toUpperCase() }, type: note.type };
  }

  async getInvoice(billingInvoiceId: string): Promise<BillingInvoice> {
    return fromInvoice(await this.call('invoices.retrieve', (o) => this.stripe.invoices.retrieve(billingInvoiceId, {}, o)));
  }

  async listInvoices(billingCustomerId: string, pageSize = 100): Promise<BillingInvoice[]> {
    const all = await collect(
      paginateCursor((startingAfter) =>
        this.call('invoices.list', (o) => this.stripe.invoices.list({ customer: billingCustomerId, limit: pageSize, ...(startingAfter ? { starting_after: startingAfter } : {}) }, o)),
      ),
    );
    return all.map(fromInvoice);
  }

  async createSubscription(input: CreateSubscriptionInput): Promise<BillingSubscription> {
    const { idempotencyKey: key, pricePerMonth } = input;
    const product = await this.call('products.create', (o) => this.stripe.products.create({ name: input.productName, metadata: input.metadata }, o), `${key}:product`);
    const price = await this.call(
      'prices.create',
      (o) => this.stripe.prices.create({ product: product.id, currency: pricePerMonth.currency.toLowerCase(), unit_amount: pricePerMonth.amountMinor, recurring: { interval: 'month' } }, o),
      `${key}:price`,
    );
    const sub = await this.call(
      'subscriptions.create',
      (o) =>
        this.stripe.subscriptions.create(
          { customer: input.billingCustomerId, items: [{ price: price.id }], collection_method: 'send_invoice', days_until_due: input.daysUntilDue, metadata: input.metadata },
          o,
        ),
      `${key}:subscription`,
    );
    return fromSubscription(sub);
  }

  async cancelSubscription(subscriptionId: string): Promise<BillingSubscription> {
    // Cancelling is idempotent at Stripe (a cancelled subscription stays cancelled); DELETE takes no key.
    return fromSubscription(await this.call('subscriptions.cancel', (o) => this.stripe.subscriptions.cancel(subscriptionId, {}, o)));
  }

  async collectPayment(input: CollectPaymentInput): Promise<Payment> {
    const pi = await this.call(
      'paymentIntents.create',
      (o) =>
        this.stripe.paymentIntents.create(
          {
            amount: input.amount.amountMinor,
            currency: input.amount.currency.toLowerCase(),
            customer: input.billingCustomerId,
            payment_method: input.paymentMethod,
            // Server-side confirmation without a return URL: card-like methods only, no redirects.
            automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
            confirm: true,
            metadata: { q2c_customer_id: input.customerId, ...(input.invoiceId ? { q2c_invoice_id: input.invoiceId } : {}) },
          },
          o,
        ),
      input.idempotencyKey,
    );
    return fromPaymentIntent(pi, input.customerId, input.invoiceId);
  }

  async refundPayment(paymentId: string, amount: Money, idempotencyKey: string): Promise<{ id: string; status: string; amount: Money }> {
    const r = await this.call('refunds.create', (o) => this.stripe.refunds.create({ payment_intent: paymentId, amount: amount.amountMinor }, o), idempotencyKey);
    return { id: r.id, status: r.status ?? 'pending', amount: stripeMoney(r.amount, r.currency) };
  }

  parseWebhook(rawBody: string | Buffer, signatureHeader: string): BillingWebhookEvent {
    let event: Stripe.Event;
    try {
      event = this.stripe.webhooks.constructEvent(rawBody, signatureHeader, this.options.webhookSecret);
    } catch (err) {
      throw new ConnectorError('STRIPE.SIGNATURE_INVALID', `stripe webhook: ${(err as Error).message}`, { cause: err, meta: { system: 'stripe' } });
    }
    const parsed = StripeEventSchema.safeParse(event);
    if (!parsed.success) throw new ConnectorError('HTTP.UNEXPECTED_RESPONSE', `stripe webhook ${event.id}: unexpected event shape`, { meta: { system: 'stripe', eventType: event.type } });
    return fromEvent(parsed.data);
  }
}

/** The SDK has host/port/protocol options but no base path; this client puts the sandbox's '/stripe' prefix in front of every path. */
function pathPrefixClient(prefix: string): Stripe.HttpClient {
  const inner = Stripe.createNodeHttpClient();
  const wrapped = Object.create(inner) as Stripe.HttpClient;
  wrapped.makeRequest = (host, port, path, method, headers, data, protocol, timeout) => inner.makeRequest(host, port, `${prefix}${path}`, method, headers, data, protocol, timeout);
  return wrapped;
}

export interface StripeConnectionConfig {
  apiKey: SecretSource;
  webhookSecret: string;
  /** Unset for api.stripe.com; `${sandboxUrl}/stripe` or http://127.0.0.1:12111 (stripe-mock) otherwise. */
  baseUrl?: string;
  timeoutMs?: number;
  /** Stripe allows 100 req/s live and 25 req/s in test mode. */
  rateLimit?: { capacity: number; refillPerSecond: number };
  logger?: Logger;
}

export function createStripeAdapter(cfg: StripeConnectionConfig): StripeAdapter {
  let target: Stripe.StripeConfig = {};
  if (cfg.baseUrl) {
    const u = new URL(cfg.baseUrl);
    const prefix = u.pathname.replace(/\/+$/, '');
    target = {
      host: u.hostname,
      port: u.port || (u.protocol === 'https:' ? 443 : 80),
      protocol: u.protocol === 'https:' ? 'https' : 'http',
      ...(prefix ? { httpClient: pathPrefixClient(prefix) } : {}),
    };
  }
  // The constructor key is a placeholder: every call passes the current key from the SecretSource.
  const stripe = new Stripe('sk_unset', { maxNetworkRetries: 0, timeout: cfg.timeoutMs ?? 30_000, telemetry: false, appInfo: { name: 'q2c', version: '0.1.0' }, ...target });
  return new StripeAdapter({
    stripe,
    apiKey: cfg.apiKey,
    webhookSecret: cfg.webhookSecret,
    rateLimiter: new TokenBucket(cfg.rateLimit ?? { capacity: 25, refillPerSecond: 25 }),
    ...(cfg.logger ? { logger: cfg.logger } : {}),
  });
}
