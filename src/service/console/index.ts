import { randomBytes } from 'node:crypto';
import type { FastifyError, FastifyInstance } from 'fastify';
import { registerAssets } from './assets';
import { registerBillingRoutes } from './billing.routes';
import { consoleContext, type ConsoleDeps } from './context';
import { registerDealRoutes } from './deals.routes';
import { registerExceptionRoutes } from './exceptions.routes';
import { registerInboxRoutes } from './inbox.routes';
import { registerKpiRoutes } from './kpis.routes';
import { registerRuleSetRoutes } from './rulesets.routes';
import { PAGE_HEADERS } from './layout';
import { registerSession, registerSignIn, renderProblemPage } from './session';

export type { ConsoleDeps };

/**
 * The operator console under /console: sign-in with an operator key, then deals, exceptions,
 * billing release, the webhook inbox, rule-set proposals and KPIs, each a server-rendered page.
 * Every action is a CSRF-protected POST made in the signed-in holder's name and written to
 * operator_actions. Sessions, form parsing and CSRF live in the console's own plugin scope.
 */
export async function registerConsole(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  await app.register(async (scope) => {
    // Pages for a browser, not the HTTP API: kept out of the OpenAPI document.
    scope.addHook('onRoute', (route) => {
      route.schema = { ...route.schema, hide: true };
    });
    await registerSession(scope, { key: deps.sessionKey ?? randomBytes(32), keyring: deps.keyring });
    registerAssets(scope);
    registerSignIn(scope, deps.keyring);

    // Failures before a handler (CSRF token missing or wrong, bad parameters) answer as a page, not JSON.
    scope.setErrorHandler(async (error: FastifyError, request, reply) => {
      const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : error.name === 'ZodError' ? 400 : 500;
      if (status >= 500) request.log.error({ err: error }, 'console: request failed');
      const message =
        error.code === 'FST_CSRF_INVALID_TOKEN' || error.code === 'FST_CSRF_MISSING_SECRET'
          ? 'The form was stale or not from this console (CSRF token missing or invalid). Reload the page and try again.'
          : status >= 500
            ? 'Something went wrong; see the service log.'
            : error.name === 'ZodError'
              ? (error as unknown as { issues: Array<{ path: PropertyKey[]; message: string }> }).issues.map((i) => `${i.path.join('.') || '(request)'}: ${i.message}`).join('; ')
              : error.message;
      return reply.code(status).headers(PAGE_HEADERS).send(renderProblemPage(status, status === 403 ? 'Refused' : 'Error', message));
    });

    scope.get('/console', async (_request, reply) => reply.redirect('/console/deals', 303));
    const ctx = consoleContext(scope, deps);
    registerDealRoutes(ctx);
    registerExceptionRoutes(ctx);
    registerBillingRoutes(ctx);
    registerInboxRoutes(ctx);
    registerRuleSetRoutes(ctx);
    registerKpiRoutes(ctx);
  });
}
