import type { BillingClass, Expense, FxRate, MilestoneCompletion, SourceKind, TimeEntry } from '../canonical';
import { applyBasisPoints, convert, formatMoney, mulDiv } from '../canonical/money-math';
import type { CompiledContract, CompiledLine, RunClock } from './compile';
import type { RateSlot } from './rates';
import { runClock } from './compile';
import * as dates from './dates';
import { addDays, addMonths, daysInclusive, isoWeekday } from './dates';
import * as reasons from './reasons';
import type { ReasonCode } from './reasons';

// Per-item helpers from other modules, read into module constants once: loaded as CommonJS
// (tsx, jest), each use of an import is a getter call that the optimiser keeps (a CPU
// profile under tsx showed them as separate `get` frames).
const { dateKey, dayNumber, monthIndex, monthIndexOfKey, weekdayOf } = dates;
const { classOf } = reasons;

/**
 * The decision for (part of) one delivered item. Every item yields one decision,
 * or two when a cap or retainer balance splits it; the parts of one item always
 * add up to its delivered value.
 */
export interface Decision {
  sourceId: string;
  kind: SourceKind;
  contractLineId: string;
  projectId: string;
  /** Date the item is billed for: work date, expense date, acceptance date, period start/end. */
  serviceDate: string;
  billingClass: BillingClass;
  reasonCode: ReasonCode;
  amountMinor: number;
  /** Minutes of time in this part (0 for other kinds). */
  minutes: number;
  /** Invoice line identity inside an invoice; set on parts that are invoiced. */
  lineKey: string | undefined;
  lineDescription: string;
  /** ON_MILESTONE grouping and explanations. */
  milestoneId: string | undefined;
  /** Specific detail for the explanation (cap figures, FX rate used ...). */
  detail: string | undefined;
  /**
   * The service period the item covers when it is not the one day `serviceDate`: a
   * subscription period, a retainer's term, the day released over-cap time was worked
   * (its serviceDate is then the day it became billable). Invoice lines report
   * min/max of these (or of serviceDate) as their servicePeriod.
   */
  periodStart: string | undefined;
  periodEnd: string | undefined;
}

export interface Deliveries {
  timeEntries?: readonly TimeEntry[];
  expenses?: readonly Expense[];
  milestones?: readonly MilestoneCompletion[];
}

export interface BillingState {
  /** Cap consumption per contract line from earlier runs: what was billed there, less expenses when the line's cap excludes them (countsAgainstCap). */
  billedByLine?: Readonly<Record<string, number>>;
  /** Retainer balance already drawn per line in earlier runs. */
  drawnByLine?: Readonly<Record<string, number>>;
  /** Source ids already decided in earlier runs (time, expense, milestone ids): duplicates. */
  processedIds?: ReadonlySet<string>;
  /** Rates for expenses in another currency; the newest rate on or before the expense date is used. */
  fxRates?: readonly FxRate[];
  /** Generate subscription periods and retainer fees (default true). */
  scheduledCharges?: boolean;
}

const make = (
  sourceId: string,
  kind: SourceKind,
  contractLineId: string,
  projectId: string,
  serviceDate: string,
  reasonCode: ReasonCode,
  amountMinor: number,
  minutes: number,
  lineKey: string | undefined,
  lineDescription: string,
): Decision => ({
  sourceId,
  kind,
  contractLineId,
  projectId,
  serviceDate,
  billingClass: classOf(reasonCode),
  reasonCode,
  amountMinor,
  minutes,
  lineKey,
  lineDescription,
  // always present so every decision has the same hidden class (monomorphic hot path)
  milestoneId: undefined,
  detail: undefined,
  periodStart: undefined,
  periodEnd: undefined,
});

/** Is the invoice period holding `date` closed on the run date? (IMMEDIATE / ON_MILESTONE: as soon as the date has passed or is today.) */
export const periodClosed = (cc: CompiledContract, cl: CompiledLine, date: string, clock: RunClock): boolean => {
  switch (cl.line.invoiceSchedule) {
    case 'MONTHLY':
      return monthIndex(date) < clock.asOfMonth;
    case 'WEEKLY': {
      const d = dayNumber(date);
      const offset = (isoWeekday(date) - cc.contract.billingTerms.weekStartsOn + 7) % 7;
      return d - offset + 6 < clock.asOfDay;
    }
    default:
      return date <= clock.asOf;
  }
};

