import { z } from 'zod';
import type { DeliveryBatch, DeliveryItem, Unapproval } from '../../contract';
import { deliveredExpense, deliveredMilestone, deliveredTimeEntry } from '../../connectors/psa/kantata.mapper';
import { RelayExpense, RelayMilestone, RelayTimeEntry, RelayUnapproval } from '../../connectors/psa/kantata.schemas';
import { IsoInstant, parseOrThrow, VendorId } from './parse';
import { unknownEventType } from '../errors';
import { verifyQ2cSignature } from './signature';
import type { WebhookSource } from './source';

/** Items per delivery; a relay with more splits them over several events. */
export const KANTATA_MAX_ITEMS = 1000;

const envelope = <T extends z.ZodType>(item: T) =>
  z.object({
    eventId: z.string().min(1).max(200),
    occurredAt: IsoInstant,
    workspaceId: VendorId,
    /** The workspace's opportunity custom field, when the relay can read it. */
    opportunityId: z.string().min(1).max(100).optional(),
    items: z.array(item).min(1).max(KANTATA_MAX_ITEMS),
  });

/**
 * Payloads of the Kantata relay, one per endpoint kind: the approved records
 * as Kantata's API returns them (the PSA connector's relay schemas, which the
 * sweep's reads map through the same functions), signed with the q2c relay scheme.
 */
export const KantataPayloads = {
  'time-entry-approved': envelope(RelayTimeEntry),
  'expense-approved': envelope(RelayExpense),
  'milestone-completed': envelope(RelayMilestone),
  'milestone-accepted': envelope(RelayMilestone),
  /** The approval of a time entry or expense was withdrawn: the deal takes an unbilled one back, and raises an attention item for a billed one. */
  'time-entry-unapproved': envelope(RelayUnapproval),
  'expense-unapproved': envelope(RelayUnapproval),
} as const;
type KantataEnvelope = Omit<z.infer<(typeof KantataPayloads)['time-entry-approved']>, 'items'> & { items: unknown[] };
export type KantataKind = keyof typeof KantataPayloads;
export const KANTATA_KINDS = Object.keys(KantataPayloads) as KantataKind[];

/** The withdrawn approvals of an `*-unapproved` event; a record without its own time is stamped with the event's. */
function toUnapprovals(kind: KantataKind, body: { occurredAt: string; items: unknown[] }): Unapproval[] {
  if (kind !== 'time-entry-unapproved' && kind !== 'expense-unapproved') return [];
  return (body.items as RelayUnapproval[]).map((u) => ({ kind: kind === 'time-entry-unapproved' ? 'timeEntry' : 'expense', sourceId: u.id, at: u.unapproved_at ?? u.updated_at ?? body.occurredAt }));
}

/** The delivery items of one relay event; a record without its own time is stamped with the event's. */
function toItems(kind: KantataKind, body: { workspaceId: string; occurredAt: string; items: unknown[] }): DeliveryItem[] {
  const ctx = { projectId: body.workspaceId, reportedAt: body.occurredAt };
  switch (kind) {
    case 'time-entry-unapproved':
    case 'expense-unapproved':
      return [];
    case 'time-entry-approved':
      return (body.items as RelayTimeEntry[]).map((t) => deliveredTimeEntry(t, ctx));
    case 'expense-approved':
      return (body.items as RelayExpense[]).map((e) => deliveredExpense(e, ctx));
    case 'milestone-completed':
      return (body.items as RelayMilestone[]).map((m) => deliveredMilestone(m, 'completed', ctx));
    case 'milestone-accepted':
      return (body.items as RelayMilestone[]).map((m) => deliveredMilestone(m, 'accepted', ctx));
  }
}

export function kantataSource(secrets: readonly string[], toleranceSeconds?: number): WebhookSource {
  return {
    name: 'kantata',
    verify: (req, nowMs) => verifyQ2cSignature({ rawBody: req.rawBody, headers: req.headers, secrets, nowMs, toleranceSeconds }),
    parse(json, req) {
      const kind = req.params.kind ?? '';
      if (!(kind in KantataPayloads)) throw unknownEventType(kind);
      const k = kind as KantataKind;
      const body = parseOrThrow(KantataPayloads[k] as z.ZodType<KantataEnvelope>, json);
      const items = toItems(k, body);
      const unapprovals = toUnapprovals(k, body);
      return {
        eventId: body.eventId,
        eventType: k,
        opportunityId: body.opportunityId,
        lookup: { system: 'kantata', externalIds: [body.workspaceId] },
        dispatch(gateway, ctx) {
          const batch: DeliveryBatch = {
            batchId: `kantata:${body.eventId}`,
            source: 'kantata',
            receivedAt: ctx.receivedAt.toISOString(),
            items,
            ...(unapprovals.length > 0 ? { unapprovals } : {}),
          };
          return gateway.signalDelivery(ctx.opportunityId, batch);
        },
      };
    },
  };
}
