import type { Contract, RuleSetRef } from '../canonical';

/*
 * The rule-set errors and the pin check, without zod (the RuleSet schema is in ruleset.ts,
 * which re-exports these): compile.ts, and so the workflow code, needs only these.
 */

export class RuleSetError extends Error {
  constructor(
    readonly code: 'RULES.RULESET_NOT_PINNED' | 'RULES.RATE_CARD_MISSING' | 'RULES.CURRENCY_MISMATCH' | 'RULES.RULESET_INVALID',
    message: string,
  ) {
    super(message);
    this.name = 'RuleSetError';
  }
}

/** The contract version pins its rule set: billing with any other set is refused. */
export const assertPinned = (contract: Pick<Contract, 'id' | 'version' | 'ruleSet'>, ruleSet: RuleSetRef): void => {
  if (contract.ruleSet.id !== ruleSet.id || contract.ruleSet.version !== ruleSet.version) {
    throw new RuleSetError(
      'RULES.RULESET_NOT_PINNED',
      `contract ${contract.id} v${contract.version} is pinned to rule set ${contract.ruleSet.id}@${contract.ruleSet.version}, got ${ruleSet.id}@${ruleSet.version}`,
    );
  }
};
