import type { Contract } from '../../src/canonical';
import * as g from '../../src/engagement/governance';
import { dealImpact, figuresUnder, impactOf } from '../../src/engagement/ruleset-impact';
import { Refusal } from '../../src/engagement/refusal';
import { RuleSet } from '../../src/rules';
import defaultRuleSet from '../../src/rules/rulesets/default.json';
import { contract, project, ruleSet, te } from '../rules/fixtures';

const T0 = Date.parse('2026-02-10T15:00:00Z');
const DAY = 86_400_000;

/** default@2: RC-STD consultant/US from 150.00 to 165.00 an hour, nothing else changed. */
const v2: RuleSet = RuleSet.parse({
  ...JSON.parse(JSON.stringify(defaultRuleSet)),
  version: 2,
  rateCards: defaultRuleSet.rateCards.map((c) => (c.id !== 'RC-STD' ? c : { ...c, rates: c.rates.map((r) => (r.role === 'consultant' && r.region === 'US' ? { ...r, hourlyRate: 16_500 } : r)) })),
});

const refusalOf = (fn: () => unknown): { code: string; message: string } | undefined => {
  try {
    fn();
  } catch (e) {
    if (e instanceof Refusal) return { code: e.code, message: e.message };
    throw e;
  }
  return undefined;
};

const propose = (over: Partial<g.RuleSetProposalInput> = {}) => g.openProposal({ ruleSet: v2, by: 'alice', effectiveDate: '2026-03-01', timeZone: 'America/New_York', ...over }, T0);
const withPreview = (p: g.RuleSetProposalView) => ({ ...p, preview: impactOf([], [], new Date(T0).toISOString()) });

describe('rule-set governance decisions (pure)', () => {
  it('a proposal: id per version, in force from local midnight of its effective date in its zone, expiring after its days', () => {
    const p = propose({ expiresInDays: 7 });
    expect(p.proposalId).toBe('ruleset-proposal:default:v2');
    expect(p.status).toBe('PROPOSED');
    // 2026-03-01 00:00 in New York is EST (UTC-5): 05:00 UTC.
    expect(p.activatesAt).toBe('2026-03-01T05:00:00.000Z');
    // 2026-02-10T15:00Z + 7 days.
    expect(p.expiresAt).toBe('2026-02-17T15:00:00.000Z');
    expect(g.msUntilExpiry(p, T0)).toBe(7 * DAY);
    // From 2026-02-10T15:00Z to 2026-03-01T05:00Z: 18 days and 14 hours.
    expect(g.msUntilActivation(p, T0)).toBe(18 * DAY + 14 * 3_600_000);
    expect(propose({ timeZone: undefined }).activatesAt).toBe('2026-03-01T00:00:00.000Z');
    expect(propose({ expiresInDays: undefined }).expiresAt).toBe('2026-02-24T15:00:00.000Z');
  });

  it('refuses what a proposal cannot keep', () => {
    expect(refusalOf(() => propose({ timeZone: 'Mars/Olympus' }))?.code).toBe('RULESET.TIME_ZONE_INVALID');
    expect(refusalOf(() => propose({ effectiveDate: '1 March' }))?.code).toBe('RULESET.EFFECTIVE_DATE_INVALID');
    expect(refusalOf(() => propose({ expiresInDays: 0 }))?.code).toBe('RULESET.EXPIRY_INVALID');
    expect(refusalOf(() => propose({ by: '  ' }))?.code).toBe('RULESET.AUTHOR_MISSING');
  });

  it('self-approval is refused (whatever the case or spacing), another person approves', () => {
    const p = withPreview(propose());
    expect(refusalOf(() => g.checkApproval(p, { by: ' Alice ' }, T0))).toEqual({
      code: 'RULESET.SELF_APPROVAL',
      message: 'Alice proposed default@2 and cannot approve it: approval must come from someone other than the author',
    });
    expect(refusalOf(() => g.approve(p, { by: 'alice' }, T0))?.code).toBe('RULESET.SELF_APPROVAL');
    expect(p.status).toBe('PROPOSED');
    g.approve(p, { by: 'bob', note: 'ok for March' }, T0 + DAY);
    expect([p.status, p.approval]).toEqual(['APPROVED', { by: 'bob', at: '2026-02-11T15:00:00.000Z', note: 'ok for March' }]);
    // Decided: neither a second approval nor a rejection.
    expect(refusalOf(() => g.checkApproval(p, { by: 'carol' }, T0))?.code).toBe('RULESET.PROPOSAL_CLOSED');
    expect(refusalOf(() => g.checkRejection(p, { by: 'carol' }, T0))?.code).toBe('RULESET.PROPOSAL_CLOSED');
    g.activate(p, Date.parse(p.activatesAt));
    expect([p.status, p.activatedAt, g.finalStatusOf(p)]).toEqual(['ACTIVE', '2026-03-01T05:00:00.000Z', 'approved']);
  });

  it('no approval before the preview, none after the expiry; the author may withdraw (reject); expiry closes it', () => {
    const bare = propose();
    expect(refusalOf(() => g.checkApproval(bare, { by: 'bob' }, T0))?.code).toBe('RULESET.PREVIEW_PENDING');
    const p = withPreview(propose());
    expect(refusalOf(() => g.checkApproval(p, { by: 'bob' }, Date.parse(p.expiresAt)))?.code).toBe('RULESET.PROPOSAL_EXPIRED');
    expect(refusalOf(() => g.checkApproval(p, { by: '' }, T0))?.code).toBe('RULESET.DECIDER_MISSING');
    expect(g.isExpired(p, Date.parse(p.expiresAt) - 1)).toBe(false);
    expect(g.isExpired(p, Date.parse(p.expiresAt))).toBe(true);
    g.expire(p, Date.parse(p.expiresAt));
    expect([p.status, g.finalStatusOf(p)]).toEqual(['EXPIRED', 'expired']);

    const w = withPreview(propose());
    g.reject(w, { by: 'alice', note: 'withdrawn' }, T0);
    expect([w.status, w.rejection?.by, g.finalStatusOf(w)]).toEqual(['REJECTED', 'alice', 'rejected']);
    expect(refusalOf(() => g.finalStatusOf(propose()))?.code).toBe('RULESET.PROPOSAL_OPEN');
    // The repository keeps the proposal without its preview.
    expect(Object.keys(g.governanceRecord(withPreview(propose())))).not.toContain('preview');
  });
});

