import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { Contract, Customer, LegalEntity, Quote } from '../canonical';
import type { Connectors } from '../connectors';
import type { CrmOpportunity } from '../connectors/crm/crm.port';
import type { Db } from '../db';
import { IdentityRepository } from '../db/identity';
import type { Catalog } from './deal/catalog';
import { MappingError, contractFromQuote, projectFromContract } from './deal/mapping';
import { activityBoundary } from './boundary';
import { applyCustomerOverride, type BillTo, type DealSnapshot } from '../contract';

export interface DealActivityDeps {
  db: Db;
  logger: Logger;
  catalog: Catalog;
  connectors: Connectors;
  /**
   * The version of a rule set in force now (the highest approved one), which a new deal's
   * contract pins instead of the catalog's; unset: the catalog's. Running deals keep the
   * version their contract pinned when they started.
   */
  activeRuleSet?: (id: string) => Promise<{ id: string; version: number } | undefined>;
}

/** CRM stage names the deal's stages are reported as. */
const CRM_STAGE: Record<'IN_DELIVERY' | 'CANCELLED' | 'CLOSED', string> = {
  IN_DELIVERY: 'Closed Won - In Delivery',
  CANCELLED: 'Closed Lost',
  CLOSED: 'Closed Won - Complete',
};

/**
 * The deal as the CRM holds it now: the opportunity, its account as the
 * canonical customer, the primary quote as a canonical quote and the contract
 * mapped from them. `requireWon` refuses an opportunity the CRM does not count
 * as won (loadDeal at the start of a deal); the PSA sweep reads deals already
 * in delivery, whose stage q2c has moved on.
 */
export async function readDeal(deps: DealActivityDeps, opportunityId: string, options: { requireWon: boolean }): Promise<{ opportunity: CrmOpportunity; snapshot: DealSnapshot }> {
  const { crm } = deps.connectors;
  const entity = (id: string): LegalEntity => {
    const found = deps.catalog.legalEntities.find((e) => e.id === id);
    if (!found) throw new MappingError('CATALOG.UNKNOWN_LEGAL_ENTITY', `unknown legal entity '${id}'`);
    return found;
  };
  const opp = await crm.getOpportunity(opportunityId);
  if (options.requireWon && !opp.isWon) throw ApplicationFailure.create({ type: 'CRM.OPPORTUNITY_NOT_WON', message: `opportunity ${opp.id} is ${opp.stage}`, nonRetryable: true });
  const account = await crm.getAccount(opp.accountId);
  const customerId = await new IdentityRepository(deps.db).canonicalIdFor('customer', 'salesforce', opp.accountId, `CUS-${opp.accountId}`);
  const customer: Customer = { ...account, id: customerId, externalIds: { ...account.externalIds, salesforce: opp.accountId } };
  const quote = await crm.getPrimaryQuote(opp.id, customerId);
  const contractingEntity = entity(opp.soldLegalEntityId ?? customer.legalEntityId);
  const deliveringEntityIds = [entity(opp.deliveryLegalEntityId ?? contractingEntity.id).id];
  const contract = contractFromQuote({ quote, customer: { ...customer, legalEntityId: contractingEntity.id }, catalog: deps.catalog, startDate: opp.closeDate, poNumber: opp.poNumber ?? undefined });
  return { opportunity: opp, snapshot: { quote, contract, customer, contractingEntity, deliveringEntityIds } };
}

