import { z } from 'zod';
import { ruleSetProposalId, type RuleSetProposalView } from '../../contract';
import { HttpProblem } from '../errors';
import { ProposalNotFoundError } from '../ruleset-gateway';
import { badForm, filled, type ConsoleContext } from './context';
import { renderRuleSetsPage } from './rulesets.page';
import { chromeFor } from './session';

const ProposalParams = z.object({ id: z.string().regex(/^ruleset-proposal:[A-Za-z0-9_.-]{1,100}:v\d{1,9}$/, 'expected a proposal id') });
const DecisionForm = z.object({ note: z.string().trim().min(1).max(2000).optional() });

/** GET /console/rulesets, and approve / reject a proposal (approve scope). */
export function registerRuleSetRoutes(ctx: ConsoleContext): void {
  ctx.scope.get('/console/rulesets', ctx.read, async (request, reply) => {
    const drafts = (await ctx.deps.rulesets.listRuleSets()).filter((r) => r.status === 'draft');
    const unreadable: string[] = [];
    const proposals: RuleSetProposalView[] = [];
    for (const d of ctx.deps.governance ? drafts : []) {
      const id = ruleSetProposalId(d);
      try {
        proposals.push(await ctx.deps.governance!.getProposal(id));
      } catch (err) {
        if (!(err instanceof ProposalNotFoundError)) request.log.warn({ err, proposalId: id }, 'console: could not read a proposal');
        unreadable.push(id);
      }
    }
    ctx.html(reply);
    return renderRuleSetsPage({ chrome: await chromeFor(request, reply), proposals, unreadable, governance: ctx.deps.governance !== undefined });
  });

  for (const [path, verb] of [['approval', 'approve'], ['rejection', 'reject']] as const) {
    ctx.scope.post(`/console/rulesets/proposals/:id/${path}`, ctx.approve, async (request, reply) => {
      const { id } = ProposalParams.parse(request.params);
      const form = filled(request.body);
      const parsed = DecisionForm.safeParse(form);
      return ctx.acted(request, reply, '/console/rulesets', { action: verb === 'approve' ? 'approve-ruleset' : 'reject-ruleset', target: id, reason: form.note ?? null }, async () => {
        if (!parsed.success) throw badForm(parsed.error);
        if (!ctx.deps.governance) throw new HttpProblem(404, 'NOT_FOUND', 'this service runs without rule-set governance');
        const req = { by: request.consoleOperator!.name, ...(parsed.data.note ? { note: parsed.data.note } : {}) };
        const view = await (verb === 'approve' ? ctx.deps.governance.approve(id, req) : ctx.deps.governance.reject(id, req));
        return `${id}: ${view.status.toLowerCase()}.`;
      });
    });
  }
}
