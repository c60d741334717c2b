import type { Logger } from 'pino';
import { convert, currencyRule, FxRate, type Customer, type LegalEntity } from '../../canonical';
import { jsonNumberToMoney } from '../decimal';
import { ConnectorError, type ConnectorErrorCode } from '../errors';
import { collect, HttpClient, InFlightLimit, paginateOffset, TokenBucket, type ErrorContext, type SecretSource, type VendorClassification, DEFAULT_REPEAT } from '../http';
import { NetSuiteM2MAuth } from './netsuite.auth';
import type {
  CustomerIssue,
  ErpInvoiceSummary,
  ErpPort,
  ErpRecordRef,
  IntercompanyBookSide,
  IntercompanyJournalRef,
  PostContractInput,
  PostCreditMemoInput,
  PostIntercompanyInput,
  PostInvoiceInput,
  PostRevenueInput,
  UpsertCustomerInput,
} from './erp.port';
import {
  DEFAULT_INTERCOMPANY_ACCOUNT_NUMBERS,
  toCreditMemoBody,
  toCustomerBody,
  toIntercompanyJournalBody,
  toInvoiceBody,
  toRevenueJournalBody,
  toSalesOrderBody,
  type IntercompanyAccounts,
  type NetSuiteMappingConfig,
} from './netsuite.mapper';
import {
  AccountRow,
  CurrencyRateRow,
  CurrencyRow,
  InvoiceRow,
  NetSuiteErrorBody,
  NetSuiteIntercompanyJournal,
  NetSuiteSubsidiary,
  SuiteQlPage,
} from './netsuite.schemas';

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

