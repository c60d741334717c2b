import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AmendContractRequest, CreditInvoiceRequest, OperatorAction, PromiseToPayRequest, TerminateContractRequest } from '../contract';
import type { InboxRepository } from '../db/inbox';
import { requireScope as guard, type AccessPolicy } from './auth';
import { ActionRejectedError, DealNotFoundError, DealNotInDeliveryError, type DealGateway } from './deal-gateway';
import { HttpProblem, parseInput as parse } from './errors';

const Note = z.string().max(2000).optional();

/** Body of POST /deals/:id/resolve; mirrors OperatorAction in deal.messages.ts. */
export const OperatorActionBody = z.discriminatedUnion('action', [
  z.object({ action: z.literal('retry'), note: Note }),
  z.object({ action: z.literal('skip'), note: Note }),
  z.object({ action: z.literal('link'), externalId: z.string().min(1).max(200), note: Note }),
  // The field is checked against the parked step's own list by the workflow's validator (OVERRIDE_FIELDS).
  z.object({ action: z.literal('override'), field: z.string().regex(/^customer(\.[A-Za-z0-9]+){1,3}$/, 'expected a field path such as customer.billTo.address.postalCode'), value: z.string().max(500), note: Note }),
  z.object({ action: z.literal('cancel'), reason: z.string().min(1).max(2000) }),
]) satisfies z.ZodType<OperatorAction>;

/** Body of POST /deals/:id/exceptions/:exceptionId/notes: a note, an assignee (empty: unassign), or both; the author is the key's holder. */
export const AnnotateExceptionBody = z
  .strictObject({ note: z.string().trim().min(1).max(2000).optional(), assignee: z.string().trim().max(200).optional() })
  .refine((b) => b.note !== undefined || b.assignee !== undefined, { message: 'give a note or an assignee', path: ['note'] });

