import { randomBytes } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ruleSetProposalId, type DealView, type DeliveryView, type OperatorAction, type RevenueWaterfall, type RuleSetProposalView } from '../../contract';
import type { AuditRepository } from '../../db/audit';
import type { InboxRepository, InboxRow } from '../../db/inbox';
import type { OperatorActionInput, OperatorActionRepository } from '../../db/operator-actions';
import type { RuleSetRepository } from '../../db/rulesets';
import type { Keyring } from '../auth';
import type { TemporalUiLink } from '../dashboard.routes';
import { ActionRejectedError, DealNotFoundError, type DealGateway, type DealSummary } from '../deal-gateway';
import { HttpProblem } from '../errors';
import { ProposalNotFoundError, ProposalRefusedError, type RuleSetGovernanceGateway } from '../ruleset-gateway';
import { renderRuleSetsPage } from './rulesets.page';
import { AnnotateExceptionBody, InvoiceDecisionBody, OperatorActionBody, WriteOffBody } from '../operator.routes';
import type { WebhookReplay } from '../webhooks/replay';
import { registerAssets } from './assets';
import { billingQueue } from './billing';
import { renderBillingPage } from './billing.page';
import { dealAmounts, funnel, totalsByCurrency, type DealAmounts } from './deals';
import { renderDealPage, renderDealsPage } from './deals.page';
import { groupExceptions, parkedItems } from './exceptions';
import { renderExceptionsPage } from './exceptions.page';
import { renderInboxPage } from './inbox.page';
import { kpiSeries } from './kpis';
import { renderKpisPage } from './kpis.page';
import { chromeFor, registerSession, registerSignIn, renderProblemPage, requireOperator, setFlash } from './session';

export interface ConsoleDeps {
  keyring: Keyring;
  gateway: DealGateway;
  inbox: InboxRepository;
  audit: AuditRepository;
  actions: OperatorActionRepository;
  replay: WebhookReplay;
  ui: TemporalUiLink;
  /** 32 bytes; sessions survive restarts only with a fixed key (Q2C_CONSOLE_SESSION_KEY). Absent: a random key per process. */
  sessionKey?: Buffer;
  /** At most this many deals per page (default 200). */
  dealLimit?: number;
  rulesets: RuleSetRepository;
  /** The rule-set proposal workflows; without them the rule-sets page lists nothing to decide. */
  governance?: RuleSetGovernanceGateway;
}

const DealParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'expected an opportunity id') });
const ExceptionParams = DealParams.extend({ exceptionId: z.coerce.number().int().positive() });
const InvoiceParams = DealParams.extend({ invoiceId: z.string().min(1).max(200) });
const InboxParams = z.object({ id: z.coerce.number().int().positive() });
const ProposalParams = z.object({ id: z.string().regex(/^ruleset-proposal:[A-Za-z0-9_.-]{1,100}:v\d{1,9}$/, 'expected a proposal id') });
const DecisionForm = z.object({ note: z.string().trim().min(1).max(2000).optional() });
const StageQuery = z.object({ stage: z.string().regex(/^[A-Z_]{1,40}$/).optional() });
const InboxStatusQuery = z.object({ status: z.enum(['attention', 'dispatched', 'duplicate']).default('attention') });

/** A form's empty inputs are absent fields. */
const filled = (body: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries((body ?? {}) as Record<string, unknown>).filter(([k, v]) => k !== '_csrf' && typeof v === 'string' && v.trim() !== '')) as Record<string, string>;

