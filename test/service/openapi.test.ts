import { readFileSync } from 'node:fs';
import { EncryptionCodec } from '../../src/codec/encryption.codec';
import type { DbHandle } from '../../src/db';
import type { RuleSetGovernanceGateway } from '../../src/service/ruleset-gateway';
import { SECRETS, openTestDb, startHarness, type Harness } from './support/harness';

const read = { authorization: `Bearer ${SECRETS.operatorRead}` };
const approve = { authorization: `Bearer ${SECRETS.operatorApprove}`, 'content-type': 'application/json' };
const { version } = JSON.parse(readFileSync(`${__dirname}/../../package.json`, 'utf8')) as { version: string };

/** Never called: the proposal routes exist only with a governance gateway. */
const governance = {} as RuleSetGovernanceGateway;

/** Every route the service answers, with the scope it requires (none: signed webhooks, health, metrics). */
const ROUTES: Array<[string, string, 'read' | 'operate' | 'approve' | null]> = [
  ['post', '/webhooks/salesforce/opportunity', null],
  ['post', '/webhooks/docusign/connect', null],
  ['post', '/webhooks/kantata/{kind}', null],
  ['post', '/webhooks/stripe', null],
  ['get', '/deals', 'read'],
  ['get', '/deals/{id}', 'read'],
  ['get', '/deals/{id}/revenue-waterfall', 'read'],
  ['post', '/deals/{id}/resolve', 'operate'],
  ['post', '/deals/{id}/exceptions/{exceptionId}/notes', 'operate'],
  ['post', '/deals/{id}/amendments', 'operate'],
  ['post', '/deals/{id}/credit-memos', 'operate'],
  ['post', '/deals/{id}/termination', 'operate'],
  ['post', '/deals/{id}/invoices/{invoiceId}/decision', 'approve'],
  ['post', '/deals/{id}/invoices/{invoiceId}/write-off', 'approve'],
  ['post', '/deals/{id}/invoices/{invoiceId}/promise-to-pay', 'operate'],
  ['get', '/inbox', 'read'],
  ['post', '/inbox/{id}/replay', 'operate'],
  ['get', '/rulesets', 'read'],
  ['get', '/rulesets/{id}/{version}', 'read'],
  ['post', '/rulesets/proposals', 'operate'],
  ['get', '/rulesets/proposals/{id}', 'read'],
  ['post', '/rulesets/proposals/{id}/approval', 'approve'],
  ['post', '/rulesets/proposals/{id}/rejection', 'approve'],
  ['get', '/dashboard', 'read'],
  ['post', '/codec/decode', 'read'],
  ['post', '/codec/encode', 'read'],
  ['get', '/healthz', null],
  ['get', '/metrics', null],
];