/** periodClosed for a date already parsed to its dateKey `dk` (time-entry hot path). */
const periodClosedKey = (cc: CompiledContract, cl: CompiledLine, date: string, dk: number, clock: RunClock): boolean => {
  switch (cl.line.invoiceSchedule) {
    case 'MONTHLY':
      return monthIndexOfKey(dk) < clock.asOfMonth;
    case 'WEEKLY': {
      // periodClosed's WEEKLY case with the day number computed once (isoWeekday derives it again)
      const d = dayNumber(date);
      const offset = (weekdayOf(d) - cc.contract.billingTerms.weekStartsOn + 7) % 7;
      return d - offset + 6 < clock.asOfDay;
    }
    default:
      return dk <= clock.asOfKey;
  }
};

/** Value of one time entry in minor units; exact integer arithmetic, rounded once. */
const timeValue = (minutes: number, slot: RateSlot, cc: CompiledContract): number => {
  const p = minutes * slot.numerator;
  // 6e9 = 60 min x 10000 bp x 10000 bp; fall back to BigInt only for very large products
  return Number.isSafeInteger(p) ? divHalf(p, cc) : mulDiv([minutes, slot.numerator], 6_000_000_000, cc.rounding);
};

const divHalf = (p: number, cc: CompiledContract): number => {
  if (cc.rounding !== 'HALF_EVEN') return mulDiv([p], 6_000_000_000, cc.rounding);
  const q = Math.floor(p / 6_000_000_000);
  const r = p - q * 6_000_000_000;
  if (r > 3_000_000_000) return q + 1;
  if (r < 3_000_000_000) return q;
  return q % 2 === 0 ? q : q + 1;
};

/**
 * Scratch for duplicateFlags, grown as needed and reused: no allocation per batch. One copy
 * serves every workflow of a worker thread (src/workflows/preload.ts), so each call sets
 * what it reads (the bitmap is zeroed before use): a call cut short, e.g. by the SDK's
 * isolate timeout, leaves nothing that a later call sees.
 */
let idNumbers = new Int32Array(1024);
let idBits = new Uint8Array(1024);
let dupFlags = new Uint8Array(1024);

/**
 * Duplicate flags for a batch whose ids all have the form <prefix><number>, with one
 * prefix and the number in decimal without leading zeros (e.g. 'TE-1041'), numbers
 * within a range of at most 32 x the batch size: flags[i] = 1 when entries[i].id
 * equals an earlier id. Such ids are equal exactly when their numbers are equal, so a
 * bitmap over the range replaces hashing every id into a Set that is grown per batch
 * (~15 % of classification time, and 40 bytes of garbage per entry). Undefined when
 * the ids do not have that form; the caller then uses the Set.
 * The flags array is scratch: valid until the next call.
 */
