// The engagement tests' deal: a New York customer of LE-US and a snapshot from quote lines, built as
// loadDeal builds it. No Temporal import: the core's tests (test/engagement) and the workflow tests share it.
import type { Customer, Quote } from '../../src/canonical';
import { loadCatalog } from '../../src/activities/deal/catalog';
import { contractFromQuote } from '../../src/activities/deal/mapping';
import type { DealSnapshot } from '../../src/contract';

export const catalog = loadCatalog();
export const usd = (amountMinor: number) => ({ amountMinor, currency: 'USD' });

export const customer: Customer = {
  id: 'CUS-ENG',
  name: 'Initech LLC',
  billTo: { address: { line1: '350 5th Ave', city: 'New York', region: 'NY', postalCode: '10118', country: 'US' }, email: 'ap@initech.example' },
  legalEntityId: 'LE-US',
  parentId: null,
  externalIds: {},
  status: 'ACTIVE',
};

export function snapshotFor(opportunityId: string, quoteLines: Quote['lines'], startDate: string): DealSnapshot {
  const quote: Quote = { id: `Q-${opportunityId}`, opportunityId, customerId: customer.id, currency: 'USD', approvalStatus: 'APPROVED', externalIds: {}, lines: quoteLines };
  const contract = contractFromQuote({ quote, customer, catalog, startDate });
  const entity = catalog.legalEntities.find((e) => e.id === 'LE-US')!;
  return { quote, contract: { ...contract, status: 'ACTIVE' }, customer, contractingEntity: entity, deliveringEntityIds: ['LE-US'] };
}

/**
 * The snapshot's lines as retainers, built by hand (the catalog sells none): the prepayment until each line's
 * end, revenue as drawn, overage billed unless told otherwise, no cap.
 */
export function asRetainer(base: DealSnapshot, retainer: { prepaidMinor: number; overage?: 'BILL' | 'CAP'; refundable?: boolean }): DealSnapshot {
  return {
    ...base,
    contract: {
      ...base.contract,
      lines: base.contract.lines.map((l) => {
        const { cap: _cap, ...rest } = l;
        const terms = { prepaid: usd(retainer.prepaidMinor), expiresOn: l.endDate, overage: retainer.overage ?? ('BILL' as const), ...(retainer.refundable !== undefined ? { refundable: retainer.refundable } : {}) };
        return { ...rest, billingModel: 'RETAINER' as const, revenueTreatment: 'AS_DRAWN' as const, retainer: terms };
      }),
    },
  };
}
