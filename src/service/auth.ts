import { createHash } from 'node:crypto';

export type Scope = 'read' | 'operate';
export const SCOPES: readonly Scope[] = ['read', 'operate'];

/** An operator API key. `name` identifies the holder in logs; the key itself is never logged. */
export interface OperatorApiKey {
  name: string;
  key: string;
  scopes: readonly Scope[];
}

export interface Principal {
  name: string;
  scopes: readonly Scope[];
}

const digest = (key: string) => createHash('sha256').update(key).digest('hex');

/**
 * Looks keys up by their SHA-256 digest, so the comparison never runs over the
 * secret itself (no early-exit timing on a shared prefix). 'operate' implies 'read'.
 */
export function createKeyring(keys: readonly OperatorApiKey[]) {
  const byDigest = new Map(keys.map((k) => [digest(k.key), { name: k.name, scopes: k.scopes }] as const));
  return {
    authenticate(authorization: string | undefined): Principal | undefined {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
      return m ? byDigest.get(digest(m[1]!)) : undefined;
    },
    allows(principal: Principal, scope: Scope): boolean {
      return principal.scopes.includes(scope) || (scope === 'read' && principal.scopes.includes('operate'));
    },
  };
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
      if (scopes.length === 0 || bad.length) problems.push(`entry ${i + 1} (${name}): scopes must be read and/or operate`);
      return { name: name ?? '', key, scopes: scopes as Scope[] };
    });
  if (problems.length) throw new Error(`invalid operator API keys:\n  - ${problems.join('\n  - ')}`);
  return keys;
}

/** Comma-separated secrets (several valid during rotation). */
export const parseSecretList = (s: string | undefined): string[] =>
  (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);
