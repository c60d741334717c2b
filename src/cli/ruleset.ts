import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { DbHandle } from '../db';
import { RuleSetRepository, RuleSetStoreError, type RuleSetStatus } from '../db/rulesets';
import { formatMoney } from '../canonical/money-math';
import { DEFAULT_GOVERNANCE_TIME_ZONE, MAX_PROPOSAL_EXPIRY_DAYS, type ImpactFigures, type RuleSetProposalView } from '../contract';
import { parseRuleSetText } from '../rules';
import { ProposalConflictError, ProposalNotFoundError, ProposalRefusedError, type RuleSetGovernanceGateway } from '../service/ruleset-gateway';

export interface RuleSetCommandDeps {
  openDb: () => Promise<DbHandle>;
  /** The rule-set proposal workflows (a Temporal client); needed by propose, proposal, approve and reject. */
  governance?: () => Promise<{ gateway: RuleSetGovernanceGateway; close(): Promise<void> }>;
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

const isTimeZone = (tz: string): boolean => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

/** One line per deal and per currency: billed, capped and recognised, current -> proposed (change). */
export function describeProposal(p: RuleSetProposalView): string {
  const out = [
    `${p.proposalId}  ${p.ruleSet.id}@${p.ruleSet.version}  ${p.status}`,
    `  proposed by ${p.author} at ${p.proposedAt}${p.note ? ` (${p.note})` : ''}`,
    `  in force from ${p.effectiveDate} 00:00 ${p.timeZone} (${p.activatesAt}) once approved; expires ${p.expiresAt} without a decision`,
  ];
  if (p.approval) out.push(`  approved by ${p.approval.by} at ${p.approval.at}${p.approval.note ? ` (${p.approval.note})` : ''}`);
  if (p.rejection) out.push(`  rejected by ${p.rejection.by} at ${p.rejection.at}${p.rejection.note ? ` (${p.rejection.note})` : ''}`);
  if (p.activatedAt) out.push(`  in force since ${p.activatedAt}`);
  if (p.expiredAt) out.push(`  expired at ${p.expiredAt}`);
  if (!p.preview) return [...out, '  preview: being computed'].join('\n');
  const fig = (cur: string, a: ImpactFigures, b: ImpactFigures, d: ImpactFigures) =>
    (['billedMinor', 'cappedMinor', 'recognisedMinor'] as const)
      .map((k) => `${k.replace('Minor', '')} ${formatMoney({ amountMinor: a[k], currency: cur })} -> ${formatMoney({ amountMinor: b[k], currency: cur })} (${d[k] >= 0 ? '+' : ''}${formatMoney({ amountMinor: d[k], currency: cur }).replace(`${cur} `, '')})`)
      .join('; ');
  out.push(`  preview at ${p.preview.computedAt}: ${p.preview.deals.length} open deal(s) priced over their current deliveries`);
  for (const d of p.preview.deals) out.push(`    ${d.opportunityId} (${d.contractId} v${d.contractVersion}, pins ${d.pinned.id}@${d.pinned.version}, ${d.items} items, as of ${d.asOf}): ${fig(d.currency, d.current, d.proposed, d.delta)}`);
  for (const [cur, t] of Object.entries(p.preview.totals)) out.push(`    total ${cur} over ${t.deals} deal(s): ${fig(cur, t.current, t.proposed, t.delta)}`);
  for (const s of p.preview.skipped) out.push(`    skipped ${s.opportunityId}: ${s.reason}`);
  return out.join('\n');
}

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

  const governed = async <T>(cmd: Command, fn: (g: RuleSetGovernanceGateway) => Promise<T>): Promise<T> => {
    if (!deps.governance) return cmd.error(`${cmd.name()}: no Temporal connection configured`, { exitCode: 1, code: 'q2c.ruleset.no_temporal' });
    const { gateway, close } = await deps.governance();
    try {
      return await fn(gateway);
    } catch (err) {
      if (err instanceof ProposalRefusedError) return cmd.error(`${cmd.name()}: ${err.reason ?? 'REFUSED'}: ${err.message}`, { exitCode: 1, code: err.reason ?? 'REFUSED' });
      if (err instanceof ProposalNotFoundError || err instanceof ProposalConflictError) return cmd.error(`${cmd.name()}: ${err.code}: ${err.message}`, { exitCode: 1, code: err.code });
      throw err;
    } finally {
      await close();
    }
  };

