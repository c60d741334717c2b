import type { Contract, ContractLine, Project } from '../canonical';
import { allocate, currencyRule, mulDiv, type RoundingMode } from '../canonical/money-math';
import { RuleSetError, assertPinned } from './pinning';
import { rateIndexFor, type RateIndex, type SlotTable } from './rates';
import type { RuleSet, ExpenseTreatment } from './ruleset';
import { dateKey, dayNumber, monthIndex } from './dates';

export interface CompiledLine {
  readonly line: ContractLine;
  readonly rates: RateIndex | undefined;
  /** `rates` for this line's discount (time-entry hot path); undefined without a card or for a blended card. */
  readonly slots: SlotTable | undefined;
  readonly poNumber: string | null;
  /** Not-to-exceed plus tolerance (tolerance rounded down so the cap is never exceeded). */
  readonly capLimit: number | null;
  /** The cap's term `includesExpenses: false`: expenses on this line neither count against the cap nor are held by it. */
  readonly capExcludesExpenses: boolean;
  /** Items on this line must be processed in (date, id) order: caps and retainer balances depend on it. */
  readonly orderDependent: boolean;
  /** Milestone fee per milestone id (percent milestones split the fee by largest remainder). */
  readonly milestoneAmounts: ReadonlyMap<string, number>;
  /** Invoice key prefix per project id. */
  readonly keyPrefix: Map<string, string>;
  readonly periodCache: Map<number | string, InvoicePeriod>;
  /** dateKey of the line's start and end dates (integer compares in the hot path). */
  readonly startKey: number;
  readonly endKey: number;
}

export interface InvoicePeriod {
  readonly start: string;
  readonly end: string;
  readonly key: string;
}

export interface CompiledContract {
  readonly contract: Contract;
  readonly ruleSet: RuleSet;
  readonly currency: string;
  readonly rounding: RoundingMode;
  readonly lines: ReadonlyMap<string, CompiledLine>;
  /** The entries of `lines` as two arrays, for a linear search when there are a few lines. */
  readonly lineIds: readonly string[];
  readonly lineList: readonly CompiledLine[];
  /** taskId -> billable, from the project; tasks not listed are treated as billable. */
  readonly taskBillable: ReadonlyMap<string, boolean>;
  readonly expenseTreatment: (category: string) => ExpenseTreatment;
}

/** Everything a billing run needs that is not per-item: built once, outside the hot loop. */
export interface RunClock {
  readonly asOf: string;
  readonly asOfDay: number;
  readonly asOfMonth: number;
  /** dateKey(asOf). */
  readonly asOfKey: number;
}

/**
 * Does a billed item of this kind consume its line's cap? Everything billed on
 * the line does, except expenses when the cap's term excludes them. The
 * engagement keeps its per-line cap consumption (`billedByLine`) with it.
 */
export const countsAgainstCap = (cl: Pick<CompiledLine, 'capExcludesExpenses'>, kind: string): boolean => !(cl.capExcludesExpenses && kind === 'EXPENSE');

export const runClock = (asOf: string): RunClock => ({ asOf, asOfDay: dayNumber(asOf), asOfMonth: monthIndex(asOf), asOfKey: dateKey(asOf) });

const milestoneAmounts = (line: ContractLine): Map<string, number> => {
  const out = new Map<string, number>();
  const ms = line.milestones ?? [];
  if (ms.length === 0) return out; // most lines: no allocation to compute
  const fee = line.fee?.amountMinor ?? 0;
  const pct = ms.filter((m) => m.percentBp !== undefined);
  const used = pct.reduce((a, m) => a + (m.percentBp ?? 0), 0);
  // one allocation over all percent milestones (plus the unallocated rest) keeps 100 % = fee exactly
  const parts = allocate(fee, [...pct.map((m) => m.percentBp ?? 0), Math.max(0, 10_000 - used)]);
  pct.forEach((m, i) => out.set(m.milestoneId, parts[i] ?? 0));
  for (const m of ms) if (m.amount) out.set(m.milestoneId, m.amount.amountMinor);
  return out;
};

/**
 * Compile a contract version with its pinned rule set. Validation happens here,
 * once: after this the hot path does no parsing and no currency checks.
 */
export const compileContract = (contract: Contract, ruleSet: RuleSet, project?: Pick<Project, 'phases'>): CompiledContract => {
  assertPinned(contract, ruleSet);
  const cards = new Map(ruleSet.rateCards.map((c) => [c.id, c]));
  const lines = new Map<string, CompiledLine>();
  for (const line of contract.lines) {
    let rates: RateIndex | undefined;
    if (line.rateCardRef !== undefined) {
      const card = cards.get(line.rateCardRef);
      if (!card) throw new RuleSetError('RULES.RATE_CARD_MISSING', `line ${line.id}: rate card ${line.rateCardRef} not in rule set ${ruleSet.id}@${ruleSet.version}`);
      if (card.currency !== contract.currency) {
        throw new RuleSetError('RULES.CURRENCY_MISMATCH', `line ${line.id}: rate card ${card.id} is in ${card.currency}, contract in ${contract.currency}`);
      }
      rates = rateIndexFor(card);
    }
    const capLimit = line.cap ? line.cap.notToExceed.amountMinor + mulDiv([line.cap.notToExceed.amountMinor, line.cap.toleranceBp], 10_000, 'FLOOR') : null;
    lines.set(line.id, {
      line,
      rates,
      slots: rates?.slotTable(line.discountBp),
      poNumber: line.poNumber ?? contract.poNumber ?? null,
      capLimit,
      capExcludesExpenses: line.cap?.includesExpenses === false,
      orderDependent: capLimit !== null || line.billingModel === 'RETAINER',
      milestoneAmounts: milestoneAmounts(line),
      keyPrefix: new Map(),
      periodCache: new Map(),
      startKey: dateKey(line.startDate),
      endKey: dateKey(line.endDate),
    });
  }
  const taskBillable = new Map<string, boolean>();
  for (const ph of project?.phases ?? []) for (const t of ph.tasks) taskBillable.set(t.id, t.billable);
  const policy = ruleSet.expensePolicy;
  for (const t of [policy.default, ...Object.values(policy.categories)]) {
    if (t.treatment === 'CAPPED' && t.capPerItem.currency !== contract.currency) {
      throw new RuleSetError('RULES.CURRENCY_MISMATCH', `expense cap in ${t.capPerItem.currency}, contract in ${contract.currency}`);
    }
  }
  const expenseTreatment = (category: string): ExpenseTreatment =>
    Object.prototype.hasOwnProperty.call(policy.categories, category) ? policy.categories[category]! : policy.default;
  return {
    contract, ruleSet, currency: contract.currency, rounding: currencyRule(contract.currency).rounding, lines,
    lineIds: [...lines.keys()], lineList: [...lines.values()], taskBillable, expenseTreatment,
  };
};
