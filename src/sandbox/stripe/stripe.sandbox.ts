import { createHash, createHmac } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SandboxContext, SandboxPlugin, SandboxVendor } from '../context';
import type { SandboxRecord } from '../store';
import { parseStripeForm, type FormValue } from './stripe.form';

/** Fixed dev/test credentials of the Stripe sandbox. Valid nowhere else. */
export const STRIPE_SANDBOX = Object.freeze({
  apiKey: 'sk_test_q2c_sandbox',
  webhookSecret: 'whsec_q2c_sandbox_secret',
  /** Test-mode payment methods, as Stripe's test cards: one succeeds, one is declined. */
  paymentMethodOk: 'pm_card_visa',
  paymentMethodDeclined: 'pm_card_chargeDeclined',
  apiVersion: '2026-10-28.endive',
});

const VENDOR = 'stripe';

export const stripeError = (type: string, message: string, extra: { code?: string; param?: string; decline_code?: string } = {}) => ({ error: { type, message, ...extra } });

const errorBody = (status: number, message: string) =>
  status === 429
    ? stripeError('invalid_request_error', message, { code: 'rate_limit' })
    : status >= 500
      ? stripeError('api_error', message)
      : status === 404
        ? stripeError('invalid_request_error', message, { code: 'resource_missing' })
        : stripeError('invalid_request_error', message);

class StripeFail extends Error {
  constructor(
    readonly status: number,
    readonly body: ReturnType<typeof stripeError>,
  ) {
    super(body.error.message);
  }
}
const missing = (param: string) => new StripeFail(400, stripeError('invalid_request_error', `Missing required param: ${param}.`, { code: 'parameter_missing', param }));
const invalid = (param: string, message: string, code = 'parameter_invalid_string') => new StripeFail(400, stripeError('invalid_request_error', message, { code, param }));
const noSuch = (kind: string, id: string) => new StripeFail(404, stripeError('invalid_request_error', `No such ${kind}: '${id}'`, { code: 'resource_missing', param: 'id' }));

type Obj = Record<string, unknown>;
type Form = Record<string, FormValue>;
const str = (f: Form, k: string): string | undefined => (typeof f[k] === 'string' ? (f[k] as string) : undefined);
const int = (f: Form, k: string): number | undefined => {
  const v = str(f, k);
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw invalid(k, `Invalid integer: ${v}`, 'parameter_invalid_integer');
  return Number(v);
};
const bool = (f: Form, k: string): boolean | undefined => (str(f, k) === undefined ? undefined : str(f, k) === 'true');
const metadata = (f: Form): Record<string, string> => {
  const m = f['metadata'];
  return m && typeof m === 'object' && !Array.isArray(m) ? (Object.fromEntries(Object.entries(m).filter(([, v]) => typeof v === 'string')) as Record<string, string>) : {};
};
const now = (): number => Math.floor(Date.now() / 1000);

const KINDS: Record<string, string> = { cus: 'customer', prod: 'product', price: 'price', ii: 'invoiceitem', in: 'invoice', sub: 'subscription', pi: 'payment_intent', ch: 'charge', re: 'refund', cn: 'credit_note', evt: 'event' };
const idFor = (prefix: string) => (seq: number) => `${prefix}_Q2C${seq.toString(36).toUpperCase().padStart(10, '0')}`;

/**
 * Stripe API subset over form-encoded bodies: customers, products, prices,
 * invoice items, invoices (create, finalize, pay, void), subscriptions,
 * payment intents, refunds, lists with starting_after. Every POST honours
 * Idempotency-Key like Stripe: a repeat replays the first response; reuse
 * with different parameters is a 400 idempotency_error; a concurrent
 * duplicate is a 409. Webhooks are signed with Stripe-Signature.
 */
