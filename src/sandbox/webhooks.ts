import { eq, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { request } from 'undici';
import { schema, type Db } from '../db';
import type { FaultRegistry } from './faults';

const { sandboxWebhooks: webhooks } = schema;

export interface OutgoingWebhook {
  vendor: string;
  eventType: string;
  /** The exact bytes that were signed. */
  body: string;
  /** Signature and content-type headers, as the vendor sends them. */
  headers: Record<string, string>;
}

export interface WebhookRecord extends OutgoingWebhook {
  id: number;
  targetUrl: string;
  attempts: number;
  delivered: boolean;
  lastStatus: number | null;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends vendor webhooks to the configured target per vendor, records each in
 * sandbox.webhooks, and applies webhook faults (duplicate, out of order, late).
 * Delivery is asynchronous, like the vendors': `send` returns once the event
 * is recorded; `idle()` waits until every scheduled delivery has been tried.
 */
export class WebhookSender {
  private readonly targets = new Map<string, string>();
  private readonly pending = new Set<Promise<void>>();
  private readonly held = new Map<string, number[]>();
  private closed = false;

  constructor(
    private readonly db: Db,
    private readonly faults: FaultRegistry,
    private readonly logger: Logger,
    targets: Record<string, string> = {},
  ) {
    for (const [vendor, url] of Object.entries(targets)) this.targets.set(vendor, url);
  }

  setTarget(vendor: string, url: string | undefined): void {
    if (url === undefined) this.targets.delete(vendor);
    else this.targets.set(vendor, url);
  }

  target(vendor: string): string | undefined {
    return this.targets.get(vendor);
  }

  /** Records the webhook and schedules its delivery; returns the record id, or undefined when the vendor has no target. */
  async send(event: OutgoingWebhook): Promise<number | undefined> {
    const targetUrl = this.targets.get(event.vendor);
    if (targetUrl === undefined) {
      this.logger.debug({ vendor: event.vendor, eventType: event.eventType }, 'no webhook target; event dropped');
      return undefined;
    }
    const [row] = await this.db
      .insert(webhooks)
      .values({ vendor: event.vendor, eventType: event.eventType, targetUrl, body: event.body, headers: event.headers })
      .returning({ id: webhooks.id });
    const id = row!.id;
    const faults = this.faults.takeWebhook(event.vendor, event.eventType);
    const late = faults.find((f) => f.kind === 'webhook_late');
    const copies = faults.some((f) => f.kind === 'webhook_duplicate') ? 2 : 1;

    if (faults.some((f) => f.kind === 'webhook_out_of_order')) {
      const q = this.held.get(event.vendor) ?? [];
      q.push(id);
      this.held.set(event.vendor, q);
      return id;
    }
    const released = this.held.get(event.vendor) ?? [];
    this.held.delete(event.vendor);
    this.track(
      (async () => {
        if (late && late.kind === 'webhook_late') await sleep(late.delayMs);
        for (let i = 0; i < copies; i++) await this.deliver(id);
        // Events held back by an out-of-order fault go after this newer one.
        for (const heldId of released) await this.deliver(heldId);
      })(),
    );
    return id;
  }

  /** Delivers a recorded webhook again (as an operator would from the vendor's console). */
  redeliver(id: number): Promise<void> {
    const p = this.deliver(id);
    this.track(p);
    return p;
  }

  /** Sends anything still held back by an out-of-order fault. */
  releaseHeld(): void {
    const ids = [...this.held.values()].flat();
    this.held.clear();
    this.track((async () => { for (const id of ids) await this.deliver(id); })());
  }

  /** Waits until every scheduled delivery has been attempted. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  async list(vendor?: string): Promise<WebhookRecord[]> {
    const rows = await (vendor === undefined ? this.db.select().from(webhooks) : this.db.select().from(webhooks).where(eq(webhooks.vendor, vendor))).then((r) =>
      [...r].sort((a, b) => a.id - b.id),
    );
    return rows.map((r) => ({ id: r.id, vendor: r.vendor, eventType: r.eventType, targetUrl: r.targetUrl, body: r.body, headers: r.headers, attempts: r.attempts, delivered: r.delivered, lastStatus: r.lastStatus }));
  }

  close(): void {
    this.closed = true;
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch((err: unknown) => this.logger.warn({ err }, 'webhook delivery task failed')).finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  private async deliver(id: number): Promise<void> {
    if (this.closed) return;
    const [row] = await this.db.select().from(webhooks).where(eq(webhooks.id, id));
    if (!row) return;
    let status: number | null = null;
    try {
      const res = await request(row.targetUrl, { method: 'POST', headers: row.headers, body: row.body, headersTimeout: 10_000, bodyTimeout: 10_000 });
      await res.body.dump();
      status = res.statusCode;
    } catch (err) {
      this.logger.warn({ err, id, vendor: row.vendor }, 'webhook delivery failed');
    }
    if (this.closed) return;
    await this.db
      .update(webhooks)
      .set({ attempts: sql`${webhooks.attempts} + 1`, lastStatus: status, ...(status !== null && status < 300 ? { delivered: true } : {}) })
      .where(eq(webhooks.id, id));
  }
}
