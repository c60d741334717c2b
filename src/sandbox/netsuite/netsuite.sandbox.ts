import { constants, createPublicKey, randomBytes, verify } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SandboxContext, SandboxPlugin, SandboxVendor } from '../context';
import { DuplicateExternalIdError, VersionConflictError, type SandboxRecord } from '../store';
import { NETSUITE_SANDBOX } from './netsuite.credentials';
import { parseSuiteQl, runSuiteQl, SuiteQlError, type Row } from './netsuite.suiteql';

const VENDOR = 'netsuite';
const REC = '/services/rest/record/v1';

/** NetSuite's REST error body (RFC 9457 problem details + o:errorDetails). */
export const netsuiteError = (status: number, code: string, detail: string, path?: string) => ({
  type: `https://www.rfc-editor.org/rfc/rfc9110.html#section-15.${status >= 500 ? 6 : 5}.${status >= 500 ? status - 499 : status - 399}`,
  title: TITLES[status] ?? 'Error',
  status,
  'o:errorDetails': [{ detail, 'o:errorCode': code, ...(path ? { 'o:errorPath': path } : {}) }],
});
const TITLES: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' };

const errorBody = (status: number, message: string) =>
  netsuiteError(status, status === 429 ? 'CONCURRENCY_LIMIT_EXCEEDED' : status === 404 ? 'NONEXISTENT_ID' : status === 401 ? 'INVALID_LOGIN' : status >= 500 ? 'UNEXPECTED_ERROR' : 'USER_ERROR', message);

class NsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly path?: string,
  ) {
    super(detail);
  }
}

/** Account setup the sandbox serves as fixed data (subsidiaries and currencies are configuration, not transactions). */
export const SUBSIDIARIES = [
  { id: '1', name: 'Q2C Inc.', country: 'US', currency: { id: '1', refName: 'USD' }, isInactive: false },
  { id: '2', name: 'Q2C Ltd', country: 'GB', currency: { id: '2', refName: 'GBP' }, isInactive: false },
  { id: '3', name: 'Q2C GmbH', country: 'DE', currency: { id: '4', refName: 'EUR' }, isInactive: false },
  { id: '9', name: 'Q2C Legacy BV', country: 'NL', currency: { id: '4', refName: 'EUR' }, isInactive: true },
] as const;
export const CURRENCIES = [
  { id: '1', symbol: 'USD', name: 'US Dollar' },
  { id: '2', symbol: 'GBP', name: 'British pound' },
  { id: '3', symbol: 'CAD', name: 'Canadian Dollar' },
  { id: '4', symbol: 'EUR', name: 'Euro' },
  { id: '5', symbol: 'JPY', name: 'Yen' },
] as const;
/** Chart of accounts: internal id, account number, name. The intercompany accounts' ids differ from their numbers, as they do in a real account. */
export const ACCOUNT_ROWS = [
  { id: '1100', acctnumber: '1100', name: 'Accounts Receivable', accttype: 'AcctRec' },
  { id: '1200', acctnumber: '1200', name: 'Unbilled Receivable', accttype: 'OthCurrAsset' },
  { id: NETSUITE_SANDBOX.deferredRevenueAccountId, acctnumber: '2500', name: 'Deferred Revenue', accttype: 'DeferRevenue' },
  { id: NETSUITE_SANDBOX.revenueAccountId, acctnumber: '4000', name: 'Services Revenue', accttype: 'Income' },
  { id: NETSUITE_SANDBOX.intercompanyAccounts.receivable, acctnumber: '1300', name: 'Intercompany Receivable (due from)', accttype: 'OthCurrAsset' },
  { id: NETSUITE_SANDBOX.intercompanyAccounts.payable, acctnumber: '2300', name: 'Intercompany Payable (due to)', accttype: 'OthCurrLiab' },
  { id: NETSUITE_SANDBOX.intercompanyAccounts.revenue, acctnumber: '4900', name: 'Intercompany Revenue', accttype: 'Income' },
  { id: NETSUITE_SANDBOX.intercompanyAccounts.expense, acctnumber: '5900', name: 'Intercompany Cost of Services', accttype: 'COGS' },
] as const;
const ACCOUNTS = new Set<string>(ACCOUNT_ROWS.map((a) => a.id));

