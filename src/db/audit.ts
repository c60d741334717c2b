import { and, asc, eq } from 'drizzle-orm';
import type { Db } from './index';
import { auditLinks } from './schema';

export type AuditDocumentKind = 'invoice' | 'credit_memo' | 'payment' | 'intercompany';

/** One hop of the trail: document line -> billing event -> source item -> contract line -> quote line. */
export interface AuditLinkInput {
  dealId: string;
  documentKind: AuditDocumentKind;
  documentNumber: string;
  documentLineId: string;
  billingEventId: string | null;
  /** Always set (part of the uniqueness key: NULLs would never collide). */
  sourceKind: string;
  sourceId: string;
  contractLineId: string | null;
  quoteLineId: string | null;
  amountMinor: number | null;
  currency: string | null;
  /** Credit memo lines: the invoice line they reverse. */
  reversesLineId?: string | null;
}

export type AuditLink = AuditLinkInput & { id: number };

export interface AuditTrail {
  documentNumber: string;
  dealId: string | null;
  lines: Array<{ documentLineId: string; items: AuditLink[] }>;
  payments: AuditLink[];
  creditMemos: AuditLink[];
}

/** Audit links: written once per (document, line, source) — a retried write changes nothing. */
export class AuditRepository {
  constructor(private readonly db: Db) {}

  async record(links: readonly AuditLinkInput[]): Promise<number> {
    if (links.length === 0) return 0;
    let written = 0;
    // Chunks keep each statement well under PostgreSQL's parameter limit.
    for (let i = 0; i < links.length; i += 500) {
      const rows = links.slice(i, i + 500).map((l) => ({ ...l, reversesLineId: l.reversesLineId ?? null }));
      const res = await this.db.insert(auditLinks).values(rows).onConflictDoNothing().returning({ id: auditLinks.id });
      written += res.length;
    }
    return written;
  }

  async forDocument(documentNumber: string, kind?: AuditDocumentKind): Promise<AuditLink[]> {
    const where = kind ? and(eq(auditLinks.documentNumber, documentNumber), eq(auditLinks.documentKind, kind)) : eq(auditLinks.documentNumber, documentNumber);
    const rows = await this.db.select().from(auditLinks).where(where).orderBy(asc(auditLinks.documentLineId), asc(auditLinks.sourceId));
    return rows.map(toLink);
  }

  async forDeal(dealId: string): Promise<AuditLink[]> {
    const rows = await this.db.select().from(auditLinks).where(eq(auditLinks.dealId, dealId)).orderBy(asc(auditLinks.documentNumber), asc(auditLinks.documentLineId), asc(auditLinks.sourceId));
    return rows.map(toLink);
  }

  async dealIds(): Promise<string[]> {
    const rows = await this.db.selectDistinct({ dealId: auditLinks.dealId }).from(auditLinks).orderBy(asc(auditLinks.dealId));
    return rows.map((r) => r.dealId);
  }

  /** The whole chain for one invoice number: its lines with their items, payments and credit memos against it. */
  async trail(documentNumber: string): Promise<AuditTrail> {
    const all = await this.forDocument(documentNumber);
    const invoiceRows = all.filter((l) => l.documentKind === 'invoice');
    const byLine = new Map<string, AuditLink[]>();
    for (const l of invoiceRows) byLine.set(l.documentLineId, [...(byLine.get(l.documentLineId) ?? []), l]);
    return {
      documentNumber,
      dealId: all[0]?.dealId ?? null,
      lines: [...byLine.entries()].map(([documentLineId, items]) => ({ documentLineId, items })),
      payments: all.filter((l) => l.documentKind === 'payment'),
      creditMemos: all.filter((l) => l.documentKind === 'credit_memo'),
    };
  }
}

const toLink = (r: typeof auditLinks.$inferSelect): AuditLink => ({
  id: r.id,
  dealId: r.dealId,
  documentKind: r.documentKind,
  documentNumber: r.documentNumber,
  documentLineId: r.documentLineId,
  billingEventId: r.billingEventId,
  sourceKind: r.sourceKind ?? '',
  sourceId: r.sourceId ?? '',
  contractLineId: r.contractLineId,
  quoteLineId: r.quoteLineId,
  amountMinor: r.amountMinor,
  currency: r.currency,
  reversesLineId: r.reversesLineId,
});
