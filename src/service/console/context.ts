import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import { z } from 'zod';
import type { AuditRepository } from '../../db/audit';
import type { InboxRepository } from '../../db/inbox';
import type { OperatorActionInput, OperatorActionRepository } from '../../db/operator-actions';
import type { RuleSetRepository } from '../../db/rulesets';
import type { Keyring } from '../auth';
import type { TemporalUiLink } from '../dashboard.routes';
import { ActionRejectedError, DealNotFoundError, type DealGateway } from '../deal-gateway';
import { HttpProblem } from '../errors';
import { ProposalNotFoundError, ProposalRefusedError, type RuleSetGovernanceGateway } from '../ruleset-gateway';
import type { WebhookReplay } from '../webhooks/replay';
import { PAGE_HEADERS } from './layout';
import { requireOperator, setFlash } from './session';

export interface ConsoleDeps {
  keyring: Keyring;
  gateway: DealGateway;
  inbox: InboxRepository;
  audit: AuditRepository;
  actions: OperatorActionRepository;
  replay: WebhookReplay;
  rulesets: RuleSetRepository;
  /** The rule-set proposal workflows; without them the rule-sets page lists nothing to decide. */
  governance?: RuleSetGovernanceGateway;
  ui: TemporalUiLink;
  /** 32 bytes; sessions survive restarts only with a fixed key (Q2C_CONSOLE_SESSION_KEY). Absent: a random key per process. */
  sessionKey?: Buffer;
  /** At most this many deals per page (default 200). */
  dealLimit?: number;
}

/** What every page's routes share: the console's plugin scope, its deps, the guards and the action wrapper. */
export interface ConsoleContext {
  scope: FastifyInstance;
  deps: ConsoleDeps;
  limit: number;
  read: { preHandler: preHandlerHookHandler };
  operate: { preHandler: preHandlerHookHandler[] };
  approve: { preHandler: preHandlerHookHandler[] };
  html(reply: FastifyReply): FastifyReply;
  /** Runs an action, records it (who, why, outcome) in operator_actions, flashes the outcome and sends the browser back to `to`. */
  acted(request: FastifyRequest, reply: FastifyReply, to: string, action: Omit<OperatorActionInput, 'actor' | 'via' | 'outcome'>, run: () => Promise<string>): Promise<FastifyReply>;
}

export function consoleContext(scope: FastifyInstance, deps: ConsoleDeps): ConsoleContext {
  return {
    scope,
    deps,
    limit: deps.dealLimit ?? 200,
    read: { preHandler: requireOperator(deps.keyring, 'read') },
    // The CSRF check first: a forged POST is refused before anything else is looked at.
    operate: { preHandler: [scope.csrfProtection, requireOperator(deps.keyring, 'operate')] },
    approve: { preHandler: [scope.csrfProtection, requireOperator(deps.keyring, 'approve')] },
    html: (reply) => reply.headers(PAGE_HEADERS),
    async acted(request, reply, to, action, run) {
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
    },
  };
}

export const DealParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'expected an opportunity id') });
export const ExceptionParams = DealParams.extend({ exceptionId: z.coerce.number().int().positive() });
export const InvoiceParams = DealParams.extend({ invoiceId: z.string().min(1).max(200) });

/** A form's empty inputs are absent fields (the CSRF token is not a field). */
export const filled = (body: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries((body ?? {}) as Record<string, unknown>).filter(([k, v]) => k !== '_csrf' && typeof v === 'string' && v.trim() !== '')) as Record<string, string>;

export const badForm = (error: z.ZodError) =>
  new HttpProblem(400, 'BAD_REQUEST', 'the form is incomplete', { issues: error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });

/** Runs `fn` over `items`, at most `n` at a time, keeping the order. */
export async function mapLimit<T, R>(items: readonly T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
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

/** A refusal the operator should read (the workflow's, the form's, the inbox's), or undefined for a bug. */
export function refusalOf(err: unknown): { code: string; text: string } | undefined {
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
