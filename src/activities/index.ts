import { createBillingActivities, type BillingActivityDeps } from './billing.activities';
import { createDealActivities, type DealActivityDeps } from './deal.activities';

/** What the worker builds once and every activity closes over. */
export type ActivityDeps = DealActivityDeps & Pick<BillingActivityDeps, 'ruleSets' | 'resources'>;

/**
 * All activities, as closures over injected dependencies; the workflow imports
 * only the type of this function's result.
 */
export const createActivities = (deps: ActivityDeps) => ({
  ...createDealActivities(deps),
  ...createBillingActivities(deps),
});

export type Activities = ReturnType<typeof createActivities>;