const duplicateFlags = (entries: readonly TimeEntry[]): Uint8Array | undefined => {
  const n = entries.length;
  if (n === 0) return undefined;
  if (idNumbers.length < n || dupFlags.length < n) {
    idNumbers = new Int32Array(n * 2);
    dupFlags = new Uint8Array(n * 2);
  }
  const first = entries[0]!.id;
  let p = first.length;
  while (p > 0 && isDigit(first.charCodeAt(p - 1))) p--;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const id = entries[i]!.id;
    const digits = id.length - p;
    // at most 9 digits (an int32), no leading zero, and the same prefix as the first id
    if (digits < 1 || digits > 9 || (digits > 1 && id.charCodeAt(p) === 48)) return undefined;
    let v = 0;
    for (let q = p; q < id.length; q++) {
      const c = id.charCodeAt(q);
      if (!isDigit(c)) return undefined;
      v = v * 10 + (c - 48);
    }
    for (let q = 0; q < p; q++) if (id.charCodeAt(q) !== first.charCodeAt(q)) return undefined;
    idNumbers[i] = v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const bytes = ((max - min) >> 3) + 1;
  if (bytes > 4 * n + 128) return undefined;
  if (idBits.length < bytes) idBits = new Uint8Array(bytes * 2);
  idBits.fill(0, 0, bytes);
  for (let i = 0; i < n; i++) {
    const o = idNumbers[i]! - min;
    const bit = 1 << (o & 7);
    const byte = idBits[o >> 3]!;
    dupFlags[i] = (byte & bit) !== 0 ? 1 : 0;
    idBits[o >> 3] = byte | bit;
  }
  return dupFlags;
};

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** Classify time entries into `out`. Returns the indexes (into `out`) of candidates that a cap or retainer may still split. */
export const classifyTimeEntries = (
  cc: CompiledContract,
  entries: readonly TimeEntry[],
  clock: RunClock,
  seen: Set<string>,
  out: Decision[],
  pending: number[],
  /** false: the caller does not read `seen` afterwards, so ids need not be added to it. */
  keepSeen = true,
): void => {
  const contractId = cc.contract.id;
  const poRequired = cc.contract.poRequired;
  const taskBillable = cc.taskBillable;
  // Duplicates by id number when nothing else is in `seen` and nobody reads it afterwards
  // (see duplicateFlags); otherwise through the Set.
  const dups = !keepSeen && seen.size === 0 ? duplicateFlags(entries) : undefined;
  // A contract has a few lines and entries mostly name the same task: compare ids (mostly a
  // pointer compare: the same string objects) instead of hashing them into a Map per entry.
  const lineIds = cc.lineIds;
  const lineList = cc.lineList;
  let lastTaskId: string | undefined;
  let lastTaskExcluded = false;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    let dup: boolean;
    if (dups !== undefined) dup = dups[i] === 1;
    else {
      // one Set operation instead of has + add: a duplicate leaves the size unchanged
      const seenBefore = seen.size;
      seen.add(e.id);
      dup = seen.size === seenBefore;
    }
    // one decision per entry, built at one place (duplicates and unknown lines included)
    let cl: CompiledLine | undefined;
    let code: ReasonCode;
    let lineId = e.contractLineId;
    let value = 0;
    let lineKey: string | undefined;
    let description = '';
    if (dup) code = 'EXCLUDED.DUPLICATE';
    else {
      if (e.contractId === contractId) {
        const id = e.contractLineId;
        if (lineIds.length <= 8) {
          for (let j = 0; j < lineIds.length; j++) {
            if (lineIds[j] === id) {
              cl = lineList[j];
              break;
            }
          }
        } else cl = cc.lines.get(id);
      }
      if (cl === undefined) code = 'EXCLUDED.UNKNOWN_CONTRACT_LINE';
      else {
        // the work date as an integer, once: every date test below is an integer compare
        const dk = dateKey(e.workDate);
        const line = cl.line;
        const slot = cl.slots !== undefined ? cl.slots.find(e.role, e.region, dk, e.overtime) : cl.rates?.timeSlot(e.role, e.region, e.workDate, dk, e.overtime, line.discountBp);
        if (slot !== undefined) value = timeValue(e.minutes, slot, cc);
        if (e.taskId !== lastTaskId) {
          lastTaskId = e.taskId;
          lastTaskExcluded = taskBillable.get(e.taskId) === false;
        }
        if (!e.approved) code = 'EXCLUDED.UNAPPROVED';
        else if (lastTaskExcluded) code = 'EXCLUDED.NON_BILLABLE_TASK';
        else if (dk < cl.startKey || dk > cl.endKey) code = 'EXCLUDED.OUTSIDE_CONTRACT_DATES';
        else if (line.billingModel === 'FIXED_FEE_MILESTONE') code = 'EXCLUDED.COVERED_BY_FIXED_FEE';
        else if (line.billingModel === 'SUBSCRIPTION') code = 'EXCLUDED.COVERED_BY_SUBSCRIPTION';
        else if (line.billingModel === 'EXPENSES') code = 'EXCLUDED.WRONG_LINE_TYPE';
        else if (slot === undefined) code = 'DEFERRED.NO_RATE';
        else if (dk > clock.asOfKey) code = 'DEFERRED.NOT_YET_DUE';
        else if (!periodClosedKey(cc, cl, e.workDate, dk, clock)) code = 'DEFERRED.PERIOD_NOT_CLOSED';
        else if (poRequired && cl.poNumber === null) code = 'DEFERRED.AWAITING_PO';
        else code = line.billingModel === 'RETAINER' ? 'BILLABLE.RETAINER_DRAWDOWN' : 'BILLABLE.TIME_AND_MATERIALS';
        lineId = line.id;
        if (code === 'BILLABLE.TIME_AND_MATERIALS') {
          lineKey = slot!.lineKey;
          description = slot!.description;
        }
      }
    }
    out.push(make(e.id, 'TIME', lineId, e.projectId, e.workDate, code, value, e.minutes, lineKey, description));
    if (cl !== undefined && cl.orderDependent && code.charCodeAt(0) === 66 /* 'B' */) pending.push(out.length - 1);
  }
};

