import { and, asc, count, eq, gt, sql, type SQL } from 'drizzle-orm';
import { schema, type Db } from '../db';

const { sandboxRecords: records, sandboxIdempotency: idempotency, sandboxWebhooks: webhooks } = schema;

export interface SandboxRecord<T extends Record<string, unknown> = Record<string, unknown>> {
  vendor: string;
  kind: string;
  id: string;
  externalId: string | null;
  data: T;
  version: number;
  seq: number;
  createdAt: Date;
  updatedAt: Date;
}

/** A second record with the same external id (vendor + kind). */
export class DuplicateExternalIdError extends Error {
  constructor(
    readonly vendor: string,
    readonly kind: string,
    readonly externalId: string,
  ) {
    super(`${vendor} ${kind} with external id ${externalId} already exists`);
    this.name = 'DuplicateExternalIdError';
  }
}

/** The record changed since the version the caller read (optimistic concurrency). */
export class VersionConflictError extends Error {
  constructor(
    readonly vendor: string,
    readonly kind: string,
    readonly id: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`${vendor} ${kind} ${id} is at version ${actual}, not ${expected}`);
    this.name = 'VersionConflictError';
  }
}

export class RecordNotFoundError extends Error {
  constructor(
    readonly vendor: string,
    readonly kind: string,
    readonly id: string,
  ) {
    super(`${vendor} ${kind} ${id} not found`);
    this.name = 'RecordNotFoundError';
  }
}

export interface InsertInput<T> {
  /** Fixed id; otherwise `idFor(seq)` builds one from the record's sequence number. */
  id?: string;
  idFor?: (seq: number) => string;
  externalId?: string | null;
  data: T | ((id: string, seq: number) => T);
}

export interface ListOptions {
  /** Only records whose data contains this JSON (jsonb @>). */
  contains?: Record<string, unknown>;
  /** Extra SQL condition over the records table (e.g. a date comparison inside data). */
  where?: SQL;
  /** Keyset pagination: records after this seq. */
  afterSeq?: number;
  /** Offset pagination (SuiteQL, Kantata pages). */
  offset?: number;
  limit?: number;
}

export interface IdempotencyEntry {
  requestHash: string;
  statusCode: number;
  response: unknown;
}

const isUniqueViolation = (err: unknown): boolean => {
  for (let cur: unknown = err, d = 0; cur instanceof Error && d < 4; cur = cur.cause, d++) {
    if ((cur as { code?: unknown }).code === '23505') return true;
  }
  return false;
};

type Row = typeof records.$inferSelect;
const toRecord = <T extends Record<string, unknown>>(r: Row): SandboxRecord<T> => ({ ...r, data: r.data as T });

/**
 * Repository over the sandbox tables (schema `sandbox`): one document store
 * per vendor and record kind, with the guarantees real vendors give —
 * external ids unique per kind, versions for optimistic concurrency, and a
 * stable insertion order (seq) for pagination.
 */
export class SandboxStore {
  constructor(readonly db: Db) {}

  /** Inserts a record; throws DuplicateExternalIdError when the external id is taken. */
  async insert<T extends Record<string, unknown>>(vendor: string, kind: string, input: InsertInput<T>): Promise<SandboxRecord<T>> {
    const seqRes = await this.db.execute<{ seq: string | number }>(sql`select nextval(pg_get_serial_sequence('sandbox.records', 'seq')) as seq`);
    const seq = Number(rowsOf<{ seq: string | number }>(seqRes)[0]?.seq);
    const id = input.id ?? input.idFor?.(seq) ?? String(seq);
    const data = typeof input.data === 'function' ? input.data(id, seq) : input.data;
    try {
      const [row] = await this.db
        .insert(records)
        .values({ vendor, kind, id, externalId: input.externalId ?? null, data, seq })
        .returning();
      return toRecord<T>(row!);
    } catch (err) {
      if (isUniqueViolation(err) && input.externalId) throw new DuplicateExternalIdError(vendor, kind, input.externalId);
      throw err;
    }
  }

  async get<T extends Record<string, unknown>>(vendor: string, kind: string, id: string): Promise<SandboxRecord<T> | undefined> {
    const [row] = await this.db.select().from(records).where(and(eq(records.vendor, vendor), eq(records.kind, kind), eq(records.id, id)));
    return row ? toRecord<T>(row) : undefined;
  }

