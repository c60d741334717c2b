import { z } from 'zod';
import { IsoDate } from '../../canonical';

export const KantataErrorBody = z.looseObject({ errors: z.array(z.looseObject({ type: z.string().optional(), message: z.string() })) });

const id = z.union([z.string(), z.number()]).transform(String);

/** Kantata's envelope: results reference rows in a map keyed by id; meta.count is the total. */
export const KantataEnvelope = z.looseObject({
  count: z.number(),
  results: z.array(z.object({ key: z.string(), id })),
});
export type KantataEnvelope = z.infer<typeof KantataEnvelope>;

export const Workspace = z.looseObject({ id, title: z.string(), description: z.string().nullable().optional() });
export const Story = z.looseObject({ id, title: z.string(), story_type: z.string(), description: z.string().nullable().optional(), parent_id: id.nullable().optional() });
/** A timestamp as Kantata's API returns it (normalised to UTC where it is mapped). */
const timestamp = z.string().refine((v) => !Number.isNaN(Date.parse(v)), 'expected an ISO-8601 instant');

/** A story as the milestone read needs it: its state and when it last changed. */
export const MilestoneStoryRow = Story.extend({
  state: z.string(),
  updated_at: timestamp,
  completed_at: z.string().nullable().optional(),
  accepted_at: z.string().nullable().optional(),
});
export type MilestoneStoryRow = z.infer<typeof MilestoneStoryRow>;
export const Resource = z.looseObject({ id, role_name: z.string().optional(), name: z.string().nullable().optional() });
export const TimeEntryRow = z.looseObject({
  id,
  workspace_id: id,
  story_id: id.nullable(),
  user_id: id,
  date_performed: z.string(),
  time_in_minutes: z.number().int(),
  approved: z.boolean(),
  billable: z.boolean().optional(),
  notes: z.string().nullable().optional(),
  /** Not a Kantata field: a relay (or a proxy in front of Kantata) may add the user's role. */
  role_name: z.string().nullable().optional(),
  approved_at: timestamp.nullable().optional(),
  updated_at: timestamp.optional(),
});
export type TimeEntryRow = z.infer<typeof TimeEntryRow>;
export const ExpenseRow = z.looseObject({
  id,
  workspace_id: id,
  user_id: id.nullable().optional(),
  date: z.string(),
  category: z.string(),
  amount_in_cents: z.number().int(),
  currency: z.string(),
  approved: z.boolean(),
  billable: z.boolean().optional(),
  notes: z.string().nullable().optional(),
  approved_at: timestamp.nullable().optional(),
  updated_at: timestamp.optional(),
});
export type ExpenseRow = z.infer<typeof ExpenseRow>;
export const CustomFieldValue = z.looseObject({ id, subject_id: id, subject_type: z.string(), custom_field_name: z.string(), value: z.unknown(), display_value: z.string().nullable().optional() });
export const InvoiceRow = z.looseObject({ id, user_invoice_number: z.string().nullable().optional() });

/*
 * The Kantata relay: approved records pushed to q2c's webhook (POST
 * /webhooks/kantata/:kind), one kind per endpoint. The relay forwards each
 * record as Kantata's API returns it (the rows above), adding what the API
 * row lacks: the user's role (`role_name`, the user's 'Role' custom field the
 * sweep reads too) and, where it knows it, the approval time. Stricter than
 * the API rows: the relay is a program of its own, so every field is checked
 * and one bad item refuses the whole delivery (400).
 */

/** Ids arrive as strings or numbers; kept as strings. */
const RelayId = z.union([z.string().min(1).max(200), z.number().int().nonnegative()]).transform(String);
/**
 * An ISO-8601 date-time with a zone, any fractional precision, normalised to
 * UTC with milliseconds (the rule src/service/webhooks/parse.ts applies to every webhook).
 */
const RelayInstant = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/, { message: 'expected an ISO-8601 date-time with a zone', abort: true })
  .refine((v) => !Number.isNaN(Date.parse(v)), 'expected a valid date-time')
  .transform((v) => new Date(v).toISOString());
const RelayCurrency = z.string().regex(/^[A-Za-z]{3}$/, 'expected an ISO 4217 code').transform((c) => c.toUpperCase());
const RelayNotes = z.string().max(10_000).nullish();

/** An approved time entry (Kantata's field names). */
export const RelayTimeEntry = z.object({
  id: RelayId,
  story_id: RelayId.nullish(),
  user_id: RelayId,
  role_name: z.string().min(1).optional(),
  /** The day worked, or the instant with its zone (a PSA that time-stamps entries): the deal places it in the contracting entity's local day. */
  date_performed: z.union([IsoDate, RelayInstant], { error: 'expected YYYY-MM-DD or an ISO-8601 date-time with a zone' }),
  time_in_minutes: z.number().int().positive().max(24 * 60),
  billable: z.boolean(),
  approved: z.literal(true),
  notes: RelayNotes,
  approved_at: RelayInstant.optional(),
  updated_at: RelayInstant.optional(),
});
export type RelayTimeEntry = z.infer<typeof RelayTimeEntry>;

/** An approved expense. */
export const RelayExpense = z.object({
  id: RelayId,
  user_id: RelayId,
  date: IsoDate,
  category: z.string().min(1).max(200),
  amount_in_cents: z.number().int().nonnegative(),
  currency: RelayCurrency,
  billable: z.boolean(),
  notes: RelayNotes,
  approved_at: RelayInstant.optional(),
  updated_at: RelayInstant.optional(),
});
export type RelayExpense = z.infer<typeof RelayExpense>;

/**
 * A time entry or expense whose approval was withdrawn in Kantata (the relay's
 * `time-entry-unapproved` / `expense-unapproved` kinds): its id, and when, if the relay knows.
 */
export const RelayUnapproval = z.object({
  id: RelayId,
  approved: z.literal(false).optional(),
  unapproved_at: RelayInstant.optional(),
  updated_at: RelayInstant.optional(),
});
export type RelayUnapproval = z.infer<typeof RelayUnapproval>;

/** A story of type milestone, completed or accepted (the endpoint says which); `at`, when the relay states the time itself. */
export const RelayMilestone = z.object({
  id: RelayId,
  title: z.string().max(500).optional(),
  story_type: z.literal('milestone'),
  at: RelayInstant.optional(),
  completed_at: RelayInstant.nullish(),
  accepted_at: RelayInstant.nullish(),
  updated_at: RelayInstant.optional(),
});
export type RelayMilestone = z.infer<typeof RelayMilestone>;
