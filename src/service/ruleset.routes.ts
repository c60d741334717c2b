import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MAX_PROPOSAL_EXPIRY_DAYS } from '../contract';
import type { Db } from '../db';
import { RuleSetRepository, RuleSetStoreError } from '../db/rulesets';
import { RuleSet } from '../rules';
import { requireScope as guard, type AccessPolicy, type Scope } from './auth';
import { answeringWith, HttpProblem } from './errors';
import { documented, errorResponses } from './openapi';
import { ProposalConflictError, ProposalNotFoundError, ProposalRefusedError, type RuleSetGovernanceGateway } from './ruleset-gateway';

/** An IANA zone name Intl knows ('America/New_York', 'UTC'). */
export const TimeZone = z.string().min(1).max(64).refine((tz) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'expected an IANA time zone like America/New_York');

/** Body of POST /rulesets/proposals. The author is the operator key's holder, never a field of the body. */
export const ProposeRuleSetBody = z.strictObject({
  ruleSet: RuleSet,
  effectiveDate: z.iso.date(),
  timeZone: TimeZone.optional(),
  expiresInDays: z.int().min(1).max(MAX_PROPOSAL_EXPIRY_DAYS).optional(),
  note: z.string().trim().min(1).max(2000).optional(),
});

/** Body of an approval or a rejection: the decider is the key's holder. */
export const DecisionBody = z.strictObject({ note: z.string().trim().min(1).max(2000).optional() });

const ProposalParams = z.object({ id: z.string().regex(/^ruleset-proposal:[A-Za-z0-9_.:-]{1,200}:v[1-9][0-9]{0,8}$/, 'expected a proposal id like ruleset-proposal:default:v2') });
const VersionParams = z.object({ id: z.string().min(1).max(200), version: z.coerce.number().int().min(1) });

/** A proposal as its workflow's query answers it (RuleSetProposalView; preview and decisions documented loosely). */
const ProposalAnswer = z.looseObject({
  proposalId: z.string(),
  ruleSet: z.object({ id: z.string(), version: z.number().int() }),
  description: z.string(),
  author: z.string(),
  note: z.string().optional(),
  status: z.string().meta({ description: 'PROPOSED, APPROVED, REJECTED, ACTIVE, EXPIRED' }),
  proposedAt: z.string(),
  effectiveDate: z.string(),
  timeZone: z.string(),
  activatesAt: z.string(),
  expiresAt: z.string(),
  preview: z.unknown().optional().meta({ description: 'the effect on open deals, per deal' }),
  approval: z.unknown().optional(),
  rejection: z.unknown().optional(),
  activatedAt: z.string().optional(),
  expiredAt: z.string().optional(),
});

/** Refusals that are about who decides (403) rather than the proposal's state (409). */
const FORBIDDEN_REFUSALS = new Set(['RULESET.SELF_APPROVAL']);

function answer(reply: FastifyReply, err: unknown) {
  if (err instanceof HttpProblem) return reply.code(err.status).send(err.body);
  if (err instanceof ProposalNotFoundError) return reply.code(404).send({ error: 'PROPOSAL_NOT_FOUND', message: err.message, proposalId: err.proposalId });
  if (err instanceof ProposalConflictError) return reply.code(409).send({ error: 'PROPOSAL_EXISTS', message: err.message, proposalId: err.proposalId });
  if (err instanceof ProposalRefusedError) {
    const status = err.reason && FORBIDDEN_REFUSALS.has(err.reason) ? 403 : 409;
    return reply.code(status).send({ error: status === 403 ? 'FORBIDDEN' : 'ACTION_REJECTED', message: err.message, proposalId: err.proposalId, ...(err.reason ? { reason: err.reason } : {}) });
  }
  if (err instanceof RuleSetStoreError && err.code === 'RULESET.NOT_FOUND') return reply.code(404).send({ error: 'NOT_FOUND', message: err.message, reason: err.code });
  throw err;
}

/**
 * Rule-set governance over HTTP: every stored version (read), proposals (operate),
 * approvals and rejections (approve). Who proposes and who decides is the
 * authenticated key's name, so nobody approves their own proposal by typing another name.
 */
