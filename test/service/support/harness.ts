import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import Stripe from 'stripe';
import { openDb, schema, type DbHandle } from '../../../src/db';
import { buildService, type ServiceDeps, type ServiceSecrets } from '../../../src/service/app';
import { createLogger } from '../../../src/logger';
import { FakeDealGateway } from './fake-deal-gateway';

/** The fixed "now" of the service tests: 2025-03-31T12:00:00Z. */
export const NOW = new Date('2025-03-31T12:00:00.000Z');
export const NOW_S = Math.floor(NOW.getTime() / 1000);

export const SECRETS = {
  salesforceOld: 'sf-secret-old-0123456789abcdef',
  salesforceNew: 'sf-secret-new-fedcba9876543210',
  kantata: 'kantata-secret-00112233445566',
  docusignOld: 'ds-connect-key-old/7h3Kq2m9Zr0Xv1Bn4=',
  docusignNew: 'ds-connect-key-new/Q0pLm8Wx5Tz2Yc7Hd=',
  stripeOld: 'whsec_old_0000000000000000000000000000',
  stripeNew: 'whsec_new_1111111111111111111111111111',
  operatorRead: 'op-read-key-aaaaaaaaaaaaaaaa',
  operatorOperate: 'op-operate-key-bbbbbbbbbbbbbbbb',
  operatorApprove: 'op-approve-key-cccccccccccccccc',
} as const;

export const serviceSecrets: ServiceSecrets = {
  salesforceWebhookSecrets: [SECRETS.salesforceOld, SECRETS.salesforceNew],
  kantataWebhookSecrets: [SECRETS.kantata],
  docusignConnectKeys: [SECRETS.docusignOld, SECRETS.docusignNew],
  stripeWebhookSecrets: [SECRETS.stripeOld, SECRETS.stripeNew],
  operatorApiKeys: [
    { name: 'dashboard', key: SECRETS.operatorRead, scopes: ['read'] },
    { name: 'ops', key: SECRETS.operatorOperate, scopes: ['operate'] },
    { name: 'controller', key: SECRETS.operatorApprove, scopes: ['approve'] },
  ],
};

/** The q2c relay scheme written out as the docs describe it: hex HMAC-SHA256 of `${ts}.${body}`. */
export function q2cHeaders(body: string, secret: string, ts: number = NOW_S): Record<string, string> {
  const signature = createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex');
  return { 'content-type': 'application/json', 'x-q2c-timestamp': String(ts), 'x-q2c-signature': signature };
}

/** DocuSign Connect's documented scheme: base64(HMAC-SHA256(key, body)), one header per key. */
export function docusignHeaders(body: string, keys: string[]): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  keys.forEach((key, i) => {
    headers[`x-docusign-signature-${i + 1}`] = createHmac('sha256', key).update(body, 'utf8').digest('base64');
  });
  return headers;
}

/** Stripe's own test header (t=...,v1=...), as the SDK generates it. */
export function stripeHeaders(body: string, secret: string, ts: number = NOW_S): Record<string, string> {
  return {
    'content-type': 'application/json; charset=utf-8',
    'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: ts }),
  };
}

export interface InjectOptions {
  method: 'GET' | 'POST' | 'OPTIONS';
  url: string;
  payload?: string;
  headers?: Record<string, string>;
}

export interface Response {
  statusCode: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * One HTTP request over a real socket. (Fastify's `inject` cannot run under this
 * jest setup: light-my-request requires `cookie`@2, which is ESM-only.)
 */
export function request(baseUrl: string, opts: InjectOptions): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${baseUrl}${opts.url}`, { method: opts.method, headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
      });
      res.on('error', reject);
    });
    // The server may answer (413) and close before it has read the whole body.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    req.end(opts.payload);
  });
}

export interface Harness {
  app: FastifyInstance;
  baseUrl: string;
  inject(opts: InjectOptions): Promise<Response>;
  gateway: FakeDealGateway;
  database: DbHandle;
  logs: string[];
  inboxRows(): Promise<Array<typeof schema.webhookInbox.$inferSelect>>;
  close(): Promise<void>;
}

/** A fresh PGlite database (migrated) shared by one test file; reset between tests with `reset`. */
export async function openTestDb(): Promise<DbHandle> {
  return openDb({ dataDir: 'memory://' });
}

export async function resetDb(database: DbHandle): Promise<void> {
  await database.db.execute(sql`truncate webhook_inbox, identity_map, operator_actions restart identity`);
}

/** `deps` overrides or adds to the service's deps (codec, clock, openOnLoopback, ...). */
export async function startHarness(database: DbHandle, opts: { bodyLimit?: number; deps?: Partial<ServiceDeps> } = {}): Promise<Harness> {
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const gateway = new FakeDealGateway();
  const app = await buildService({
    db: database.db,
    dealGateway: gateway,
    logger: createLogger({ level: 'debug', destination }),
    secrets: serviceSecrets,
    clock: () => NOW,
    ...(opts.bodyLimit ? { bodyLimit: opts.bodyLimit } : {}),
    ...opts.deps,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    app,
    baseUrl,
    inject: (o) => request(baseUrl, o),
    gateway,
    database,
    logs,
    inboxRows: () => database.db.select().from(schema.webhookInbox).orderBy(schema.webhookInbox.id),
    close: () => app.close(),
  };
}

/**
 * The usual shape of a webhook test file: one database per file, emptied before
 * each test, and a fresh service per test with these deals running in the fake
 * gateway. `use` receives the current test's harness and database.
 */
export function useWebhookHarness(use: (current: { h: Harness; database: DbHandle }) => void, running: Record<string, { stage: string; correlationId: string }> = {}): void {
  let database: DbHandle;
  let h: Harness | undefined;
  beforeAll(async () => {
    database = await openTestDb();
  });
  afterAll(() => database.close());
  beforeEach(async () => {
    await resetDb(database);
    h = await startHarness(database);
    for (const [workflowId, state] of Object.entries(running)) h.gateway.running.set(workflowId, state);
    use({ h, database });
  });
  afterEach(() => h?.close());
}
