import { contractOf, issueContext, type BillTo } from '../../src/engagement';
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

describe('bill-to by amendment', () => {
  /*
   * Jan: 10 h = 150,000, invoiced Feb 1 to the deal's customer (ERP-CUS-1). Feb 10: the bill-to moves to CUS-NEWCO
   * (ERP-CUS-2). Feb: 4 h = 60,000, invoiced Mar 1 to CUS-NEWCO. A credit on each invoice goes to the customer that
   * invoice was issued to.
   */
  it('sends the invoices issued from then on to the new customer, and credits each invoice to its own', () => {
    const opp = 'OPP-BILLTO';
    const L = `CTR-${opp}-L1`;
    const snapshot = snapshotFor(opp, [advisory('QL-1', 100)], '2030-01-01');
    const e = new Shell(dealFor({ opportunityId: opp, snapshot, options: { overdueGraceDays: 60 } }), '2030-01-02');
    const newco: BillTo = { customer: { ...snapshot.customer, id: 'CUS-NEWCO', name: 'NewCo Holdings' }, erpCustomerId: 'ERP-CUS-2' };
    e.billTos = { 'CUS-NEWCO': newco };
    e.deliver('2030-01-29', batch('jan', [time('1', `${L}-T1`, '2030-01-10', 600)]));
    e.advance('2030-02-10');
    const feb1 = e.s.invoices[0]!;
    const base = { requestId: 'bt-1', by: 'ar@firm.example', baseVersion: 1, effectiveDate: '2030-02-10', reason: 'invoices to the holding' };
    expect(refusalOf(() => e.amend({ ...base, requestId: 'bt-0', changes: [{ op: 'SET_TERMS', set: { billToCustomerId: 'CUS-NOBODY' } }] }))).toBe('DEAL.AMENDMENT_BILL_TO_FAILED');
    const r = e.amend({ ...base, changes: [{ op: 'SET_TERMS', set: { billToCustomerId: 'CUS-NEWCO' } }] });
    expect(r.amendment.billTo).toEqual({ customerId: 'CUS-NEWCO', erpCustomerId: 'ERP-CUS-2' });
    expect(issueContext(e.d, contractOf(e.s, e.d), e.s.billTos!.at(-1)!)).toMatchObject({ erpCustomerId: 'ERP-CUS-2', customer: { id: 'CUS-NEWCO' } });

    e.deliver('2030-02-20', batch('feb', [time('2', `${L}-T1`, '2030-02-12', 240)]));
    e.advance('2030-03-02');
    const mar1 = e.issuedOn('2030-03-01');
    expect(e.issued.at(-1)!.request.invoice.customerId).toBe('CUS-NEWCO');
    expect([feb1.billTo, mar1.billTo]).toEqual([undefined, { customerId: 'CUS-NEWCO', erpCustomerId: 'ERP-CUS-2' }]);

    const credit = (id: string, inv: typeof feb1) => e.credit({ requestId: id, invoiceId: inv.number, by: 'ar@firm.example', reason: 'ERROR', note: 'x', lines: [{ invoiceLineId: inv.lines[0]!.id }] });
    credit('c-feb', feb1);
    credit('c-mar', mar1);
    expect(e.creditPostings.map((p) => [p.invoice.number, p.erpCustomerId, p.customer.id])).toEqual([
      [feb1.number, 'ERP-CUS-1', snapshot.customer.id],
      [mar1.number, 'ERP-CUS-2', 'CUS-NEWCO'],
    ]);
  });

  it('waits for invoices awaiting approval, and is for ERP invoicing only', () => {
    const opp = 'OPP-BILLTO-2';
    const L = `CTR-${opp}-L1`;
    const snapshot = snapshotFor(opp, [advisory('QL-1', 100)], '2030-01-01');
    const change = { requestId: 'bt', by: 'ar@firm.example', baseVersion: 1, effectiveDate: '2030-02-10', reason: 'x', changes: [{ op: 'SET_TERMS' as const, set: { billToCustomerId: 'CUS-NEWCO' } }] };
    const held = new Shell(dealFor({ opportunityId: opp, snapshot, options: { approvalAboveMinor: 0 } }), '2030-01-02');
    held.deliver('2030-01-29', batch('jan', [time('1', `${L}-T1`, '2030-01-10', 600)]));
    held.advance('2030-02-10');
    expect(held.s.invoices[0]!.status).toBe('AWAITING_APPROVAL');
    expect(refusalOf(() => held.amend(change))).toBe('DEAL.AMENDMENT_INVALID');
    const stripe = new Shell(dealFor({ opportunityId: `${opp}-S`, snapshot: snapshotFor(`${opp}-S`, [advisory('QL-1', 100)], '2030-01-01'), options: { invoiceSystem: 'stripe', billingCustomerId: 'cus_1' } }), '2030-01-02');
    expect(refusalOf(() => stripe.amend(change))).toBe('DEAL.AMENDMENT_UNSUPPORTED');
  });
});