const pickFx = (rates: readonly FxRate[] | undefined, from: string, to: string, date: string): FxRate | undefined => {
  let best: FxRate | undefined;
  for (const r of rates ?? []) {
    if (r.base === from && r.quote === to && r.asOf <= date && (best === undefined || r.asOf > best.asOf)) best = r;
  }
  return best;
};

export const classifyExpenses = (
  cc: CompiledContract,
  expenses: readonly Expense[],
  clock: RunClock,
  seen: Set<string>,
  out: Decision[],
  pending: number[],
  fxRates?: readonly FxRate[],
): void => {
  const receiptAbove = cc.ruleSet.expensePolicy.receiptRequiredAbove;
  for (const x of expenses) {
    if (seen.has(x.id)) {
      out.push(make(x.id, 'EXPENSE', x.contractLineId, x.projectId, x.incurredOn, 'EXCLUDED.DUPLICATE', 0, 0, undefined, ''));
      continue;
    }
    seen.add(x.id);
    const cl = x.contractId === cc.contract.id ? cc.lines.get(x.contractLineId) : undefined;
    if (cl === undefined) {
      out.push(make(x.id, 'EXPENSE', x.contractLineId, x.projectId, x.incurredOn, 'EXCLUDED.UNKNOWN_CONTRACT_LINE', 0, 0, undefined, ''));
      continue;
    }
    let cost = x.amount;
    let detail: string | undefined;
    if (cost.currency !== cc.currency) {
      const fx = pickFx(fxRates, cost.currency, cc.currency, x.incurredOn);
      if (!fx) {
        const d = make(x.id, 'EXPENSE', cl.line.id, x.projectId, x.incurredOn, 'DEFERRED.FX_RATE_MISSING', 0, 0, undefined, '');
        d.detail = `${formatMoney(x.amount)} needs a ${x.amount.currency}/${cc.currency} rate on or before ${x.incurredOn}`;
        out.push(d);
        continue;
      }
      cost = convert(cost, fx);
      detail = `${formatMoney(x.amount)} at ${fx.rate} (${fx.source}, ${fx.asOf}) = ${formatMoney(cost)}`;
    }
    const t = cc.expenseTreatment(x.category);
    const value = t.treatment === 'MARKUP' ? cost.amountMinor + applyBasisPoints(cost, t.markupBp).amountMinor : cost.amountMinor;
    const line = cl.line;
    let code: ReasonCode;
    if (!x.approved) code = 'EXCLUDED.UNAPPROVED';
    else if (x.incurredOn < line.startDate || x.incurredOn > line.endDate) code = 'EXCLUDED.OUTSIDE_CONTRACT_DATES';
    else if (line.billingModel !== 'EXPENSES' && line.billingModel !== 'TIME_AND_MATERIALS') code = 'EXCLUDED.WRONG_LINE_TYPE';
    else if (t.treatment === 'EXCLUDED') code = 'EXCLUDED.EXPENSE_CATEGORY';
    else if (receiptAbove && receiptAbove.currency === x.amount.currency && x.amount.amountMinor > receiptAbove.amountMinor && !x.receipt) code = 'DEFERRED.RECEIPT_MISSING';
    else if (x.incurredOn > clock.asOf) code = 'DEFERRED.NOT_YET_DUE';
    else if (!periodClosed(cc, cl, x.incurredOn, clock)) code = 'DEFERRED.PERIOD_NOT_CLOSED';
    else if (cc.contract.poRequired && cl.poNumber === null) code = 'DEFERRED.AWAITING_PO';
    else code = t.treatment === 'MARKUP' ? 'BILLABLE.EXPENSE_MARKUP' : 'BILLABLE.EXPENSE_AT_COST';
    const lineKey = `${line.id}|EXPENSE|${x.category}`;
    const desc = `Expenses: ${x.category}`;
    if (t.treatment === 'CAPPED' && code === 'BILLABLE.EXPENSE_AT_COST' && value > t.capPerItem.amountMinor) {
      const cap = t.capPerItem.amountMinor;
      const a = make(x.id, 'EXPENSE', line.id, x.projectId, x.incurredOn, 'BILLABLE.EXPENSE_CAPPED_PART', cap, 0, lineKey, desc);
      const b = make(x.id, 'EXPENSE', line.id, x.projectId, x.incurredOn, 'CAPPED.EXPENSE_POLICY_LIMIT', value - cap, 0, undefined, '');
      a.detail = b.detail = `policy limit ${formatMoney(t.capPerItem)} per ${x.category} item; ${formatMoney({ amountMinor: value, currency: cc.currency })} claimed`;
      out.push(a, b);
      if (cl.orderDependent) pending.push(out.length - 2);
      continue;
    }
    const billable = code.charCodeAt(0) === 66;
    const d = make(x.id, 'EXPENSE', line.id, x.projectId, x.incurredOn, code, value, 0, billable ? lineKey : undefined, billable ? desc : '');
    if (detail !== undefined) d.detail = detail;
    out.push(d);
    if (cl.orderDependent && billable) pending.push(out.length - 1);
  }
};

