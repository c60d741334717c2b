import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

/**
 * The deal workflow's public contract: its id scheme, start input and messages.
 * The webhook service and the CLI import these; nothing else about the
 * workflow's internals is shared.
 */
export const DEAL_WORKFLOW_TYPE = 'dealWorkflow';
export const dealWorkflowId = (opportunityId: string): string => `deal-${opportunityId}`;

export interface DealInput {
  opportunityId: string;
  /** Correlates logs, histories and vendor calls across the deal. */
  correlationId: string;
}

/** A closed-won notification from the CRM (the first one starts the workflow; repeats are no-ops). */
export interface ClosedWonEvent {
  eventId: string;
  opportunityId: string;
  accountId: string;
  occurredAt: string;
}

export interface SignatureEvent {
  eventId: string;
  envelopeId: string;
  status: 'completed' | 'declined' | 'voided';
  occurredAt: string;
  reason?: string;
}

export const closedWonSignal = defineSignal<[ClosedWonEvent]>('closedWon');
export const contractSignatureSignal = defineSignal<[SignatureEvent]>('contractSignature');
export const getDealStateQuery = defineQuery<unknown>('getDealState');

export type OperatorAction =
  | { action: 'retry'; note?: string }
  | { action: 'skip'; note?: string }
  | { action: 'link'; system: string; externalId: string; note?: string }
  | { action: 'cancel'; reason: string };

export const resolveExceptionUpdate = defineUpdate<{ stage: string }, [OperatorAction]>('resolveException');
