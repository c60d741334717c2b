import { createBillingActivities, type BillingActivityDeps } from './billing.activities';
import { createCreditActivities } from './credit.activities';
import { createDealActivities, type DealActivityDeps } from './deal.activities';
import { createGovernanceActivities } from './governance.activities';
import { withLiveness } from './liveness';
import { createSweepActivities, type SweepActivityDeps } from './sweep.activities';

/** What the worker builds once and every activity closes over. */
export type ActivityDeps = DealActivityDeps & Pick<BillingActivityDeps, 'ruleSets' | 'resources'> & Pick<SweepActivityDeps, 'temporalClient' | 'sweep'>;

/**
 * All activities, as closures over injected dependencies; the workflow imports
 * only the type of this function's result.
 */
export const createActivities = (deps: ActivityDeps) => ({
  // Liveness heartbeats (see withLiveness): a crashed worker's step is retried within seconds.
  ...withLiveness(createDealActivities(deps)),
  ...withLiveness(createBillingActivities(deps)),
  ...withLiveness(createCreditActivities(deps)),
  // These heartbeat their own progress and resume from it.
  ...createSweepActivities(deps),
  ...createGovernanceActivities(deps),
});

export type Activities = ReturnType<typeof createActivities>;
