/**
 * An operator request the core refuses, with a stable namespaced code
 * ('DEAL.INVOICE_NOT_PENDING' ...). The workflow turns it into a
 * non-retryable ApplicationFailure of that type; the service maps it to 409/422.
 */
export class Refusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'Refusal';
  }
}

export const refuse = (code: string, message: string): never => {
  throw new Refusal(code, message);
};