  async getByExternalId<T extends Record<string, unknown>>(vendor: string, kind: string, externalId: string): Promise<SandboxRecord<T> | undefined> {
    const [row] = await this.db.select().from(records).where(and(eq(records.vendor, vendor), eq(records.kind, kind), eq(records.externalId, externalId)));
    return row ? toRecord<T>(row) : undefined;
  }

  /**
   * Replaces a record's data (`next` receives the current data), bumping its
   * version. With `expectedVersion`, fails with VersionConflictError when
   * someone else wrote first — the NetSuite RCRD_HAS_BEEN_CHANGED hazard.
   */
  async update<T extends Record<string, unknown>>(
    vendor: string,
    kind: string,
    id: string,
    next: (current: T) => T,
    options: { expectedVersion?: number; externalId?: string | null } = {},
  ): Promise<SandboxRecord<T>> {
    const current = await this.get<T>(vendor, kind, id);
    if (!current) throw new RecordNotFoundError(vendor, kind, id);
    const expected = options.expectedVersion ?? current.version;
    if (expected !== current.version) throw new VersionConflictError(vendor, kind, id, expected, current.version);
    const data = next(current.data);
    const [row] = await this.db
      .update(records)
      .set({ data, version: sql`${records.version} + 1`, updatedAt: sql`now()`, ...(options.externalId !== undefined ? { externalId: options.externalId } : {}) })
      .where(and(eq(records.vendor, vendor), eq(records.kind, kind), eq(records.id, id), eq(records.version, expected)))
      .returning();
    if (!row) {
      const now = await this.get(vendor, kind, id);
      if (!now) throw new RecordNotFoundError(vendor, kind, id);
      throw new VersionConflictError(vendor, kind, id, expected, now.version);
    }
    return toRecord<T>(row);
  }

  async delete(vendor: string, kind: string, id: string): Promise<boolean> {
    const rows = await this.db.delete(records).where(and(eq(records.vendor, vendor), eq(records.kind, kind), eq(records.id, id))).returning({ id: records.id });
    return rows.length > 0;
  }

  /** Records in insertion order, with the total count of matches (before offset/limit). */
  async list<T extends Record<string, unknown>>(vendor: string, kind: string, options: ListOptions = {}): Promise<{ items: SandboxRecord<T>[]; total: number }> {
    const base = [eq(records.vendor, vendor), eq(records.kind, kind)];
    if (options.contains) base.push(sql`${records.data} @> ${JSON.stringify(options.contains)}::jsonb`);
    if (options.where) base.push(options.where);
    const filter = and(...base);
    const [totalRow] = await this.db.select({ n: count() }).from(records).where(filter);
    const pageFilter = options.afterSeq !== undefined ? and(filter, gt(records.seq, options.afterSeq)) : filter;
    let q = this.db.select().from(records).where(pageFilter).orderBy(asc(records.seq)).$dynamic();
    if (options.limit !== undefined) q = q.limit(options.limit);
    if (options.offset !== undefined) q = q.offset(options.offset);
    const rows = await q;
    return { items: rows.map((r) => toRecord<T>(r)), total: Number(totalRow?.n ?? 0) };
  }

  async getIdempotency(vendor: string, key: string): Promise<IdempotencyEntry | undefined> {
    const [row] = await this.db.select().from(idempotency).where(and(eq(idempotency.vendor, vendor), eq(idempotency.key, key)));
    return row ? { requestHash: row.requestHash, statusCode: row.statusCode, response: row.response } : undefined;
  }

  /** Stores the first response for a key; returns false (and stores nothing) when the key was already used. */
  async putIdempotency(vendor: string, key: string, entry: IdempotencyEntry): Promise<boolean> {
    const rows = await this.db
      .insert(idempotency)
      .values({ vendor, key, requestHash: entry.requestHash, statusCode: entry.statusCode, response: entry.response as object })
      .onConflictDoNothing()
      .returning({ key: idempotency.key });
    return rows.length > 0;
  }

  /** Empties every sandbox table (tests against a shared PostgreSQL start from nothing). */
  async reset(): Promise<void> {
    await this.db.delete(records);
    await this.db.delete(idempotency);
    await this.db.delete(webhooks);
  }
}

/** node-postgres returns { rows }, PGlite returns { rows } too; drizzle passes either through. */
function rowsOf<T>(res: unknown): T[] {
  if (Array.isArray(res)) return res as T[];
  return ((res as { rows?: T[] }).rows ?? []) as T[];
}
