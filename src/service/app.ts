import { randomUUID } from 'node:crypto';
import type { PayloadCodec } from '@temporalio/common';
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Db } from '../db';
import { AuditRepository } from '../db/audit';
import { requestLogController } from '../logger';
import { InboxRepository } from '../db/inbox';
import { OperatorActionRepository } from '../db/operator-actions';
import { RuleSetRepository } from '../db/rulesets';
import { dealWorkflowId } from '../contract';
import { createKeyring, type AccessPolicy, type OperatorApiKey } from './auth';
import { registerApiActionAudit } from './action-audit';
import { DEFAULT_CODEC_CORS_ORIGINS, registerCodecRoutes } from './codec.routes';
import { registerConsole } from './console';
import { registerDashboardRoutes } from './dashboard.routes';
import { DealNotFoundError, type DealGateway } from './deal-gateway';
import { createDealLocator, type DealLocator } from './deal-locator';
import { badRequest, HttpProblem, unauthorized, validationProblem, type SignatureFailure } from './errors';
import { createDealKpiRefresher, createMetrics, type Metrics, type WebhookOutcome } from './metrics';
import { documentOnly, errorResponses, registerApiDocs, registerOpenApi } from './openapi';
import { registerOperatorRoutes } from './operator.routes';
import type { RuleSetGovernanceGateway } from './ruleset-gateway';
import { registerInboxReplayRoute } from './inbox-replay.routes';
import { registerRuleSetRoutes } from './ruleset.routes';
import { DEFAULT_RATE_LIMITS, helmetOptions, rateLimitOptions, webhookRateLimit, type RateLimitSettings } from './security';
import { DocuSignConnectPayload, docusignSource } from './webhooks/docusign';
import { KANTATA_KINDS, KantataPayloads, kantataSource } from './webhooks/kantata';
import { SalesforceClosedWonPayload, salesforceSource } from './webhooks/salesforce';
import type { IncomingWebhook, ParsedEvent, WebhookSource } from './webhooks/source';
import { createWebhookReplay } from './webhooks/replay';
import { Q2C_SIGNATURE_HEADER, Q2C_TIMESTAMP_HEADER } from './webhooks/signature';
import { StripeEvents, stripeSource } from './webhooks/stripe';

/** Secrets per source; every list may hold several entries valid at once (rotation). */
export interface ServiceSecrets {
  salesforceWebhookSecrets: readonly string[];
  kantataWebhookSecrets: readonly string[];
  docusignConnectKeys: readonly string[];
  stripeWebhookSecrets: readonly string[];
  operatorApiKeys: readonly OperatorApiKey[];
}

export interface ServiceDeps {
  db: Db;
  dealGateway: DealGateway;
  /** The rule-set proposal workflows: enables POST /rulesets/proposals and its approval and rejection. */
  governance?: RuleSetGovernanceGateway;
  logger: Logger;
  secrets: ServiceSecrets;
  clock?: () => Date;
  /** Defaults to the identity map in `db`. */
  dealLocator?: DealLocator;
  /** Largest accepted webhook body in bytes (default 256 KiB). */
  bodyLimit?: number;
  /** Replay window of timestamped signatures in seconds (default 300). */
  replayWindowSeconds?: number;
  /** Node process metrics on /metrics (default false; main.ts turns them on). Ignored when `metrics` is given. */
  defaultMetrics?: boolean;
  /** The registry /metrics serves; pass one to record KPIs (`metrics.kpis.recordDealTransition`) from elsewhere in the process. */
  metrics?: Metrics;
  /** The workers' payload codec: enables POST /codec/decode and /codec/encode for the Temporal Web UI. */
  codec?: PayloadCodec;
  /** Browser origins allowed to call the codec (default the dev server's Web UI, http://localhost:8233). */
  codecCorsOrigins?: string[];
  /** Temporal Web UI the dashboard links each deal to (default http://localhost:8233). */
  uiBaseUrl?: string;
  /** Temporal namespace of the deals, for the Web UI links (default 'default'). */
  namespace?: string;
  /** Read-only routes (dashboard, deal list and state, inbox, codec) need no key from 127.0.0.1/::1. Dev stack only. */
  openOnLoopback?: boolean;
  /** The deal gauges on /metrics are at most this old; 0 turns the deal listing off (default 30). */
  kpiRefreshSeconds?: number;
  /** 32 bytes encrypting the operator console's session cookie (Q2C_CONSOLE_SESSION_KEY); absent: a random key per process. */
  consoleSessionKey?: Buffer;
  /** Request log lines: 'info' (default) is Fastify's two per request; 'debug' one per answered request at debug (the dev stack). */
  requestLogLevel?: 'info' | 'debug' | 'trace';
  /** Per-client request limits (default DEFAULT_RATE_LIMITS; loopback exempt when openOnLoopback). */
  rateLimit?: RateLimitSettings;
  /** Fastify's trustProxy: the client address (rate limits) from X-Forwarded-For set by these proxies. Default: none trusted. */
  trustProxy?: boolean | string;
}

