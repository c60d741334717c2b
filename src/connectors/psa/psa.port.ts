import type { Expense, Project, TimeEntry } from '../../canonical';

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
 * and expenses, and the invoice reference written back onto billed items.
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
  /** Archives the project (a compensation when the deal is cancelled after provisioning); repeating it is harmless. */
  closeProject(projectId: string, reason: string): Promise<void>;
  listApprovedTime(input: ListApprovedInput): Promise<TimeEntry[]>;
  listApprovedExpenses(input: ListApprovedExpensesInput): Promise<Expense[]>;
  recordInvoice(input: RecordInvoiceInput): Promise<{ id: string; created: boolean }>;
}
