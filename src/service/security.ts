import { createHash } from 'node:crypto';
import type { FastifyHelmetOptions } from '@fastify/helmet';
import type { RateLimitPluginOptions } from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import { isLoopback, type Keyring } from './auth';
import { HttpProblem } from './errors';

/** A CSP source for one inline <style> element with exactly this text (its SHA-256, base64). */
export const styleHash = (css: string): string => `'sha256-${createHash('sha256').update(css, 'utf8').digest('base64')}'`;

/**
 * The Content-Security-Policy of every answer: scripts, styles, images, fonts and
 * fetches from this origin only; no inline script, no plugins, no framing, forms post
 * only here. Swagger UI (/docs) and the operator console (/console, Chart.js served
 * from this origin) live within it; a page with an inline <style> names its hash in
 * `extraStyles` (the dashboard). No upgrade-insecure-requests: the dev stack and the
 * tests serve plain HTTP on loopback.
 */
export function contentSecurityPolicy(opts: { extraStyles?: readonly string[] } = {}) {
  return {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      baseUri: ["'self'"],
      scriptSrc: ["'self'"],
      scriptSrcAttr: ["'none'"],
      styleSrc: ["'self'", ...(opts.extraStyles ?? [])],
      imgSrc: ["'self'", 'data:'],
      fontSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      frameAncestors: ["'none'"],
      formAction: ["'self'"],
    },
  };
}

/** @fastify/helmet's options for the service: helmet's defaults with the CSP above and no framing at all. */
export const helmetOptions = (): FastifyHelmetOptions => ({
  global: true,
  contentSecurityPolicy: contentSecurityPolicy(),
  xFrameOptions: { action: 'deny' },
  referrerPolicy: { policy: 'no-referrer' },
});

/** Requests per minute and client; 0 turns a limit off. */
export interface RateLimitSettings {
  /** Operator API, pages, docs, metrics: per operator key holder, else per IP address. */
  perMinute: number;
  /** Each webhook endpoint, per sender IP address (senders carry no operator key). */
  webhooksPerMinute: number;
  /** Loopback clients are never limited (the dev stack: its sample, browser and CLI share 127.0.0.1). */
  exemptLoopback?: boolean;
}

/** Generous enough for an operator's browser and CLI; webhook senders burst at month end (see README). */
export const DEFAULT_RATE_LIMITS: RateLimitSettings = { perMinute: 600, webhooksPerMinute: 6000 };

/**
 * Who a request counts against: the operator key's holder when the Authorization
 * header carries a valid key (so colleagues behind one NAT do not share a budget, and
 * one key cannot escape its budget by changing address), else the client's address.
 * Runs before the route's own key check, so it authenticates the header itself
 * unless an earlier hook has already set `request.principal`.
 */
export function rateLimitKey(keyring: Keyring, request: Pick<FastifyRequest, 'headers' | 'ip' | 'principal'>): string {
  // A principal already known (e.g. from a session cookie, by an earlier onRequest hook) counts as its holder.
  const principal = request.principal ?? keyring.authenticate(request.headers.authorization);
  return principal ? `key:${principal.name}` : `ip:${request.ip}`;
}

/** The 429 in the service's error shape; Retry-After (seconds) is set by the plugin as a header. */
export function rateLimitedProblem(context: { max: number; ttl: number }): HttpProblem {
  const retryAfterSeconds = Math.max(1, Math.ceil(context.ttl / 1000));
  return new HttpProblem(429, 'RATE_LIMITED', `too many requests: at most ${context.max} a minute; retry in ${retryAfterSeconds} s`, {
    limit: context.max,
    retryAfterSeconds,
  });
}

/** @fastify/rate-limit's options for the operator-side limit; webhook routes override max and key per route. */
export function rateLimitOptions(settings: RateLimitSettings, keyring: Keyring): RateLimitPluginOptions {
  return {
    global: settings.perMinute > 0,
    max: settings.perMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => rateLimitKey(keyring, request),
    ...(settings.exemptLoopback ? { allowList: (request: FastifyRequest) => isLoopback(request.socket.remoteAddress) } : {}),
    errorResponseBuilder: (_request, context) => rateLimitedProblem(context),
  };
}

/** The per-route rate limit of a webhook endpoint (route `config.rateLimit`): by sender address, or off. */
export const webhookRateLimit = (settings: RateLimitSettings) =>
  settings.webhooksPerMinute > 0
    ? { max: settings.webhooksPerMinute, timeWindow: 60_000, keyGenerator: (request: FastifyRequest) => `ip:${request.ip}` }
    : false;
