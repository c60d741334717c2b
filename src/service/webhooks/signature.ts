import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SignatureFailure } from '../errors';

export type VerifyResult = { ok: true } | { ok: false; reason: SignatureFailure };

export type Headers = Record<string, string | string[] | undefined>;

export const Q2C_TIMESTAMP_HEADER = 'x-q2c-timestamp';
export const Q2C_SIGNATURE_HEADER = 'x-q2c-signature';
/** Replay window for timestamped signatures: 5 minutes either side of the receiver's clock. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

export function headerValue(headers: Headers, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Constant-time comparison of two encoded digests; false on any length or decoding mismatch. */
export function digestsEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && a.length > 0 && timingSafeEqual(a, b);
}

/** Hex HMAC-SHA256 of `${timestamp}.${rawBody}`: the q2c relay scheme (Salesforce, Kantata). */
export function signQ2c(secret: string, timestamp: number | string, rawBody: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
}

/**
 * Verifies the q2c relay signature. `X-Q2C-Timestamp` is Unix seconds;
 * `X-Q2C-Signature` is one or more comma-separated hex digests (a sender may
 * sign with old and new secret during rotation); any configured secret may
 * match any digest. The timestamp is inside the signed string, so an old
 * request cannot be replayed with a fresh timestamp.
 */
export function verifyQ2cSignature(opts: {
  rawBody: Buffer;
  headers: Headers;
  secrets: readonly string[];
  nowMs: number;
  toleranceSeconds?: number;
}): VerifyResult {
  if (opts.secrets.length === 0) return { ok: false, reason: 'NO_SECRET_CONFIGURED' };
  const signatureHeader = headerValue(opts.headers, Q2C_SIGNATURE_HEADER);
  if (!signatureHeader) return { ok: false, reason: 'MISSING_SIGNATURE' };
  const timestamp = headerValue(opts.headers, Q2C_TIMESTAMP_HEADER);
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'MISSING_TIMESTAMP' };

  const given = signatureHeader
    .split(',')
    .map((s) => s.trim())
    .filter((s) => /^[0-9a-f]{64}$/i.test(s))
    .map((s) => Buffer.from(s, 'hex'));
  const matched = opts.secrets.some((secret) => {
    const expected = Buffer.from(signQ2c(secret, timestamp, opts.rawBody), 'hex');
    return given.some((g) => digestsEqual(g, expected));
  });
  if (!matched) return { ok: false, reason: 'BAD_SIGNATURE' };

  // Checked after the signature so a stale answer never tells an attacker anything about a forged one.
  const tolerance = opts.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Math.abs(Math.floor(opts.nowMs / 1000) - Number(timestamp)) > tolerance) return { ok: false, reason: 'STALE_TIMESTAMP' };
  return { ok: true };
}
