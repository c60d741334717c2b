import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { DbHandle } from '../db';
import { RuleSetRepository, RuleSetStoreError, type RuleSetStatus } from '../db/rulesets';
import { parseRuleSetText } from '../rules';

export interface RuleSetCommandDeps {
  openDb: () => Promise<DbHandle>;
}

const STATUSES: readonly RuleSetStatus[] = ['draft', 'approved', 'retired'];

/** YAML for .yaml/.yml, JSON for .json; otherwise by the first character. */
const formatOf = (file: string, text: string): 'json' | 'yaml' => {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  if (ext === '.json') return 'json';
  return /^\s*[{[]/.test(text) ? 'json' : 'yaml';
};

/** Write through the command's output configuration, so tests and embedders can capture it. */
const writeOut = (cmd: Command, text: string): void => {
  const write = cmd.configureOutput().writeOut ?? ((s: string) => process.stdout.write(s));
  write(text.endsWith('\n') ? text : `${text}\n`);
};

async function withRepo<T>(deps: RuleSetCommandDeps, fn: (repo: RuleSetRepository) => Promise<T>): Promise<T> {
  const handle = await deps.openDb();
  try {
    return await fn(new RuleSetRepository(handle.db));
  } finally {
    await handle.close();
  }
}

/** A store error becomes one clear line and exit code 1 (`cmd.error` exits, or throws under exitOverride). */
const failOn = (cmd: Command, err: unknown): never => {
  if (err instanceof RuleSetStoreError) cmd.error(`${cmd.name()}: ${err.code}: ${err.message}`, { exitCode: 1, code: err.code });
  throw err;
};

/**
 * `q2c ruleset load <file>`, `q2c ruleset list`, `q2c ruleset show <id> [version]`.
 * Rule sets are data: loading a new version changes billing for the contract
 * versions that pin it, with no redeploy.
 */
export function registerRuleSetCommands(program: Command, deps: RuleSetCommandDeps): Command {
  const ruleset = program.command('ruleset').description('versioned rule sets (rate cards, billing and expense policy, tax mapping, intercompany markup)');

  ruleset
    .command('load')
    .description('validate a rule-set file (JSON or YAML) and store it as a new version; an identical version already stored is left as it is')
    .argument('<file>', 'rule-set file (.json, .yaml or .yml)')
    .option('--status <status>', `status of the new version: ${STATUSES.join(', ')}`, 'approved')
    .action(async (file: string, opts: { status: string }, cmd: Command) => {
      if (!(STATUSES as readonly string[]).includes(opts.status)) {
        cmd.error(`load: --status must be one of ${STATUSES.join(', ')}, got '${opts.status}'`, { exitCode: 1, code: 'q2c.ruleset.status' });
      }
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        return cmd.error(`load: cannot read ${file}: ${(e as Error).message}`, { exitCode: 1, code: 'q2c.ruleset.unreadable' });
      }
      const parsed = parseRuleSetText(text, formatOf(file, text));
      if (!parsed.ok) {
        // Every bad field, each on its own line; the database is not opened.
        const n = parsed.errors.length;
        return cmd.error(`load: ${file} is not a valid rule set (${n} problem${n === 1 ? '' : 's'}); nothing was written:\n${parsed.errors.map((e) => `  ${e}`).join('\n')}`, {
          exitCode: 1,
          code: 'RULESET.INVALID',
        });
      }
      const r = await withRepo(deps, (repo) => repo.saveRuleSet(parsed.ruleSet, { status: opts.status as RuleSetStatus })).catch((e: unknown) => failOn(cmd, e));
      const ref = `${r.ruleSet.id}@${r.ruleSet.version}`;
      writeOut(cmd, r.created ? `loaded ${ref} (${r.status}) from ${file}` : `unchanged: ${ref} is already loaded with this body (${r.status})`);
    });

  ruleset
    .command('list')
    .description('list every stored rule-set version')
    .action(async (_opts: unknown, cmd: Command) => {
      const rows = await withRepo(deps, (repo) => repo.listRuleSets());
      if (rows.length === 0) return writeOut(cmd, 'no rule sets loaded (q2c ruleset load <file>)');
      const table = [['ID', 'VERSION', 'STATUS', 'CREATED', 'DESCRIPTION'], ...rows.map((r) => [r.id, String(r.version), r.status, r.createdAt.toISOString(), r.description])];
      const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
      writeOut(cmd, table.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n'));
    });

  ruleset
    .command('show')
    .description('print a rule set as JSON: the given version, or the latest approved one')
    .argument('<id>', 'rule-set id')
    .argument('[version]', 'version (default: the latest approved)')
    .action(async (id: string, version: string | undefined, _opts: unknown, cmd: Command) => {
      let v: number | undefined;
      if (version !== undefined) {
        v = Number(version);
        if (!Number.isInteger(v) || v < 1) cmd.error(`show: version must be a positive integer, got '${version}'`, { exitCode: 1, code: 'q2c.ruleset.version' });
      }
      const rs = await withRepo(deps, (repo) => (v === undefined ? repo.latestApproved(id) : repo.getRuleSet({ id, version: v }))).catch((e: unknown) => failOn(cmd, e));
      if (rs === undefined) return cmd.error(`show: RULESET.NOT_FOUND: no approved version of rule set ${id}`, { exitCode: 1, code: 'RULESET.NOT_FOUND' });
      writeOut(cmd, JSON.stringify(rs, null, 2));
    });

  return ruleset;
}
