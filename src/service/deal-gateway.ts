import type { QueryDefinition, UpdateDefinition } from '@temporalio/common';
import type { AnnotateAttentionRequest, AnnotateExceptionRequest, AttentionItem, ClosedWonEvent, DealException, DeliveryView, getDealStateQuery, OperatorAction, resolveExceptionUpdate, SignatureEvent } from '../contract';
import type { DealStage } from '../contract';
import type { AmendContractRequest, AmendContractResult, CreditInvoiceRequest, CreditMemoSummary, DeliveryBatch, InvoiceDecision, InvoiceSummary, PaymentEvent, PromiseToPayRequest, PromiseToPayResult, RevenueWaterfall, TerminateContractRequest, TerminateContractResult, WriteOffRequest } from '../contract';

/** The deal's state as the workflow's query answers it. */
export type DealState = typeof getDealStateQuery extends QueryDefinition<infer R> ? R : never;
/** What the resolve-exception update returns. */
export type ResolveResult = typeof resolveExceptionUpdate extends UpdateDefinition<infer R, infer _A> ? R : never;

/** Filters of a deal listing; every field narrows it (AND). */
export interface DealListQuery {
  stage?: DealStage;
  needsAttention?: boolean;
  /** Only deals whose workflow is still running. */
  openOnly?: boolean;
  /** At most this many deals (default: all). */
  limit?: number;
}

/** One deal as the workflow visibility store lists it (search attributes, not the workflow's state). */
export interface DealSummary {
  workflowId: string;
  runId: string;
  /** The `deal-` prefix removed. */
  opportunityId: string;
  /** Execution status as Temporal names it: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, CONTINUED_AS_NEW, TIMED_OUT. */
  status: string;
  /** The DealStage search attribute; absent until the workflow first sets it. */
  stage?: string;
  customerId?: string;
  legalEntity?: string;
  needsAttention: boolean;
  /** ISO-8601. */
  startedAt: string;
  closedAt?: string;
}

/** What the service needs from the deal workflows; Temporal in production, a fake in unit tests. */
export interface DealGateway {
  /**
   * Starts `deal-<opportunityId>` with the event, or signals the running deal.
   * Idempotent per opportunity: repeats never start a second workflow.
   */
  startOrSignalClosedWon(ev: ClosedWonEvent, ctx: { correlationId: string }): Promise<{ workflowId: string }>;
  /** Delivers a DocuSign outcome to the deal; throws DealNotFoundError when no deal runs for it. */
  signalSignature(opportunityId: string, ev: SignatureEvent): Promise<{ workflowId: string }>;
  /** Delivers a batch of approved delivery items; throws DealNotFoundError when no deal runs. */
  signalDelivery(opportunityId: string, batch: DeliveryBatch): Promise<{ workflowId: string }>;
  /** Delivers a payment or refund; throws DealNotFoundError when no deal runs. */
  signalPayment(opportunityId: string, ev: PaymentEvent): Promise<{ workflowId: string }>;
  /** The deal's state as its query returns it; throws DealNotFoundError. */
  queryDeal(opportunityId: string): Promise<{ workflowId: string; state: DealState }>;
  /**
   * The deal's delivery state (getDeliveryState; a closed deal's from its final view);
   * undefined before the deal is in delivery. Throws DealNotFoundError.
   */
  queryDelivery(opportunityId: string): Promise<{ workflowId: string; delivery?: DeliveryView }>;
  /** Adds a note to an open exception and/or (re)assigns it (the annotate-exception update); throws DealNotFoundError or ActionRejectedError. */
  annotateException(opportunityId: string, request: AnnotateExceptionRequest): Promise<{ workflowId: string; result: DealException }>;
  /** The same for a delivery attention item (the annotate-attention update); throws DealNotFoundError or ActionRejectedError. */
  annotateAttention(opportunityId: string, request: AnnotateAttentionRequest): Promise<{ workflowId: string; result: AttentionItem }>;
  /** Runs the resolve-exception update; throws DealNotFoundError or ActionRejectedError. */
  resolveException(opportunityId: string, action: OperatorAction): Promise<{ workflowId: string; result: ResolveResult }>;
  /** Runs the amend-contract update (idempotent per request id); throws DealNotFoundError or ActionRejectedError (with the refusal's code). */
  amendContract(opportunityId: string, request: AmendContractRequest): Promise<{ workflowId: string; result: AmendContractResult }>;
  /** Runs the credit-invoice update (idempotent per request id); throws DealNotFoundError or ActionRejectedError (with the refusal's code). */
  creditInvoice(opportunityId: string, request: CreditInvoiceRequest): Promise<{ workflowId: string; result: CreditMemoSummary }>;
  /** Runs the terminate-contract update (idempotent per request id); throws DealNotFoundError or ActionRejectedError (with the refusal's code). */
  terminateContract(opportunityId: string, request: TerminateContractRequest): Promise<{ workflowId: string; result: TerminateContractResult }>;
  /** Approves or rejects an invoice held at the approval checkpoint; throws DealNotFoundError or ActionRejectedError. */
  decideInvoice(opportunityId: string, decision: InvoiceDecision): Promise<{ workflowId: string; result: InvoiceSummary }>;
  /** Writes off an invoice's open balance; throws DealNotFoundError or ActionRejectedError. */
  writeOffInvoice(opportunityId: string, request: WriteOffRequest): Promise<{ workflowId: string; result: InvoiceSummary }>;
  /** Runs the promise-to-pay update (idempotent per request id); throws DealNotFoundError or ActionRejectedError (with the refusal's code). */
  promiseToPay(opportunityId: string, request: PromiseToPayRequest): Promise<{ workflowId: string; result: PromiseToPayResult }>;
  /** The contract's revenue waterfall by month; throws DealNotFoundError, or DealNotInDeliveryError before the deal bills. */
  revenueWaterfall(opportunityId: string): Promise<{ workflowId: string; waterfall: RevenueWaterfall }>;
  /** Deals from the visibility store (custom search attributes), in its order: open deals first, then by close time. */
  listDeals(query: DealListQuery): Promise<DealSummary[]>;
}

/** No workflow execution exists (or is open) for the deal. */
export class DealNotFoundError extends Error {
  readonly code = 'DEAL_NOT_FOUND';
  constructor(readonly workflowId: string, options?: { cause?: unknown }) {
    super(`no deal workflow '${workflowId}'`, options);
    this.name = 'DealNotFoundError';
  }
}

/** The deal exists but has not reached delivery, so it has nothing billed or recognised to show yet. */
export class DealNotInDeliveryError extends Error {
  readonly code = 'DEAL_NOT_IN_DELIVERY';
  constructor(readonly workflowId: string, options?: { cause?: unknown }) {
    super(`deal '${workflowId}' has not reached delivery: no revenue waterfall yet`, options);
    this.name = 'DealNotInDeliveryError';
  }
}

/** The workflow's update validator (or handler) refused the operator action. */
export class ActionRejectedError extends Error {
  readonly code = 'ACTION_REJECTED';
  /** The workflow's refusal type (e.g. 'DEAL.AMENDMENT_VERSION_CONFLICT'), when it gave one. */
  readonly reason: string | undefined;
  constructor(readonly workflowId: string, message: string, options?: { cause?: unknown; reason?: string }) {
    super(message, options);
    this.name = 'ActionRejectedError';
    this.reason = options?.reason;
  }
}
