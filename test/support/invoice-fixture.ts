import type { Invoice } from '../../src/canonical';

const usd = (amountMinor: number) => ({ amountMinor, currency: 'USD' });

/**
 * A posted January invoice with two lines, as the ERP and billing adapter tests
 * post it: $12,345.67 consulting + $2,000.00 support = $14,345.67, tax $1,040.06,
 * total $15,385.73.
 */
export const postedInvoice = (id: string, contractingLegalEntityId = 'le-us'): Invoice => ({
  id,
  invoiceKey: `key-${id}`,
  customerId: 'cust-1',
  contractingLegalEntityId,
  projectId: 'prj-1',
  contractId: 'ctr-1',
  currency: 'USD',
  poNumber: 'PO-7',
  schedule: 'MONTHLY',
  period: { start: '2025-01-01', end: '2025-01-31' },
  issueDate: '2025-02-01',
  dueDate: '2025-03-03',
  status: 'POSTED',
  lines: [
    { id: `${id}-l1`, contractLineId: 'cl-1', quoteLineId: 'ql-1', description: 'Consulting Jan', amount: usd(1_234_567), sourceItemIds: [`te-${id}`], taxCode: 'SE000000', taxable: true },
    { id: `${id}-l2`, contractLineId: 'cl-2', quoteLineId: 'ql-2', description: 'Support Jan', amount: usd(200_000), sourceItemIds: [`sub-${id}`], taxCode: 'SW050000', taxable: true },
  ],
  subtotal: usd(1_434_567),
  tax: usd(104_006),
  total: usd(1_538_573),
  externalIds: {},
});
