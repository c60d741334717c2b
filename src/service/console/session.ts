import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import fastifySecureSession from '@fastify/secure-session';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { keyDigest, type Keyring, type Principal, type Scope } from '../auth';
import { csrfField, escapeHtml, PAGE_HEADERS, renderLayout, type Chrome, type Flash } from './layout';

/** What the session cookie holds: the holder, their scopes and the key's digest (never the key). */
export interface ConsoleOperator {
  name: string;
  scopes: Scope[];
  keyDigest: string;
}

declare module '@fastify/secure-session' {
  interface SessionData {
    operator: ConsoleOperator;
    flash: Flash;
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the console guard: the session's operator as the keyring knows them now. */
    consoleOperator?: Principal;
  }
}

export const SESSION_COOKIE = 'q2c_console';
/** A signed-in session lasts a working day; signing in again renews it. */
export const SESSION_SECONDS = 12 * 60 * 60;

export interface SessionOptions {
  /** 32 bytes (libsodium secretbox key): encrypts and authenticates the cookie. */
  key: Buffer;
  keyring: Keyring;
}

/**
 * Sessions, form bodies and CSRF tokens, registered inside the console's own plugin
 * scope so the API and the webhooks keep their JSON and raw-body parsing.
 * The cookie is HttpOnly, SameSite=Strict, Secure when the request came over https.
 */
export async function registerSession(scope: FastifyInstance, opts: SessionOptions): Promise<void> {
  await scope.register(fastifyFormbody);
  await scope.register(fastifySecureSession, {
    key: opts.key,
    cookieName: SESSION_COOKIE,
    expiry: SESSION_SECONDS,
    cookie: { path: '/console', httpOnly: true, sameSite: 'strict', secure: 'auto' },
  });
  await scope.register(fastifyCsrf, { sessionPlugin: '@fastify/secure-session' });
}

/** The chrome of a signed-in page: operator, a form token and the one-time flash (taken off the session). */
export async function chromeFor(request: FastifyRequest, reply: FastifyReply): Promise<Chrome> {
  const operator = request.consoleOperator!;
  const flash = request.session.get('flash');
  if (flash) request.session.set('flash', undefined);
  const csrfToken = await reply.generateCsrf();
  return { operator: { name: operator.name, scopes: operator.scopes }, csrfToken, ...(flash ? { flash } : {}) };
}

export const setFlash = (request: FastifyRequest, flash: Flash): void => request.session.set('flash', flash);

/**
 * A preHandler for console routes: the session's key digest must still be in the keyring
 * (a removed key loses access at once) and allow `scope`. A page request without a
 * session goes to the sign-in form; a POST gets a 401/403 page.
 */
export function requireOperator(keyring: Keyring, scope: Scope) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const held = request.session.get('operator');
    const principal = held ? keyring.byDigest(held.keyDigest) : undefined;
    if (!principal) {
      if (held) request.session.set('operator', undefined);
      if (request.method === 'GET') return reply.redirect(`/console/sign-in?next=${encodeURIComponent(request.url)}`, 303);
      return reply.code(401).headers(PAGE_HEADERS).send(renderProblemPage(401, 'Sign in again', 'Your session has ended or its key was removed.'));
    }
    if (!keyring.allows(principal, scope)) {
      return reply
        .code(403)
        .headers(PAGE_HEADERS)
        .send(renderProblemPage(403, 'Not allowed', `${principal.name}'s key lacks the '${scope}' scope.`));
    }
    request.consoleOperator = principal;
  };
}

/** A page to return to after sign-in: only a path of the console itself. */
export const safeNext = (next: unknown): string =>
  typeof next === 'string' && /^\/console(\/[A-Za-z0-9/_.%-]*)?(\?[A-Za-z0-9=&_.%:-]*)?$/.test(next) ? next : '/console/deals';

const SignInBody = z.object({ key: z.string().min(1, 'enter your operator key').max(500), next: z.string().optional() });

export function renderSignIn(opts: { csrfToken: string; next: string; error?: string }): string {
  const body = `<h1>Sign in</h1>
${opts.error ? `<div class="flash error" role="alert">${escapeHtml(opts.error)}</div>` : ''}
<form method="post" action="/console/sign-in">
${csrfField({ csrfToken: opts.csrfToken, operator: { name: '', scopes: [] } })}
<input type="hidden" name="next" value="${escapeHtml(opts.next)}">
<p><label>Operator key<br><input type="password" name="key" autocomplete="current-password" size="60" autofocus required></label></p>
<p class="muted">The key from Q2C_OPERATOR_API_KEYS; its scopes decide what you may do (read, operate, approve). It is not stored: the session holds your name, scopes and the key's digest.</p>
<p><button type="submit">Sign in</button></p>
</form>`;
  return renderLayout({ title: 'Sign in', body });
}

export function renderProblemPage(status: number, title: string, message: string): string {
  return renderLayout({
    title,
    body: `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p><p class="muted">HTTP ${status}</p><p><a href="/console/sign-in">Sign in</a> · <a href="/console/deals">Deals</a></p>`,
  });
}

/** GET/POST /console/sign-in, POST /console/sign-out. */
export function registerSignIn(scope: FastifyInstance, keyring: Keyring): void {
  scope.get('/console/sign-in', async (request, reply) => {
    const next = safeNext((request.query as Record<string, unknown>).next);
    reply.headers(PAGE_HEADERS);
    return renderSignIn({ csrfToken: await reply.generateCsrf(), next });
  });

  scope.post('/console/sign-in', { preHandler: scope.csrfProtection }, async (request, reply) => {
    const parsed = SignInBody.safeParse(request.body ?? {});
    const next = safeNext(parsed.success ? parsed.data.next : undefined);
    const principal = parsed.success ? keyring.authenticate(`Bearer ${parsed.data.key}`) : undefined;
    if (!parsed.success || !principal) {
      request.log.warn({ console: 'sign-in refused' }, 'console: sign-in with an unknown key');
      reply.code(401).headers(PAGE_HEADERS);
      return renderSignIn({ csrfToken: await reply.generateCsrf(), next, error: parsed.success ? 'That key is not an operator key.' : parsed.error.issues[0]!.message });
    }
    // A new session for the new holder: nothing of a previous one (its CSRF secret included) carries over.
    request.session.regenerate();
    request.session.set('operator', { name: principal.name, scopes: [...principal.scopes], keyDigest: keyDigest(parsed.data.key) });
    request.log.info({ operator: principal.name }, 'console: signed in');
    return reply.redirect(next, 303);
  });

  scope.post('/console/sign-out', { preHandler: scope.csrfProtection }, async (request, reply) => {
    request.session.delete();
    return reply.redirect('/console/sign-in', 303);
  });
}
