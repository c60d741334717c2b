import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';

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