const Text = z.string().trim().min(1).max(2000);
const RequestId = z.string().regex(/^[A-Za-z0-9_.:-]{1,100}$/, 'expected 1-100 letters, digits or _ . : -');
const ItemId = z.string().min(1).max(200);
const MoneyBody = z.object({ amountMinor: z.int().min(0), currency: z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code') });
const nonEmpty = (o: object) => Object.keys(o).length > 0;

/**
 * A line a change order adds: the billing model's own terms are required here (as the
 * contract schema requires them); id, quote line reference, dates and milestone ids are
 * q2c's to give when left out (the workflow checks the id and the currency against the deal).
 */
const AddedLineBody = z
  .strictObject({
    id: ItemId.optional(),
    quoteLineId: ItemId.optional(),
    description: z.string().max(2000).optional(),
    billingModel: z.enum(['FIXED_FEE_MILESTONE', 'TIME_AND_MATERIALS', 'RETAINER', 'SUBSCRIPTION', 'EXPENSES']),
    startDate: z.iso.date().optional(),
    endDate: z.iso.date().optional(),
    taxCode: z.string().min(1).max(50),
    revenueTreatment: z.enum(['POINT_IN_TIME', 'RATABLE_DAILY', 'AS_INVOICED', 'AS_DRAWN']),
    invoiceSchedule: z.enum(['IMMEDIATE', 'WEEKLY', 'MONTHLY', 'ON_MILESTONE']),
    poNumber: z.string().min(1).max(200).optional(),
    rateCardRef: ItemId.optional(),
    discountBp: z.int().min(0).max(10_000).optional(),
    cap: z.strictObject({ notToExceed: MoneyBody, toleranceBp: z.int().min(0).max(10_000_000).default(0), includesExpenses: z.boolean().optional() }).optional(),
    allocatedValue: MoneyBody,
    fee: MoneyBody.optional(),
    milestones: z
      .array(
        z
          .strictObject({ milestoneId: ItemId.optional(), name: z.string().trim().min(1).max(200).optional(), dueDate: z.iso.date().optional(), amount: MoneyBody.optional(), percentBp: z.int().min(0).max(10_000).optional() })
          .refine((m) => (m.amount === undefined) !== (m.percentBp === undefined), { message: 'give exactly one of amount or percentBp', path: ['amount'] }),
      )
      .min(1)
      .max(50)
      .optional(),
    retainer: z.strictObject({ prepaid: MoneyBody, expiresOn: z.iso.date(), overage: z.enum(['BILL', 'CAP']).default('BILL'), refundable: z.boolean().optional() }).optional(),
    subscription: z.strictObject({ amountPerPeriod: MoneyBody, period: z.enum(['MONTHLY', 'QUARTERLY', 'ANNUAL']), timing: z.enum(['IN_ADVANCE', 'IN_ARREARS']).default('IN_ADVANCE') }).optional(),
  })
  .superRefine((l, ctx) => {
    const need = (ok: boolean, path: string, message: string) => {
      if (!ok) ctx.addIssue({ code: 'custom', path: [path], message });
    };
    if (l.startDate && l.endDate && l.startDate > l.endDate) ctx.addIssue({ code: 'custom', path: ['endDate'], message: 'start must not be after end' });
    if (l.billingModel === 'FIXED_FEE_MILESTONE') {
      need(l.fee !== undefined, 'fee', 'FIXED_FEE_MILESTONE needs fee');
      need(l.milestones !== undefined, 'milestones', 'FIXED_FEE_MILESTONE needs at least one milestone');
    }
    if (l.billingModel === 'TIME_AND_MATERIALS') need(l.rateCardRef !== undefined, 'rateCardRef', 'TIME_AND_MATERIALS needs rateCardRef');
    if (l.billingModel === 'RETAINER') {
      need(l.retainer !== undefined, 'retainer', 'RETAINER needs retainer terms');
      need(l.rateCardRef !== undefined, 'rateCardRef', 'RETAINER needs rateCardRef to value drawdown');
    }
    if (l.billingModel === 'SUBSCRIPTION') need(l.subscription !== undefined, 'subscription', 'SUBSCRIPTION needs subscription terms');
  });

/** Body of POST /deals/:id/amendments; mirrors AmendContractRequest (the fields an amendment may change in delivery). */
export const AmendContractBody = z.object({
  requestId: RequestId,
  by: Text,
  baseVersion: z.int().positive(),
  effectiveDate: z.iso.date(),
  reason: Text,
  changes: z
    .array(
      z.discriminatedUnion('op', [
        z.object({
          op: z.literal('UPDATE_LINE'),
          lineId: ItemId,
          set: z
            .strictObject({
              cap: z.object({ notToExceed: MoneyBody, toleranceBp: z.int().min(0).max(10_000_000).default(0) }).optional(),
              endDate: z.iso.date().optional(),
              rateCardRef: ItemId.optional(),
              discountBp: z.int().min(0).max(10_000).optional(),
              allocatedValue: MoneyBody.optional(),
              description: z.string().max(2000).optional(),
            })
            .refine(nonEmpty, 'name at least one field to change'),
        }),
        z.object({ op: z.literal('END_LINE'), lineId: ItemId, endDate: z.iso.date() }),
        z.object({ op: z.literal('REMOVE_LINE'), lineId: ItemId }),
        z.object({ op: z.literal('ADD_LINE'), line: AddedLineBody, tasks: z.array(z.strictObject({ name: z.string().trim().min(1).max(200), billable: z.boolean() })).min(1).max(50).optional() }),
        z.object({ op: z.literal('SET_TERMS'), set: z.strictObject({ endDate: z.iso.date().optional(), poNumber: z.string().min(1).max(200).optional(), paymentTerms: z.strictObject({ netDays: z.int().min(0).max(365) }).optional(), billToCustomerId: ItemId.optional() }).refine(nonEmpty, 'name at least one term to change') }),
      ]),
    )
    .min(1)
    .max(50),
}) satisfies z.ZodType<AmendContractRequest>;

/** Body of POST /deals/:id/credit-memos; mirrors CreditInvoiceRequest. */
export const CreditInvoiceBody = z.object({
  requestId: RequestId,
  invoiceId: ItemId,
  by: Text,
  reason: z.enum(['DISPUTE', 'ERROR', 'CANCELLATION']),
  note: Text,
  lines: z
    .array(z.object({ invoiceLineId: ItemId, sourceItemIds: z.array(ItemId).min(1).max(5_000).optional() }))
    .min(1)
    .max(500),
  rebill: z.boolean().optional(),
  releaseCapped: z.boolean().optional(),
}) satisfies z.ZodType<CreditInvoiceRequest>;

/** Body of POST /deals/:id/termination; mirrors TerminateContractRequest. */
export const TerminateContractBody = z.object({
  requestId: RequestId,
  by: Text,
  reason: Text,
  effectiveDate: z.iso.date(),
}) satisfies z.ZodType<TerminateContractRequest>;

/** Body of POST /deals/:id/invoices/:invoiceId/decision; the decider is the key's holder. */
export const InvoiceDecisionBody = z.object({ decision: z.enum(['approve', 'reject']), reason: z.string().trim().min(1).max(2000).optional() });
/** Body of POST /deals/:id/invoices/:invoiceId/write-off; the key's holder writes it off. */
export const WriteOffBody = z.object({ reason: Text });
/** Body of POST /deals/:id/invoices/:invoiceId/promise-to-pay; with the path's invoice id, a PromiseToPayRequest. */
export const PromiseToPayBody = z.strictObject({
  requestId: RequestId,
  by: Text,
  promisedOn: z.iso.date(),
  note: Text,
}) satisfies z.ZodType<Omit<PromiseToPayRequest, 'invoiceId'>>;

const DealParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'expected an opportunity id') });
const InvoiceParams = DealParams.extend({ invoiceId: ItemId });
/** A deal exception's number, or a delivery attention item's id ('OVERDUE:inv-1'). */
const ExceptionParams = DealParams.extend({ exceptionId: z.string().regex(/^[A-Za-z0-9_.:-]{1,200}$/, 'expected an exception number or an attention item id') });

