import type { AnnotateAttentionRequest, AnnotateExceptionRequest, AttentionItem, ClosedWonEvent, DealException, DealView, DeliveryView, OperatorAction, SignatureEvent } from '../../../src/contract';
import { dealWorkflowId } from '../../../src/contract';
import {
  ActionRejectedError,
  DealNotFoundError,
  DealNotInDeliveryError,
  type DealGateway,
  type DealListQuery,
  type DealState,
  type DealSummary,
  type ResolveResult,
} from '../../../src/service/deal-gateway';
import type { AmendContractRequest, AmendContractResult, CreditInvoiceRequest, CreditMemoSummary, DeliveryBatch, InvoiceDecision, InvoiceSummary, PaymentEvent, PromiseToPayRequest, PromiseToPayResult, RevenueWaterfall, TerminateContractRequest, TerminateContractResult, WriteOffRequest } from '../../../src/contract';

export type GatewayCall =
  | { method: 'startOrSignalClosedWon'; workflowId: string; event: ClosedWonEvent; correlationId: string }
  | { method: 'signalSignature'; workflowId: string; event: SignatureEvent }
  | { method: 'signalDelivery'; workflowId: string; batch: DeliveryBatch }
  | { method: 'signalPayment'; workflowId: string; event: PaymentEvent }
  | { method: 'resolveException'; workflowId: string; action: OperatorAction }
  | { method: 'amendContract'; workflowId: string; request: AmendContractRequest }
  | { method: 'creditInvoice'; workflowId: string; request: CreditInvoiceRequest }
  | { method: 'terminateContract'; workflowId: string; request: TerminateContractRequest }
  | { method: 'decideInvoice'; workflowId: string; decision: InvoiceDecision }
  | { method: 'writeOffInvoice'; workflowId: string; request: WriteOffRequest }
  | { method: 'promiseToPay'; workflowId: string; request: PromiseToPayRequest }
  | { method: 'annotateException'; workflowId: string; request: AnnotateExceptionRequest }
  | { method: 'annotateAttention'; workflowId: string; request: AnnotateAttentionRequest };

/**
 * In-memory DealGateway for the service's unit tests only: records every call,
 * knows which deals "run", and can be told to fail or to stall.
 */
export class FakeDealGateway implements DealGateway {
  readonly calls: GatewayCall[] = [];
  readonly running = new Map<string, { stage: string; correlationId: string }>();
  /** Errors to throw from the next dispatches, in order. */
  readonly failures: Error[] = [];
  /** Delay per dispatch, to let concurrent requests overlap. */
  delayMs = 0;
  /** What the visibility store "holds", in its order; listDeals filters it as the Temporal query would. */
  listed: DealSummary[] = [];
  /** Every listDeals query, in order. */
  readonly listQueries: DealListQuery[] = [];
  /** Errors to throw from the next listDeals calls, in order. */
  readonly listFailures: Error[] = [];
  /** Refusals (the workflow's error type and message) for the next operator updates, in order. */
  readonly refusals: Array<{ reason: string; message: string }> = [];

  private async step(): Promise<void> {
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const failure = this.failures.shift();
    if (failure) throw failure;
  }

  private requireDeal(opportunityId: string): string {
    const workflowId = dealWorkflowId(opportunityId);
    if (!this.running.has(workflowId)) throw new DealNotFoundError(workflowId);
    return workflowId;
  }

  async startOrSignalClosedWon(event: ClosedWonEvent, { correlationId }: { correlationId: string }) {
    await this.step();
    const workflowId = dealWorkflowId(event.opportunityId);
    if (!this.running.has(workflowId)) this.running.set(workflowId, { stage: 'QUOTE_ACCEPTED', correlationId });
    this.calls.push({ method: 'startOrSignalClosedWon', workflowId, event, correlationId });
    return { workflowId };
  }

  async signalSignature(opportunityId: string, event: SignatureEvent) {
    await this.step();
    const workflowId = this.requireDeal(opportunityId);
    this.calls.push({ method: 'signalSignature', workflowId, event });
    return { workflowId };
  }

  async signalDelivery(opportunityId: string, batch: DeliveryBatch) {
    await this.step();
    const workflowId = this.requireDeal(opportunityId);
    this.calls.push({ method: 'signalDelivery', workflowId, batch });
    return { workflowId };
  }

