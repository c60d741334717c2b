import type { Logger } from 'pino';
import { currencyRule, type Customer, type LegalEntity } from '../../canonical';
import { jsonNumberToMoney } from '../decimal';
import { ConnectorError, type ConnectorErrorCode } from '../errors';
import { collect, HttpClient, paginateOffset, TokenBucket, type ErrorContext, type SecretSource, type VendorClassification } from '../http';
import { NetSuiteM2MAuth } from './netsuite.auth';
import type {
  CustomerIssue,
  ErpInvoiceSummary,
  ErpPort,
  ErpRecordRef,
  PostContractInput,
  PostCreditMemoInput,
  PostInvoiceInput,
  PostRevenueInput,
  UpsertCustomerInput,
} from './erp.port';
import { toCreditMemoBody, toCustomerBody, toInvoiceBody, toRevenueJournalBody, toSalesOrderBody, type NetSuiteMappingConfig } from './netsuite.mapper';
import { CurrencyRow, InvoiceRow, NetSuiteErrorBody, NetSuiteSubsidiary, NetSuiteTransaction, SuiteQlPage } from './netsuite.schemas';

const NETSUITE_CODES: Readonly<Record<string, ConnectorErrorCode>> = {
  CONCURRENCY_LIMIT_EXCEEDED: 'NETSUITE.CONCURRENCY_LIMIT',
  RCRD_HAS_BEEN_CHANGED: 'NETSUITE.RECORD_CHANGED',
  DUP_RCRD: 'NETSUITE.DUPLICATE_RECORD',
  INVALID_KEY_OR_REF: 'NETSUITE.INVALID_REFERENCE',
  INVALID_LOGIN: 'HTTP.AUTH',
  INSUFFICIENT_PERMISSION: 'HTTP.FORBIDDEN',
  NONEXISTENT_ID: 'HTTP.NOT_FOUND',
  USER_ERROR: 'HTTP.VALIDATION',
  INVALID_PARAMETER: 'HTTP.VALIDATION',
};

/** Reads NetSuite's `o:errorDetails[0].o:errorCode`; the concurrency governor answers 429 with CONCURRENCY_LIMIT_EXCEEDED. */
export const classifyNetSuite = (ctx: ErrorContext): VendorClassification | undefined => {
  const parsed = NetSuiteErrorBody.safeParse(ctx.body);
  if (!parsed.success) return undefined;
  const first = parsed.data['o:errorDetails'][0]!;
  const vendorCode = first['o:errorCode'];
  const code = NETSUITE_CODES[vendorCode];
  return { ...(code ? { code } : {}), message: `${vendorCode}: ${first.detail}`, vendorCode };
};

export interface NetSuiteAdapterOptions {
  /** Base URL https://<account>.suitetalk.api.netsuite.com, NetSuiteM2MAuth, `classify: classifyNetSuite`. */
  http: HttpClient;
  mapping: NetSuiteMappingConfig;
  logger?: Logger;
  /** SuiteQL page size (NetSuite allows up to 1000). */
  pageSize?: number;
}

type TransactionType = 'salesOrder' | 'invoice' | 'creditMemo' | 'journalEntry';

const RECORD = '/services/rest/record/v1';
const SUITEQL = '/services/rest/query/v1/suiteql';
const sq = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/**
 * NetSuite ERP through the REST record service and SuiteQL. NetSuite has no
 * idempotency key, so every create carries the caller's key as externalId:
 * customers and sales orders are upserted (PUT .../eid:<key>), invoices,
 * credit memos and journals are looked up by external id before they are
 * created, so a retry after a timeout that did commit finds the record.
 */
export class NetSuiteAdapter implements ErpPort {
  private currencies: Promise<Map<string, string>> | undefined;

  constructor(private readonly options: NetSuiteAdapterOptions) {}

  private get http(): HttpClient {
    return this.options.http;
  }

