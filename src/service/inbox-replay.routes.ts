import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireScope, type AccessPolicy } from './auth';
import { documented, errorResponses } from './openapi';
import { answer } from './operator.routes';
import type { WebhookReplay } from './webhooks/replay';

const InboxRowParams = z.object({ id: z.coerce.number().int().positive().meta({ description: 'the inbox row id (GET /inbox)' }) });
const ReplayAnswer = z.object({
  id: z.number().int(),
  outcome: z.enum(['dispatched', 'already-dispatched']),
  workflowId: z.string().optional(),
  eventId: z.string().optional(),
});

/** POST /inbox/:id/replay (operate scope): a stored delivery that verified but did not reach its deal, dispatched again. */
export function registerInboxReplayRoute(app: FastifyInstance, deps: { access: AccessPolicy; replay: WebhookReplay }): void {
  app.withTypeProvider<ZodTypeProvider>().post('/inbox/:id/replay', {
    preValidation: requireScope(deps.access, 'operate'),
    config: { inputNames: { params: 'inbox row' } },
    schema: {
      ...documented({
        tag: 'inbox',
        summary: 'Replay a delivery that did not reach its deal',
        scope: 'operate',
        description:
          'Only a delivery whose signature verified on receipt and that failed afterwards (no deal yet, none mapped, dispatch failed): its stored body is parsed again, its deal found and the event dispatched. Replaying a dispatched one sends nothing (`already-dispatched`); other rows are 409 NOT_REPLAYABLE.',
      }),
      params: InboxRowParams,
      response: { 200: ReplayAnswer, ...errorResponses(400, 401, 403, 404, 409, 422, 429, 503) },
    },
  }, async (request, reply) => {
    try {
      request.log.info({ operator: request.principal?.name, inboxId: request.params.id }, 'operator replays an inbox delivery');
      return await deps.replay.replay(request.params.id, request.id);
    } catch (err) {
      return answer(reply, err) as never;
    }
  });
}
