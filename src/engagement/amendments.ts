import type { AmendmentChange, Contract } from '../canonical';
import type * as AmendmentSchemas from '../canonical/amendment';
import type * as CommonSchemas from '../canonical/common';
import type * as ContractSchemas from '../canonical/contract';
import { CanonicalError } from '../canonical/errors';
import type { CompiledContract } from '../rules/compile';
import { heldOverCap } from './caps';
import { psaRefOf } from './credits';
import { workDateOf } from './intake';
import { compiled, contractOf, isPosted, type Deal } from './deal';
import type { AmendContractRequest, AmendContractResult, AmendmentRecord, BillTo, CreditInvoiceRequest, DeliveryItem, InvoiceSummary, ScopePlan } from './model';
import { refuse } from './refusal';
import { phaseOf, removalRefusal, withScopeIds } from './scope';
import type { CreditBasis, EngagementState } from './state';

/*
 * Contract amendments while the deal is in delivery: versioned deltas against
 * the current version. The validator and the handler both ask amendmentFor, so
 * a refusal and an application can never disagree.
 */

/** What an UPDATE_LINE or SET_TERMS may change while the deal is in delivery (the rule set stays as provisioned; scope changes are ADD_LINE and REMOVE_LINE). */
const AMENDABLE_LINE_FIELDS = new Set(['cap', 'endDate', 'rateCardRef', 'discountBp', 'allocatedValue', 'description']);
const AMENDABLE_TERMS = new Set(['endDate', 'poNumber', 'paymentTerms', 'billToCustomerId']);

/**
 * The canonical schemas (and with them zod) that the amendment checks use, loaded on the
 * first amendment rather than with this module. In a worker this module is evaluated once per
 * workflow thread and shared (src/workflows/preload.ts); the schemas cannot be shared that way
 * (the SDK freezes what shared modules export, and zod writes to its schema objects), and
 * evaluated with every deal workflow they cost about 1.3 MiB of heap per cached deal
 * (BENCHMARKS.md) although only an amendment uses them. Once loaded they serve every later
 * amendment. Pure modules: loading them only defines them, so when they load does not change
 * what a workflow does or the commands it sends.
 */
interface Schemas {
  applyAmendmentChanges: typeof AmendmentSchemas.applyAmendmentChanges;
  parseAmendmentChanges: typeof AmendmentSchemas.parseAmendmentChanges;
  contractLineIssues: typeof ContractSchemas.contractLineIssues;
  IsoDate: typeof CommonSchemas.IsoDate;
}
let loaded: Schemas | undefined;
const schemas = (): Schemas => {
  if (loaded === undefined) {
    /* eslint-disable @typescript-eslint/no-require-imports -- loaded on first use, see above */
    const { applyAmendmentChanges, parseAmendmentChanges } = require('../canonical/amendment') as typeof AmendmentSchemas;
    const { contractLineIssues } = require('../canonical/contract') as typeof ContractSchemas;
    const { IsoDate } = require('../canonical/common') as typeof CommonSchemas;
    /* eslint-enable @typescript-eslint/no-require-imports */
    loaded = { applyAmendmentChanges, parseAmendmentChanges, contractLineIssues, IsoDate };
  }
  return loaded;
};

const sameCap = (a: Contract['lines'][number], b: Contract['lines'][number]): boolean => JSON.stringify(a.cap) === JSON.stringify(b.cap);
const rateChanged = (a: Contract['lines'][number], b: Contract['lines'][number]): boolean => a.rateCardRef !== b.rateCardRef || a.discountBp !== b.discountBp;

/** The amendment this request id already applied, after checking the repeat asks for the same. */
export function priorAmendment(s: EngagementState, req: AmendContractRequest): AmendmentRecord | undefined {
  if (typeof req?.requestId !== 'string' || !req.requestId.trim()) refuse('DEAL.ACTION_INVALID', 'an amendment needs a requestId');
  const done = s.amendments?.find((a) => a.requestId === req.requestId);
  if (done && (done.baseVersion !== req.baseVersion || JSON.stringify(done.changes) !== JSON.stringify(req.changes))) {
    refuse('DEAL.REQUEST_ID_REUSED', `request ${req.requestId} already applied amendment ${done.id} with other content`);
  }
  return done;
}

