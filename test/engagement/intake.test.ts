import { initialEngagementState, instantMs, localDate, localMidnight, receive } from '../../src/engagement';
import type { DealSnapshot } from '../../src/contract';
import { advisory, batch, catalog, dealFor, snapshotFor, time } from './fixtures';

/*
 * Time entries a PSA time-stamps: the instant (with its zone) is placed in the contracting entity's local day, so
 * work at 23:30 in New York on Jan 31 (04:30 UTC on Feb 1) bills in January for a New York entity and in February
 * for a London one. Date-only entries are taken as they are.
 */
describe('time entries with an instant', () => {
  const OPP = 'OPP-TS';
  const L1 = `CTR-${OPP}-L1`;
  const ny = snapshotFor(OPP, [advisory('QL-1')], '2027-01-01');
  const london: DealSnapshot = { ...ny, contractingEntity: catalog.legalEntities.find((e) => e.id === 'LE-GB')! };
  const stamped = (id: string, at: string) => ({ ...time(id, `${L1}-T1`, '2027-01-01', 60), workDate: at });

  it('are placed in the contracting entity\'s local day', () => {
    const s = initialEngagementState();
    receive(s, dealFor({ opportunityId: OPP, snapshot: ny }), [batch('b1', [stamped('1', '2027-01-31T23:30:00-05:00'), stamped('2', '2027-02-01T04:30:00Z'), time('3', `${L1}-T1`, '2027-01-15', 60)])], []);
    // 2027-01-31T23:30-05:00 = 2027-02-01T04:30Z: both are Jan 31 in New York (UTC-5 in winter).
    expect(s.pending.time.map((e) => [e.id, e.workDate])).toEqual([['TE-1', '2027-01-31'], ['TE-2', '2027-01-31'], ['TE-3', '2027-01-15']]);

    const uk = initialEngagementState();
    receive(uk, dealFor({ opportunityId: OPP, snapshot: london }), [batch('b1', [stamped('1', '2027-01-31T23:30:00-05:00')])], []);
    // 04:30 UTC on Feb 1 is 04:30 in London (GMT): February.
    expect(uk.pending.time.map((e) => e.workDate)).toEqual(['2027-02-01']);
  });

  it('read instants exactly: zone offsets, fractions, and DST', () => {
    expect(instantMs('2027-01-31T23:30:00-05:00')).toBe(Date.UTC(2027, 1, 1, 4, 30));
    expect(instantMs('2027-01-31T23:30:00.5+0530')).toBe(Date.UTC(2027, 0, 31, 18, 0, 0, 500));
    expect(instantMs('2027-01-31T23:30Z')).toBe(Date.UTC(2027, 0, 31, 23, 30));
    expect(() => instantMs('2027-01-31T23:30:00')).toThrow('not an ISO-8601 instant with a zone');
    // New York switches to EDT on 2027-03-14: local midnight is 05:00Z the day before, 04:00Z the day after.
    expect(localMidnight('2027-03-14', 'America/New_York')).toBe(Date.UTC(2027, 2, 14, 5));
    expect(localMidnight('2027-03-15', 'America/New_York')).toBe(Date.UTC(2027, 2, 15, 4));
    expect(localDate(Date.UTC(2027, 2, 15, 3, 59), 'America/New_York')).toBe('2027-03-14');
  });
});
