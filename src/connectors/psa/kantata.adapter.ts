import type { Logger } from 'pino';
import type { z } from 'zod';
import { collect, HttpClient, paginatePages, type AuthProvider, type ErrorContext, type TokenBucket, type VendorClassification, DEFAULT_REPEAT } from '../http';
import type { DeliveredExpense, DeliveredTimeEntry } from '../../contract';
import { deliveredExpense, deliveredMilestone, deliveredTimeEntry, refOf, refTag, timeRecordOf, toExpense, toMilestoneEvents, toTimeEntry } from './kantata.mapper';
import { ConnectorError } from '../errors';
import { CustomFieldValue, ExpenseRow, InvoiceRow, KantataEnvelope, KantataErrorBody, MilestoneStoryRow, Resource, Story, TimeEntryRow, Workspace } from './kantata.schemas';
import type { Phase } from '../../canonical';
import type {
  AddProjectScopeInput,
  ArchiveProjectScopeInput,
  CreateProjectInput,
  DeliveredMilestones,
  ListApprovedExpensesInput,
  ListApprovedInput,
  ListDeliveredExpensesInput,
  ListDeliveredInput,
  ListMilestoneEventsInput,
  PsaExpense,
  PsaMilestoneEvent,
  PsaPort,
  PsaProjectRef,
  PsaTimeEntry,
  ProjectScopeRef,
  RecordInvoiceInput,
} from './psa.port';

export interface KantataConfig {
  /** Page size for list calls (Kantata allows up to 200). */
  perPage?: number;
}

export function classifyKantata(ctx: ErrorContext): VendorClassification | undefined {
  const parsed = KantataErrorBody.safeParse(ctx.body);
  if (!parsed.success) return undefined;
  const message = parsed.data.errors.map((e) => e.message).join('; ');
  const type = parsed.data.errors[0]?.type;
  return { message, ...(type ? { vendorCode: type } : {}) };
}

export interface KantataHttpOptions {
  /** e.g. https://api.mavenlink.com/api/v1 */
  baseUrl: string;
  auth: AuthProvider;
  rateLimiter?: TokenBucket;
  logger?: Logger;
  timeoutMs?: number;
}

export const createKantataHttp = (o: KantataHttpOptions): HttpClient =>
  new HttpClient({
    system: 'kantata',
    baseUrl: o.baseUrl,
    auth: o.auth,
    classify: classifyKantata,
    ...(o.rateLimiter ? { rateLimiter: o.rateLimiter } : {}),
    ...(o.logger ? { logger: o.logger } : {}),
    ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
    repeat: DEFAULT_REPEAT,
  });

/**
 * Kantata OX API v1. No idempotency key exists, so every create writes a
 * deterministic `q2c-ref:` tag into the record and looks for it first: a retry
 * after a POST that committed and then timed out finds the record instead of
 * creating a second.
 */
export class KantataPsaAdapter implements PsaPort {
  constructor(
    private readonly http: HttpClient,
    private readonly config: KantataConfig = {},
  ) {}

  private get perPage(): number {
    return this.config.perPage ?? 200;
  }

  /** Every row of a list endpoint, in Kantata's result order, across pages. */
  private async list<T>(path: string, key: string, row: z.ZodType<T>, query: Record<string, string> = {}): Promise<T[]> {
    return collect(
      paginatePages(this.perPage, async (page, perPage) => {
        const res = await this.http.request({ method: 'GET', path, query: { ...query, page, per_page: perPage }, schema: KantataEnvelope });
        return { items: rowsOf(res.body, key, row, path), count: res.body.count };
      }),
    );
  }

  private async create<T>(path: string, key: string, wrapper: string, fields: Record<string, unknown>, row: z.ZodType<T>): Promise<T> {
    const res = await this.http.request({ method: 'POST', path, json: { [wrapper]: fields }, schema: KantataEnvelope });
    const created = rowsOf(res.body, key, row, path)[0];
    if (!created) throw new ConnectorError('HTTP.UNEXPECTED_RESPONSE', `Kantata POST ${path} returned no ${key}`, { meta: { system: 'kantata', path } });
    return created;
  }

