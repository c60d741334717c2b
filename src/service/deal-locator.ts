import { and, eq, inArray } from 'drizzle-orm';
import { schema, type Db } from '../db';

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
  return {
    async opportunityFor(system, externalIds) {
      const ids = externalIds.filter((id) => id.length > 0);
      if (ids.length === 0) return undefined;
      const rows = await db
        .select({ externalId: schema.identityMap.externalId, canonicalId: schema.identityMap.canonicalId })
        .from(schema.identityMap)
        .where(
          and(
            eq(schema.identityMap.kind, DEAL_IDENTITY_KIND),
            eq(schema.identityMap.system, system),
            inArray(schema.identityMap.externalId, ids),
          ),
        );
      // Prefer the first id given (the most specific one).
      for (const id of ids) {
        const hit = rows.find((r) => r.externalId === id);
        if (hit) return hit.canonicalId;
      }
      return undefined;
    },
  };
}
