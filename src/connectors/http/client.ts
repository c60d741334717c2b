import type { Logger } from 'pino';
import { type Dispatcher, request } from 'undici';
import type { z } from 'zod';
import { ConnectorError, type ConnectorErrorCode } from '../errors';
import { noAuth, type AuthProvider } from './auth';
import { classifyStatus, classifyTransportError, parseRetryAfter } from './classify';
import type { InFlightLimit, TokenBucket } from './rate-limit';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HttpRequest<T> {
  method: HttpMethod;
  /** Path appended to the base URL, or an absolute http(s) URL. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  /** Sent as application/json. */
  json?: unknown;
  /** Sent as application/x-www-form-urlencoded. */
  form?: Record<string, string>;
  /** Validates the parsed JSON body; a mismatch is HTTP.UNEXPECTED_RESPONSE. */
  schema?: z.ZodType<T>;
  /** Non-2xx statuses the caller handles itself (e.g. 404 on a lookup). */
  allowStatus?: readonly number[];
  timeoutMs?: number;
}

export interface HttpResponse<T> {
  status: number;
  headers: Record<string, string>;
  body: T;
  text: string;
}

/** What a vendor classifier sees of a failed response. */
export interface ErrorContext {
  status: number;
  body: unknown;
  text: string;
  headers: Record<string, string>;
  method: HttpMethod;
  path: string;
}

/** A vendor's refinement of the default status classification (its error body codes). */
export interface VendorClassification {
  code?: ConnectorErrorCode;
  message?: string;
  vendorCode?: string;
}

export interface HttpClientOptions {
  /** System name for logs and error metadata ('salesforce', 'kantata' ...). */
  system: string;
  baseUrl: string;
  auth?: AuthProvider;
  rateLimiter?: TokenBucket;
  /**
   * At most this many requests in flight (the vendor account's concurrency limit, or this
   * process's share of it). A slot is held from send until the answer's body has been read.
   */
  inFlight?: InFlightLimit;
  /** Per-request deadline covering headers and body (default 30 s). */
  timeoutMs?: number;
  logger?: Logger;
  classify?: (ctx: ErrorContext) => VendorClassification | undefined;
  headers?: Record<string, string>;
  dispatcher?: Dispatcher;
  now?: () => number;
  /**
   * Sends a request again, inside the same call, when the vendor says it did not process it
   * (429, 503: any method) or the connection failed before an answer on a read (GET):
   * at most `retries` more times, waiting the vendor's Retry-After or `baseDelayMs` x 2^n, never
   * longer than `maxWaitMs` (a longer Retry-After ends the call: the activity's retry waits).
   * Unset: no repeat (the activity's retry policy decides everything).
   */
  repeat?: RepeatPolicy;
  sleep?: (ms: number) => Promise<void>;
}

export interface RepeatPolicy {
  retries: number;
  baseDelayMs: number;
  maxWaitMs: number;
}

/**
 * The connectors' default: two more tries within about a second and a half. A step of many
 * requests (a PSA project is a dozen creates, an invoice a look-up and a create) otherwise
 * loses its whole attempt to one busy answer: at one request in three refused, an attempt of
 * twelve requests succeeds 0.7^12 = 1.4 % of the time (the chaos run, issue 15).
 */
export const DEFAULT_REPEAT: RepeatPolicy = { retries: 2, baseDelayMs: 250, maxWaitMs: 2_000 };

/** The vendor answered that it did not process the request: sending it again cannot duplicate anything. */
const NOT_PROCESSED = new Set([429, 503]);
/** Reads: a connection lost before the answer can be repeated; a write might have been committed. */
const SAFE_METHODS = new Set<HttpMethod>(['GET']);

const flattenHeaders = (h: Record<string, string | string[] | undefined>): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
};

/**
 * The one HTTP client every adapter uses. It authenticates, waits for the
 * system's rate limiter, enforces a deadline, parses with zod and turns every
 * failure into a classified ConnectorError. It does not retry: retries belong
 * to the Temporal activity retry policy. The exceptions: one repeat after a
 * 401 once the auth provider has refreshed its token or secret, and, with a
 * `repeat` policy, a bounded repeat of what the vendor did not process.
 */
export class HttpClient {
  readonly system: string;
  private readonly baseUrl: string;
  private readonly auth: AuthProvider;
  private readonly now: () => number;

  constructor(private readonly options: HttpClientOptions) {
    this.system = options.system;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.auth = options.auth ?? noAuth;
    this.now = options.now ?? Date.now;
  }

  url(path: string, query?: HttpRequest<unknown>['query']): URL {
    const url = /^https?:\/\//.test(path) ? new URL(path) : new URL(`${this.baseUrl}${path.startsWith('/') ? '' : '/'}${path}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  async request<T = unknown>(req: HttpRequest<T>): Promise<HttpResponse<T>> {
    const first = await this.sendRepeating(req);
    if (first.status === 401 && (await this.auth.onUnauthorized())) return this.finish(req, await this.sendRepeating(req));
    return this.finish(req, first);
  }