type TransactionType = 'salesOrder' | 'invoice' | 'creditMemo' | 'journalEntry' | 'intercompanyJournalEntry';

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
  private icAccounts: Promise<IntercompanyAccounts> | undefined;
  /** Subsidiary id -> base currency id; NetSuite does not let a subsidiary's base currency change once it has transactions. */
  private readonly baseCurrencies = new Map<string, Promise<string>>();

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

  /**
   * One two-subsidiary intercompany journal entry (record
   * `intercompanyJournalEntry`, not the advanced one: REST does not expose
   * the advanced record's lines). The journal currency is the charge's; it
   * must be the base currency of one of the two subsidiaries (NetSuite's own
   * rule), and the other side is converted at an explicit, dated rate.
   */
  async postIntercompanyJournal(input: PostIntercompanyInput): Promise<IntercompanyJournalRef> {
    const { seller, buyer, amount } = input;
    const sellerSub = this.subsidiaryOf(seller);
    const buyerSub = this.subsidiaryOf(buyer);
    const invalid = (message: string) => new ConnectorError('HTTP.VALIDATION', message, { meta: { system: 'netsuite', seller: seller.id, buyer: buyer.id } });
    if (sellerSub === buyerSub) throw invalid(`an intercompany journal needs two subsidiaries; ${seller.id} and ${buyer.id} are both subsidiary ${sellerSub}`);
    if (!Number.isSafeInteger(amount.amountMinor) || amount.amountMinor <= 0) throw invalid(`an intercompany charge is a positive amount in minor units, not ${amount.amountMinor}`);
    const ref = await this.createOnce('intercompanyJournalEntry', input.idempotencyKey, async () => {
      const [sellerBase, buyerBase] = await Promise.all([this.baseCurrencyOf(sellerSub), this.baseCurrencyOf(buyerSub)]);
      if (amount.currency !== sellerBase && amount.currency !== buyerBase) {
        throw invalid(
          `intercompany charge in ${amount.currency}: neither ${seller.id} (${sellerBase}) nor ${buyer.id} (${buyerBase}) keeps its books in it; the rule set's intercompany cost card must be in one of the two functional currencies`,
        );
      }
      const other = amount.currency !== sellerBase ? sellerBase : amount.currency !== buyerBase ? buyerBase : undefined;
      const fxRate = other === undefined ? undefined : await this.fxRateFor(amount.currency, other, input.tranDate, input.fxRate);
      return toIntercompanyJournalBody(
        amount,
        { externalId: input.idempotencyKey, sellerSubsidiaryId: sellerSub, buyerSubsidiaryId: buyerSub, currencyId: await this.currencyId(amount.currency), tranDate: input.tranDate, memo: input.memo, fxRate },
        await this.intercompanyAccounts(),
      );
    });
    // Read back what was booked (also on a retry), so the caller learns the rate and both sides.
    const rec = NetSuiteIntercompanyJournal.parse((await this.http.request({ method: 'GET', path: `${RECORD}/intercompanyJournalEntry/${encodeURIComponent(ref.id)}` })).body);
    return { ...ref, tranId: rec.tranId, ...(await this.intercompanySides(rec, seller.id, buyer.id)) };
  }

  /** Both sides of a stored intercompany journal in their subsidiaries' base currencies. */
  private async intercompanySides(rec: NetSuiteIntercompanyJournal, sellerId: string, buyerId: string): Promise<Pick<IntercompanyJournalRef, 'amount' | 'seller' | 'buyer' | 'fxRate'>> {
    const symbolOf = new Map([...(await this.currencyIds())].map(([sym, id]) => [id, sym]));
    const currency = symbolOf.get(rec.currency.id);
    if (currency === undefined) throw new ConnectorError('HTTP.UNEXPECTED_RESPONSE', `intercompany journal ${rec.id} has an unknown currency ${rec.currency.id}`, { meta: { system: 'netsuite' } });
    const sellerSub = rec.subsidiary.id;
    const debit = rec.line.items.find((l) => l.lineSubsidiary.id === sellerSub && (l.debit ?? 0) > 0)?.debit;
    if (debit === undefined) throw new ConnectorError('HTTP.UNEXPECTED_RESPONSE', `intercompany journal ${rec.id} has no debit for subsidiary ${sellerSub}`, { meta: { system: 'netsuite' } });
    const amount = jsonNumberToMoney(debit, currency);
    const fxRate = fxOfRecord(rec);
    const side = async (legalEntityId: string, erpEntityId: string): Promise<IntercompanyBookSide> => {
      const base = await this.baseCurrencyOf(erpEntityId);
      if (base === currency) return { legalEntityId, erpEntityId, amount };
      if (fxRate === undefined || fxRate.quote !== base) {
        throw new ConnectorError('HTTP.UNEXPECTED_RESPONSE', `intercompany journal ${rec.id} books ${currency} in subsidiary ${erpEntityId} (${base}) without a recorded rate`, { meta: { system: 'netsuite' } });
      }
      return { legalEntityId, erpEntityId, amount: convert(amount, fxRate) };
    };
    return { amount, seller: await side(sellerId, sellerSub), buyer: await side(buyerId, rec.toSubsidiary.id), ...(fxRate ? { fxRate } : {}) };
  }

  /** The explicit rate when given (it must convert `from` to `to`), else NetSuite's latest rate on or before `date`. */
  private async fxRateFor(from: string, to: string, date: string, explicit: FxRate | undefined): Promise<FxRate> {
    if (explicit !== undefined) {
      if (explicit.base !== from || explicit.quote !== to) {
        throw new ConnectorError('HTTP.VALIDATION', `the intercompany journal needs a ${from}->${to} rate, not ${explicit.base}->${explicit.quote}`, { meta: { system: 'netsuite' } });
      }
      return explicit;
    }
    const [fromId, toId] = await Promise.all([this.currencyId(from), this.currencyId(to)]);
    const rows = await collect(
      this.suiteQl(`SELECT id, basecurrency, transactioncurrency, exchangerate, effectivedate FROM currencyrate WHERE basecurrency = ${sq(toId)} AND transactioncurrency = ${sq(fromId)} ORDER BY effectivedate DESC`),
    );
    const best = rows
      .map((r) => CurrencyRateRow.parse(r))
      .map((r) => ({ ...r, asOf: isoDateOf(r.effectivedate) }))
      .filter((r) => r.asOf !== undefined && r.asOf <= date)
      .sort((a, b) => (a.asOf! < b.asOf! ? 1 : a.asOf! > b.asOf! ? -1 : 0))[0];
    if (best === undefined) {
      throw new ConnectorError('NETSUITE.INVALID_REFERENCE', `NetSuite has no ${from}->${to} exchange rate effective on or before ${date}`, { meta: { system: 'netsuite', from, to, date } });
    }
    return FxRate.parse({ base: from, quote: to, rate: decimalRate(best.exchangerate), asOf: best.asOf, source: `netsuite:currencyrate/${best.id}` });
  }

  /** The four intercompany accounts: configured internal ids, or found by account number once per adapter. */
  private intercompanyAccounts(): Promise<IntercompanyAccounts> {
    const configured = this.options.mapping.intercompanyAccounts;
    if (configured) return Promise.resolve(configured);
    const numbers = DEFAULT_INTERCOMPANY_ACCOUNT_NUMBERS;
    this.icAccounts ??= collect(this.suiteQl(`SELECT id, acctnumber, isinactive FROM account WHERE acctnumber IN (${Object.values(numbers).map(sq).join(', ')})`))
      .then((rows) => {
        const byNumber = new Map(rows.map((r) => AccountRow.parse(r)).filter((r) => r.isinactive !== 'T').map((r) => [r.acctnumber, r.id]));
        const missing = Object.values(numbers).filter((n) => !byNumber.has(n));
        if (missing.length > 0) {
          throw new ConnectorError('CONNECTOR.CONFIG', `NetSuite has no active account numbered ${missing.join(', ')} for intercompany journals; configure mapping.intercompanyAccounts`, { meta: { system: 'netsuite' } });
        }
        return { receivable: byNumber.get(numbers.receivable)!, revenue: byNumber.get(numbers.revenue)!, expense: byNumber.get(numbers.expense)!, payable: byNumber.get(numbers.payable)! };
      })
      .catch((err: unknown) => {
        this.icAccounts = undefined;
        throw err;
      });
    return this.icAccounts;
  }

  /** ISO code of a subsidiary's base currency. */
  private async baseCurrencyOf(subsidiaryId: string): Promise<string> {
    let p = this.baseCurrencies.get(subsidiaryId);
    if (p === undefined) {
      p = (async () => {
        const sub = await this.getSubsidiary(subsidiaryId);
        if (sub === undefined) throw new ConnectorError('NETSUITE.INVALID_REFERENCE', `subsidiary ${subsidiaryId} does not exist in NetSuite`, { meta: { system: 'netsuite', subsidiaryId } });
        const symbolOf = new Map([...(await this.currencyIds())].map(([sym, id]) => [id, sym]));
        const iso = symbolOf.get(sub.currency.id);
        if (iso === undefined) throw new ConnectorError('NETSUITE.INVALID_REFERENCE', `subsidiary ${subsidiaryId} has an unknown base currency ${sub.currency.id}`, { meta: { system: 'netsuite', subsidiaryId } });
        return iso;
      })();
      this.baseCurrencies.set(subsidiaryId, p);
      p.catch(() => this.baseCurrencies.delete(subsidiaryId));
    }
    return p;
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

  /**
   * Create once, in one request: the record carries q2c's key as externalId (and q2c's
   * tranId), which NetSuite keeps unique per record type. When the key is taken (a retry
   * after a create whose answer was lost, or a repeat), NetSuite answers DUP_RCRD and the
   * record is found by its external id; a DUP_RCRD with no record under the key is a real
   * conflict (a transaction number used by another record) and is thrown.
   */
  private async createOnce(type: TransactionType, externalId: string, body: () => Promise<{ externalId: string; tranId?: string | undefined }>): Promise<ErpRecordRef> {
    const json = await body();
    try {
      const res = await this.http.request({ method: 'POST', path: `${RECORD}/${type}`, json });
      const { tranId } = json;
      return { id: idFromLocation(res.headers['location'], type), externalId, created: true, ...(tranId ? { tranId } : {}) };
    } catch (err) {
      if (!(err instanceof ConnectorError && err.code === 'NETSUITE.DUPLICATE_RECORD')) throw err;
      const existing = await this.findByExternalId(type, externalId);
      if (existing === undefined) throw err;
      this.options.logger?.info({ type, externalId, id: existing.id }, 'netsuite record already exists; not creating again');
      return { id: existing.id, externalId, created: false, ...(existing.tranId ? { tranId: existing.tranId } : {}) };
    }
  }
}