export const DEFAULT_BODY_LIMIT = 256 * 1024;
export const DEFAULT_UI_BASE_URL = 'http://localhost:8233';
export const DEFAULT_KPI_REFRESH_SECONDS = 30;
const CORRELATION_HEADER = 'x-correlation-id';
const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const SIGNATURE_MESSAGES: Record<SignatureFailure, string> = {
  MISSING_SIGNATURE: 'signature header missing',
  MISSING_TIMESTAMP: 'timestamp header missing or not Unix seconds',
  BAD_SIGNATURE: 'signature does not match',
  STALE_TIMESTAMP: 'timestamp outside the replay window',
  NO_SECRET_CONFIGURED: 'no secret configured for this source',
};

const outcomeOf = (status: number): WebhookOutcome =>
  status === 401 ? 'unauthorized'
  : status === 400 ? 'bad_request'
  : status === 413 ? 'too_large'
  : status === 415 ? 'unsupported_media_type'
  : status === 422 ? 'unprocessable'
  : status === 429 ? 'rate_limited'
  : status === 503 ? 'dispatch_failed'
  : 'error';

const WEBHOOK_SUMMARIES: Record<WebhookSource['name'], string> = {
  salesforce: 'Salesforce: an opportunity closed-won (starts or signals its deal)',
  docusign: 'DocuSign Connect: an envelope completed, declined or voided',
  kantata: 'Kantata relay: approved time, approved expenses, milestones completed or accepted',
  stripe: 'Stripe: invoice paid, payment succeeded, charge refunded',
};
const WEBHOOK_AUTH: Record<WebhookSource['name'], string> = {
  salesforce: `Signed with the q2c relay scheme: \`${Q2C_SIGNATURE_HEADER}\` is hex HMAC-SHA256 of \`<timestamp>.<body>\` under Q2C_WEBHOOK_SECRET_SALESFORCE, within 5 minutes of \`${Q2C_TIMESTAMP_HEADER}\`.`,
  docusign: 'Signed by DocuSign Connect (HMAC): `X-DocuSign-Signature-<n>` is base64 HMAC-SHA256 of the body under a Connect key (Q2C_DOCUSIGN_CONNECT_KEYS).',
  kantata: `Signed with the q2c relay scheme: \`${Q2C_SIGNATURE_HEADER}\` is hex HMAC-SHA256 of \`<timestamp>.<body>\` under Q2C_WEBHOOK_SECRET_KANTATA, within 5 minutes of \`${Q2C_TIMESTAMP_HEADER}\`.`,
  stripe: 'Signed by Stripe: `Stripe-Signature` (`t=...,v1=...`) under STRIPE_WEBHOOK_SECRET, within 5 minutes.',
};
const q2cSignatureHeaders = z.object({
  [Q2C_TIMESTAMP_HEADER]: z.string().regex(/^\d{1,12}$/).meta({ description: 'Unix seconds, inside the signed string' }),
  [Q2C_SIGNATURE_HEADER]: z.string().meta({ description: 'hex HMAC-SHA256 digests, comma-separated during secret rotation' }),
});
/** What the document shows of each webhook's input; nothing here parses a request. */
const WEBHOOK_DOCS: Record<WebhookSource['name'], Record<string, z.ZodType>> = {
  salesforce: { headers: q2cSignatureHeaders, body: SalesforceClosedWonPayload },
  docusign: {
    headers: z.object({ 'x-docusign-signature-1': z.string().meta({ description: 'base64 HMAC-SHA256 of the body; -2, -3 ... for further Connect keys' }) }),
    body: DocuSignConnectPayload,
  },
  kantata: {
    params: z.object({ kind: z.enum(KANTATA_KINDS as [string, ...string[]]) }),
    headers: q2cSignatureHeaders,
    body: z.union(Object.values(KantataPayloads)),
  },
  stripe: {
    headers: z.object({ 'stripe-signature': z.string().meta({ description: 't=<unix seconds>,v1=<hex HMAC-SHA256>' }) }),
    body: z.union(Object.values(StripeEvents)),
  },
};
const WEBHOOK_RESPONSES = {
  202: z.object({ workflowId: z.string(), eventId: z.string(), duplicate: z.boolean() }),
  ...errorResponses(400, 401, 413, 415, 422, 429, 503),
};

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on webhook routes: which source the delivery is recorded under. */
    webhookSource?: string;
  }
}

