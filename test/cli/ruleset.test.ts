import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { registerRuleSetCommands } from '../../src/cli/ruleset';
import { openDb, schema, type DbHandle } from '../../src/db';
import defaultRuleSet from '../../src/rules/rulesets/default.json';
import type { RuleSetProposalInput, RuleSetProposalView } from '../../src/contract';
import * as gov from '../../src/engagement/governance';
import { Refusal } from '../../src/engagement/refusal';
import { ProposalNotFoundError, ProposalRefusedError, type RuleSetGovernanceGateway } from '../../src/service/ruleset-gateway';

/** A q2c program as main.ts builds it, with output captured and exits turned into CommanderErrors. */
const harness = (handle: DbHandle) => {
  const out: string[] = [];
  const err: string[] = [];
  const opened: string[] = [];
  const program = new Command('q2c')
    .exitOverride()
    .configureOutput({ writeOut: (s) => void out.push(s), writeErr: (s) => void err.push(s) });
  // the commands close their handle; the test keeps the in-memory database open across commands
  registerRuleSetCommands(program, {
    openDb: async () => {
      opened.push('open');
      return { db: handle.db, driver: handle.driver, close: async () => undefined };
    },
  });
  /** Run `q2c <args>`; resolves with the exit code (0 when the action returned normally). */
  const run = async (...args: string[]): Promise<number> => {
    out.length = 0;
    err.length = 0;
    try {
      await program.parseAsync(['ruleset', ...args], { from: 'user' });
      return 0;
    } catch (e) {
      if (e instanceof CommanderError) return e.exitCode;
      throw e;
    }
  };
  return { run, out: () => out.join(''), err: () => err.join(''), opened };
};