export const classifyMilestones = (
  cc: CompiledContract,
  completions: readonly MilestoneCompletion[],
  clock: RunClock,
  seen: Set<string>,
  out: Decision[],
  pending: number[],
): void => {
  // one fee per milestone: a second completion for the same milestone is a duplicate
  for (const m of completions) {
    const date = m.acceptedOn ?? m.completedOn;
    const dupKey = `M:${m.contractLineId}:${m.milestoneId}`;
    if (seen.has(m.id) || seen.has(dupKey)) {
      out.push(make(m.id, 'MILESTONE', m.contractLineId, m.projectId, date, 'EXCLUDED.DUPLICATE', 0, 0, undefined, ''));
      continue;
    }
    seen.add(m.id);
    const cl = m.contractId === cc.contract.id ? cc.lines.get(m.contractLineId) : undefined;
    if (cl === undefined) {
      out.push(make(m.id, 'MILESTONE', m.contractLineId, m.projectId, date, 'EXCLUDED.UNKNOWN_CONTRACT_LINE', 0, 0, undefined, ''));
      continue;
    }
    if (cl.line.billingModel !== 'FIXED_FEE_MILESTONE') {
      out.push(make(m.id, 'MILESTONE', cl.line.id, m.projectId, date, 'EXCLUDED.WRONG_LINE_TYPE', 0, 0, undefined, ''));
      continue;
    }
    const amount = cl.milestoneAmounts.get(m.milestoneId);
    if (amount === undefined) {
      out.push(make(m.id, 'MILESTONE', cl.line.id, m.projectId, date, 'EXCLUDED.UNKNOWN_MILESTONE', 0, 0, undefined, ''));
      continue;
    }
    seen.add(dupKey);
    let code: ReasonCode;
    if (m.acceptedOn === null || m.acceptedOn > clock.asOf) code = 'DEFERRED.MILESTONE_NOT_ACCEPTED';
    else if (!periodClosed(cc, cl, m.acceptedOn, clock)) code = 'DEFERRED.PERIOD_NOT_CLOSED';
    else if (cc.contract.poRequired && cl.poNumber === null) code = 'DEFERRED.AWAITING_PO';
    else code = 'BILLABLE.MILESTONE_ACCEPTED';
    const billable = code === 'BILLABLE.MILESTONE_ACCEPTED';
    const d = make(m.id, 'MILESTONE', cl.line.id, m.projectId, date, code, amount, 0, billable ? `${cl.line.id}|MILESTONE|${m.milestoneId}` : undefined, billable ? `Milestone ${m.milestoneId}` : '');
    d.milestoneId = m.milestoneId;
    out.push(d);
    if (cl.orderDependent && billable) pending.push(out.length - 1);
  }
};

const periodMonths = { MONTHLY: 1, QUARTERLY: 3, ANNUAL: 12 } as const;

/**
 * Recurring charges that are due by the run date: subscription periods (a short last
 * period is prorated by days, half-even) and the retainer prepayment.
 */
