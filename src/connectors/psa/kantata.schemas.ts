import { z } from 'zod';

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
/** A story as the milestone read needs it: its state and when it last changed. */
export const MilestoneStoryRow = Story.extend({
  state: z.string(),
  updated_at: z.string().refine((v) => !Number.isNaN(Date.parse(v)), 'expected an ISO-8601 instant'),
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
});
export type ExpenseRow = z.infer<typeof ExpenseRow>;
export const CustomFieldValue = z.looseObject({ id, subject_id: id, subject_type: z.string(), custom_field_name: z.string(), value: z.unknown(), display_value: z.string().nullable().optional() });
export const InvoiceRow = z.looseObject({ id, user_invoice_number: z.string().nullable().optional() });
