import { Expense, formatZodIssues, TimeEntry, type Project, type Task } from '../../canonical';
import type { DeliveredExpense, DeliveredMilestone, DeliveredTimeEntry } from '../../contract';
import { ConnectorError } from '../errors';
import type { ExpenseRow, MilestoneStoryRow, TimeEntryRow } from './kantata.schemas';
import type { PsaExpense, PsaMilestoneEvent, PsaTimeEntry } from './psa.port';

/**
 * The deterministic reference q2c writes into descriptions (workspaces,
 * stories) and names (placeholders): Kantata has no idempotency key, so
 * these are what look-up-before-create searches for.
 */
export const refTag = (ref: string): string => `q2c-ref:${ref}`;
export const refOf = (text: string | null | undefined): string | undefined => /q2c-ref:(\S+)/.exec(text ?? '')?.[1];

/** User custom fields q2c reads to value time: role, region and employing legal entity. */
export const USER_FIELDS = { role: 'Role', region: 'Region', legalEntity: 'Legal Entity' } as const;

export const tasksById = (project: Project): Map<string, Task> => new Map(project.phases.flatMap((p) => p.tasks).map((t) => [t.id, t]));

export function toTimeEntry(
  row: TimeEntryRow,
  project: Project,
  storyToTask: ReadonlyMap<string, string>,
  user: Readonly<Record<string, string>>,
): PsaTimeEntry | undefined {
  const taskId = row.story_id === null ? undefined : storyToTask.get(row.story_id);
  const task = taskId === undefined ? undefined : tasksById(project).get(taskId);
  // Time on tasks q2c did not create, or that bill against no contract line, is not billable work.
  if (!task?.contractLineId) return undefined;
  const candidate = {
    id: row.id,
    projectId: project.id,
    contractId: project.contractId,
    contractLineId: task.contractLineId,
    taskId: task.id,
    resourceId: row.user_id,
    role: user[USER_FIELDS.role],
    region: user[USER_FIELDS.region],
    resourceLegalEntityId: user[USER_FIELDS.legalEntity],
    workDate: row.date_performed,
    minutes: row.time_in_minutes,
    approved: row.approved,
    ...(row.notes ? { description: row.notes } : {}),
    externalIds: { kantata: row.id },
  };
  const parsed = TimeEntry.safeParse(candidate);
  if (!parsed.success) {
    throw new ConnectorError('HTTP.UNEXPECTED_RESPONSE', `Kantata time entry ${row.id} cannot be valued: ${formatZodIssues(parsed.error).join('; ')}`, { meta: { system: 'kantata', recordId: row.id, userId: row.user_id } });
  }
  return { ...parsed.data, billable: row.billable ?? task.billable };
}

export function toExpense(row: ExpenseRow, project: Project, contractLineId: string): PsaExpense {
  const parsed = Expense.safeParse({
    id: row.id,
    projectId: project.id,
    contractId: project.contractId,
    contractLineId,
    ...(row.user_id ? { resourceId: row.user_id } : {}),
    category: row.category,
    amount: { amountMinor: row.amount_in_cents, currency: row.currency },
    incurredOn: row.date,
    approved: row.approved,
    ...(row.notes ? { description: row.notes } : {}),
    externalIds: { kantata: row.id },
  });
  if (!parsed.success) {
    throw new ConnectorError('HTTP.UNEXPECTED_RESPONSE', `Kantata expense ${row.id} is not a valid expense: ${formatZodIssues(parsed.error).join('; ')}`, { meta: { system: 'kantata', recordId: row.id } });
  }
  return { ...parsed.data, billable: row.billable ?? true };
}

/*
 * Delivery items: what the webhook relay and the sweep's reads hand the deal.
 * One mapping per kind, from the Kantata record (an API row, or the relay's
 * copy of it), so the same record gives the same item whichever way it came.
 * The items keep Kantata's ids (record, story, user): the deal maps stories
 * to its tasks and milestones (BillingSetup.psaIds).
 */

/** A time entry with Kantata's field names: a relay item, or an API row with the user's role and the resolved billable flag. */
export interface KantataTimeRecord {
  id: string;
  story_id?: string | null;
  user_id: string;
  role_name?: string | null;
  date_performed: string;
  time_in_minutes: number;
  billable: boolean;
  notes?: string | null;
  approved_at?: string | null;
  updated_at?: string;
}

export interface KantataExpenseRecord {
  id: string;
  user_id?: string | null;
  date: string;
  category: string;
  amount_in_cents: number;
  currency: string;
  /** Absent: billable (Kantata's default). */
  billable?: boolean;
  notes?: string | null;
  approved_at?: string | null;
  updated_at?: string;
}

