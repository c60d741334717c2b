import type { TimeEntry } from '../canonical';
import { currencyRule, mulDiv } from '../canonical/money-math';
import { monthIndex, monthStart, monthEnd } from './dates';
import { compileRateCard, rateMinutes } from './rates';
import type { RuleSet } from './ruleset';

export interface IntercompanyCharge {
  sourceItemId: string;
  /** Delivering (selling) entity: employs the resource. */
  fromLegalEntityId: string;
  /** Contracting (buying) entity: invoices the customer. */
  toLegalEntityId: string;
  currency: string;
  costMinor: number;
  markupMinor: number;
  amountMinor: number;
  workDate: string;
}

export interface IntercompanyInvoice {
  key: string;
  fromLegalEntityId: string;
  toLegalEntityId: string;
  currency: string;
  period: { start: string; end: string };
  amountMinor: number;
  sourceItemIds: string[];
}

export interface IntercompanyResult {
  charges: IntercompanyCharge[];
  invoices: IntercompanyInvoice[];
  /** Entries with no cost rate: reported, not guessed. */
  missingCost: string[];
}

/**
 * Cost-plus intercompany charges for approved time delivered by another legal
 * entity than the contracting one: cost = minutes x hourly cost / 60, charge =
 * cost + cost x markupBp / 10000 (each rounded half-even), monthly per entity pair.
 * The hourly cost is the delivering entity's own card (in its currency) where
 * the rule set has one, else the shared card; the markup is the pair's
 * (delivering, contracting) where listed, else the single markup.
 * The customer-facing classification does not matter: the delivering entity
 * did the work either way.
 */
export const intercompanyCharges = (ruleSet: RuleSet, contractingLegalEntityId: string, entries: readonly TimeEntry[]): IntercompanyResult => {
  const ic = ruleSet.intercompany;
  const cards = new Map<string, ReturnType<typeof compileRateCard>>();
  const costFor = (entityId: string): ReturnType<typeof compileRateCard> => {
    const own = ic.costCardsByEntity !== undefined && Object.prototype.hasOwnProperty.call(ic.costCardsByEntity, entityId) ? ic.costCardsByEntity[entityId]! : undefined;
    const key = own ? entityId : '';
    let c = cards.get(key);
    if (c === undefined) cards.set(key, (c = compileRateCard(own ?? ic.costCard)));
    return c;
  };
  const markupFor = (entityId: string): number =>
    ic.markups?.find((m) => m.deliveringLegalEntityId === entityId && m.sellingLegalEntityId === contractingLegalEntityId)?.markupBp ?? ic.markupBp;
  const seen = new Set<string>();
  const charges: IntercompanyCharge[] = [];
  const missingCost: string[] = [];
  const groups = new Map<string, IntercompanyInvoice>();
  const sorted = [...entries].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const e of sorted) {
    if (!e.approved || e.resourceLegalEntityId === contractingLegalEntityId || seen.has(e.id)) continue;
    seen.add(e.id);
    const cost = costFor(e.resourceLegalEntityId);
    const rounding = currencyRule(cost.currency).rounding;
    const markupBp = markupFor(e.resourceLegalEntityId);
    const row = cost.lookup(e.role, e.region, e.workDate);
    if (!row) {
      missingCost.push(e.id);
      continue;
    }
    const costMinor = rateMinutes(e.minutes, row.hourlyRate, 10_000, 0, rounding);
    const markupMinor = mulDiv([costMinor, markupBp], 10_000, rounding);
    const ch: IntercompanyCharge = {
      sourceItemId: e.id,
      fromLegalEntityId: e.resourceLegalEntityId,
      toLegalEntityId: contractingLegalEntityId,
      currency: cost.currency,
      costMinor,
      markupMinor,
      amountMinor: costMinor + markupMinor,
      workDate: e.workDate,
    };
    charges.push(ch);
    const mi = monthIndex(e.workDate);
    const key = `IC|${ch.fromLegalEntityId}|${ch.toLegalEntityId}|${ch.currency}|${monthStart(mi).slice(0, 7)}`;
    let g = groups.get(key);
    if (!g) {
      g = { key, fromLegalEntityId: ch.fromLegalEntityId, toLegalEntityId: ch.toLegalEntityId, currency: ch.currency, period: { start: monthStart(mi), end: monthEnd(mi) }, amountMinor: 0, sourceItemIds: [] };
      groups.set(key, g);
    }
    g.amountMinor += ch.amountMinor;
    g.sourceItemIds.push(e.id);
  }
  const invoices = [...groups.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { charges, invoices, missingCost };
};