/**
 * The account's exchange rate table (Lists > Accounting > Currency Exchange
 * Rates): 1 unit of the transaction currency = `exchangeRate` units of the
 * base currency, from `effectiveDate`.
 */
export const CURRENCY_RATES = [
  { id: '1', baseCurrency: '4', transactionCurrency: '1', exchangeRate: 0.92, effectiveDate: '2025-01-01' },
  { id: '2', baseCurrency: '4', transactionCurrency: '1', exchangeRate: 0.905, effectiveDate: '2026-01-01' },
  { id: '3', baseCurrency: '1', transactionCurrency: '4', exchangeRate: 1.087, effectiveDate: '2025-01-01' },
  { id: '4', baseCurrency: '2', transactionCurrency: '1', exchangeRate: 0.79, effectiveDate: '2025-01-01' },
  { id: '5', baseCurrency: '1', transactionCurrency: '2', exchangeRate: 1.265, effectiveDate: '2025-01-01' },
  { id: '6', baseCurrency: '2', transactionCurrency: '4', exchangeRate: 0.86, effectiveDate: '2025-01-01' },
  { id: '7', baseCurrency: '4', transactionCurrency: '2', exchangeRate: 1.163, effectiveDate: '2025-01-01' },
] as const;
const rateOn = (base: string, transaction: string, date: string) =>
  CURRENCY_RATES.filter((r) => r.baseCurrency === base && r.transactionCurrency === transaction && r.effectiveDate <= date).sort((a, b) => (a.effectiveDate < b.effectiveDate ? 1 : -1))[0];

const TRANSACTIONS = {
  salesOrder: { code: 'SalesOrd', prefix: 'SO' },
  invoice: { code: 'CustInvc', prefix: 'INV' },
  creditMemo: { code: 'CustCred', prefix: 'CM' },
  journalEntry: { code: 'Journal', prefix: 'JE' },
  intercompanyJournalEntry: { code: 'Journal', prefix: 'ICJE' },
} as const;
type TransactionType = keyof typeof TRANSACTIONS;
const isTransaction = (t: string): t is TransactionType => Object.prototype.hasOwnProperty.call(TRANSACTIONS, t);
const WRITABLE = new Set<string>(['customer', ...Object.keys(TRANSACTIONS)]);

/** Knobs tests turn: the account's concurrency limit, time spent inside each request, and the load-to-save window of updates. */
export interface NetSuiteSandboxConfig {
  concurrencyLimit: number;
  processingMs: number;
  editWindowMs: number;
}
const DEFAULT_CONFIG: NetSuiteSandboxConfig = { concurrencyLimit: 5, processingMs: 0, editWindowMs: 0 };

type Data = Record<string, unknown>;
const sleep = (ms: number): Promise<void> => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());
const refId = (v: unknown): string | undefined => (v && typeof v === 'object' && 'id' in v ? String((v as { id: unknown }).id) : undefined);
const cents = (v: unknown): number => Math.round(Number(v ?? 0) * 100);
const fromCents = (n: number): number => Number((n / 100).toFixed(2));

/** Verifies a PS256/RS256 client assertion against the registered certificates. */
function verifyAssertion(jwt: string, certificates: ReadonlyMap<string, string>, expectedClientId: string): string | undefined {
  const parts = jwt.split('.');
  if (parts.length !== 3) return 'malformed assertion';
  const [h, p, s] = parts as [string, string, string];
  let header: { alg?: string; kid?: string };
  let claims: { iss?: string; aud?: string | string[]; exp?: number; iat?: number; scope?: string | string[] };
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as typeof header;
    claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as typeof claims;
  } catch {
    return 'malformed assertion';
  }
  const pem = header.kid ? certificates.get(header.kid) : undefined;
  if (!pem) return `unknown certificate id ${header.kid ?? '(none)'}`;
  const key = createPublicKey(pem);
  const data = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, 'base64url');
  const ok =
    header.alg === 'PS256'
      ? verify('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig)
      : header.alg === 'RS256'
        ? verify('sha256', data, key, sig)
        : false;
  if (!ok) return 'signature does not verify';
  const now = Math.floor(Date.now() / 1000);
  if (claims.iss !== expectedClientId) return 'unknown client';
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.some((a) => typeof a === 'string' && a.endsWith('/services/rest/auth/oauth2/v1/token'))) return 'aud must be the token endpoint';
  if (typeof claims.exp !== 'number' || claims.exp < now) return 'assertion expired';
  if (typeof claims.iat !== 'number' || claims.iat > now + 60 || claims.exp - claims.iat > 3600) return 'iat/exp out of range';
  const scope = Array.isArray(claims.scope) ? claims.scope : String(claims.scope ?? '').split(',');
  if (!scope.includes('rest_webservices')) return 'scope must include rest_webservices';
  return undefined;
}

