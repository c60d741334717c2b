import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseRuleSetText, type RuleSet } from '../rules';

export const BUNDLED_RULESETS_DIR = path.resolve(__dirname, '..', 'rules', 'rulesets');

/** A rule set the contract is pinned to but nobody has loaded: the deal cannot be billed. */
export class RuleSetNotFoundError extends Error {
  override name = 'RuleSetNotFoundError';
  readonly code = 'RULESET.NOT_FOUND';
}

/**
 * Resolves pinned rule sets `{id, version}` from a folder of JSON/YAML files,
 * validated once at start-up (a bad file names its path and every bad field).
 */
export function fileRuleSets(dir = BUNDLED_RULESETS_DIR): (ref: { id: string; version: number }) => RuleSet {
  const byKey = new Map<string, RuleSet>();
  for (const file of readdirSync(dir).filter((f) => /\.(json|ya?ml)$/.test(f))) {
    const parsed = parseRuleSetText(readFileSync(path.join(dir, file), 'utf8'), file.endsWith('.json') ? 'json' : 'yaml');
    if (!parsed.ok) throw new Error(`${path.join(dir, file)}: invalid rule set\n  ${parsed.errors.join('\n  ')}`);
    byKey.set(`${parsed.ruleSet.id}@${parsed.ruleSet.version}`, parsed.ruleSet);
  }
  return (ref) => {
    const found = byKey.get(`${ref.id}@${ref.version}`);
    if (!found) throw new RuleSetNotFoundError(`rule set ${ref.id} version ${ref.version} is not loaded`);
    return found;
  };
}