/**
 * The webhook intake and operator API. Nothing here reads the environment:
 * secrets, database and the deal gateway come in `deps` (see main.ts).
 */
export async function buildService(deps: ServiceDeps): Promise<FastifyInstance> {
  const clock = deps.clock ?? (() => new Date());
  const bodyLimit = deps.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const inbox = new InboxRepository(deps.db, clock);
  const locator = deps.dealLocator ?? createDealLocator(deps.db);
  const metrics = deps.metrics ?? createMetrics({ defaultMetrics: deps.defaultMetrics });
  const access: AccessPolicy = { keyring: createKeyring(deps.secrets.operatorApiKeys), openOnLoopback: deps.openOnLoopback ?? false };
  const kpiRefreshSeconds = deps.kpiRefreshSeconds ?? DEFAULT_KPI_REFRESH_SECONDS;
  const kpiRefresher =
    kpiRefreshSeconds > 0
      ? createDealKpiRefresher({
          kpis: metrics.kpis,
          listOpenDeals: () => deps.dealGateway.listDeals({ openOnly: true }),
          clock,
          intervalSeconds: kpiRefreshSeconds,
          onError: (err) => deps.logger.warn({ err }, 'metrics: could not list deals; deal gauges keep their last values'),
        })
      : undefined;
  const window = deps.replayWindowSeconds;

  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps the app's type the default FastifyInstance.
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit,
    logController: requestLogController(deps.requestLogLevel, { requestIdLogLabel: 'correlationId' }),
    trustProxy: deps.trustProxy ?? false,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers[CORRELATION_HEADER];
      return typeof given === 'string' && CORRELATION_ID.test(given) ? given : randomUUID();
    },
  });

  // Route schemas are zod: the same schemas validate the input and generate the OpenAPI document.
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.addHook('onRequest', async (request, reply) => {
    reply.header(CORRELATION_HEADER, request.id);
  });
  // A POST without a body validates as an empty object, so a 400 names each missing field.
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined && request.routeOptions.schema?.body !== undefined) request.body = {};
  });

  // Registered before every route: their hooks (onRoute) must see each route.
  await app.register(fastifyHelmet, helmetOptions());
  const limits = { ...DEFAULT_RATE_LIMITS, exemptLoopback: deps.openOnLoopback ?? false, ...deps.rateLimit };
  await app.register(fastifyRateLimit, rateLimitOptions(limits, access.keyring));
  await registerOpenApi(app);

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });

  // Errors raised before a handler runs (body too large, bad media type, malformed
  // operator JSON) get the same body shape; on a webhook route they are kept in the inbox too.
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const problem = hasZodFastifySchemaValidationErrors(error)
      ? validationProblem(error, request.routeOptions.config.inputNames)
      : toProblem(error, bodyLimit);
    const source = request.routeOptions.config.webhookSource;
    if (source && problem.status === 429) {
      // A flood is counted, not stored: the sender retries after Retry-After.
      metrics.webhooksReceived.inc({ source, outcome: 'rate_limited' });
    } else if (source) {
      metrics.webhooksReceived.inc({ source, outcome: outcomeOf(problem.status) });
      request.log.warn({ source, status: problem.status, code: problem.code, headers: request.headers }, 'webhook rejected before parsing');
      await inbox
        .recordRejected({ source, rawBody: '', correlationId: request.id, error: problem.body })
        .catch((err) => request.log.error({ err }, 'inbox: could not record rejected delivery'));
    } else if (problem.status >= 500) {
      request.log.error({ err: error }, 'request failed');
    }
    return reply.code(problem.status).send(problem.body);
  });

  const sources: WebhookSource[] = [
    salesforceSource(deps.secrets.salesforceWebhookSecrets, window),
    docusignSource(deps.secrets.docusignConnectKeys),
    kantataSource(deps.secrets.kantataWebhookSecrets, window),
    stripeSource(deps.secrets.stripeWebhookSecrets, window),
  ];
  const paths: Record<WebhookSource['name'], string> = {
    salesforce: '/webhooks/salesforce/opportunity',
    docusign: '/webhooks/docusign/connect',
    kantata: '/webhooks/kantata/:kind',
    stripe: '/webhooks/stripe',
  };

  await app.register(async (scope) => {
    // Signatures are over the exact bytes received: keep the body raw, whatever its
    // content type, and parse JSON only after the signature checks out.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));
    for (const source of sources) {
      scope.post(
        paths[source.name],
        {
          bodyLimit,
          config: { webhookSource: source.name, rateLimit: webhookRateLimit(limits), swaggerTransform: documentOnly({ ...WEBHOOK_DOCS[source.name], response: WEBHOOK_RESPONSES }) },
          schema: {
            tags: ['webhooks'],
            summary: WEBHOOK_SUMMARIES[source.name],
            description: `${WEBHOOK_SUMMARIES[source.name]}. ${WEBHOOK_AUTH[source.name]} The body is read raw and verified over its exact bytes before it is parsed; every delivery is kept in the inbox (GET /inbox). Answers 202 with the deal's workflow id (also for a duplicate, marked \`duplicate: true\`).`,
            security: [],
          },
        },
        (request, reply) => intake(source, request, reply),
      );
    }
  });

  const operatorActions = new OperatorActionRepository(deps.db, clock);
  const replay = createWebhookReplay({ inbox, sources, locator, gateway: deps.dealGateway, clock });
  registerApiActionAudit(app, operatorActions);
  registerOperatorRoutes(app, { access, gateway: deps.dealGateway, inbox });
  registerInboxReplayRoute(app, { access, replay });
  registerRuleSetRoutes(app, { access, db: deps.db, ...(deps.governance ? { governance: deps.governance } : {}) });
  registerDashboardRoutes(app, {
    access,
    gateway: deps.dealGateway,
    ui: { baseUrl: deps.uiBaseUrl ?? DEFAULT_UI_BASE_URL, namespace: deps.namespace ?? 'default' },
  });
  await registerConsole(app, {
    keyring: access.keyring,
    gateway: deps.dealGateway,
    inbox,
    audit: new AuditRepository(deps.db),
    actions: operatorActions,
    replay,
    ui: { baseUrl: deps.uiBaseUrl ?? DEFAULT_UI_BASE_URL, namespace: deps.namespace ?? 'default' },
    ...(deps.consoleSessionKey ? { sessionKey: deps.consoleSessionKey } : {}),
    rulesets: new RuleSetRepository(deps.db),
    ...(deps.governance ? { governance: deps.governance } : {}),
  });
  if (deps.codec) {
    registerCodecRoutes(app, { codec: deps.codec, access, corsOrigins: deps.codecCorsOrigins ?? DEFAULT_CODEC_CORS_ORIGINS });
  }

  await registerApiDocs(app, { access });

  app.withTypeProvider<ZodTypeProvider>().get('/healthz', {
    schema: {
      tags: ['metrics'],
      summary: 'Liveness and database check',
      description: 'No key needed.',
      security: [],
      response: { 200: z.object({ status: z.literal('ok') }), 503: z.object({ status: z.literal('unavailable'), checks: z.object({ database: z.literal('down') }) }), ...errorResponses(429) },
    },
  }, async (request, reply) => {
    try {
      await inbox.ping();
      return { status: 'ok' as const };
    } catch (err) {
      request.log.error({ err }, 'health: database unreachable');
      return reply.code(503).send({ status: 'unavailable', checks: { database: 'down' } });
    }
  });

  app.get('/metrics', {
    schema: {
      tags: ['metrics'],
      summary: 'Prometheus metrics (text exposition format)',
      description: 'Webhook outcomes and dispatch latency, deals per stage and needing attention, the deal KPIs (stage cycle times, exceptions, invoice latency). No key needed: restrict it at the network, as for any scrape target.',
      security: [],
      produces: ['text/plain'],
    },
  }, async (_request, reply) => {
    await kpiRefresher?.refreshIfStale();
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  return app;

  /**
   * verify signature -> parse JSON -> event type (422) -> schema (400) -> find the deal
   * -> store in the inbox (dedupe) -> dispatch -> mark dispatched. A failure before
   * the store is recorded as a 'rejected' row; nothing before the dispatch touches a workflow.
   */
  async function intake(source: WebhookSource, request: FastifyRequest, reply: FastifyReply) {
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const rawBody = raw.toString('utf8');
    const correlationId = request.id;
    const log = request.log.child({ source: source.name });
    const incoming: IncomingWebhook = { rawBody: raw, headers: request.headers, params: request.params as Record<string, string> };
    let parsed: ParsedEvent | undefined;
    let storedId: number | undefined;
    // Kept on the inbox row: a replay parses the stored body again without re-verifying an old timestamp.
    let signatureVerifiedAt: Date | undefined;
    const routeParams = Object.keys(incoming.params).length ? incoming.params : undefined;
    try {
      const verified = source.verify(incoming, clock().getTime());
      if (!verified.ok) throw unauthorized(verified.reason, SIGNATURE_MESSAGES[verified.reason]);
      signatureVerifiedAt = clock();

      let json: unknown;
      try {
        json = JSON.parse(rawBody);
      } catch (err) {
        throw badRequest([{ path: '', message: (err as Error).message }], 'malformed JSON');
      }
      parsed = source.parse(json, incoming);

      const opportunityId =
        parsed.opportunityId ??
        (parsed.lookup ? await locator.opportunityFor(parsed.lookup.system, parsed.lookup.externalIds) : undefined);
      if (!opportunityId) {
        throw new HttpProblem(422, 'DEAL_UNRESOLVED', 'the event names no opportunity and none is mapped to its records', {
          lookup: parsed.lookup,
        });
      }
      const workflowId = dealWorkflowId(opportunityId);
      const stored = await inbox.accept({ source: source.name, eventId: parsed.eventId, eventType: parsed.eventType, rawBody, workflowId, correlationId, signatureVerifiedAt, ...(routeParams ? { routeParams } : {}) });
      if (stored.kind === 'duplicate') {
        metrics.webhooksReceived.inc({ source: source.name, outcome: 'duplicate' });
        log.info({ eventId: parsed.eventId, workflowId: stored.original.workflowId, originalId: stored.original.id }, 'webhook duplicate: not dispatched again');
        return reply.code(202).send({ workflowId: stored.original.workflowId, eventId: parsed.eventId, duplicate: true });
      }
      storedId = stored.id;

      const endTimer = metrics.dispatchSeconds.startTimer({ source: source.name });
      try {
        await parsed.dispatch(deps.dealGateway, { opportunityId, correlationId, receivedAt: clock() });
        endTimer({ outcome: 'dispatched' });
      } catch (err) {
        endTimer({ outcome: err instanceof DealNotFoundError ? 'unprocessable' : 'dispatch_failed' });
        if (err instanceof DealNotFoundError) {
          const problem = new HttpProblem(422, 'DEAL_NOT_FOUND', `no running deal ${workflowId} for this event`, { workflowId });
          await inbox.markRejected(stored.id, problem.body);
          throw problem;
        }
        log.error({ err, eventId: parsed.eventId, workflowId }, 'webhook dispatch failed; kept in the inbox for redelivery');
        await inbox.markDispatchFailed(stored.id, { message: (err as Error).message });
        throw new HttpProblem(503, 'DISPATCH_FAILED', 'the event is stored but could not be handed to its deal; redeliver to retry', { workflowId });
      }
      await inbox.markDispatched(stored.id);
      metrics.webhooksReceived.inc({ source: source.name, outcome: 'dispatched' });
      // Headers (redacted) are logged for refusals only, where they explain what a sender did wrong: every
      // accepted delivery's headers were a sixth of the service's CPU under load (BENCHMARKS.md, "Intake").
      log.info({ eventId: parsed.eventId, eventType: parsed.eventType, workflowId, retry: stored.kind === 'retry' }, 'webhook dispatched');
      return reply.code(202).send({ workflowId, eventId: parsed.eventId, duplicate: false });
    } catch (err) {
      if (!(err instanceof HttpProblem)) throw err;
      metrics.webhooksReceived.inc({ source: source.name, outcome: outcomeOf(err.status) });
      log.warn({ status: err.status, code: err.code, reason: err.details.reason, eventId: parsed?.eventId, headers: request.headers }, 'webhook rejected');
      if (storedId === undefined) {
        await inbox.recordRejected({
          source: source.name,
          eventId: parsed?.eventId,
          eventType: parsed?.eventType ?? (typeof err.details.eventType === 'string' ? err.details.eventType : undefined),
          rawBody,
          correlationId,
          error: err.body,
          ...(signatureVerifiedAt ? { signatureVerifiedAt } : {}),
          ...(routeParams ? { routeParams } : {}),
        });
      }
      return reply.code(err.status).send(err.body);
    }
  }
}

function toProblem(error: FastifyError, bodyLimit: number): HttpProblem {
  if (error instanceof HttpProblem) return error;
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpProblem(413, 'PAYLOAD_TOO_LARGE', `request body exceeds ${bodyLimit} bytes`, { limit: bodyLimit });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpProblem(415, 'UNSUPPORTED_MEDIA_TYPE', 'unsupported content type');
  }
  const status = error.statusCode ?? 500;
  if (status === 400) return badRequest([{ path: '', message: error.message }], error.message);
  if (status === 413) return new HttpProblem(413, 'PAYLOAD_TOO_LARGE', `request body exceeds ${bodyLimit} bytes`, { limit: bodyLimit });
  if (status === 415) return new HttpProblem(415, 'UNSUPPORTED_MEDIA_TYPE', 'unsupported content type');
  if (status < 500) return new HttpProblem(status, 'BAD_REQUEST', error.message);
  return new HttpProblem(500, 'INTERNAL', 'internal error');
}

export type { Metrics };
