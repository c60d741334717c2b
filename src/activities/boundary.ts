import { ApplicationFailure } from '@temporalio/common';
import type { Address, LegalEntity } from '../canonical';
import { ConnectorError } from '../connectors/errors';
import { MappingError } from './deal/mapping';

/**
 * Maps a connector error to what an activity throws: the code becomes the
 * failure type, `retryable` decides nonRetryable, and Retry-After becomes
 * nextRetryDelay so Temporal's retry waits as long as the vendor asked.
 * Anything that is not a ConnectorError is passed through unchanged (Temporal
 * then retries it by the activity's policy).
 */
export function toApplicationFailure(err: unknown): unknown {
  if (!(err instanceof ConnectorError)) return err;
  return ApplicationFailure.create({
    type: err.code,
    message: err.message,
    nonRetryable: !err.retryable,
    details: [err.meta],
    ...(err.retryAfterMs !== undefined ? { nextRetryDelay: err.retryAfterMs } : {}),
    ...(err.cause instanceof Error ? { cause: err.cause } : {}),
  });
}

/**
 * Runs an activity body and converts what it throws at the boundary: an
 * ApplicationFailure passes as it is, connector errors keep their code as the
 * failure type (retryable or not by the one table), mapping errors are
 * non-retryable with their code.
 */
export async function activityBoundary<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    if (err instanceof MappingError) throw ApplicationFailure.create({ type: err.code, message: err.message, nonRetryable: true });
    throw toApplicationFailure(err);
  }
}

/** A legal entity's address as the tax engine takes it (ship-from): its tax jurisdiction. */
export const entityAddress = (entity: LegalEntity): Address => ({
  line1: entity.name,
  city: entity.taxJurisdiction.subdivision ?? entity.taxJurisdiction.country,
  ...(entity.taxJurisdiction.subdivision ? { region: entity.taxJurisdiction.subdivision } : {}),
  country: entity.taxJurisdiction.country,
});
