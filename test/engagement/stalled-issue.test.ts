import { initialEngagementState, issueMoved, issueStalled, stalledIssueItem, STALLED_ISSUE_AFTER_MS, wantedStage, type Draft, type EngagementState } from '../../src/engagement';

/** A state issuing these invoices (drafts: the deal has not taken their results yet). */
const issuing = (...ids: string[]): EngagementState => {
  const s = initialEngagementState();
  for (const id of ids) s.drafts.push({ invoice: { id }, taxableLineIds: [], events: [], approval: 'NOT_REQUIRED', requestedOn: '2030-01-10' } as unknown as Draft);
  return s;
};

describe('an invoice held between issuing steps (core)', () => {
  it('waits ten minutes of workflow time before asking for attention', () => {
    expect(STALLED_ISSUE_AFTER_MS).toBe(600_000);
  });

  it('names the invoice, the step it is held in and the last failure when known', () => {
    expect(stalledIssueItem({ invoiceId: 'INV-1', step: 'POST' }, '2030-01-10')).toEqual({
      id: 'ISSUE_STALLED:INV-1',
      kind: 'ISSUE_STALLED',
      invoiceId: 'INV-1',
      issueStep: 'POST',
      message: 'invoice INV-1: tax committed, not posted to the ERP after 10 minutes',
      raisedOn: '2030-01-10',
    });
    expect(stalledIssueItem({ invoiceId: 'INV-1', step: 'POST', system: 'stripe', lastFailure: { code: 'HTTP.UNAVAILABLE', message: '503 from Stripe' } }, '2030-01-10').message).toBe(
      'invoice INV-1: tax committed, not posted to Stripe after 10 minutes; last failure HTTP.UNAVAILABLE: 503 from Stripe',
    );
    expect(stalledIssueItem({ invoiceId: 'INV-1', step: 'RECORD' }, '2030-01-10').message).toBe('invoice INV-1: posted, audit not recorded (audit links and CRM/PSA write-back) after 10 minutes');
    expect(stalledIssueItem({ invoiceId: 'INV-1', step: 'TAX' }, '2030-01-10').message).toBe('invoice INV-1: not taxed: the tax commit (AvaTax) has not completed after 10 minutes');
  });

  it('raises once, moves to a later step in place, and clears when the step completes', () => {
    const s = issuing('INV-1');
    const raised = issueStalled(s, { invoiceId: 'INV-1', step: 'POST' }, '2030-01-10');
    expect(raised.notices).toEqual([{ kind: 'attentionRaised', item: s.attention[0] }]);
    expect(wantedStage(s)).toBe('NEEDS_ATTENTION');
    // The same invoice held again, now after posting: one item, its text moved on, no second notice.
    expect(issueStalled(s, { invoiceId: 'INV-1', step: 'RECORD' }, '2030-01-10').notices).toEqual([]);
    expect(s.attention.map((a) => [a.id, a.issueStep, a.message])).toEqual([['ISSUE_STALLED:INV-1', 'RECORD', 'invoice INV-1: posted, audit not recorded (audit links and CRM/PSA write-back) after 10 minutes']]);
    // Another invoice's completion leaves it; its own clears it.
    expect(issueMoved(s, 'INV-2')).toBe(false);
    expect(s.attention).toHaveLength(1);
    expect(issueMoved(s, 'INV-1')).toBe(true);
    expect(s.attention).toEqual([]);
    expect(wantedStage(s)).toBe('IN_DELIVERY');
  });

  it('ignores a late report of an invoice whose result the deal already took (a child run signalling after its end)', () => {
    const s = issuing('INV-2');
    expect(issueStalled(s, { invoiceId: 'INV-1', step: 'POST' }, '2030-01-10')).toEqual({ commands: [], notices: [] });
    expect(s.attention).toEqual([]);
  });

  it('clears only ISSUE_STALLED items of the invoice, never its other attention items', () => {
    const s = issuing('INV-1');
    s.attention.push({ id: 'POSTING_FAILED:INV-1', kind: 'POSTING_FAILED', invoiceId: 'INV-1', message: 'x', raisedOn: '2030-01-10' });
    issueStalled(s, { invoiceId: 'INV-1', step: 'TAX' }, '2030-01-11');
    issueMoved(s, 'INV-1');
    expect(s.attention.map((a) => a.id)).toEqual(['POSTING_FAILED:INV-1']);
  });
});
