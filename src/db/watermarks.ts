import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from './index';
import { syncWatermarks } from './schema';

/** Read positions of the pull syncs: one cursor (an ISO instant) per (source, stream). */
export class WatermarkRepository {
  constructor(private readonly db: Db) {}

  /** The stored cursor of each of `streams` that has one (a stream never advanced is absent). */
  async cursors(source: string, streams: readonly string[]): Promise<Record<string, string>> {
    if (streams.length === 0) return {};
    const rows = await this.db
      .select({ stream: syncWatermarks.stream, cursor: syncWatermarks.cursor })
      .from(syncWatermarks)
      .where(and(eq(syncWatermarks.source, source), inArray(syncWatermarks.stream, [...streams])));
    return Object.fromEntries(rows.map((r) => [r.stream, r.cursor]));
  }

  /** Moves a cursor forward only: an older, slower reader finishing last cannot move it back. */
  async advance(source: string, stream: string, cursor: string): Promise<void> {
    await this.db
      .insert(syncWatermarks)
      .values({ source, stream, cursor })
      .onConflictDoUpdate({
        target: [syncWatermarks.source, syncWatermarks.stream],
        set: { cursor: sql`greatest(${syncWatermarks.cursor}, excluded.cursor)`, updatedAt: sql`now()` },
      });
  }
}