  async validateCustomer(customer: Customer, legalEntity: LegalEntity): Promise<CustomerIssue[]> {
    const issues: CustomerIssue[] = [];
    if (customer.status === 'MERGED') issues.push({ field: 'status', message: `customer was merged into ${customer.mergedIntoId ?? '?'}; post the survivor` });
    const subsidiaryId = legalEntity.externalIds['netsuite'];
    if (subsidiaryId === undefined) {
      issues.push({ field: 'legalEntityId', message: `legal entity ${legalEntity.id} has no NetSuite subsidiary id` });
    } else {
      const sub = await this.getSubsidiary(subsidiaryId);
      if (sub === undefined) issues.push({ field: 'legalEntityId', message: `subsidiary ${subsidiaryId} does not exist in NetSuite` });
      else if (sub.isInactive) issues.push({ field: 'legalEntityId', message: `subsidiary ${subsidiaryId} (${sub.name}) is inactive` });
    }
    const currency = customer.currency ?? legalEntity.functionalCurrency;
    if ((await this.currencyIds()).get(currency) === undefined) issues.push({ field: 'currency', message: `currency ${currency} is not enabled in NetSuite` });
    return issues;
  }

  async upsertCustomer(input: UpsertCustomerInput & { erpParentId?: string }): Promise<ErpRecordRef> {
    const { customer, legalEntity, idempotencyKey } = input;
    const issues = await this.validateCustomer(customer, legalEntity);
    if (issues.length > 0) throw customerInvalid(customer.id, issues);
    const currencyId = (await this.currencyIds()).get(customer.currency ?? legalEntity.functionalCurrency)!;
    const body = toCustomerBody(customer, idempotencyKey, legalEntity.externalIds['netsuite']!, currencyId, input.erpParentId);
    const existing = await this.findByExternalId('customer', idempotencyKey);
    try {
      const id = await this.upsert('customer', idempotencyKey, body);
      return { id, externalId: idempotencyKey, created: existing === undefined };
    } catch (err) {
      // A reference NetSuite rejects (subsidiary deactivated since validation) is still a customer-master problem.
      if (err instanceof ConnectorError && err.code === 'NETSUITE.INVALID_REFERENCE') {
        throw customerInvalid(customer.id, [{ field: 'customer', message: err.message }], err);
      }
      throw err;
    }
  }

  async postContract(input: PostContractInput): Promise<ErpRecordRef> {
    const { contract, legalEntity } = input;
    const body = toSalesOrderBody(
      contract,
      { externalId: input.idempotencyKey, tranId: input.tranId, customerId: input.erpCustomerId, subsidiaryId: this.subsidiaryOf(legalEntity), currencyId: await this.currencyId(contract.currency) },
      this.options.mapping,
    );
    const existing = await this.findByExternalId('salesOrder', input.idempotencyKey);
    // A later contract version updates the same sales order (same external id).
    const id = await this.upsert('salesOrder', input.idempotencyKey, body);
    return { id, externalId: input.idempotencyKey, created: existing === undefined, tranId: existing?.tranId ?? input.tranId };
  }

  async closeContract(erpContractId: string, reason: string): Promise<void> {
    // NetSuite closes an order line by line; q2c marks the order with its own body field and memo.
    await this.http.request({ method: 'PATCH', path: `${RECORD}/salesOrder/${encodeURIComponent(erpContractId)}`, json: { memo: `Closed by q2c: ${reason}`, custbody_q2c_status: 'CLOSED' } });
  }

  async postInvoice(input: PostInvoiceInput): Promise<ErpRecordRef> {
    const { invoice, legalEntity } = input;
    return this.createOnce('invoice', input.idempotencyKey, async () =>
      toInvoiceBody(
        invoice,
        {
          externalId: input.idempotencyKey,
          tranId: input.tranId,
          customerId: input.erpCustomerId,
          subsidiaryId: this.subsidiaryOf(legalEntity),
          currencyId: await this.currencyId(invoice.currency),
          salesOrderId: input.erpSalesOrderId,
        },
        this.options.mapping,
      ),
    );
  }

  async postCreditMemo(input: PostCreditMemoInput): Promise<ErpRecordRef> {
    const { creditMemo, legalEntity } = input;
    return this.createOnce('creditMemo', input.idempotencyKey, async () =>
      toCreditMemoBody(
        creditMemo,
        {
          externalId: input.idempotencyKey,
          tranId: input.tranId,
          customerId: input.erpCustomerId,
          subsidiaryId: this.subsidiaryOf(legalEntity),
          currencyId: await this.currencyId(creditMemo.currency),
          invoiceId: input.erpInvoiceId,
        },
        this.options.mapping,
      ),
    );
  }