  async createProject({ project, currency, idempotencyKey, rateCardId }: CreateProjectInput): Promise<PsaProjectRef> {
    const tag = refTag(idempotencyKey);
    const found = (await this.list('/workspaces.json', 'workspaces', Workspace, { search: `description:'${tag}'`, include_archived: 'true' })).find((w) => refOf(w.description) === idempotencyKey);
    const billingModes = new Set(project.phases.flatMap((p) => p.milestones).map(() => 'fixed_fee'));
    const workspace =
      found ??
      (await this.create(
        '/workspaces.json',
        'workspaces',
        'workspace',
        {
          title: project.name,
          description: `${tag}\nq2c project ${project.id} for contract ${project.contractId} v${project.contractVersion}, template ${project.templateId}`,
          creator_role: 'maven',
          currency,
          start_date: project.startDate,
          ...(project.endDate ? { due_date: project.endDate } : {}),
          budgeted: true,
          billing_mode_default: billingModes.size > 0 && project.phases.every((p) => p.tasks.length === 0) ? 'fixed_fee' : 'time_and_materials',
          ...(rateCardId ? { rate_card_id: rateCardId } : {}),
        },
        Workspace,
      ));
    const ids: Record<string, string> = { [project.id]: workspace.id };

    // Stories: phases are deliverables; milestones (fixed-fee, billable on completion) and tasks sit under them.
    const stories = found ? await this.storyRefs(workspace.id) : new Map<string, string>();
    Object.assign(ids, await this.createPhases(workspace.id, project.phases, stories));

    // Role placeholders: unnamed resources carrying the role, region and planned effort.
    const resources = new Map<string, string>();
    if (found) for (const r of await this.list('/resources.json', 'resources', Resource, { workspace_id: workspace.id })) {
      const ref = refOf(r.name);
      if (ref) resources.set(ref, r.id);
    }
    for (const ph of project.rolePlaceholders) {
      ids[ph.id] =
        resources.get(ph.id) ??
        (await this.create('/resources.json', 'resources', 'resource', { workspace_id: workspace.id, role_name: ph.role, name: `${ph.role} · ${ph.region} ${refTag(ph.id)}`, planned_minutes: ph.plannedMinutes, ...(ph.phaseId && ids[ph.phaseId] ? { story_id: ids[ph.phaseId] } : {}) }, Resource)).id;
    }
    return { id: workspace.id, created: found === undefined, ids };
  }

  /** The workspace's stories q2c created (archived ones too), by q2c reference: canonical id -> Kantata story id. */
  private async storyRefs(workspaceId: string): Promise<Map<string, string>> {
    const refs = new Map<string, string>();
    for (const s of await this.list('/stories.json', 'stories', Story, { workspace_id: workspaceId, archived: 'include' })) {
      const ref = refOf(s.description);
      if (ref && !refs.has(ref)) refs.set(ref, s.id);
    }
    return refs;
  }

  /**
   * Phases as deliverable stories with their milestones and tasks under them;
   * a story whose reference is in `stories` is taken as it is. Canonical id -> story id.
   */
  private async createPhases(workspaceId: string, phases: readonly Phase[], stories: Map<string, string>, created: string[] = []): Promise<Record<string, string>> {
    const ids: Record<string, string> = {};
    const story = async (ref: string, fields: Record<string, unknown>): Promise<string> => {
      const existing = stories.get(ref);
      if (existing) return existing;
      const row = await this.create('/stories.json', 'stories', 'story', { ...fields, workspace_id: workspaceId, description: `${refTag(ref)}${fields.description ? `\n${String(fields.description)}` : ''}` }, Story);
      stories.set(ref, row.id);
      created.push(ref);
      return row.id;
    };
    for (const phase of phases) {
      const phaseId = await story(phase.id, { title: phase.name, story_type: 'deliverable', billable: true });
      ids[phase.id] = phaseId;
      for (const m of phase.milestones) {
        ids[m.id] = await story(m.id, { title: m.name, story_type: 'milestone', parent_id: phaseId, billable: true, fixed_fee: true, ...(m.dueDate ? { due_date: m.dueDate } : {}), description: `contract line ${m.contractLineId}` });
      }
      for (const t of phase.tasks) {
        ids[t.id] = await story(t.id, { title: t.name, story_type: 'task', parent_id: phaseId, billable: t.billable, ...(t.contractLineId ? { description: `contract line ${t.contractLineId}` } : {}) });
      }
    }
    return ids;
  }

