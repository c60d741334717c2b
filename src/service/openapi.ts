import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { createJsonSchemaTransform, jsonSchemaTransform } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { version } from '../../package.json';
import { requireScope, type AccessPolicy, type Scope } from './auth';

export const DOCS_PREFIX = '/docs';

/** Tags group the operations in the document and in Swagger UI, in this order. */
export const API_TAGS = [
  { name: 'webhooks', description: 'Vendor webhook intake: signed by the sender (no operator key), verified over the exact bytes, kept in the inbox, handed to the deal workflow.' },
  { name: 'deals', description: "Deals: listing, state, revenue waterfall." },
  { name: 'operations', description: 'Operator actions on a running deal: resolve an exception, amend, credit, terminate, decide or write off held billing, promises to pay.' },
  { name: 'inbox', description: 'The webhook inbox: every delivery, raw, with its outcome.' },
  { name: 'rulesets', description: 'Rule-set versions and their governance (propose, approve, reject).' },
  { name: 'pages', description: 'Pages for a browser.' },
  { name: 'codec', description: "Temporal's remote payload codec for the Web UI." },
  { name: 'metrics', description: 'Health and Prometheus metrics.' },
] as const;
export type ApiTag = (typeof API_TAGS)[number]['name'];

/** Security scheme names in components.securitySchemes. */
export const BEARER = 'operatorKey';
export const BASIC = 'operatorKeyBasic';

/** The body of every 4xx/5xx the service answers (errors.ts HttpProblem). */
export const ErrorBody = z
  .looseObject({
    error: z.string().meta({ description: 'closed code: BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, RATE_LIMITED, ACTION_REJECTED, ...' }),
    message: z.string(),
    issues: z.array(z.object({ path: z.string().meta({ description: "dotted field path ('changes.0.set'; '' for the whole body)" }), message: z.string() })).optional(),
    reason: z.string().optional(),
  })
  .meta({ description: 'The error body of every 4xx/5xx answer' });

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input: `issues` names every failing field by its path',
  401: 'No valid operator key',
  403: 'The key lacks the scope',
  404: 'Not found',
  409: 'Refused by the deal or proposal in its current state',
  413: 'Body too large',
  422: 'Understood but not processable',
  429: 'Over the rate limit: retry after `Retry-After` seconds',
  503: 'Temporarily unavailable',
};

/** Response schemas of the error statuses a route answers with, each the Error body. */
export function errorResponses(...statuses: number[]): Record<number, typeof ErrorBody> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorBody.describe(ERROR_DESCRIPTIONS[s] ?? 'Error')]));
}

const SCOPE_TEXT: Record<Scope, string> = {
  read: 'Requires an operator key with the `read` scope (`operate` and `approve` imply it); as Bearer, or as the password of Basic auth from a browser.',
  operate: 'Requires an operator key with the `operate` scope, as a Bearer token.',
  approve: 'Requires an operator key with the `approve` scope, as a Bearer token; the action is taken in the key holder\'s name.',
};

/**
 * The documentation part of an operator route's schema: tag, summary, the scope it
 * requires (in the description, and as `x-required-scope` for tools), and its security.
 */
export function documented(opts: { tag: ApiTag; summary: string; scope: Scope; description?: string }) {
  const security: Array<Record<string, string[]>> = opts.scope === 'read' ? [{ [BEARER]: [] }, { [BASIC]: [] }] : [{ [BEARER]: [] }];
  return {
    tags: [opts.tag],
    summary: opts.summary,
    description: [opts.description, SCOPE_TEXT[opts.scope]].filter(Boolean).join('\n\n'),
    security,
    'x-required-scope': opts.scope,
  };
}

/**
 * Documentation-only schemas for a route whose input no schema may parse (webhooks:
 * the signature is over the exact bytes, so the body stays raw until verified). Used as
 * the route's `config.swaggerTransform`: the document shows the headers and the body,
 * while the route itself validates nothing before its handler.
 */
export function documentOnly(schema: Record<string, unknown>) {
  return (args: Parameters<typeof jsonSchemaTransform>[0]) => jsonSchemaTransform({ ...args, schema: { ...(args.schema ?? {}), ...schema } });
}

/**
 * @fastify/swagger with the zod transform: the OpenAPI document is generated from the
 * same zod schemas the routes validate with. Register before any route.
 */
export async function registerOpenApi(app: FastifyInstance) {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'q2c service API',
        version,
        description: [
          'Quote-to-cash orchestration on Temporal: webhook intake from the CRM, e-signature, PSA and payment systems, and the operator API over the deal workflows.',
          '',
          'Operator routes take an operator key (`Q2C_OPERATOR_API_KEYS`, `name:scope[+scope]:key`) as `Authorization: Bearer <key>`. Scopes: `read`, `operate` (act on deals, propose rule sets), `approve` (release or refuse held billing, write-offs, rule-set approvals); `operate` and `approve` imply `read`. Each operation states the scope it requires.',
          '',
          'Bad input is a 400 whose `issues` name every failing field by its dotted path. Clients are rate limited per key holder (else per address): a 429 carries `Retry-After`.',
        ].join('\n'),
      },
      tags: API_TAGS.map((t) => ({ ...t })),
      components: {
        securitySchemes: {
          [BEARER]: { type: 'http', scheme: 'bearer', description: 'An operator API key' },
          [BASIC]: { type: 'http', scheme: 'basic', description: 'Browsers: any user name, the operator key as password; grants `read` only' },
        },
      },
    },
    transform: createJsonSchemaTransform({ skipList: [] }),
  });
}

/**
 * Swagger UI at /docs and the document at /docs/json (and /docs/yaml), served with
 * the plugin's own assets (no CDN, works offline). Who may read the docs: whoever may
 * read the API (`read` scope; a browser is asked for the key by Basic auth), and
 * loopback in the dev stack, like the dashboard. The document names routes, scopes and
 * schemas, no secret; it is not published beyond the API's own readers.
 */
export async function registerApiDocs(app: FastifyInstance, deps: { access: AccessPolicy }) {
  await app.register(fastifySwaggerUi, {
    routePrefix: DOCS_PREFIX,
    uiConfig: { docExpansion: 'list', deepLinking: true, persistAuthorization: false },
    uiHooks: { onRequest: requireScope(deps.access, 'read', { challenge: 'Basic' }) },
    // Swagger UI injects <style> elements at run time; on its pages only, inline styles (never
    // scripts) are allowed. The page renders no user data, only the service's own document.
    transformStaticCSP: (header) => header.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
  });
}
