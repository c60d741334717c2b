import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import pino, { type Logger } from 'pino';
import { z } from 'zod';
import type { Db } from '../db';
import { requestLogController } from '../logger';
import type { SandboxContext, SandboxVendor } from './context';
import { FaultRegistry, FaultRule, seededRandom, type FaultRule as FaultRuleT } from './faults';
import { RequestCounter } from './requests';
import { SandboxStore } from './store';
import { SANDBOX_VENDORS } from './vendors';
import { WebhookSender } from './webhooks';

export interface SandboxOptions {
  db: Db;
  logger?: Logger;
  /** Where each vendor's outgoing webhooks go: { docusign: 'http://127.0.0.1:8080/webhooks/docusign' }. */
  webhookTargets?: Record<string, string>;
  /** Defaults to every vendor in src/sandbox/vendors.ts. */
  vendors?: readonly SandboxVendor[];
  /** Seeds the draws of probabilistic faults (default: unseeded). */
  faultSeed?: number;
}

export interface SandboxApp {
  app: FastifyInstance;
  store: SandboxStore;
  faults: FaultRegistry;
  webhooks: WebhookSender;
  requests: RequestCounter;
}

/** The request's route pattern, or its path when no route matched (a count per distinct unknown path). */
const routeOf = (request: FastifyRequest): string => request.routeOptions.url ?? request.url.split('?')[0] ?? '';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Path after the vendor prefix, without the query string. */
const innerPath = (url: string, prefix: string): string => {
  const path = url.split('?')[0] ?? '';
  return path.startsWith(prefix) ? path.slice(prefix.length) || '/' : path;
};

/**
 * One Fastify app serving every vendor sandbox under its prefix, plus the
 * control routes under /_sandbox (faults, state, webhooks).
 */