describe('q2c ruleset', () => {
  let handle: DbHandle;
  let dir: string;
  const file = (name: string, text: string): string => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  beforeAll(async () => {
    handle = await openDb({ dataDir: 'memory://' });
    dir = mkdtempSync(path.join(tmpdir(), 'q2c-ruleset-cli-'));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await handle.close();
  });

  it('load: a bad file prints the file name and every bad field path, exits 1 and writes nothing', async () => {
    const bad = JSON.parse(JSON.stringify(defaultRuleSet));
    bad.id = 'broken';
    bad.rateCards[0].rates[1].hourlyRate = 130.5;
    bad.rateCards[1].currency = 'usd';
    bad.expensePolicy.categories.MEALS.capPerItem.currency = 'XYZ';
    bad.taxCodes.SERVICES.taxable = 'yes';
    bad.intercompany.markupBp = -1;
    const p = file('broken.json', JSON.stringify(bad, null, 2));
    const h = harness(handle);
    expect(await h.run('load', p)).toBe(1);
    expect(h.err()).toBe(
      [
        `load: ${p} is not a valid rule set (6 problems); nothing was written:`,
        '  rateCards.0.rates.1.hourlyRate: Invalid input: expected int, received number',
        '  rateCards.1.currency: expected an ISO 4217 code like USD',
        '  rateCards.1.currency: currency not in the minor-unit table',
        '  expensePolicy.categories.MEALS.capPerItem.currency: currency not in the minor-unit table',
        '  taxCodes.SERVICES.taxable: Invalid input: expected boolean, received string',
        '  intercompany.markupBp: Too small: expected number to be >=0',
        '',
      ].join('\n'),
    );
    expect(h.out()).toBe('');
    // validation happens before the database is opened
    expect(h.opened).toEqual([]);
    expect(await handle.db.select().from(schema.ruleSets)).toEqual([]);
  });

  it('load: YAML syntax errors and unreadable files are one line each, exit 1', async () => {
    const h = harness(handle);
    const p = file('syntax.yaml', 'id: [unclosed\n');
    expect(await h.run('load', p)).toBe(1);
    expect(h.err()).toMatch(new RegExp(`^load: ${p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is not a valid rule set \\(1 problem\\); nothing was written:\n  \\(root\\): not valid YAML: `));
    const missing = path.join(dir, 'nope.json');
    expect(await h.run('load', missing)).toBe(1);
    expect(h.err()).toMatch(new RegExp(`^load: cannot read ${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: ENOENT`));
    expect(await handle.db.select().from(schema.ruleSets)).toEqual([]);
  });

  it('load, list and show: a YAML rule set goes in, is listed, and shows as the stored JSON', async () => {
    const yaml = `
id: small
version: 1
description: EUR flat rate
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
    const p = file('small.yaml', yaml);
    const h = harness(handle);
    expect(await h.run('load', p)).toBe(0);
    expect(h.out()).toBe(`loaded small@1 (approved) from ${p}\n`);
    expect(await h.run('load', p)).toBe(0);
    expect(h.out()).toBe('unchanged: small@1 is already loaded with this body (approved)\n');

    // a changed body under the same version is refused; as version 2 (a draft) it loads
    const p2 = file('small-v1-changed.yaml', yaml.replace('hourlyRate: 10000', 'hourlyRate: 11000'));
    expect(await h.run('load', p2)).toBe(1);
    expect(h.err()).toContain('load: RULESET.VERSION_CONFLICT: rule set small@1 already exists with a different body');
    const p3 = file('small-v2.yaml', yaml.replace('hourlyRate: 10000', 'hourlyRate: 11000').replace('version: 1', 'version: 2'));
    expect(await h.run('load', p3, '--status', 'draft')).toBe(0);
    expect(h.out()).toBe(`loaded small@2 (draft) from ${p3}\n`);
    expect(await h.run('load', p3, '--status', 'live')).toBe(1);
    expect(h.err()).toBe("load: --status must be one of draft, approved, retired, got 'live'\n");

    expect(await h.run('list')).toBe(0);
    const lines = h.out().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +VERSION +STATUS +CREATED +DESCRIPTION$/);
    expect(lines.slice(1).map((l) => l.split(/ {2,}/).filter((c, i) => i !== 3))).toEqual([
      ['small', '1', 'approved', 'EUR flat rate'],
      ['small', '2', 'draft', 'EUR flat rate'],
    ]);

    // without a version: the latest approved (v2 is a draft)
    expect(await h.run('show', 'small')).toBe(0);
    const shown = JSON.parse(h.out());
    expect([shown.id, shown.version, shown.rateCards[0].rates[0].hourlyRate, shown.rateCards[0].overtimeMultiplierBp]).toEqual(['small', 1, 10000, 10000]);
    expect(await h.run('show', 'small', '2')).toBe(0);
    expect(JSON.parse(h.out()).rateCards[0].rates[0].hourlyRate).toBe(11000);
  });

  it('show: a missing version or id is RULESET.NOT_FOUND, exit 1', async () => {
    const h = harness(handle);
    expect(await h.run('show', 'small', '9')).toBe(1);
    expect(h.err()).toBe('show: RULESET.NOT_FOUND: rule set small@9 is not in the database (load it with: q2c ruleset load <file>)\n');
    expect(await h.run('show', 'nothing')).toBe(1);
    expect(h.err()).toBe('show: RULESET.NOT_FOUND: no approved version of rule set nothing\n');
    expect(await h.run('show', 'small', 'x')).toBe(1);
    expect(h.err()).toBe("show: version must be a positive integer, got 'x'\n");
  });
});

describe('q2c ruleset propose / proposal / approve / reject', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'q2c-ruleset-gov-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A program whose governance gateway is the pure core over an in-memory map. */
  const withGovernance = () => {
    const out: string[] = [];
    const err: string[] = [];
    const started: RuleSetProposalInput[] = [];
    const proposals = new Map<string, RuleSetProposalView>();
    const T = Date.parse('2026-02-10T15:00:00Z');
    const decide = (id: string, fn: (p: RuleSetProposalView) => void) => {
      const p = proposals.get(id);
      if (!p) throw new ProposalNotFoundError(id);
      try {
        fn(p);
      } catch (e) {
        if (e instanceof Refusal) throw new ProposalRefusedError(id, e.message, e.code);
        throw e;
      }
      return p;
    };
    const gateway: RuleSetGovernanceGateway = {
      propose: async (input) => {
        started.push(input);
        const p = { ...gov.openProposal(input, T), preview: { computedAt: '2026-02-10T15:00:00.000Z', deals: [], skipped: [], totals: {} } };
        proposals.set(p.proposalId, p);
        return { proposalId: p.proposalId };
      },
      getProposal: async (id) => decide(id, () => undefined),
      approve: async (id, req) => decide(id, (p) => gov.approve(p, req, T)),
      reject: async (id, req) => decide(id, (p) => gov.reject(p, req, T)),
    };
    const program = new Command('q2c').exitOverride().configureOutput({ writeOut: (s) => void out.push(s), writeErr: (s) => void err.push(s) });
    registerRuleSetCommands(program, { openDb: async () => { throw new Error('not used'); }, governance: async () => ({ gateway, close: async () => undefined }) });
    const run = async (...args: string[]): Promise<number> => {
      out.length = 0;
      err.length = 0;
      try {
        await program.parseAsync(['ruleset', ...args], { from: 'user' });
        return 0;
      } catch (e) {
        if (e instanceof CommanderError) return e.exitCode;
        throw e;
      }
    };
    return { run, out: () => out.join(''), err: () => err.join(''), started };
  };

  it('a bad file names the file and every bad field, and proposes nothing; bad options are named', async () => {
    const bad = { ...JSON.parse(JSON.stringify(defaultRuleSet)), version: 2 };
    bad.rateCards[0].rates[0].hourlyRate = 165.5;
    const p = path.join(dir, 'v2-bad.json');
    writeFileSync(p, JSON.stringify(bad));
    const g = withGovernance();
    expect(await g.run('propose', p, '--by', 'alice', '--effective', '2026-03-01')).toBe(1);
    expect(g.err()).toBe(`propose: ${p} is not a valid rule set (1 problem); nothing was proposed:\n  rateCards.0.rates.0.hourlyRate: Invalid input: expected int, received number\n`);
    expect(await g.run('propose', p, '--by', 'alice', '--effective', '1 March', '--time-zone', 'Mars/Olympus', '--expires-in-days', '0')).toBe(1);
    expect(g.err()).toBe("propose: --effective: expected YYYY-MM-DD, got '1 March'; --time-zone: expected an IANA time zone like America/New_York, got 'Mars/Olympus'; --expires-in-days: expected a whole number from 1 to 365, got '0'\n");
    expect(g.started).toEqual([]);
  });

  it('propose, show, self-approval refused, approve by another', async () => {
    const p = path.join(dir, 'v2.json');
    writeFileSync(p, JSON.stringify({ ...defaultRuleSet, version: 2 }));
    const g = withGovernance();
    expect(await g.run('propose', p, '--by', 'alice', '--effective', '2026-03-01', '--time-zone', 'America/New_York', '--expires-in-days', '7')).toBe(0);
    expect(g.out()).toBe('proposed default@2 as ruleset-proposal:default:v2 (by alice, effective 2026-03-01 America/New_York); see it with: q2c ruleset proposal ruleset-proposal:default:v2\n');
    expect(g.started.map((i) => [i.by, i.effectiveDate, i.timeZone, i.expiresInDays])).toEqual([['alice', '2026-03-01', 'America/New_York', 7]]);
    expect(await g.run('approve', 'ruleset-proposal:default:v2', '--by', 'alice')).toBe(1);
    expect(g.err()).toBe('approve: RULESET.SELF_APPROVAL: alice proposed default@2 and cannot approve it: approval must come from someone other than the author\n');
    expect(await g.run('approve', 'ruleset-proposal:default:v2', '--by', 'bob')).toBe(0);
    expect(g.out()).toBe('approved: ruleset-proposal:default:v2 (default@2) by bob; status APPROVED, in force from 2026-03-01T05:00:00.000Z\n');
    expect(await g.run('reject', 'ruleset-proposal:default:v2', '--by', 'carol')).toBe(1);
    expect(g.err()).toContain('reject: RULESET.PROPOSAL_CLOSED');
    expect(await g.run('proposal', 'ruleset-proposal:default:v2')).toBe(0);
    expect(g.out().split('\n').slice(0, 2)).toEqual(['ruleset-proposal:default:v2  default@2  APPROVED', '  proposed by alice at 2026-02-10T15:00:00.000Z']);
    expect(await g.run('proposal', 'ruleset-proposal:default:v9')).toBe(1);
    expect(g.err()).toBe("proposal: PROPOSAL_NOT_FOUND: no rule-set proposal 'ruleset-proposal:default:v9'\n");
  });
});
