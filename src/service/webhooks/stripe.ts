import Stripe from 'stripe';
import { z } from 'zod';
import type { PaymentEvent } from '../../contract';
import { eventTypeOf, parseOrThrow } from './parse';
import { headerValue, type VerifyResult } from './signature';
import type { WebhookSource } from './source';

export const STRIPE_EVENT_TYPES = ['invoice.paid', 'payment_intent.succeeded', 'charge.refunded'] as const;
type StripeEventType = (typeof STRIPE_EVENT_TYPES)[number];

/**
 * Metadata keys on Stripe objects, in the billing connector's `q2c_` convention
 * (stripe.mapper.ts sets q2c_invoice_id; q2c_opportunity_id is asked of it).
 */
export const STRIPE_OPPORTUNITY_METADATA_KEY = 'q2c_opportunity_id';
export const STRIPE_INVOICE_METADATA_KEY = 'q2c_invoice_id';

const Metadata = z.record(z.string(), z.string()).default({});
const Currency = z.string().regex(/^[a-z]{3}$/i, 'expected an ISO 4217 code').transform((c) => c.toUpperCase());
const StripeRef = z.union([z.string(), z.object({ id: z.string() })]).transform((v) => (typeof v === 'string' ? v : v.id));

/** The parts of a Stripe event the service reads; the rest is kept raw in the inbox. */
const eventOf = <T extends StripeEventType, O extends z.ZodType>(type: T, object: O) =>
  z.object({
    id: z.string().regex(/^evt_/, "expected a Stripe event id ('evt_...')"),
    object: z.literal('event'),
    type: z.literal(type),
    created: z.number().int().positive(),
    data: z.object({ object }),
  });

export const StripeEvents = {
  'invoice.paid': eventOf(
    'invoice.paid',
    z.object({
      id: z.string().regex(/^in_/),
      object: z.literal('invoice'),
      amount_paid: z.number().int().nonnegative(),
      currency: Currency,
      customer: StripeRef.nullish(),
      metadata: Metadata,
    }),
  ),
  'payment_intent.succeeded': eventOf(
    'payment_intent.succeeded',
    z.object({
      id: z.string().regex(/^pi_/),
      object: z.literal('payment_intent'),
      amount_received: z.number().int().nonnegative(),
      currency: Currency,
      customer: StripeRef.nullish(),
      metadata: Metadata,
    }),
  ),
  'charge.refunded': eventOf(
    'charge.refunded',
    z.object({
      id: z.string().regex(/^ch_/),
      object: z.literal('charge'),
      amount_refunded: z.number().int().nonnegative(),
      currency: Currency,
      payment_intent: StripeRef.nullish(),
      customer: StripeRef.nullish(),
      metadata: Metadata,
    }),
  ),
} as const;

/**
 * Verifies `Stripe-Signature` with the stripe SDK's own verification
 * (https://docs.stripe.com/webhooks#verify-official-libraries). Several endpoint
 * secrets may be valid while one is rolled. The SDK checks the signature before
 * the timestamp, so a tolerance error means a genuine but stale delivery.
 */
export function verifyStripeSignature(rawBody: Buffer, header: string | undefined, secrets: readonly string[], nowMs: number, toleranceSeconds = 300): VerifyResult {
  if (secrets.length === 0) return { ok: false, reason: 'NO_SECRET_CONFIGURED' };
  if (!header) return { ok: false, reason: 'MISSING_SIGNATURE' };
  let stale = false;
  for (const secret of secrets) {
    try {
      Stripe.webhooks.constructEvent(rawBody, header, secret, toleranceSeconds, undefined, nowMs);
      return { ok: true };
    } catch (err) {
      if (/tolerance/i.test((err as Error).message)) stale = true;
    }
  }
  return { ok: false, reason: stale ? 'STALE_TIMESTAMP' : 'BAD_SIGNATURE' };
}

export function stripeSource(secrets: readonly string[], toleranceSeconds?: number): WebhookSource {
  return {
    name: 'stripe',
    verify: (req, nowMs) => verifyStripeSignature(req.rawBody, headerValue(req.headers, 'stripe-signature'), secrets, nowMs, toleranceSeconds),
    parse(json) {
      const type = eventTypeOf(json, 'type', STRIPE_EVENT_TYPES);
      const occurredAt = (created: number) => new Date(created * 1000).toISOString();
      let ev: PaymentEvent;
      let metadata: Record<string, string>;
      let related: string[];
      switch (type) {
        case 'invoice.paid': {
          const e = parseOrThrow(StripeEvents[type], json);
          const o = e.data.object;
          metadata = o.metadata;
          related = [o.id];
          ev = { eventId: e.id, source: 'stripe', kind: type, occurredAt: occurredAt(e.created), amountMinor: o.amount_paid, currency: o.currency, stripeInvoiceId: o.id };
          break;
        }
        case 'payment_intent.succeeded': {
          const e = parseOrThrow(StripeEvents[type], json);
          const o = e.data.object;
          metadata = o.metadata;
          related = [o.id];
          ev = { eventId: e.id, source: 'stripe', kind: type, occurredAt: occurredAt(e.created), amountMinor: o.amount_received, currency: o.currency, paymentIntentId: o.id };
          break;
        }
        case 'charge.refunded': {
          const e = parseOrThrow(StripeEvents[type], json);
          const o = e.data.object;
          metadata = o.metadata;
          related = [o.id, ...(o.payment_intent ? [o.payment_intent] : [])];
          ev = {
            eventId: e.id,
            source: 'stripe',
            kind: type,
            occurredAt: occurredAt(e.created),
            amountMinor: o.amount_refunded,
            currency: o.currency,
            chargeId: o.id,
            ...(o.payment_intent ? { paymentIntentId: o.payment_intent } : {}),
          };
          break;
        }
      }
      const invoiceId = metadata[STRIPE_INVOICE_METADATA_KEY];
      if (invoiceId) ev.invoiceId = invoiceId;
      return {
        eventId: ev.eventId,
        eventType: type,
        opportunityId: metadata[STRIPE_OPPORTUNITY_METADATA_KEY],
        lookup: { system: 'stripe', externalIds: related },
        dispatch: (gateway, ctx) => gateway.signalPayment(ctx.opportunityId, ev),
      };
    },
  };
}