export async function buildSandboxApp(options: SandboxOptions): Promise<SandboxApp> {
  const logger = options.logger ?? pino({ level: 'silent' });
  const store = new SandboxStore(options.db);
  const faults = new FaultRegistry(options.faultSeed === undefined ? Math.random : seededRandom(options.faultSeed));
  const requests = new RequestCounter();
  const webhooks = new WebhookSender(options.db, faults, logger.child({ component: 'sandbox-webhooks' }), options.webhookTargets);
  const app = Fastify({ loggerInstance: logger as FastifyBaseLogger, bodyLimit: 10 * 1024 * 1024, logController: requestLogController('debug') });
  const ctx: SandboxContext = { store, faults, webhooks, logger };
  const withheld = new WeakMap<FastifyRequest, Extract<FaultRuleT, { kind: 'timeout_after_commit' }>>();

  for (const vendor of options.vendors ?? SANDBOX_VENDORS) {
    await app.register(
      async (scope) => {
        scope.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
          const hits = faults.takeHttp(vendor.vendor, request.method, innerPath(request.url, vendor.prefix));
          for (const f of hits) if (f.kind === 'latency') await sleep(f.ms);
          for (const f of hits) {
            switch (f.kind) {
              case 'reset':
                requests.record(vendor.vendor, request.method, routeOf(request), 0);
                reply.hijack();
                request.raw.socket.destroy();
                return reply;
              case 'status':
                return reply.code(f.status).send(vendor.errorBody(f.status, f.message));
              case 'rate_limit':
                return reply.code(429).header('retry-after', String(f.retryAfterSeconds)).send(vendor.errorBody(429, f.message));
              case 'timeout_after_commit':
                withheld.set(request, f);
                break;
              default:
                break;
            }
          }
          return undefined;
        });
        scope.addHook('onResponse', async (request, reply) => {
          requests.record(vendor.vendor, request.method, routeOf(request), reply.statusCode);
        });
        scope.addHook('onSend', async (request, _reply, payload) => {
          const f = withheld.get(request);
          if (f === undefined) return payload;
          // The handler has committed; the caller never hears about it in time.
          if (f.delayMs !== undefined) await sleep(f.delayMs);
          else request.raw.socket.destroy();
          return payload;
        });
        scope.setNotFoundHandler((request, reply) => {
          void reply.code(404).send(vendor.errorBody(404, `no such resource: ${request.method} ${innerPath(request.url, vendor.prefix)}`));
        });
        scope.setErrorHandler((err: { statusCode?: number; message: string }, request, reply) => {
          const status = err.statusCode !== undefined && err.statusCode >= 400 ? err.statusCode : 500;
          if (status >= 500) request.log.error({ err }, 'sandbox handler failed');
          void reply.code(status).send(vendor.errorBody(status, err.message));
        });
        await scope.register(vendor.plugin, ctx);
      },
      { prefix: vendor.prefix },
    );
  }

  await app.register(
    async (admin) => {
      admin.get('/health', async () => ({ ok: true, vendors: (options.vendors ?? SANDBOX_VENDORS).map((v) => v.vendor) }));

      admin.post('/faults', async (request, reply) => {
        const body = Array.isArray(request.body) ? request.body : [request.body];
        const parsed = z.array(FaultRule).safeParse(body);
        if (!parsed.success) return reply.code(400).send({ error: 'invalid fault', issues: parsed.error.issues });
        try {
          return reply.code(201).send({ ids: parsed.data.map((r) => faults.add(r)) });
        } catch (err) {
          return reply.code(400).send({ error: (err as Error).message });
        }
      });
      admin.get('/faults', async () => ({ faults: faults.list() }));
      admin.put('/faults/seed', async (request, reply) => {
        const parsed = z.object({ seed: z.int() }).safeParse(request.body);
        if (!parsed.success) return reply.code(400).send({ error: 'body must be { seed: <integer> }', issues: parsed.error.issues });
        faults.seed(parsed.data.seed);
        return { seed: parsed.data.seed };
      });

      admin.get('/requests', async (request) => ({ requests: requests.list((request.query as { vendor?: string }).vendor) }));
      admin.delete('/requests', async () => {
        requests.reset();
        return { reset: true };
      });
      admin.delete('/faults', async (request) => {
        const vendor = (request.query as { vendor?: string }).vendor;
        faults.clear(vendor);
        return { cleared: vendor ?? 'all' };
      });
      admin.delete('/faults/:id', async (request, reply) => {
        const { id } = request.params as { id: string };
        return faults.remove(id) ? { removed: id } : reply.code(404).send({ error: `no fault ${id}` });
      });

      admin.get('/state/:vendor/:kind', async (request) => {
        const { vendor, kind } = request.params as { vendor: string; kind: string };
        const { items, total } = await store.list(vendor, kind);
        return { vendor, kind, count: total, records: items.map((r) => ({ id: r.id, externalId: r.externalId, version: r.version, data: r.data })) };
      });
      admin.delete('/state', async () => {
        await webhooks.idle();
        await store.reset();
        faults.clear();
        requests.reset();
        return { reset: true };
      });

      admin.get('/webhooks', async (request) => {
        await webhooks.idle();
        const vendor = (request.query as { vendor?: string }).vendor;
        return { webhooks: await webhooks.list(vendor) };
      });
      admin.put('/webhooks/targets/:vendor', async (request, reply) => {
        const { vendor } = request.params as { vendor: string };
        const parsed = z.object({ url: z.url().nullable() }).safeParse(request.body);
        if (!parsed.success) return reply.code(400).send({ error: 'body must be { url }' });
        webhooks.setTarget(vendor, parsed.data.url ?? undefined);
        return { vendor, url: parsed.data.url };
      });
      admin.post('/webhooks/:id/redeliver', async (request) => {
        const id = Number((request.params as { id: string }).id);
        await webhooks.redeliver(id);
        return { redelivered: id };
      });
    },
    { prefix: '/_sandbox' },
  );

  app.addHook('onClose', async () => {
    webhooks.close();
  });
  return { app, store, faults, webhooks, requests };
}

export interface StartSandboxOptions extends SandboxOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
}

export interface RunningSandbox extends SandboxApp {
  url: string;
  close(): Promise<void>;
}

/** Builds the sandbox and listens; `url` is the base URL every vendor prefix hangs off. */
export async function startSandbox(options: StartSandboxOptions): Promise<RunningSandbox> {
  const built = await buildSandboxApp(options);
  const host = options.host ?? '127.0.0.1';
  await built.app.listen({ port: options.port, host });
  const address = built.app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return {
    ...built,
    url: `http://${host}:${port}`,
    close: async () => {
      built.webhooks.close();
      built.app.server.closeAllConnections();
      await built.app.close();
    },
  };
}
