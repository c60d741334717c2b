import { createHmac } from 'node:crypto';
import { z } from 'zod';
import type { SignatureEvent } from '../../workflows/deal.messages';
import { eventTypeOf, IsoInstant, parseOrThrow } from './parse';
import { digestsEqual, headerValue, type Headers, type VerifyResult } from './signature';
import type { WebhookSource } from './source';

/** DocuSign sends one X-DocuSign-Signature-<n> header per active Connect HMAC key. */
const MAX_SIGNATURE_HEADERS = 100;

/**
 * DocuSign Connect HMAC: each `X-DocuSign-Signature-N` is base64(HMAC-SHA256(key, raw body)),
 * https://developers.docusign.com/platform/webhooks/connect/hmac/ . Valid when any header
 * matches any configured key, so keys can be rotated on either side. Connect signs no
 * timestamp; replays are absorbed by the inbox dedupe on envelope + event.
 * (Kept here until src/connectors/clm exports verifyDocuSignConnect.)
 */
export function verifyDocuSignConnect(rawBody: Buffer | string, headers: Headers, keys: readonly string[]): VerifyResult {
  if (keys.length === 0) return { ok: false, reason: 'NO_SECRET_CONFIGURED' };
  const given: Buffer[] = [];
  for (let n = 1; n <= MAX_SIGNATURE_HEADERS; n++) {
    const v = headerValue(headers, `x-docusign-signature-${n}`);
    if (v === undefined) break;
    given.push(Buffer.from(v.trim(), 'base64'));
  }
  if (given.length === 0) return { ok: false, reason: 'MISSING_SIGNATURE' };
  const ok = keys.some((key) => {
    const expected = createHmac('sha256', key).update(rawBody).digest();
    return given.some((g) => digestsEqual(g, expected));
  });
  return ok ? { ok: true } : { ok: false, reason: 'BAD_SIGNATURE' };
}

export const DOCUSIGN_EVENTS = ['envelope-completed', 'envelope-declined', 'envelope-voided'] as const;
type DocuSignEvent = (typeof DOCUSIGN_EVENTS)[number];

/** The envelope custom field (set when the CLM connector creates the envelope) naming the opportunity. */
export const DOCUSIGN_OPPORTUNITY_FIELD = 'opportunityId';

/** The part of a Connect JSON (SIM) message the service reads; the rest is kept raw in the inbox. */
export const DocuSignConnectPayload = z.object({
  event: z.enum(DOCUSIGN_EVENTS),
  generatedDateTime: IsoInstant,
  data: z.object({
    accountId: z.string().min(1),
    envelopeId: z.string().min(1).max(100),
    envelopeSummary: z
      .object({
        status: z.string().optional(),
        voidedReason: z.string().optional(),
        customFields: z
          .object({
            textCustomFields: z.array(z.object({ name: z.string(), value: z.string().optional() })).optional(),
          })
          .optional(),
        recipients: z
          .object({
            signers: z.array(z.object({ status: z.string().optional(), declinedReason: z.string().optional() })).optional(),
          })
          .optional(),
      })
      .optional(),
  }),
});
export type DocuSignConnectPayload = z.infer<typeof DocuSignConnectPayload>;

const STATUS: Record<DocuSignEvent, SignatureEvent['status']> = {
  'envelope-completed': 'completed',
  'envelope-declined': 'declined',
  'envelope-voided': 'voided',
};

export function docusignSource(keys: readonly string[]): WebhookSource {
  return {
    name: 'docusign',
    verify: (req) => verifyDocuSignConnect(req.rawBody, req.headers, keys),
    parse(json) {
      const eventType = eventTypeOf(json, 'event', DOCUSIGN_EVENTS);
      const body = parseOrThrow(DocuSignConnectPayload, json);
      const { envelopeId, envelopeSummary } = body.data;
      const opportunityId = envelopeSummary?.customFields?.textCustomFields?.find(
        (f) => f.name === DOCUSIGN_OPPORTUNITY_FIELD && f.value,
      )?.value;
      const reason =
        eventType === 'envelope-voided'
          ? envelopeSummary?.voidedReason
          : eventType === 'envelope-declined'
            ? envelopeSummary?.recipients?.signers?.find((s) => s.declinedReason)?.declinedReason
            : undefined;
      // An envelope completes (or is declined/voided) once: envelope + event is the event's identity.
      const eventId = `${envelopeId}:${eventType}`;
      const ev: SignatureEvent = {
        eventId,
        envelopeId,
        status: STATUS[eventType],
        occurredAt: body.generatedDateTime,
        ...(reason ? { reason } : {}),
      };
      return {
        eventId,
        eventType,
        opportunityId,
        lookup: { system: 'docusign', externalIds: [envelopeId] },
        dispatch: (gateway, ctx) => gateway.signalSignature(ctx.opportunityId, ev),
      };
    },
  };
}