  async addProjectScope({ projectId, phases }: AddProjectScopeInput): Promise<ProjectScopeRef> {
    const created: string[] = [];
    const ids = await this.createPhases(projectId, phases, await this.storyRefs(projectId), created);
    return { ids, created };
  }

  /** Kantata archives a story with `archived: true` (GET /stories hides it unless asked with archived=include); archiving again changes nothing. */
  async archiveProjectScope({ projectId, refs }: ArchiveProjectScopeInput): Promise<{ archived: string[] }> {
    const stories = await this.storyRefs(projectId);
    const archived: string[] = [];
    for (const ref of refs) {
      const id = stories.get(ref);
      if (id === undefined) continue;
      await this.http.request({ method: 'PUT', path: `/stories/${encodeURIComponent(id)}.json`, json: { story: { archived: true } }, schema: KantataEnvelope });
      archived.push(ref);
    }
    return { archived };
  }

  async closeProject(projectId: string, reason: string): Promise<void> {
    // Archiving twice is harmless: Kantata accepts the same update again.
    await this.http.request({ method: 'PUT', path: `/workspaces/${encodeURIComponent(projectId)}.json`, json: { workspace: { archived: true, status_message: reason.slice(0, 255) } }, schema: KantataEnvelope });
  }

  /** Story id -> canonical id (phase, milestone or task), from the refs createProject wrote. */
  private async storyToTask(workspaceId: string): Promise<Map<string, string>> {
    const map = new Map<string, string>();
    for (const s of await this.list('/stories.json', 'stories', Story, { workspace_id: workspaceId, archived: 'include' })) {
      const ref = refOf(s.description);
      if (ref) map.set(s.id, ref);
    }
    return map;
  }

  /** The workspace's stories and placeholders q2c created, by their q2c refs: canonical id -> Kantata id. */
  async getProjectIds(projectId: string): Promise<Record<string, string>> {
    const ids: Record<string, string> = {};
    for (const [storyId, ref] of await this.storyToTask(projectId)) ids[ref] ??= storyId;
    for (const r of await this.list('/resources.json', 'resources', Resource, { workspace_id: projectId })) {
      const ref = refOf(r.name);
      if (ref) ids[ref] ??= r.id;
    }
    return ids;
  }

  /**
   * Approved time rows changed since `since` that bill a contract line (on a
   * task q2c created), each with its canonical entry valued by the user's
   * custom fields (role, region, legal entity): a row that cannot be valued
   * is an error, not a silent drop.
   */
  private async approvedTime({ projectId, project, since }: ListApprovedInput): Promise<Array<{ row: TimeEntryRow; entry: PsaTimeEntry }>> {
    const rows = await this.list('/time_entries.json', 'time_entries', TimeEntryRow, { workspace_id: projectId, approved: 'true', updated_after: since });
    if (rows.length === 0) return [];
    const storyToTask = await this.storyToTask(projectId);
    const userIds = [...new Set(rows.map((r) => r.user_id))];
    const values = await this.list('/custom_field_values.json', 'custom_field_values', CustomFieldValue, { subject_type: 'User', with_subject_id: userIds.join(',') });
    const byUser = new Map<string, Record<string, string>>();
    for (const v of values) {
      const fields = byUser.get(v.subject_id) ?? {};
      fields[v.custom_field_name] = v.display_value ?? String(v.value ?? '');
      byUser.set(v.subject_id, fields);
    }
    return rows.flatMap((row) => {
      const entry = toTimeEntry(row, project, storyToTask, byUser.get(row.user_id) ?? {});
      return entry ? [{ row, entry }] : [];
    });
  }

  async listApprovedTime(input: ListApprovedInput): Promise<PsaTimeEntry[]> {
    return (await this.approvedTime(input)).map((t) => t.entry);
  }

  async listDeliveredTime(input: ListDeliveredInput): Promise<DeliveredTimeEntry[]> {
    const ctx = { projectId: input.projectId, reportedAt: input.reportedAt };
    return (await this.approvedTime(input)).map(({ row, entry }) => deliveredTimeEntry(timeRecordOf(row, entry), ctx));
  }

