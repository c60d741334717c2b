import { createVerify, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

/** Parses application/x-www-form-urlencoded bodies into a flat record (token endpoints). */
export function addFormParser(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
}

export interface JwtCheck {
  issuer: string;
  audience: string;
  publicKeyPem: string;
  now?: number;
}

/** Verifies an RS256 JWT-bearer assertion (RFC 7523); returns its claims or a reason it is not acceptable. */
export function verifyJwtAssertion(assertion: string, check: JwtCheck): { ok: true; claims: Record<string, unknown> } | { ok: false; reason: string } {
  const parts = assertion.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'malformed assertion' };
  const [h, p, s] = parts as [string, string, string];
  let header: { alg?: string };
  let claims: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg?: string };
    claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  } catch {
    return { ok: false, reason: 'malformed assertion' };
  }
  if (header.alg !== 'RS256') return { ok: false, reason: 'unsupported algorithm' };
  const verifier = createVerify('RSA-SHA256');
  verifier.update(`${h}.${p}`);
  if (!verifier.verify(check.publicKeyPem, Buffer.from(s, 'base64url'))) return { ok: false, reason: 'invalid signature' };
  if (claims.iss !== check.issuer) return { ok: false, reason: 'invalid issuer' };
  if (claims.aud !== check.audience) return { ok: false, reason: 'invalid audience' };
  const now = Math.floor((check.now ?? Date.now()) / 1000);
  if (typeof claims.exp !== 'number' || claims.exp < now) return { ok: false, reason: 'expired assertion' };
  return { ok: true, claims };
}

/** In-memory bearer tokens of one sandbox vendor, with expiry. */
export class TokenTable {
  private readonly tokens = new Map<string, { expiresAt: number; subject: string }>();
  issue(subject: string, ttlSeconds: number, prefix = ''): string {
    const token = `${prefix}${randomBytes(18).toString('base64url')}`;
    this.tokens.set(token, { expiresAt: Date.now() + ttlSeconds * 1000, subject });
    return token;
  }
  /** The subject of a valid token, or undefined. */
  check(authorization: string | undefined): string | undefined {
    const m = /^Bearer (.+)$/.exec(authorization ?? '');
    const entry = m ? this.tokens.get(m[1]!) : undefined;
    if (!entry || entry.expiresAt <= Date.now()) return undefined;
    return entry.subject;
  }
  /** Expires every token (tests of refresh-on-401). */
  revokeAll(): void {
    this.tokens.clear();
  }
}
