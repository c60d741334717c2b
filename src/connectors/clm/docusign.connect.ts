import { createHmac, timingSafeEqual } from 'node:crypto';

export type ConnectVerification = { ok: true } | { ok: false; reason: 'NO_SECRET_CONFIGURED' | 'MISSING_SIGNATURE' | 'BAD_SIGNATURE' };

type HeaderBag = Readonly<Record<string, string | readonly string[] | undefined>>;

const header = (headers: HeaderBag, name: string): string | undefined => {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return Array.isArray(v) ? v[0] : (v as string | undefined);
  return undefined;
};

/**
 * Verifies a DocuSign Connect message: each `X-DocuSign-Signature-N` header is
 * base64(HMAC-SHA256(key, raw body)), one per HMAC key active on the Connect
 * configuration (https://developers.docusign.com/platform/webhooks/connect/hmac/).
 * Valid when any header matches any of our keys, so either side can rotate.
 * Verify the raw bytes as received, never a re-serialised JSON.
 */
export function verifyDocuSignConnect(rawBody: Buffer | string, headers: HeaderBag, keys: readonly string[]): ConnectVerification {
  if (keys.length === 0) return { ok: false, reason: 'NO_SECRET_CONFIGURED' };
  const given: Buffer[] = [];
  for (let n = 1; n <= 100; n++) {
    const v = header(headers, `x-docusign-signature-${n}`);
    if (v === undefined) break;
    given.push(Buffer.from(v.trim(), 'base64'));
  }
  if (given.length === 0) return { ok: false, reason: 'MISSING_SIGNATURE' };
  const ok = keys.some((key) => {
    const expected = createHmac('sha256', key).update(rawBody).digest();
    return given.some((g) => g.length === expected.length && timingSafeEqual(g, expected));
  });
  return ok ? { ok: true } : { ok: false, reason: 'BAD_SIGNATURE' };
}