export const InboxQuery = z.object({
  status: z.enum(['accepted', 'duplicate', 'rejected', 'dispatched']).optional(),
  source: z.enum(['salesforce', 'docusign', 'kantata', 'stripe']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

/** Answers a known failure with its status and body; rethrows anything else (-> 500). */
export function answer(reply: FastifyReply, err: unknown) {
  if (err instanceof HttpProblem) return reply.code(err.status).send(err.body);
  if (err instanceof DealNotFoundError) return reply.code(404).send({ error: 'DEAL_NOT_FOUND', message: err.message, workflowId: err.workflowId });
  if (err instanceof DealNotInDeliveryError) return reply.code(409).send({ error: 'DEAL_NOT_IN_DELIVERY', message: err.message, workflowId: err.workflowId });
  if (err instanceof ActionRejectedError) return reply.code(409).send({ error: 'ACTION_REJECTED', message: err.message, workflowId: err.workflowId, ...(err.reason ? { reason: err.reason } : {}) });
  throw err;
}

/** Operator API: scoped bearer keys, deal query and resolve, inbox inspection. */
export function registerOperatorRoutes(
  app: FastifyInstance,
  deps: { access: AccessPolicy; gateway: DealGateway; inbox: InboxRepository },
) {
  const requireScope = (scope: 'read' | 'operate' | 'approve') => guard(deps.access, scope);
  /** A route's work, with its known failures answered (answer) and anything else left to Fastify (500). */
  const answering =
    <T>(work: (request: FastifyRequest) => Promise<T>) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      try {
        return await work(request);
      } catch (err) {
        return answer(reply, err);
      }
    };

  app.get('/deals/:id', { preHandler: requireScope('read') }, answering(async (request) => {
    const { id } = parse(DealParams, request.params, 'deal id');
    return await deps.gateway.queryDeal(id);
  }));

  app.get('/deals/:id/revenue-waterfall', { preHandler: requireScope('read') }, answering(async (request) => {
    const { id } = parse(DealParams, request.params, 'deal id');
    return await deps.gateway.revenueWaterfall(id);
  }));

  app.post('/deals/:id/resolve', { preHandler: requireScope('operate') }, answering(async (request) => {
    const { id } = parse(DealParams, request.params, 'deal id');
    const action = parse(OperatorActionBody, request.body ?? {}, 'operator action');
    request.log.info({ operator: request.principal?.name, opportunityId: id, action: action.action }, 'operator resolves exception');
    return await deps.gateway.resolveException(id, { ...action, by: request.principal!.name });
  }));

  app.post('/deals/:id/exceptions/:exceptionId/notes', { preHandler: requireScope('operate') }, answering(async (request) => {
    const { id, exceptionId } = parse(ExceptionParams, request.params, 'exception');
    const body = parse(AnnotateExceptionBody, request.body ?? {}, 'exception note');
    const by = request.principal!.name;
    request.log.info({ operator: by, opportunityId: id, exceptionId, assignee: body.assignee }, 'operator annotates exception');
    return /^\d+$/.test(exceptionId)
      ? await deps.gateway.annotateException(id, { exceptionId: Number(exceptionId), by, ...body })
      : await deps.gateway.annotateAttention(id, { attentionId: exceptionId, by, ...body });
  }));

  app.post('/deals/:id/amendments', { preHandler: requireScope('operate') }, answering(async (request) => {
    const { id } = parse(DealParams, request.params, 'deal id');
    const amendment = parse(AmendContractBody, request.body ?? {}, 'amendment');
    request.log.info({ operator: request.principal?.name, opportunityId: id, requestId: amendment.requestId, baseVersion: amendment.baseVersion }, 'operator amends contract');
    return await deps.gateway.amendContract(id, amendment);
  }));

  app.post('/deals/:id/credit-memos', { preHandler: requireScope('operate') }, answering(async (request) => {
    const { id } = parse(DealParams, request.params, 'deal id');
    const credit = parse(CreditInvoiceBody, request.body ?? {}, 'credit request');
    request.log.info({ operator: request.principal?.name, opportunityId: id, requestId: credit.requestId, invoiceId: credit.invoiceId }, 'operator credits invoice');
    return await deps.gateway.creditInvoice(id, credit);
  }));

  app.post('/deals/:id/termination', { preHandler: requireScope('operate') }, answering(async (request) => {
    const { id } = parse(DealParams, request.params, 'deal id');
    const termination = parse(TerminateContractBody, request.body ?? {}, 'termination');
    request.log.info({ operator: request.principal?.name, opportunityId: id, requestId: termination.requestId, effectiveDate: termination.effectiveDate }, 'operator terminates contract');
    return await deps.gateway.terminateContract(id, termination);
  }));

  // Releasing held billing is an approver's decision, made in the approver's own name.
  app.post('/deals/:id/invoices/:invoiceId/decision', { preHandler: requireScope('approve') }, answering(async (request) => {
    const { id, invoiceId } = parse(InvoiceParams, request.params, 'invoice');
    const body = parse(InvoiceDecisionBody, request.body ?? {}, 'invoice decision');
    const by = request.principal!.name;
    request.log.info({ operator: by, opportunityId: id, invoiceId, decision: body.decision }, 'operator decides invoice');
    return await deps.gateway.decideInvoice(id, { invoiceId, decision: body.decision, by, ...(body.reason ? { reason: body.reason } : {}) });
  }));

  app.post('/deals/:id/invoices/:invoiceId/write-off', { preHandler: requireScope('approve') }, answering(async (request) => {
    const { id, invoiceId } = parse(InvoiceParams, request.params, 'invoice');
    const body = parse(WriteOffBody, request.body ?? {}, 'write-off');
    const by = request.principal!.name;
    request.log.info({ operator: by, opportunityId: id, invoiceId }, 'operator writes off invoice');
    return await deps.gateway.writeOffInvoice(id, { invoiceId, by, reason: body.reason });
  }));

  app.post('/deals/:id/invoices/:invoiceId/promise-to-pay', { preHandler: requireScope('operate') }, answering(async (request) => {
    const { id, invoiceId } = parse(InvoiceParams, request.params, 'deal and invoice id');
    const body = parse(PromiseToPayBody, request.body ?? {}, 'promise to pay');
    request.log.info({ operator: request.principal?.name, opportunityId: id, invoiceId, requestId: body.requestId, promisedOn: body.promisedOn }, 'operator records a promise to pay');
    return await deps.gateway.promiseToPay(id, { ...body, invoiceId });
  }));

  app.get('/inbox', { preHandler: requireScope('read') }, answering(async (request) => {
    const q = parse(InboxQuery, request.query, 'query');
    const rows = await deps.inbox.list(q);
    return {
      items: rows.map((r) => ({
        ...r,
        receivedAt: r.receivedAt.toISOString(),
        dispatchedAt: r.dispatchedAt ? r.dispatchedAt.toISOString() : null,
      })),
    };
  }));
}