  private async sendRepeating(req: HttpRequest<unknown>): Promise<HttpResponse<unknown>> {
    const policy = this.options.repeat;
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    for (let n = 0; ; n++) {
      const last = !policy || n >= policy.retries;
      const backoff = policy ? policy.baseDelayMs * 2 ** n : 0;
      let res: HttpResponse<unknown>;
      try {
        res = await this.send(req);
      } catch (err) {
        if (last || !SAFE_METHODS.has(req.method) || !(err instanceof ConnectorError) || !err.retryable || err.code === 'HTTP.TIMEOUT') throw err;
        await sleep(Math.min(backoff, policy.maxWaitMs));
        continue;
      }
      if (last || !NOT_PROCESSED.has(res.status) || (req.allowStatus ?? []).includes(res.status)) return res;
      const wait = parseRetryAfter(res.headers['retry-after'], this.now()) ?? backoff;
      if (wait > policy.maxWaitMs) return res;
      this.options.logger?.debug({ system: this.system, method: req.method, path: req.path, status: res.status, waitMs: wait, repeat: n + 1 }, 'http repeat');
      await sleep(wait);
    }
  }

  get<T>(path: string, schema?: z.ZodType<T>, query?: HttpRequest<T>['query']): Promise<T> {
    return this.request<T>({ method: 'GET', path, ...(schema ? { schema } : {}), ...(query ? { query } : {}) }).then((r) => r.body);
  }

  private async send(req: HttpRequest<unknown>): Promise<HttpResponse<unknown>> {
    const url = this.url(req.path, req.query);
    await this.options.rateLimiter?.acquire();
    const release = await this.options.inFlight?.acquire();
    try {
      return await this.sendHoldingSlot(req, url);
    } finally {
      release?.();
    }
  }

  private async sendHoldingSlot(req: HttpRequest<unknown>, url: URL): Promise<HttpResponse<unknown>> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.options.headers, ...(await this.auth.headers()), ...req.headers };
    let body: string | undefined;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers['content-type'] ??= 'application/json';
    } else if (req.form !== undefined) {
      body = new URLSearchParams(req.form).toString();
      headers['content-type'] ??= 'application/x-www-form-urlencoded';
    }
    const timeoutMs = req.timeoutMs ?? this.options.timeoutMs ?? 30_000;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const started = this.now();
    try {
      const res = await request(url, {
        method: req.method,
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: controller.signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        ...(this.options.dispatcher ? { dispatcher: this.options.dispatcher } : {}),
      });
      const text = await res.body.text();
      const resHeaders = flattenHeaders(res.headers);
      this.options.logger?.debug({ system: this.system, method: req.method, path: url.pathname, status: res.statusCode, ms: this.now() - started }, 'http');
      let parsed: unknown = text;
      if (text !== '' && (resHeaders['content-type'] ?? '').includes('json')) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text;
        }
      } else if (text === '') parsed = undefined;
      return { status: res.statusCode, headers: resHeaders, body: parsed, text };
    } catch (err) {
      const code = classifyTransportError(err, timedOut);
      this.options.logger?.warn({ system: this.system, method: req.method, path: url.pathname, code, ms: this.now() - started }, 'http transport failure');
      throw new ConnectorError(code, `${this.system} ${req.method} ${url.pathname}: ${timedOut ? `no response within ${timeoutMs} ms` : 'connection failed'}`, {
        cause: err,
        meta: { system: this.system, method: req.method, path: url.pathname },
      });
    } finally {
      clearTimeout(timer);
    }
  }

  private finish<T>(req: HttpRequest<T>, res: HttpResponse<unknown>): HttpResponse<T> {
    const path = this.url(req.path).pathname;
    if (res.status >= 300 && !(req.allowStatus ?? []).includes(res.status)) throw this.errorFor(req, res, path);
    if (req.schema && res.status < 300) {
      const result = req.schema.safeParse(res.body);
      if (!result.success) {
        throw new ConnectorError('HTTP.UNEXPECTED_RESPONSE', `${this.system} ${req.method} ${path}: response does not match schema: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, {
          meta: { system: this.system, method: req.method, path, status: res.status },
        });
      }
      return { ...res, body: result.data };
    }
    return res as HttpResponse<T>;
  }

  private errorFor(req: HttpRequest<unknown>, res: HttpResponse<unknown>, path: string): ConnectorError {
    const vendor = this.options.classify?.({ status: res.status, body: res.body, text: res.text, headers: res.headers, method: req.method, path });
    const code = vendor?.code ?? classifyStatus(res.status);
    const retryAfterMs = parseRetryAfter(res.headers['retry-after'], this.now());
    if (res.status === 429 && retryAfterMs !== undefined) {
      this.options.rateLimiter?.pauseFor(retryAfterMs);
      this.options.inFlight?.pauseFor(retryAfterMs);
    }
    const detail = vendor?.message ?? (typeof res.body === 'string' ? res.body.slice(0, 200) : '');
    return new ConnectorError(code, `${this.system} ${req.method} ${path}: ${res.status}${detail ? ` ${detail}` : ''}`, {
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      meta: {
        system: this.system,
        method: req.method,
        path,
        status: res.status,
        ...(vendor?.vendorCode ? { vendorCode: vendor.vendorCode } : {}),
        ...(res.headers['x-request-id'] ? { requestId: res.headers['x-request-id'] } : {}),
      },
    });
  }
}
