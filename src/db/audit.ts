import { and, asc, eq, sql } from 'drizzle-orm';
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
    // One statement whatever the count: the rows travel as one JSON parameter and json_to_recordset
    // spreads them (an invoice of 100 entries is 100 links; the query builder's per-value work on
    // them was a quarter of a worker's main-thread CPU at month-end, BENCHMARKS.md).
    const rows = JSON.stringify(
      links.map((l) => ({
        deal_id: l.dealId,
        document_kind: l.documentKind,
        document_number: l.documentNumber,
        document_line_id: l.documentLineId,
        billing_event_id: l.billingEventId,
        source_kind: l.sourceKind,
        source_id: l.sourceId,
        contract_line_id: l.contractLineId,
        quote_line_id: l.quoteLineId,
        amount_minor: l.amountMinor,
        currency: l.currency,
        reverses_line_id: l.reversesLineId ?? null,
      })),
    );
    const res = await this.db.execute(sql`
      insert into audit_links (deal_id, document_kind, document_number, document_line_id, billing_event_id, source_kind, source_id, contract_line_id, quote_line_id, amount_minor, currency, reverses_line_id)
      select deal_id, document_kind, document_number, document_line_id, billing_event_id, source_kind, source_id, contract_line_id, quote_line_id, amount_minor, currency, reverses_line_id
      from json_to_recordset(${rows}::json) as r(deal_id text, document_kind text, document_number text, document_line_id text, billing_event_id text, source_kind text, source_id text, contract_line_id text, quote_line_id text, amount_minor integer, currency text, reverses_line_id text)
      on conflict do nothing
      returning id`);
    return (res as unknown as { rows: unknown[] }).rows.length;
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
