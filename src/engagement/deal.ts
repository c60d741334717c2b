import type { Contract, Project } from '../canonical';
import { compileContract, type CompiledContract } from '../rules/compile';
import type { Outcome } from './commands';
import type { AttentionItem, BillingSetup, DealSnapshot, DeliveryOptions, InvoiceSummary, ProjectScope } from './model';
import type { EngagementState } from './state';

/** PSA items not billable in the PSA land on this task, which the rules know is not billable. */
export const NON_BILLABLE_TASK = 'Q2C-NOT-BILLABLE-IN-PSA';
export const DEFAULT_OVERDUE_GRACE_DAYS = 10;
export const DEFAULT_APPROVAL_TIMEOUT_DAYS = 5;

/** The ids the deal's first part created in the other systems. */
export interface DealIds {
  projectId?: string;
  erpCustomerId?: string;
  erpContractId?: string;
  subscriptionIds?: string[];
}

/**
 * What the core knows of the deal besides its state: fixed for a workflow run
 * (the snapshot, the billing setup read once per run, the ids, the options) and
 * the look-up tables derived from them.
 */
export interface Deal {
  dealId: string;
  opportunityId: string;
  snapshot: DealSnapshot;
  setup: BillingSetup;
  ids: DealIds;
  options: DeliveryOptions;
  /** The contracting entity's zone: business dates are local dates there. */
  tz: string;
  projectPhases: Project['phases'];
  /** Task id -> contract line, milestone id -> contract line (scope change orders add to them: src/engagement/scope.ts). */
  taskLine: Map<string, string>;
  milestoneLine: Map<string, string>;
  /** Subscriptions are invoiced by the billing system's own schedule. */
  stripeSubscriptions: boolean;
  /**
   * Whether a behaviour change is in force for this run: the workflow's
   * `patched(id)` (a replayed history from before the change says no); true in
   * the core's own tests.
   */
  patched(id: string): boolean;
}

export function dealOf(input: {
  dealId: string;
  opportunityId: string;
  snapshot: DealSnapshot;
  setup: BillingSetup;
  ids: DealIds;
  options?: DeliveryOptions;
  patched?: (id: string) => boolean;
  /** What scope change orders added to the project (the state's `scope`): prepareBilling reads only the snapshot's. */
  scope?: ProjectScope;
}): Deal {
  const setup = { ...input.setup, psaIds: { ...input.setup.psaIds } };
  const taskLine = new Map<string, string>();
  const milestoneLine = new Map<string, string>();
  for (const ph of setup.project.phases) {
    for (const t of ph.tasks) if (t.contractLineId) taskLine.set(t.id, t.contractLineId);
    for (const m of ph.milestones) milestoneLine.set(m.id, m.contractLineId);
  }
  const d: Deal = {
    dealId: input.dealId,
    opportunityId: input.opportunityId,
    snapshot: input.snapshot,
    setup,
    ids: input.ids,
    options: input.options ?? {},
    tz: input.snapshot.contractingEntity.timeZone,
    projectPhases: [...setup.project.phases, { id: NON_BILLABLE_TASK, name: 'Not billable in the PSA', milestones: [], tasks: [{ id: NON_BILLABLE_TASK, name: 'Not billable', billable: false }] }],
    taskLine,
    milestoneLine,
    stripeSubscriptions: (input.ids.subscriptionIds?.length ?? 0) > 0,
    patched: input.patched ?? (() => true),
  };
  if (input.scope) addScope(d, input.scope);
  return d;
}

/** The deal's look-up tables with the scope change orders added (at the start of a run, and when one is applied). */
export function addScope(d: Deal, scope: ProjectScope): void {
  for (const ph of scope.phases) {
    for (const t of ph.tasks) if (t.contractLineId) d.taskLine.set(t.id, t.contractLineId);
    for (const m of ph.milestones) d.milestoneLine.set(m.id, m.contractLineId);
  }
  // before the not-billable-in-the-PSA phase, which stays last
  d.projectPhases.splice(Math.max(0, d.projectPhases.length - 1), 0, ...scope.phases);
  Object.assign(d.setup.psaIds, scope.psaIds);
}

/** The contract version delivery bills against: the snapshot's, or the latest amendment's. */
export const contractOf = (s: EngagementState, d: Deal): Contract => s.contract ?? d.snapshot.contract;

export const compiled = (d: Deal, contract: Contract): CompiledContract => compileContract(contract, d.setup.ruleSet, { phases: d.projectPhases });

export const graceDays = (d: Deal): number => d.options.overdueGraceDays ?? DEFAULT_OVERDUE_GRACE_DAYS;
export const approvalDays = (d: Deal): number => d.options.approvalTimeoutDays ?? DEFAULT_APPROVAL_TIMEOUT_DAYS;

// ---------------------------------------------------------------- invoices as the deal tracks them

/** What the customer still owes on the invoice (negative: a credit balance). */
export const balanceOf = (inv: InvoiceSummary): number => inv.totalMinor - (inv.creditedMinor ?? 0) - inv.paidMinor - inv.writtenOffMinor;
export const isSettled = (inv: InvoiceSummary): boolean => inv.status === 'REJECTED' || inv.status === 'WRITTEN_OFF' || balanceOf(inv) <= 0;

export function statusFor(inv: InvoiceSummary): InvoiceSummary['status'] {
  if (inv.status === 'REJECTED' || inv.status === 'AWAITING_APPROVAL') return inv.status;
  if (inv.writtenOffMinor > 0) return 'WRITTEN_OFF';
  const due = inv.totalMinor - (inv.creditedMinor ?? 0);
  if (inv.paidMinor > due) return 'OVERPAID';
  if (due === 0 && inv.paidMinor === 0) return 'CREDITED';
  if (inv.paidMinor === due) return 'PAID';
  return inv.paidMinor > 0 ? 'PARTIALLY_PAID' : 'POSTED';
}

/** The status the CRM and PSA are told. */
export const crmStatus = (s: InvoiceSummary['status']): 'POSTED' | 'PARTIALLY_PAID' | 'PAID' | 'VOID' =>
  s === 'PAID' || s === 'OVERPAID' ? 'PAID' : s === 'PARTIALLY_PAID' ? 'PARTIALLY_PAID' : s === 'REJECTED' || s === 'WRITTEN_OFF' || s === 'CREDITED' ? 'VOID' : 'POSTED';

export const invoiceById = (s: EngagementState, id: string): InvoiceSummary | undefined => s.invoices.find((i) => i.id === id);

/** Posted: no longer a draft waiting to be issued. */
export const isPosted = (s: EngagementState, inv: InvoiceSummary): boolean => !s.drafts.some((d) => d.invoice.id === inv.id);

/** Attention items: raised once per id; the deal is NEEDS_ATTENTION while any is open. */
export function raise(s: EngagementState, item: AttentionItem, out: Outcome): void {
  if (s.attention.some((x) => x.id === item.id)) return;
  s.attention.push(item);
  out.notices.push({ kind: 'attentionRaised', item });
}

export function resolveAttention(s: EngagementState, match: (a: AttentionItem) => boolean): void {
  s.attention = s.attention.filter((a) => !match(a));
}
