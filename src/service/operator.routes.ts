import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AmendContractRequest, CreditInvoiceRequest, OperatorAction, PromiseToPayRequest, TerminateContractRequest } from '../contract';
import type { InboxRepository } from '../db/inbox';
import { requireScope as guard, type AccessPolicy, type Scope } from './auth';
import { ActionRejectedError, DealNotFoundError, DealNotInDeliveryError, type DealGateway } from './deal-gateway';
import { answeringWith, HttpProblem } from './errors';
import { documented, errorResponses } from './openapi';

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

const DealParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'expected an opportunity id').meta({ description: 'the opportunity id (the deal workflow is deal-<id>)' }) });
const InvoiceParams = DealParams.extend({ invoiceId: ItemId.meta({ description: 'the q2c invoice id' }) });
/** A deal exception's number, or a delivery attention item's id ('OVERDUE:inv-1'). */
const ExceptionParams = DealParams.extend({ exceptionId: z.string().regex(/^[A-Za-z0-9_.:-]{1,200}$/, 'expected an exception number or an attention item id').meta({ description: "a deal exception's number, or a delivery attention item's id (OVERDUE:<invoiceId>)" }) });

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

/** What an update on a deal answers: the workflow and the update's result (see src/contract). */
const DealActionAnswer = z.looseObject({ workflowId: z.string(), result: z.unknown() });

const InboxItem = z.looseObject({
  id: z.number().int(),
  source: z.string(),
  eventId: z.string().nullable(),
  eventType: z.string().nullable(),
  status: z.enum(['accepted', 'duplicate', 'rejected', 'dispatched']),
  workflowId: z.string().nullable(),
  correlationId: z.string().nullable(),
  error: z.unknown().meta({ description: 'the error body the delivery was answered with, for rejected ones' }),
  rawBody: z.string().meta({ description: 'the body exactly as received' }),
  receivedAt: z.string().meta({ format: 'date-time' }),
  dispatchedAt: z.string().meta({ format: 'date-time' }).nullable(),
});