/** A milestone story: a relay item (which may state `at`), or an API row. */
export interface KantataMilestoneRecord {
  id: string;
  title?: string;
  at?: string;
  completed_at?: string | null;
  accepted_at?: string | null;
  updated_at?: string;
}

/** What an item needs besides its record: the workspace, and the instant the record was reported at (the relay's occurredAt, the sweep's read). */
export interface DeliveryContext {
  projectId: string;
  reportedAt: string;
}

/** An instant as UTC with milliseconds; empty is absent; anything unparseable is Kantata's error. */
const instant = (v: string | null | undefined, recordId: string): string | undefined => {
  if (v === null || v === undefined || v === '') return undefined;
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new ConnectorError('HTTP.UNEXPECTED_RESPONSE', `Kantata record ${recordId} has an invalid timestamp '${v}'`, { meta: { system: 'kantata', recordId } });
  return new Date(ms).toISOString();
};

/** When the record was approved: its own approval time, else its last change, else when it was reported. */
const approvedAt = (r: { id: string; approved_at?: string | null; updated_at?: string }, ctx: DeliveryContext): string =>
  instant(r.approved_at, r.id) ?? instant(r.updated_at, r.id) ?? instant(ctx.reportedAt, r.id)!;

export function deliveredTimeEntry(r: KantataTimeRecord, ctx: DeliveryContext): DeliveredTimeEntry {
  return {
    kind: 'timeEntry',
    sourceId: r.id,
    projectId: ctx.projectId,
    ...(r.story_id ? { taskId: r.story_id } : {}),
    resourceId: r.user_id,
    ...(r.role_name ? { role: r.role_name } : {}),
    workDate: r.date_performed,
    minutes: r.time_in_minutes,
    billable: r.billable,
    ...(r.notes ? { notes: r.notes } : {}),
    approvedAt: approvedAt(r, ctx),
  };
}

/** Not billable in Kantata: the deal reports it EXCLUDED; otherwise the rules' expense policy decides. */
export function deliveredExpense(r: KantataExpenseRecord, ctx: DeliveryContext): DeliveredExpense {
  return {
    kind: 'expense',
    sourceId: r.id,
    projectId: ctx.projectId,
    resourceId: r.user_id ?? 'unassigned',
    category: r.category,
    incurredOn: r.date,
    amountMinor: r.amount_in_cents,
    currency: r.currency.toUpperCase(),
    billable: r.billable ?? true,
    ...(r.notes ? { notes: r.notes } : {}),
    approvedAt: approvedAt(r, ctx),
  };
}

/** When the story reached `status`: Kantata's stamp for that state, else the time the relay states, else the story's last change. */
const milestoneAt = (r: KantataMilestoneRecord, status: DeliveredMilestone['status']): string | undefined =>
  instant(status === 'completed' ? r.completed_at : r.accepted_at, r.id) ?? instant(r.at, r.id) ?? instant(r.updated_at, r.id);

/** `sourceId` is the Kantata story id: the deal maps it to its milestone, and dedupes on (sourceId, status). */
export function deliveredMilestone(r: KantataMilestoneRecord, status: DeliveredMilestone['status'], ctx: DeliveryContext): DeliveredMilestone {
  return { kind: 'milestone', sourceId: r.id, projectId: ctx.projectId, ...(r.title ? { title: r.title } : {}), status, at: milestoneAt(r, status) ?? instant(ctx.reportedAt, r.id)! };
}

/** An approved time row as the relay forwards it: the user's role when the row names none, and the billable flag the entry was valued with. */
export const timeRecordOf = (row: TimeEntryRow, valued: PsaTimeEntry): KantataTimeRecord => ({ ...row, role_name: row.role_name ?? valued.role, billable: valued.billable });

/**
 * The milestone states a story stands for, as the webhook relay would have
 * reported them: 'completed' -> completed; 'accepted' -> accepted, preceded by
 * its completion when the story keeps that time. Other stories and states: none.
 */
function milestoneStates(row: MilestoneStoryRow): Array<DeliveredMilestone['status']> {
  if (row.story_type !== 'milestone') return [];
  if (row.state === 'completed') return ['completed'];
  if (row.state === 'accepted') return instant(row.completed_at, row.id) ? ['completed', 'accepted'] : ['accepted'];
  return [];
}

/** The milestone states of a story as PSA events: the story id, and the q2c milestone when q2c created the story (its q2c-ref tag). */
export function toMilestoneEvents(row: MilestoneStoryRow): PsaMilestoneEvent[] {
  const milestoneId = refOf(row.description);
  return milestoneStates(row).map((status) => ({ psaId: row.id, ...(milestoneId ? { milestoneId } : {}), title: row.title, status, at: milestoneAt(row, status)! }));
}
