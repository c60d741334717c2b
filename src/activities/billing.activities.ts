import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { Contract, Customer, FxRate, Invoice, LegalEntity, Phase } from '../canonical';
import type { BillingPort } from '../connectors/billing/billing.port';
import type { CrmPort } from '../connectors/crm/crm.port';
import type { ErpPort } from '../connectors/erp/erp.port';
import type { ProjectScopeRef, PsaPort } from '../connectors/psa/psa.port';
import type { TaxPort } from '../connectors/tax/tax.port';
import type { Db } from '../db';
import { AuditRepository, type AuditLinkInput } from '../db/audit';
import type { RuleSet } from '../rules/ruleset';
import type { Catalog } from './deal/catalog';
import { deliveredItemsInPsa } from './psa-deliveries';
import { projectFromContract } from './deal/mapping';
import type { DealSnapshot, DeliveryItem } from '../contract';
import { activityBoundary, entityAddress } from './boundary';
import type { AuditEvent, BillingSetup, IssueContext, ResourceInfo } from '../contract';
import type { DunningReminder, IntercompanyPosting, InvoiceStatusSync, PaymentRecord, PaymentRetry, PaymentRetryResult, RevenueJournal } from '../engagement/commands';
import { ConnectorError } from '../connectors/errors';

export interface BillingActivityDeps {
  db: Db;
  logger: Logger;
  catalog: Catalog;
  /** Rule sets by `${id}@${version}`; the contract's pinned one is used. */
  ruleSets: (ref: { id: string; version: number }) => Promise<RuleSet> | RuleSet;
  connectors: { erp: ErpPort; billing: BillingPort; tax: TaxPort; psa: PsaPort; crm: CrmPort };
  /** The resource directory (HR/PSA); resources not listed deliver from the deal's delivering entity. */
  resources?: Readonly<Record<string, ResourceInfo>>;
}

export interface PostedInvoice {
  invoiceId: string;
  number: string;
  externalId: string;
  system: 'erp' | 'stripe';
}

/** An intercompany journal as posted: both books' sides in their functional currencies, and the rate used. */
export interface PostedIntercompany {
  journalId: string;
  tranId?: string;
  seller: { legalEntityId: string; amountMinor: number; currency: string };
  buyer: { legalEntityId: string; amountMinor: number; currency: string };
  fxRate?: FxRate;
}

/** The number an invoice is known by everywhere: derived from its deterministic id. */
export const invoiceNumberOf = (invoiceId: string): string => invoiceId;

/**
 * Activities of the delivery-to-cash part of the deal. Every write carries a
 * key derived from the deal and the business key (invoice id, revenue date,
 * intercompany period), so a retry or a replayed run finds what it made.
 * ERP writes (postInvoice, postRevenue, postIntercompany) are meant for the
 * rate-limited 'q2c-erp' task queue.
 */