export const stripeSandbox: SandboxPlugin = async (app, ctx: SandboxContext) => {
  const inFlightKeys = new Set<string>();
  let invoiceNumber = 0;

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, parseStripeForm(body as string)));

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const auth = request.headers.authorization ?? '';
    const key = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (key !== STRIPE_SANDBOX.apiKey) {
      return reply.code(401).send(stripeError('invalid_request_error', `Invalid API Key provided: ${key ? `${key.slice(0, 8)}****${key.slice(-4)}` : '(none)'}`));
    }
    return undefined;
  });

  // ---- storage helpers
  const insert = async (prefix: string, data: (id: string) => Obj) =>
    (await ctx.store.insert<Obj>(VENDOR, KINDS[prefix]!, { idFor: idFor(prefix), data: (id) => ({ id, ...data(id) }) })).data;
  const get = async (prefix: string, id: string): Promise<SandboxRecord<Obj>> => {
    const r = await ctx.store.get<Obj>(VENDOR, KINDS[prefix]!, id);
    if (!r) throw noSuch(KINDS[prefix]!, id);
    return r;
  };
  const save = async (prefix: string, id: string, next: (cur: Obj) => Obj) => (await ctx.store.update<Obj>(VENDOR, KINDS[prefix]!, id, next)).data;

  /** Records the event and sends it, signed, to the configured target. */
  const emit = async (type: string, object: Obj, idempotencyKey: string | undefined) => {
    const event = await insert('evt', () => ({
      object: 'event',
      api_version: STRIPE_SANDBOX.apiVersion,
      created: now(),
      type,
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: idempotencyKey ?? null },
      data: { object },
    }));
    const body = JSON.stringify(event);
    const t = now();
    const v1 = createHmac('sha256', STRIPE_SANDBOX.webhookSecret).update(`${t}.${body}`).digest('hex');
    await ctx.webhooks.send({ vendor: VENDOR, eventType: type, body, headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': `t=${t},v1=${v1}` } });
  };

  /** Runs a POST under Stripe's idempotency rules. */
  const post = (path: string, handler: (form: Form, request: FastifyRequest, key: string | undefined) => Promise<Obj>) => {
    app.post(path, async (request, reply) => {
      const form = (request.body ?? {}) as Form;
      const key = request.headers['idempotency-key'] as string | undefined;
      const run = async (): Promise<{ status: number; body: unknown }> => {
        try {
          return { status: 200, body: await handler(form, request, key) };
        } catch (err) {
          if (err instanceof StripeFail) return { status: err.status, body: err.body };
          throw err;
        }
      };
      if (key === undefined) {
        const out = await run();
        return reply.code(out.status).send(out.body);
      }
      const hash = createHash('sha256').update(`${request.method} ${request.url.split('?')[0]} ${JSON.stringify(form)}`).digest('hex');
      const prior = await ctx.store.getIdempotency(VENDOR, key);
      if (prior) {
        if (prior.requestHash !== hash) {
          return reply
            .code(400)
            .send(stripeError('idempotency_error', `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`));
        }
        return reply.code(prior.statusCode).header('idempotent-replayed', 'true').header('idempotency-key', key).send(prior.response);
      }
      if (inFlightKeys.has(key)) {
        return reply.code(409).send(stripeError('idempotency_error', 'There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ' + key + '. Please try again later.', { code: 'idempotency_key_in_use' }));
      }
      inFlightKeys.add(key);
      try {
        const out = await run();
        await ctx.store.putIdempotency(VENDOR, key, { requestHash: hash, statusCode: out.status, response: out.body });
        return reply.code(out.status).header('idempotency-key', key).send(out.body);
      } finally {
        inFlightKeys.delete(key);
      }
    });
  };

  const getRoute = (path: string, handler: (request: FastifyRequest) => Promise<unknown>) => {
    app.get(path, async (request, reply) => {
      try {
        return reply.code(200).send(await handler(request));
      } catch (err) {
        if (err instanceof StripeFail) return reply.code(err.status).send(err.body);
        throw err;
      }
    });
  };

  /** Stripe lists newest first; starting_after is the id of the last object of the previous page. */
  const list = async (kind: string, request: FastifyRequest, filter: (o: Obj) => boolean) => {
    const q = request.query as { limit?: string; starting_after?: string };
    const limit = Math.min(Math.max(Number(q.limit ?? 10), 1), 100);
    const all = (await ctx.store.list<Obj>(VENDOR, kind)).items.map((r) => r.data).filter(filter).reverse();
    let start = 0;
    if (q.starting_after) {
      const i = all.findIndex((o) => o['id'] === q.starting_after);
      if (i < 0) throw invalid('starting_after', `No such ${kind}: '${q.starting_after}'`, 'resource_missing');
      start = i + 1;
    }
    const data = all.slice(start, start + limit);
    return { object: 'list', data, has_more: start + limit < all.length, url: `/v1/${kind}s` };
  };

  // ---- customers
  post('/v1/customers', async (f) =>
    insert('cus', () => ({ object: 'customer', name: str(f, 'name') ?? null, email: str(f, 'email') ?? null, description: str(f, 'description') ?? null, metadata: metadata(f), created: now(), livemode: false, balance: 0, currency: null, delinquent: false, invoice_settings: { default_payment_method: null } })),
  );
  post('/v1/customers/:id', async (f, r) => {
    const { id } = r.params as { id: string };
    await get('cus', id);
    const settings = f['invoice_settings'];
    const defaultPm = settings && typeof settings === 'object' && !Array.isArray(settings) ? str(settings as Form, 'default_payment_method') : undefined;
    return save('cus', id, (c) => ({
      ...c,
      ...(str(f, 'name') ? { name: str(f, 'name') } : {}),
      ...(str(f, 'email') ? { email: str(f, 'email') } : {}),
      ...(defaultPm !== undefined ? { invoice_settings: { ...((c['invoice_settings'] as Obj | undefined) ?? {}), default_payment_method: defaultPm || null } } : {}),
      metadata: { ...(c['metadata'] as Obj), ...metadata(f) },
    }));
  });
  getRoute('/v1/customers/:id', async (r) => (await get('cus', (r.params as { id: string }).id)).data);
  getRoute('/v1/customers', async (r) => list('customer', r, () => true));

  // ---- products and prices
  post('/v1/products', async (f) => {
    const name = str(f, 'name');
    if (!name) throw missing('name');
    return insert('prod', () => ({ object: 'product', name, active: true, metadata: metadata(f), created: now(), livemode: false }));
  });
  post('/v1/prices', async (f) => {
    const currency = str(f, 'currency');
    const unit = int(f, 'unit_amount');
    if (!currency) throw missing('currency');
    if (unit === undefined) throw missing('unit_amount');
    let product = str(f, 'product');
    const pd = f['product_data'] as Form | undefined;
    if (!product && pd && str(pd, 'name')) product = (await insert('prod', () => ({ object: 'product', name: str(pd, 'name'), active: true, metadata: {}, created: now(), livemode: false })))['id'] as string;
    if (!product) throw missing('product');
    await get('prod', product);
    const rec = f['recurring'] as Form | undefined;
    const interval = rec ? str(rec, 'interval') : undefined;
    if (interval !== undefined && !['day', 'week', 'month', 'year'].includes(interval)) throw invalid('recurring[interval]', `Invalid recurring[interval]: ${interval}`);
    return insert('price', () => ({
      object: 'price',
      active: true,
      currency: currency.toLowerCase(),
      unit_amount: unit,
      product,
      type: interval ? 'recurring' : 'one_time',
      recurring: interval ? { interval, interval_count: Number((rec && str(rec, 'interval_count')) ?? 1), usage_type: 'licensed' } : null,
      metadata: metadata(f),
      created: now(),
      livemode: false,
    }));
  });

  // ---- invoices
  const recompute = async (inv: Obj): Promise<Obj> => {
    const items = (await ctx.store.list<Obj>(VENDOR, 'invoiceitem', { contains: { invoice: inv['id'] } })).items.map((r) => r.data);
    const total = items.reduce((s, i) => s + Number(i['amount']), 0);
    const paid = Number(inv['amount_paid'] ?? 0);
    return {
      ...inv,
      subtotal: total,
      total,
      amount_due: total,
      amount_paid: paid,
      amount_remaining: Math.max(total - paid, 0),
      lines: {
        object: 'list',
        data: items.map((i) => ({ id: `il_${String(i['id']).slice(3)}`, object: 'line_item', amount: i['amount'], currency: i['currency'], description: i['description'], metadata: i['metadata'], invoice_item: i['id'], period: i['period'], quantity: 1 })),
        has_more: false,
        url: `/v1/invoices/${String(inv['id'])}/lines`,
      },
    };
  };
  const newInvoice = async (f: Form, customer: string, extra: Obj = {}) =>
    insert('in', () => ({
      object: 'invoice',
      customer,
      status: 'draft',
      currency: (str(f, 'currency') ?? 'usd').toLowerCase(),
      collection_method: str(f, 'collection_method') ?? 'charge_automatically',
      days_until_due: int(f, 'days_until_due') ?? null,
      auto_advance: bool(f, 'auto_advance') ?? false,
      number: null,
      due_date: null,
      description: str(f, 'description') ?? null,
      metadata: metadata(f),
      subscription: null,
      paid_out_of_band: false,
      subtotal: 0,
      total: 0,
      amount_due: 0,
      amount_paid: 0,
      amount_remaining: 0,
      lines: { object: 'list', data: [], has_more: false, url: '' },
      status_transitions: { finalized_at: null, paid_at: null, voided_at: null },
      created: now(),
      livemode: false,
      ...extra,
    }));

  post('/v1/invoices', async (f) => {
    const customer = str(f, 'customer');
    if (!customer) throw missing('customer');
    await get('cus', customer);
    if (str(f, 'collection_method') === 'send_invoice' && int(f, 'days_until_due') === undefined) throw invalid('days_until_due', 'Missing required param: days_until_due (required for send_invoice).', 'parameter_missing');
    const inv = await newInvoice(f, customer);
    // pending_invoice_items_behavior=include pulls in the customer's pending items, as Stripe does.
    if (str(f, 'pending_invoice_items_behavior') === 'include') {
      const pending = (await ctx.store.list<Obj>(VENDOR, 'invoiceitem', { contains: { customer, invoice: null } })).items;
      for (const p of pending) await save('ii', p.id, (d) => ({ ...d, invoice: inv['id'] }));
    }
    const withItems = await recompute(inv);
    return save('in', inv['id'] as string, () => withItems);
  });

  post('/v1/invoiceitems', async (f) => {
    const customer = str(f, 'customer');
    if (!customer) throw missing('customer');
    await get('cus', customer);
    const amount = int(f, 'amount');
    if (amount === undefined) throw missing('amount');
    const currency = str(f, 'currency');
    if (!currency) throw missing('currency');
    const invoice = str(f, 'invoice') ?? null;
    if (invoice) {
      const inv = await get('in', invoice);
      if (inv.data['status'] !== 'draft') throw invalid('invoice', `You can only add invoice items to draft invoices; invoice ${invoice} is ${String(inv.data['status'])}.`, 'invoice_not_editable');
      if (inv.data['customer'] !== customer) throw invalid('invoice', 'The invoice belongs to another customer.');
      if (inv.data['currency'] !== currency.toLowerCase()) throw invalid('currency', 'The invoice item currency differs from the invoice currency.');
    }
    // period: both ends inclusive, end >= start; without one Stripe uses the creation time for both
    const p = f['period'];
    const pf = p && typeof p === 'object' && !Array.isArray(p) ? (p as Form) : undefined;
    const ps = pf ? int(pf, 'start') : undefined;
    const pe = pf ? int(pf, 'end') : undefined;
    if (pf && (ps === undefined || pe === undefined)) throw missing(ps === undefined ? 'period[start]' : 'period[end]');
    if (ps !== undefined && pe !== undefined && pe < ps) throw invalid('period[end]', 'The period end must be greater than or equal to the period start.');
    const created = now();
    const period = { start: ps ?? created, end: pe ?? created };
    const item = await insert('ii', () => ({ object: 'invoiceitem', customer, amount, currency: currency.toLowerCase(), description: str(f, 'description') ?? null, invoice, metadata: metadata(f), period, quantity: 1, date: created, livemode: false }));
    if (invoice) {
      const inv = await recompute((await get('in', invoice)).data);
      await save('in', invoice, () => inv);
    }
    return item;
  });

  post('/v1/invoices/:id/finalize', async (_f, r, key) => {
    const { id } = r.params as { id: string };
    const inv = await get('in', id);
    if (inv.data['status'] !== 'draft') throw invalid('invoice', `This invoice is already finalized, you can't re-finalize a non-draft invoice.`, 'invoice_not_editable');
    invoiceNumber += 1;
    const t = now();
    const days = inv.data['days_until_due'];
    const finalized = await save('in', id, (d) => ({
      ...d,
      status: Number(d['total']) === 0 ? 'paid' : 'open',
      number: `Q2C-${String(d['id']).slice(-4)}-${String(invoiceNumber).padStart(4, '0')}`,
      due_date: typeof days === 'number' ? t + days * 86_400 : null,
      status_transitions: { ...(d['status_transitions'] as Obj), finalized_at: t },
    }));
    await emit('invoice.finalized', finalized, key);
    return finalized;
  });

  post('/v1/invoices/:id/pay', async (f, r, key) => {
    const { id } = r.params as { id: string };
    const inv = await get('in', id);
    if (inv.data['status'] === 'paid') throw invalid('invoice', 'Invoice is already paid.', 'invoice_already_paid');
    if (inv.data['status'] !== 'open') throw invalid('invoice', `You can only pay open invoices; this invoice is ${String(inv.data['status'])}.`, 'invoice_not_open');
    const t = now();
    if (bool(f, 'paid_out_of_band') === true) {
      const paid = await save('in', id, (d) => ({ ...d, status: 'paid', paid_out_of_band: true, amount_paid: d['total'], amount_remaining: 0, status_transitions: { ...(d['status_transitions'] as Obj), paid_at: t } }));
      await emit('invoice.paid', paid, key);
      return paid;
    }
    // Charge the payment method: the one named, the invoice's default, or the customer's invoice_settings default.
    const customer = (await get('cus', String(inv.data['customer']))).data;
    const settings = (customer['invoice_settings'] ?? {}) as Obj;
    const pm = str(f, 'payment_method') ?? (inv.data['default_payment_method'] as string | null | undefined) ?? (settings['default_payment_method'] as string | null | undefined) ?? undefined;
    if (!pm) throw invalid('payment_method', 'This customer has no attached payment source or default payment method. Please consider adding a default payment method.', 'invoice_no_payment_method');
    const amount = Number(inv.data['amount_remaining']);
    const currency = String(inv.data['currency']);
    const pi = await insert('pi', () => ({ object: 'payment_intent', amount, amount_received: 0, currency, customer: inv.data['customer'], payment_method: pm, invoice: id, status: 'processing', latest_charge: null, metadata: {}, created: t, livemode: false }));
    if (pm === STRIPE_SANDBOX.paymentMethodDeclined) {
      await save('pi', pi['id'] as string, (d) => ({ ...d, status: 'requires_payment_method', last_payment_error: { code: 'card_declined', decline_code: 'generic_decline' } }));
      await save('in', id, (d) => ({ ...d, attempt_count: Number(d['attempt_count'] ?? 0) + 1, attempted: true, payment_intent: pi['id'] }));
      throw new StripeFail(402, stripeError('card_error', 'Your card was declined.', { code: 'card_declined', decline_code: 'generic_decline' }));
    }
    if (pm !== STRIPE_SANDBOX.paymentMethodOk) throw invalid('payment_method', `No such PaymentMethod: '${pm}'`, 'resource_missing');
    const charge = await insert('ch', () => ({ object: 'charge', amount, amount_captured: amount, amount_refunded: 0, refunded: false, currency, customer: inv.data['customer'], payment_intent: pi['id'], invoice: id, status: 'succeeded', paid: true, metadata: {}, created: t, livemode: false }));
    await save('pi', pi['id'] as string, (d) => ({ ...d, status: 'succeeded', amount_received: amount, latest_charge: charge['id'] }));
    const paid = await save('in', id, (d) => ({
      ...d,
      status: 'paid',
      amount_paid: Number(d['amount_paid'] ?? 0) + amount,
      amount_remaining: 0,
      attempt_count: Number(d['attempt_count'] ?? 0) + 1,
      attempted: true,
      payment_intent: pi['id'],
      charge: charge['id'],
      status_transitions: { ...(d['status_transitions'] as Obj), paid_at: t },
    }));
    // Stripe also sends payment_intent.succeeded for the invoice's intent; the deal learns of the money from invoice.paid alone.
    await emit('invoice.paid', paid, key);
    return paid;
  });

  post('/v1/invoices/:id/void', async (_f, r, key) => {
    const { id } = r.params as { id: string };
    const inv = await get('in', id);
    if (inv.data['status'] !== 'open') throw invalid('invoice', `You can only void open invoices; this invoice is ${String(inv.data['status'])}.`, 'invoice_not_open');
    const voided = await save('in', id, (d) => ({ ...d, status: 'void', status_transitions: { ...(d['status_transitions'] as Obj), voided_at: now() } }));
    await emit('invoice.voided', voided, key);
    return voided;
  });

  // ---- credit notes: custom lines against a finalized invoice. On an open invoice they lower what is due
  // (pre-payment; fully credited, the invoice is paid); on a paid one the amount goes to the customer's balance.
  let creditNoteNumber = 0;
  post('/v1/credit_notes', async (f, _r, key) => {
    const invoiceId = str(f, 'invoice');
    if (!invoiceId) throw missing('invoice');
    const inv = await get('in', invoiceId);
    const status = String(inv.data['status']);
    if (status !== 'open' && status !== 'paid') throw invalid('invoice', `You can only create credit notes for open or paid invoices; this invoice is ${status}.`, 'invoice_not_open');
    const raw = f['lines'];
    const lines = (raw && typeof raw === 'object' ? Object.values(raw as Record<string, Form>) : []).map((l, i) => {
      if (str(l, 'type') !== 'custom_line_item') throw invalid(`lines[${i}][type]`, 'Only custom_line_item lines are supported by the sandbox.');
      const unit = int(l, 'unit_amount');
      if (unit === undefined || unit <= 0) throw invalid(`lines[${i}][unit_amount]`, 'unit_amount must be a positive integer');
      const quantity = int(l, 'quantity') ?? 1;
      return { object: 'credit_note_line_item', type: 'custom_line_item', amount: unit * quantity, unit_amount: unit, quantity, description: str(l, 'description') ?? null };
    });
    if (lines.length === 0) throw missing('lines');
    const total = lines.reduce((a, l) => a + l.amount, 0);
    const prePayment = status === 'open';
    const room = prePayment ? Number(inv.data['amount_remaining']) : Number(inv.data['amount_paid']) - Number(inv.data['post_payment_credit_notes_amount'] ?? 0);
    if (total > room) throw invalid('lines', `The credit note total (${total}) exceeds the ${prePayment ? 'amount remaining' : 'amount paid'} on the invoice (${room}).`, 'credit_note_amount_too_large');
    creditNoteNumber += 1;
    const t = now();
    const note = await insert('cn', () => ({
      object: 'credit_note',
      invoice: invoiceId,
      customer: inv.data['customer'],
      currency: inv.data['currency'],
      number: `${String(inv.data['number'] ?? 'CN')}-CN-${String(creditNoteNumber).padStart(2, '0')}`,
      type: prePayment ? 'pre_payment' : 'post_payment',
      status: 'issued',
      amount: total,
      subtotal: total,
      total,
      memo: str(f, 'memo') ?? null,
      reason: str(f, 'reason') ?? null,
      lines: { object: 'list', data: lines, has_more: false },
      metadata: metadata(f),
      created: t,
      livemode: false,
    }));
    if (prePayment) {
      const remaining = Number(inv.data['amount_remaining']) - total;
      await save('in', invoiceId, (d) => ({
        ...d,
        amount_remaining: remaining,
        pre_payment_credit_notes_amount: Number(d['pre_payment_credit_notes_amount'] ?? 0) + total,
        ...(remaining === 0 ? { status: 'paid', status_transitions: { ...(d['status_transitions'] as Obj), paid_at: t } } : {}),
      }));
    } else {
      await save('in', invoiceId, (d) => ({ ...d, post_payment_credit_notes_amount: Number(d['post_payment_credit_notes_amount'] ?? 0) + total }));
      await save('cus', String(inv.data['customer']), (c) => ({ ...c, balance: Number(c['balance'] ?? 0) - total }));
    }
    await emit('credit_note.created', note, key);
    return note;
  });
  getRoute('/v1/credit_notes/:id', async (r) => (await get('cn', (r.params as { id: string }).id)).data);

  getRoute('/v1/invoices/:id', async (r) => (await get('in', (r.params as { id: string }).id)).data);
  getRoute('/v1/invoices', async (r) => {
    const q = r.query as { customer?: string; status?: string; subscription?: string };
    return list('invoice', r, (o) => (q.customer === undefined || o['customer'] === q.customer) && (q.status === undefined || o['status'] === q.status) && (q.subscription === undefined || o['subscription'] === q.subscription));
  });

  // ---- subscriptions (send_invoice: the first period is invoiced at once, in advance)
  post('/v1/subscriptions', async (f, _r, key) => {
    const customer = str(f, 'customer');
    if (!customer) throw missing('customer');
    await get('cus', customer);
    const items = Array.isArray(f['items']) ? (f['items'] as Form[]) : [];
    if (items.length === 0) throw missing('items');
    const prices: Obj[] = [];
    for (const [i, it] of items.entries()) {
      const priceId = str(it, 'price');
      if (!priceId) throw missing(`items[${i}][price]`);
      const price = (await get('price', priceId)).data;
      if (price['type'] !== 'recurring') throw invalid(`items[${i}][price]`, `The price specified (${priceId}) is not recurring.`);
      prices.push(price);
    }
    const start = now();
    const sub = await insert('sub', (id) => ({
      object: 'subscription',
      customer,
      status: 'active',
      collection_method: str(f, 'collection_method') ?? 'charge_automatically',
      days_until_due: int(f, 'days_until_due') ?? null,
      items: { object: 'list', data: prices.map((p, i) => ({ id: `si_${id.slice(4)}${i}`, object: 'subscription_item', price: p, quantity: 1 })), has_more: false, url: `/v1/subscription_items?subscription=${id}` },
      metadata: metadata(f),
      start_date: start,
      cancel_at_period_end: false,
      canceled_at: null,
      created: start,
      livemode: false,
    }));
    const currency = String(prices[0]!['currency']);
    const inv = await newInvoice({ currency, collection_method: String(sub['collection_method']), ...(sub['days_until_due'] !== null ? { days_until_due: String(sub['days_until_due']) } : {}) }, customer, { subscription: sub['id'], billing_reason: 'subscription_create', metadata: metadata(f) });
    for (const p of prices) {
      await insert('ii', () => ({ object: 'invoiceitem', customer, amount: p['unit_amount'], currency, description: `Subscription ${String(p['id'])}`, invoice: inv['id'], subscription: sub['id'], metadata: {}, quantity: 1, date: start, livemode: false }));
    }
    invoiceNumber += 1;
    const opened = await recompute({ ...inv, status: 'open', number: `Q2C-SUB-${String(invoiceNumber).padStart(4, '0')}`, status_transitions: { finalized_at: start, paid_at: null, voided_at: null } });
    await save('in', inv['id'] as string, () => opened);
    await save('sub', sub['id'] as string, (d) => ({ ...d, latest_invoice: inv['id'] }));
    await emit('customer.subscription.created', sub, key);
    return { ...sub, latest_invoice: inv['id'] };
  });
  getRoute('/v1/subscriptions/:id', async (r) => (await get('sub', (r.params as { id: string }).id)).data);
  app.delete('/v1/subscriptions/:id', async (request, reply) => {
    try {
      const { id } = request.params as { id: string };
      const sub = await get('sub', id);
      if (sub.data['status'] === 'canceled') return reply.send(sub.data);
      const canceled = await save('sub', id, (d) => ({ ...d, status: 'canceled', canceled_at: now(), ended_at: now() }));
      await emit('customer.subscription.deleted', canceled, undefined);
      return reply.send(canceled);
    } catch (err) {
      if (err instanceof StripeFail) return reply.code(err.status).send(err.body);
      throw err;
    }
  });

  // ---- payments
  post('/v1/payment_intents', async (f, _r, key) => {
    const amount = int(f, 'amount');
    const currency = str(f, 'currency');
    if (amount === undefined) throw missing('amount');
    if (amount < 50) throw invalid('amount', 'Amount must be at least $0.50 usd', 'amount_too_small');
    if (!currency) throw missing('currency');
    const customer = str(f, 'customer') ?? null;
    if (customer) await get('cus', customer);
    const pm = str(f, 'payment_method');
    const confirm = bool(f, 'confirm') === true;
    const pi = await insert('pi', () => ({
      object: 'payment_intent',
      amount,
      amount_received: 0,
      currency: currency.toLowerCase(),
      customer,
      payment_method: pm ?? null,
      status: pm ? 'requires_confirmation' : 'requires_payment_method',
      latest_charge: null,
      metadata: metadata(f),
      created: now(),
      livemode: false,
    }));
    if (!confirm) return pi;
    if (pm === STRIPE_SANDBOX.paymentMethodDeclined) {
      await save('pi', pi['id'] as string, (d) => ({ ...d, status: 'requires_payment_method', last_payment_error: { code: 'card_declined', decline_code: 'generic_decline' } }));
      throw new StripeFail(402, stripeError('card_error', 'Your card was declined.', { code: 'card_declined', decline_code: 'generic_decline' }));
    }
    if (pm !== STRIPE_SANDBOX.paymentMethodOk) throw invalid('payment_method', `No such PaymentMethod: '${pm ?? ''}'`, 'resource_missing');
    const charge = await insert('ch', () => ({ object: 'charge', amount, amount_captured: amount, amount_refunded: 0, refunded: false, currency: currency.toLowerCase(), customer, payment_intent: pi['id'], status: 'succeeded', paid: true, metadata: metadata(f), created: now(), livemode: false }));
    const done = await save('pi', pi['id'] as string, (d) => ({ ...d, status: 'succeeded', amount_received: amount, latest_charge: charge['id'] }));
    await emit('payment_intent.succeeded', done, key);
    return done;
  });
  getRoute('/v1/payment_intents/:id', async (r) => (await get('pi', (r.params as { id: string }).id)).data);

  post('/v1/refunds', async (f, _r, key) => {
    const piId = str(f, 'payment_intent');
    let chargeId = str(f, 'charge');
    if (!piId && !chargeId) throw missing('charge');
    if (piId) chargeId = String((await get('pi', piId)).data['latest_charge'] ?? '');
    if (!chargeId) throw invalid('payment_intent', 'This PaymentIntent has no successful charge to refund.', 'charge_not_refundable');
    const charge = await get('ch', chargeId);
    const remaining = Number(charge.data['amount']) - Number(charge.data['amount_refunded']);
    const amount = int(f, 'amount') ?? remaining;
    if (amount <= 0 || amount > remaining) throw invalid('amount', `Refund amount (${amount}) is greater than unrefunded amount on charge (${remaining})`, 'amount_too_large');
    const refund = await insert('re', () => ({ object: 'refund', amount, charge: chargeId, payment_intent: charge.data['payment_intent'], currency: charge.data['currency'], status: 'succeeded', metadata: metadata(f), created: now() }));
    const updated = await save('ch', chargeId, (d) => {
      const refunded = Number(d['amount_refunded']) + amount;
      return { ...d, amount_refunded: refunded, refunded: refunded === Number(d['amount']) };
    });
    await emit('charge.refunded', updated, key);
    return refund;
  });
};

export const STRIPE_VENDOR: SandboxVendor = { vendor: VENDOR, prefix: '/stripe', plugin: stripeSandbox, errorBody };
