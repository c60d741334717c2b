import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SandboxPlugin, SandboxVendor } from '../context';
import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_CLIENT_SECRET_NEXT, SANDBOX_JWT_PUBLIC_KEY, SANDBOX_USER } from '../credentials';
import { addFormParser, TokenTable, verifyJwtAssertion } from '../oauth';
import { DuplicateExternalIdError, type SandboxRecord } from '../store';
import { compare, matches, parseSoql, SoqlError } from './soql';

const VENDOR = 'salesforce';
/** Audience of JWT-bearer assertions for the sandbox (the real one is login.salesforce.com or test.salesforce.com). */
export const SALESFORCE_SANDBOX_AUDIENCE = 'https://login.salesforce.com';

interface SObjectDef {
  keyPrefix: string;
  fields: ReadonlySet<string>;
  /** Fields declared as external ids (upsert targets). */
  externalIds: ReadonlySet<string>;
  /** Fields Salesforce computes (read-only on this object). */
  computed?: ReadonlySet<string>;
}

const SYSTEM_FIELDS = ['Id', 'CreatedDate', 'LastModifiedDate', 'SystemModstamp'];
const def = (keyPrefix: string, fields: string[], externalIds: string[] = []): SObjectDef => ({ keyPrefix, fields: new Set([...SYSTEM_FIELDS, ...fields, ...externalIds]), externalIds: new Set(externalIds) });

/** The subset of the org's schema the adapter uses, with Salesforce CPQ's managed-package objects. */
export const SOBJECTS: Readonly<Record<string, SObjectDef>> = {
  Account: def('001', ['Name', 'BillingStreet', 'BillingCity', 'BillingState', 'BillingPostalCode', 'BillingCountryCode', 'ParentId', 'CurrencyIsoCode', 'Q2C_Legal_Entity__c', 'Q2C_Tax_Id__c', 'Q2C_Billing_Email__c', 'Q2C_Billing_Contact__c'], ['External_Id__c']),
  Opportunity: def('006', ['Name', 'AccountId', 'StageName', 'CloseDate', 'Amount', 'CurrencyIsoCode', 'IsClosed', 'IsWon', 'SBQQ__PrimaryQuote__c', 'Q2C_Project_Id__c', 'Q2C_Project_URL__c', 'Q2C_Sold_Entity__c', 'Q2C_Delivery_Entity__c', 'Q2C_PO_Number__c']),
  SBQQ__Quote__c: def('a0q', ['Name', 'SBQQ__Opportunity2__c', 'SBQQ__Account__c', 'SBQQ__Primary__c', 'SBQQ__Status__c', 'ApprovalStatus__c', 'SBQQ__ExpirationDate__c', 'CurrencyIsoCode']),
  SBQQ__QuoteLine__c: def('a0r', ['SBQQ__Quote__c', 'SBQQ__Number__c', 'SBQQ__ProductCode__c', 'SBQQ__Description__c', 'SBQQ__Quantity__c', 'SBQQ__ListPrice__c', 'SBQQ__NetPrice__c', 'SBQQ__Discount__c', 'Q2C_Unit__c', 'SBQQ__StartDate__c', 'SBQQ__EndDate__c', 'CurrencyIsoCode']),
  Q2C_Invoice__c: def('a0i', ['Name', 'Opportunity__c', 'Status__c', 'Total__c', 'Amount_Paid__c', 'Due_Date__c', 'CurrencyIsoCode'], ['Invoice_Number__c']),
  // Activity custom fields cannot be external ids, so Task has none: q2c finds its dunning tasks by Q2C_Dunning_Key__c.
  Task: {
    ...def('00T', [
      'WhatId', 'WhoId', 'AccountId', 'OwnerId', 'Subject', 'ActivityDate', 'Status', 'Priority', 'Type', 'Description', 'IsClosed', 'CurrencyIsoCode',
      'Q2C_Dunning_Key__c', 'Q2C_Invoice_Number__c', 'Q2C_Amount_Open__c', 'Q2C_Days_Past_Due__c', 'Q2C_Dunning_Step__c',
    ]),
    computed: new Set(['AccountId', 'IsClosed']),
  },
};
const READ_ONLY = new Set([...SYSTEM_FIELDS, 'IsClosed', 'IsWon']);

type Fields = Record<string, unknown>;
const sfError = (errorCode: string, message: string, fields: string[] = []) => [{ message, errorCode, fields }];

/** Salesforce datetime format: 2024-01-15T10:00:00.000+0000 */
const sfNow = (): string => new Date().toISOString().replace('Z', '+0000');
const sfId = (prefix: string, seq: number): string => `${prefix}${String(seq).padStart(12, '0')}AAA`;

