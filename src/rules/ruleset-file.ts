import { parse as parseYaml } from 'yaml';
import { parseRuleSet, type ParseRuleSetResult } from './ruleset';

/** Parse rule-set text (JSON or YAML; YAML is a superset, the format decides the error wording). */
export const parseRuleSetText = (text: string, format: 'json' | 'yaml'): ParseRuleSetResult => {
  let data: unknown;
  try {
    data = format === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    return { ok: false, errors: [`(root): not valid ${format.toUpperCase()}: ${(e as Error).message}`] };
  }
  return parseRuleSet(data);
};
