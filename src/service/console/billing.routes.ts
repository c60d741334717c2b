import { InvoiceDecisionBody, WriteOffBody } from '../operator.routes';
import { HttpProblem } from '../errors';
import { billingQueue } from './billing';
import { renderBillingPage } from './billing.page';
import { badForm, filled, InvoiceParams, mapLimit, type ConsoleContext } from './context';
import { chromeFor } from './session';

/** GET /console/billing, and approve / reject / write off an invoice (approve scope). */
export function registerBillingRoutes(ctx: ConsoleContext): void {
  ctx.scope.get('/console/billing', ctx.read, async (request, reply) => {
    const deals = await ctx.deps.gateway.listDeals({ openOnly: true, limit: ctx.limit });
    const unreadable: string[] = [];
    const withDelivery = (
      await mapLimit(deals, 8, async (d) => {
        try {
          const { delivery } = await ctx.deps.gateway.queryDelivery(d.opportunityId);
          return delivery ? [{ opportunityId: d.opportunityId, delivery }] : [];
        } catch {
          unreadable.push(d.opportunityId);
          return [];
        }
      })
    ).flat();
    ctx.html(reply);
    return renderBillingPage({ chrome: await chromeFor(request, reply), queue: billingQueue(withDelivery), unreadable });
  });

  ctx.scope.post('/console/deals/:id/invoices/:invoiceId/decision', ctx.approve, async (request, reply) => {
    const { id, invoiceId } = InvoiceParams.parse(request.params);
    const form = filled(request.body);
    const parsed = InvoiceDecisionBody.safeParse(form);
    return ctx.acted(request, reply, '/console/billing', { action: 'decide', opportunityId: id, target: invoiceId, reason: form.reason ?? null, detail: { decision: form.decision } }, async () => {
      if (!parsed.success) throw badForm(parsed.error);
      if (parsed.data.decision === 'reject' && !parsed.data.reason) throw new HttpProblem(400, 'BAD_REQUEST', 'a rejection needs a reason');
      const { result } = await ctx.deps.gateway.decideInvoice(id, { invoiceId, decision: parsed.data.decision, by: request.consoleOperator!.name, ...(parsed.data.reason ? { reason: parsed.data.reason } : {}) });
      return `Invoice ${result.number} ${parsed.data.decision === 'approve' ? 'approved: it is taxed and posted next' : 'rejected'} (${result.status}).`;
    });
  });

  ctx.scope.post('/console/deals/:id/invoices/:invoiceId/write-off', ctx.approve, async (request, reply) => {
    const { id, invoiceId } = InvoiceParams.parse(request.params);
    const form = filled(request.body);
    const parsed = WriteOffBody.safeParse(form);
    return ctx.acted(request, reply, '/console/billing', { action: 'write-off', opportunityId: id, target: invoiceId, reason: form.reason ?? null }, async () => {
      if (!parsed.success) throw badForm(parsed.error);
      const { result } = await ctx.deps.gateway.writeOffInvoice(id, { invoiceId, by: request.consoleOperator!.name, reason: parsed.data.reason });
      return `Invoice ${result.number} written off (${result.status}).`;
    });
  });
}
