import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Customer, Quote } from '../../canonical';
import { ConnectorError } from '../errors';
import { collect, HttpClient, paginateNextUrl, type AuthProvider, type ErrorContext, type TokenBucket, type VendorClassification, DEFAULT_REPEAT } from '../http';
import type { CrmOpportunity, CrmPort, CrmRecordRef, DunningTaskInput, InvoiceStatusInput, UpsertAccountInput } from './crm.port';
import { invoiceStatusPicklist, moneyToJsonNumber, soqlDateTime, soqlString, toAccountFields, toCustomer, toDunningTaskFields, toOpportunity, toQuote } from './salesforce.mapper';
import {
  ACCOUNT_FIELDS,
  AccountRecord,
  OPPORTUNITY_FIELDS,
  OpportunityRecord,
  QUOTE_FIELDS,
  QUOTE_LINE_FIELDS,
  QuoteLineRecord,
  QuoteRecord,
  CreateResult,
  IdRecord,
  queryResult,
  SalesforceErrorBody,
  UpsertResult,
} from './salesforce.schemas';

export interface SalesforceConfig {
  /** e.g. '60.0' */
  apiVersion: string;
  /** Sforce-Query-Options batchSize (Salesforce honours 200..2000). */
  queryBatchSize?: number;
}

/** Salesforce error codes -> connector codes (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm). */
export function classifySalesforce(ctx: ErrorContext): VendorClassification | undefined {
  const parsed = SalesforceErrorBody.safeParse(ctx.body);
  const first = parsed.success ? parsed.data[0] : undefined;
  if (!first) return undefined;
  const base = { message: first.message, vendorCode: first.errorCode };
  switch (first.errorCode) {
    case 'UNABLE_TO_LOCK_ROW':
      return { ...base, code: 'SALESFORCE.ROW_LOCK' };
    case 'DUPLICATE_VALUE':
    case 'DUPLICATE_EXTERNAL_ID':
      return { ...base, code: 'SALESFORCE.DUPLICATE_EXTERNAL_ID' };
    case 'INVALID_FIELD':
    case 'INVALID_FIELD_FOR_INSERT_UPDATE':
      return { ...base, code: 'SALESFORCE.INVALID_FIELD' };
    // API request limit: Salesforce answers 403, but it is a rate limit.
    case 'REQUEST_LIMIT_EXCEEDED':
      return { ...base, code: 'HTTP.RATE_LIMITED' };
    case 'INVALID_SESSION_ID':
      return { ...base, code: 'HTTP.AUTH' };
    default:
      return base;
  }
}

export interface SalesforceHttpOptions {
  instanceUrl: string;
  auth: AuthProvider;
  rateLimiter?: TokenBucket;
  logger?: Logger;
  timeoutMs?: number;
}

export const createSalesforceHttp = (o: SalesforceHttpOptions): HttpClient =>
  new HttpClient({
    system: 'salesforce',
    baseUrl: o.instanceUrl,
    auth: o.auth,
    classify: classifySalesforce,
    ...(o.rateLimiter ? { rateLimiter: o.rateLimiter } : {}),
    ...(o.logger ? { logger: o.logger } : {}),
    ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
    repeat: DEFAULT_REPEAT,
  });

/**
 * Salesforce REST + Salesforce CPQ objects over the shared HTTP client.
 * (jsforce brings its own transport, retries and error types; a typed client
 * keeps auth, rate limiting and error classification in one place.)
 */
export class SalesforceCrmAdapter implements CrmPort {
  constructor(
    private readonly http: HttpClient,
    private readonly config: SalesforceConfig,
  ) {}

  private get base(): string {
    return `/services/data/v${this.config.apiVersion}`;
  }

  /** All records of a SOQL query, following nextRecordsUrl to the end. */
  async query<T>(soql: string, record: z.ZodType<T>): Promise<T[]> {
    const schema = queryResult(record);
    const headers = this.config.queryBatchSize ? { 'sforce-query-options': `batchSize=${this.config.queryBatchSize}` } : undefined;
    return collect(
      paginateNextUrl(`${this.base}/query?q=${encodeURIComponent(soql)}`, async (path) => {
        const res = await this.http.request({ method: 'GET', path, schema, ...(headers ? { headers } : {}) });
        return res.body as { records: T[]; done: boolean; nextRecordsUrl?: string };
      }),
    );
  }

  async getOpportunity(opportunityId: string): Promise<CrmOpportunity> {
    const rec = await this.http.get(`${this.base}/sobjects/Opportunity/${encodeURIComponent(opportunityId)}`, OpportunityRecord, { fields: OPPORTUNITY_FIELDS.join(',') });
    return toOpportunity(rec);
  }