  ruleset
    .command('propose')
    .description('propose a new rule-set version: stored as a draft, its effect on every open deal previewed, in force from its effective date once someone other than you approves it')
    .argument('<file>', 'rule-set file (.json, .yaml or .yml)')
    .requiredOption('--by <who>', 'who proposes it (cannot approve it)')
    .requiredOption('--effective <YYYY-MM-DD>', 'in force from local midnight of this date')
    .option('--time-zone <zone>', 'IANA zone of the effective date', DEFAULT_GOVERNANCE_TIME_ZONE)
    .option('--expires-in-days <n>', `expires without a decision after this many days (1-${MAX_PROPOSAL_EXPIRY_DAYS})`, '14')
    .option('--note <text>', 'why')
    .action(async (file: string, opts: { by: string; effective: string; timeZone: string; expiresInDays: string; note?: string }, cmd: Command) => {
      const problems: string[] = [];
      if (opts.by.trim() === '') problems.push('--by: who proposes it');
      if (!/^\d{4}-\d{2}-\d{2}$/.test(opts.effective) || Number.isNaN(Date.parse(`${opts.effective}T00:00:00Z`))) problems.push(`--effective: expected YYYY-MM-DD, got '${opts.effective}'`);
      if (!isTimeZone(opts.timeZone)) problems.push(`--time-zone: expected an IANA time zone like America/New_York, got '${opts.timeZone}'`);
      const days = Number(opts.expiresInDays);
      if (!Number.isInteger(days) || days < 1 || days > MAX_PROPOSAL_EXPIRY_DAYS) problems.push(`--expires-in-days: expected a whole number from 1 to ${MAX_PROPOSAL_EXPIRY_DAYS}, got '${opts.expiresInDays}'`);
      if (problems.length) return cmd.error(`propose: ${problems.join('; ')}`, { exitCode: 1, code: 'q2c.ruleset.options' });
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        return cmd.error(`propose: cannot read ${file}: ${(e as Error).message}`, { exitCode: 1, code: 'q2c.ruleset.unreadable' });
      }
      const parsed = parseRuleSetText(text, formatOf(file, text));
      if (!parsed.ok) {
        const n = parsed.errors.length;
        return cmd.error(`propose: ${file} is not a valid rule set (${n} problem${n === 1 ? '' : 's'}); nothing was proposed:\n${parsed.errors.map((e) => `  ${e}`).join('\n')}`, { exitCode: 1, code: 'RULESET.INVALID' });
      }
      const { proposalId } = await governed(cmd, (g) =>
        g.propose({ ruleSet: parsed.ruleSet, by: opts.by.trim(), effectiveDate: opts.effective, timeZone: opts.timeZone, expiresInDays: days, ...(opts.note ? { note: opts.note } : {}) }),
      );
      writeOut(cmd, `proposed ${parsed.ruleSet.id}@${parsed.ruleSet.version} as ${proposalId} (by ${opts.by.trim()}, effective ${opts.effective} ${opts.timeZone}); see it with: q2c ruleset proposal ${proposalId}`);
    });

  ruleset
    .command('proposal')
    .description('show a proposal: its status, decisions and the preview of its effect on every open deal')
    .argument('<id>', 'proposal id (ruleset-proposal:<id>:v<version>)')
    .option('--json', 'print the proposal as JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const p = await governed(cmd, (g) => g.getProposal(id));
      writeOut(cmd, opts.json ? JSON.stringify(p, null, 2) : describeProposal(p));
    });

  for (const [name, verb] of [['approve', 'approved'], ['reject', 'rejected']] as const) {
    ruleset
      .command(name)
      .description(name === 'approve' ? 'approve a proposal (not your own): in force from its effective date' : 'reject a proposal (its author may withdraw it): nothing changes')
      .argument('<id>', 'proposal id (ruleset-proposal:<id>:v<version>)')
      .requiredOption('--by <who>', 'who decides')
      .option('--note <text>', 'why')
      .action(async (id: string, opts: { by: string; note?: string }, cmd: Command) => {
        const req = { by: opts.by.trim(), ...(opts.note ? { note: opts.note } : {}) };
        const p = await governed(cmd, (g) => (name === 'approve' ? g.approve(id, req) : g.reject(id, req)));
        writeOut(cmd, `${verb}: ${p.proposalId} (${p.ruleSet.id}@${p.ruleSet.version}) by ${req.by}; status ${p.status}${p.status === 'APPROVED' ? `, in force from ${p.activatesAt}` : ''}`);
      });
  }

  return ruleset;
}
