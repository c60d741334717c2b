import { ApplicationFailure } from '@temporalio/common';
import {
  QueryNotRegisteredError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowClient,
  type WorkflowExecutionInfo,
} from '@temporalio/client';
import { closedWonSignal, contractSignatureSignal, DEAL_WORKFLOW_TYPE, dealWorkflowId, getDealStateQuery, resolveExceptionUpdate, type DealInput } from '../contract';
import { CustomerIdKey, DealStageKey, LegalEntityKey, NeedsAttentionKey } from '../contract';
import { ActionRejectedError, DealNotFoundError, DealNotInDeliveryError, type DealGateway, type DealListQuery, type DealSummary } from './deal-gateway';
import { amendContractUpdate, annotateAttentionUpdate, annotateExceptionUpdate, creditInvoiceUpdate, getDeliveryStateQuery, decideInvoiceUpdate, deliveryBatchSignal, getRevenueWaterfallQuery, paymentSignal, promiseToPayUpdate, terminateContractUpdate, writeOffInvoiceUpdate } from '../contract';

/**
 * The visibility query for a deal listing. Values are quoted with ' doubled, though
 * the service only passes a stage from the closed DealStage list. A deal that never
 * set NeedsAttention has no value for it, so "false" also matches a missing one.
 */
export function dealVisibilityQuery(q: DealListQuery): string {
  const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
  const clauses = [`WorkflowType = ${quote(DEAL_WORKFLOW_TYPE)}`];
  if (q.openOnly) clauses.push(`ExecutionStatus = 'Running'`);
  if (q.stage !== undefined) clauses.push(`DealStage = ${quote(q.stage)}`);
  if (q.needsAttention === true) clauses.push('NeedsAttention = true');
  if (q.needsAttention === false) clauses.push('(NeedsAttention = false OR NeedsAttention IS NULL)');
  return clauses.join(' AND ');
}

const DEAL_ID_PREFIX = dealWorkflowId('');

function toSummary(info: WorkflowExecutionInfo): DealSummary {
  const sa = info.typedSearchAttributes;
  const stage = sa.get(DealStageKey);
  const customerId = sa.get(CustomerIdKey);
  const legalEntity = sa.get(LegalEntityKey);
  return {
    workflowId: info.workflowId,
    runId: info.runId,
    opportunityId: info.workflowId.startsWith(DEAL_ID_PREFIX) ? info.workflowId.slice(DEAL_ID_PREFIX.length) : info.workflowId,
    status: info.status.name,
    ...(stage !== undefined ? { stage } : {}),
    ...(customerId !== undefined ? { customerId } : {}),
    ...(legalEntity !== undefined ? { legalEntity } : {}),
    needsAttention: sa.get(NeedsAttentionKey) === true,
    startedAt: info.startTime.toISOString(),
    ...(info.closeTime ? { closedAt: info.closeTime.toISOString() } : {}),
  };
}

export interface TemporalDealGatewayOptions {
  client: WorkflowClient;
  taskQueue: string;
  /** The ERP_TASK_QUEUE setting: new deals schedule their ERP activities there (absent: the default queue). */
  erpTaskQueue?: string;
}

/**
 * DealGateway over a Temporal cluster. Closed-won uses signalWithStart on the
 * deterministic id `deal-<opportunityId>`: a running deal is signalled
 * (conflict policy USE_EXISTING), and a closed one is never started again
 * (reuse policy REJECT_DUPLICATE), so duplicate webhooks cannot create a
 * second deal. Everything else signals, queries or updates an existing deal.
 */