export const scheduledCharges = (cc: CompiledContract, clock: RunClock, projectId: string, seen: Set<string>, out: Decision[], pending: number[]): void => {
  for (const cl of cc.lines.values()) {
    const line = cl.line;
    if (line.billingModel === 'SUBSCRIPTION' && line.subscription) {
      const sub = line.subscription;
      const k = periodMonths[sub.period];
      for (let i = 0; ; i++) {
        const start = addMonths(line.startDate, i * k);
        if (start > line.endDate || start > clock.asOf) break;
        const fullEnd = addDays(addMonths(line.startDate, (i + 1) * k), -1);
        const end = fullEnd <= line.endDate ? fullEnd : line.endDate;
        const amount =
          end === fullEnd
            ? sub.amountPerPeriod.amountMinor
            : mulDiv([sub.amountPerPeriod.amountMinor, daysInclusive(start, end)], daysInclusive(start, fullEnd), cc.rounding);
        const sourceId = `SUB:${line.id}:${start}`;
        if (seen.has(sourceId)) continue;
        seen.add(sourceId);
        const due = sub.timing === 'IN_ADVANCE' ? start : addDays(end, 1);
        const serviceDate = sub.timing === 'IN_ADVANCE' ? start : end;
        let code: ReasonCode;
        if (due > clock.asOf) code = 'DEFERRED.PERIOD_NOT_CLOSED';
        else if (cc.contract.poRequired && cl.poNumber === null) code = 'DEFERRED.AWAITING_PO';
        else code = 'BILLABLE.SUBSCRIPTION_PERIOD';
        const billable = code === 'BILLABLE.SUBSCRIPTION_PERIOD';
        const d = make(sourceId, 'SUBSCRIPTION', line.id, projectId, serviceDate, code, amount, 0, billable ? `${line.id}|SUBSCRIPTION` : undefined, billable ? `Subscription ${start} to ${end}` : '');
        d.detail = `period ${start}..${end}`;
        d.periodStart = start;
        d.periodEnd = end;
        out.push(d);
        if (cl.orderDependent && billable) pending.push(out.length - 1);
      }
    }
    if (line.billingModel === 'RETAINER' && line.retainer && line.startDate <= clock.asOf) {
      const sourceId = `RETAINER:${line.id}`;
      if (seen.has(sourceId)) continue;
      seen.add(sourceId);
      const code: ReasonCode = cc.contract.poRequired && cl.poNumber === null ? 'DEFERRED.AWAITING_PO' : 'BILLABLE.RETAINER_FEE';
      const billable = code === 'BILLABLE.RETAINER_FEE';
      // the prepayment is invoiced; it does not count against the cap (drawdown overage does)
      const d = make(sourceId, 'RETAINER', line.id, projectId, line.startDate, code, line.retainer.prepaid.amountMinor, 0, billable ? `${line.id}|RETAINER` : undefined, billable ? `Retainer prepayment until ${line.retainer.expiresOn}` : '');
      d.periodStart = line.startDate;
      d.periodEnd = line.retainer.expiresOn;
      out.push(d);
    }
  }
};

const KIND_RANK: Record<SourceKind, number> = { RETAINER: 0, SUBSCRIPTION: 1, MILESTONE: 2, TIME: 3, EXPENSE: 4, ADJUSTMENT: 5 };

const byDateKindId = (a: Decision, b: Decision): number =>
  a.serviceDate < b.serviceDate ? -1 : a.serviceDate > b.serviceDate ? 1 : KIND_RANK[a.kind] - KIND_RANK[b.kind] || (a.sourceId < b.sourceId ? -1 : a.sourceId > b.sourceId ? 1 : 0);

/** 'YYYY-MM-DD' with digits where digits go: such strings order exactly like their dateKeys. */
const isPlainDate = (s: string): boolean => {
  if (s.length !== 10 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return false;
  for (let i = 0; i < 10; i++) if (i !== 4 && i !== 7 && !isDigit(s.charCodeAt(i))) return false;
  return true;
};

/**
 * `list.sort(byDateKindId)` without a comparator call per comparison: (date, kind) as one
 * integer (dateKey x 8 + kind rank, which orders like the date string and the kind rank
 * for plain dates) packed with the item's position into a double, sorted natively; items
 * with the same date and kind are then ordered by id with an insertion sort (runs are short:
 * a few items per day). Equal keys and ids keep their input order, as the stable sort did.
 * Other dates, or lists too long to pack, use byDateKindId.
 */
const sortByDateKindId = (list: Decision[]): Decision[] => {
  const n = list.length;
  if (n < 2) return list;
  if (n > POSITION_LIMIT) return list.sort(byDateKindId);
  const packed = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const d = list[i]!;
    if (!isPlainDate(d.serviceDate)) return list.sort(byDateKindId);
    packed[i] = (dateKey(d.serviceDate) * 8 + KIND_RANK[d.kind]) * POSITION_LIMIT + i;
  }
  packed.sort();
  const sorted = new Array<Decision>(n);
  for (let i = 0; i < n; i++) sorted[i] = list[packed[i]! % POSITION_LIMIT]!;
  // within a run of equal (date, kind): by id, stable
  let runStart = 0;
  for (let i = 1; i <= n; i++) {
    if (i < n && Math.floor(packed[i]! / POSITION_LIMIT) === Math.floor(packed[runStart]! / POSITION_LIMIT)) continue;
    if (i - runStart > 32) {
      // a long run (many items on one day): a stable sort by id instead of insertion
      const run = sorted.slice(runStart, i).sort((a, b) => (a.sourceId < b.sourceId ? -1 : a.sourceId > b.sourceId ? 1 : 0));
      for (let j = 0; j < run.length; j++) sorted[runStart + j] = run[j]!;
      runStart = i;
      continue;
    }
    for (let j = runStart + 1; j < i; j++) {
      const d = sorted[j]!;
      let k = j - 1;
      while (k >= runStart && sorted[k]!.sourceId > d.sourceId) {
        sorted[k + 1] = sorted[k]!;
        k--;
      }
      sorted[k + 1] = d;
    }
    runStart = i;
  }
  for (let i = 0; i < n; i++) list[i] = sorted[i]!;
  return list;
};

