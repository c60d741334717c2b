import { mapLimit, type ConsoleContext } from './context';
import { kpiSeries } from './kpis';
import { renderKpisPage } from './kpis.page';
import { chromeFor } from './session';

/** GET /console/kpis. */
export function registerKpiRoutes(ctx: ConsoleContext): void {
  ctx.scope.get('/console/kpis', ctx.read, async (request, reply) => {
    const deals = await ctx.deps.gateway.listDeals({ limit: ctx.limit });
    const read = await mapLimit(deals, 8, async (d) => {
      try {
        const [{ state }, { delivery }] = await Promise.all([ctx.deps.gateway.queryDeal(d.opportunityId), ctx.deps.gateway.queryDelivery(d.opportunityId)]);
        return [{ opportunityId: d.opportunityId, view: state, ...(delivery ? { delivery } : {}) }];
      } catch {
        return [];
      }
    });
    ctx.html(reply);
    return renderKpisPage({
      chrome: await chromeFor(request, reply),
      series: kpiSeries(read.flat()),
      deals: deals.length,
    });
  });
}
