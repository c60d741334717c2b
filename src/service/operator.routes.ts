import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { OperatorAction } from '../workflows/deal.messages';
import { requireScope as guard, type AccessPolicy } from './auth';
import { ActionRejectedError, DealNotFoundError, type DealGateway } from './deal-gateway';
import { HttpProblem, parseInput as parse } from './errors';
import type { Inbox } from './inbox';

const Note = z.string().max(2000).optional();

/** Body of POST /deals/:id/resolve; mirrors OperatorAction in deal.messages.ts. */
export const OperatorActionBody = z.discriminatedUnion('action', [
  z.object({ action: z.literal('retry'), note: Note }),
  z.object({ action: z.literal('skip'), note: Note }),
  z.object({ action: z.literal('link'), externalId: z.string().min(1).max(200), note: Note }),
  z.object({ action: z.literal('cancel'), reason: z.string().min(1).max(2000) }),
]) satisfies z.ZodType<OperatorAction>;

const DealParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'expected an opportunity id') });

export const InboxQuery = z.object({
  status: z.enum(['accepted', 'duplicate', 'rejected', 'dispatched']).optional(),
  source: z.enum(['salesforce', 'docusign', 'kantata', 'stripe']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

/** Answers a known failure with its status and body; rethrows anything else (-> 500). */
export function answer(reply: FastifyReply, err: unknown) {
  if (err instanceof HttpProblem) return reply.code(err.status).send(err.body);
  if (err instanceof DealNotFoundError) return reply.code(404).send({ error: 'DEAL_NOT_FOUND', message: err.message, workflowId: err.workflowId });
  if (err instanceof ActionRejectedError) return reply.code(409).send({ error: 'ACTION_REJECTED', message: err.message, workflowId: err.workflowId });
  throw err;
}

/** Operator API: scoped bearer keys, deal query and resolve, inbox inspection. */
export function registerOperatorRoutes(
  app: FastifyInstance,
  deps: { access: AccessPolicy; gateway: DealGateway; inbox: Inbox },
) {
  const requireScope = (scope: 'read' | 'operate') => guard(deps.access, scope);


  app.get('/deals/:id', { preHandler: requireScope('read') }, async (request, reply) => {
    try {
      const { id } = parse(DealParams, request.params, 'deal id');
      return await deps.gateway.queryDeal(id);
    } catch (err) {
      return answer(reply, err);
    }
  });

  app.post('/deals/:id/resolve', { preHandler: requireScope('operate') }, async (request, reply) => {
    try {
      const { id } = parse(DealParams, request.params, 'deal id');
      const action = parse(OperatorActionBody, request.body ?? {}, 'operator action');
      request.log.info({ operator: request.principal?.name, opportunityId: id, action: action.action }, 'operator resolves exception');
      return await deps.gateway.resolveException(id, action);
    } catch (err) {
      return answer(reply, err);
    }
  });

  app.get('/inbox', { preHandler: requireScope('read') }, async (request, reply) => {
    try {
      const q = parse(InboxQuery, request.query, 'query');
      const rows = await deps.inbox.list(q);
      return {
        items: rows.map((r) => ({
          ...r,
          receivedAt: r.receivedAt.toISOString(),
          dispatchedAt: r.dispatchedAt ? r.dispatchedAt.toISOString() : null,
        })),
      };
    } catch (err) {
      return answer(reply, err);
    }
  });
}