/** Which operations delivery accepts, on which lines and fields (checked on the request as sent, before its values). */
function checkScope(c: Contract, changes: readonly unknown[]): void {
  changes.forEach((raw, i) => {
    const ch = (typeof raw === 'object' && raw !== null ? raw : {}) as { op?: unknown; lineId?: unknown; set?: unknown; line?: unknown };
    const keys = typeof ch.set === 'object' && ch.set !== null ? Object.keys(ch.set) : [];
    switch (ch.op) {
      case 'UPDATE_LINE':
      case 'END_LINE':
      case 'REMOVE_LINE':
        if (!c.lines.some((l) => l.id === ch.lineId)) refuse('DEAL.AMENDMENT_UNKNOWN_LINE', `changes.${i}.lineId: line ${String(ch.lineId)} is not on contract ${c.id}`);
        if (ch.op === 'UPDATE_LINE') {
          if (keys.length === 0) refuse('DEAL.AMENDMENT_INVALID', `changes.${i}.set: nothing to change`);
          for (const k of keys) if (!AMENDABLE_LINE_FIELDS.has(k)) refuse('DEAL.AMENDMENT_UNSUPPORTED', `changes.${i}.set.${k}: cannot be amended while the deal is in delivery`);
        }
        break;
      case 'SET_TERMS':
        for (const k of keys) if (!AMENDABLE_TERMS.has(k)) refuse('DEAL.AMENDMENT_UNSUPPORTED', `changes.${i}.set.${k}: cannot be amended while the deal is in delivery`);
        break;
      case 'ADD_LINE':
        if (typeof ch.line !== 'object' || ch.line === null) refuse('DEAL.AMENDMENT_INVALID', `changes.${i}.line: the line to add is missing`);
        break;
      default:
        refuse('DEAL.AMENDMENT_INVALID', `changes.${i}.op: unknown operation`);
    }
  });
}

/** The contract version the request makes of the current one, or a refusal naming what is wrong. */
export function amendmentFor(s: EngagementState, d: Deal, req: AmendContractRequest): Contract {
  return changeOrderFor(s, d, req).next;
}

/**
 * The contract version the request makes, and what it does to the PSA project
 * (the phases of added lines, the lines removed), or a refusal naming what is wrong.
 */
