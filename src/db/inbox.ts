import { and, desc, eq, sql, type SQL } from 'drizzle-orm';
import type { Db } from './index';
import { webhookInbox } from './schema';

export type InboxStatus = 'accepted' | 'duplicate' | 'rejected' | 'dispatched';
export type InboxRow = typeof webhookInbox.$inferSelect;

export interface InboxEntry {
  source: string;
  eventId: string;
  eventType: string;
  rawBody: string;
  workflowId: string;
  correlationId: string;
  /** When the signature checked out (every accepted delivery's did). */
  signatureVerifiedAt?: Date;
  routeParams?: Record<string, string>;
}

/** Why a stored delivery can be replayed, or why not. */
export type Replayability = { replayable: true } | { replayable: false; reason: string };

/** Error codes of deliveries that verified and parsed but could not be handed to their deal then. */
export const REPLAYABLE_CODES = ['DEAL_NOT_FOUND', 'DEAL_UNRESOLVED', 'DISPATCH_FAILED'] as const;

/** Pure: a row is replayable when its signature verified and it failed only at locating or dispatching. */
export function replayability(row: Pick<InboxRow, 'status' | 'error' | 'signatureVerifiedAt'>): Replayability {
  if (row.status === 'dispatched') return { replayable: false, reason: 'already dispatched' };
  if (row.status === 'duplicate') return { replayable: false, reason: 'a duplicate of an earlier delivery' };
  if (!row.signatureVerifiedAt) return { replayable: false, reason: 'its signature never verified' };
  // A rejection stores the answer's body ({ error: CODE, ... }); a failed dispatch stores { code: 'DISPATCH_FAILED', ... }.
  const stored = row.error as { code?: unknown; error?: unknown } | null;
  const code = stored?.code ?? stored?.error;
  if (typeof code === 'string' && (REPLAYABLE_CODES as readonly string[]).includes(code)) return { replayable: true };
  return { replayable: false, reason: typeof code === 'string' ? `rejected as ${code}` : 'nothing failed' };
}

/**
 * A stored event still not handed to its deal this long after it arrived was abandoned (the
 * service stopped mid-dispatch): the vendor's redelivery claims it. A dispatch takes
 * milliseconds; were one still running, the deal would drop the second copy by its event id.
 */
export const STALE_DISPATCH_SECONDS = 30;

export type AcceptOutcome =
  | { kind: 'accepted'; id: number }
  /** The dispatch of an earlier delivery failed or was abandoned; this delivery has claimed the retry. */
  | { kind: 'retry'; id: number }
  | { kind: 'duplicate'; id: number; original: InboxRow };

/**
 * The webhook inbox: every delivery as received. The partial unique index on
 * (source, event_id) over accepted/dispatched rows makes "store, then
 * dispatch" exactly-once per event even under concurrent duplicate deliveries.
 */
export class InboxRepository {
  constructor(
    private readonly db: Db,
    /** Stamps `dispatchedAt`: the service's clock. */
    private readonly clock: () => Date,
  ) {}

  /**
   * Stores an authenticated, valid event. The first delivery of an event id
   * wins the insert and dispatches; later ones are recorded as 'duplicate'
   * rows — unless the first one's dispatch failed (or was abandoned: still not
   * dispatched STALE_DISPATCH_SECONDS after it arrived), in which case one
   * later delivery atomically claims the retry.
   */
  async accept(entry: InboxEntry): Promise<AcceptOutcome> {
    const inserted = await this.db
      .insert(webhookInbox)
      .values({ ...entry, status: 'accepted' })
      .onConflictDoNothing()
      .returning({ id: webhookInbox.id });
    if (inserted[0]) return { kind: 'accepted', id: inserted[0].id };

    const [original] = await this.db
      .select()
      .from(webhookInbox)
      .where(and(eq(webhookInbox.source, entry.source), eq(webhookInbox.eventId, entry.eventId), sql`${webhookInbox.status} in ('accepted', 'dispatched')`))
      .limit(1);
    if (!original) throw new Error(`inbox: conflict on ${entry.source}/${entry.eventId} but no original row`);

    if (original.status === 'accepted') {
      const claimed = await this.db
        .update(webhookInbox)
        .set({ error: null, correlationId: entry.correlationId })
        .where(
          and(
            eq(webhookInbox.id, original.id),
            eq(webhookInbox.status, 'accepted'),
            // A failed dispatch, or one that never finished: the process died between storing the
            // event and handing it over (nothing else leaves a row accepted without an error).
            sql`(${webhookInbox.error}->>'code' = 'DISPATCH_FAILED' or (${webhookInbox.error} is null and ${webhookInbox.receivedAt} < now() - make_interval(secs => ${STALE_DISPATCH_SECONDS})))`,
          ),
        )
        .returning({ id: webhookInbox.id });
      if (claimed[0]) return { kind: 'retry', id: original.id };
    }

    const [dup] = await this.db
      .insert(webhookInbox)
      .values({ ...entry, workflowId: original.workflowId, status: 'duplicate' })
      .returning({ id: webhookInbox.id });
    return { kind: 'duplicate', id: dup!.id, original };
  }

