/**
 * Every error a connector raises has one of these codes. The union is closed so
 * workflows can branch on `failure.cause.type` exhaustively; add a code here
 * (and its row in RETRYABLE) rather than inventing strings at call sites.
 */
export type ConnectorErrorCode =
  // transport and generic HTTP outcomes
  | 'HTTP.TIMEOUT'
  | 'HTTP.CONNECTION'
  | 'HTTP.RATE_LIMITED'
  | 'HTTP.SERVER_ERROR'
  | 'HTTP.AUTH'
  | 'HTTP.FORBIDDEN'
  | 'HTTP.NOT_FOUND'
  | 'HTTP.VALIDATION'
  | 'HTTP.CONFLICT'
  | 'HTTP.UNEXPECTED_RESPONSE'
  // configuration and secrets
  | 'CONNECTOR.CONFIG'
  | 'CONNECTOR.SECRET_MISSING'
  | 'CONNECTOR.UNSUPPORTED'
  // Salesforce
  | 'SALESFORCE.DUPLICATE_EXTERNAL_ID'
  | 'SALESFORCE.ROW_LOCK'
  | 'SALESFORCE.INVALID_FIELD'
  // DocuSign
  | 'DOCUSIGN.ENVELOPE_STATE'
  | 'DOCUSIGN.SIGNATURE_INVALID'
  // Kantata
  | 'KANTATA.TEMPLATE_MISSING'
  | 'KANTATA.DUPLICATE_REFERENCE'
  // NetSuite
  | 'NETSUITE.CONCURRENCY_LIMIT'
  | 'NETSUITE.RECORD_CHANGED'
  | 'NETSUITE.DUPLICATE_RECORD'
  | 'NETSUITE.INVALID_REFERENCE'
  // Stripe
  | 'STRIPE.IDEMPOTENCY_MISMATCH'
  | 'STRIPE.IDEMPOTENCY_IN_USE'
  | 'STRIPE.CARD_DECLINED'
  | 'STRIPE.INVALID_REQUEST'
  | 'STRIPE.SIGNATURE_INVALID'
  // Avalara
  | 'AVALARA.ADDRESS_UNRESOLVED'
  | 'AVALARA.DOCUMENT_COMMITTED'
  | 'AVALARA.INVALID_REQUEST'
  // Port-level business codes workflows branch on (added by connectors-2)
  | 'ERP.CUSTOMER_INVALID'
  | 'CRM.ACCOUNT_INVALID';

/**
 * The one table that says which codes are worth retrying. Timeouts, resets,
 * 5xx, 429 and vendor concurrency/lock errors are transient; everything that
 * is a deterministic consequence of the input or of configuration is not.
 */
export const RETRYABLE: Readonly<Record<ConnectorErrorCode, boolean>> = Object.freeze({
  'HTTP.TIMEOUT': true,
  'HTTP.CONNECTION': true,
  'HTTP.RATE_LIMITED': true,
  'HTTP.SERVER_ERROR': true,
  'HTTP.AUTH': false,
  'HTTP.FORBIDDEN': false,
  'HTTP.NOT_FOUND': false,
  'HTTP.VALIDATION': false,
  'HTTP.CONFLICT': false,
  'HTTP.UNEXPECTED_RESPONSE': false,
  'CONNECTOR.CONFIG': false,
  'CONNECTOR.SECRET_MISSING': false,
  'CONNECTOR.UNSUPPORTED': false,
  'SALESFORCE.DUPLICATE_EXTERNAL_ID': false,
  'SALESFORCE.ROW_LOCK': true,
  'SALESFORCE.INVALID_FIELD': false,
  'DOCUSIGN.ENVELOPE_STATE': false,
  'DOCUSIGN.SIGNATURE_INVALID': false,
  'KANTATA.TEMPLATE_MISSING': false,
  'KANTATA.DUPLICATE_REFERENCE': false,
  'NETSUITE.CONCURRENCY_LIMIT': true,
  'NETSUITE.RECORD_CHANGED': true,
  'NETSUITE.DUPLICATE_RECORD': false,
  'NETSUITE.INVALID_REFERENCE': false,
  'STRIPE.IDEMPOTENCY_MISMATCH': false,
  // Another request with the same key is still running: retrying later replays its result.
  'STRIPE.IDEMPOTENCY_IN_USE': true,
  'STRIPE.CARD_DECLINED': false,
  'STRIPE.INVALID_REQUEST': false,
  'STRIPE.SIGNATURE_INVALID': false,
  'AVALARA.ADDRESS_UNRESOLVED': false,
  'AVALARA.DOCUMENT_COMMITTED': false,
  'AVALARA.INVALID_REQUEST': false,
  'ERP.CUSTOMER_INVALID': false,
  'CRM.ACCOUNT_INVALID': false,
});

export const isRetryableCode = (code: ConnectorErrorCode): boolean => RETRYABLE[code];

/** Log-safe facts about a failed call: never headers, bodies with secrets, or tokens. */
export interface ConnectorErrorMeta {
  system?: string;
  method?: string;
  /** Path without query string. */
  path?: string;
  status?: number;
  /** The vendor's own error code (errorCode, o:errorCode, error.code ...). */
  vendorCode?: string;
  /** Vendor request id when the response carried one. */
  requestId?: string;
  [key: string]: string | number | boolean | undefined;
}

export interface ConnectorErrorOptions {
  cause?: unknown;
  meta?: ConnectorErrorMeta;
  /** How long the vendor asked us to wait (Retry-After), in milliseconds. */
  retryAfterMs?: number;
}

/**
 * The single error type connectors throw; see ConnectorErrorCode and RETRYABLE.
 * Connectors know nothing of Temporal: the activity boundary
 * (src/activities/boundary.ts) turns this into an ApplicationFailure.
 */
export class ConnectorError extends Error {
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly meta: Readonly<ConnectorErrorMeta>;

  constructor(
    readonly code: ConnectorErrorCode,
    message: string,
    options: ConnectorErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConnectorError';
    this.retryable = RETRYABLE[code];
    this.retryAfterMs = options.retryAfterMs;
    this.meta = Object.freeze({ ...(options.meta ?? {}) });
  }
}

export const isConnectorError = (err: unknown): err is ConnectorError => err instanceof ConnectorError;
