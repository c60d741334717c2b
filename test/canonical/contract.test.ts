import { ZodError } from 'zod';
import {
  Amendment, CanonicalError, Contract, Customer, Invoice, Quote, TimeEntry, applyAmendment, customerAncestors, formatZodIssues,
} from '../../src/canonical';
import { contractInput } from './fixtures';

const issuesOf = (r: { success: boolean; error?: ZodError }): string[] => (r.success ? [] : formatZodIssues(r.error!));

describe('Contract schema', () => {
  it('parses a valid contract and applies defaults', () => {
    const c = Contract.parse(contractInput());
    expect(c.lines[0]!.discountBp).toBe(0);
    expect(c.billingTerms).toEqual({ inArrears: true, weekStartsOn: 1 });
    expect(c.poRequired).toBe(false);
    expect(c.lines[0]!.cap).toEqual({ notToExceed: { amountMinor: 1_000_000, currency: 'USD' }, toleranceBp: 500 });
  });

  it('lists the path of every bad field', () => {
    const bad = contractInput();
    bad.lines[0]!.cap!.notToExceed.amountMinor = 10.5;
    bad.lines[1]!.fee = { amountMinor: 100, currency: 'EUR' };
    (bad as { startDate: string }).startDate = '2025-02-30';
    bad.lines[0]!.rateCardRef = undefined;
    const issues = issuesOf(Contract.safeParse(bad));
    expect(issues).toEqual(
      expect.arrayContaining([
        'startDate: Invalid ISO date',
        'lines.0.cap.notToExceed.amountMinor: Invalid input: expected int, received number',
      ]),
    );
    expect(issues).toHaveLength(2); // object-level refinements run only once fields parse

    const bad2 = contractInput();
    bad2.lines[1]!.fee = { amountMinor: 100, currency: 'EUR' };
    bad2.lines[0]!.rateCardRef = undefined;
    expect(issuesOf(Contract.safeParse(bad2))).toEqual([
      'lines.0.rateCardRef: TIME_AND_MATERIALS needs rateCardRef',
      'lines.1.fee: currency EUR differs from contract currency USD',
      'lines.1.milestones: milestones add up to more than the fee',
    ]);
  });

  it('rejects milestones that are neither amount nor percent', () => {
    const bad = contractInput();
    bad.lines[1]!.milestones = [{ milestoneId: 'M1' }];
    expect(issuesOf(Contract.safeParse(bad))).toEqual(['lines.1.milestones.0.amount: give exactly one of amount or percentBp']);
  });
});

describe('other schemas', () => {
  it('TimeEntry minutes are integers within a day', () => {
    const base = {
      id: 'T1', projectId: 'P', contractId: 'C-1', contractLineId: 'CL-TM', taskId: 'TK', role: 'dev', region: 'US',
      resourceLegalEntityId: 'LE-US', workDate: '2025-03-03', minutes: 450, approved: true,
    };
    expect(TimeEntry.parse(base).overtime).toBe(false);
    expect(issuesOf(TimeEntry.safeParse({ ...base, minutes: 7.5 }))).toEqual(['minutes: Invalid input: expected int, received number']);
    expect(issuesOf(TimeEntry.safeParse({ ...base, minutes: 1441 }))).toEqual(['minutes: Too big: expected number to be <=1440']);
  });

  it('Quote lines must be in the quote currency and net <= list', () => {
    const q = {
      id: 'Q', opportunityId: 'O', customerId: 'C', currency: 'USD', approvalStatus: 'APPROVED',
      lines: [{ id: 'L', servicePackage: 'IMPL', quantity: 1, unit: 'EACH', listPrice: { amountMinor: 100, currency: 'USD' }, netPrice: { amountMinor: 120, currency: 'EUR' } }],
    };
    expect(issuesOf(Quote.safeParse(q))).toEqual([
      'lines.0.netPrice.currency: currency EUR differs from quote currency USD',
      'lines.0.netPrice.amountMinor: net price exceeds list price',
    ]);
  });

  it('Invoice subtotal must equal its lines and a source item may not repeat', () => {
    const usd = (n: number) => ({ amountMinor: n, currency: 'USD' });
    const line = (id: string, src: string[], n: number) => ({ id, contractLineId: 'CL', quoteLineId: 'QL', description: '', amount: usd(n), sourceItemIds: src, taxCode: 'S', taxable: true });
    const inv = {
      id: 'I', invoiceKey: 'k', customerId: 'C', contractingLegalEntityId: 'LE', projectId: 'P', contractId: 'C-1', currency: 'USD', poNumber: null,
      schedule: 'MONTHLY', period: { start: '2025-01-01', end: '2025-01-31' }, issueDate: '2025-02-01', dueDate: '2025-03-03', status: 'DRAFT',
      lines: [line('a', ['T1', 'T2'], 100), line('b', ['T2'], 50)], subtotal: usd(140), tax: usd(0), total: usd(140),
    };
    expect(issuesOf(Invoice.safeParse(inv))).toEqual([
      'lines.1.sourceItemIds.0: source item T2 is on two lines',
      'subtotal.amountMinor: subtotal 140 != sum of lines 150',
    ]);
  });
});