export function createTemporalDealGateway({ client, taskQueue, erpTaskQueue }: TemporalDealGatewayOptions): DealGateway {
  const onExisting = async <T>(workflowId: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new DealNotFoundError(workflowId, { cause: err });
      throw err;
    }
  };

  /** An operator update whose refusal keeps the workflow's error type; the update id makes a retried request the same update. */
  const operatorUpdate = async <R>(workflowId: string, run: () => Promise<R>): Promise<R> => {
    try {
      return await onExisting(workflowId, run);
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        const reason = err.cause instanceof ApplicationFailure ? (err.cause.type ?? undefined) : undefined;
        throw new ActionRejectedError(workflowId, err.cause?.message ?? err.message, { cause: err, ...(reason ? { reason } : {}) });
      }
      throw err;
    }
  };

  return {
    async amendContract(opportunityId, request) {
      const workflowId = dealWorkflowId(opportunityId);
      const result = await operatorUpdate(workflowId, () => client.getHandle(workflowId).executeUpdate(amendContractUpdate, { args: [request], updateId: `amend:${request.requestId}` }));
      return { workflowId, result };
    },

    async creditInvoice(opportunityId, request) {
      const workflowId = dealWorkflowId(opportunityId);
      const result = await operatorUpdate(workflowId, () => client.getHandle(workflowId).executeUpdate(creditInvoiceUpdate, { args: [request], updateId: `credit:${request.requestId}` }));
      return { workflowId, result };
    },

    async terminateContract(opportunityId, request) {
      const workflowId = dealWorkflowId(opportunityId);
      const result = await operatorUpdate(workflowId, () => client.getHandle(workflowId).executeUpdate(terminateContractUpdate, { args: [request], updateId: `terminate:${request.requestId}` }));
      return { workflowId, result };
    },

    async decideInvoice(opportunityId, decision) {
      const workflowId = dealWorkflowId(opportunityId);
      // One decision per invoice: a retried request is the same update.
      const result = await operatorUpdate(workflowId, () => client.getHandle(workflowId).executeUpdate(decideInvoiceUpdate, { args: [decision], updateId: `decide:${decision.invoiceId}` }));
      return { workflowId, result };
    },

    async writeOffInvoice(opportunityId, request) {
      const workflowId = dealWorkflowId(opportunityId);
      const result = await operatorUpdate(workflowId, () => client.getHandle(workflowId).executeUpdate(writeOffInvoiceUpdate, { args: [request], updateId: `write-off:${request.invoiceId}` }));
      return { workflowId, result };
    },

    async promiseToPay(opportunityId, request) {
      const workflowId = dealWorkflowId(opportunityId);
      const result = await operatorUpdate(workflowId, () => client.getHandle(workflowId).executeUpdate(promiseToPayUpdate, { args: [request], updateId: `promise:${request.requestId}` }));
      return { workflowId, result };
    },

    async startOrSignalClosedWon(ev, { correlationId }) {
      const workflowId = dealWorkflowId(ev.opportunityId);
      const input: DealInput = { opportunityId: ev.opportunityId, correlationId, ...(erpTaskQueue ? { erpTaskQueue } : {}) };
      // "Already started" means a closed run only when the run is not open: a delivery racing
      // another to create the run is signalled again rather than taken for a finished deal.
      for (let attempt = 1; ; attempt++) {
        try {
          await client.signalWithStart(DEAL_WORKFLOW_TYPE, {
            workflowId,
            taskQueue,
            args: [input],
            signal: closedWonSignal,
            signalArgs: [ev],
            workflowIdConflictPolicy: 'USE_EXISTING',
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
          });
          return { workflowId };
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError) || attempt >= 3) throw err;
          const { status } = await client.getHandle(workflowId).describe();
          // The deal already ran to its end: the closed-won it was started by is this same fact.
          if (status.name !== 'RUNNING') return { workflowId };
        }
      }
    },

    async signalSignature(opportunityId, ev) {
      const workflowId = dealWorkflowId(opportunityId);
      await onExisting(workflowId, () => client.getHandle(workflowId).signal(contractSignatureSignal, ev));
      return { workflowId };
    },

    async signalDelivery(opportunityId, batch) {
      const workflowId = dealWorkflowId(opportunityId);
      await onExisting(workflowId, () => client.getHandle(workflowId).signal(deliveryBatchSignal, batch));
      return { workflowId };
    },

    async signalPayment(opportunityId, ev) {
      const workflowId = dealWorkflowId(opportunityId);
      await onExisting(workflowId, () => client.getHandle(workflowId).signal(paymentSignal, ev));
      return { workflowId };
    },

    async revenueWaterfall(opportunityId) {
      const workflowId = dealWorkflowId(opportunityId);
      try {
        return { workflowId, waterfall: await onExisting(workflowId, () => client.getHandle(workflowId).query(getRevenueWaterfallQuery)) };
      } catch (err) {
        // The query is registered when the deal enters delivery.
        if (err instanceof QueryNotRegisteredError) throw new DealNotInDeliveryError(workflowId, { cause: err });
        throw err;
      }
    },

    async queryDeal(opportunityId) {
      const workflowId = dealWorkflowId(opportunityId);
      const state = await onExisting(workflowId, () => client.getHandle(workflowId).query(getDealStateQuery));
      return { workflowId, state };
    },

    async queryDelivery(opportunityId) {
      const workflowId = dealWorkflowId(opportunityId);
      const handle = client.getHandle(workflowId);
      const state = await onExisting(workflowId, () => handle.query(getDealStateQuery));
      if (state.delivery) return { workflowId, delivery: state.delivery };
      try {
        return { workflowId, delivery: await handle.query(getDeliveryStateQuery) };
      } catch (err) {
        // Registered when the deal enters delivery.
        if (err instanceof QueryNotRegisteredError) return { workflowId };
        throw err;
      }
    },

    async annotateException(opportunityId, request) {
      const workflowId = dealWorkflowId(opportunityId);
      const result = await operatorUpdate(workflowId, () => client.getHandle(workflowId).executeUpdate(annotateExceptionUpdate, { args: [request] }));
      return { workflowId, result };
    },

    async annotateAttention(opportunityId, request) {
      const workflowId = dealWorkflowId(opportunityId);
      const result = await operatorUpdate(workflowId, () => client.getHandle(workflowId).executeUpdate(annotateAttentionUpdate, { args: [request] }));
      return { workflowId, result };
    },

    async resolveException(opportunityId, action) {
      const workflowId = dealWorkflowId(opportunityId);
      try {
        const result = await onExisting(workflowId, () =>
          client.getHandle(workflowId).executeUpdate(resolveExceptionUpdate, { args: [action] }),
        );
        return { workflowId, result };
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError) {
          const reason = err.cause instanceof ApplicationFailure ? (err.cause.type ?? undefined) : undefined;
          throw new ActionRejectedError(workflowId, err.cause?.message ?? err.message, { cause: err, ...(reason ? { reason } : {}) });
        }
        throw err;
      }
    },

    async listDeals(q) {
      const deals: DealSummary[] = [];
      const limit = q.limit ?? Infinity;
      if (limit <= 0) return deals;
      for await (const info of client.list({ query: dealVisibilityQuery(q), pageSize: Math.min(limit, 1000) })) {
        deals.push(toSummary(info));
        if (deals.length >= limit) break;
      }
      return deals;
    },
  };
}