export function changeOrderFor(s: EngagementState, d: Deal, req: AmendContractRequest): { next: Contract; scope: ScopePlan } {
  const c = contractOf(s, d);
  const { applyAmendmentChanges, contractLineIssues, IsoDate, parseAmendmentChanges } = schemas();
  if (!req.by?.trim() || !req.reason?.trim()) refuse('DEAL.ACTION_INVALID', 'an amendment needs `by` and `reason`');
  if (s.termination) refuse('DEAL.TERMINATED', `the contract was terminated from ${s.termination.effectiveDate}; it takes no amendments`);
  if (!IsoDate.safeParse(req.effectiveDate).success) refuse('DEAL.AMENDMENT_INVALID', 'effectiveDate: expected YYYY-MM-DD');
  if (req.baseVersion !== c.version) refuse('DEAL.AMENDMENT_VERSION_CONFLICT', `amendment written against contract v${req.baseVersion}; contract ${c.id} is at v${c.version}`);
  if (!Array.isArray(req.changes) || req.changes.length === 0) refuse('DEAL.AMENDMENT_INVALID', 'changes: at least one change is needed');
  checkScope(c, req.changes);
  const amendmentId = `${c.id}-A${c.version + 1}`;
  // Added lines get q2c's ids first; the canonical schema then checks the values (paths as the service reports them) and defaults a cap's tolerance to 0.
  const parsed = parseAmendmentChanges(withScopeIds(s, c, req.changes, amendmentId, req.effectiveDate), c.currency);
  if (!parsed.ok) return refuse('DEAL.AMENDMENT_INVALID', parsed.errors.join('; '));
  let next: Contract;
  try {
    next = applyAmendmentChanges(c, { id: amendmentId, contractId: c.id, baseVersion: req.baseVersion, changes: parsed.changes });
  } catch (err) {
    if (err instanceof CanonicalError) {
      const codes: Record<string, string> = { 'AMENDMENT.VERSION_MISMATCH': 'DEAL.AMENDMENT_VERSION_CONFLICT', 'AMENDMENT.LINE_NOT_FOUND': 'DEAL.AMENDMENT_UNKNOWN_LINE', 'AMENDMENT.LINE_EXISTS': 'DEAL.AMENDMENT_LINE_EXISTS' };
      refuse(codes[err.code] ?? 'DEAL.AMENDMENT_INVALID', err.message);
    }
    throw err;
  }
  // what the lines' history forbids (a billed line removed) is named before what the new version lacks
  const scope = scopeChecks(s, d, c, next, parsed.changes);
  if (next.billToCustomerId !== c.billToCustomerId) {
    if ((d.options.invoiceSystem ?? 'erp') !== 'erp') refuse('DEAL.AMENDMENT_UNSUPPORTED', `billToCustomerId: the deal's invoices are issued in ${d.options.invoiceSystem} to its billing customer; a bill-to change is for ERP invoicing`);
    if (s.drafts.length > 0) refuse('DEAL.AMENDMENT_INVALID', `billToCustomerId: ${s.drafts.length} invoice(s) wait to be issued to ${c.billToCustomerId}; decide or issue them first`);
  }
  if (next.lines.length === 0) refuse('DEAL.AMENDMENT_INVALID', `changes: contract ${c.id} would have no line left; terminate it instead`);
  if (next.startDate > next.endDate) refuse('DEAL.AMENDMENT_INVALID', `endDate: the contract would end (${next.endDate}) before it starts (${next.startDate})`);
  next.lines.forEach((l, i) => {
    const issues = contractLineIssues(l, next.currency);
    if (issues.length > 0) refuse('DEAL.AMENDMENT_INVALID', `the amended contract is invalid: ${issues.map((x) => `lines.${i}.${x.path.join('.')}: ${x.message}`).join('; ')}`);
  });
  let cc: CompiledContract;
  try {
    cc = compiled(d, next);
  } catch (err) {
    return refuse('DEAL.AMENDMENT_INVALID', err instanceof Error ? err.message : String(err));
  }
  for (const l of next.lines) {
    const before = c.lines.find((x) => x.id === l.id);
    if (!before) continue; // added by this change order
    // the cap's consumption (billedByLine) is kept under the term in force: it cannot change once billing runs under it
    if ((before.cap?.includesExpenses ?? true) !== (l.cap?.includesExpenses ?? true)) {
      refuse('DEAL.AMENDMENT_INVALID', `line ${l.id}: cap.includesExpenses cannot change in delivery (expenses ${before.cap?.includesExpenses === false ? 'do not count' : 'count'} against the cap)`);
    }
    const limit = cc.lines.get(l.id)?.capLimit ?? null;
    const billed = s.billedByLine[l.id] ?? 0;
    if (!sameCap(before, l) && limit !== null && limit < billed) refuse('DEAL.AMENDMENT_INVALID', `line ${l.id}: cap with tolerance ${limit} is below the ${billed} already billed`);
    const last = s.rateHistory?.[l.id]?.at(-1);
    if (rateChanged(before, l) && last && req.effectiveDate < last.until) refuse('DEAL.AMENDMENT_INVALID', `line ${l.id}: a rate change from ${req.effectiveDate} is earlier than the one from ${last.until}`);
  }
  return { next, scope };
}