  async getAccount(accountId: string): Promise<Customer> {
    const rec = await this.http.get(`${this.base}/sobjects/Account/${encodeURIComponent(accountId)}`, AccountRecord, { fields: ACCOUNT_FIELDS.join(',') });
    return toCustomer(rec);
  }

  async listClosedWonOpportunities(since: string): Promise<CrmOpportunity[]> {
    const soql = `SELECT ${OPPORTUNITY_FIELDS.join(', ')} FROM Opportunity WHERE IsWon = true AND LastModifiedDate >= ${soqlDateTime(since)} ORDER BY LastModifiedDate ASC`;
    return (await this.query(soql, OpportunityRecord)).map(toOpportunity);
  }

  async getPrimaryQuote(opportunityId: string, customerId: string): Promise<Quote> {
    const quotes = await this.query(
      `SELECT ${QUOTE_FIELDS.join(', ')} FROM SBQQ__Quote__c WHERE SBQQ__Opportunity2__c = ${soqlString(opportunityId)} AND SBQQ__Primary__c = true LIMIT 1`,
      QuoteRecord,
    );
    const quote = quotes[0];
    if (!quote) throw new ConnectorError('HTTP.NOT_FOUND', `opportunity ${opportunityId} has no primary quote`, { meta: { system: 'salesforce', opportunityId } });
    const lines = await this.query(`SELECT ${QUOTE_LINE_FIELDS.join(', ')} FROM SBQQ__QuoteLine__c WHERE SBQQ__Quote__c = ${soqlString(quote.Id)} ORDER BY SBQQ__Number__c ASC`, QuoteLineRecord);
    return toQuote(quote, lines, customerId);
  }

  async upsertAccount({ customer, parentAccountId }: UpsertAccountInput): Promise<CrmRecordRef> {
    return this.upsert('Account', 'External_Id__c', customer.id, toAccountFields(customer, parentAccountId));
  }

  async updateOpportunityStage(opportunityId: string, stage: string): Promise<void> {
    await this.patch('Opportunity', opportunityId, { StageName: stage });
  }

  async setProjectLink(opportunityId: string, link: { projectId: string; url: string }): Promise<void> {
    await this.patch('Opportunity', opportunityId, { Q2C_Project_Id__c: link.projectId, Q2C_Project_URL__c: link.url });
  }

  async recordInvoiceStatus(i: InvoiceStatusInput): Promise<CrmRecordRef> {
    return this.upsert('Q2C_Invoice__c', 'Invoice_Number__c', i.invoiceNumber, {
      Name: i.invoiceNumber,
      Opportunity__c: i.opportunityId,
      Status__c: invoiceStatusPicklist(i.status),
      Total__c: moneyToJsonNumber(i.total),
      Amount_Paid__c: moneyToJsonNumber(i.amountPaid),
      Due_Date__c: i.dueDate,
      CurrencyIsoCode: i.total.currency,
    });
  }

  /**
   * Activity custom fields cannot be external ids in Salesforce, so a Task is not
   * upserted: the key field is queried first, and the task created only when absent.
   * (Temporal runs one attempt at a time, so look-up-then-create does not race itself.)
   */
  async createDunningTask(i: DunningTaskInput): Promise<CrmRecordRef> {
    const found = await this.query(`SELECT Id FROM Task WHERE Q2C_Dunning_Key__c = ${soqlString(i.key)} LIMIT 1`, IdRecord);
    if (found[0]) return { id: found[0].Id, externalId: i.key, created: false };
    const res = await this.http.request({ method: 'POST', path: `${this.base}/sobjects/Task`, json: toDunningTaskFields(i), schema: CreateResult });
    return { id: res.body.id, externalId: i.key, created: true };
  }

  private async patch(type: string, id: string, fields: Record<string, unknown>): Promise<void> {
    await this.http.request({ method: 'PATCH', path: `${this.base}/sobjects/${type}/${encodeURIComponent(id)}`, json: fields });
  }

  /** Upsert by external id: idempotent by construction, so it needs no look-up first. */
  private async upsert(type: string, field: string, externalId: string, fields: Record<string, unknown>): Promise<CrmRecordRef> {
    const res = await this.http.request({ method: 'PATCH', path: `${this.base}/sobjects/${type}/${field}/${encodeURIComponent(externalId)}`, json: fields, schema: UpsertResult });
    return { id: res.body.id, externalId, created: res.status === 201 };
  }
}