describe('amendments', () => {
  const amendment = (over: Partial<Amendment> = {}): Amendment =>
    Amendment.parse({
      id: 'A-1', contractId: 'C-1', baseVersion: 1, effectiveDate: '2025-06-01', reason: 'change order 1',
      changes: [
        { op: 'UPDATE_LINE', lineId: 'CL-TM', set: { discountBp: 1000 } },
        { op: 'END_LINE', lineId: 'CL-FF', endDate: '2025-06-30' },
        { op: 'SET_TERMS', set: { poNumber: 'PO-78', ruleSet: { id: 'default', version: 2 } } },
      ],
      ...over,
    });

  it('produces version n+1 with the delta applied and everything else kept', () => {
    const c = Contract.parse(contractInput());
    const next = applyAmendment(c, amendment());
    expect(next.version).toBe(2);
    expect(next.poNumber).toBe('PO-78');
    expect(next.ruleSet).toEqual({ id: 'default', version: 2 });
    expect(next.lines[0]!.discountBp).toBe(1000);
    expect(next.lines[0]!.cap).toEqual(c.lines[0]!.cap);
    expect(next.lines[1]!.endDate).toBe('2025-06-30');
    expect(c.version).toBe(1); // input untouched
    expect(c.lines[0]!.discountBp).toBe(0);
  });

  it('refuses to apply against another version', () => {
    const c = Contract.parse(contractInput());
    const next = applyAmendment(c, amendment());
    expect(() => applyAmendment(next, amendment())).toThrow(CanonicalError);
    try {
      applyAmendment(next, amendment());
    } catch (e) {
      expect((e as CanonicalError).code).toBe('AMENDMENT.VERSION_MISMATCH');
    }
  });

  it('a delta that breaks the contract fails with field paths', () => {
    const c = Contract.parse(contractInput());
    const a = amendment({ changes: [{ op: 'UPDATE_LINE', lineId: 'CL-FF', set: { fee: { amountMinor: 10, currency: 'USD' } } }] });
    expect(() => applyAmendment(c, a)).toThrow(/milestones add up to more than the fee/);
    const missing = amendment({ changes: [{ op: 'END_LINE', lineId: 'NOPE', endDate: '2025-06-30' }] });
    expect(() => applyAmendment(c, missing)).toThrow(/line NOPE not on contract C-1/);
  });
});

describe('customer hierarchy', () => {
  const cust = (id: string, parentId: string | null) =>
    Customer.parse({ id, name: id, billTo: { address: { line1: 'x', city: 'y', country: 'US' } }, legalEntityId: 'LE-US', parentId });

  it('walks ancestors nearest first', () => {
    const m = new Map([cust('A', null), cust('B', 'A'), cust('C', 'B')].map((c) => [c.id, c]));
    expect(customerAncestors('C', m)).toEqual(['B', 'A']);
  });

  it('detects a cycle created by a re-parent', () => {
    const m = new Map([cust('A', 'C'), cust('B', 'A'), cust('C', 'B')].map((c) => [c.id, c]));
    expect(() => customerAncestors('C', m)).toThrow(/cycle/);
  });

  it('rejects self-parenting and a merge without a survivor', () => {
    expect(Customer.safeParse({ id: 'A', name: 'A', billTo: { address: { line1: 'x', city: 'y', country: 'US' } }, legalEntityId: 'L', parentId: 'A' }).success).toBe(false);
    expect(Customer.safeParse({ id: 'A', name: 'A', billTo: { address: { line1: 'x', city: 'y', country: 'US' } }, legalEntityId: 'L', status: 'MERGED' }).success).toBe(false);
  });
});