  /** Approved expense rows changed since `since`, each checked as a canonical expense on the expense line. */
  private async approvedExpenses({ projectId, project, since, expenseContractLineId }: ListApprovedExpensesInput): Promise<Array<{ row: ExpenseRow; expense: PsaExpense }>> {
    const rows = await this.list('/expenses.json', 'expenses', ExpenseRow, { workspace_id: projectId, approved: 'true', updated_after: since });
    return rows.map((row) => ({ row, expense: toExpense(row, project, expenseContractLineId) }));
  }

  async listApprovedExpenses(input: ListApprovedExpensesInput): Promise<PsaExpense[]> {
    return (await this.approvedExpenses(input)).map((x) => x.expense);
  }

  async listDeliveredExpenses(input: ListDeliveredExpensesInput): Promise<DeliveredExpense[]> {
    const ctx = { projectId: input.projectId, reportedAt: input.reportedAt };
    return (await this.approvedExpenses(input)).map(({ row }) => deliveredExpense(row, ctx));
  }

  /**
   * Milestone stories changed in the window: setting a story's state stamps
   * its updated_at. Kantata narrows the read (story type, updated_after /
   * updated_before, paged like every list); type, state and window are checked
   * here too, so an ignored filter widens the read but never the result. A
   * story edited again after its completion reports that state again; the deal
   * drops it as seen. Each story's states, oldest first (a completion before
   * an acceptance at the same instant).
   */
  private async milestoneChanges({ projectId, since, until }: ListMilestoneEventsInput): Promise<Array<{ row: MilestoneStoryRow; event: PsaMilestoneEvent }>> {
    const rows = await this.list('/stories.json', 'stories', MilestoneStoryRow, { workspace_id: projectId, story_type: 'milestone', updated_after: since, updated_before: until, archived: 'include' });
    const [from, to] = [Date.parse(since), Date.parse(until)];
    const inWindow = (r: MilestoneStoryRow) => Date.parse(r.updated_at) >= from && Date.parse(r.updated_at) < to;
    const order = (e: PsaMilestoneEvent) => `${e.at}|${e.status === 'completed' ? 0 : 1}`;
    return rows
      .filter(inWindow)
      .flatMap((row) => toMilestoneEvents(row).map((event) => ({ row, event })))
      .sort((a, b) => (order(a.event) < order(b.event) ? -1 : order(a.event) > order(b.event) ? 1 : 0));
  }

  async listMilestoneEvents(input: ListMilestoneEventsInput): Promise<PsaMilestoneEvent[]> {
    return (await this.milestoneChanges(input)).map((m) => m.event);
  }

  async listDeliveredMilestones(input: ListMilestoneEventsInput): Promise<DeliveredMilestones> {
    const ctx = { projectId: input.projectId, reportedAt: input.until };
    const states = await this.milestoneChanges(input);
    return {
      items: states.filter((m) => m.event.milestoneId !== undefined).map((m) => deliveredMilestone(m.row, m.event.status, ctx)),
      foreign: states.filter((m) => m.event.milestoneId === undefined).map((m) => m.event.psaId),
    };
  }

  async recordInvoice(i: RecordInvoiceInput): Promise<{ id: string; created: boolean }> {
    const existing = (await this.list('/invoices.json', 'invoices', InvoiceRow, { workspace_id: i.projectId })).find((inv) => inv.user_invoice_number === i.invoiceNumber);
    if (existing) return { id: existing.id, created: false };
    const created = await this.create(
      '/invoices.json',
      'invoices',
      'invoice',
      { workspace_ids: [i.projectId], time_entry_ids: i.timeEntryIds, expense_ids: i.expenseIds, invoice_date: i.invoiceDate, user_invoice_number: i.invoiceNumber },
      InvoiceRow,
    );
    return { id: created.id, created: true };
  }
}

/** The rows the results array points at, in result order, each validated. */
function rowsOf<T>(body: KantataEnvelope, key: string, row: z.ZodType<T>, path: string): T[] {
  const map = (body as Record<string, unknown>)[key] as Record<string, unknown> | undefined;
  return body.results
    .filter((r) => r.key === key)
    .map((r) => {
      const parsed = row.safeParse(map?.[r.id]);
      if (!parsed.success) throw new ConnectorError('HTTP.UNEXPECTED_RESPONSE', `Kantata ${path}: ${key} ${r.id} does not match schema`, { meta: { system: 'kantata', path } });
      return parsed.data;
    });
}