export const createDealActivities = (deps: DealActivityDeps) => {
  const { crm, clm, psa, erp, billing } = deps.connectors;
  const identities = new IdentityRepository(deps.db);

  return {
    /** Reads the opportunity, its account and primary quote; maps them to a canonical quote and contract. */
    loadDeal: (input: { opportunityId: string; correlationId: string }): Promise<DealSnapshot> =>
      activityBoundary(async () => {
        const { opportunity: opp, snapshot: read } = await readDeal(deps, input.opportunityId, { requireWon: true });
        const active = await deps.activeRuleSet?.(read.contract.ruleSet.id);
        const snapshot: DealSnapshot = active ? { ...read, contract: { ...read.contract, ruleSet: active } } : read;
        deps.logger.info({ opportunityId: opp.id, correlationId: input.correlationId, contractId: snapshot.contract.id, lines: snapshot.contract.lines.length, ruleSet: `${snapshot.contract.ruleSet.id}@${snapshot.contract.ruleSet.version}` }, 'deal loaded');
        return snapshot;
      }),

    /**
     * Re-reads the account (so an operator's fix in the CRM counts on retry), creates or
     * updates the customer in the ERP and the golden record, and flags intercompany delivery.
     */
    syncCustomerMaster: (input: { customer: Customer; contractingEntity: LegalEntity; deliveringEntityIds: string[]; overrides?: Record<string, string> }) =>
      activityBoundary(async () => {
        const accountId = input.customer.externalIds['salesforce'];
        const account = accountId ? await crm.getAccount(accountId) : input.customer;
        const read: Customer = { ...account, id: input.customer.id, legalEntityId: input.contractingEntity.id, externalIds: { ...input.customer.externalIds, ...account.externalIds } };
        // An operator's override (OVERRIDE_FIELDS) wins over the CRM's value until the CRM is fixed.
        const customer = Object.entries(input.overrides ?? {}).reduce((c, [field, value]) => applyCustomerOverride(c, field, value), read);
        const ref = await erp.upsertCustomer({ customer, legalEntity: input.contractingEntity, idempotencyKey: customer.id });
        await identities.link('customer', customer.id, 'netsuite', ref.id);
        await identities.mergeGoldenRecord('customer', customer.id, 'salesforce', customer);
        return { customer, erpCustomerId: ref.id, intercompany: input.deliveringEntityIds.some((id) => id !== input.contractingEntity.id) };
      }),

    /**
     * A bill-to customer an amendment names (a canonical customer id): its CRM account, read
     * through the identity map, created or updated in the ERP for the contracting entity.
     */
    resolveBillTo: (input: { customerId: string; legalEntity: LegalEntity }): Promise<BillTo> =>
      activityBoundary(async () => {
        const accountId = (await identities.externalIds('customer', input.customerId))['salesforce'];
        if (!accountId) throw ApplicationFailure.create({ type: 'CRM.CUSTOMER_UNKNOWN', message: `no CRM account is linked to customer ${input.customerId}`, nonRetryable: true });
        const account = await crm.getAccount(accountId);
        const customer: Customer = { ...account, id: input.customerId, legalEntityId: input.legalEntity.id, externalIds: { ...account.externalIds, salesforce: accountId } };
        const ref = await erp.upsertCustomer({ customer, legalEntity: input.legalEntity, idempotencyKey: customer.id });
        await identities.link('customer', customer.id, 'netsuite', ref.id);
        return { customer, erpCustomerId: ref.id };
      }),

    sendContractForSignature: (input: { idempotencyKey: string; contract: Contract; customer: Customer }) =>
      activityBoundary(async () => {
        const email = input.customer.billTo.email;
        if (!email) throw ApplicationFailure.create({ type: 'CLM.SIGNER_MISSING', message: `customer ${input.customer.id} has no bill-to email to sign with`, nonRetryable: true });
        const summary = contractSummary(input.contract, input.customer);
        const ref = await clm.createEnvelope({
          contract: input.contract,
          document: { name: `${input.contract.id}.txt`, fileExtension: 'txt', contentBase64: Buffer.from(summary, 'utf8').toString('base64') },
          signers: [{ name: input.customer.billTo.attention ?? input.customer.name, email, routingOrder: 1 }],
          emailSubject: `Please sign: ${input.contract.id}`,
          idempotencyKey: input.idempotencyKey,
        });
        // Lets the webhook service find the deal from the envelope id alone.
        await identities.link('deal', input.contract.opportunityId, 'docusign', ref.envelopeId);
        return { envelopeId: ref.envelopeId };
      }),

    remindSigner: (input: { envelopeId: string; idempotencyKey: string }) => activityBoundary(() => clm.resendEnvelope(input.envelopeId)),

    voidSignatureRequest: (input: { envelopeId: string; reason: string }) => activityBoundary(() => clm.voidEnvelope(input.envelopeId, input.reason)),

    provisionProject: (input: { idempotencyKey: string; contract: Contract; quote: Quote; customer: Customer }) =>
      activityBoundary(async () => {
        const project = projectFromContract({ contract: input.contract, quote: input.quote, catalog: deps.catalog, customer: input.customer });
        const rateCardId = input.contract.lines.find((l) => l.rateCardRef)?.rateCardRef;
        const ref = await psa.createProject({ project, currency: input.contract.currency, idempotencyKey: input.idempotencyKey, ...(rateCardId ? { rateCardId } : {}) });
        await identities.link('project', project.id, 'kantata', ref.id);
        await identities.link('deal', input.contract.opportunityId, 'kantata', ref.id);
        return { projectId: ref.id, project };
      }),

    closeProject: (input: { projectId: string; reason: string }) => activityBoundary(() => psa.closeProject(input.projectId, input.reason)),

    postErpContract: (input: { idempotencyKey: string; contract: Contract; erpCustomerId: string; legalEntity: LegalEntity }) =>
      activityBoundary(async () => {
        const tranId = `SO-${input.contract.opportunityId}`;
        const ref = await erp.postContract({ contract: { ...input.contract, status: 'SIGNED' }, erpCustomerId: input.erpCustomerId, legalEntity: input.legalEntity, idempotencyKey: input.idempotencyKey, tranId });
        await identities.link('contract', input.contract.id, 'netsuite', ref.id);
        return { erpContractId: ref.id, tranId: ref.tranId ?? tranId };
      }),

    closeErpContract: (input: { erpContractId: string; reason: string }) => activityBoundary(() => erp.closeContract(input.erpContractId, input.reason)),

    /** Recurring charges for the contract's subscription lines, one subscription per line. */
    scheduleRecurringBilling: (input: { idempotencyKey: string; contract: Contract; customer: Customer }) =>
      activityBoundary(async () => {
        const customerRef = await billing.createCustomer(input.customer, `${input.idempotencyKey}:customer`);
        await identities.link('customer', input.customer.id, 'stripe', customerRef.id);
        const subscriptionIds: string[] = [];
        for (const line of input.contract.lines) {
          if (line.billingModel !== 'SUBSCRIPTION' || !line.subscription) continue;
          const sub = await billing.createSubscription({
            billingCustomerId: customerRef.id,
            pricePerMonth: line.subscription.amountPerPeriod,
            productName: line.description,
            idempotencyKey: `${input.idempotencyKey}:${line.id}`,
            metadata: { q2c_opportunity_id: input.contract.opportunityId, contractId: input.contract.id, contractLineId: line.id, quoteLineId: line.quoteLineId },
            daysUntilDue: input.contract.paymentTerms.netDays,
          });
          subscriptionIds.push(sub.id);
          await identities.link('deal', input.contract.opportunityId, 'stripe', sub.id);
        }
        return { subscriptionIds };
      }),

    cancelRecurringBilling: (input: { subscriptionIds: string[] }) =>
      activityBoundary(async () => {
        for (const id of input.subscriptionIds) await billing.cancelSubscription(id);
      }),

    /** Stage, project link and ERP ids back on the opportunity. */
    updateCrmOpportunity: (input: { opportunityId: string; stage: keyof typeof CRM_STAGE; projectId?: string; erpContractId?: string; erpContractNumber?: string; note?: string }) =>
      activityBoundary(async () => {
        await crm.updateOpportunityStage(input.opportunityId, CRM_STAGE[input.stage]);
        if (input.projectId) await crm.setProjectLink(input.opportunityId, { projectId: input.projectId, url: `kantata://workspaces/${input.projectId}` });
      }),
  };
};

/** The document sent for signature: the commercial terms in plain text. */
function contractSummary(contract: Contract, customer: Customer): string {
  const lines = contract.lines.map((l) => `  ${l.id}  ${l.description}  ${l.billingModel}  ${l.allocatedValue.amountMinor} ${l.allocatedValue.currency} (minor units)`);
  return [
    `Contract ${contract.id} v${contract.version}`,
    `Customer: ${customer.name}`,
    `Term: ${contract.startDate} to ${contract.endDate}; payment terms net ${contract.paymentTerms.netDays} days`,
    ...(contract.poNumber ? [`PO: ${contract.poNumber}`] : []),
    'Lines:',
    ...lines,
  ].join('\n');
}