/** Derived fields Salesforce computes: an opportunity's from its stage, a task's from its status (its AccountId on create). */
const derive = (type: string, f: Fields): Fields => {
  if (type === 'Opportunity') return { ...f, IsClosed: isWonStage(f.StageName) || f.StageName === 'Closed Lost', IsWon: isWonStage(f.StageName) };
  if (type === 'Task') return { ...f, Status: f.Status ?? 'Not Started', Priority: f.Priority ?? 'Normal', IsClosed: f.Status === 'Completed' };
  return f;
};

/** In an org, IsWon comes from the stage's picklist setting; here every stage named 'Closed Won…' is a won stage (q2c writes 'Closed Won - In Delivery'). */
const isWonStage = (stage: unknown): boolean => typeof stage === 'string' && stage.startsWith('Closed Won');

const apiPath = (version: string, type: string, id: string): string => `/services/data/v${version}/sobjects/${type}/${id}`;

function view(version: string, type: string, rec: SandboxRecord, fields?: readonly string[]): Fields {
  const names = fields ?? [...(SOBJECTS[type]?.fields ?? [])];
  const out: Fields = { attributes: { type, url: apiPath(version, type, rec.id) } };
  for (const n of names) out[n] = n === 'Id' ? rec.id : (rec.data[n] ?? null);
  return out;
}

/** Unknown or read-only fields in a write: Salesforce answers INVALID_FIELD / INVALID_FIELD_FOR_INSERT_UPDATE. */
function checkWritable(type: string, body: Fields): ReturnType<typeof sfError> | undefined {
  const sobject = SOBJECTS[type]!;
  for (const k of Object.keys(body)) {
    if (k === 'attributes') continue;
    if (!sobject.fields.has(k)) return sfError('INVALID_FIELD', `No such column '${k}' on sobject of type ${type}`, [k]);
    if (READ_ONLY.has(k) || sobject.computed?.has(k)) return sfError('INVALID_FIELD_FOR_INSERT_UPDATE', `Unable to create/update fields: ${k}. Please check the security settings of this field.`, [k]);
  }
  return undefined;
}

interface Cursor {
  ids: string[];
  type: string;
  fields: string[];
  batchSize: number;
}

/**
 * Salesforce REST API (subset): OAuth2 token endpoint (client credentials and
 * JWT bearer), sObject CRUD, upsert by external id, and SOQL queries paged by
 * nextRecordsUrl. Batch size follows `Sforce-Query-Options: batchSize=N`
 * (the sandbox allows N below Salesforce's minimum of 200 so tests can page).
 */