/** Operator API: scoped bearer keys, deal query and actions, inbox inspection. */
export function registerOperatorRoutes(
  app: FastifyInstance,
  deps: { access: AccessPolicy; gateway: DealGateway; inbox: InboxRepository },
) {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const requireScope = (scope: Scope) => guard(deps.access, scope);
  const answering = answeringWith(answer);
  const action = (scope: Scope, summary: string, description?: string) => ({
    ...documented({ tag: 'operations', summary, scope, ...(description ? { description } : {}) }),
    response: { 200: DealActionAnswer, ...errorResponses(400, 401, 403, 404, 409, 429) },
  });

  api.get('/deals/:id', {
    preValidation: requireScope('read'),
    config: { inputNames: { params: 'deal id' } },
    schema: {
      ...documented({ tag: 'deals', summary: "A deal's state", scope: 'read', description: "The deal workflow's getDealState query: stage, contract versions, invoices, payments, revenue, exceptions." }),
      params: DealParams,
      response: { 200: z.looseObject({ workflowId: z.string(), state: z.unknown() }), ...errorResponses(400, 401, 403, 404, 429) },
    },
  }, answering(async (request) => deps.gateway.queryDeal(request.params.id)));

  api.get('/deals/:id/revenue-waterfall', {
    preValidation: requireScope('read'),
    config: { inputNames: { params: 'deal id' } },
    schema: {
      ...documented({ tag: 'deals', summary: "A deal's revenue waterfall by month", scope: 'read' }),
      params: DealParams,
      response: { 200: z.looseObject({ workflowId: z.string(), waterfall: z.unknown() }), ...errorResponses(400, 401, 403, 404, 409, 429) },
    },
  }, answering(async (request) => deps.gateway.revenueWaterfall(request.params.id)));

  api.post('/deals/:id/resolve', {
    preValidation: requireScope('operate'),
    config: { inputNames: { params: 'deal id', body: 'operator action' } },
    schema: { ...action('operate', 'Resolve the exception a deal is parked on', "Retry the step, skip it (optional steps only), link an existing record, override a field of the step's input and retry, or cancel the deal; made in the key holder's name. The deal's update validator refuses what the parked step does not allow (409)."), params: DealParams, body: OperatorActionBody },
  }, answering(async (request) => {
    const { id } = request.params;
    request.log.info({ operator: request.principal?.name, opportunityId: id, action: request.body.action }, 'operator resolves exception');
    return await deps.gateway.resolveException(id, { ...request.body, by: request.principal!.name });
  }));

  api.post('/deals/:id/exceptions/:exceptionId/notes', {
    preValidation: requireScope('operate'),
    config: { inputNames: { params: 'exception', body: 'exception note' } },
    schema: { ...action('operate', 'Note or assign a parked item', "A note and/or an assignee (empty: unassign) on a deal exception or a delivery attention item, in the key holder's name; changes nothing the deal does."), params: ExceptionParams, body: AnnotateExceptionBody },
  }, answering(async (request) => {
    const { id, exceptionId } = request.params;
    const body = request.body;
    const by = request.principal!.name;
    request.log.info({ operator: by, opportunityId: id, exceptionId, assignee: body.assignee }, 'operator annotates exception');
    return /^\d+$/.test(exceptionId)
      ? await deps.gateway.annotateException(id, { exceptionId: Number(exceptionId), by, ...body })
      : await deps.gateway.annotateAttention(id, { attentionId: exceptionId, by, ...body });
  }));

  api.post('/deals/:id/amendments', {
    preValidation: requireScope('operate'),
    config: { inputNames: { params: 'deal id', body: 'amendment' } },
    schema: { ...action('operate', 'Amend the contract (change order)', 'Written against `baseVersion`; idempotent per `requestId`. Posted to the ERP first, then the version the deal bills from.'), params: DealParams, body: AmendContractBody },
  }, answering(async (request) => {
    const { id } = request.params;
    const amendment = request.body;
    request.log.info({ operator: request.principal?.name, opportunityId: id, requestId: amendment.requestId, baseVersion: amendment.baseVersion }, 'operator amends contract');
    return await deps.gateway.amendContract(id, amendment);
  }));

  api.post('/deals/:id/credit-memos', {
    preValidation: requireScope('operate'),
    config: { inputNames: { params: 'deal id', body: 'credit request' } },
    schema: { ...action('operate', 'Credit an invoice (whole lines or named items)', 'Idempotent per `requestId`.'), params: DealParams, body: CreditInvoiceBody },
  }, answering(async (request) => {
    const { id } = request.params;
    const credit = request.body;
    request.log.info({ operator: request.principal?.name, opportunityId: id, requestId: credit.requestId, invoiceId: credit.invoiceId }, 'operator credits invoice');
    return await deps.gateway.creditInvoice(id, credit);
  }));

  api.post('/deals/:id/termination', {
    preValidation: requireScope('operate'),
    config: { inputNames: { params: 'deal id', body: 'termination' } },
    schema: { ...action('operate', 'Terminate the contract from a date', 'Idempotent per `requestId`.'), params: DealParams, body: TerminateContractBody },
  }, answering(async (request) => {
    const { id } = request.params;
    const termination = request.body;
    request.log.info({ operator: request.principal?.name, opportunityId: id, requestId: termination.requestId, effectiveDate: termination.effectiveDate }, 'operator terminates contract');
    return await deps.gateway.terminateContract(id, termination);
  }));

  // Releasing held billing is an approver's decision, made in the approver's own name.
  api.post('/deals/:id/invoices/:invoiceId/decision', {
    preValidation: requireScope('approve'),
    config: { inputNames: { params: 'invoice', body: 'invoice decision' } },
    schema: { ...action('approve', 'Release or refuse an invoice held for approval', 'Approving posts the held invoice; rejecting keeps it off the books with the reason.'), params: InvoiceParams, body: InvoiceDecisionBody },
  }, answering(async (request) => {
    const { id, invoiceId } = request.params;
    const body = request.body;
    const by = request.principal!.name;
    request.log.info({ operator: by, opportunityId: id, invoiceId, decision: body.decision }, 'operator decides invoice');
    return await deps.gateway.decideInvoice(id, { invoiceId, decision: body.decision, by, ...(body.reason ? { reason: body.reason } : {}) });
  }));

  api.post('/deals/:id/invoices/:invoiceId/write-off', {
    preValidation: requireScope('approve'),
    config: { inputNames: { params: 'invoice', body: 'write-off' } },
    schema: { ...action('approve', "Write off an invoice's open balance"), params: InvoiceParams, body: WriteOffBody },
  }, answering(async (request) => {
    const { id, invoiceId } = request.params;
    const by = request.principal!.name;
    request.log.info({ operator: by, opportunityId: id, invoiceId }, 'operator writes off invoice');
    return await deps.gateway.writeOffInvoice(id, { invoiceId, by, reason: request.body.reason });
  }));

  api.post('/deals/:id/invoices/:invoiceId/promise-to-pay', {
    preValidation: requireScope('operate'),
    config: { inputNames: { params: 'deal and invoice id', body: 'promise to pay' } },
    schema: { ...action('operate', "Record a customer's promise to pay an overdue invoice", 'Idempotent per `requestId`.'), params: InvoiceParams, body: PromiseToPayBody },
  }, answering(async (request) => {
    const { id, invoiceId } = request.params;
    const body = request.body;
    request.log.info({ operator: request.principal?.name, opportunityId: id, invoiceId, requestId: body.requestId, promisedOn: body.promisedOn }, 'operator records a promise to pay');
    return await deps.gateway.promiseToPay(id, { ...body, invoiceId });
  }));

  api.get('/inbox', {
    preValidation: requireScope('read'),
    config: { inputNames: { querystring: 'query' } },
    schema: {
      ...documented({ tag: 'inbox', summary: 'Webhook deliveries, newest first', scope: 'read', description: 'Every delivery is kept raw with its outcome; `status=rejected` lists the refused ones with their error.' }),
      querystring: InboxQuery,
      response: { 200: z.object({ items: z.array(InboxItem) }), ...errorResponses(400, 401, 403, 429) },
    },
  }, answering(async (request) => {
    const rows = await deps.inbox.list(request.query);
    return {
      items: rows.map((r) => ({
        ...r,
        receivedAt: r.receivedAt.toISOString(),
        dispatchedAt: r.dispatchedAt ? r.dispatchedAt.toISOString() : null,
      })),
    };
  }));
}
