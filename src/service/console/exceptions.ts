import type { AttentionItem, DealException, DealView, DeliveryView, ExceptionNote, ExceptionSystem, OperatorAction } from '../../contract';

// Every parked item of every deal, as one list an operator works through; derived from the
// deals' own state (their queries), grouped by error code and system. Pure.

/** What the console offers on a delivery attention item (they are resolved by the deal's own events or these actions). */
export type AttentionAction = 'approve' | 'reject' | 'write-off' | 'promise-to-pay' | 'amend';

export interface ParkedItem {
  opportunityId: string;
  /** 'deal': a step of the deal's first part (resolveException); 'delivery': an attention item of the delivery. */
  kind: 'deal' | 'delivery';
  /** The deal exception's id, or the attention item's. */
  id: string;
  exceptionId?: number;
  step: string;
  code: string;
  system: ExceptionSystem | 'unknown';
  message: string;
  attempts: number;
  firstSeenAt: string;
  lastSeenAt: string;
  /** For deal exceptions: resolveException actions; for attention items: what the console offers. */
  allowed: ReadonlyArray<OperatorAction['action'] | AttentionAction>;
  notes: readonly ExceptionNote[];
  assignee?: string;
  overridable?: readonly string[];
  invoiceId?: string;
}

const ATTENTION_SYSTEM: Record<AttentionItem['kind'], ExceptionSystem> = {
  OVERDUE: 'payments',
  APPROVAL_TIMEOUT: 'billing',
  UNMATCHED_PAYMENT: 'payments',
  POSTING_FAILED: 'erp',
  REVENUE_HELD: 'revenue',
  DUNNING_ESCALATED: 'payments',
  PROMISE_BROKEN: 'payments',
  NO_RATE: 'billing',
  UNAPPROVED_AFTER_BILLING: 'psa',
  ISSUE_STALLED: 'erp',
};

/** Where a stalled invoice is held: the system whose step has not completed (RECORD: the audit links, then the CRM and PSA write-back). */
const STALLED_STEP_SYSTEM: Record<NonNullable<AttentionItem['issueStep']>, ExceptionSystem> = { TAX: 'tax', POST: 'erp', RECORD: 'crm' };

/** How each attention item is cleared from the console: the deal's own update resolves it. */
const ATTENTION_ACTIONS: Record<AttentionItem['kind'], AttentionAction[]> = {
  OVERDUE: ['promise-to-pay', 'write-off'],
  APPROVAL_TIMEOUT: ['approve', 'reject'],
  UNMATCHED_PAYMENT: [],
  POSTING_FAILED: [],
  REVENUE_HELD: ['amend'],
  DUNNING_ESCALATED: ['promise-to-pay', 'write-off'],
  PROMISE_BROKEN: ['promise-to-pay', 'write-off'],
  // an amendment giving the line a rate card that prices the role (or the PSA withdrawing the entries) clears it
  NO_RATE: ['amend'],
  // a credit (operator API / CLI) or the PSA approving the item again clears it
  UNAPPROVED_AFTER_BILLING: [],
  // Clears itself when the step completes (Temporal keeps retrying it); the vendor is what to look at.
  ISSUE_STALLED: [],
};

/** A deal's parked items: its open exceptions (older deals' lack the newer fields: defaults), then its delivery's attention items. */
export function parkedItems(opportunityId: string, view: DealView, delivery?: DeliveryView): ParkedItem[] {
  const deal = view.exceptions.map((e: DealException): ParkedItem => ({
    opportunityId,
    kind: 'deal',
    id: String(e.id),
    exceptionId: e.id,
    step: e.step,
    code: e.code,
    system: e.system ?? systemOfCode(e.code),
    message: e.message,
    attempts: e.attempts ?? 1,
    firstSeenAt: e.firstSeenAt ?? e.raisedAt,
    lastSeenAt: e.lastSeenAt ?? e.raisedAt,
    allowed: e.allowed,
    notes: e.notes ?? [],
    ...(e.assignee ? { assignee: e.assignee } : {}),
    ...(e.overridable ? { overridable: e.overridable } : {}),
  }));
  const attention = (delivery?.attention ?? []).map((a): ParkedItem => ({
    opportunityId,
    kind: 'delivery',
    id: a.id,
    step: 'delivery',
    code: `DELIVERY.${a.kind}`,
    system: a.issueStep ? STALLED_STEP_SYSTEM[a.issueStep] : ATTENTION_SYSTEM[a.kind],
    message: a.message,
    attempts: 1,
    firstSeenAt: a.raisedOn,
    lastSeenAt: a.raisedOn,
    allowed: ATTENTION_ACTIONS[a.kind],
    notes: a.notes ?? [],
    ...(a.assignee ? { assignee: a.assignee } : {}),
    ...(a.invoiceId ? { invoiceId: a.invoiceId } : {}),
  }));
  return [...deal, ...attention];
}

/** An exception raised before `system` existed: from its code's namespace ('ERP.X' -> erp). */
function systemOfCode(code: string): ExceptionSystem | 'unknown' {
  const ns = code.split('.')[0]!.toLowerCase();
  const known: Record<string, ExceptionSystem> = { erp: 'erp', crm: 'crm', clm: 'esign', psa: 'psa', tax: 'tax', billing: 'billing', payments: 'payments', netsuite: 'erp', salesforce: 'crm', docusign: 'esign', kantata: 'psa', stripe: 'billing', avalara: 'tax' };
  return known[ns] ?? 'unknown';
}

export interface ExceptionGroup {
  code: string;
  system: ExceptionSystem | 'unknown';
  count: number;
  deals: number;
  attempts: number;
  firstSeenAt: string;
  lastSeenAt: string;
  items: ParkedItem[];
}

/** Items grouped by (code, system), the most recently seen group first; items oldest first within a group. */
export function groupExceptions(items: readonly ParkedItem[]): ExceptionGroup[] {
  const groups = new Map<string, ExceptionGroup>();
  for (const item of items) {
    const key = `${item.code}\u0000${item.system}`;
    const g = groups.get(key) ?? { code: item.code, system: item.system, count: 0, deals: 0, attempts: 0, firstSeenAt: item.firstSeenAt, lastSeenAt: item.lastSeenAt, items: [] };
    g.count += 1;
    g.attempts += item.attempts;
    if (item.firstSeenAt < g.firstSeenAt) g.firstSeenAt = item.firstSeenAt;
    if (item.lastSeenAt > g.lastSeenAt) g.lastSeenAt = item.lastSeenAt;
    g.items.push(item);
    groups.set(key, g);
  }
  for (const g of groups.values()) {
    g.deals = new Set(g.items.map((i) => i.opportunityId)).size;
    g.items.sort((a, b) => a.firstSeenAt.localeCompare(b.firstSeenAt) || a.opportunityId.localeCompare(b.opportunityId));
  }
  return [...groups.values()].sort((a, b) => b.lastSeenAt.localeCompare(a.lastSeenAt) || a.code.localeCompare(b.code));
}