  async postRevenueLines(input: PostRevenueInput): Promise<ErpRecordRef> {
    const first = input.lines[0];
    if (first === undefined) throw new ConnectorError('HTTP.VALIDATION', 'a revenue journal needs at least one line', { meta: { system: 'netsuite' } });
    const currency = first.amount.currency;
    if (input.lines.some((l) => l.amount.currency !== currency || l.recognitionDate !== first.recognitionDate)) {
      throw new ConnectorError('HTTP.VALIDATION', 'revenue lines of one journal share currency and recognition date', { meta: { system: 'netsuite' } });
    }
    return this.createOnce('journalEntry', input.idempotencyKey, async () =>
      toRevenueJournalBody(
        input.lines,
        {
          externalId: input.idempotencyKey,
          subsidiaryId: this.subsidiaryOf(input.legalEntity),
          currencyId: await this.currencyId(currency),
          tranDate: first.recognitionDate,
          memo: input.memo ?? `Revenue ${first.recognitionDate}`,
        },
        this.options.mapping,
      ),
    );
  }

  async listInvoices(erpCustomerId: string): Promise<ErpInvoiceSummary[]> {
    const bySymbol = await this.currencyIds();
    const symbolOf = new Map([...bySymbol].map(([sym, id]) => [id, sym]));
    const rows = await collect(
      this.suiteQl(`SELECT id, externalid, tranid, entity, currency, total, status FROM transaction WHERE type = 'CustInvc' AND entity = ${sq(erpCustomerId)} ORDER BY id`),
    );
    return rows.map((raw) => {
      const r = InvoiceRow.parse(raw);
      const cur = symbolOf.get(r.currency) ?? r.currency;
      currencyRule(cur);
      return { id: r.id, externalId: r.externalid, tranId: r.tranid, erpCustomerId: r.entity, total: jsonNumberToMoney(r.total, cur), status: r.status };
    });
  }

  /** SuiteQL rows across every page (offset/limit until hasMore is false). */
  suiteQl(query: string): AsyncGenerator<Record<string, unknown>> {
    const limit = this.options.pageSize ?? 1000;
    return paginateOffset(limit, async (offset, lim) => {
      const res = await this.http.request({
        method: 'POST',
        path: SUITEQL,
        query: { limit: lim, offset },
        headers: { prefer: 'transient' },
        json: { q: query },
        schema: SuiteQlPage,
      });
      return { items: res.body.items, hasMore: res.body.hasMore };
    });
  }

  private subsidiaryOf(legalEntity: LegalEntity): string {
    const id = legalEntity.externalIds['netsuite'];
    if (id === undefined) throw new ConnectorError('CONNECTOR.CONFIG', `legal entity ${legalEntity.id} has no NetSuite subsidiary id`, { meta: { system: 'netsuite', legalEntityId: legalEntity.id } });
    return id;
  }

  private async getSubsidiary(id: string) {
    const res = await this.http.request({ method: 'GET', path: `${RECORD}/subsidiary/${encodeURIComponent(id)}`, allowStatus: [404] });
    return res.status === 404 ? undefined : NetSuiteSubsidiary.parse(res.body);
  }

  /** ISO code -> NetSuite currency internal id, read once per adapter. */
  private currencyIds(): Promise<Map<string, string>> {
    this.currencies ??= collect(this.suiteQl('SELECT id, symbol FROM currency ORDER BY id'))
      .then((rows) => new Map(rows.map((r) => CurrencyRow.parse(r)).map((r) => [r.symbol, r.id])))
      .catch((err: unknown) => {
        this.currencies = undefined;
        throw err;
      });
    return this.currencies;
  }

  private async currencyId(iso: string): Promise<string> {
    const id = (await this.currencyIds()).get(iso);
    if (id === undefined) throw new ConnectorError('NETSUITE.INVALID_REFERENCE', `currency ${iso} is not enabled in NetSuite`, { meta: { system: 'netsuite', currency: iso } });
    return id;
  }

  private async findByExternalId(type: TransactionType | 'customer', externalId: string) {
    const res = await this.http.request({ method: 'GET', path: `${RECORD}/${type}/eid:${encodeURIComponent(externalId)}`, allowStatus: [404] });
    if (res.status === 404) return undefined;
    const body = res.body as Record<string, unknown>;
    return { id: String(body['id']), tranId: typeof body['tranId'] === 'string' ? body['tranId'] : undefined };
  }

