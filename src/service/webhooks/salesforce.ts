import { z } from 'zod';
import type { ClosedWonEvent } from '../../contract';
import { eventTypeOf, IsoDate, IsoInstant, parseOrThrow } from './parse';
import { verifyQ2cSignature } from './signature';
import type { WebhookSource } from './source';

export const SALESFORCE_EVENT_TYPES = ['opportunity.closed_won'] as const;

const SalesforceId = z.string().regex(/^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$/, 'expected a 15- or 18-character Salesforce id');

/**
 * What the Salesforce side posts (a record-triggered Flow's HTTP callout, or a
 * relay subscribed to a platform event) when an opportunity is closed-won.
 * Salesforce outbound messages carry no signature, so the sender signs with
 * the q2c relay scheme (see signature.ts).
 */
export const SalesforceClosedWonPayload = z.object({
  /** Unique per notification: the platform event's EventUuid or a Flow-generated GUID. */
  eventId: z.string().min(1).max(200),
  eventType: z.literal('opportunity.closed_won'),
  occurredAt: IsoInstant,
  opportunity: z.object({
    id: SalesforceId,
    accountId: SalesforceId,
    name: z.string().min(1).max(255).optional(),
    stageName: z.literal('Closed Won'),
    isWon: z.literal(true),
    closeDate: IsoDate.optional(),
    currencyIsoCode: z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code').optional(),
    /** The primary CPQ quote (SBQQ__PrimaryQuote__c), when there is one. */
    primaryQuoteId: SalesforceId.optional(),
  }),
});
export type SalesforceClosedWonPayload = z.infer<typeof SalesforceClosedWonPayload>;

export function salesforceSource(secrets: readonly string[], toleranceSeconds?: number): WebhookSource {
  return {
    name: 'salesforce',
    verify: (req, nowMs) => verifyQ2cSignature({ rawBody: req.rawBody, headers: req.headers, secrets, nowMs, toleranceSeconds }),
    parse(json) {
      const eventType = eventTypeOf(json, 'eventType', SALESFORCE_EVENT_TYPES);
      const body = parseOrThrow(SalesforceClosedWonPayload, json);
      const ev: ClosedWonEvent = {
        eventId: body.eventId,
        opportunityId: body.opportunity.id,
        accountId: body.opportunity.accountId,
        occurredAt: body.occurredAt,
      };
      return {
        eventId: body.eventId,
        eventType,
        opportunityId: body.opportunity.id,
        dispatch: (gateway, ctx) => gateway.startOrSignalClosedWon(ev, { correlationId: ctx.correlationId }),
      };
    },
  };
}
