import { Expense, formatZodIssues, TimeEntry, type Project, type Task } from '../../canonical';
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

const instant = (v: string | null | undefined, row: MilestoneStoryRow): string | undefined => {
  if (v === null || v === undefined || v === '') return undefined;
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new ConnectorError('HTTP.UNEXPECTED_RESPONSE', `Kantata story ${row.id} has an invalid timestamp '${v}'`, { meta: { system: 'kantata', recordId: row.id } });
  return new Date(ms).toISOString();
};

/**
 * The milestone states a story stands for, as the webhook relay would have
 * reported them: 'completed' -> completed; 'accepted' -> accepted, preceded by
 * its completion when the story keeps that time. Other stories and states: none.
 */
export function toMilestoneEvents(row: MilestoneStoryRow): PsaMilestoneEvent[] {
  if (row.story_type !== 'milestone' || (row.state !== 'completed' && row.state !== 'accepted')) return [];
  const updated = new Date(row.updated_at).toISOString();
  const milestoneId = refOf(row.description);
  const base = { psaId: row.id, ...(milestoneId ? { milestoneId } : {}), title: row.title };
  const completedAt = instant(row.completed_at, row);
  if (row.state === 'completed') return [{ ...base, status: 'completed', at: completedAt ?? updated }];
  return [...(completedAt ? [{ ...base, status: 'completed' as const, at: completedAt }] : []), { ...base, status: 'accepted', at: instant(row.accepted_at, row) ?? updated }];
}
