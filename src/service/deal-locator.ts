import type { Db } from '../db';
import { IdentityRepository } from '../db/identity';

/**
 * Finds the opportunity a vendor record belongs to when the webhook itself does
 * not carry it. The activities that create envelopes, PSA workspaces and Stripe
 * objects record `identity_map` rows { kind: 'deal', system, externalId: <vendor id>,
 * canonicalId: <opportunityId> }.
 */
export interface DealLocator {
  opportunityFor(system: string, externalIds: readonly string[]): Promise<string | undefined>;
}

export const DEAL_IDENTITY_KIND = 'deal';

export function createDealLocator(db: Db): DealLocator {
  const identities = new IdentityRepository(db);
  return {
    // Prefer the first id given (the most specific one).
    opportunityFor: (system, externalIds) => identities.findCanonicalId(DEAL_IDENTITY_KIND, system, externalIds),
  };
}
