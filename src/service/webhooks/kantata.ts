import { z } from 'zod';
import type { DeliveryBatch, DeliveryItem } from '../../contract';
import { IsoDate, IsoInstant, parseOrThrow, VendorId } from './parse';
import { unknownEventType } from '../errors';
import { verifyQ2cSignature } from './signature';
import type { WebhookSource } from './source';

/** Items per delivery; a relay with more splits them over several events. */
export const KANTATA_MAX_ITEMS = 1000;

const Currency = z.string().regex(/^[A-Za-z]{3}$/, 'expected an ISO 4217 code').transform((c) => c.toUpperCase());

/** Kantata time entry, with the fields named as Kantata's API returns them. */
const KantataTimeEntry = z.object({
  id: VendorId,
  story_id: VendorId.optional(),
  user_id: VendorId,
  role_name: z.string().min(1).optional(),
  date_performed: IsoDate,
  time_in_minutes: z.number().int().positive().max(24 * 60),
  billable: z.boolean(),
  approved: z.literal(true),
  notes: z.string().max(10_000).optional(),
  approved_at: IsoInstant.optional(),
});

const KantataExpense = z.object({
  id: VendorId,
  user_id: VendorId,
  date: IsoDate,
  category: z.string().min(1).max(200),
  amount_in_cents: z.number().int().nonnegative(),
  currency: Currency,
  billable: z.boolean(),
  notes: z.string().max(10_000).optional(),
  approved_at: IsoInstant.optional(),
});

/** A Kantata story of type milestone. */
const KantataMilestone = z.object({
  id: VendorId,
  title: z.string().max(500).optional(),
  story_type: z.literal('milestone'),
  at: IsoInstant.optional(),
});

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
 * Payloads of the Kantata relay, one per endpoint kind. The relay (Kantata
 * webhook subscription or the PSA sweep) forwards the approved records as
 * Kantata's API returns them, signed with the q2c relay scheme.
 */
export const KantataPayloads = {
  'time-entry-approved': envelope(KantataTimeEntry),
  'expense-approved': envelope(KantataExpense),
  'milestone-completed': envelope(KantataMilestone),
  'milestone-accepted': envelope(KantataMilestone),
} as const;
type KantataEnvelope = Omit<z.infer<(typeof KantataPayloads)['time-entry-approved']>, 'items'> & { items: unknown[] };
export type KantataKind = keyof typeof KantataPayloads;
export const KANTATA_KINDS = Object.keys(KantataPayloads) as KantataKind[];

function toItems(kind: KantataKind, body: { workspaceId: string; occurredAt: string; items: unknown[] }): DeliveryItem[] {
  const projectId = body.workspaceId;
  switch (kind) {
    case 'time-entry-approved':
      return (body.items as z.infer<typeof KantataTimeEntry>[]).map((t) => ({
        kind: 'timeEntry',
        sourceId: t.id,
        projectId,
        ...(t.story_id ? { taskId: t.story_id } : {}),
        resourceId: t.user_id,
        ...(t.role_name ? { role: t.role_name } : {}),
        workDate: t.date_performed,
        minutes: t.time_in_minutes,
        billable: t.billable,
        ...(t.notes ? { notes: t.notes } : {}),
        approvedAt: t.approved_at ?? body.occurredAt,
      }));
    case 'expense-approved':
      return (body.items as z.infer<typeof KantataExpense>[]).map((e) => ({
        kind: 'expense',
        sourceId: e.id,
        projectId,
        resourceId: e.user_id,
        category: e.category,
        incurredOn: e.date,
        amountMinor: e.amount_in_cents,
        currency: e.currency,
        billable: e.billable,
        ...(e.notes ? { notes: e.notes } : {}),
        approvedAt: e.approved_at ?? body.occurredAt,
      }));
    case 'milestone-completed':
    case 'milestone-accepted':
      return (body.items as z.infer<typeof KantataMilestone>[]).map((m) => ({
        kind: 'milestone',
        sourceId: m.id,
        projectId,
        ...(m.title ? { title: m.title } : {}),
        status: kind === 'milestone-completed' ? 'completed' : 'accepted',
        at: m.at ?? body.occurredAt,
      }));
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
          };
          return gateway.signalDelivery(ctx.opportunityId, batch);
        },
      };
    },
  };
}
