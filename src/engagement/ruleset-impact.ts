import type { Contract, Project } from '../canonical';
import type { Deliveries } from '../rules/billability';
import { preview } from '../rules/preview';
import type { RuleSet } from '../rules/ruleset';
import { dealOf, type DealIds } from './deal';
import type { DealImpact, ImpactFigures, RuleSetImpact, SkippedDeal } from './governance';
import { accept } from './intake';
import type { BillingSetup, DealSnapshot, DeliveryItem } from './model';
import { initialEngagementState } from './state';

/*
 * The preview of a proposed rule-set version: for one deal, the rules over its
 * current deliveries under the version its contract pins and under the proposed
 * one; for all, the totals. Pure (the proposal's preview activity gathers the
 * deals and their deliveries). Not exported by the engagement barrel: workflow
 * code never needs it, so the workflows' shared preload does not carry it.
 */

/** What a deal in delivery answers its billing-basis query with: enough to place and price its delivered items again. */
export interface DealBillingBasis {
  opportunityId: string;
  /** The deal's business date. */
  asOf: string;
  /** The contract version delivery bills against now (amendments included), with its pinned rule set. */
  contract: Contract;
  snapshot: DealSnapshot;
  setup: Omit<BillingSetup, 'ruleSet'>;
  ids: DealIds;
}

/**
 * The deal's delivered items (as the PSA reports them) placed on its current contract
 * version as the deal's intake places them: canonical time entries, expenses and milestone
 * completions. Items the PSA marks not billable are left out here: no rule set prices them.
 */
export function deliveriesOf(basis: DealBillingBasis, pinned: RuleSet, items: readonly DeliveryItem[]): { deliveries: Required<Deliveries>; project: Pick<Project, 'id' | 'phases'> } {
  const d = dealOf({ dealId: `deal-${basis.opportunityId}`, opportunityId: basis.opportunityId, snapshot: basis.snapshot, setup: { ...basis.setup, ruleSet: pinned }, ids: basis.ids });
  const s = initialEngagementState();
  s.contract = basis.contract;
  for (const item of items) accept(s, d, item);
  return {
    deliveries: { timeEntries: s.pending.time, expenses: s.pending.expenses, milestones: s.pending.milestones },
    project: { id: basis.setup.project.id, phases: d.projectPhases },
  };
}

/**
 * Billed, capped and recognised under one rule set: the whole of the deliveries rated
 * as one run from nothing billed (so caps and retainers count from zero on both sides),
 * recognised = the revenue schedule's lines dated on or before `asOf`.
 */
export function figuresUnder(contract: Contract, ruleSet: RuleSet, project: Pick<Project, 'id' | 'phases'>, deliveries: Deliveries, asOf: string): ImpactFigures {
  // The contract is priced as if it pinned `ruleSet`: compileContract refuses any other.
  const pinnedTo = { ...contract, ruleSet: { id: ruleSet.id, version: ruleSet.version } };
  const p = preview({ contract: pinnedTo, ruleSet, project, batch: deliveries, asOf });
  const recognisedMinor = p.revenue.lines.filter((l) => l.recognitionDate <= asOf).reduce((a, l) => a + l.amount.amountMinor, 0);
  return { billedMinor: p.totals.BILLABLE.amountMinor, cappedMinor: p.totals.CAPPED.amountMinor, recognisedMinor };
}

const minus = (a: ImpactFigures, b: ImpactFigures): ImpactFigures => ({
  billedMinor: a.billedMinor - b.billedMinor,
  cappedMinor: a.cappedMinor - b.cappedMinor,
  recognisedMinor: a.recognisedMinor - b.recognisedMinor,
});
const plus = (a: ImpactFigures, b: ImpactFigures): ImpactFigures => ({
  billedMinor: a.billedMinor + b.billedMinor,
  cappedMinor: a.cappedMinor + b.cappedMinor,
  recognisedMinor: a.recognisedMinor + b.recognisedMinor,
});
const ZERO: ImpactFigures = { billedMinor: 0, cappedMinor: 0, recognisedMinor: 0 };

export interface DealImpactInput {
  opportunityId: string;
  contract: Contract;
  project: Pick<Project, 'id' | 'phases'>;
  deliveries: Required<Deliveries>;
  asOf: string;
  /** The version the contract pins now. */
  current: RuleSet;
  proposed: RuleSet;
}

/** One deal's figures under its pinned version and under the proposed one, and the change. */
export function dealImpact(i: DealImpactInput): DealImpact {
  const current = figuresUnder(i.contract, i.current, i.project, i.deliveries, i.asOf);
  const proposed = figuresUnder(i.contract, i.proposed, i.project, i.deliveries, i.asOf);
  return {
    opportunityId: i.opportunityId,
    contractId: i.contract.id,
    contractVersion: i.contract.version,
    currency: i.contract.currency,
    pinned: { id: i.contract.ruleSet.id, version: i.contract.ruleSet.version },
    asOf: i.asOf,
    items: i.deliveries.timeEntries.length + i.deliveries.expenses.length + i.deliveries.milestones.length,
    current,
    proposed,
    delta: minus(proposed, current),
  };
}

/** The preview's result: deals by opportunity id, totals per currency (amounts in different currencies are never added). */
export function impactOf(deals: readonly DealImpact[], skipped: readonly SkippedDeal[], computedAt: string): RuleSetImpact {
  const sorted = [...deals].sort((a, b) => (a.opportunityId < b.opportunityId ? -1 : a.opportunityId > b.opportunityId ? 1 : 0));
  const totals: RuleSetImpact['totals'] = {};
  for (const d of sorted) {
    const t = (totals[d.currency] ??= { deals: 0, current: ZERO, proposed: ZERO, delta: ZERO });
    t.deals += 1;
    t.current = plus(t.current, d.current);
    t.proposed = plus(t.proposed, d.proposed);
    t.delta = plus(t.delta, d.delta);
  }
  return { computedAt, deals: sorted, skipped: [...skipped].sort((a, b) => (a.opportunityId < b.opportunityId ? -1 : 1)), totals };
}
