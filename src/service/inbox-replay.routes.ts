import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { requireScope, type AccessPolicy } from './auth';
import { parseInput } from './errors';
import { answer } from './operator.routes';
import type { WebhookReplay } from './webhooks/replay';

const InboxRowParams = z.object({ id: z.coerce.number().int().positive() });

/** POST /inbox/:id/replay (operate scope): a stored delivery that verified but did not reach its deal, dispatched again. */
export function registerInboxReplayRoute(app: FastifyInstance, deps: { access: AccessPolicy; replay: WebhookReplay }): void {
  app.post('/inbox/:id/replay', { preHandler: requireScope(deps.access, 'operate') }, async (request, reply) => {
    try {
      const { id } = parseInput(InboxRowParams, request.params, 'inbox row');
      request.log.info({ operator: request.principal?.name, inboxId: id }, 'operator replays an inbox delivery');
      return await deps.replay.replay(id, request.id);
    } catch (err) {
      return answer(reply, err);
    }
  });
}
