import { contractOf, issueContext } from '../../src/engagement';
import { advisory, batch, dealFor, refusalOf, Shell, snapshotFor, time } from './fixtures';

/*
 * Payment terms changed by an amendment, and a termination of a deal whose recurring charges Stripe bills.
 * 2030, LE-US, T&M at $150.00/h, monthly in arrears.
 */
describe('payment terms by amendment', () => {
  it('invoices issued after the amendment fall due by the new terms, in q2c and in what the ERP is sent', () => {
    const opp = 'OPP-TERMS';
    const L = `CTR-${opp}-L1`;
    const snapshot = snapshotFor(opp, [advisory('QL-1', 100)], '2030-01-01');
    const net = snapshot.contract.paymentTerms.netDays;
    const e = new Shell(dealFor({ opportunityId: opp, snapshot, options: { overdueGraceDays: 60 } }), '2030-01-02');
    e.deliver('2030-01-29', batch('jan', [time('1', `${L}-T1`, '2030-01-10', 600)]));
    e.advance('2030-02-02');
    // Feb 1 + the quoted terms.
    expect(e.s.invoices[0]!.dueDate).toBe(new Date(Date.UTC(2030, 1, 1 + net)).toISOString().slice(0, 10));
    e.advance('2030-02-10');
    const base = { requestId: 'terms-45', by: 'ar@firm.example', baseVersion: 1, effectiveDate: '2030-02-10', reason: 'net 45 agreed' };
    expect(refusalOf(() => e.amend({ ...base, changes: [{ op: 'SET_TERMS', set: { billToCustomerId: 'CUS-OTHER' } }] }))).toBe('DEAL.AMENDMENT_UNSUPPORTED');
    e.amend({ ...base, changes: [{ op: 'SET_TERMS', set: { paymentTerms: { netDays: 45 } } }] });
    expect(issueContext(e.d, contractOf(e.s, e.d)).netDays).toBe(45);
    e.deliver('2030-02-20', batch('feb', [time('2', `${L}-T1`, '2030-02-12', 600)]));
    e.advance('2030-03-02');
    // Mar 1 + 45 days = Apr 15.
    expect(e.issuedOn('2030-03-01').dueDate).toBe('2030-04-15');
  });
});

describe('termination of recurring charges billed by Stripe', () => {
  it('cancels the deal\'s subscriptions in the billing system', () => {
    const opp = 'OPP-TERM-STRIPE';
    const snapshot = snapshotFor(opp, [advisory('QL-1', 100)], '2030-01-01');
    const e = new Shell(dealFor({ opportunityId: opp, snapshot, ids: { erpCustomerId: 'ERP-CUS-1', projectId: `WS-${opp}`, subscriptionIds: ['sub_1', 'sub_2'] } }), '2030-01-02');
    e.advance('2030-02-10');
    const { termination } = e.terminate({ requestId: 't-1', by: 'ops@firm.example', reason: 'ends', effectiveDate: '2030-02-15' });
    expect(termination.recurringBillingCancelled).toBe(true);
    expect(e.cancelledSubscriptions).toEqual(['sub_1', 'sub_2']);
  });
});
