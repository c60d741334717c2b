import type { z } from 'zod';
import { Contract, type Expense, type MilestoneCompletion, type TimeEntry } from '../../src/canonical';
import { RuleSet, compileContract } from '../../src/rules';
import defaultRuleSet from '../../src/rules/rulesets/default.json';
import { contractInput } from '../canonical/fixtures';

export const ruleSet: RuleSet = RuleSet.parse(defaultRuleSet);

export const usd = (n: number) => ({ amountMinor: n, currency: 'USD' });

/**
 * Contract C-1 v1 (USD, PO-77, 2025), pinned to default@1:
 *  CL-TM  T&M, RC-STD, cap USD 10,000.00 + 5 % tolerance (limit 1,050,000 minor), MONTHLY
 *  CL-FF  fixed fee USD 50,000.00: M1 30 % (1,500,000), M2 USD 35,000.00, ON_MILESTONE
 *  CL-RET retainer USD 3,000.00 prepaid until 2025-06-30, overage billed, MONTHLY
 *  CL-SUB subscription USD 1,000.00 / month in advance, 2025-01-15..2025-03-31, MONTHLY
 *  CL-EXP expenses, MONTHLY
 */
export const contractData = (): z.input<typeof Contract> => {
  const c = contractInput();
  c.lines.push(
    {
      id: 'CL-RET', quoteLineId: 'QL-RET', billingModel: 'RETAINER', startDate: '2025-01-01', endDate: '2025-06-30', taxCode: 'SERVICES',
      revenueTreatment: 'AS_DRAWN', invoiceSchedule: 'MONTHLY', rateCardRef: 'RC-STD',
      retainer: { prepaid: usd(300_000), expiresOn: '2025-06-30', overage: 'BILL' }, allocatedValue: usd(1_000_000),
    },
    {
      id: 'CL-SUB', quoteLineId: 'QL-SUB', billingModel: 'SUBSCRIPTION', startDate: '2025-01-15', endDate: '2025-03-31', taxCode: 'SAAS',
      revenueTreatment: 'RATABLE_DAILY', invoiceSchedule: 'MONTHLY', subscription: { amountPerPeriod: usd(100_000), period: 'MONTHLY', timing: 'IN_ADVANCE' },
      allocatedValue: usd(310_000),
    },
    {
      id: 'CL-EXP', quoteLineId: 'QL-EXP', billingModel: 'EXPENSES', startDate: '2025-01-01', endDate: '2025-12-31', taxCode: 'EXPENSE_REBILL',
      revenueTreatment: 'AS_INVOICED', invoiceSchedule: 'MONTHLY', allocatedValue: usd(500_000),
    },
  );
  return c;
};

export const contract = (mutate?: (c: z.input<typeof Contract>) => void): Contract => {
  const c = contractData();
  mutate?.(c);
  return Contract.parse(c);
};

export const project = {
  id: 'P1',
  phases: [{ id: 'PH1', name: 'Build', milestones: [], tasks: [{ id: 'TK', name: 'work', billable: true }, { id: 'TK-NB', name: 'internal', billable: false }] }],
};

export const compiled = (c: Contract = contract(), rs: RuleSet = ruleSet) => compileContract(c, rs, project);

export const te = (id: string, over: Partial<TimeEntry> = {}): TimeEntry => ({
  id, projectId: 'P1', contractId: 'C-1', contractLineId: 'CL-TM', taskId: 'TK', role: 'consultant', region: 'US',
  resourceLegalEntityId: 'LE-US', workDate: '2025-03-03', minutes: 450, approved: true, overtime: false, externalIds: {}, ...over,
});

export const ex = (id: string, over: Partial<Expense> = {}): Expense => ({
  id, projectId: 'P1', contractId: 'C-1', contractLineId: 'CL-EXP', category: 'TRAVEL', amount: usd(25_000), incurredOn: '2025-03-05',
  approved: true, receipt: { documentId: `R-${id}` }, externalIds: {}, ...over,
});

export const mc = (id: string, milestoneId: string, acceptedOn: string | null, over: Partial<MilestoneCompletion> = {}): MilestoneCompletion => ({
  id, projectId: 'P1', contractId: 'C-1', contractLineId: 'CL-FF', milestoneId, completedOn: '2025-03-01', acceptedOn, ...over,
});

/** [sourceId, reasonCode, amountMinor] rows sorted, for exact comparisons. */
export const rows = (ds: readonly { sourceId: string; reasonCode: string; amountMinor: number }[]): [string, string, number][] =>
  ds.map((d): [string, string, number] => [d.sourceId, d.reasonCode, d.amountMinor]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