/** Lines added (inside the term, milestones of their own, billable by q2c) and removed (nothing billed on them), and the PSA structure that follows. */
function scopeChecks(s: EngagementState, d: Deal, c: Contract, next: Contract, changes: readonly AmendmentChange[]): ScopePlan {
  const plan: ScopePlan = { addedLines: next.lines.filter((l) => !c.lines.some((x) => x.id === l.id)).map((l) => l.id), phases: [], removedLines: c.lines.filter((l) => !next.lines.some((x) => x.id === l.id)).map((l) => l.id) };
  for (const lineId of plan.removedLines) {
    const line = c.lines.find((l) => l.id === lineId)!;
    const why = removalRefusal(s, lineId);
    if (why) refuse(why.code, `line ${lineId} cannot be removed: ${why.why}; end it (END_LINE) instead`);
    if (line.billingModel === 'SUBSCRIPTION' && d.stripeSubscriptions) refuse('DEAL.AMENDMENT_UNSUPPORTED', `line ${lineId}: its subscription is billed by the billing system; cancel it there`);
  }
  const milestoneIds = new Set([...d.milestoneLine.keys(), ...c.lines.flatMap((l) => (l.milestones ?? []).map((m) => m.milestoneId))]);
  changes.forEach((ch, i) => {
    if (ch.op !== 'ADD_LINE') return;
    const l = ch.line;
    if (l.startDate < next.startDate || l.endDate > next.endDate) refuse('DEAL.AMENDMENT_INVALID', `changes.${i}.line: ${l.startDate}..${l.endDate} is not inside the contract term ${next.startDate}..${next.endDate}`);
    if (l.billingModel === 'SUBSCRIPTION' && d.stripeSubscriptions) refuse('DEAL.AMENDMENT_UNSUPPORTED', `changes.${i}.line: the deal's subscriptions are billed by the billing system, which has no subscription for a new line`);
    (l.milestones ?? []).forEach((m, k) => {
      if (milestoneIds.has(m.milestoneId)) refuse('DEAL.AMENDMENT_INVALID', `changes.${i}.line.milestones.${k}.milestoneId: milestone ${m.milestoneId} is already on the contract or the project`);
      milestoneIds.add(m.milestoneId);
    });
    const phase = phaseOf(l, ch.tasks);
    if (phase) plan.phases.push(phase);
  });
  return plan;
}

export const amendmentRecord = (s: EngagementState, d: Deal, req: AmendContractRequest, next: Contract, today: string): AmendmentRecord => ({
  id: `${contractOf(s, d).id}-A${next.version}`,
  requestId: req.requestId,
  by: req.by,
  reason: req.reason,
  effectiveDate: req.effectiveDate,
  baseVersion: req.baseVersion,
  version: next.version,
  appliedOn: today,
  changes: req.changes,
});

/**
 * The deal moves to the new version (once the ERP has it): rate terms it
 * replaces are kept for work dated before the effective date; a changed cap
 * lets held over-cap time be billed on the next run.
 */
export function applyAmendment(s: EngagementState, d: Deal, req: AmendContractRequest, next: Contract, record: AmendmentRecord): AmendmentRecord {
  const prev = contractOf(s, d);
  for (const l of prev.lines) if (!next.lines.some((x) => x.id === l.id)) (s.scope ??= { phases: [], psaIds: {}, removedLines: [] }).removedLines.push(l.id);
  for (const l of next.lines) {
    const before = prev.lines.find((x) => x.id === l.id);
    if (!before) continue;
    if (rateChanged(before, l)) {
      ((s.rateHistory ??= {})[l.id] ??= []).push({ until: req.effectiveDate, ...(before.rateCardRef !== undefined ? { rateCardRef: before.rateCardRef } : {}), discountBp: before.discountBp });
    }
    if (!sameCap(before, l) && !(s.capAmendedLines ??= []).includes(l.id)) s.capAmendedLines.push(l.id);
  }
  s.contract = next;
  (s.amendments ??= []).push(record);
  return record;
}

export function amendmentResult(s: EngagementState, d: Deal, record: AmendmentRecord): AmendContractResult {
  const contract = contractOf(s, d);
  const lines = new Set(record.changes.flatMap((ch) => (ch.op === 'UPDATE_LINE' && ch.set.cap !== undefined ? [ch.lineId] : [])));
  return { amendment: record, contractVersion: contract.version, ...heldOverCap(s, compiled(d, contract), lines) };
}

/** The change that re-rates invoiced work a rate change's past effective date reaches (credit and rebill). */
export const RETROACTIVE_RERATE = 'retroactive-rerate';