/** The rate a stored intercompany journal recorded (custbody_q2c_fx_*), if any. */
const fxOfRecord = (rec: NetSuiteIntercompanyJournal): FxRate | undefined => {
  const m = /^([A-Z]{3})\/([A-Z]{3}) (\S+)$/.exec(rec.custbody_q2c_fx_rate ?? '');
  if (!m) return undefined;
  return FxRate.parse({ base: m[1], quote: m[2], rate: m[3], asOf: rec.custbody_q2c_fx_as_of, source: rec.custbody_q2c_fx_source });
};

/** A SuiteQL date as ISO: 'YYYY-MM-DD[...]' or the US display format 'M/D/YYYY'. */
const isoDateOf = (s: string): string | undefined => {
  const iso = /^(\d{4}-\d{2}-\d{2})/.exec(s);
  if (iso) return iso[1];
  const us = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(s);
  return us ? `${us[3]}-${us[1]!.padStart(2, '0')}-${us[2]!.padStart(2, '0')}` : undefined;
};

/** A JSON rate as the decimal string FxRate carries (at most 12 decimals, no exponent). */
const decimalRate = (n: number): string => {
  const plain = String(n);
  return /^\d{1,12}(\.\d{1,12})?$/.test(plain) ? plain : n.toFixed(12).replace(/0+$/, '').replace(/\.$/, '');
};

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

/** NetSuite's account concurrency limit at its base service tier. */
export const DEFAULT_NETSUITE_CONCURRENCY = 5;

export interface NetSuiteConnectionConfig {
  /** https://<account>.suitetalk.api.netsuite.com, or `${sandboxUrl}/netsuite`. */
  baseUrl: string;
  clientId: string;
  certificateId: SecretSource;
  privateKey: SecretSource;
  mapping: NetSuiteMappingConfig;
  /**
   * Requests this process keeps in flight at most: NetSuite governs an account by concurrency
   * (requests in flight across every integration), so this is the account's limit divided
   * over the processes that call it (ERP_CONCURRENCY / ERP_WORKERS). Default 5, the base tier.
   */
  concurrency?: number;
  /** An optional requests-per-second cap on top (none by default: NetSuite does not govern by rate). */
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
    inFlight: new InFlightLimit(cfg.concurrency ?? DEFAULT_NETSUITE_CONCURRENCY),
    ...(cfg.rateLimit ? { rateLimiter: new TokenBucket(cfg.rateLimit) } : {}),
    classify: classifyNetSuite,
    timeoutMs: cfg.timeoutMs ?? 30_000,
    repeat: DEFAULT_REPEAT,
    ...(cfg.logger ? { logger: cfg.logger } : {}),
  });
  return new NetSuiteAdapter({ http, mapping: cfg.mapping, ...(cfg.logger ? { logger: cfg.logger } : {}), ...(cfg.pageSize ? { pageSize: cfg.pageSize } : {}) });
}
