import type { Contract, ContractLine, Phase } from '../canonical';
import { addScope, type Deal } from './deal';
import type { AmendmentRecord, ScopePlan } from './model';
import { refuse } from './refusal';
import type { EngagementState } from './state';

/*
 * Scope change orders in delivery: lines a change order adds (with their PSA
 * phase, milestones and tasks on the deal's project) and unbilled lines it
 * removes. Pure: the amendment checks and the shell ask these functions.
 */

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** n of a line id `<contractId>-L<n>`, or undefined for an id of another form. */
export function lineNumber(contractId: string, lineId: string): number | undefined {
  const m = new RegExp(`^${escape(contractId)}-L([1-9]\\d{0,5})$`).exec(lineId);
  return m ? Number(m[1]) : undefined;
}

/** Every line id the contract has used: current lines and removed ones (a removed id is never given again). */
const usedLineIds = (s: EngagementState, c: Contract): Set<string> => new Set([...c.lines.map((l) => l.id), ...(s.scope?.removedLines ?? [])]);

/** Every amount in a raw value, with its path: objects carrying amountMinor and currency. */
function amountsIn(v: unknown, path: (string | number)[], out: Array<{ path: (string | number)[]; currency: unknown }>): typeof out {
  if (Array.isArray(v)) v.forEach((x, i) => amountsIn(x, [...path, i], out));
  else if (isObject(v)) {
    if ('amountMinor' in v && 'currency' in v) out.push({ path, currency: v.currency });
    else for (const [k, x] of Object.entries(v)) amountsIn(x, [...path, k], out);
  }
  return out;
}

/**
 * The request's changes with the ids q2c gives: an added line's id is the
 * next free `<contractId>-L<n>` (a request may name one itself, but only of
 * that form and not used yet: DEAL.AMENDMENT_LINE_EXISTS), its quote line
 * reference is the change order (`amendmentId`) unless the request names the
 * change-order quote line, its milestones are `<lineId>-M<k>` unless named,
 * and its dates default to the effective date (not before the contract's
 * start) and the contract's end. Amounts in another currency are refused
 * (DEAL.AMENDMENT_CURRENCY_MISMATCH). Checked on the request as sent, before
 * the canonical schema checks its values.
 */
export function withScopeIds(s: EngagementState, c: Contract, changes: readonly unknown[], amendmentId: string, effectiveDate: string): unknown[] {
  const used = usedLineIds(s, c);
  let next = Math.max(0, ...[...used].map((id) => lineNumber(c.id, id) ?? 0)) + 1;
  // ids the request names itself are reserved first, so an unnamed line never takes one
  for (const [i, raw] of changes.entries()) {
    if (!isObject(raw) || raw.op !== 'ADD_LINE' || !isObject(raw.line) || raw.line.id === undefined) continue;
    const id = raw.line.id;
    if (typeof id !== 'string' || lineNumber(c.id, id) === undefined) refuse('DEAL.AMENDMENT_INVALID', `changes.${i}.line.id: q2c gives line ids of the form ${c.id}-L<n>; leave it out to get the next free one`);
    if (used.has(id as string)) refuse('DEAL.AMENDMENT_LINE_EXISTS', `changes.${i}.line.id: line ${String(id)} ${c.lines.some((l) => l.id === id) ? 'is already on' : 'was removed from'} contract ${c.id}`);
    used.add(id as string);
  }
  return changes.map((raw, i) => {
    if (!isObject(raw) || raw.op !== 'ADD_LINE' || !isObject(raw.line)) return raw;
    const line = raw.line;
    for (const a of amountsIn(line, [], [])) {
      if (a.currency !== c.currency) refuse('DEAL.AMENDMENT_CURRENCY_MISMATCH', `changes.${i}.line.${a.path.join('.')}: currency ${String(a.currency)} differs from contract currency ${c.currency}`);
    }
    let id = line.id as string | undefined;
    if (id === undefined) {
      while (used.has(`${c.id}-L${next}`)) next += 1;
      id = `${c.id}-L${next}`;
      used.add(id);
    }
    const milestones = Array.isArray(line.milestones) ? line.milestones.map((m, k) => (isObject(m) && m.milestoneId === undefined ? { ...m, milestoneId: `${id}-M${k + 1}` } : m)) : line.milestones;
    return {
      ...raw,
      line: {
        ...line,
        id,
        quoteLineId: line.quoteLineId ?? amendmentId,
        startDate: line.startDate ?? (effectiveDate > c.startDate ? effectiveDate : c.startDate),
        endDate: line.endDate ?? c.endDate,
        ...(milestones !== undefined ? { milestones } : {}),
      },
    };
  });
}