  async signalPayment(opportunityId: string, event: PaymentEvent) {
    await this.step();
    const workflowId = this.requireDeal(opportunityId);
    this.calls.push({ method: 'signalPayment', workflowId, event });
    return { workflowId };
  }

  async queryDeal(opportunityId: string) {
    const workflowId = this.requireDeal(opportunityId);
    return { workflowId, state: this.view(opportunityId) as DealState };
  }

  /** Full views the deals "answer" getDealState with, by workflow id (else a minimal one). */
  readonly views = new Map<string, DealView>();
  /** Delivery states by workflow id; a deal without one is not in delivery. */
  readonly deliveries = new Map<string, DeliveryView>();

  async queryDelivery(opportunityId: string) {
    const workflowId = this.requireDeal(opportunityId);
    const delivery = this.deliveries.get(workflowId);
    return delivery ? { workflowId, delivery } : { workflowId };
  }

  async annotateException(opportunityId: string, request: AnnotateExceptionRequest) {
    const workflowId = this.requireDeal(opportunityId);
    this.refusal(workflowId);
    const open = this.views.get(workflowId)?.exceptions.find((e) => e.id === request.exceptionId);
    if (!open) throw new ActionRejectedError(workflowId, `no open exception ${request.exceptionId}`, { reason: 'DEAL.EXCEPTION_UNKNOWN' });
    this.calls.push({ method: 'annotateException', workflowId, request });
    if (request.note) open.notes = [...(open.notes ?? []), { at: '2025-03-31T12:00:00.000Z', by: request.by, text: request.note }];
    if (request.assignee !== undefined) open.assignee = request.assignee;
    return { workflowId, result: open as DealException };
  }

  async annotateAttention(opportunityId: string, request: AnnotateAttentionRequest) {
    const workflowId = this.requireDeal(opportunityId);
    this.refusal(workflowId);
    const item = this.deliveries.get(workflowId)?.attention.find((a) => a.id === request.attentionId);
    if (!item) throw new ActionRejectedError(workflowId, `no open attention item ${request.attentionId}`, { reason: 'DEAL.ATTENTION_UNKNOWN' });
    this.calls.push({ method: 'annotateAttention', workflowId, request });
    if (request.note) item.notes = [...(item.notes ?? []), { at: '2025-03-31T12:00:00.000Z', by: request.by, text: request.note }];
    if (request.assignee !== undefined) item.assignee = request.assignee;
    return { workflowId, result: item as AttentionItem };
  }

  async resolveException(opportunityId: string, action: OperatorAction) {
    const workflowId = this.requireDeal(opportunityId);
    const deal = this.running.get(workflowId)!;
    if (deal.stage !== 'NEEDS_ATTENTION') throw new ActionRejectedError(workflowId, `nothing to resolve in stage ${deal.stage}`);
    this.calls.push({ method: 'resolveException', workflowId, action });
    deal.stage = action.action === 'cancel' ? 'CANCELLED' : 'ERP_CONTRACT_POSTED';
    return { workflowId, result: this.view(opportunityId) as ResolveResult };
  }

  private refusal(workflowId: string): void {
    const r = this.refusals.shift();
    if (r) throw new ActionRejectedError(workflowId, r.message, { reason: r.reason });
  }

  async amendContract(opportunityId: string, request: AmendContractRequest) {
    const workflowId = this.requireDeal(opportunityId);
    this.refusal(workflowId);
    this.calls.push({ method: 'amendContract', workflowId, request });
    const version = request.baseVersion + 1;
    const amendment = { id: `CTR-${opportunityId}-A${version}`, requestId: request.requestId, by: request.by, reason: request.reason, effectiveDate: request.effectiveDate, baseVersion: request.baseVersion, version, appliedOn: request.effectiveDate, changes: request.changes };
    const result: AmendContractResult = { amendment, contractVersion: version, heldOverCapMinor: 0, releasableMinor: 0 };
    return { workflowId, result };
  }

  async creditInvoice(opportunityId: string, request: CreditInvoiceRequest) {
    const workflowId = this.requireDeal(opportunityId);
    this.refusal(workflowId);
    this.calls.push({ method: 'creditInvoice', workflowId, request });
    const result: CreditMemoSummary = {
      id: 'CM-1', number: 'CM-1', externalId: '1', requestId: request.requestId, invoiceId: request.invoiceId, invoiceNumber: request.invoiceId, issueDate: '2025-03-31', reason: request.reason, note: request.note, by: request.by,
      subtotalMinor: 0, taxMinor: 0, totalMinor: 0, lines: [], request: request.lines,
    };
    return { workflowId, result };
  }

