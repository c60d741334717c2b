import type { Logger } from 'pino';
import type { ConnectorErrorCode } from '../errors';
import { basicAuth, HttpClient, TokenBucket, type ErrorContext, type SecretSource, type VendorClassification, DEFAULT_REPEAT } from '../http';
import { AvalaraErrorBody, TransactionModel } from './avalara.schemas';
import { fromTransaction, toCreateTransaction } from './avalara.mapper';
import type { TaxDocument, TaxDocumentInput, TaxPort } from './tax.port';

/** AvaTax error codes -> connector codes. Unlisted codes fall back to the HTTP status. */
const AVALARA_CODES: Readonly<Record<string, ConnectorErrorCode>> = {
  AuthenticationException: 'HTTP.AUTH',
  AuthorizationException: 'HTTP.FORBIDDEN',
  EntityNotFoundError: 'HTTP.NOT_FOUND',
  JurisdictionNotFoundError: 'AVALARA.ADDRESS_UNRESOLVED',
  AddressUnknownError: 'AVALARA.ADDRESS_UNRESOLVED',
  DocumentCodeConflict: 'AVALARA.DOCUMENT_COMMITTED',
  ModelRequiredException: 'AVALARA.INVALID_REQUEST',
  ValueRequiredError: 'AVALARA.INVALID_REQUEST',
  InvalidCurrencyError: 'AVALARA.INVALID_REQUEST',
  TaxCodeNotFoundError: 'AVALARA.INVALID_REQUEST',
};

/** Reads AvaTax's `{ error: { code, message } }` body. 429 and 5xx keep the status classification. */
export const classifyAvalara = (ctx: ErrorContext): VendorClassification | undefined => {
  const parsed = AvalaraErrorBody.safeParse(ctx.body);
  if (!parsed.success) return undefined;
  const { code, message } = parsed.data.error;
  const mapped = ctx.status === 429 || ctx.status >= 500 ? undefined : AVALARA_CODES[code];
  return { ...(mapped ? { code: mapped } : {}), message: `${code}: ${message}`, vendorCode: code };
};

export interface AvalaraAdapterOptions {
  /** Built with basicAuth(accountId, licenseKey) and `classify: classifyAvalara`, base URL e.g. https://rest.avatax.com. */
  http: HttpClient;
  companyCode: string;
  logger?: Logger;
}

/**
 * Avalara AvaTax REST v2 through the shared HTTP client. The `avatax` SDK
 * accepts a full base URL, but its restCall hides the HTTP status and
 * headers (errors carry only the body's code; a non-JSON 429/5xx body becomes
 * 'FormatException' and Retry-After is lost), so retryable and non-retryable
 * failures could not be told apart reliably.
 */
export class AvalaraAdapter implements TaxPort {
  constructor(private readonly options: AvalaraAdapterOptions) {}

  private get company(): string {
    return encodeURIComponent(this.options.companyCode);
  }

  async calculateTax(input: TaxDocumentInput): Promise<TaxDocument> {
    // AvaTax keeps one document per company and code: a repeat returns the existing transaction.
    const res = await this.options.http.request({
      method: 'POST',
      path: '/api/v2/transactions/create',
      json: toCreateTransaction(input, this.options.companyCode),
      schema: TransactionModel,
    });
    this.options.logger?.debug({ documentCode: input.documentCode, status: res.body.status }, 'avalara transaction');
    return fromTransaction(res.body);
  }

  async commitTax(documentCode: string): Promise<TaxDocument> {
    const res = await this.options.http.request({
      method: 'POST',
      path: `/api/v2/companies/${this.company}/transactions/${encodeURIComponent(documentCode)}/commit`,
      json: { commit: true },
      schema: TransactionModel,
    });
    return fromTransaction(res.body);
  }

  async getTaxDocument(documentCode: string): Promise<TaxDocument | undefined> {
    const res = await this.options.http.request({
      method: 'GET',
      path: `/api/v2/companies/${this.company}/transactions/${encodeURIComponent(documentCode)}`,
      allowStatus: [404],
      schema: TransactionModel,
    });
    return res.status === 404 ? undefined : fromTransaction(res.body);
  }
}

export interface AvalaraConnectionConfig {
  /** https://rest.avatax.com, https://sandbox-rest.avatax.com, or `${sandboxUrl}/avalara`. */
  baseUrl: string;
  accountId: SecretSource;
  licenseKey: SecretSource;
  companyCode: string;
  rateLimit?: { capacity: number; refillPerSecond: number };
  timeoutMs?: number;
  logger?: Logger;
}

export function createAvalaraAdapter(cfg: AvalaraConnectionConfig): AvalaraAdapter {
  const http = new HttpClient({
    system: 'avalara',
    baseUrl: cfg.baseUrl,
    auth: basicAuth(cfg.accountId, cfg.licenseKey),
    rateLimiter: new TokenBucket(cfg.rateLimit ?? { capacity: 10, refillPerSecond: 10 }),
    classify: classifyAvalara,
    timeoutMs: cfg.timeoutMs ?? 30_000,
    repeat: DEFAULT_REPEAT,
    ...(cfg.logger ? { logger: cfg.logger } : {}),
    // Avalara asks integrations to identify themselves: name; version; adapter; adapter version; machine.
    headers: { 'x-avalara-client': 'q2c; 0.1.0; q2c-avalara-adapter; 1.0; ' },
  });
  return new AvalaraAdapter({ http, companyCode: cfg.companyCode, ...(cfg.logger ? { logger: cfg.logger } : {}) });
}