/** Positions packed below the (date, kind) key: key < 8e8 < 2^30, so key x 2^22 + position is an exact double. */
const POSITION_LIMIT = 1 << 22;

/** Split `d` into (amountKept, rest) in place; returns the new rest part. Minutes split in proportion. */
const splitOff = (d: Decision, keep: number, restCode: ReasonCode, keepCode: ReasonCode | undefined, detail: string): Decision => {
  const rest = d.amountMinor - keep;
  const restMinutes = d.minutes === 0 || d.amountMinor === 0 ? 0 : d.minutes - Math.floor((d.minutes * keep) / d.amountMinor);
  const invoicedRest = restCode === 'BILLABLE.RETAINER_OVERAGE';
  const r = make(d.sourceId, d.kind, d.contractLineId, d.projectId, d.serviceDate, restCode, rest, restMinutes, invoicedRest ? d.lineKey ?? `${d.contractLineId}|OVERAGE` : undefined, invoicedRest ? d.lineDescription : '');
  r.detail = detail;
  r.periodStart = d.periodStart;
  r.periodEnd = d.periodEnd;
  d.amountMinor = keep;
  d.minutes -= restMinutes;
  if (keepCode !== undefined) {
    d.reasonCode = keepCode;
    d.billingClass = classOf(keepCode);
  }
  d.detail = detail;
  return r;
};

/**
 * Apply retainer balances, then not-to-exceed caps, to the pending candidates
 * in (service date, kind, id) order, so the outcome does not depend on input order.
 */
const applyBalances = (cc: CompiledContract, out: Decision[], pending: number[], state: BillingState): void => {
  if (pending.length === 0) return;
  const byLine = new Map<string, Decision[]>();
  for (const i of pending) {
    const d = out[i]!;
    const list = byLine.get(d.contractLineId);
    if (list) list.push(d);
    else byLine.set(d.contractLineId, [d]);
  }
  const lineIds = [...byLine.keys()].sort();
  for (const lineId of lineIds) {
    const list = sortByDateKindId(byLine.get(lineId)!);
    const cl = cc.lines.get(lineId)!;
    const retainer = cl.line.retainer;
    const fmt = (n: number): string => formatMoney({ amountMinor: n, currency: cc.currency });
    let queue = list;
    if (retainer) {
      let balance = retainer.prepaid.amountMinor - (state.drawnByLine?.[lineId] ?? 0);
      let noBalanceLeft: string | undefined;
      const next: Decision[] = [];
      for (const d of list) {
        if (d.reasonCode !== 'BILLABLE.RETAINER_DRAWDOWN') {
          next.push(d);
          continue;
        }
        if (d.amountMinor <= balance) {
          balance -= d.amountMinor;
          continue;
        }
        const overCode: ReasonCode = retainer.overage === 'BILL' ? 'BILLABLE.RETAINER_OVERAGE' : 'CAPPED.RETAINER_EXHAUSTED';
        // once the balance is used up every later item gets the same text: format it once
        const detail =
          balance <= 0
            ? (noBalanceLeft ??= `retainer ${fmt(retainer.prepaid.amountMinor)}; ${fmt(0)} left before this item`)
            : `retainer ${fmt(retainer.prepaid.amountMinor)}; ${fmt(balance)} left before this item`;
        if (balance <= 0) {
          d.reasonCode = overCode;
          d.billingClass = classOf(overCode);
          d.detail = detail;
          if (overCode === 'BILLABLE.RETAINER_OVERAGE') {
            d.lineKey = `${lineId}|OVERAGE`;
            d.lineDescription = 'Retainer overage';
            next.push(d);
          }
        } else {
          const r = splitOff(d, balance, overCode, undefined, detail);
          if (overCode === 'BILLABLE.RETAINER_OVERAGE') {
            r.lineKey = `${lineId}|OVERAGE`;
            r.lineDescription = 'Retainer overage';
            next.push(r);
          }
          out.push(r);
          balance = 0;
        }
      }
      queue = next;
    }
    if (cl.capLimit !== null) {
      let remaining = cl.capLimit - (state.billedByLine?.[lineId] ?? 0);
      const capText = `cap ${fmt(cl.line.cap!.notToExceed.amountMinor)} + ${cl.line.cap!.toleranceBp} bp tolerance = ${fmt(cl.capLimit)}`;
      let nothingLeft: string | undefined;
      const excludesExpenses = cl.capExcludesExpenses;
      for (const d of queue) {
        if (d.billingClass !== 'BILLABLE' || d.lineKey === undefined || d.kind === 'RETAINER') continue;
        // expenses billed outside a cap that excludes them: neither held nor counted
        if (excludesExpenses && d.kind === 'EXPENSE') continue;
        if (d.amountMinor <= remaining) {
          remaining -= d.amountMinor;
          continue;
        }
        const detail = remaining <= 0 ? (nothingLeft ??= `${capText}; ${fmt(0)} left before this item`) : `${capText}; ${fmt(remaining)} left before this item`;
        if (remaining <= 0) {
          d.reasonCode = 'CAPPED.OVER_CAP';
          d.billingClass = 'CAPPED';
          d.lineKey = undefined;
          d.lineDescription = '';
          d.detail = detail;
        } else {
          out.push(splitOff(d, remaining, 'CAPPED.OVER_CAP', 'BILLABLE.PARTIAL_UNDER_CAP', detail));
          remaining = 0;
        }
      }
    }
  }
};

