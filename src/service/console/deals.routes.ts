import { z } from 'zod';
import type { DealView, DeliveryView, RevenueWaterfall } from '../../contract';
import { DealNotFoundError, type DealSummary } from '../deal-gateway';
import { DealParams, mapLimit, type ConsoleContext } from './context';
import { dealAmounts, funnel, totalsByCurrency, type DealAmounts } from './deals';
import { renderDealPage, renderDealsPage } from './deals.page';
import { chromeFor, renderProblemPage } from './session';

const StageQuery = z.object({ stage: z.string().regex(/^[A-Z_]{1,40}$/).optional() });

/** GET /console/deals (funnel and list) and /console/deals/:id (one deal). */
export function registerDealRoutes(ctx: ConsoleContext): void {
  ctx.scope.get('/console/deals', ctx.read, async (request, reply) => {
    const { stage } = StageQuery.parse(request.query ?? {});
    const all = await ctx.deps.gateway.listDeals({ limit: ctx.limit });
    const shown = stage ? all.filter((d) => d.stage === stage) : all;
    const rows = await mapLimit(shown, 8, async (summary) => ({ summary, ...(await amountsOf(summary).catch(() => ({}))) }));
    ctx.html(reply);
    return renderDealsPage({ chrome: await chromeFor(request, reply), rows, funnel: funnel(all), totals: totalsByCurrency(rows.flatMap((r) => (r.amounts ? [r.amounts] : []))), ui: ctx.deps.ui, ...(stage ? { stage } : {}) });
  });

  async function amountsOf(summary: DealSummary): Promise<{ amounts?: DealAmounts }> {
    const { delivery } = await ctx.deps.gateway.queryDelivery(summary.opportunityId);
    if (!delivery) return {};
    const waterfall = await ctx.deps.gateway.revenueWaterfall(summary.opportunityId).then((w) => w.waterfall, () => undefined);
    return { amounts: dealAmounts(delivery, waterfall) };
  }

  ctx.scope.get('/console/deals/:id', ctx.read, async (request, reply) => {
    const { id } = DealParams.parse(request.params);
    let view: DealView;
    let workflowId: string;
    try {
      ({ workflowId, state: view } = await ctx.deps.gateway.queryDeal(id));
    } catch (err) {
      if (!(err instanceof DealNotFoundError)) throw err;
      return ctx.html(reply).code(404).send(renderProblemPage(404, 'No such deal', err.message));
    }
    const { delivery } = await ctx.deps.gateway.queryDelivery(id).catch(() => ({ delivery: undefined as DeliveryView | undefined }));
    const waterfall: RevenueWaterfall | undefined = delivery ? await ctx.deps.gateway.revenueWaterfall(id).then((w) => w.waterfall, () => undefined) : undefined;
    const [audit, actions] = await Promise.all([ctx.deps.audit.forDeal(workflowId), ctx.deps.actions.forDeal(id)]);
    ctx.html(reply);
    return renderDealPage({
      chrome: await chromeFor(request, reply),
      workflowId,
      view,
      ...(delivery ? { delivery, amounts: dealAmounts(delivery, waterfall) } : {}),
      ...(waterfall ? { waterfall } : {}),
      audit,
      actions: actions.map((a) => ({ ...a, at: a.at.toISOString() })),
      ui: ctx.deps.ui,
    });
  });
}
