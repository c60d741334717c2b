import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { MAX_PROPOSAL_EXPIRY_DAYS } from '../contract';
import type { Db } from '../db';
import { RuleSetRepository, RuleSetStoreError } from '../db/rulesets';
import { RuleSet } from '../rules';
import { requireScope as guard, type AccessPolicy } from './auth';
import { HttpProblem, parseInput as parse } from './errors';
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
  const requireScope = (scope: 'read' | 'operate' | 'approve') => guard(deps.access, scope);
  const repo = new RuleSetRepository(deps.db);

  app.get('/rulesets', { preHandler: requireScope('read') }, async () => ({
    items: (await repo.listRuleSets()).map((r) => ({ ...r, createdAt: r.createdAt.toISOString() })),
  }));

  app.get('/rulesets/:id/:version', { preHandler: requireScope('read') }, async (request, reply) => {
    try {
      const ref = parse(VersionParams, request.params, 'rule-set version');
      const r = await repo.getRecord(ref);
      return { status: r.status, createdAt: r.createdAt.toISOString(), ...(r.governance ? { governance: r.governance } : {}), ruleSet: r.ruleSet };
    } catch (err) {
      return answer(reply, err);
    }
  });

  const governance = deps.governance;
  if (!governance) return;

  app.post('/rulesets/proposals', { preHandler: requireScope('operate') }, async (request, reply) => {
    try {
      const body = parse(ProposeRuleSetBody, request.body ?? {}, 'rule-set proposal');
      const by = request.principal!.name;
      const { proposalId } = await governance.propose({ ...body, by });
      request.log.info({ operator: by, proposalId, effectiveDate: body.effectiveDate }, 'rule-set version proposed');
      return reply.code(202).send({ proposalId, status: 'PROPOSED', links: { self: `/rulesets/proposals/${proposalId}`, approval: `/rulesets/proposals/${proposalId}/approval`, rejection: `/rulesets/proposals/${proposalId}/rejection` } });
    } catch (err) {
      return answer(reply, err);
    }
  });

  app.get('/rulesets/proposals/:id', { preHandler: requireScope('read') }, async (request, reply) => {
    try {
      const { id } = parse(ProposalParams, request.params, 'proposal id');
      return await governance.getProposal(id);
    } catch (err) {
      return answer(reply, err);
    }
  });

  for (const [path, decide, what] of [
    ['approval', (id: string, req: { by: string; note?: string }) => governance.approve(id, req), 'approves'],
    ['rejection', (id: string, req: { by: string; note?: string }) => governance.reject(id, req), 'rejects'],
  ] as const) {
    app.post(`/rulesets/proposals/:id/${path}`, { preHandler: requireScope('approve') }, async (request, reply) => {
      try {
        const { id } = parse(ProposalParams, request.params, 'proposal id');
        const body = parse(DecisionBody, request.body ?? {}, path);
        const by = request.principal!.name;
        request.log.info({ operator: by, proposalId: id }, `operator ${what} rule-set proposal`);
        return await decide(id, { by, ...(body.note ? { note: body.note } : {}) });
      } catch (err) {
        return answer(reply, err);
      }
    });
  }
}