export interface BillingRun {
  readonly decisions: Decision[];
  readonly clock: RunClock;
}

/**
 * Classify and value every delivered item of one contract version on the run
 * date `asOf`. Pure: same inputs, same decisions, whatever the input order.
 */
export const classifyDeliveries = (cc: CompiledContract, batch: Deliveries, asOf: string, state: BillingState = {}, projectId?: string): BillingRun => {
  const clock = runClock(asOf);
  const out: Decision[] = [];
  const pending: number[] = [];
  const seen = new Set<string>(state.processedIds ?? []);
  if (state.scheduledCharges !== false) {
    const pid = projectId ?? batch.timeEntries?.[0]?.projectId ?? batch.expenses?.[0]?.projectId ?? batch.milestones?.[0]?.projectId ?? cc.contract.id;
    scheduledCharges(cc, clock, pid, seen, out, pending);
  }
  if (batch.milestones) classifyMilestones(cc, batch.milestones, clock, seen, out, pending);
  // only expenses (classified next) read `seen` after the time entries
  if (batch.timeEntries) classifyTimeEntries(cc, batch.timeEntries, clock, seen, out, pending, batch.expenses !== undefined && batch.expenses.length > 0);
  if (batch.expenses) classifyExpenses(cc, batch.expenses, clock, seen, out, pending, state.fxRates);
  applyBalances(cc, out, pending, state);
  return { decisions: out, clock };
};

export interface ClassTotals {
  BILLABLE: number;
  DEFERRED: number;
  CAPPED: number;
  EXCLUDED: number;
  delivered: number;
}

export const classTotals = (decisions: readonly Decision[]): ClassTotals => {
  // plain locals, not t[d.billingClass] += ...: a keyed store per item boxes a new number each time
  let billable = 0;
  let deferred = 0;
  let capped = 0;
  let excluded = 0;
  for (let i = 0; i < decisions.length; i++) {
    const d = decisions[i]!;
    switch (d.billingClass) {
      case 'BILLABLE':
        billable += d.amountMinor;
        break;
      case 'DEFERRED':
        deferred += d.amountMinor;
        break;
      case 'CAPPED':
        capped += d.amountMinor;
        break;
      default:
        excluded += d.amountMinor;
    }
  }
  // the sum in the same order as before (delivered += each amount in turn) would give the
  // same integer: amounts are safe integers and so are their sums
  return { BILLABLE: billable, DEFERRED: deferred, CAPPED: capped, EXCLUDED: excluded, delivered: billable + deferred + capped + excluded };
};
