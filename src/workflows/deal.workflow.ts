import { log, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { getDealStateQuery, type DealInput } from './deal.messages';

const STEP_TIMEOUTS = { startToCloseTimeout: '1 minute' } as const;
/** How long the skeleton deal waits in delivery before it closes. */
export const DELIVERY_PERIOD = '30 days';

const { acknowledgeDeal } = proxyActivities<Activities>(STEP_TIMEOUTS);

export interface DealState {
  stage: 'QUOTE_ACCEPTED' | 'IN_DELIVERY' | 'CLOSED';
  dealId?: string;
}

/** One workflow per opportunity, id `deal-<opportunityId>`. */
export async function dealWorkflow(input: DealInput): Promise<DealState> {
  const state: DealState = { stage: 'QUOTE_ACCEPTED' };
  setHandler(getDealStateQuery, () => state);
  const { dealId } = await acknowledgeDeal(input);
  state.dealId = dealId;
  state.stage = 'IN_DELIVERY';
  log.info('deal in delivery', { dealId });
  await sleep(DELIVERY_PERIOD);
  state.stage = 'CLOSED';
  return state;
}
