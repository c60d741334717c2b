/*
 * The delivery and payment messages now live with the deal workflow's contract
 * (src/workflows/delivery.messages.ts, re-exported by deal.messages.ts); this
 * module keeps the service's imports working.
 */
export {
  amendContractUpdate,
  creditInvoiceUpdate,
  deliveryBatchSignal,
  paymentSignal,
  type AmendContractRequest,
  type AmendContractResult,
  type CreditInvoiceRequest,
  type CreditMemoSummary,
  type DeliveredExpense,
  type DeliveredMilestone,
  type DeliveredTimeEntry,
  type DeliveryBatch,
  type DeliveryItem,
  type PaymentEvent,
} from '../workflows/delivery.messages';
