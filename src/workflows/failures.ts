import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { Refusal } from '../engagement/refusal';

/** The code a failure carries: the connector's ApplicationFailure type, or the timeout kind. */
export function failureCode(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && cause.type) return cause.type;
  if (cause && typeof cause === 'object' && 'timeoutType' in cause) return 'ACTIVITY.TIMEOUT';
  return 'UNKNOWN';
}

/** The failure's own message (an activity failure's cause, not the wrapper's). */
export function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}

/** A refusal of the core as the update's (or workflow's) failure: a stable type the service maps to 409 and the CLI prints. */
export function refusing<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof Refusal) throw ApplicationFailure.nonRetryable(err.message, err.code);
    throw err;
  }
}
