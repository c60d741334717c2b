import { Expense, formatZodIssues, TimeEntry, type Project, type Task } from '../../canonical';
import { ConnectorError } from '../errors';
import type { ExpenseRow, TimeEntryRow } from './kantata.schemas';

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
): TimeEntry | undefined {
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
  return parsed.data;
}

export function toExpense(row: ExpenseRow, project: Project, contractLineId: string): Expense {
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
  return parsed.data;
}
