import { z } from 'zod';
import { Id, Instant } from './common';
import { Contract } from './contract';
import { Amendment } from './amendment';
import { Customer } from './customer';
import { CanonicalError } from './errors';
import { Expense } from './expense';
import { MilestoneCompletion } from './milestone-completion';
import { Payment } from './payment';
import { Quote } from './quote';
import { TimeEntry } from './time-entry';
import { formatZodIssues } from './zod-issues';
import { CurrencyCode, parseDecimal } from './money';
import { IsoDate, ExternalIds } from './common';

/** Every inbound event travels in this envelope; `payload` is validated per type and version. */
export const EventEnvelope = z.object({
  id: Id,
  type: z.string().regex(/^[a-z_]+\.[a-z_]+$/, "expected 'object.verb' like time_entry.approved"),
  schemaVersion: z.int().positive(),
  correlationId: Id,
  idempotencyKey: Id,
  /** Producing system: 'salesforce', 'docusign', 'kantata', 'stripe', 'q2c' ... */
  source: z.string().min(1),
  occurredAt: Instant,
  payload: z.unknown(),
});
export type EventEnvelope = z.infer<typeof EventEnvelope>;

/** One historical payload version and how to lift it to the next version. */
interface PastVersion {
  readonly schema: z.ZodType;
  readonly upcast: (payload: never) => unknown;
}

interface EventDefinition<S extends z.ZodType> {
  readonly latestVersion: number;
  readonly schema: S;
  /** Keyed by version n < latestVersion: validates a vN payload and returns a v(n+1) payload. */
  readonly past: Readonly<Record<number, PastVersion>>;
}

const define = <S extends z.ZodType>(d: EventDefinition<S>): EventDefinition<S> => d;
const past = <P extends z.ZodType>(schema: P, upcast: (payload: z.infer<P>) => unknown): PastVersion => ({ schema, upcast: upcast as (p: never) => unknown });

// --- historical payloads -----------------------------------------------------------

/** time_entry.approved v1 (PSA feed before 2025): hours as a decimal string, 'date', no overtime flag. */
export const TimeEntryApprovedV1 = z.object({
  id: Id,
  projectId: Id,
  contractId: Id,
  contractLineId: Id,
  taskId: Id,
  role: z.string().min(1),
  region: z.string().min(1),
  resourceLegalEntityId: Id,
  date: IsoDate,
  hours: z.string().regex(/^\d{1,2}(\.\d{1,4})?$/),
  approved: z.boolean(),
});

/** hours '7.5' -> 450 minutes, exactly; hours that are not a whole number of minutes are refused. */
const hoursToMinutes = (hours: string): number => {
  const [w, f = ''] = hours.split('.');
  const tenThousandths = Number(w) * 10_000 + Number(f.padEnd(4, '0'));
  const num = tenThousandths * 60;
  if (num % 10_000 !== 0) {
    throw new CanonicalError('EVENT.INVALID_PAYLOAD', `hours ${hours} is not a whole number of minutes`, { hours });
  }
  return num / 10_000;
};

/** time_entry.approved v2: minutes as an integer, 'workDate', explicit overtime. */
export const TimeEntryApprovedV2 = TimeEntry.omit({ externalIds: true, resourceId: true, description: true }).extend({
  overtime: z.boolean(),
});

/** expense.approved v1: amount as decimal string with a sibling currency. */
export const ExpenseApprovedV1 = z.object({
  id: Id,
  projectId: Id,
  contractId: Id,
  contractLineId: Id,
  category: z.string().min(1),
  amount: z.string().regex(/^\d+(\.\d+)?$/),
  currency: CurrencyCode,
  incurredOn: IsoDate,
  approved: z.boolean(),
  externalIds: ExternalIds.optional(),
});

// --- the registry ---------------------------------------------------------------------

