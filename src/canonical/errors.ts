/**
 * Error codes raised by canonical-model helpers. Closed union so callers can
 * switch on `code` exhaustively; none of these is retryable (they are all
 * deterministic consequences of the input).
 */
export type CanonicalErrorCode =
  | 'MONEY.CURRENCY_MISMATCH'
  | 'MONEY.UNKNOWN_CURRENCY'
  | 'MONEY.UNSAFE_INTEGER'
  | 'MONEY.DIVISION_BY_ZERO'
  | 'MONEY.FX_RATE_MISMATCH'
  | 'EVENT.UNKNOWN_TYPE'
  | 'EVENT.UNSUPPORTED_VERSION'
  | 'EVENT.INVALID_PAYLOAD'
  | 'AMENDMENT.VERSION_MISMATCH'
  | 'AMENDMENT.LINE_NOT_FOUND'
  | 'AMENDMENT.LINE_EXISTS'
  | 'CUSTOMER.HIERARCHY_CYCLE';

/** Base error for the canonical model: a stable code plus log-safe metadata. */
export class CanonicalError extends Error {
  readonly retryable = false;
  constructor(
    readonly code: CanonicalErrorCode,
    message: string,
    readonly meta: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'CanonicalError';
  }
}

/** Thrown when two amounts in different currencies meet without an FX conversion. */
export class CurrencyMismatchError extends CanonicalError {
  constructor(
    readonly left: string,
    readonly right: string,
  ) {
    super('MONEY.CURRENCY_MISMATCH', `cannot combine ${left} with ${right} without an FX conversion`, { left, right });
    this.name = 'CurrencyMismatchError';
  }
}
