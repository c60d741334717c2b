import type { ConnectorErrorCode } from '../errors';

/** Default mapping of an HTTP status to an error code; vendor classifiers refine it. */
export function classifyStatus(status: number): ConnectorErrorCode {
  if (status === 401) return 'HTTP.AUTH';
  if (status === 403) return 'HTTP.FORBIDDEN';
  if (status === 404 || status === 410) return 'HTTP.NOT_FOUND';
  if (status === 408) return 'HTTP.TIMEOUT';
  if (status === 409 || status === 412) return 'HTTP.CONFLICT';
  if (status === 429) return 'HTTP.RATE_LIMITED';
  if (status >= 500) return 'HTTP.SERVER_ERROR';
  if (status >= 400) return 'HTTP.VALIDATION';
  return 'HTTP.UNEXPECTED_RESPONSE';
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT', 'ESOCKETTIMEDOUT']);
const CONNECTION_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_ABORTED']);

/**
 * Maps a transport failure (no HTTP response) to a code. Both are retryable,
 * but a timeout on a POST is ambiguous: the vendor may have committed the
 * write, which is why creates look up their deterministic external id first.
 */
export function classifyTransportError(err: unknown, timedOut: boolean): ConnectorErrorCode {
  if (timedOut) return 'HTTP.TIMEOUT';
  const code = errorCode(err);
  if (code !== undefined && TIMEOUT_CODES.has(code)) return 'HTTP.TIMEOUT';
  if (code !== undefined && CONNECTION_CODES.has(code)) return 'HTTP.CONNECTION';
  return 'HTTP.CONNECTION';
}

function errorCode(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let depth = 0; depth < 4 && cur instanceof Error; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = cur.cause;
  }
  return undefined;
}

/**
 * Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3).
 * Returns milliseconds from `now`, never negative; undefined when absent or unparsable.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
