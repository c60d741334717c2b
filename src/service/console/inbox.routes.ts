import { z } from 'zod';
import type { InboxRow } from '../../db/inbox';
import { type ConsoleContext } from './context';
import { renderInboxPage } from './inbox.page';
import { chromeFor } from './session';

const InboxParams = z.object({ id: z.coerce.number().int().positive() });
const InboxStatusQuery = z.object({ status: z.enum(['attention', 'dispatched', 'duplicate']).default('attention') });

/** GET /console/inbox, and the replay of one delivery (operate scope). */
export function registerInboxRoutes(ctx: ConsoleContext): void {
  ctx.scope.get('/console/inbox', ctx.read, async (request, reply) => {
    const { status } = InboxStatusQuery.parse(request.query ?? {});
    let rows: InboxRow[];
    if (status === 'attention') {
      const [rejected, accepted] = await Promise.all([ctx.deps.inbox.list({ status: 'rejected', limit: 200 }), ctx.deps.inbox.list({ status: 'accepted', limit: 200 })]);
      rows = [...rejected, ...accepted].sort((a, b) => b.id - a.id);
    } else rows = await ctx.deps.inbox.list({ status, limit: 200 });
    ctx.html(reply);
    return renderInboxPage({ chrome: await chromeFor(request, reply), rows, status });
  });

  ctx.scope.post('/console/inbox/:id/replay', ctx.operate, async (request, reply) => {
    const { id } = InboxParams.parse(request.params);
    let opportunityId: string | null = null;
    return ctx.acted(request, reply, '/console/inbox', { action: 'replay', get opportunityId() { return opportunityId; }, target: `inbox ${id}` }, async () => {
      const result = await ctx.deps.replay.replay(id, request.id);
      opportunityId = result.workflowId?.replace(/^deal-/, '') ?? null;
      return result.outcome === 'dispatched' ? `Delivery ${id} replayed to ${result.workflowId}.` : `Delivery ${id} had already reached ${result.workflowId ?? 'its deal'}: nothing sent again.`;
    });
  });
}
