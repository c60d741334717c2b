import type { DeliveryCarry } from '../engagement/state';
import type { DealSnapshot, DeliveryOptions, DeliveryView } from '../engagement/model';
import type { DealStage } from './stages';

/**
 * The deal workflow's public contract: its id scheme, start input, events and
 * view. The webhook service, the CLI and the tests import these; nothing about
 * the workflow's internals is shared.
 */
export const DEAL_WORKFLOW_TYPE = 'dealWorkflow';
export const dealWorkflowId = (opportunityId: string): string => `deal-${opportunityId}`;

export interface DealInput {
  opportunityId: string;
  /** Correlates logs, histories and vendor calls across the deal. */
  correlationId: string;
  /** How long the signer has, in days; default 14. */
  signatureTimeoutDays?: number;
  /** When to remind the signer, in days after sending; default 7. */
  signatureReminderDays?: number;
  /** Delivery-to-cash settings (approval threshold, overdue grace, child-run and history limits). */
  delivery?: DeliveryOptions;
  /** Set only by continue-as-new during delivery: skips part 1 and resumes the delivery loop. */
  resume?: DealResume;
}

/** What a deal carries across continue-as-new: the snapshot, its view and the delivery state. */
export interface DealResume {
  snapshot: DealSnapshot;
  view: DealView;
  delivery: DeliveryCarry;
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

/** One open exception: what failed, where, and what the operator may do about it. */
export interface DealException {
  id: number;
  step: string;
  /** Namespaced error code, e.g. 'ERP.CUSTOMER_INVALID'. */
  code: string;
  message: string;
  raisedAt: string;
  allowed: OperatorAction['action'][];
}

export interface TimelineEntry {
  at: string;
  stage: DealStage;
  note?: string;
}

/** What the deal looks like now: the state query's answer. */
export interface DealView {
  opportunityId: string;
  stage: DealStage;
  /** The stage NEEDS_ATTENTION will resume. */
  resumeStage?: DealStage;
  customerId?: string;
  legalEntityId?: string;
  intercompany?: boolean;
  ids: {
    erpCustomerId?: string;
    envelopeId?: string;
    projectId?: string;
    erpContractId?: string;
    erpContractNumber?: string;
    subscriptionIds?: string[];
  };
  exceptions: DealException[];
  timeline: TimelineEntry[];
  /** Set when the deal closes: the delivery state with the closing summary. */
  delivery?: DeliveryView;
}


export type OperatorAction =
  | { action: 'retry'; note?: string }
  | { action: 'skip'; note?: string }
  | { action: 'link'; externalId: string; note?: string }
  | { action: 'cancel'; reason: string };
