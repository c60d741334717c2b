import { z } from 'zod';
import { verifyDocuSignConnect } from '../../connectors/clm/docusign.connect';
// The envelope text custom field the CLM connector writes the opportunity id into.
import { FIELD_OPPORTUNITY } from '../../connectors/clm/docusign.mapper';
import type { SignatureEvent } from '../../contract';
import { eventTypeOf, IsoInstant, parseOrThrow } from './parse';
import type { WebhookSource } from './source';

export const DOCUSIGN_EVENTS = ['envelope-completed', 'envelope-declined', 'envelope-voided'] as const;
type DocuSignEvent = (typeof DOCUSIGN_EVENTS)[number];

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

/**
 * DocuSign Connect (JSON). Signatures are verified by the CLM connector's
 * verifyDocuSignConnect (X-DocuSign-Signature-N, any header against any key).
 * Connect signs no timestamp; replays are absorbed by the dedupe key envelope + event.
 */
export function docusignSource(keys: readonly string[]): WebhookSource {
  return {
    name: 'docusign',
    verify: (req) => verifyDocuSignConnect(req.rawBody, req.headers, keys),
    parse(json) {
      const eventType = eventTypeOf(json, 'event', DOCUSIGN_EVENTS);
      const body = parseOrThrow(DocuSignConnectPayload, json);
      const { envelopeId, envelopeSummary } = body.data;
      const opportunityId = envelopeSummary?.customFields?.textCustomFields?.find(
        (f) => f.name === FIELD_OPPORTUNITY && f.value,
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
