import { RateCard, compileRateCard, effectiveHourlyRate, rateMinutes } from '../../src/rules';
import { ruleSet } from './fixtures';

const std = compileRateCard(ruleSet.rateCards[0]!);
const blended = compileRateCard(ruleSet.rateCards[1]!);

describe('rate resolution', () => {
  it.each([
    ['consultant', 'US', '2025-03-03', 15000], // exact role + region
    ['consultant', 'EU', '2025-03-03', 13000], // role + '*'
    ['architect', 'US', '2025-06-30', 22000], // last day of the first row
    ['architect', 'US', '2025-07-01', 23500], // new row takes effect
    ['tester', 'IN', '2025-03-03', 12000], // '*' + '*'
  ])('%s in %s on %s -> %i minor/h', (role, region, date, rate) => {
    expect(std.lookup(role, region, date)?.hourlyRate).toBe(rate);
  });

  it('no row before the first effective date', () => {
    expect(std.lookup('consultant', 'US', '2024-12-31')).toBeUndefined();
  });

  it('blended: (15000 x 6 + 22000 x 3 + 17500 x 1) / 10 = 173500 / 10 = 17350 for every role', () => {
    expect(blended.lookup('consultant', 'US', '2025-03-03')?.hourlyRate).toBe(17350);
    expect(blended.lookup('anyone', 'XX', '2025-03-03')?.hourlyRate).toBe(17350);
    // same date -> same row object (grouping identity)
    expect(blended.lookup('a', 'b', '2025-03-03')).toBe(blended.lookup('c', 'd', '2025-03-03'));
  });

  it('blend components are resolved with the same specificity rules', () => {
    const card = RateCard.parse({
      id: 'B', currency: 'USD',
      rates: [{ role: 'a', region: '*', from: '2025-01-01', hourlyRate: 100 }, { role: 'b', region: '*', from: '2025-01-01', hourlyRate: 201 }],
      blend: [{ role: 'a', region: 'X', weight: 1 }, { role: 'b', region: 'X', weight: 1 }],
    });
    // (100 + 201) / 2 = 150.5 -> 150 (half-even)
    expect(compileRateCard(card).lookup('z', 'z', '2025-02-01')?.hourlyRate).toBe(150);
    expect(compileRateCard(card).lookup('z', 'z', '2024-02-01')).toBeUndefined();
  });
});

describe('rating arithmetic (integer, one rounding)', () => {
  it('7.5h x USD 150.00 = 450 min x 15000 minor / 60 = 112500 minor', () => {
    expect(rateMinutes(450, 15000, 10_000, 0, 'HALF_EVEN')).toBe(112_500);
  });
  it('overtime 8h x USD 150.00 x 1.5 = 480 x 15000 x 15000 / (60 x 10000) = 180000', () => {
    expect(rateMinutes(480, 15000, 15_000, 0, 'HALF_EVEN')).toBe(180_000);
  });
  it('10 % discount: 450 x 15000 x 9000 / (60 x 10000) = 101250', () => {
    expect(rateMinutes(450, 15000, 10_000, 1000, 'HALF_EVEN')).toBe(101_250);
  });
  it('1 min at USD 130.00 = 13000 / 60 = 216.67 -> 217', () => {
    expect(rateMinutes(1, 13000, 10_000, 0, 'HALF_EVEN')).toBe(217);
  });
  it('half-even ties: 1 min x 90 / 60 = 1.5 -> 2; 1 min x 150 / 60 = 2.5 -> 2; HALF_UP gives 3', () => {
    expect(rateMinutes(1, 90, 10_000, 0, 'HALF_EVEN')).toBe(2);
    expect(rateMinutes(1, 150, 10_000, 0, 'HALF_EVEN')).toBe(2);
    expect(rateMinutes(1, 150, 10_000, 0, 'HALF_UP')).toBe(3);
  });
  it('effective rate for display: 15000 x 1.5 x 0.9 = 20250', () => {
    expect(effectiveHourlyRate(15000, 15_000, 1000, 'HALF_EVEN')).toBe(20_250);
  });
  it('memoised slots: same row, overtime and discount give the same slot object', () => {
    const row = std.lookup('consultant', 'US', '2025-03-03')!;
    expect(std.slot(row, true, 0)).toBe(std.slot(row, true, 0));
    expect(std.slot(row, true, 0)).not.toBe(std.slot(row, false, 0));
    expect(std.slot(row, true, 0).description).toBe('consultant (US) overtime @ USD 225.00/h');
  });
});