export function registerRuleSetRoutes(app: FastifyInstance, deps: { access: AccessPolicy; db: Db; governance?: RuleSetGovernanceGateway }) {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const requireScope = (scope: Scope) => guard(deps.access, scope);
  const repo = new RuleSetRepository(deps.db);
  const answering = answeringWith(answer);

  api.get('/rulesets', {
    preValidation: requireScope('read'),
    schema: {
      ...documented({ tag: 'rulesets', summary: 'Every stored rule-set version', scope: 'read' }),
      response: { 200: z.object({ items: z.array(z.looseObject({ id: z.string(), version: z.number().int(), status: z.string(), createdAt: z.string() })) }), ...errorResponses(401, 403, 429) },
    },
  }, async () => ({
    items: (await repo.listRuleSets()).map((r) => ({ ...r, createdAt: r.createdAt.toISOString() })),
  }));

  api.get('/rulesets/:id/:version', {
    preValidation: requireScope('read'),
    config: { inputNames: { params: 'rule-set version' } },
    schema: {
      ...documented({ tag: 'rulesets', summary: 'One rule-set version, with its governance record', scope: 'read' }),
      params: VersionParams,
      response: { 200: z.looseObject({ status: z.string(), createdAt: z.string(), governance: z.unknown().optional(), ruleSet: z.unknown() }), ...errorResponses(400, 401, 403, 404, 429) },
    },
  }, answering(async (request) => {
    const r = await repo.getRecord(request.params);
    return { status: r.status, createdAt: r.createdAt.toISOString(), ...(r.governance ? { governance: r.governance } : {}), ruleSet: r.ruleSet };
  }));

  const governance = deps.governance;
  if (!governance) return;

  api.post('/rulesets/proposals', {
    preValidation: requireScope('operate'),
    config: { inputNames: { body: 'rule-set proposal' } },
    schema: {
      ...documented({ tag: 'rulesets', summary: 'Propose a rule-set version', scope: 'operate', description: "The author is the key's holder; someone else with `approve` must approve it before it takes effect on `effectiveDate`." }),
      body: ProposeRuleSetBody,
      response: { 202: z.object({ proposalId: z.string(), status: z.literal('PROPOSED'), links: z.object({ self: z.string(), approval: z.string(), rejection: z.string() }) }), ...errorResponses(400, 401, 403, 409, 429) },
    },
  }, answering(async (request, reply) => {
    const body = request.body;
    const by = request.principal!.name;
    const { proposalId } = await governance.propose({ ...body, by });
    request.log.info({ operator: by, proposalId, effectiveDate: body.effectiveDate }, 'rule-set version proposed');
    return reply.code(202).send({ proposalId, status: 'PROPOSED', links: { self: `/rulesets/proposals/${proposalId}`, approval: `/rulesets/proposals/${proposalId}/approval`, rejection: `/rulesets/proposals/${proposalId}/rejection` } });
  }));

  api.get('/rulesets/proposals/:id', {
    preValidation: requireScope('read'),
    config: { inputNames: { params: 'proposal id' } },
    schema: {
      ...documented({ tag: 'rulesets', summary: 'A rule-set proposal and its state', scope: 'read' }),
      params: ProposalParams,
      response: { 200: ProposalAnswer, ...errorResponses(400, 401, 403, 404, 429) },
    },
  }, answering(async (request) => ({ ...(await governance.getProposal(request.params.id)) })));

  for (const [path, decide, what, summary] of [
    ['approval', (id: string, req: { by: string; note?: string }) => governance.approve(id, req), 'approves', 'Approve a rule-set proposal (not your own)'],
    ['rejection', (id: string, req: { by: string; note?: string }) => governance.reject(id, req), 'rejects', 'Reject a rule-set proposal'],
  ] as const) {
    api.post(`/rulesets/proposals/:id/${path}`, {
      preValidation: requireScope('approve'),
      config: { inputNames: { params: 'proposal id', body: path } },
      schema: {
        ...documented({ tag: 'rulesets', summary, scope: 'approve', description: "The decider is the key's holder; the author of a proposal cannot approve it (403)." }),
        params: ProposalParams,
        body: DecisionBody,
        response: { 200: ProposalAnswer, ...errorResponses(400, 401, 403, 404, 409, 429) },
      },
    }, answering(async (request) => {
      const { id } = request.params;
      const by = request.principal!.name;
      request.log.info({ operator: by, proposalId: id }, `operator ${what} rule-set proposal`);
      return { ...(await decide(id, { by, ...(request.body.note ? { note: request.body.note } : {}) })) };
    }));
  }
}