  private async upsert(type: string, externalId: string, body: unknown): Promise<string> {
    const res = await this.http.request({ method: 'PUT', path: `${RECORD}/${type}/eid:${encodeURIComponent(externalId)}`, json: body });
    return idFromLocation(res.headers['location'], type);
  }

  /** Look up by external id, create when absent; a duplicate-external-id race ends in the winner's record. */
  private async createOnce(type: TransactionType, externalId: string, body: () => Promise<unknown>): Promise<ErpRecordRef> {
    const existing = await this.findByExternalId(type, externalId);
    if (existing) {
      this.options.logger?.info({ type, externalId, id: existing.id }, 'netsuite record already exists; not creating again');
      return { id: existing.id, externalId, created: false, ...(existing.tranId ? { tranId: existing.tranId } : {}) };
    }
    try {
      const res = await this.http.request({ method: 'POST', path: `${RECORD}/${type}`, json: await body() });
      const id = idFromLocation(res.headers['location'], type);
      const created = NetSuiteTransaction.parse((await this.http.request({ method: 'GET', path: `${RECORD}/${type}/${id}` })).body);
      return { id, externalId, created: true, tranId: created.tranId };
    } catch (err) {
      if (err instanceof ConnectorError && err.code === 'NETSUITE.DUPLICATE_RECORD' && /externalId/.test(err.message)) {
        const winner = await this.findByExternalId(type, externalId);
        if (winner) return { id: winner.id, externalId, created: false, ...(winner.tranId ? { tranId: winner.tranId } : {}) };
      }
      throw err;
    }
  }
}

const customerInvalid = (customerId: string, issues: CustomerIssue[], cause?: unknown): ConnectorError =>
  new ConnectorError('ERP.CUSTOMER_INVALID', `customer ${customerId} cannot be posted to NetSuite: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`, {
    ...(cause ? { cause } : {}),
    meta: { system: 'netsuite', customerId, fields: issues.map((i) => i.field).join(',') },
  });

/** NetSuite answers a create or upsert with 204 and `Location: .../record/v1/<type>/<id>`. */
const idFromLocation = (location: string | undefined, type: string): string => {
  const m = location ? /\/([^/]+)$/.exec(new URL(location, 'http://x').pathname) : null;
  if (!m?.[1]) throw new ConnectorError('HTTP.UNEXPECTED_RESPONSE', `NetSuite ${type} write returned no Location header`, { meta: { system: 'netsuite' } });
  return decodeURIComponent(m[1]);
};

export interface NetSuiteConnectionConfig {
  /** https://<account>.suitetalk.api.netsuite.com, or `${sandboxUrl}/netsuite`. */
  baseUrl: string;
  clientId: string;
  certificateId: SecretSource;
  privateKey: SecretSource;
  mapping: NetSuiteMappingConfig;
  /** NetSuite's governance is per account; the default stays under the base concurrency limit. */
  rateLimit?: { capacity: number; refillPerSecond: number };
  timeoutMs?: number;
  pageSize?: number;
  logger?: Logger;
}

/** Builds the adapter with its HTTP client, M2M auth and NetSuite error classification. */
export function createNetSuiteAdapter(cfg: NetSuiteConnectionConfig): NetSuiteAdapter {
  const baseUrl = cfg.baseUrl.replace(/\/+$/, '');
  const http = new HttpClient({
    system: 'netsuite',
    baseUrl,
    auth: new NetSuiteM2MAuth({ tokenUrl: `${baseUrl}/services/rest/auth/oauth2/v1/token`, clientId: cfg.clientId, certificateId: cfg.certificateId, privateKey: cfg.privateKey }),
    rateLimiter: new TokenBucket(cfg.rateLimit ?? { capacity: 5, refillPerSecond: 5 }),
    classify: classifyNetSuite,
    timeoutMs: cfg.timeoutMs ?? 30_000,
    ...(cfg.logger ? { logger: cfg.logger } : {}),
  });
  return new NetSuiteAdapter({ http, mapping: cfg.mapping, ...(cfg.logger ? { logger: cfg.logger } : {}), ...(cfg.pageSize ? { pageSize: cfg.pageSize } : {}) });
}
