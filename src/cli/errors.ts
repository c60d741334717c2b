/** A failure the CLI states in one sentence (no stack trace): bad input, a refusal, a service that does not answer. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}
