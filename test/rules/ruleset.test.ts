import { assertPinned, parseRuleSet, parseRuleSetText, RuleSetError, compileContract } from '../../src/rules';
import defaultRuleSet from '../../src/rules/rulesets/default.json';
import { contract, ruleSet } from './fixtures';

describe('rule sets', () => {
  it('the shipped default rule set is valid', () => {
    const r = parseRuleSet(defaultRuleSet);
    expect(r.ok).toBe(true);
    expect(r.ok && r.ruleSet.rateCards.map((c) => c.id)).toEqual(['RC-STD', 'RC-BLENDED']);
  });

  it('lists the path of every bad field', () => {
    const bad = JSON.parse(JSON.stringify(defaultRuleSet));
    bad.rateCards[0].rates[1].hourlyRate = 130.5;
    bad.rateCards[1].id = 'RC-STD';
    bad.expensePolicy.categories.MEALS.capPerItem.currency = 'XYZ';
    bad.taxCodes.SERVICES.taxable = 'yes';
    bad.intercompany.markupBp = -1;
    const r = parseRuleSet(bad);
    expect(r).toEqual({
      ok: false,
      errors: [
        'rateCards.0.rates.1.hourlyRate: Invalid input: expected int, received number',
        'expensePolicy.categories.MEALS.capPerItem.currency: currency not in the minor-unit table',
        'taxCodes.SERVICES.taxable: Invalid input: expected boolean, received string',
        'intercompany.markupBp: Too small: expected number to be >=0',
      ],
    });
    // once the fields parse, cross-field checks report too
    const dup = JSON.parse(JSON.stringify(defaultRuleSet));
    dup.rateCards[1].id = 'RC-STD';
    expect(parseRuleSet(dup)).toEqual({ ok: false, errors: ['rateCards.1.id: duplicate rate card id RC-STD'] });
  });

  it('reads YAML and reports syntax errors', () => {
    const yaml = `
id: small
version: 3
rateCards:
  - id: RC
    currency: EUR
    rates:
      - { role: "*", region: "*", from: "2025-01-01", hourlyRate: 10000 }
expensePolicy:
  default: { treatment: EXCLUDED }
taxCodes:
  SERVICES: { taxable: true }
intercompany:
  markupBp: 500
  costCard: { id: C, currency: EUR, rates: [{ role: "*", region: "*", from: "2025-01-01", hourlyRate: 5000 }] }
`;
    const r = parseRuleSetText(yaml, 'yaml');
    expect(r.ok && [r.ruleSet.id, r.ruleSet.version, r.ruleSet.rateCards[0]!.overtimeMultiplierBp]).toEqual(['small', 3, 10_000]);
    const broken = parseRuleSetText('{ "id": ', 'json');
    expect(broken.ok).toBe(false);
    expect(!broken.ok && broken.errors[0]!.startsWith('(root): not valid JSON')).toBe(true);
  });

  it('a contract version only bills with the rule set it is pinned to', () => {
    const c = contract();
    expect(() => assertPinned(c, { id: 'default', version: 2 })).toThrow('contract C-1 v1 is pinned to rule set default@1, got default@2');
    expect(() => compileContract(c, { ...ruleSet, version: 2 })).toThrow(RuleSetError);
  });

  it('refuses a contract whose rate card is missing or in another currency', () => {
    expect(() => compileContract(contract((x) => (x.lines[0]!.rateCardRef = 'NOPE')), ruleSet)).toThrow('line CL-TM: rate card NOPE not in rule set default@1');
    const eurCard = { ...ruleSet, rateCards: ruleSet.rateCards.map((c) => ({ ...c, currency: 'EUR' })) };
    expect(() => compileContract(contract(), eurCard)).toThrow('rate card RC-STD is in EUR, contract in USD');
  });
});