export const salesforceSandbox: SandboxPlugin = async (app, ctx) => {
  addFormParser(app);
  const tokens = new TokenTable();
  const cursors = new Map<string, Cursor>();
  const instanceUrl = (req: FastifyRequest): string => `${req.protocol}://${req.host}/salesforce`;

  app.post('/services/oauth2/token', async (req, reply) => {
    const form = (req.body ?? {}) as Record<string, string>;
    const ok = (subject: string) =>
      reply.send({
        access_token: tokens.issue(subject, 2 * 3600, '00D000000000001!'),
        instance_url: instanceUrl(req),
        id: `${instanceUrl(req)}/id/00D000000000001/005000000000001`,
        token_type: 'Bearer',
        issued_at: String(Date.now()),
        signature: randomBytes(32).toString('base64'),
      });
    if (form.grant_type === 'client_credentials') {
      if (form.client_id !== SANDBOX_CLIENT_ID || ![SANDBOX_CLIENT_SECRET, SANDBOX_CLIENT_SECRET_NEXT].includes(form.client_secret ?? '')) {
        return reply.code(400).send({ error: 'invalid_client', error_description: 'invalid client credentials' });
      }
      return ok(SANDBOX_USER);
    }
    if (form.grant_type === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      const v = verifyJwtAssertion(form.assertion ?? '', { issuer: SANDBOX_CLIENT_ID, audience: SALESFORCE_SANDBOX_AUDIENCE, publicKeyPem: SANDBOX_JWT_PUBLIC_KEY });
      if (!v.ok) return reply.code(400).send({ error: 'invalid_grant', error_description: v.reason });
      return ok(String(v.claims.sub));
    }
    return reply.code(400).send({ error: 'unsupported_grant_type', error_description: 'grant type not supported' });
  });

  /** Sandbox control: expire every session (to exercise refresh on INVALID_SESSION_ID). */
  app.post('/_sandbox/revoke-sessions', async () => {
    tokens.revokeAll();
    return { revoked: true };
  });

  app.register(async (api) => {
    api.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      if (tokens.check(req.headers.authorization) === undefined) {
        return reply.code(401).send(sfError('INVALID_SESSION_ID', 'Session expired or invalid'));
      }
      return undefined;
    });

    const notFound = (reply: FastifyReply) => reply.code(404).send(sfError('NOT_FOUND', 'The requested resource does not exist'));
    const unknownType = (reply: FastifyReply, type: string) => reply.code(404).send(sfError('NOT_FOUND', `The requested resource does not exist: sObject type '${type}' is not supported.`));

    api.post('/services/data/:version/sobjects/:type', async (req, reply) => {
      const { type } = req.params as { version: string; type: string };
      const sobject = SOBJECTS[type];
      if (!sobject) return unknownType(reply, type);
      const body = (req.body ?? {}) as Fields;
      const bad = checkWritable(type, body);
      if (bad) return reply.code(400).send(bad);
      const extField = [...sobject.externalIds][0];
      const ext = extField !== undefined && typeof body[extField] === 'string' ? (body[extField] as string) : null;
      // A task on an opportunity or account belongs to that account (Salesforce sets AccountId from WhatId).
      let related: Fields = {};
      if (type === 'Task' && typeof body.WhatId === 'string') {
        const what = body.WhatId.startsWith('006') ? await ctx.store.get(VENDOR, 'Opportunity', body.WhatId) : body.WhatId.startsWith('001') ? await ctx.store.get(VENDOR, 'Account', body.WhatId) : undefined;
        if (!what) return reply.code(400).send(sfError('INVALID_CROSS_REFERENCE_KEY', `invalid cross reference id: ${body.WhatId}`, ['WhatId']));
        related = { AccountId: body.WhatId.startsWith('006') ? (what.data.AccountId ?? null) : what.id };
      }
      try {
        const now = sfNow();
        const rec = await ctx.store.insert(VENDOR, type, { idFor: (seq) => sfId(sobject.keyPrefix, seq), externalId: ext, data: derive(type, { ...body, ...related, CreatedDate: now, LastModifiedDate: now, SystemModstamp: now }) });
        return reply.code(201).send({ id: rec.id, success: true, errors: [] });
      } catch (err) {
        if (err instanceof DuplicateExternalIdError) {
          const existing = await ctx.store.getByExternalId(VENDOR, type, err.externalId);
          return reply.code(400).send(sfError('DUPLICATE_VALUE', `duplicate value found: ${extField} duplicates value on record with id: ${existing?.id ?? ''}`, [extField ?? '']));
        }
        throw err;
      }
    });

    api.get('/services/data/:version/sobjects/:type/:id', async (req, reply) => {
      const { version, type, id } = req.params as { version: string; type: string; id: string };
      if (!SOBJECTS[type]) return unknownType(reply, type);
      const rec = await ctx.store.get(VENDOR, type, id);
      if (!rec) return notFound(reply);
      const fields = (req.query as { fields?: string }).fields?.split(',').map((f) => f.trim());
      return view(version.replace(/^v/, ''), type, rec, fields ? ['Id', ...fields.filter((f) => f !== 'Id')] : undefined);
    });

    api.patch('/services/data/:version/sobjects/:type/:id', async (req, reply) => {
      const { type, id } = req.params as { version: string; type: string; id: string };
      if (!SOBJECTS[type]) return unknownType(reply, type);
      const body = (req.body ?? {}) as Fields;
      const bad = checkWritable(type, body);
      if (bad) return reply.code(400).send(bad);
      const rec = await ctx.store.get(VENDOR, type, id);
      if (!rec) return notFound(reply);
      const now = sfNow();
      await ctx.store.update(VENDOR, type, id, (d) => derive(type, { ...d, ...body, LastModifiedDate: now, SystemModstamp: now }));
      return reply.code(204).send();
    });

    // Upsert: PATCH /sobjects/{type}/{externalIdField}/{value} — 201 created, 200 updated (API v46.0+ returns a body for both).
    api.patch('/services/data/:version/sobjects/:type/:field/:value', async (req, reply) => {
      const { type, field, value } = req.params as { version: string; type: string; field: string; value: string };
      const sobject = SOBJECTS[type];
      if (!sobject) return unknownType(reply, type);
      if (!sobject.externalIds.has(field)) return reply.code(400).send(sfError('INVALID_FIELD', `Field ${field} is not an External ID or indexed field for ${type}`, [field]));
      const body = (req.body ?? {}) as Fields;
      if (field in body && body[field] !== value) return reply.code(400).send(sfError('INVALID_FIELD', `The value of ${field} in the body does not match the URL`, [field]));
      const bad = checkWritable(type, body);
      if (bad) return reply.code(400).send(bad);
      const now = sfNow();
      for (let attempt = 0; attempt < 2; attempt++) {
        const existing = await ctx.store.getByExternalId(VENDOR, type, value);
        if (existing) {
          await ctx.store.update(VENDOR, type, existing.id, (d) => derive(type, { ...d, ...body, [field]: value, LastModifiedDate: now, SystemModstamp: now }));
          return reply.code(200).send({ id: existing.id, success: true, errors: [], created: false });
        }
        try {
          const rec = await ctx.store.insert(VENDOR, type, { idFor: (seq) => sfId(sobject.keyPrefix, seq), externalId: value, data: derive(type, { ...body, [field]: value, CreatedDate: now, LastModifiedDate: now, SystemModstamp: now }) });
          return reply.code(201).send({ id: rec.id, success: true, errors: [], created: true });
        } catch (err) {
          if (!(err instanceof DuplicateExternalIdError)) throw err;
          // A concurrent upsert created it first: update that one.
        }
      }
      return reply.code(400).send(sfError('UNABLE_TO_LOCK_ROW', 'unable to obtain exclusive access to this record'));
    });

    const page = (version: string, locator: string, offset: number, reply: FastifyReply) => (async () => {
      const cursor = cursors.get(locator);
      if (!cursor) return reply.code(400).send(sfError('INVALID_QUERY_LOCATOR', 'invalid query locator'));
      const slice = cursor.ids.slice(offset, offset + cursor.batchSize);
      const records: Fields[] = [];
      for (const id of slice) {
        const rec = await ctx.store.get(VENDOR, cursor.type, id);
        if (rec) records.push(view(version, cursor.type, rec, cursor.fields));
      }
      const next = offset + slice.length;
      const done = next >= cursor.ids.length;
      if (done) cursors.delete(locator);
      return reply.send({ totalSize: cursor.ids.length, done, ...(done ? {} : { nextRecordsUrl: `/services/data/v${version}/query/${locator}-${next}` }), records });
    })();

    api.get('/services/data/:version/query', async (req, reply) => {
      const version = (req.params as { version: string }).version.replace(/^v/, '');
      const q = (req.query as { q?: string }).q;
      if (!q) return reply.code(400).send(sfError('MALFORMED_QUERY', 'missing q parameter'));
      let parsed;
      try {
        parsed = parseSoql(q);
      } catch (err) {
        if (err instanceof SoqlError) return reply.code(400).send(sfError('MALFORMED_QUERY', err.message));
        throw err;
      }
      const sobject = SOBJECTS[parsed.from];
      if (!sobject) return reply.code(400).send(sfError('INVALID_TYPE', `sObject type '${parsed.from}' is not supported.`));
      const unknown = [...parsed.fields, ...parsed.where.map((w) => w.field), ...(parsed.orderBy ? [parsed.orderBy.field] : [])].find((f) => !sobject.fields.has(f));
      if (unknown) return reply.code(400).send(sfError('INVALID_FIELD', `No such column '${unknown}' on entity '${parsed.from}'.`));
      const all = (await ctx.store.list(VENDOR, parsed.from)).items.filter((r) => matches({ ...r.data, Id: r.id }, parsed.where));
      if (parsed.orderBy) {
        const { field, desc } = parsed.orderBy;
        all.sort((a, b) => (desc ? -1 : 1) * compare(field === 'Id' ? a.id : a.data[field], field === 'Id' ? b.id : b.data[field]));
      }
      const ids = all.slice(0, parsed.limit ?? all.length).map((r) => r.id);
      const opt = /batchSize=(\d+)/.exec(String(req.headers['sforce-query-options'] ?? ''));
      const batchSize = Math.min(2000, Math.max(1, opt ? Number(opt[1]) : 2000));
      const locator = `01g${randomBytes(6).toString('hex').toUpperCase()}`;
      cursors.set(locator, { ids, type: parsed.from, fields: parsed.fields, batchSize });
      return page(version, locator, 0, reply);
    });

    api.get('/services/data/:version/query/:locator', async (req, reply) => {
      const { version, locator } = req.params as { version: string; locator: string };
      const m = /^(.+)-(\d+)$/.exec(locator);
      if (!m) return reply.code(400).send(sfError('INVALID_QUERY_LOCATOR', 'invalid query locator'));
      return page(version.replace(/^v/, ''), m[1]!, Number(m[2]), reply);
    });
  });
};

export const salesforceVendor: SandboxVendor = {
  vendor: VENDOR,
  prefix: '/salesforce',
  plugin: salesforceSandbox,
  errorBody: (status, message) => {
    const code = status === 429 ? 'REQUEST_LIMIT_EXCEEDED' : status === 503 ? 'SERVER_UNAVAILABLE' : status === 404 ? 'NOT_FOUND' : status >= 500 ? 'UNKNOWN_EXCEPTION' : 'BAD_REQUEST';
    return sfError(code, message);
  },
};