/** Why a line cannot be removed: something was billed, drawn or recognised on it, or delivered and waiting to be. */
export function removalRefusal(s: EngagementState, lineId: string): { code: string; why: string } | undefined {
  const onLine = (x: { contractLineId: string }) => x.contractLineId === lineId;
  const invoiced = s.invoices.filter((inv) => inv.lines.some(onLine)).map((inv) => inv.number);
  if (invoiced.length > 0) return { code: 'DEAL.AMENDMENT_LINE_BILLED', why: `invoiced on ${invoiced.join(', ')}` };
  if (s.drafts.some((dr) => dr.invoice.lines.some(onLine))) return { code: 'DEAL.AMENDMENT_LINE_BILLED', why: 'on an invoice being issued' };
  if ((s.billedByLine[lineId] ?? 0) !== 0 || (s.drawnByLine[lineId] ?? 0) !== 0) return { code: 'DEAL.AMENDMENT_LINE_BILLED', why: 'billed or drawn down' };
  if ((s.revenue.recognisedByLine[lineId] ?? 0) !== 0 || s.revenue.pending.some(onLine)) return { code: 'DEAL.AMENDMENT_LINE_BILLED', why: 'revenue was recognised on it' };
  const { time, expenses, milestones } = s.pending;
  if ([...time, ...expenses, ...milestones].some(onLine) || s.held.some(onLine) || (s.overCap ?? []).some(onLine) || (s.releasing ?? []).some(onLine)) {
    return { code: 'DEAL.AMENDMENT_LINE_DELIVERED', why: 'delivered work on it waits to be billed or is held over its cap' };
  }
  return undefined;
}

/** The PSA phase of a line a change order adds: its milestones, and its tasks (the change's, or one named after the line). */
export function phaseOf(line: ContractLine, tasks: ReadonlyArray<{ name: string; billable: boolean }> | undefined): Phase | undefined {
  const name = line.description || line.id;
  const defaults = line.billingModel === 'EXPENSES' ? [] : [{ name, billable: line.billingModel !== 'SUBSCRIPTION' }];
  const phase: Phase = {
    id: `${line.id}-P1`,
    name,
    milestones: (line.milestones ?? []).map((m, k) => ({ id: m.milestoneId, name: m.name ?? `${name}: milestone ${k + 1}`, contractLineId: line.id, ...(m.dueDate ? { dueDate: m.dueDate } : {}) })),
    tasks: (tasks ?? defaults).map((t, k) => ({ id: `${line.id}-T${k + 1}`, name: t.name, billable: t.billable, contractLineId: line.id })),
  };
  return phase.milestones.length + phase.tasks.length > 0 ? phase : undefined;
}

/** The PSA ids (canonical) of a removed line's records on the project: its phases, milestones and tasks. */
export function scopeRefsOf(d: Deal, lineId: string): string[] {
  const refs: string[] = [];
  for (const ph of d.projectPhases) {
    const ms = ph.milestones.filter((m) => m.contractLineId === lineId).map((m) => m.id);
    const ts = ph.tasks.filter((t) => t.contractLineId === lineId).map((t) => t.id);
    // a phase is the line's when everything under it is
    if (ms.length + ts.length > 0 && ms.length + ts.length === ph.milestones.length + ph.tasks.length) refs.push(ph.id);
    refs.push(...ms, ...ts);
  }
  return refs;
}

/** The added phases become the deal's: delivered time on their tasks and accepted milestones bill on the new line. */
export function applyScope(s: EngagementState, d: Deal, phases: readonly Phase[], created: Readonly<Record<string, string>>): void {
  if (phases.length === 0) return;
  const scope = (s.scope ??= { phases: [], psaIds: {}, removedLines: [] });
  const psaIds: Record<string, string> = {};
  for (const ph of phases) {
    for (const id of [...ph.milestones.map((m) => m.id), ...ph.tasks.map((t) => t.id)]) {
      const psaId = created[id];
      if (psaId !== undefined && psaId !== id) psaIds[psaId] = id;
    }
  }
  scope.phases.push(...phases);
  Object.assign(scope.psaIds, psaIds);
  addScope(d, { phases: [...phases], psaIds, removedLines: [] });
}

/** The change order's scope on its record: the lines added and removed, and the PSA ids of what the project got. */
export function recordScope(record: AmendmentRecord, plan: ScopePlan, created: Readonly<Record<string, string>>): void {
  record.addedLines = [...plan.addedLines];
  record.removedLines = [...plan.removedLines];
  record.psa = { added: { ...created } };
}
