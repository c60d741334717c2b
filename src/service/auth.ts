import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** read: look; operate: act on deals and propose rule sets; approve: approve or reject rule-set proposals. */
export type Scope = 'read' | 'operate' | 'approve';
export const SCOPES: readonly Scope[] = ['read', 'operate', 'approve'];

/** An operator API key. `name` identifies the holder in logs; the key itself is never logged. */
export interface OperatorApiKey {
  name: string;
  key: string;
  scopes: readonly Scope[];
}

/** How the caller proved who it is. */
/** `session`: the operator console's sign-in (src/service/console/session.ts), re-checked against the keyring on every request. */
export type Credential = 'bearer' | 'basic' | 'loopback' | 'session';

export interface Principal {
  name: string;
  scopes: readonly Scope[];
  via: Credential;
}

/** The SHA-256 digest (hex) a key is looked up by; the console's session holds this, never the key. */
export const keyDigest = (key: string) => createHash('sha256').update(key).digest('hex');

/**
 * Looks keys up by their SHA-256 digest, so the comparison never runs over the
 * secret itself (no early-exit timing on a shared prefix). 'operate' and 'approve' imply 'read'.
 *
 * `Authorization: Bearer <key>` is the API form. `Basic` (any user name, the key
 * as password) exists for browsers: the dashboard's 401 makes the browser ask once
 * and then send it on every link, without the key in a URL or a cookie. A browser
 * also sends it unasked on cross-site requests, so Basic only ever grants 'read'
 * (no request with side effects can be forged with it).
 */
export function createKeyring(keys: readonly OperatorApiKey[]) {
  const byDigest = new Map(keys.map((k) => [keyDigest(k.key), { name: k.name, scopes: k.scopes }] as const));
  const lookup = (key: string, via: Credential): Principal | undefined => {
    const found = byDigest.get(keyDigest(key));
    return found && { ...found, via };
  };
  return {
    authenticate(authorization: string | undefined): Principal | undefined {
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
      if (bearer) return lookup(bearer[1]!, 'bearer');
      const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
      if (!basic) return undefined;
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      return colon < 0 ? undefined : lookup(decoded.slice(colon + 1), 'basic');
    },
    /** The key's holder by the key's digest (a console session): undefined once the key is removed from the keyring. */
    byDigest(digest: string): Principal | undefined {
      const found = byDigest.get(digest);
      return found && { ...found, via: 'session' };
    },
    allows(principal: Principal, scope: Scope): boolean {
      // Basic and loopback only ever read; a bearer key and a console session (CSRF-protected) act.
      if (principal.via !== 'bearer' && principal.via !== 'session' && scope !== 'read') return false;
      return principal.scopes.includes(scope) || (scope === 'read' && (principal.scopes.includes('operate') || principal.scopes.includes('approve')));
    },
  };
}

export type Keyring = ReturnType<typeof createKeyring>;

/** 127.0.0.0/8 and ::1, also in their IPv4-mapped IPv6 form. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

export interface AccessPolicy {
  keyring: Keyring;
  /**
   * Read-only routes answer requests from the loopback interface without a key
   * (the dev stack's browser and Temporal Web UI). Never behind a reverse proxy
   * on the same host: every proxied request would come from loopback.
   */
  openOnLoopback: boolean;
}

const LOOPBACK_PRINCIPAL: Principal = { name: 'loopback', scopes: ['read'], via: 'loopback' };

/**
 * A preHandler that admits a principal allowed `scope`, else answers 401/403.
 * `challenge: 'Basic'` makes a browser prompt for the key (the dashboard).
 */
export function requireScope(policy: AccessPolicy, scope: Scope, opts: { challenge?: 'Bearer' | 'Basic' } = {}) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const authorization = request.headers.authorization;
    const principal =
      authorization === undefined && scope === 'read' && policy.openOnLoopback && isLoopback(request.socket.remoteAddress)
        ? LOOPBACK_PRINCIPAL
        : policy.keyring.authenticate(authorization);
    if (!principal) {
      reply.header('www-authenticate', opts.challenge === 'Basic' ? 'Basic realm="q2c operator", charset="UTF-8"' : 'Bearer');
      return reply.code(401).send({ error: 'UNAUTHORIZED', message: 'a valid operator API key is required' });
    }
    if (!policy.keyring.allows(principal, scope)) {
      const message =
        principal.via === 'bearer' ? `this key lacks the '${scope}' scope` : `the '${scope}' scope needs the key as a Bearer token`;
      return reply.code(403).send({ error: 'FORBIDDEN', message, requiredScope: scope });
    }
    request.principal = principal;
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/**
 * Parses `name:scope+scope:key` entries separated by commas, e.g.
 * `ops:read+operate:k_live_1,dashboard:read:k_live_2` (the form proposed for
 * Q2C_OPERATOR_API_KEYS). Throws listing every malformed entry, without echoing keys.
 */
export function parseOperatorKeys(spec: string | undefined): OperatorApiKey[] {
  if (!spec || spec.trim() === '') return [];
  const problems: string[] = [];
  const keys = spec
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)
    .map((entry, i) => {
      const [name, scopeList, ...rest] = entry.split(':');
      const key = rest.join(':');
      const scopes = (scopeList ?? '').split('+').filter(Boolean);
      if (!name || !key || key.length < 16) problems.push(`entry ${i + 1}: expected name:scope[+scope]:key with a key of 16+ characters`);
      const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
      if (scopes.length === 0 || bad.length) problems.push(`entry ${i + 1} (${name}): scopes must be read, operate and/or approve`);
      return { name: name ?? '', key, scopes: scopes as Scope[] };
    });
  if (problems.length) throw new Error(`invalid operator API keys:\n  - ${problems.join('\n  - ')}`);
  return keys;
}

/** Comma-separated secrets (several valid during rotation). */
export const parseSecretList = (s: string | undefined): string[] =>
  (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);