/** Runs `fn` over `items`, at most `n` at a time, keeping the order. */
async function mapLimit<T, R>(items: readonly T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

/**
 * The operator console under /console: sign-in with an operator key, then deals, exceptions,
 * billing release, the webhook inbox and KPIs, each a server-rendered page. Every action is a
 * CSRF-protected POST made in the signed-in holder's name and written to operator_actions.
 */
export async function registerConsole(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const limit = deps.dealLimit ?? 200;
  const sessionKey = deps.sessionKey ?? randomBytes(32);
  await app.register(async (scope) => {
    await registerSession(scope, { key: sessionKey, keyring: deps.keyring });
    registerAssets(scope);
    registerSignIn(scope, deps.keyring);

    // Failures before a handler (CSRF token missing or wrong, bad form) answer as a page, not JSON.
    scope.setErrorHandler(async (error: FastifyError, request, reply) => {
      const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
      if (status >= 500) request.log.error({ err: error }, 'console: request failed');
      const message = error.code === 'FST_CSRF_INVALID_TOKEN' || error.code === 'FST_CSRF_MISSING_SECRET' ? 'The form was stale or not from this console (CSRF token missing or invalid). Reload the page and try again.' : status >= 500 ? 'Something went wrong; see the service log.' : error.message;
      return reply.code(status).type('text/html; charset=utf-8').send(renderProblemPage(status, status === 403 ? 'Refused' : 'Error', message));
    });

    const read = { preHandler: requireOperator(deps.keyring, 'read') };
    const operate = { preHandler: [scope.csrfProtection, requireOperator(deps.keyring, 'operate')] };
    const approve = { preHandler: [scope.csrfProtection, requireOperator(deps.keyring, 'approve')] };
    const html = (reply: FastifyReply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-store');

    scope.get('/console', async (_request, reply) => reply.redirect('/console/deals', 303));

    /** Records the action, sets the flash, and sends the browser back to `to`. */
    async function acted(request: FastifyRequest, reply: FastifyReply, to: string, action: Omit<OperatorActionInput, 'actor' | 'via' | 'outcome'>, run: () => Promise<string>) {
      const actor = request.consoleOperator!.name;
      try {
        const message = await run();
        await deps.actions.record({ ...action, actor, via: 'console', outcome: 'ok' });
        setFlash(request, { kind: 'ok', text: message });
      } catch (err) {
        const refusal = refusalOf(err);
        if (!refusal) throw err;
        await deps.actions.record({ ...action, actor, via: 'console', outcome: refusal.code });
        setFlash(request, { kind: 'error', text: refusal.text });
      }
      return reply.redirect(to, 303);
    }

    scope.get('/console/deals', read, async (request, reply) => {
      const { stage } = StageQuery.parse(request.query ?? {});
      const all = await deps.gateway.listDeals({ limit });
      const shown = stage ? all.filter((d) => d.stage === stage) : all;
      const rows = await mapLimit(shown, 8, async (summary) => ({ summary, ...(await amountsOf(summary).catch(() => ({}))) }));
      html(reply);
      return renderDealsPage({ chrome: await chromeFor(request, reply), rows, funnel: funnel(all), totals: totalsByCurrency(rows.flatMap((r) => (r.amounts ? [r.amounts] : []))), ui: deps.ui, ...(stage ? { stage } : {}) });
    });

    async function amountsOf(summary: DealSummary): Promise<{ amounts?: DealAmounts }> {
      const { delivery } = await deps.gateway.queryDelivery(summary.opportunityId);
      if (!delivery) return {};
      const waterfall = await deps.gateway.revenueWaterfall(summary.opportunityId).then((w) => w.waterfall, () => undefined);
      return { amounts: dealAmounts(delivery, waterfall) };
    }

    scope.get('/console/deals/:id', read, async (request, reply) => {
      const { id } = DealParams.parse(request.params);
      let view: DealView;
      let workflowId: string;
      try {
        ({ workflowId, state: view } = await deps.gateway.queryDeal(id));
      } catch (err) {
        if (!(err instanceof DealNotFoundError)) throw err;
        return html(reply).code(404).send(renderProblemPage(404, 'No such deal', err.message));
      }
      const { delivery } = await deps.gateway.queryDelivery(id).catch(() => ({ delivery: undefined as DeliveryView | undefined }));
      const waterfall: RevenueWaterfall | undefined = delivery ? await deps.gateway.revenueWaterfall(id).then((w) => w.waterfall, () => undefined) : undefined;
      const [audit, actions] = await Promise.all([deps.audit.forDeal(workflowId), deps.actions.forDeal(id)]);
      html(reply);
      return renderDealPage({
        chrome: await chromeFor(request, reply),
        workflowId,
        view,
        ...(delivery ? { delivery, amounts: dealAmounts(delivery, waterfall) } : {}),
        ...(waterfall ? { waterfall } : {}),
        audit,
        actions: actions.map((a) => ({ ...a, at: a.at.toISOString() })),
        ui: deps.ui,
      });
    });

    scope.get('/console/exceptions', read, async (request, reply) => {
      const deals = await deps.gateway.listDeals({ needsAttention: true, openOnly: true, limit });
      const unreadable: string[] = [];
      const items = (
        await mapLimit(deals, 8, async (d) => {
          try {
            const [{ state }, { delivery }] = await Promise.all([deps.gateway.queryDeal(d.opportunityId), deps.gateway.queryDelivery(d.opportunityId)]);
            return parkedItems(d.opportunityId, state, delivery);
          } catch (err) {
            request.log.warn({ err, opportunityId: d.opportunityId }, 'console: could not read a deal needing attention');
            unreadable.push(d.opportunityId);
            return [];
          }
        })
      ).flat();
      html(reply);
      return renderExceptionsPage({ chrome: await chromeFor(request, reply), groups: groupExceptions(items), unreadable });
    });

    scope.post('/console/deals/:id/exceptions/:exceptionId/resolve', operate, async (request, reply) => {
      const { id, exceptionId } = ExceptionParams.parse(request.params);
      const form = filled(request.body);
      // An override's value may be empty on purpose (removing an optional field).
      if (form.action === 'override' && form.value === undefined) form.value = '';
      const parsed = OperatorActionBody.safeParse(form);
      const kind = form.action === 'override' ? 'override' : 'resolve';
      return acted(request, reply, '/console/exceptions', { action: kind, opportunityId: id, target: `exception ${exceptionId}`, reason: form.note ?? form.reason ?? null, detail: form }, async () => {
        if (!parsed.success) throw badForm(parsed.error);
        const by = request.consoleOperator!.name;
        // The exception the operator saw must still be the open one: never act on a newer one by mistake.
        const { state } = await deps.gateway.queryDeal(id);
        if (state.exceptions[0]?.id !== exceptionId) throw new HttpProblem(409, 'ACTION_REJECTED', `exception ${exceptionId} of ${id} is no longer open`);
        await deps.gateway.resolveException(id, { ...(parsed.data as OperatorAction), by });
        return `${id}: ${parsed.data.action} applied to exception ${exceptionId}.`;
      });
    });

    scope.post('/console/deals/:id/exceptions/:exceptionId/notes', operate, async (request, reply) => {
      const { id, exceptionId } = ExceptionParams.parse(request.params);
      const raw = (request.body ?? {}) as Record<string, unknown>;
      // An emptied assignee field unassigns: it is kept even when empty.
      const form: Record<string, string> = { ...filled(raw), ...(typeof raw.assignee === 'string' ? { assignee: raw.assignee } : {}) };
      const parsed = AnnotateExceptionBody.safeParse(form);
      return acted(request, reply, '/console/exceptions', { action: 'annotate', opportunityId: id, target: `exception ${exceptionId}`, reason: form.note ?? null, ...(form.assignee !== undefined ? { detail: { assignee: form.assignee } } : {}) }, async () => {
        if (!parsed.success) throw badForm(parsed.error);
        await deps.gateway.annotateException(id, { exceptionId, by: request.consoleOperator!.name, ...parsed.data });
        return `${id}: exception ${exceptionId} updated.`;
      });
    });

    scope.get('/console/billing', read, async (request, reply) => {
      const deals = await deps.gateway.listDeals({ openOnly: true, limit });
      const unreadable: string[] = [];
      const withDelivery = (
        await mapLimit(deals, 8, async (d) => {
          try {
            const { delivery } = await deps.gateway.queryDelivery(d.opportunityId);
            return delivery ? [{ opportunityId: d.opportunityId, delivery }] : [];
          } catch {
            unreadable.push(d.opportunityId);
            return [];
          }
        })
      ).flat();
      html(reply);
      return renderBillingPage({ chrome: await chromeFor(request, reply), queue: billingQueue(withDelivery), unreadable });
    });

    scope.post('/console/deals/:id/invoices/:invoiceId/decision', approve, async (request, reply) => {
      const { id, invoiceId } = InvoiceParams.parse(request.params);
      const form = filled(request.body);
      const parsed = InvoiceDecisionBody.safeParse(form);
      return acted(request, reply, '/console/billing', { action: 'decide', opportunityId: id, target: invoiceId, reason: form.reason ?? null, detail: { decision: form.decision } }, async () => {
        if (!parsed.success) throw badForm(parsed.error);
        if (parsed.data.decision === 'reject' && !parsed.data.reason) throw new HttpProblem(400, 'BAD_REQUEST', 'a rejection needs a reason');
        const { result } = await deps.gateway.decideInvoice(id, { invoiceId, decision: parsed.data.decision, by: request.consoleOperator!.name, ...(parsed.data.reason ? { reason: parsed.data.reason } : {}) });
        return `Invoice ${result.number} ${parsed.data.decision === 'approve' ? 'approved: it is taxed and posted next' : 'rejected'} (${result.status}).`;
      });
    });

    scope.post('/console/deals/:id/invoices/:invoiceId/write-off', approve, async (request, reply) => {
      const { id, invoiceId } = InvoiceParams.parse(request.params);
      const form = filled(request.body);
      const parsed = WriteOffBody.safeParse(form);
      return acted(request, reply, '/console/billing', { action: 'write-off', opportunityId: id, target: invoiceId, reason: form.reason ?? null }, async () => {
        if (!parsed.success) throw badForm(parsed.error);
        const { result } = await deps.gateway.writeOffInvoice(id, { invoiceId, by: request.consoleOperator!.name, reason: parsed.data.reason });
        return `Invoice ${result.number} written off (${result.status}).`;
      });
    });

    scope.get('/console/inbox', read, async (request, reply) => {
      const { status } = InboxStatusQuery.parse(request.query ?? {});
      let rows: InboxRow[];
      if (status === 'attention') {
        const [rejected, accepted] = await Promise.all([deps.inbox.list({ status: 'rejected', limit: 200 }), deps.inbox.list({ status: 'accepted', limit: 200 })]);
        rows = [...rejected, ...accepted].sort((a, b) => b.id - a.id);
      } else rows = await deps.inbox.list({ status, limit: 200 });
      html(reply);
      return renderInboxPage({ chrome: await chromeFor(request, reply), rows, status });
    });

    scope.post('/console/inbox/:id/replay', operate, async (request, reply) => {
      const { id } = InboxParams.parse(request.params);
      let opportunityId: string | null = null;
      return acted(request, reply, '/console/inbox', { action: 'replay', get opportunityId() { return opportunityId; }, target: `inbox ${id}` }, async () => {
        const result = await deps.replay.replay(id, request.id);
        opportunityId = result.workflowId?.replace(/^deal-/, '') ?? null;
        return result.outcome === 'dispatched' ? `Delivery ${id} replayed to ${result.workflowId}.` : `Delivery ${id} had already reached ${result.workflowId ?? 'its deal'}: nothing sent again.`;
      });
    });

    scope.get('/console/rulesets', read, async (request, reply) => {
      const drafts = (await deps.rulesets.listRuleSets()).filter((r) => r.status === 'draft');
      const unreadable: string[] = [];
      const proposals: RuleSetProposalView[] = [];
      for (const d of deps.governance ? drafts : []) {
        const id = ruleSetProposalId(d);
        try {
          proposals.push(await deps.governance!.getProposal(id));
        } catch (err) {
          if (!(err instanceof ProposalNotFoundError)) request.log.warn({ err, proposalId: id }, 'console: could not read a proposal');
          unreadable.push(id);
        }
      }
      html(reply);
      return renderRuleSetsPage({ chrome: await chromeFor(request, reply), proposals, unreadable, governance: deps.governance !== undefined });
    });

    for (const [path, verb] of [['approval', 'approve'], ['rejection', 'reject']] as const) {
      scope.post(`/console/rulesets/proposals/:id/${path}`, approve, async (request, reply) => {
        const { id } = ProposalParams.parse(request.params);
        const form = filled(request.body);
        const parsed = DecisionForm.safeParse(form);
        return acted(request, reply, '/console/rulesets', { action: verb === 'approve' ? 'approve-ruleset' : 'reject-ruleset', target: id, reason: form.note ?? null }, async () => {
          if (!parsed.success) throw badForm(parsed.error);
          if (!deps.governance) throw new HttpProblem(404, 'NOT_FOUND', 'this service runs without rule-set governance');
          const req = { by: request.consoleOperator!.name, ...(parsed.data.note ? { note: parsed.data.note } : {}) };
          const view = await (verb === 'approve' ? deps.governance.approve(id, req) : deps.governance.reject(id, req));
          return `${id}: ${view.status.toLowerCase()}.`;
        });
      });
    }

    scope.get('/console/kpis', read, async (request, reply) => {
      const deals = await deps.gateway.listDeals({ limit });
      const read = await mapLimit(deals, 8, async (d) => {
        try {
          const [{ state }, { delivery }] = await Promise.all([deps.gateway.queryDeal(d.opportunityId), deps.gateway.queryDelivery(d.opportunityId)]);
          return [{ opportunityId: d.opportunityId, view: state, ...(delivery ? { delivery } : {}) }];
        } catch {
          return [];
        }
      });
      html(reply);
      return renderKpisPage({
        chrome: await chromeFor(request, reply),
        series: kpiSeries(read.flat()),
        deals: deals.length,
        daysToPay: "Not shown: the deals' state keeps each invoice's paid total but not when it was paid.",
      });
    });
  });
}

/** A refusal the operator should read (the workflow's, the form's, the inbox's), or undefined for a bug. */
function refusalOf(err: unknown): { code: string; text: string } | undefined {
  if (err instanceof ActionRejectedError) return { code: err.reason ?? 'ACTION_REJECTED', text: `Refused${err.reason ? ` (${err.reason})` : ''}: ${err.message}` };
  if (err instanceof DealNotFoundError) return { code: 'DEAL_NOT_FOUND', text: err.message };
  if (err instanceof ProposalRefusedError) return { code: err.reason ?? 'REFUSED', text: `Refused${err.reason ? ` (${err.reason})` : ''}: ${err.message}` };
  if (err instanceof ProposalNotFoundError) return { code: 'PROPOSAL_NOT_FOUND', text: err.message };
  if (err instanceof HttpProblem) {
    const issues = (err.details.issues ?? []).map((i) => `${i.path || '(form)'}: ${i.message}`).join('; ');
    return { code: err.code, text: `${err.message}${issues ? ` — ${issues}` : ''}` };
  }
  return undefined;
}

const badForm = (error: z.ZodError) =>
  new HttpProblem(400, 'BAD_REQUEST', 'the form is incomplete', { issues: error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
