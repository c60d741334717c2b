import type { Payload, PayloadCodec } from '@temporalio/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireScope, type AccessPolicy } from './auth';
import { HttpProblem } from './errors';
import { documented, errorResponses } from './openapi';

/** The Temporal Web UI of `temporal server start-dev`. */
export const DEFAULT_CODEC_CORS_ORIGINS: readonly string[] = ['http://localhost:8233'];
/** A history event can carry several payloads of up to 2 MB each, base64 adds a third. */
export const CODEC_BODY_LIMIT = 8 * 1024 * 1024;
const ALLOW_HEADERS = 'Authorization, Content-Type, X-Namespace';
const ALLOW_METHODS = 'POST, OPTIONS';
const PREFLIGHT_MAX_AGE = '600';

// proto3 JSON accepts standard and URL-safe base64, padded or not (Buffer decodes all four).
const base64 = z
  .string()
  .refine((s) => /^[A-Za-z0-9+/_-]*={0,2}$/.test(s) && s.length % 4 !== 1 && (!s.includes('=') || s.length % 4 === 0), 'expected base64');

/** `Payloads` in protobuf JSON: metadata values and data are base64 (proto3 `bytes`). */
export const PayloadsJson = z.object({
  payloads: z
    .array(
      z.object({
        metadata: z.record(z.string(), base64).optional(),
        data: base64.optional(),
      }),
    )
    .max(10_000),
});
type PayloadJson = z.infer<typeof PayloadsJson>['payloads'][number];

const fromJson = (p: PayloadJson): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});

// proto3 JSON leaves out empty fields.
const toJson = (p: Payload): PayloadJson => {
  const metadata = Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  const data = p.data && p.data.length > 0 ? Buffer.from(p.data).toString('base64') : undefined;
  return { metadata, ...(data !== undefined ? { data } : {}) };
};

export interface CodecRoutesDeps {
  codec: PayloadCodec;
  access: AccessPolicy;
  /** Browser origins allowed to call the codec (the Temporal Web UI), compared exactly. */
  corsOrigins: readonly string[];
}

/**
 * Temporal's remote codec protocol (https://docs.temporal.io/production-deployment/data-encryption):
 * POST /codec/decode and /codec/encode take and answer `{"payloads":[{metadata, data}]}`
 * in protobuf JSON. The Web UI calls them from the browser, cross-origin, with
 * `X-Namespace` (and `Authorization` when told to pass a token): hence CORS with
 * credentials for the configured origins only. A request from any other origin is
 * refused outright, so a page on another site cannot use a loopback-open codec.
 */
export function registerCodecRoutes(app: FastifyInstance, deps: CodecRoutesDeps) {
  const allowed = new Set(deps.corsOrigins);

  const cors = async (request: FastifyRequest, reply: FastifyReply) => {
    const origin = request.headers.origin;
    if (origin === undefined) return; // not a browser: the temporal CLI's --codec-endpoint, curl
    reply.header('vary', 'Origin');
    if (!allowed.has(origin)) {
      return reply.code(403).send({ error: 'FORBIDDEN', message: `origin '${origin}' is not allowed to use the codec` });
    }
    reply.header('access-control-allow-origin', origin);
    reply.header('access-control-allow-credentials', 'true');
  };

  const preflight = async (_request: FastifyRequest, reply: FastifyReply) => {
    reply.header('access-control-allow-methods', ALLOW_METHODS);
    reply.header('access-control-allow-headers', ALLOW_HEADERS);
    reply.header('access-control-max-age', PREFLIGHT_MAX_AGE);
    return reply.code(204).send();
  };

  const run = async (direction: 'encode' | 'decode', { payloads }: z.infer<typeof PayloadsJson>, request: FastifyRequest, reply: FastifyReply) => {
    try {
      const out: Payload[] = [];
      // One payload at a time, so a failure names the payload it is about.
      for (const [i, p] of payloads.entries()) {
        try {
          out.push(...(await deps.codec[direction]([fromJson(p)])));
        } catch (err) {
          throw new HttpProblem(400, 'BAD_REQUEST', `could not ${direction} payloads.${i}: ${(err as Error).message}`, {
            issues: [{ path: `payloads.${i}`, message: (err as Error).message }],
          });
        }
      }
      request.log.debug({ namespace: request.headers['x-namespace'], direction, count: out.length, operator: request.principal?.name }, 'codec');
      return { payloads: out.map(toJson) };
    } catch (err) {
      if (err instanceof HttpProblem) return reply.code(err.status).send(err.body);
      throw err;
    }
  };

  for (const direction of ['decode', 'encode'] as const) {
    const url = `/codec/${direction}`;
    // Preflights carry no credentials: answered before (and without) the key check.
    app.options(url, { onRequest: cors, schema: { hide: true } }, preflight);
    app.withTypeProvider<ZodTypeProvider>().post(url, {
      onRequest: cors,
      preValidation: requireScope(deps.access, 'read'),
      bodyLimit: CODEC_BODY_LIMIT,
      config: { inputNames: { body: `${direction} request` } },
      schema: {
        ...documented({
          tag: 'codec',
          summary: direction === 'decode' ? 'Decode (decrypt) payloads for the Temporal Web UI' : 'Encode (encrypt) payloads',
          scope: 'read',
          description: "Temporal's remote codec protocol: `Payloads` in protobuf JSON. Called cross-origin by the Web UI (CORS for the configured origins only; any other origin is refused with 403).",
        }),
        body: PayloadsJson,
        response: { 200: PayloadsJson, ...errorResponses(400, 401, 403, 413, 429) },
      },
    }, (request, reply) => run(direction, request.body, request, reply));
  }
}