export const EVENT_DEFINITIONS = {
  'customer.upserted': define({ latestVersion: 1, schema: Customer, past: {} }),
  'quote.accepted': define({ latestVersion: 1, schema: Quote, past: {} }),
  'contract.signed': define({ latestVersion: 1, schema: Contract, past: {} }),
  'contract.amended': define({ latestVersion: 1, schema: Amendment, past: {} }),
  'time_entry.approved': define({
    latestVersion: 3,
    schema: TimeEntry,
    past: {
      1: past(TimeEntryApprovedV1, ({ date, hours, ...rest }) => ({ ...rest, workDate: date, minutes: hoursToMinutes(hours), overtime: false })),
      // v3 added resourceId/description/externalIds, all optional or defaulted: identity upcast
      2: past(TimeEntryApprovedV2, (p) => p),
    },
  }),
  'expense.approved': define({
    latestVersion: 2,
    schema: Expense,
    past: {
      1: past(ExpenseApprovedV1, ({ amount, currency, ...rest }) => ({ ...rest, amount: parseDecimal(amount, currency) })),
    },
  }),
  'milestone.accepted': define({ latestVersion: 1, schema: MilestoneCompletion, past: {} }),
  'payment.received': define({ latestVersion: 1, schema: Payment, past: {} }),
} as const;

export type CanonicalEventType = keyof typeof EVENT_DEFINITIONS;
export const CANONICAL_EVENT_TYPES = Object.keys(EVENT_DEFINITIONS) as CanonicalEventType[];

/** An envelope at the latest schema version with its payload typed by `type`. */
export type CanonicalEvent = {
  [K in CanonicalEventType]: Omit<EventEnvelope, 'type' | 'payload'> & {
    type: K;
    payload: z.infer<(typeof EVENT_DEFINITIONS)[K]['schema']>;
  };
}[CanonicalEventType];

export type ParseEventResult =
  | { ok: true; event: CanonicalEvent; upcastFrom: number }
  | { ok: false; code: 'EVENT.INVALID_ENVELOPE' | 'EVENT.UNKNOWN_TYPE' | 'EVENT.UNSUPPORTED_VERSION' | 'EVENT.INVALID_PAYLOAD'; errors: string[] };

const prefix = (p: string, lines: string[]): string[] => lines.map((l) => (l.startsWith('(root)') ? p + l.slice(6) : `${p}.${l}`));

/**
 * Validate an envelope, upcast its payload version by version to the latest,
 * and validate the result. Never throws for bad input: errors carry field paths
 * ('payload.minutes: ...') so the service can answer 4xx with them.
 */
export const parseEvent = (raw: unknown): ParseEventResult => {
  const env = EventEnvelope.safeParse(raw);
  if (!env.success) return { ok: false, code: 'EVENT.INVALID_ENVELOPE', errors: formatZodIssues(env.error) };
  const { type, schemaVersion } = env.data;
  if (!Object.prototype.hasOwnProperty.call(EVENT_DEFINITIONS, type)) {
    return { ok: false, code: 'EVENT.UNKNOWN_TYPE', errors: [`type: unknown event type ${type}`] };
  }
  const def: EventDefinition<z.ZodType> = EVENT_DEFINITIONS[type as CanonicalEventType];
  if (schemaVersion > def.latestVersion || (schemaVersion < def.latestVersion && !def.past[schemaVersion])) {
    return { ok: false, code: 'EVENT.UNSUPPORTED_VERSION', errors: [`schemaVersion: ${type} has no version ${schemaVersion} (latest ${def.latestVersion})`] };
  }
  let payload: unknown = env.data.payload;
  for (let v = schemaVersion; v < def.latestVersion; v++) {
    const pv = def.past[v];
    if (!pv) return { ok: false, code: 'EVENT.UNSUPPORTED_VERSION', errors: [`schemaVersion: no upcaster from ${type} v${v}`] };
    const parsed = pv.schema.safeParse(payload);
    if (!parsed.success) return { ok: false, code: 'EVENT.INVALID_PAYLOAD', errors: prefix('payload', formatZodIssues(parsed.error)) };
    try {
      payload = pv.upcast(parsed.data as never);
    } catch (e) {
      if (e instanceof CanonicalError) return { ok: false, code: 'EVENT.INVALID_PAYLOAD', errors: [`payload: ${e.message}`] };
      throw e;
    }
  }
  const final = def.schema.safeParse(payload);
  if (!final.success) return { ok: false, code: 'EVENT.INVALID_PAYLOAD', errors: prefix('payload', formatZodIssues(final.error)) };
  const event = { ...env.data, schemaVersion: def.latestVersion, payload: final.data } as CanonicalEvent;
  return { ok: true, event, upcastFrom: schemaVersion };
};