type Operation = {
  tags: string[];
  summary?: string;
  description?: string;
  security?: Array<Record<string, string[]>>;
  'x-required-scope'?: string;
  parameters?: Array<{ in: string; name: string; required?: boolean; schema: Record<string, unknown> }>;
  requestBody?: { content: Record<string, { schema: any }> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  responses: Record<string, unknown>;
};

describe('OpenAPI document and Swagger UI at /docs', () => {
  let database: DbHandle;
  let h: Harness;
  let doc: { openapi: string; info: Record<string, string>; tags: Array<{ name: string }>; paths: Record<string, Record<string, Operation>>; components: { securitySchemes: Record<string, unknown> } };
  const op = (method: string, path: string): Operation => doc.paths[path]![method]!;
  const body = (method: string, path: string) => op(method, path).requestBody!.content['application/json']!.schema;

  beforeAll(async () => {
    database = await openTestDb();
    h = await startHarness(database, { deps: { governance, codec: new EncryptionCodec([{ id: 'k1', key: Buffer.alloc(32, 7) }]) } });
    const res = await h.inject({ method: 'GET', url: '/docs/json', headers: read });
    expect(res.statusCode).toBe(200);
    doc = res.json();
  });
  afterAll(async () => {
    await h.close();
    await database.close();
  });

  it('describes the API: title, the version from package.json, the bearer key scheme, the tags', () => {
    expect(doc.openapi).toBe('3.0.3');
    expect(doc.info.title).toBe('q2c service API');
    expect(doc.info.version).toBe(version);
    expect(doc.info.description).toContain('`approve`');
    expect(doc.components.securitySchemes.operatorKey).toEqual({ type: 'http', scheme: 'bearer', description: 'An operator API key' });
    expect(doc.components.securitySchemes.operatorKeyBasic).toMatchObject({ type: 'http', scheme: 'basic' });
    expect(doc.tags.map((t) => t.name)).toEqual(['webhooks', 'deals', 'operations', 'inbox', 'rulesets', 'pages', 'codec', 'metrics']);
  });

  it('lists every route once, with its method, and nothing else (no docs or static routes)', () => {
    const listed = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    expect(listed.sort()).toEqual(ROUTES.map(([m, p]) => `${m} ${p}`).sort());
  });

  it.each(ROUTES)('%s %s states its scope in the description, as x-required-scope and as its security', (method, path, scope) => {
    const o = op(method, path);
    expect(o.tags).toHaveLength(1);
    expect(o.summary).toBeTruthy();
    if (scope === null) {
      expect(o.security).toEqual([]);
      expect(o['x-required-scope']).toBeUndefined();
      return;
    }
    expect(o['x-required-scope']).toBe(scope);
    expect(o.description).toContain(`the \`${scope}\` scope`);
    // Basic (a browser's cached key) only ever reads.
    expect(o.security).toEqual(scope === 'read' ? [{ operatorKey: [] }, { operatorKeyBasic: [] }] : [{ operatorKey: [] }]);
    expect(Object.keys(o.responses)).toEqual(expect.arrayContaining(['401', '403', '429']));
  });

  it('documents path parameters and the invoice decision body from the zod schemas the route validates with', () => {
    const decision = op('post', '/deals/{id}/invoices/{invoiceId}/decision');
    expect(decision.parameters!.map((p) => [p.in, p.name, p.required])).toEqual([
      ['path', 'id', true],
      ['path', 'invoiceId', true],
    ]);
    expect(decision.parameters![0]!.schema).toEqual({ type: 'string', pattern: '^[A-Za-z0-9_-]{1,100}$' });
    const schema = body('post', '/deals/{id}/invoices/{invoiceId}/decision');
    expect(schema.properties.decision).toEqual({ type: 'string', enum: ['approve', 'reject'] });
    expect(schema.required).toEqual(['decision']);
    expect(schema.properties.reason).toEqual({ type: 'string', minLength: 1, maxLength: 2000 });
  });

  it("documents the amendment body down to each change's op and the money fields", () => {
    const changes = body('post', '/deals/{id}/amendments').properties.changes;
    expect([changes.type, changes.minItems, changes.maxItems]).toEqual(['array', 1, 50]);
    const variants = changes.items.oneOf as Array<{ properties: Record<string, any>; required: string[] }>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(variants.map((v) => v.properties.op.enum)).toEqual([['UPDATE_LINE'], ['END_LINE'], ['REMOVE_LINE'], ['ADD_LINE'], ['SET_TERMS']]);
    const addLine = variants[3]!.properties.line;
    expect(addLine.properties.billingModel.enum).toEqual(['FIXED_FEE_MILESTONE', 'TIME_AND_MATERIALS', 'RETAINER', 'SUBSCRIPTION', 'EXPENSES']);
    // Money is integer minor units with an ISO 4217 code.
    expect(addLine.properties.allocatedValue.properties.amountMinor.type).toBe('integer');
    expect(addLine.properties.allocatedValue.properties.currency).toEqual({ type: 'string', pattern: '^[A-Z]{3}$' });
    expect(variants[4]!.properties.set.properties.paymentTerms.properties.netDays).toEqual({ type: 'integer', minimum: 0, maximum: 365 });
  });

  it('documents the query of GET /inbox and the error body with its field paths', () => {
    expect(op('get', '/inbox').parameters!.map((p) => [p.in, p.name, p.schema.enum ?? p.schema.type])).toEqual([
      ['query', 'status', ['accepted', 'duplicate', 'rejected', 'dispatched']],
      ['query', 'source', ['salesforce', 'docusign', 'kantata', 'stripe']],
      ['query', 'limit', 'integer'],
    ]);
    const bad = (op('post', '/deals/{id}/resolve').responses['400'] as { content: Record<string, { schema: any }> }).content['application/json']!.schema; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(bad.required).toEqual(['error', 'message']);
    expect(bad.properties.issues.items.required).toEqual(['path', 'message']);
  });

  it('documents the webhooks with their signature headers and payloads, without parsing them before the signature check', async () => {
    const sf = op('post', '/webhooks/salesforce/opportunity');
    expect(sf.parameters!.map((p) => [p.in, p.name, p.required])).toEqual([
      ['header', 'x-q2c-timestamp', true],
      ['header', 'x-q2c-signature', true],
    ]);
    expect(body('post', '/webhooks/salesforce/opportunity').properties.opportunity.properties.stageName).toEqual({ type: 'string', enum: ['Closed Won'] });
    expect(sf.description).toContain('exact bytes');
    expect(op('post', '/webhooks/stripe').parameters!.map((p) => p.name)).toEqual(['stripe-signature']);
    expect(op('post', '/webhooks/kantata/{kind}').parameters![0]).toMatchObject({ in: 'path', name: 'kind', schema: { enum: ['time-entry-approved', 'expense-approved', 'milestone-completed', 'milestone-accepted', 'time-entry-unapproved', 'expense-unapproved'] } });
    expect(Object.keys(sf.responses)).toEqual(['202', '400', '401', '413', '415', '422', '429', '503']);

    // The documented header and body are not a validation schema: an unsigned, empty delivery is
    // still refused by the signature check (401), and kept in the inbox.
    const res = await h.inject({ method: 'POST', url: '/webhooks/salesforce/opportunity', payload: '{}', headers: { 'content-type': 'application/json' } });
    expect([res.statusCode, res.json().reason]).toEqual([401, 'MISSING_SIGNATURE']);
  });

  it('validates with the documented schema: the decision enum and the path pattern, answered with field paths', async () => {
    const maybe = await h.inject({ method: 'POST', url: '/deals/OPP-1/invoices/INV-1/decision', payload: JSON.stringify({ decision: 'maybe' }), headers: approve });
    expect(maybe.statusCode).toBe(400);
    expect(maybe.json()).toEqual({ error: 'BAD_REQUEST', message: 'invalid invoice decision', issues: [{ path: 'decision', message: 'Invalid option: expected one of "approve"|"reject"' }] });
    const badId = await h.inject({ method: 'POST', url: '/deals/OPP%201/invoices/INV-1/decision', payload: JSON.stringify({ decision: 'approve' }), headers: approve });
    expect(badId.json()).toEqual({ error: 'BAD_REQUEST', message: 'invalid invoice', issues: [{ path: 'id', message: 'expected an opportunity id' }] });
    expect(h.gateway.calls).toEqual([]);
  });

  it('serves Swagger UI at /docs with its own assets (offline), to readers of the API', async () => {
    const page = await h.inject({ method: 'GET', url: '/docs', headers: read });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('<div id="swagger-ui"></div>');
    const scripts = [...page.body.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]!);
    expect(scripts).toEqual(['/docs/static/swagger-ui-bundle.js', '/docs/static/swagger-ui-standalone-preset.js', '/docs/static/swagger-initializer.js']);
    for (const src of scripts) {
      const asset = await h.inject({ method: 'GET', url: src, headers: read });
      expect([src, asset.statusCode, asset.headers['content-type']]).toEqual([src, 200, 'application/javascript; charset=utf-8']);
    }
    // The initializer points the UI at the document served next to it, not at a public URL.
    expect((await h.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js', headers: read })).body).toContain("resolveUrl('./json')");

    const anonymous = await h.inject({ method: 'GET', url: '/docs' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Basic realm="q2c operator", charset="UTF-8"');
    expect((await h.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(401);
  });
});