  async markDispatched(id: number): Promise<void> {
    await this.db.update(webhookInbox).set({ status: 'dispatched', dispatchedAt: this.clock(), error: null }).where(eq(webhookInbox.id, id));
  }

  /** Leaves the row 'accepted' with the error, so a redelivery of the event can claim the retry. */
  async markDispatchFailed(id: number, error: Record<string, unknown>): Promise<void> {
    await this.db.update(webhookInbox).set({ error: { ...error, code: 'DISPATCH_FAILED' } }).where(eq(webhookInbox.id, id));
  }

  /** An accepted event that turned out undeliverable (no such deal): out of the dedupe index. */
  async markRejected(id: number, error: Record<string, unknown>): Promise<void> {
    await this.db.update(webhookInbox).set({ status: 'rejected', error }).where(eq(webhookInbox.id, id));
  }

  /** A delivery that failed authentication or validation; kept for inspection (body only, never headers). */
  async recordRejected(entry: { source: string; eventId?: string; eventType?: string; rawBody: string; correlationId: string; error: Record<string, unknown>; signatureVerifiedAt?: Date; routeParams?: Record<string, string>; workflowId?: string }): Promise<number> {
    const [row] = await this.db
      .insert(webhookInbox)
      .values({ ...entry, status: 'rejected' })
      .returning({ id: webhookInbox.id });
    return row!.id;
  }

  async get(id: number): Promise<InboxRow | undefined> {
    const [row] = await this.db.select().from(webhookInbox).where(eq(webhookInbox.id, id)).limit(1);
    return row;
  }

  /**
   * Claims a replayable row for one replay: it becomes 'accepted' (back in the dedupe index)
   * for `workflowId`. 'claimed' for exactly one caller; 'gone' when another replay (or a
   * redelivery) got there first; 'delivered' when another row of the same event was
   * accepted or dispatched meanwhile (the event reached its deal: nothing to replay).
   */
  async claimReplay(id: number, workflowId: string, correlationId: string): Promise<{ kind: 'claimed' } | { kind: 'gone' } | { kind: 'delivered'; original: InboxRow }> {
    try {
      const claimed = await this.db
        .update(webhookInbox)
        .set({ status: 'accepted', error: null, workflowId, correlationId, replays: sql`${webhookInbox.replays} + 1` })
        .where(
          and(
            eq(webhookInbox.id, id),
            sql`${webhookInbox.signatureVerifiedAt} is not null`,
            sql`(${webhookInbox.status} = 'rejected' and ${webhookInbox.error}->>'error' in ('DEAL_NOT_FOUND', 'DEAL_UNRESOLVED')) or (${webhookInbox.status} = 'accepted' and ${webhookInbox.error}->>'code' = 'DISPATCH_FAILED')`,
          ),
        )
        .returning({ id: webhookInbox.id });
      return claimed[0] ? { kind: 'claimed' } : { kind: 'gone' };
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const row = await this.get(id);
      const [original] = await this.db
        .select()
        .from(webhookInbox)
        .where(and(eq(webhookInbox.source, row!.source), eq(webhookInbox.eventId, row!.eventId!), sql`${webhookInbox.status} in ('accepted', 'dispatched')`))
        .limit(1);
      return { kind: 'delivered', original: original! };
    }
  }

  /** Newest first. */
  async list(filter: { status?: InboxStatus; source?: string; limit: number }): Promise<InboxRow[]> {
    const where: SQL[] = [];
    if (filter.status) where.push(eq(webhookInbox.status, filter.status));
    if (filter.source) where.push(eq(webhookInbox.source, filter.source));
    return this.db
      .select()
      .from(webhookInbox)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(webhookInbox.id))
      .limit(filter.limit);
  }

  /** The readiness probe: the database answers. */
  async ping(): Promise<void> {
    await this.db.execute(sql`select 1`);
  }
}

/** PostgreSQL's unique_violation (23505), from node-postgres or PGlite (drizzle may wrap it in `cause`). */
const isUniqueViolation = (err: unknown): boolean => {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (e.code === '23505') return true;
  }
  return false;
};