/** Lines whose rate terms the amendment changed. */
export const reratedLines = (record: AmendmentRecord): string[] =>
  [...new Set(record.changes.flatMap((ch) => (ch.op === 'UPDATE_LINE' && (ch.set.rateCardRef !== undefined || ch.set.discountBp !== undefined) ? [ch.lineId] : [])))];

/** Posted invoices (ERP or Stripe) that bill work on `lines` in a period reaching the effective date: what a retroactive rate change may re-rate. */
export function rerateCandidates(s: EngagementState, d: Deal, record: AmendmentRecord): InvoiceSummary[] {
  const lines = new Set(reratedLines(record));
  if (lines.size === 0 || !d.patched(RETROACTIVE_RERATE)) return [];
  return s.invoices.filter((i) => isPosted(s, i) && i.externalId !== undefined && !['REJECTED', 'CREDITED', 'WRITTEN_OFF'].includes(i.status) && i.period.end >= record.effectiveDate && i.lines.some((l) => lines.has(l.contractLineId)));
}

/**
 * The credit and rebill that re-rates one invoice: the time entries it billed
 * on the re-rated lines that were worked on or after the effective date (the
 * PSA's date, in the contracting entity's calendar) and are not credited yet.
 * Undefined when the invoice has none.
 */
export function rerateRequest(d: Deal, record: AmendmentRecord, inv: InvoiceSummary, basis: CreditBasis, psaItems: readonly DeliveryItem[]): CreditInvoiceRequest | undefined {
  const lines = new Set(reratedLines(record));
  const selected = basis.invoice.lines.flatMap((l) => {
    if (!lines.has(l.contractLineId)) return [];
    const credited = new Set(basis.credited[l.id] ?? []);
    const ids = l.sourceItemIds.filter((sid) => {
      const ref = psaRefOf(sid);
      if (!ref || ref.kind !== 'timeEntry' || credited.has(sid)) return false;
      const item = psaItems.find((i) => i.kind === 'timeEntry' && i.sourceId === ref.sourceId);
      return item?.kind === 'timeEntry' && workDateOf(d, item) >= record.effectiveDate;
    });
    return ids.length > 0 ? [{ invoiceLineId: l.id, sourceItemIds: ids }] : [];
  });
  if (selected.length === 0) return undefined;
  return {
    requestId: `${record.requestId}:rerate:${inv.number}`,
    invoiceId: inv.id,
    by: record.by,
    reason: 'ERROR',
    note: `re-rated from ${record.effectiveDate} by amendment ${record.id}`,
    lines: selected,
    rebill: true,
  };
}

/** The PSA time entries behind the re-rated lines of these invoices (what a retroactive rate change reads again). */
export const rerateItems = (record: AmendmentRecord, bases: readonly CreditBasis[]): Array<{ kind: 'timeEntry'; sourceId: string }> => {
  const lines = new Set(reratedLines(record));
  const ids = new Set<string>();
  for (const b of bases) for (const l of b.invoice.lines) if (lines.has(l.contractLineId)) for (const sid of l.sourceItemIds) {
    const ref = psaRefOf(sid);
    if (ref?.kind === 'timeEntry') ids.add(ref.sourceId);
  }
  return [...ids].sort().map((sourceId) => ({ kind: 'timeEntry' as const, sourceId }));
};

/** The bill-to customer a new version names, when it changed. */
export const billToChange = (prev: Contract, next: Contract): string | undefined => (next.billToCustomerId !== prev.billToCustomerId ? next.billToCustomerId : undefined);

/** Invoices issued from now on go to the new bill-to customer (resolved in the CRM and the ERP by the shell). */
export function applyBillTo(s: EngagementState, record: AmendmentRecord, billTo: BillTo): void {
  (s.billTos ??= []).push(billTo);
  record.billTo = { customerId: billTo.customer.id, erpCustomerId: billTo.erpCustomerId };
}

/** The customer an invoice was issued to, when a bill-to change sent it to another than the deal's own. */
export const billToOf = (s: EngagementState, inv: InvoiceSummary): BillTo | undefined => (inv.billTo ? s.billTos?.find((b) => b.customer.id === inv.billTo!.customerId) : undefined);
