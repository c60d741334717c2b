import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from './index';
import { goldenRecords, identityMap } from './schema';

/** Which system owns each field of a golden record (the survivorship rules). */
export const FIELD_OWNERS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  customer: {
    name: 'salesforce',
    billTo: 'salesforce',
    parentId: 'salesforce',
    legalEntityId: 'netsuite',
    currency: 'netsuite',
    taxRegistration: 'netsuite',
    status: 'netsuite',
  },
};

/**
 * Survivorship: an incoming value wins when the field is empty, when its source
 * owns the field, or when the value held now did not come from the owner.
 * Fields no rule names are owned by whoever wrote them first.
 */
export function survive(
  kind: string,
  current: Record<string, unknown>,
  sources: Record<string, string>,
  incoming: Record<string, unknown>,
  source: string,
): { data: Record<string, unknown>; sources: Record<string, string> } {
  const owners = FIELD_OWNERS[kind] ?? {};
  const data = { ...current };
  const next = { ...sources };
  for (const [field, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    const owner = owners[field];
    const held = data[field] !== undefined;
    const takes = !held || owner === source || (owner !== undefined && next[field] !== owner) || (owner === undefined && next[field] === source);
    if (takes) {
      data[field] = value;
      next[field] = source;
    }
  }
  return { data, sources: next };
}

export class IdentityConflictError extends Error {
  override name = 'IdentityConflictError';
  readonly code = 'IDENTITY.CONFLICT';
}

/** The cross-system identity map and golden records. */
export class IdentityRepository {
  constructor(private readonly db: Db) {}

  /** The canonical id a system's record maps to, creating the mapping with `proposed` when there is none. */
  async canonicalIdFor(kind: string, system: string, externalId: string, proposed: string): Promise<string> {
    await this.db.insert(identityMap).values({ kind, canonicalId: proposed, system, externalId }).onConflictDoNothing();
    const [row] = await this.db
      .select({ canonicalId: identityMap.canonicalId })
      .from(identityMap)
      .where(and(eq(identityMap.system, system), eq(identityMap.kind, kind), eq(identityMap.externalId, externalId)));
    return row!.canonicalId;
  }

  /** Records that `system` knows the canonical object as `externalId`. Idempotent; a different mapping is a conflict. */
  async link(kind: string, canonicalId: string, system: string, externalId: string): Promise<void> {
    const existing = await this.canonicalIdFor(kind, system, externalId, canonicalId);
    if (existing !== canonicalId) {
      throw new IdentityConflictError(`${system} ${kind} ${externalId} already maps to ${existing}, not ${canonicalId}`);
    }
  }

  /** Ids of one canonical object in every system. */
  async externalIds(kind: string, canonicalId: string): Promise<Record<string, string>> {
    const rows = await this.db.select().from(identityMap).where(and(eq(identityMap.kind, kind), eq(identityMap.canonicalId, canonicalId)));
    return Object.fromEntries(rows.map((r) => [r.system, r.externalId]));
  }

  /**
   * Every (canonical id, external id) pair of one kind in one system, in
   * canonical then external id order; only those canonical ids when some are given.
   */
  /** The canonical id of the first of `externalIds` linked in `system` (the caller lists the most specific first). */
  async findCanonicalId(kind: string, system: string, externalIds: readonly string[]): Promise<string | undefined> {
    const ids = externalIds.filter((id) => id.length > 0);
    if (ids.length === 0) return undefined;
    const rows = await this.db
      .select({ externalId: identityMap.externalId, canonicalId: identityMap.canonicalId })
      .from(identityMap)
      .where(and(eq(identityMap.kind, kind), eq(identityMap.system, system), inArray(identityMap.externalId, ids)));
    for (const id of ids) {
      const hit = rows.find((r) => r.externalId === id);
      if (hit) return hit.canonicalId;
    }
    return undefined;
  }

  async links(kind: string, system: string, canonicalIds?: readonly string[]): Promise<Array<{ canonicalId: string; externalId: string }>> {
    return this.db
      .select({ canonicalId: identityMap.canonicalId, externalId: identityMap.externalId })
      .from(identityMap)
      .where(and(eq(identityMap.kind, kind), eq(identityMap.system, system), ...(canonicalIds?.length ? [inArray(identityMap.canonicalId, [...canonicalIds])] : [])))
      .orderBy(asc(identityMap.canonicalId), asc(identityMap.externalId));
  }

  /** Merges what `source` says about an object into its golden record under the survivorship rules. */
  async mergeGoldenRecord(kind: string, canonicalId: string, source: string, incoming: object): Promise<Record<string, unknown>> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .select()
        .from(goldenRecords)
        .where(and(eq(goldenRecords.kind, kind), eq(goldenRecords.canonicalId, canonicalId)))
        .for('update');
      const merged = survive(kind, (row?.data as Record<string, unknown>) ?? {}, row?.fieldSources ?? {}, incoming as Record<string, unknown>, source);
      await tx
        .insert(goldenRecords)
        .values({ kind, canonicalId, data: merged.data, fieldSources: merged.sources })
        .onConflictDoUpdate({
          target: [goldenRecords.kind, goldenRecords.canonicalId],
          set: { data: merged.data, fieldSources: merged.sources, version: sql`${goldenRecords.version} + 1`, updatedAt: sql`now()` },
        });
      return merged.data;
    });
  }
}
