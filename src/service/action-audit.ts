import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { OperatorActionKind, OperatorActionRepository } from '../db/operator-actions';

/** The operator API's action routes and what each is recorded as. */
const API_ACTIONS: Readonly<Record<string, OperatorActionKind>> = {
  '/deals/:id/resolve': 'resolve',
  '/deals/:id/exceptions/:exceptionId/notes': 'annotate',
  '/deals/:id/amendments': 'amend',
  '/deals/:id/credit-memos': 'credit',
  '/deals/:id/termination': 'terminate',
  '/deals/:id/invoices/:invoiceId/decision': 'decide',
  '/deals/:id/invoices/:invoiceId/write-off': 'write-off',
  '/deals/:id/invoices/:invoiceId/promise-to-pay': 'promise',
  '/inbox/:id/replay': 'replay',
  '/rulesets/proposals/:id/approval': 'approve-ruleset',
  '/rulesets/proposals/:id/rejection': 'reject-ruleset',
};

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim().slice(0, 2000) : undefined);

/** Pure: the audit record of one API action request and its answer (undefined for routes that are not actions). */
export function apiActionRecord(req: { routeUrl: string | undefined; params: Record<string, string>; body: unknown; actor: string | undefined; status: number; answer: unknown }) {
  const kind = req.routeUrl ? API_ACTIONS[req.routeUrl] : undefined;
  if (!kind || !req.actor) return undefined;
  const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
  const answer = (req.answer && typeof req.answer === 'object' ? req.answer : {}) as Record<string, unknown>;
  const action: OperatorActionKind = kind === 'resolve' && body.action === 'override' ? 'override' : kind;
  const target =
    req.params.invoiceId ?? req.params.exceptionId ?? (kind === 'replay' ? `inbox ${req.params.id}` : kind.endsWith('-ruleset') ? req.params.id : kind === 'resolve' ? text(body.action) : text(body.requestId ?? body.invoiceId));
  const detail: Record<string, unknown> = {};
  for (const k of ['action', 'decision', 'field', 'value', 'externalId', 'assignee', 'effectiveDate', 'promisedOn', 'requestId'] as const) if (body[k] !== undefined) detail[k] = body[k];
  return {
    actor: req.actor,
    via: 'api' as const,
    action,
    opportunityId: kind === 'replay' ? text((answer.workflowId as string | undefined)?.replace(/^deal-/, '')) ?? null : kind.endsWith('-ruleset') ? null : req.params.id ?? null,
    target: target ?? null,
    reason: text(body.note) ?? text(body.reason) ?? null,
    outcome: req.status < 300 ? 'ok' : (text(answer.reason) ?? text(answer.error) ?? String(req.status)),
    ...(Object.keys(detail).length ? { detail } : {}),
  };
}

/**
 * Writes every operator API action (who, why, outcome) to operator_actions once it is
 * answered, refusals included. A failed write is logged: it never changes the answer.
 */
export function registerApiActionAudit(app: FastifyInstance, actions: OperatorActionRepository): void {
  app.addHook('onSend', async (request: FastifyRequest, reply, payload) => {
    // Most requests (webhooks, reads) are not actions: leave them before reading their answer.
    if (!request.routeOptions.url || !(request.routeOptions.url in API_ACTIONS)) return payload;
    const record = apiActionRecord({
      routeUrl: request.routeOptions.url,
      params: (request.params ?? {}) as Record<string, string>,
      body: request.body,
      actor: request.principal?.via === 'bearer' ? request.principal.name : undefined,
      status: reply.statusCode,
      answer: typeof payload === 'string' ? safeJson(payload) : undefined,
    });
    if (record) await actions.record(record).catch((err: unknown) => request.log.error({ err }, 'operator actions: could not record'));
    return payload;
  });
}

const safeJson = (s: string): unknown => {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
};
