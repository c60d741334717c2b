import type { OperatorAction } from '../../contract';
import { HttpProblem } from '../errors';
import { AnnotateExceptionBody, OperatorActionBody } from '../operator.routes';
import { badForm, DealParams, ExceptionParams, filled, mapLimit, type ConsoleContext } from './context';
import { z } from 'zod';

const ItemParams = DealParams.extend({ exceptionId: z.string().regex(/^[A-Za-z0-9_.:-]{1,200}$/, 'expected an exception number or an attention item id') });
import { groupExceptions, parkedItems } from './exceptions';
import { renderExceptionsPage } from './exceptions.page';
import { chromeFor } from './session';

/** GET /console/exceptions, and the resolve and note actions on one exception. */
export function registerExceptionRoutes(ctx: ConsoleContext): void {
  ctx.scope.get('/console/exceptions', ctx.read, async (request, reply) => {
    const deals = await ctx.deps.gateway.listDeals({ needsAttention: true, openOnly: true, limit: ctx.limit });
    const unreadable: string[] = [];
    const items = (
      await mapLimit(deals, 8, async (d) => {
        try {
          const [{ state }, { delivery }] = await Promise.all([ctx.deps.gateway.queryDeal(d.opportunityId), ctx.deps.gateway.queryDelivery(d.opportunityId)]);
          return parkedItems(d.opportunityId, state, delivery);
        } catch (err) {
          request.log.warn({ err, opportunityId: d.opportunityId }, 'console: could not read a deal needing attention');
          unreadable.push(d.opportunityId);
          return [];
        }
      })
    ).flat();
    ctx.html(reply);
    return renderExceptionsPage({ chrome: await chromeFor(request, reply), groups: groupExceptions(items), unreadable });
  });

  ctx.scope.post('/console/deals/:id/exceptions/:exceptionId/resolve', ctx.operate, async (request, reply) => {
    const { id, exceptionId } = ExceptionParams.parse(request.params);
    const form = filled(request.body);
    // An override's value may be empty on purpose (removing an optional field).
    if (form.action === 'override' && form.value === undefined) form.value = '';
    const parsed = OperatorActionBody.safeParse(form);
    const kind = form.action === 'override' ? 'override' : 'resolve';
    return ctx.acted(request, reply, '/console/exceptions', { action: kind, opportunityId: id, target: `exception ${exceptionId}`, reason: form.note ?? form.reason ?? null, detail: form }, async () => {
      if (!parsed.success) throw badForm(parsed.error);
      const by = request.consoleOperator!.name;
      // The exception the operator saw must still be the open one: never act on a newer one by mistake.
      const { state } = await ctx.deps.gateway.queryDeal(id);
      if (state.exceptions[0]?.id !== exceptionId) throw new HttpProblem(409, 'ACTION_REJECTED', `exception ${exceptionId} of ${id} is no longer open`);
      await ctx.deps.gateway.resolveException(id, { ...(parsed.data as OperatorAction), by });
      return `${id}: ${parsed.data.action} applied to exception ${exceptionId}.`;
    });
  });

  ctx.scope.post('/console/deals/:id/exceptions/:exceptionId/notes', ctx.operate, async (request, reply) => {
    // A deal exception's number, or a delivery attention item's id.
    const { id, exceptionId } = ItemParams.parse(request.params);
    const raw = (request.body ?? {}) as Record<string, unknown>;
    // An emptied assignee field unassigns: it is kept even when empty.
    const form: Record<string, string> = { ...filled(raw), ...(typeof raw.assignee === 'string' ? { assignee: raw.assignee } : {}) };
    const parsed = AnnotateExceptionBody.safeParse(form);
    return ctx.acted(request, reply, '/console/exceptions', { action: 'annotate', opportunityId: id, target: `exception ${exceptionId}`, reason: form.note ?? null, ...(form.assignee !== undefined ? { detail: { assignee: form.assignee } } : {}) }, async () => {
      if (!parsed.success) throw badForm(parsed.error);
      const by = request.consoleOperator!.name;
      if (/^\d+$/.test(exceptionId)) {
        await ctx.deps.gateway.annotateException(id, { exceptionId: Number(exceptionId), by, ...parsed.data });
        return `${id}: exception ${exceptionId} updated.`;
      }
      await ctx.deps.gateway.annotateAttention(id, { attentionId: exceptionId, by, ...parsed.data });
      return `${id}: ${exceptionId} updated.`;
    });
  });
}
