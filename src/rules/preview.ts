import type { BillingClass, BillingEvent, Contract, Customer, Invoice, LegalEntity, Money, Project, SourceKind } from '../canonical';
import { classTotals, classifyDeliveries, type BillingState, type Decision, type Deliveries } from './billability';
import { compileContract, type CompiledContract } from './compile';
import { groupDecisions, invoiceKeyOf, materializeInvoices } from './grouping';
import { intercompanyCharges, type IntercompanyResult } from './intercompany';
import { sentenceFor, type ReasonCode } from './reasons';
import { revenueSchedule, type RevenueResult } from './revenue';
import type { RuleSet } from './ruleset';
import { taxLinesFor, type TaxDecision } from './tax';

export interface ExplainedItem {
  sourceId: string;
  kind: SourceKind;
  contractLineId: string;
  quoteLineId: string | null;
  serviceDate: string;
  billingClass: BillingClass;
  reasonCode: ReasonCode;
  /** Human sentence for the reason, plus the specific figures when there are any. */
  explanation: string;
  amount: Money;
  minutes: number;
  invoiceKey: string | null;
  invoiceId: string | null;
  invoiceLineId: string | null;
}

export interface PreviewInput {
  contract: Contract;
  ruleSet: RuleSet;
  project?: Pick<Project, 'id' | 'phases'>;
  batch: Deliveries;
  /** Run date: the rules never read a clock. */
  asOf: string;
  state?: BillingState;
  /** With both, tax decisions are made per invoice line. */
  customer?: Pick<Customer, 'billTo' | 'taxRegistration'>;
  seller?: Pick<LegalEntity, 'id' | 'taxJurisdiction'>;
}

export interface Preview {
  contractId: string;
  contractVersion: number;
  ruleSet: { id: string; version: number };
  asOf: string;
  items: ExplainedItem[];
  invoices: Invoice[];
  totals: Record<BillingClass | 'delivered', Money>;
  taxDecisions: Record<string, TaxDecision>;
  intercompany: IntercompanyResult;
  revenue: RevenueResult;
  decisions: Decision[];
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Simulate a billing run without side effects: every item with its class, reason,
 * amount and the invoice (and line) it lands on; the draft invoices, tax
 * decisions, intercompany charges and the revenue schedule they imply.
 */
export const preview = (input: PreviewInput): Preview => {
  const cc = compileContract(input.contract, input.ruleSet, input.project);
  const run = classifyDeliveries(cc, input.batch, input.asOf, input.state ?? {}, input.project?.id);
  let invoices = materializeInvoices(cc, groupDecisions(cc, run.decisions), { asOf: input.asOf });
  const taxDecisions: Record<string, TaxDecision> = {};
  if (input.customer && input.seller) {
    invoices = invoices.map((inv) => {
      const t = taxLinesFor(input.ruleSet, inv, input.customer!, input.seller!);
      for (const [k, v] of t.decisions) taxDecisions[k] = v;
      return { ...inv, lines: inv.lines.map((l) => ({ ...l, taxable: t.decisions.get(l.id)?.taxable ?? true })) };
    });
  }
  const items = explain(cc, run.decisions, invoices);
  const t = classTotals(run.decisions);
  const m = (n: number): Money => ({ amountMinor: n, currency: cc.currency });
  return {
    contractId: input.contract.id,
    contractVersion: input.contract.version,
    ruleSet: { id: input.ruleSet.id, version: input.ruleSet.version },
    asOf: input.asOf,
    items,
    invoices,
    totals: { BILLABLE: m(t.BILLABLE), DEFERRED: m(t.DEFERRED), CAPPED: m(t.CAPPED), EXCLUDED: m(t.EXCLUDED), delivered: m(t.delivered) },
    taxDecisions,
    intercompany: intercompanyCharges(input.ruleSet, input.contract.contractingLegalEntityId, input.batch.timeEntries ?? []),
    revenue: revenueSchedule({ contract: input.contract, decisions: run.decisions, invoices, asOf: input.asOf }),
    decisions: run.decisions,
  };
};

/** One explained row per decision, sorted by source id then class, linked to its invoice line. */
export const explain = (cc: CompiledContract, decisions: readonly Decision[], invoices: readonly Invoice[]): ExplainedItem[] => {
  const lineOf = new Map<string, { invoice: Invoice; lineId: string }>();
  for (const inv of invoices) for (const l of inv.lines) for (const s of l.sourceItemIds) lineOf.set(s, { invoice: inv, lineId: l.id });
  const rows = decisions.map((d): ExplainedItem => {
    const cl = cc.lines.get(d.contractLineId);
    const invoiced = d.billingClass === 'BILLABLE' && d.lineKey !== undefined && cl !== undefined;
    const where = invoiced ? lineOf.get(d.sourceId) : undefined;
    const key = invoiced ? invoiceKeyOf(cc, cl, d) : null;
    return {
      sourceId: d.sourceId,
      kind: d.kind,
      contractLineId: d.contractLineId,
      quoteLineId: cl?.line.quoteLineId ?? null,
      serviceDate: d.serviceDate,
      billingClass: d.billingClass,
      reasonCode: d.reasonCode,
      explanation: d.detail ? `${sentenceFor(d.reasonCode)} (${d.detail})` : sentenceFor(d.reasonCode),
      amount: { amountMinor: d.amountMinor, currency: cc.currency },
      minutes: d.minutes,
      invoiceKey: key,
      invoiceId: where?.invoice.id ?? null,
      invoiceLineId: where?.lineId ?? null,
    };
  });
  const rank: Record<BillingClass, number> = { BILLABLE: 0, DEFERRED: 1, CAPPED: 2, EXCLUDED: 3 };
  return rows.sort((a, b) => cmp(a.sourceId, b.sourceId) || rank[a.billingClass] - rank[b.billingClass]);
};

/** Canonical billing events for persistence and audit (invoice line -> billing event -> source item -> contract line -> quote line). */
export const toBillingEvents = (cc: CompiledContract, decisions: readonly Decision[]): BillingEvent[] => {
  const counts = new Map<string, number>();
  const sorted = [...decisions].sort((a, b) => cmp(a.sourceId, b.sourceId) || cmp(a.reasonCode, b.reasonCode));
  return sorted.map((d) => {
    const n = (counts.get(d.sourceId) ?? 0) + 1;
    counts.set(d.sourceId, n);
    const cl = cc.lines.get(d.contractLineId);
    const ev: BillingEvent = {
      id: `BE:${cc.contract.id}:v${cc.contract.version}:${d.sourceId}:${n}`,
      contractId: cc.contract.id,
      contractVersion: cc.contract.version,
      contractLineId: d.contractLineId,
      quoteLineId: cl?.line.quoteLineId ?? 'UNKNOWN',
      projectId: d.projectId,
      kind: d.kind,
      sourceItemIds: [d.sourceId],
      serviceDate: d.serviceDate,
      billingClass: d.billingClass,
      reasonCode: d.reasonCode,
      amount: { amountMinor: d.amountMinor, currency: cc.currency },
    };
    if (d.billingClass === 'BILLABLE' && d.lineKey !== undefined && cl) {
      ev.invoiceKey = invoiceKeyOf(cc, cl, d);
    }
    return ev;
  });
};
