import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  AmendContractRequest,
  AnnotateAttentionRequest,
  AttentionItem,
  AmendContractResult,
  CreditInvoiceRequest,
  CreditMemoSummary,
  DeliveryBatch,
  DeliveryView,
  InvoiceDecision,
  InvoiceSummary,
  IssueProgress,
  PaymentEvent,
  PromiseRecord,
  PromiseToPayRequest,
  RevenueWaterfall,
  TerminateContractRequest,
  TerminateContractResult,
  WriteOffRequest,
} from '../engagement/model';
import type { DealBillingBasis } from '../engagement/ruleset-impact';
import type { AnnotateExceptionRequest, ClosedWonEvent, DealException, DealView, OperatorAction, SignatureEvent } from './deal';

// The deal workflow's messages: signals from the webhook intake and the sweep,
// the state queries, and the operators' updates (each with a validator in the workflow).

export const closedWonSignal = defineSignal<[ClosedWonEvent]>('closedWon');
export const contractSignatureSignal = defineSignal<[SignatureEvent]>('contractSignature');
export const getDealStateQuery = defineQuery<DealView>('getDealState');
/** Resolves the open exception; the validator rejects actions the current step does not allow. */
export const resolveExceptionUpdate = defineUpdate<DealView, [OperatorAction]>('resolveException');
/** A note on an open exception and/or its assignee; returns the exception. Changes nothing the deal does. */
export const annotateExceptionUpdate = defineUpdate<DealException, [AnnotateExceptionRequest]>('annotateException');
/** The same for a delivery's attention item (answered once the deal is in delivery); returns the item. */
export const annotateAttentionUpdate = defineUpdate<AttentionItem, [AnnotateAttentionRequest]>('annotateAttention');

/** Many delivery items per signal: never one workflow task per time entry. */
export const deliveryBatchSignal = defineSignal<[DeliveryBatch]>('deliveryBatch');
export const paymentSignal = defineSignal<[PaymentEvent]>('payment');
export const getDeliveryStateQuery = defineQuery<DeliveryView>('getDeliveryState');
/** From the deal's child invoice run: an invoice held in an issuing step, or that step ended (ISSUE_STALLED raised or cleared). */
export const issueProgressSignal = defineSignal<[IssueProgress]>('issueProgress');
/** The contract's revenue waterfall by month, as of the deal's business date (answered once the deal is in delivery). */
export const getRevenueWaterfallQuery = defineQuery<RevenueWaterfall>('getRevenueWaterfall');
/** Approve or reject an invoice held at the approval checkpoint; the validator rejects unknown or decided invoices. */
export const decideInvoiceUpdate = defineUpdate<InvoiceSummary, [InvoiceDecision]>('decideInvoice');
/** Writes off an invoice's open balance (the deal can then close without it being paid). */
export const writeOffInvoiceUpdate = defineUpdate<InvoiceSummary, [WriteOffRequest]>('writeOffInvoice');
/** Amends the contract in delivery; the validator refuses a stale base version, unknown lines and invalid values. */
export const amendContractUpdate = defineUpdate<AmendContractResult, [AmendContractRequest]>('amendContract');
/** Credits source items (or whole lines) of a posted invoice with a credit memo in the ERP. */
export const creditInvoiceUpdate = defineUpdate<CreditMemoSummary, [CreditInvoiceRequest]>('creditInvoice');
/** Terminates the contract from an effective date (once per deal, idempotent per request id; the validator refuses a second one). */
export const terminateContractUpdate = defineUpdate<TerminateContractResult, [TerminateContractRequest]>('terminateContract');
/** A customer's promise to pay an invoice by a date: dunning of the invoice pauses until then (+ grace); idempotent per request id. */
export const promiseToPayUpdate = defineUpdate<PromiseToPayResult, [PromiseToPayRequest]>('promiseToPay');
export interface PromiseToPayResult {
  /** The invoice as the deal shows it, with its dunning stage. */
  invoice: InvoiceSummary;
  promise: PromiseRecord;
}
/**
 * Read-only, for the rule-set preview: the deal's current contract version, its snapshot and
 * billing setup (without the rule-set body), to price its delivered items again under another version.
 */
export const getBillingBasisQuery = defineQuery<DealBillingBasis>('getBillingBasis');