/**
 * NetSuite REST record service + SuiteQL + OAuth 2.0 M2M token endpoint.
 * Hazards: the account concurrency governor (429 CONCURRENCY_LIMIT_EXCEEDED),
 * unique transaction numbers (DUP_RCRD on tranId), RCRD_HAS_BEEN_CHANGED when
 * two edits of one record overlap, invalid references (INVALID_KEY_OR_REF).
 */
export const netsuiteSandbox: SandboxPlugin = async (app, ctx: SandboxContext) => {
  const config: NetSuiteSandboxConfig = { ...DEFAULT_CONFIG };
  const certificates = new Map<string, string>([[NETSUITE_SANDBOX.certificateId, NETSUITE_SANDBOX.publicKeyPem]]);
  const tokens = new Map<string, number>();
  let inFlight = 0;
  // Creates of one record type are serialised so tranId uniqueness holds under concurrent posts.
  const createLocks = new Map<string, Promise<unknown>>();
  const serial = <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const prev = createLocks.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    createLocks.set(key, next.catch(() => undefined));
    return next;
  };

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  // ---- control routes (no auth): config, certificates, token revocation
  app.get('/_sandbox/config', async () => config);
  app.post('/_sandbox/config', async (request) => {
    const body = (request.body ?? {}) as Partial<NetSuiteSandboxConfig>;
    Object.assign(config, body.concurrencyLimit !== undefined || body.processingMs !== undefined || body.editWindowMs !== undefined ? body : DEFAULT_CONFIG);
    return config;
  });
  app.post('/_sandbox/certificates', async (request) => {
    const { kid, publicKeyPem } = request.body as { kid: string; publicKeyPem: string };
    certificates.set(kid, publicKeyPem);
    return { certificates: [...certificates.keys()] };
  });
  app.delete('/_sandbox/certificates/:kid', async (request) => {
    certificates.delete((request.params as { kid: string }).kid);
    return { certificates: [...certificates.keys()] };
  });
  app.delete('/_sandbox/tokens', async () => {
    const n = tokens.size;
    tokens.clear();
    return { revoked: n };
  });

  // ---- OAuth 2.0 client credentials with a JWT client assertion
  app.post('/services/rest/auth/oauth2/v1/token', async (request, reply) => {
    const form = (request.body ?? {}) as Record<string, string>;
    if (form['grant_type'] !== 'client_credentials') return reply.code(400).send({ error: 'unsupported_grant_type' });
    if (form['client_assertion_type'] !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' || !form['client_assertion']) {
      return reply.code(400).send({ error: 'invalid_request', error_description: 'client_assertion_type jwt-bearer and client_assertion are required' });
    }
    const problem = verifyAssertion(form['client_assertion'], certificates, NETSUITE_SANDBOX.clientId);
    if (problem) return reply.code(400).send({ error: 'invalid_client', error_description: problem });
    const token = `ns_${randomBytes(18).toString('base64url')}`;
    tokens.set(token, Date.now() + 3600_000);
    return reply.code(200).send({ access_token: token, token_type: 'bearer', expires_in: 3600 });
  });

  // ---- auth + concurrency governor for the REST API
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.slice(app.prefix.length).split('?')[0] ?? '';
    if (!path.startsWith('/services/rest/record') && !path.startsWith('/services/rest/query')) return undefined;
    const auth = request.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    const exp = tokens.get(token);
    if (exp === undefined || exp < Date.now()) {
      return reply.code(401).send(netsuiteError(401, 'INVALID_LOGIN', 'Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail.'));
    }
    if (inFlight >= config.concurrencyLimit) {
      return reply.code(429).send(netsuiteError(429, 'CONCURRENCY_LIMIT_EXCEEDED', 'Concurrent request limit exceeded. Request blocked.'));
    }
    inFlight += 1;
    let released = false;
    reply.raw.once('close', () => {
      if (!released) inFlight -= 1;
      released = true;
    });
    await sleep(config.processingMs);
    return undefined;
  });

  const handle = async (reply: FastifyReply, fn: () => Promise<{ status: number; body?: unknown; location?: string }>) => {
    try {
      const out = await fn();
      if (out.location) void reply.header('location', out.location);
      return out.body === undefined ? reply.code(out.status).send() : reply.code(out.status).send(out.body);
    } catch (err) {
      if (err instanceof NsError) return reply.code(err.status).send(netsuiteError(err.status, err.code, err.message, err.path));
      if (err instanceof SuiteQlError) return reply.code(400).send(netsuiteError(400, 'INVALID_PARAMETER', `Invalid search query: ${err.message}`));
      throw err;
    }
  };

  const origin = (request: FastifyRequest) => `${request.protocol}://${request.headers.host ?? '127.0.0.1'}${app.prefix}`;
  const selfLink = (request: FastifyRequest, type: string, id: string) => `${origin(request)}${REC}/${type}/${id}`;

  const load = async (type: string, key: string): Promise<SandboxRecord<Data> | undefined> =>
    key.startsWith('eid:') ? ctx.store.getByExternalId<Data>(VENDOR, type, decodeURIComponent(key.slice(4))) : ctx.store.get<Data>(VENDOR, type, key);

  const view = (request: FastifyRequest, type: string, r: SandboxRecord<Data>) => ({
    links: [{ rel: 'self', href: selfLink(request, type, r.id) }],
    id: r.id,
    ...(r.externalId ? { externalId: r.externalId } : {}),
    ...r.data,
    lastModifiedDate: r.updatedAt.toISOString(),
  });

  // ---- validation shared by create and upsert
  const validate = async (type: string, body: Data, selfId?: string): Promise<Data> => {
    const subsidiary = SUBSIDIARIES.find((s) => s.id === refId(body['subsidiary']));
    if (!subsidiary) throw new NsError(400, 'INVALID_KEY_OR_REF', `Invalid subsidiary reference key ${refId(body['subsidiary']) ?? '(missing)'}.`, 'subsidiary');
    if (subsidiary.isInactive) throw new NsError(400, 'INVALID_KEY_OR_REF', `Invalid subsidiary reference key ${subsidiary.id}: subsidiary ${subsidiary.name} is inactive.`, 'subsidiary');
    if (!CURRENCIES.some((c) => c.id === refId(body['currency']))) throw new NsError(400, 'INVALID_KEY_OR_REF', `Invalid currency reference key ${refId(body['currency']) ?? '(missing)'}.`, 'currency');
    if (type === 'customer') {
      if (typeof body['companyName'] !== 'string' || body['companyName'] === '') throw new NsError(400, 'USER_ERROR', 'Please enter value(s) for: Company Name', 'companyName');
      const parent = refId(body['parent']);
      if (parent !== undefined && (parent === selfId || !(await ctx.store.get(VENDOR, 'customer', parent)))) throw new NsError(400, 'INVALID_KEY_OR_REF', `Invalid parent reference key ${parent}.`, 'parent');
      return body;
    }
    if (type === 'intercompanyJournalEntry') return validateIntercompany(body, subsidiary);
    if (type !== 'journalEntry') {
      const entity = refId(body['entity']);
      if (!entity || !(await ctx.store.get(VENDOR, 'customer', entity))) throw new NsError(400, 'INVALID_KEY_OR_REF', `Invalid entity reference key ${entity ?? '(missing)'}.`, 'entity');
      const items = (body['item'] as { items?: Data[] } | undefined)?.items ?? [];
      if (items.length === 0) throw new NsError(400, 'USER_ERROR', 'You must enter at least one line item for this transaction.', 'item');
      const createdFrom = refId(body['createdFrom']);
      const sourceType = type === 'creditMemo' ? 'invoice' : 'salesOrder';
      if (createdFrom !== undefined && !(await ctx.store.get(VENDOR, sourceType, createdFrom))) throw new NsError(400, 'INVALID_KEY_OR_REF', `Invalid createdFrom reference key ${createdFrom}.`, 'createdFrom');
      const subtotal = items.reduce((s, l) => s + cents(l['amount']), 0);
      const tax = cents(body['taxTotal']);
      return {
        ...body,
        subtotal: fromCents(subtotal),
        taxTotal: fromCents(tax),
        total: fromCents(subtotal + tax),
        ...(type === 'invoice' ? { amountRemaining: fromCents(subtotal + tax), status: { id: 'A', refName: 'Open' } } : {}),
        ...(type === 'salesOrder' ? { status: { id: 'B', refName: 'Pending Fulfillment' } } : {}),
        ...(type === 'creditMemo' ? { status: { id: 'A', refName: 'Open' } } : {}),
      };
    }
    const lines = (body['line'] as { items?: Data[] } | undefined)?.items ?? [];
    if (lines.length < 2) throw new NsError(400, 'USER_ERROR', 'A journal entry needs at least two lines.', 'line');
    for (const [i, l] of lines.entries()) {
      if (!ACCOUNTS.has(refId(l['account']) ?? '')) throw new NsError(400, 'INVALID_KEY_OR_REF', `Invalid account reference key ${refId(l['account']) ?? '(missing)'}.`, `line.items[${i}].account`);
    }
    const debit = lines.reduce((s, l) => s + cents(l['debit']), 0);
    const credit = lines.reduce((s, l) => s + cents(l['credit']), 0);
    if (debit !== credit) throw new NsError(400, 'USER_ERROR', `The transaction is out of balance: debits ${fromCents(debit)} and credits ${fromCents(credit)} differ.`, 'line');
    return { ...body, total: fromCents(debit), status: { id: 'B', refName: 'Approved for Posting' } };
  };

  /**
   * Intercompany journal between `subsidiary` and `toSubsidiary`: every line
   * names one of the two as `lineSubsidiary`, each subsidiary's lines balance
   * on their own, the currency is the base currency of one of the two, and
   * the other one's lines are converted at `exchangeRate` (the rate table's
   * rate for the date when none is sent).
   */
  const validateIntercompany = (body: Data, from: (typeof SUBSIDIARIES)[number]): Data => {
    const toId = refId(body['toSubsidiary']);
    const to = SUBSIDIARIES.find((s) => s.id === toId);
    if (!to) throw new NsError(400, 'INVALID_KEY_OR_REF', `Invalid toSubsidiary reference key ${toId ?? '(missing)'}.`, 'toSubsidiary');
    if (to.isInactive) throw new NsError(400, 'INVALID_KEY_OR_REF', `Invalid toSubsidiary reference key ${to.id}: subsidiary ${to.name} is inactive.`, 'toSubsidiary');
    if (to.id === from.id) throw new NsError(400, 'USER_ERROR', 'An intercompany journal entry needs two different subsidiaries.', 'toSubsidiary');
    const currency = refId(body['currency'])!;
    if (currency !== from.currency.id && currency !== to.currency.id) {
      throw new NsError(400, 'INVALID_KEY_OR_REF', `Invalid currency reference key ${currency}: the currency must be the base currency of ${from.name} or ${to.name}.`, 'currency');
    }
    const lines = (body['line'] as { items?: Data[] } | undefined)?.items ?? [];
    const sums = new Map<string, { debit: number; credit: number }>([
      [from.id, { debit: 0, credit: 0 }],
      [to.id, { debit: 0, credit: 0 }],
    ]);
    for (const [i, l] of lines.entries()) {
      const sub = refId(l['lineSubsidiary']);
      const sum = sub === undefined ? undefined : sums.get(sub);
      if (!sum) throw new NsError(400, 'INVALID_KEY_OR_REF', `Invalid lineSubsidiary reference key ${sub ?? '(missing)'}: a line belongs to subsidiary ${from.id} or ${to.id}.`, `line.items[${i}].lineSubsidiary`);
      const account = refId(l['account']);
      if (!ACCOUNTS.has(account ?? '')) throw new NsError(400, 'INVALID_KEY_OR_REF', `Invalid account reference key ${account ?? '(missing)'} for linesubsidiary ${sub!}.`, `line.items[${i}].account`);
      const debit = cents(l['debit']);
      const credit = cents(l['credit']);
      if ((debit > 0) === (credit > 0) || debit < 0 || credit < 0) throw new NsError(400, 'USER_ERROR', 'Each line needs either a debit or a credit amount.', `line.items[${i}]`);
      sum.debit += debit;
      sum.credit += credit;
    }
    for (const sub of [from, to]) {
      const sum = sums.get(sub.id)!;
      if (sum.debit === 0) throw new NsError(400, 'USER_ERROR', `The intercompany journal entry has no lines for subsidiary ${sub.name}.`, 'line');
      if (sum.debit !== sum.credit) {
        throw new NsError(400, 'USER_ERROR', `The transaction is out of balance for subsidiary ${sub.name}: debits ${fromCents(sum.debit)} and credits ${fromCents(sum.credit)} differ.`, 'line');
      }
    }
    const foreign = [from, to].find((s) => s.currency.id !== currency);
    let exchangeRate = 1;
    if (foreign) {
      const sent = body['exchangeRate'];
      if (sent !== undefined) {
        if (typeof sent !== 'number' || !(sent > 0)) throw new NsError(400, 'USER_ERROR', `Invalid exchangeRate ${String(sent)}.`, 'exchangeRate');
        exchangeRate = sent;
      } else {
        const tranDate = typeof body['tranDate'] === 'string' ? body['tranDate'] : new Date().toISOString().slice(0, 10);
        const row = rateOn(foreign.currency.id, currency, tranDate);
        if (!row) throw new NsError(400, 'USER_ERROR', `No exchange rate from currency ${currency} to ${foreign.currency.refName} is effective on ${tranDate}.`, 'exchangeRate');
        exchangeRate = row.exchangeRate;
      }
    }
    return { ...body, exchangeRate, total: fromCents(sums.get(from.id)!.debit), status: { id: 'B', refName: 'Approved for Posting' } };
  };

  const assertTranIdFree = async (type: string, tranId: unknown, selfId?: string) => {
    if (typeof tranId !== 'string') return;
    const { items } = await ctx.store.list(VENDOR, type, { contains: { tranId } });
    if (items.some((r) => r.id !== selfId)) throw new NsError(400, 'DUP_RCRD', `This transaction number already exists: ${tranId}. Transaction numbers (tranId) must be unique.`, 'tranId');
  };

  const create = (type: string, body: Data, externalId: string | undefined) =>
    serial(type, async () => {
      const { externalId: _e, id: _i, ...fields } = body;
      const valid = await validate(type, fields);
      if (isTransaction(type)) await assertTranIdFree(type, valid['tranId']);
      try {
        return await ctx.store.insert<Data>(VENDOR, type, {
          externalId: externalId ?? null,
          data: (_id, seq) => (isTransaction(type) && typeof valid['tranId'] !== 'string' ? { ...valid, tranId: `${TRANSACTIONS[type].prefix}${seq}` } : valid),
        });
      } catch (err) {
        if (err instanceof DuplicateExternalIdError) throw new NsError(400, 'DUP_RCRD', `A ${type} record with externalId ${externalId} already exists.`, 'externalId');
        throw err;
      }
    });

  /** Load, wait out the edit window, save with the version that was loaded. */
  const update = async (type: string, rec: SandboxRecord<Data>, patch: Data) => {
    const { externalId: _e, id: _i, ...fields } = patch;
    const merged = { ...rec.data, ...fields };
    const valid = await validate(type, merged, rec.id);
    if (isTransaction(type) && 'tranId' in fields) await assertTranIdFree(type, valid['tranId'], rec.id);
    await sleep(config.editWindowMs);
    try {
      return await ctx.store.update<Data>(VENDOR, type, rec.id, () => valid, { expectedVersion: rec.version });
    } catch (err) {
      if (err instanceof VersionConflictError) throw new NsError(400, 'RCRD_HAS_BEEN_CHANGED', 'Record has been changed. The record you are trying to save has been changed since you began editing it.');
      throw err;
    }
  };

  const writable = (type: string) => {
    if (!WRITABLE.has(type)) throw new NsError(400, 'INVALID_PARAMETER', `Record type ${type} is not supported by this sandbox.`);
  };

  // ---- record service
  app.get(`${REC}/:type/:key`, async (request, reply) =>
    handle(reply, async () => {
      const { type, key } = request.params as { type: string; key: string };
      if (type === 'subsidiary' || type === 'currency') {
        const row = (type === 'subsidiary' ? SUBSIDIARIES : CURRENCIES).find((r) => r.id === key);
        if (!row) throw new NsError(404, 'NONEXISTENT_ID', 'The record instance does not exist. Provide a valid record instance ID.');
        return { status: 200, body: { links: [{ rel: 'self', href: selfLink(request, type, key) }], ...row } };
      }
      const rec = await load(type, key);
      if (!rec) throw new NsError(404, 'NONEXISTENT_ID', 'The record instance does not exist. Provide a valid record instance ID.');
      return { status: 200, body: view(request, type, rec) };
    }),
  );

  app.get(`${REC}/:type`, async (request, reply) =>
    handle(reply, async () => {
      const { type } = request.params as { type: string };
      writable(type);
      const q = request.query as { limit?: string; offset?: string };
      const limit = Math.min(Number(q.limit ?? 1000), 1000);
      const offset = Number(q.offset ?? 0);
      const { items, total } = await ctx.store.list(VENDOR, type, { limit, offset });
      return {
        status: 200,
        body: { links: [], count: items.length, hasMore: offset + items.length < total, offset, totalResults: total, items: items.map((r) => ({ links: [{ rel: 'self', href: selfLink(request, type, r.id) }], id: r.id })) },
      };
    }),
  );

  app.post(`${REC}/:type`, async (request, reply) =>
    handle(reply, async () => {
      const { type } = request.params as { type: string };
      writable(type);
      const body = (request.body ?? {}) as Data;
      const rec = await create(type, body, typeof body['externalId'] === 'string' ? body['externalId'] : undefined);
      return { status: 204, location: selfLink(request, type, rec.id) };
    }),
  );

  // Upsert by external id: PUT /record/v1/<type>/eid:<externalId>
  app.put(`${REC}/:type/:key`, async (request, reply) =>
    handle(reply, async () => {
      const { type, key } = request.params as { type: string; key: string };
      writable(type);
      if (!key.startsWith('eid:')) throw new NsError(405, 'INVALID_PARAMETER', 'PUT is supported only for upsert by external ID (eid:<externalId>).');
      const externalId = decodeURIComponent(key.slice(4));
      const body = (request.body ?? {}) as Data;
      const existing = await load(type, key);
      if (existing) return { status: 204, location: selfLink(request, type, (await update(type, existing, body)).id) };
      try {
        return { status: 204, location: selfLink(request, type, (await create(type, body, externalId)).id) };
      } catch (err) {
        // A concurrent upsert created it first: this one becomes an update.
        if (err instanceof NsError && err.code === 'DUP_RCRD' && err.path === 'externalId') {
          const now = await load(type, key);
          if (now) return { status: 204, location: selfLink(request, type, (await update(type, now, body)).id) };
        }
        throw err;
      }
    }),
  );

  app.patch(`${REC}/:type/:key`, async (request, reply) =>
    handle(reply, async () => {
      const { type, key } = request.params as { type: string; key: string };
      writable(type);
      const rec = await load(type, key);
      if (!rec) throw new NsError(404, 'NONEXISTENT_ID', 'The record instance does not exist. Provide a valid record instance ID.');
      return { status: 204, location: selfLink(request, type, (await update(type, rec, (request.body ?? {}) as Data)).id) };
    }),
  );

  // ---- SuiteQL
  const tableRows = async (table: string): Promise<Row[]> => {
    const str = (v: unknown) => (v === undefined || v === null ? null : String(v));
    switch (table) {
      case 'currency':
        return CURRENCIES.map((c) => ({ id: c.id, symbol: c.symbol, name: c.name }));
      case 'subsidiary':
        return SUBSIDIARIES.map((s) => ({ id: s.id, name: s.name, country: s.country, currency: s.currency.id, isinactive: s.isInactive ? 'T' : 'F' }));
      case 'account':
        return ACCOUNT_ROWS.map((a) => ({ id: a.id, acctnumber: a.acctnumber, fullname: a.name, accttype: a.accttype, isinactive: 'F' }));
      case 'currencyrate':
        return CURRENCY_RATES.map((r) => ({ id: r.id, basecurrency: r.baseCurrency, transactioncurrency: r.transactionCurrency, exchangerate: r.exchangeRate, effectivedate: r.effectiveDate }));
      case 'customer':
        return (await ctx.store.list<Data>(VENDOR, 'customer')).items.map((r) => ({
          id: r.id,
          externalid: r.externalId,
          companyname: str(r.data['companyName']),
          email: str(r.data['email']),
          subsidiary: str(refId(r.data['subsidiary'])),
          currency: str(refId(r.data['currency'])),
          parent: str(refId(r.data['parent'])),
          isinactive: r.data['isInactive'] === true ? 'T' : 'F',
        }));
      case 'transaction': {
        const rows: (Row & { seq: number })[] = [];
        for (const type of Object.keys(TRANSACTIONS) as TransactionType[]) {
          for (const r of (await ctx.store.list<Data>(VENDOR, type)).items) {
            rows.push({
              seq: r.seq,
              id: r.id,
              externalid: r.externalId,
              tranid: str(r.data['tranId']),
              type: TRANSACTIONS[type].code,
              entity: str(refId(r.data['entity'])),
              subsidiary: str(refId(r.data['subsidiary'])),
              currency: str(refId(r.data['currency'])),
              trandate: str(r.data['tranDate']),
              total: Number(r.data['total'] ?? 0),
              status: str((r.data['status'] as { refName?: string } | undefined)?.refName),
              memo: str(r.data['memo']),
            });
          }
        }
        return rows.sort((a, b) => a.seq - b.seq).map(({ seq: _s, ...row }) => row);
      }
      default:
        throw new SuiteQlError(`unknown table ${table}`);
    }
  };

  app.post('/services/rest/query/v1/suiteql', async (request, reply) =>
    handle(reply, async () => {
      if (!/transient/i.test(String(request.headers['prefer'] ?? ''))) throw new NsError(400, 'INVALID_PARAMETER', 'SuiteQL requests need the header Prefer: transient.');
      const q = (request.body as { q?: unknown } | undefined)?.q;
      if (typeof q !== 'string') throw new NsError(400, 'INVALID_PARAMETER', 'The request body must be {"q": "<SuiteQL>"}.');
      const query = request.query as { limit?: string; offset?: string };
      const limit = Math.min(Math.max(Number(query.limit ?? 1000), 1), 1000);
      const offset = Math.max(Number(query.offset ?? 0), 0);
      const parsed = parseSuiteQl(q);
      const all = runSuiteQl(parsed, await tableRows(parsed.table));
      const page = all.slice(offset, offset + limit);
      const next = `${origin(request)}/services/rest/query/v1/suiteql?limit=${limit}&offset=${offset + limit}`;
      return {
        status: 200,
        body: {
          links: offset + page.length < all.length ? [{ rel: 'next', href: next }] : [],
          count: page.length,
          hasMore: offset + page.length < all.length,
          items: page.map((r) => ({ links: [], ...r })),
          offset,
          totalResults: all.length,
        },
      };
    }),
  );
};

export const NETSUITE_VENDOR: SandboxVendor = { vendor: VENDOR, prefix: '/netsuite', plugin: netsuiteSandbox, errorBody };
