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
  /**
   * The task queue the deal schedules its ERP activities on: the ERP_TASK_QUEUE setting of
   * whoever starts the deal (the service, the CLI); carried across continue-as-new, so a deal
   * keeps the queue it was started with. Absent (deals started before the setting): ERP_TASK_QUEUE.
   */
  erpTaskQueue?: string;
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

/** The system a parked step talks to (its error's home), for grouping exceptions as an operator reads them. */
export type ExceptionSystem = 'crm' | 'esign' | 'psa' | 'erp' | 'tax' | 'billing' | 'payments' | 'revenue';

/** An operator's note on an exception (the annotate-exception update, or the note of an action). */
export interface ExceptionNote {
  at: string;
  by: string;
  text: string;
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
  /** Set on exceptions raised by this version on: the step's system. */
  system?: ExceptionSystem;
  /** How many times the step has failed for good and parked the deal (an operator's retry that fails again counts one more). */
  attempts?: number;
  /** The first time this step parked the deal with this code, and the latest. */
  firstSeenAt?: string;
  lastSeenAt?: string;
  notes?: ExceptionNote[];
  /** Who is working on it. */
  assignee?: string;
  /** The input fields an `override` may correct on this step (see OVERRIDE_FIELDS). */
  overridable?: readonly string[];
}

/** Adds a note to an open exception and/or assigns it (an empty assignee unassigns). */
export interface AnnotateExceptionRequest {
  exceptionId: number;
  by: string;
  note?: string;
  assignee?: string;
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


/**
 * An operator's decision on the open exception. `by` is the key's holder (set by the
 * service, never taken from a request body). `override` corrects one field of the step's
 * input (OVERRIDE_FIELDS) and retries the step with it.
 */
export type OperatorAction = (
  | { action: 'retry'; note?: string }
  | { action: 'skip'; note?: string }
  | { action: 'link'; externalId: string; note?: string }
  | { action: 'override'; field: string; value: string; note?: string }
  | { action: 'cancel'; reason: string }
) & { by?: string };