describe('the preview delta: the rules over a deal\'s deliveries under the pinned and the proposed version', () => {
  const empty = { expenses: [], milestones: [] };
  const asOf = '2025-04-01';
  /** C-1 with its T&M line only (RC-STD, cap 10,000.00 + 5 %, revenue as invoiced). */
  const tmOnly = (): Contract => contract((c) => void (c.lines = c.lines.filter((l) => l.id === 'CL-TM')));

  it('10 h consultant/US: 150.00/h -> 165.00/h bills 1,500.00 -> 1,650.00, delta +150.00, recognised as invoiced', () => {
    const c = tmOnly();
    const deliveries = { timeEntries: [te('T1', { minutes: 600, workDate: '2025-03-03' })], ...empty };
    const d = dealImpact({ opportunityId: 'OPP-1', contract: c, project, deliveries, asOf, current: ruleSet, proposed: v2 });
    // 10 h x 150.00 = 1,500.00 (150,000 minor); 10 h x 165.00 = 1,650.00 (165,000); + 150.00 (15,000).
    expect(d.current).toEqual({ billedMinor: 10 * 15_000, cappedMinor: 0, recognisedMinor: 10 * 15_000 });
    expect(d.proposed).toEqual({ billedMinor: 10 * 16_500, cappedMinor: 0, recognisedMinor: 10 * 16_500 });
    expect(d.delta).toEqual({ billedMinor: 15_000, cappedMinor: 0, recognisedMinor: 15_000 });
    expect([d.pinned, d.contractVersion, d.currency, d.items]).toEqual([{ id: 'default', version: 1 }, 1, 'USD', 1]);
  });

  it('at the cap: 70 h bill 10,500.00 either way (the limit); the raise is all capped', () => {
    const c = tmOnly();
    const deliveries = { timeEntries: Array.from({ length: 7 }, (_, i) => te(`T${i + 1}`, { minutes: 600, workDate: `2025-03-1${i}` })), ...empty };
    const d = dealImpact({ opportunityId: 'OPP-2', contract: c, project, deliveries, asOf, current: ruleSet, proposed: v2 });
    // Limit: 10,000.00 + 5 % = 10,500.00 (1,050,000). Current: 70 h x 150.00 = 10,500.00, nothing capped.
    // Proposed: 70 h x 165.00 = 11,550.00 (1,155,000): 10,500.00 billed, 1,050.00 (105,000) capped.
    expect(d.current).toEqual({ billedMinor: 1_050_000, cappedMinor: 0, recognisedMinor: 1_050_000 });
    expect(d.proposed).toEqual({ billedMinor: 1_050_000, cappedMinor: 1_155_000 - 1_050_000, recognisedMinor: 1_050_000 });
    expect(d.delta).toEqual({ billedMinor: 0, cappedMinor: 105_000, recognisedMinor: 0 });
  });

  it('figures are as of the deal\'s date (an open period bills nothing yet); totals add deals of one currency', () => {
    const c = tmOnly();
    const deliveries = { timeEntries: [te('T1', { minutes: 600 })], ...empty };
    // On 2025-03-31 March's monthly period has not closed: the 10 h are deferred, nothing billed or recognised yet.
    expect(figuresUnder(c, ruleSet, project, deliveries, '2025-03-31')).toEqual({ billedMinor: 0, cappedMinor: 0, recognisedMinor: 0 });
    const a = dealImpact({ opportunityId: 'B', contract: c, project, deliveries, asOf, current: ruleSet, proposed: v2 });
    const b = dealImpact({ opportunityId: 'A', contract: c, project, deliveries: { timeEntries: [te('T2', { minutes: 120 })], ...empty }, asOf, current: ruleSet, proposed: v2 });
    const impact = impactOf([a, b], [{ opportunityId: 'Z', reason: 'pins rule set other@1, not default' }], '2026-02-10T15:00:00.000Z');
    expect(impact.deals.map((x) => x.opportunityId)).toEqual(['A', 'B']);
    // 2 h: 300.00 -> 330.00 (+30.00); 10 h: 1,500.00 -> 1,650.00 (+150.00). Together 1,800.00 -> 1,980.00, +180.00.
    expect(impact.totals).toEqual({
      USD: {
        deals: 2,
        current: { billedMinor: 180_000, cappedMinor: 0, recognisedMinor: 180_000 },
        proposed: { billedMinor: 198_000, cappedMinor: 0, recognisedMinor: 198_000 },
        delta: { billedMinor: 18_000, cappedMinor: 0, recognisedMinor: 18_000 },
      },
    });
    expect(impact.skipped).toEqual([{ opportunityId: 'Z', reason: 'pins rule set other@1, not default' }]);
  });
});
