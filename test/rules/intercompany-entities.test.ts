import { intercompanyCharges, parseRuleSet, RuleSet } from '../../src/rules';
import defaultRuleSet from '../../src/rules/rulesets/default.json';
import { ruleSet, te } from './fixtures';

/*
 * Intercompany cost rates per delivering entity and markups per (delivering, selling) pair.
 * The shared card (COST-STD, USD: consultant 60.00/h) and a single markup (here 5 %) stay the fallback.
 *   LE-US card (USD): consultant 90.00/h;  LE-DE card (EUR): consultant 80.00/h
 *   markups: LE-US -> LE-GB 10 %, LE-DE -> LE-GB 8 %
 */
const withEntities = (): RuleSet => {
  const data = JSON.parse(JSON.stringify(defaultRuleSet));
  data.intercompany.markupBp = 500;
  data.intercompany.costCardsByEntity = {
    'LE-US': { id: 'COST-US', currency: 'USD', rates: [{ role: 'consultant', region: '*', from: '2025-01-01', hourlyRate: 9_000 }] },
    'LE-DE': { id: 'COST-DE', currency: 'EUR', rates: [{ role: 'consultant', region: '*', from: '2025-01-01', hourlyRate: 8_000 }] },
  };
  data.intercompany.markups = [
    { deliveringLegalEntityId: 'LE-US', sellingLegalEntityId: 'LE-GB', markupBp: 1_000 },
    { deliveringLegalEntityId: 'LE-DE', sellingLegalEntityId: 'LE-GB', markupBp: 800 },
  ];
  return RuleSet.parse(data);
};
const tenHours = (id: string, entity: string) => te(id, { resourceLegalEntityId: entity, minutes: 600 });

describe('intercompany per delivering entity and entity pair', () => {
  it("each delivering entity's own cost card and its pair's markup, in that entity's currency", () => {
    const r = intercompanyCharges(withEntities(), 'LE-GB', [tenHours('T-US', 'LE-US'), tenHours('T-DE', 'LE-DE'), tenHours('T-FR', 'LE-FR')]);
    expect(r.charges.map((c) => [c.sourceItemId, c.fromLegalEntityId, c.currency, c.costMinor, c.markupMinor, c.amountMinor])).toEqual([
      ['T-DE', 'LE-DE', 'EUR', 80_000, 6_400, 86_400], // 10 h x 80.00 = 800.00 + 8 % (64.00) = 864.00
      ['T-FR', 'LE-FR', 'USD', 60_000, 3_000, 63_000], // no own card, no pair: COST-STD 60.00 x 10 = 600.00 + 5 % = 630.00
      ['T-US', 'LE-US', 'USD', 90_000, 9_000, 99_000], // 10 h x 90.00 = 900.00 + 10 % (90.00) = 990.00
    ]);
    expect(r.invoices.map((g) => [g.key, g.amountMinor])).toEqual([
      ['IC|LE-DE|LE-GB|EUR|2025-03', 86_400],
      ['IC|LE-FR|LE-GB|USD|2025-03', 63_000],
      ['IC|LE-US|LE-GB|USD|2025-03', 99_000],
    ]);
  });

  it('a pair is directed: US delivering for a DE seller is not US -> GB, so the single markup applies', () => {
    // 10 h x 90.00 (LE-US's card) = 900.00 + 5 % = 945.00
    const r = intercompanyCharges(withEntities(), 'LE-DE', [tenHours('T-US', 'LE-US')]);
    expect(r.charges.map((c) => [c.costMinor, c.markupMinor, c.amountMinor])).toEqual([[90_000, 4_500, 94_500]]);
  });

  it('a role missing from the entity card is reported, not priced from the shared card', () => {
    const r = intercompanyCharges(withEntities(), 'LE-GB', [te('T-ARCH', { resourceLegalEntityId: 'LE-US', role: 'architect' })]);
    expect([r.charges, r.missingCost]).toEqual([[], ['T-ARCH']]);
  });

  it('old rule sets load unchanged and mean the same: one card, one markup (8 % on COST-STD)', () => {
    expect(ruleSet.intercompany).not.toHaveProperty('costCardsByEntity');
    expect(ruleSet.intercompany).not.toHaveProperty('markups');
    // 10 h x 60.00 = 600.00 + 8 % = 648.00, whoever delivers and sells
    const r = intercompanyCharges(ruleSet, 'LE-GB', [tenHours('T-US', 'LE-US'), tenHours('T-DE', 'LE-DE')]);
    expect(r.charges.map((c) => [c.sourceItemId, c.currency, c.amountMinor])).toEqual([
      ['T-DE', 'USD', 64_800],
      ['T-US', 'USD', 64_800],
    ]);
  });

  it('refuses a duplicate or self pair and a bad entity card, with the field paths', () => {
    const data = JSON.parse(JSON.stringify(defaultRuleSet));
    data.intercompany.costCardsByEntity = { 'LE-DE': { id: 'COST-DE', currency: 'EURO', rates: [{ role: '*', region: '*', from: '2025-01-01', hourlyRate: 8_000 }] } };
    expect(parseRuleSet(data)).toEqual({
      ok: false,
      errors: ['intercompany.costCardsByEntity.LE-DE.currency: expected an ISO 4217 code like USD', 'intercompany.costCardsByEntity.LE-DE.currency: currency not in the minor-unit table'],
    });
    data.intercompany.costCardsByEntity['LE-DE'].currency = 'EUR';
    data.intercompany.markups = [
      { deliveringLegalEntityId: 'LE-US', sellingLegalEntityId: 'LE-GB', markupBp: 1_000 },
      { deliveringLegalEntityId: 'LE-US', sellingLegalEntityId: 'LE-GB', markupBp: 900 },
      { deliveringLegalEntityId: 'LE-DE', sellingLegalEntityId: 'LE-DE', markupBp: 900 },
    ];
    expect(parseRuleSet(data)).toEqual({
      ok: false,
      errors: ['intercompany.markups.1: duplicate markup for LE-US -> LE-GB', 'intercompany.markups.2.sellingLegalEntityId: LE-DE -> LE-DE: an entity does not charge itself'],
    });
  });
});
