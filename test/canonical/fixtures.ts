import type { z } from 'zod';
import type { Contract } from '../../src/canonical';

/** Input (pre-default) shape of a contract: what a connector would hand to Contract.parse. */
export const contractInput = (): z.input<typeof Contract> => ({
  id: 'C-1',
  version: 1,
  status: 'SIGNED',
  opportunityId: 'OPP-1',
  quoteId: 'Q-1',
  customerId: 'CUST-1',
  billToCustomerId: 'CUST-1',
  contractingLegalEntityId: 'LE-US',
  currency: 'USD',
  paymentTerms: { netDays: 30 },
  poNumber: 'PO-77',
  startDate: '2025-01-01',
  endDate: '2025-12-31',
  ruleSet: { id: 'default', version: 1 },
  lines: [
    {
      id: 'CL-TM',
      quoteLineId: 'QL-TM',
      billingModel: 'TIME_AND_MATERIALS',
      startDate: '2025-01-01',
      endDate: '2025-12-31',
      taxCode: 'SERVICES',
      revenueTreatment: 'AS_INVOICED',
      invoiceSchedule: 'MONTHLY',
      rateCardRef: 'RC-STD',
      cap: { notToExceed: { amountMinor: 1_000_000, currency: 'USD' }, toleranceBp: 500 },
      allocatedValue: { amountMinor: 1_050_000, currency: 'USD' },
    },
    {
      id: 'CL-FF',
      quoteLineId: 'QL-FF',
      billingModel: 'FIXED_FEE_MILESTONE',
      startDate: '2025-01-01',
      endDate: '2025-12-31',
      taxCode: 'SERVICES',
      revenueTreatment: 'POINT_IN_TIME',
      invoiceSchedule: 'ON_MILESTONE',
      fee: { amountMinor: 5_000_000, currency: 'USD' },
      milestones: [
        { milestoneId: 'M1', percentBp: 3000 },
        { milestoneId: 'M2', amount: { amountMinor: 3_500_000, currency: 'USD' } },
      ],
      allocatedValue: { amountMinor: 5_000_000, currency: 'USD' },
    },
  ],
});