  async terminateContract(opportunityId: string, request: TerminateContractRequest) {
    const workflowId = this.requireDeal(opportunityId);
    this.refusal(workflowId);
    this.calls.push({ method: 'terminateContract', workflowId, request });
    const result: TerminateContractResult = { termination: { requestId: request.requestId, by: request.by, reason: request.reason, effectiveDate: request.effectiveDate, appliedOn: request.effectiveDate, version: 2, refunds: [] }, contractVersion: 2 };
    return { workflowId, result };
  }

  private invoice(invoiceId: string, status: InvoiceSummary['status']): InvoiceSummary {
    return { id: invoiceId, number: invoiceId, invoiceKey: invoiceId, issueDate: '2030-02-01', dueDate: '2030-03-03', period: { start: '2030-01-01', end: '2030-01-31' }, subtotalMinor: 0, taxMinor: 0, totalMinor: 0, paidMinor: 0, refundedMinor: 0, writtenOffMinor: 0, status, system: 'erp', lines: [] };
  }

  async decideInvoice(opportunityId: string, decision: InvoiceDecision) {
    const workflowId = this.requireDeal(opportunityId);
    this.refusal(workflowId);
    this.calls.push({ method: 'decideInvoice', workflowId, decision });
    return { workflowId, result: this.invoice(decision.invoiceId, decision.decision === 'approve' ? 'AWAITING_APPROVAL' : 'REJECTED') };
  }

  async writeOffInvoice(opportunityId: string, request: WriteOffRequest) {
    const workflowId = this.requireDeal(opportunityId);
    this.refusal(workflowId);
    this.calls.push({ method: 'writeOffInvoice', workflowId, request });
    return { workflowId, result: this.invoice(request.invoiceId, 'WRITTEN_OFF') };
  }

  async promiseToPay(opportunityId: string, request: PromiseToPayRequest) {
    const workflowId = this.requireDeal(opportunityId);
    this.refusal(workflowId);
    this.calls.push({ method: 'promiseToPay', workflowId, request });
    const result: PromiseToPayResult = {
      invoice: {
        id: request.invoiceId, number: request.invoiceId, invoiceKey: 'k', issueDate: '2030-02-01', dueDate: '2030-03-03', period: { start: '2030-01-01', end: '2030-01-31' },
        subtotalMinor: 1_500_000, taxMinor: 133_125, totalMinor: 1_633_125, paidMinor: 0, refundedMinor: 0, writtenOffMinor: 0, status: 'POSTED', system: 'erp', lines: [],
      },
      promise: { requestId: request.requestId, by: request.by, promisedOn: request.promisedOn, note: request.note, madeOn: '2030-03-15', pausedThrough: '2030-04-03' },
    };
    return { workflowId, result };
  }

  /** Waterfalls the deals "hold", by workflow id; a running deal without one has not reached delivery. */
  readonly waterfalls = new Map<string, RevenueWaterfall>();

  async revenueWaterfall(opportunityId: string) {
    const workflowId = this.requireDeal(opportunityId);
    const waterfall = this.waterfalls.get(workflowId);
    if (!waterfall) throw new DealNotInDeliveryError(workflowId);
    return { workflowId, waterfall };
  }

  async listDeals(query: DealListQuery): Promise<DealSummary[]> {
    this.listQueries.push(query);
    const failure = this.listFailures.shift();
    if (failure) throw failure;
    return this.listed
      .filter((d) => !query.openOnly || d.status === 'RUNNING')
      .filter((d) => query.stage === undefined || d.stage === query.stage)
      .filter((d) => query.needsAttention === undefined || d.needsAttention === query.needsAttention)
      .slice(0, query.limit ?? Infinity);
  }

  /** A minimal DealView: stage and empty ids/exceptions/timeline. */
  view(opportunityId: string): unknown {
    const workflowId = dealWorkflowId(opportunityId);
    const deal = this.running.get(workflowId)!;
    const full = this.views.get(workflowId);
    if (full) return { ...full, stage: deal.stage, exceptions: deal.stage === 'NEEDS_ATTENTION' ? full.exceptions : [] };
    return { opportunityId, stage: deal.stage, ids: {}, exceptions: [], timeline: [] };
  }
}
