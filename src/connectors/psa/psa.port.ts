import type { Expense, Phase, Project, TimeEntry } from '../../canonical';
import type { DeliveredExpense, DeliveredMilestone, DeliveredTimeEntry } from '../../contract';

export interface PsaProjectRef {
  /** PSA id of the project (Kantata workspace). */
  id: string;
  /** false when a project with this idempotency key already existed. */
  created: boolean;
  /** Canonical id -> PSA id, for phases, milestones, tasks and role placeholders. */
  ids: Record<string, string>;
}

export interface CreateProjectInput {
  project: Project;
  currency: string;
  /** Workflow id + step + contract id: the deterministic external reference. */
  idempotencyKey: string;
  /** Rate card in the PSA for T&M work. */
  rateCardId?: string;
}

export interface ListApprovedInput {
  /** PSA project id. */
  projectId: string;
  /** The canonical project, to map PSA tasks back to contract lines. */
  project: Project;
  /** ISO instant: items approved/updated at or after this. */
  since: string;
}

export interface ListApprovedExpensesInput extends ListApprovedInput {
  /** The contract line expenses are billed against. */
  expenseContractLineId: string;
}

/** Approved time as the PSA reports it: the canonical entry and the PSA's own billable flag of the entry. */
export type PsaTimeEntry = TimeEntry & {
  /** false when the PSA marks the entry non-billable; an entry without the flag takes its task's. */
  billable: boolean;
};

/** An approved expense as the PSA reports it, with the PSA's billable flag (absent in the PSA: true). */
export type PsaExpense = Expense & { billable: boolean };

export interface ListMilestoneEventsInput {
  /** PSA project id. */
  projectId: string;
  /** ISO instants: milestones whose record changed at or after `since` and before `until`. */
  since: string;
  until: string;
}

/** A milestone state the PSA reports: completed by the delivery team, or accepted by the customer. */
export interface PsaMilestoneEvent {
  /** The PSA's id of the milestone (Kantata story id): what the webhook relay sends as the item's sourceId. */
  psaId: string;
  /** The q2c milestone id, when q2c created the milestone (its q2c-ref tag); absent for milestones added in the PSA. */
  milestoneId?: string;
  title: string;
  status: 'completed' | 'accepted';
  /** ISO instant the milestone reached the status. */
  at: string;
}

export interface ListDeliveredInput extends ListApprovedInput {
  /** ISO instant the read reports at: the approval time of an item whose record keeps none. */
  reportedAt: string;
}

export interface ListDeliveredExpensesInput extends ListDeliveredInput {
  /** The contract line expenses are billed against (checked as listApprovedExpenses checks it). */
  expenseContractLineId: string;
}

/** Milestone states as delivery items, and the PSA ids of the milestones among them q2c did not create. */
export interface DeliveredMilestones {
  /** Milestones q2c created, oldest change first. */
  items: DeliveredMilestone[];
  /** Milestones added in the PSA by hand (no q2c reference): no contract line bills them; one id per state. */
  foreign: string[];
}

export interface AddProjectScopeInput {
  /** PSA project id. */
  projectId: string;
  /** Phases with their milestones and tasks; each record's canonical id is its q2c reference. */
  phases: Phase[];
}

export interface ProjectScopeRef {
  /** Canonical id -> PSA id of every phase, milestone and task asked for (found or created). */
  ids: Record<string, string>;
  /** Canonical ids of the records this call created (empty on a retry that found them all). */
  created: string[];
}

export interface ArchiveProjectScopeInput {
  projectId: string;
  /** Canonical ids (q2c references) of the records to archive: a removed line's phase, milestones and tasks. */
  refs: string[];
  reason: string;
}

export interface RecordInvoiceInput {
  projectId: string;
  /** ERP invoice number; the PSA invoice carries it and is looked up by it first. */
  invoiceNumber: string;
  invoiceDate: string;
  /** PSA ids of the billed time entries and expenses. */
  timeEntryIds: readonly string[];
  expenseIds: readonly string[];
}

/**
 * Professional services automation: projects from a template, approved time
 * and expenses, milestone completions and acceptances, and the invoice
 * reference written back onto billed items.
 * Kantata has no idempotency key, so every create looks up its deterministic
 * reference first.
 */
export interface PsaPort {
  createProject(input: CreateProjectInput): Promise<PsaProjectRef>;
  /**
   * The ids createProject gave the project's records, read back from the PSA:
   * canonical id -> PSA id for phases, milestones, tasks and role placeholders
   * (the same map as PsaProjectRef.ids). Items the PSA reports (time on a
   * task, a completed milestone) carry PSA ids; this maps them back. A PSA
   * that cannot list them leaves this out, and its items keep their own ids.
   */
  getProjectIds?(projectId: string): Promise<Record<string, string>>;
  /**
   * Adds phases, milestones and tasks to an existing project (a change order's
   * new scope). Looks up each record's q2c reference first, so a retry never
   * creates one twice.
   */
  addProjectScope(input: AddProjectScopeInput): Promise<ProjectScopeRef>;
  /**
   * Archives the project's records with these q2c references (scope a change
   * order removed); repeating it is harmless. A PSA that cannot archive single
   * records leaves this out.
   */
  archiveProjectScope?(input: ArchiveProjectScopeInput): Promise<{ archived: string[] }>;
  /** Archives the project (a compensation when the deal is cancelled after provisioning); repeating it is harmless. */
  closeProject(projectId: string, reason: string): Promise<void>;
  listApprovedTime(input: ListApprovedInput): Promise<PsaTimeEntry[]>;
  listApprovedExpenses(input: ListApprovedExpensesInput): Promise<PsaExpense[]>;
  /**
   * Milestones of the project that are completed or accepted and whose record
   * changed in [since, until), oldest change first. An accepted milestone
   * whose completion time the PSA keeps yields its completion too (the two
   * webhooks a relay would have sent); either may already have reached the
   * deal, which dedupes on (kind, sourceId, status).
   */
  listMilestoneEvents(input: ListMilestoneEventsInput): Promise<PsaMilestoneEvent[]>;
  /*
   * The same reads as delivery items: exactly the items the PSA's webhook
   * relay delivers for the same records (one mapping serves both), with the
   * PSA's ids. Same selection and errors as the reads above.
   */
  listDeliveredTime(input: ListDeliveredInput): Promise<DeliveredTimeEntry[]>;
  listDeliveredExpenses(input: ListDeliveredExpensesInput): Promise<DeliveredExpense[]>;
  listDeliveredMilestones(input: ListMilestoneEventsInput): Promise<DeliveredMilestones>;
  recordInvoice(input: RecordInvoiceInput): Promise<{ id: string; created: boolean }>;
}
