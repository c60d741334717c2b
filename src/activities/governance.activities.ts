import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type WorkflowClient } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { dealWorkflowId, getBillingBasisQuery, type DealBillingBasis, type DeliveryItem } from '../contract';
import type { DealImpact, RuleSetImpact, SkippedDeal } from '../contract';
import { IdentityRepository } from '../db/identity';
import { RuleSetRepository, RuleSetStoreError, type RuleSetGovernance } from '../db/rulesets';
import { dealImpact, deliveriesOf, impactOf } from '../engagement/ruleset-impact';
import type { RuleSet } from '../rules/ruleset';
import { activityBoundary } from './boundary';
import type { BillingActivityDeps } from './billing.activities';
import { deliveredItemsInPsa } from './psa-deliveries';

export interface GovernanceActivityDeps extends Pick<BillingActivityDeps, 'db' | 'logger' | 'catalog' | 'ruleSets'> {
  connectors: Pick<BillingActivityDeps['connectors'], 'psa'>;
  /** Queries the deal workflows (required by `previewRuleSetImpact`). */
  temporalClient?: WorkflowClient;
  now?: () => number;
}

/** A repository refusal is final: the proposal workflow records it, retrying cannot change it. */
const storeFailure = (err: unknown): unknown =>
  err instanceof RuleSetStoreError ? ApplicationFailure.create({ type: err.code, message: err.message, nonRetryable: true }) : err;

/**
 * The rule-set proposal's steps: store the proposed version as a draft, preview its
 * effect on the open deals, record the decision (approved at the effective date,
 * rejected, expired) on the stored version. Every write is idempotent.
 */
export const createGovernanceActivities = (deps: GovernanceActivityDeps) => {
  const repo = new RuleSetRepository(deps.db);
  const identities = new IdentityRepository(deps.db);
  const now = deps.now ?? Date.now;

  /** One deal's delivered items from the PSA (everything approved so far), as the webhook relay and the sweep deliver them. */
  const deliveredItems = (basis: DealBillingBasis, projectId: string, until: string): Promise<DeliveryItem[]> =>
    deliveredItemsInPsa(deps.connectors.psa, deps.catalog, basis.snapshot, basis.contract, projectId, until);

  async function impactFor(client: WorkflowClient, target: { opportunityId: string; projectId: string }, proposed: RuleSet, until: string): Promise<DealImpact | SkippedDeal | undefined> {
    const handle = client.getHandle(dealWorkflowId(target.opportunityId));
    try {
      if ((await handle.describe()).status.name !== 'RUNNING') return undefined;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
    let basis: DealBillingBasis;
    try {
      basis = await handle.query(getBillingBasisQuery);
    } catch (err) {
      // Deals whose delivery has not started have no handler for it yet (and nothing delivered to price).
      return { opportunityId: target.opportunityId, reason: `not in delivery: ${(err as Error).message}` };
    }
    const pin = basis.contract.ruleSet;
    if (pin.id !== proposed.id) return { opportunityId: target.opportunityId, reason: `pins rule set ${pin.id}@${pin.version}, not ${proposed.id}` };
    const current = await deps.ruleSets(pin);
    const items = await deliveredItems(basis, target.projectId, until);
    const { deliveries, project } = deliveriesOf(basis, current, items);
    return dealImpact({ opportunityId: target.opportunityId, contract: basis.contract, project, deliveries, asOf: basis.asOf, current, proposed });
  }

  return {
    /** Stores the proposed version as a draft; the same draft again is a no-op, any other stored body or status of that version is RULESET.VERSION_CONFLICT. */
    storeProposedRuleSet: (input: { ruleSet: RuleSet; governance: RuleSetGovernance }): Promise<{ created: boolean }> =>
      activityBoundary(async () => {
        try {
          const r = await repo.saveRuleSet(input.ruleSet, { status: 'draft', governance: input.governance });
          if (!r.created && r.status !== 'draft') {
            throw new RuleSetStoreError('RULESET.VERSION_CONFLICT', `rule set ${r.ruleSet.id}@${r.ruleSet.version} is already stored as ${r.status}; propose version ${r.ruleSet.version + 1} or later`);
          }
          deps.logger.info({ ruleSet: `${input.ruleSet.id}@${input.ruleSet.version}`, created: r.created }, 'rule-set proposal stored as draft');
          return { created: r.created };
        } catch (err) {
          throw storeFailure(err);
        }
      }),

    /** Records the proposal's outcome on the stored draft: approved (in force), rejected or expired. */
    recordRuleSetDecision: (input: { ref: { id: string; version: number }; status: 'approved' | 'rejected' | 'expired'; governance: RuleSetGovernance }): Promise<{ changed: boolean }> =>
      activityBoundary(async () => {
        try {
          const r = await repo.transition(input.ref, { from: ['draft'], to: input.status, governance: input.governance });
          deps.logger.info({ ruleSet: `${input.ref.id}@${input.ref.version}`, status: input.status, changed: r.changed }, 'rule-set proposal decided');
          return { changed: r.changed };
        } catch (err) {
          throw storeFailure(err);
        }
      }),

    /**
     * Every open deal (a running deal workflow with a PSA project) priced over its delivered
     * items under its pinned version and under the proposed one. Deals pinned to another rule
     * set, or not in delivery yet, are listed as skipped with the reason.
     */
    previewRuleSetImpact: (input: { ref: { id: string; version: number } }): Promise<RuleSetImpact> =>
      activityBoundary(async () => {
        const client = deps.temporalClient;
        if (!client) throw ApplicationFailure.create({ type: 'RULESET.NO_TEMPORAL_CLIENT', message: 'the preview needs a Temporal client in the activities deps', nonRetryable: true });
        let proposed: RuleSet;
        try {
          proposed = await repo.getRuleSet(input.ref);
        } catch (err) {
          throw storeFailure(err);
        }
        const until = new Date(now()).toISOString();
        const targets = (await identities.links('deal', 'kantata')).map((l) => ({ opportunityId: l.canonicalId, projectId: l.externalId }));
        const deals: DealImpact[] = [];
        const skipped: SkippedDeal[] = [];
        const seen = new Set<string>();
        for (const t of targets) {
          if (seen.has(t.opportunityId)) continue;
          seen.add(t.opportunityId);
          const r = await impactFor(client, t, proposed, until);
          if (r && 'reason' in r) skipped.push(r);
          else if (r) deals.push(r);
          Context.current().heartbeat(seen.size);
        }
        return impactOf(deals, skipped, until);
      }),
  };
};

export type GovernanceActivities = ReturnType<typeof createGovernanceActivities>;
