import { createBillingActivities, type BillingActivityDeps } from './billing.activities';
import { createCreditActivities } from './credit.activities';
import { createDealActivities, type DealActivityDeps } from './deal.activities';
import { createGovernanceActivities } from './governance.activities';
import { createSweepActivities, type SweepActivityDeps } from './sweep.activities';

/** What the worker builds once and every activity closes over. */
export type ActivityDeps = DealActivityDeps & Pick<BillingActivityDeps, 'ruleSets' | 'resources'> & Pick<SweepActivityDeps, 'temporalClient' | 'sweep'>;

/**
 * All activities, as closures over injected dependencies; the workflow imports
 * only the type of this function's result.
 */
export const createActivities = (deps: ActivityDeps) => ({
  ...createDealActivities(deps),
  ...createBillingActivities(deps),
  ...createCreditActivities(deps),
  ...createSweepActivities(deps),
  ...createGovernanceActivities(deps),
});

export type Activities = ReturnType<typeof createActivities>;