export const createBillingActivities = (deps: BillingActivityDeps) => {
  const { erp, billing, tax, psa, crm } = deps.connectors;
  const audit = new AuditRepository(deps.db);

  /** Invoice number, status and amounts on the CRM opportunity. */
  const recordInvoiceStatus = (i: { opportunityId: string; invoiceNumber: string; status: 'POSTED' | 'PARTIALLY_PAID' | 'PAID' | 'VOID'; totalMinor: number; paidMinor: number; currency: string; dueDate: string }) =>
    crm.recordInvoiceStatus({
      opportunityId: i.opportunityId,
      invoiceNumber: i.invoiceNumber,
      status: i.status,
      total: { amountMinor: i.totalMinor, currency: i.currency },
      amountPaid: { amountMinor: i.paidMinor, currency: i.currency },
      dueDate: i.dueDate,
    });

  return {
    /**
     * Rule set, project structure and directories for enriching delivered
     * items. `psaIds` maps the PSA's ids of the project's milestones and tasks
     * (read back from the PSA) to the canonical ones, so a milestone completed
     * or time logged in the PSA finds its q2c milestone, task and contract line.
     */
    prepareBilling: (input: { snapshot: DealSnapshot; psaProjectId?: string }): Promise<BillingSetup> =>
      activityBoundary(async () => {
        const { snapshot } = input;
        const ruleSet = await deps.ruleSets(snapshot.contract.ruleSet);
        const project = projectFromContract({ contract: snapshot.contract, quote: snapshot.quote, catalog: deps.catalog, customer: snapshot.customer });
        const entities: Record<string, LegalEntity> = {};
        for (const e of deps.catalog.legalEntities) entities[e.id] = e;
        const psaIds: Record<string, string> = {};
        if (input.psaProjectId !== undefined && psa.getProjectIds) {
          const created = await psa.getProjectIds(input.psaProjectId);
          const wanted = project.phases.flatMap((p) => [...p.milestones.map((m) => m.id), ...p.tasks.map((t) => t.id)]).sort();
          for (const id of wanted) {
            const psaId = created[id];
            if (psaId !== undefined && psaId !== id) psaIds[psaId] = id;
          }
        }
        return { ruleSet, project: { id: project.id, phases: project.phases }, psaIds, entities, resources: { ...(deps.resources ?? {}) } };
      }),

    /**
     * A change order's new scope on the deal's PSA project: the phases of the
     * added lines with their milestones and tasks, each created once (the PSA
     * adapter looks up the q2c reference, the canonical id, before creating).
     */
    addProjectScope: (input: { projectId: string; phases: Phase[] }): Promise<ProjectScopeRef> => activityBoundary(() => psa.addProjectScope(input)),

    /** The PSA records of lines a change order removed, archived where the PSA can (`supported: false` otherwise). */
    archiveProjectScope: (input: { projectId: string; refs: string[]; reason: string }): Promise<{ supported: boolean; archived: string[] }> =>
      activityBoundary(async () => (psa.archiveProjectScope ? { supported: true, ...(await psa.archiveProjectScope(input)) } : { supported: false, archived: [] })),

    /** Tax from the tax connector; the document code is the invoice id, so a retry finds the same document. */
    taxInvoice: (input: { invoice: Invoice; customer: Customer; seller: LegalEntity; taxableLineIds: string[] }): Promise<{ taxMinor: number; byLine: Record<string, number> }> =>
      activityBoundary(async () => {
        const { invoice } = input;
        const taxable = new Set(input.taxableLineIds);
        if (taxable.size === 0) return { taxMinor: 0, byLine: {} };
        const doc = await tax.calculateTax({
          documentCode: invoice.id,
          kind: 'INVOICE',
          customerCode: input.customer.id,
          date: invoice.issueDate,
          currency: invoice.currency,
          shipFrom: entityAddress(input.seller),
          shipTo: input.customer.billTo.address,
          // The rules decide taxability; the vendor computes the amount ('NT' = not taxable).
          lines: invoice.lines.map((l) => ({ lineId: l.id, amount: l.amount, taxCode: taxable.has(l.id) ? l.taxCode : 'NT', description: l.description })),
          commit: true,
          ...(invoice.poNumber ? { purchaseOrderNo: invoice.poNumber } : {}),
        });
        const byLine: Record<string, number> = {};
        for (const l of doc.lines) byLine[l.lineId] = l.tax.amountMinor;
        return { taxMinor: doc.totalTax.amountMinor, byLine };
      }),

    /** The customer invoice in the ERP (or Stripe), idempotent on the invoice id. */
    postInvoice: (input: { ctx: IssueContext; invoice: Invoice }): Promise<PostedInvoice> =>
      activityBoundary(async () => {
        const { ctx, invoice } = input;
        const number = invoiceNumberOf(invoice.id);
        const key = `${ctx.dealId}:invoice:${invoice.id}`;
        if (ctx.system === 'stripe') {
          if (!ctx.billingCustomerId) throw ApplicationFailure.create({ type: 'BILLING.CUSTOMER_MISSING', message: `deal ${ctx.dealId} has no billing customer`, nonRetryable: true });
          const inv = await billing.createInvoice({ invoice, billingCustomerId: ctx.billingCustomerId, idempotencyKey: key, daysUntilDue: ctx.netDays, finalize: true });
          return { invoiceId: invoice.id, number, externalId: inv.id, system: 'stripe' };
        }
        const ref = await erp.postInvoice({ invoice, erpCustomerId: ctx.erpCustomerId, legalEntity: ctx.seller, idempotencyKey: key, tranId: number, ...(ctx.erpSalesOrderId ? { erpSalesOrderId: ctx.erpSalesOrderId } : {}) });
        return { invoiceId: invoice.id, number: ref.tranId ?? number, externalId: ref.id, system: 'erp' };
      }),

    /** Audit links, then the invoice number and status back to the CRM and the PSA. */
    recordInvoiceIssued: (input: { ctx: IssueContext; invoice: Invoice; posted: PostedInvoice; events: AuditEvent[] }): Promise<void> =>
      activityBoundary(async () => {
        const { ctx, invoice, posted } = input;
        const byId = new Map(input.events.map((e) => [e.sourceId, e]));
        const links: AuditLinkInput[] = [];
        for (const line of invoice.lines) {
          for (const sid of line.sourceItemIds) {
            const ev = byId.get(sid);
            links.push({
              dealId: ctx.dealId,
              documentKind: 'invoice',
              documentNumber: posted.number,
              documentLineId: line.id,
              billingEventId: ev?.id ?? null,
              sourceKind: ev?.kind ?? 'UNKNOWN',
              sourceId: sid,
              contractLineId: line.contractLineId,
              quoteLineId: line.quoteLineId,
              amountMinor: ev?.amountMinor ?? null,
              currency: invoice.currency,
            });
          }
        }
        await audit.record(links);
        await crm.recordInvoiceStatus({
          opportunityId: ctx.opportunityId,
          invoiceNumber: posted.number,
          status: 'POSTED',
          total: invoice.total,
          amountPaid: { amountMinor: 0, currency: invoice.currency },
          dueDate: invoice.dueDate,
        });
        if (ctx.psaProjectId) {
          const sources = invoice.lines.flatMap((l) => l.sourceItemIds).sort();
          await psa.recordInvoice({
            projectId: ctx.psaProjectId,
            invoiceNumber: posted.number,
            invoiceDate: invoice.issueDate,
            timeEntryIds: sources.filter((s) => s.startsWith('TE-')).map((s) => s.slice(3)),
            expenseIds: sources.filter((s) => s.startsWith('EX-')).map((s) => s.slice(3)),
          });
        }
      }),

    /** A payment or refund applied to an invoice: audit link and the status back to the CRM. */
    recordPayment: (input: PaymentRecord): Promise<void> =>
      activityBoundary(async () => {
        await audit.record([
          {
            dealId: input.dealId,
            documentKind: 'payment',
            documentNumber: input.invoiceNumber,
            documentLineId: input.eventId,
            billingEventId: null,
            sourceKind: input.kind,
            sourceId: input.eventId,
            contractLineId: null,
            quoteLineId: null,
            amountMinor: input.appliedMinor,
            currency: input.currency,
          },
        ]);
        await recordInvoiceStatus(input);
      }),

    /** One revenue journal per recognition date, idempotent on deal + date + lines. */
    postRevenue: (input: RevenueJournal): Promise<{ journalId: string }> =>
      activityBoundary(async () => {
        const ref = await erp.postRevenueLines({ lines: input.lines, legalEntity: input.legalEntity, idempotencyKey: `${input.dealId}:revenue:${input.key}`, memo: `Revenue ${input.dealId} ${input.key}` });
        return { journalId: ref.id };
      }),

    /**
     * Intercompany charge for a period, booked in both entities' books as one
     * intercompany journal: the delivering entity (`from`) debits due-from and
     * credits intercompany revenue, the contracting entity (`to`) debits
     * intercompany expense and credits due-to. The charge is in the rule
     * set's cost card currency, which must be one entity's functional
     * currency; the other side is converted at the ERP's dated rate, which is
     * returned. Audit links tie the journal to the time entries it charges.
     */
    postIntercompany: (input: IntercompanyPosting): Promise<PostedIntercompany> =>
      activityBoundary(async () => {
        const documentNumber = `IC-${input.key}`;
        const ref = await erp.postIntercompanyJournal({
          seller: input.from,
          buyer: input.to,
          amount: { amountMinor: input.amountMinor, currency: input.currency },
          tranDate: input.periodEnd,
          idempotencyKey: `${input.dealId}:ic:${input.key}`,
          memo: `Intercompany ${input.from.id} -> ${input.to.id} ${input.key} (contract ${input.contractId})`,
        });
        await audit.record(
          input.sources.map((s) => ({
            dealId: input.dealId,
            documentKind: 'intercompany' as const,
            documentNumber,
            documentLineId: `${documentNumber}-1`,
            billingEventId: null,
            sourceKind: 'TIME',
            sourceId: s.sourceId,
            contractLineId: null,
            quoteLineId: null,
            amountMinor: s.amountMinor,
            currency: input.currency,
          })),
        );
        return {
          journalId: ref.id,
          ...(ref.tranId ? { tranId: ref.tranId } : {}),
          seller: { legalEntityId: ref.seller.legalEntityId, amountMinor: ref.seller.amount.amountMinor, currency: ref.seller.amount.currency },
          buyer: { legalEntityId: ref.buyer.legalEntityId, amountMinor: ref.buyer.amount.amountMinor, currency: ref.buyer.amount.currency },
          ...(ref.fxRate ? { fxRate: ref.fxRate } : {}),
        };
      }),

    /** Invoice status (write-off, rejection) back to the CRM. */
    syncInvoiceStatus: (input: InvoiceStatusSync): Promise<void> =>
      activityBoundary(async () => {
        await recordInvoiceStatus(input);
      }),

    /** A dunning reminder: one task on the CRM opportunity per (invoice, step), found again by its key on a retry. */
    sendDunningReminder: (input: DunningReminder): Promise<{ taskId: string; created: boolean }> =>
      activityBoundary(async () => {
        const money = (amountMinor: number) => ({ amountMinor, currency: input.currency });
        const notes = [
          ...(input.brokenPromise ? [`${input.brokenPromise.by} promised payment by ${input.brokenPromise.promisedOn}; it has not arrived.`] : []),
          ...(input.retryDeclined ? [`The payment retry on file was declined: ${input.retryDeclined}`] : []),
        ];
        const ref = await crm.createDunningTask({
          key: input.key,
          opportunityId: input.opportunityId,
          invoiceNumber: input.invoiceNumber,
          step: input.step,
          daysPastDue: input.daysPastDue,
          final: input.final,
          dueDate: input.dueDate,
          remindOn: input.remindedOn,
          open: money(input.openMinor),
          total: money(input.totalMinor),
          ...(notes.length ? { notes } : {}),
        });
        return { taskId: ref.id, created: ref.created };
      }),

    /**
     * A dunning payment retry in the billing system: only an open invoice whose amount
     * remaining is what the deal expects is charged (never a different amount); a
     * decline is an answer, not a failure. The money reaches the deal as the billing
     * system's invoice.paid event, never from this answer.
     */
    retryInvoicePayment: (input: PaymentRetry): Promise<PaymentRetryResult> =>
      activityBoundary(async () => {
        const answer = (outcome: PaymentRetryResult['outcome'], detail?: string): PaymentRetryResult => ({ invoiceId: input.invoiceId, step: input.step, outcome, ...(detail ? { detail } : {}) });
        const inv = await billing.getInvoice(input.externalId);
        if (inv.status === 'paid') return answer('ALREADY_PAID');
        if (inv.status !== 'open') return answer('NOT_RETRIED', `the invoice is ${inv.status} in the billing system`);
        const remaining = inv.amountDue.amountMinor - inv.amountPaid.amountMinor;
        if (inv.amountDue.currency !== input.currency || remaining !== input.expectedMinor) {
          return answer('NOT_RETRIED', `the billing system would collect ${remaining} ${inv.amountDue.currency} minor units; the deal has ${input.expectedMinor} ${input.currency} open`);
        }
        try {
          const paid = await billing.payInvoice(input.externalId, input.key);
          return paid.status === 'paid' ? answer('PAID') : answer('NOT_RETRIED', `the invoice is ${paid.status} after the retry`);
        } catch (err) {
          if (err instanceof ConnectorError && err.code === 'STRIPE.CARD_DECLINED') return answer('DECLINED', err.message);
          if (err instanceof ConnectorError && err.code === 'STRIPE.INVALID_REQUEST') return answer('NOT_RETRIED', err.message);
          throw err;
        }
      }),

    /** The deal is complete: stage on the opportunity. */
    /**
     * The named delivered items as the PSA holds them now (a credit's rebill): the
     * PSA's corrected hours or amounts, or nothing for an item it no longer holds.
     */
    loadDeliveredItems: (input: { snapshot: DealSnapshot; contract: Contract; projectId: string; until: string; items: Array<{ kind: DeliveryItem['kind']; sourceId: string }> }): Promise<DeliveryItem[]> =>
      activityBoundary(async () => {
        const wanted = new Set(input.items.map((i) => `${i.kind}:${i.sourceId}`));
        const all = await deliveredItemsInPsa(psa, deps.catalog, input.snapshot, input.contract, input.projectId, input.until);
        return all.filter((i) => wanted.has(`${i.kind}:${i.sourceId}`));
      }),

    closeEngagement: (input: { opportunityId: string; dealId: string; summary: unknown }): Promise<void> =>
      activityBoundary(async () => {
        await crm.updateOpportunityStage(input.opportunityId, 'Closed Won - Complete');
        deps.logger.info({ dealId: input.dealId, summary: input.summary }, 'engagement closed');
      }),
  };
};

export type BillingActivities = ReturnType<typeof createBillingActivities>;
