import type { Logger } from 'pino';
import type { Db } from '../db';

/** What the worker builds once and every activity closes over. */
export interface ActivityDeps {
  db: Db;
  logger: Logger;
}

/**
 * All activities, as closures over injected dependencies; the workflow imports
 * only the type of this function's result.
 */
export const createActivities = (deps: ActivityDeps) => ({
  /** Records the deal's acceptance and returns the canonical id it will carry. */
  async acknowledgeDeal(input: { opportunityId: string; correlationId: string }): Promise<{ dealId: string }> {
    deps.logger.info({ opportunityId: input.opportunityId, correlationId: input.correlationId }, 'deal acknowledged');
    return { dealId: `deal-${input.opportunityId}` };
  },
});

export type Activities = ReturnType<typeof createActivities>;
