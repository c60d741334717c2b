import { ApplicationFailure } from '@temporalio/workflow';
import { TRANSITIONS, type DealStage } from '../contract/stages';

/** An illegal transition is a bug in the workflow: it fails loudly, never silently. */
export function assertTransition(from: DealStage, to: DealStage): void {
  if (!TRANSITIONS[from].includes(to)) {
    throw ApplicationFailure.nonRetryable(`illegal deal transition ${from} -> ${to}`, 'DEAL.ILLEGAL_TRANSITION');
  }
}
