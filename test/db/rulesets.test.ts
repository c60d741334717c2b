import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inArray, like } from 'drizzle-orm';
import { openDb, schema, type DbHandle } from '../../src/db';
import { DEFAULT_RULESETS_DIR, RuleSetRepository, RuleSetStoreError, ensureDefaultRuleSets } from '../../src/db/rulesets';
import { RuleSet } from '../../src/rules';
import defaultRuleSet from '../../src/rules/rulesets/default.json';
import { testDatabaseUrl } from '../support/database';

// A shared PostgreSQL server may hold other runs' rows: every id here is unique to this run.
const RUN = `t${process.pid}x${Date.now().toString(36)}`;

/** The shipped default rule set under another id/version, optionally changed. */
const body = (id: string, version: number, mutate?: (b: typeof defaultRuleSet) => void): typeof defaultRuleSet => {
  const b = JSON.parse(JSON.stringify(defaultRuleSet)) as typeof defaultRuleSet;
  b.id = id;
  b.version = version;
  mutate?.(b);
  return b;
};

const storeError = async (p: Promise<unknown>): Promise<RuleSetStoreError> => {
  try {
    await p;
  } catch (e) {
    if (e instanceof RuleSetStoreError) return e;
    throw e;
  }
  throw new Error('expected a RuleSetStoreError');
};

const url = testDatabaseUrl();
const drivers: Array<[string, () => Promise<DbHandle>]> = [['PGlite (memory)', () => openDb({ dataDir: 'memory://' })]];
if (url) drivers.push(['PostgreSQL (DATABASE_URL)', () => openDb({ databaseUrl: url })]);

describe.each(drivers)('RuleSetRepository on %s', (_name, open) => {
  let handle: DbHandle;
  let repo: RuleSetRepository;
  const id = (s: string): string => `${s}-${RUN}`;

  beforeAll(async () => {
    handle = await open();
    repo = new RuleSetRepository(handle.db);
  });
  afterAll(async () => {
    await handle.db.delete(schema.ruleSets).where(like(schema.ruleSets.id, `%-${RUN}`));
    await handle.close();
  });

  it('stores the parsed rule set and gives back exactly that version', async () => {
    const r = await repo.saveRuleSet(body(id('std'), 1));
    expect(r.created).toBe(true);
    expect(r.status).toBe('approved');
    // defaults are filled in before storing (RC-BLENDED has no overtimeMultiplierBp in the file)
    expect(r.ruleSet.rateCards[1]!.overtimeMultiplierBp).toBe(10_000);
    const got = await repo.getRuleSet({ id: id('std'), version: 1 });
    expect(got).toEqual(RuleSet.parse(body(id('std'), 1)));
    expect(got.rateCards[0]!.rates[0]).toEqual({ role: 'consultant', region: 'US', from: '2025-01-01', hourlyRate: 15000 });
  });

  it('treats saving the same version with the same body as a no-op, whatever the key order', async () => {
    await repo.saveRuleSet(body(id('same'), 1));
    const reordered = Object.fromEntries(Object.entries(body(id('same'), 1)).reverse());
    const again = await repo.saveRuleSet(reordered);
    expect(again.created).toBe(false);
    const rows = await handle.db.select().from(schema.ruleSets).where(inArray(schema.ruleSets.id, [id('same')]));
    expect(rows.map((r) => r.version)).toEqual([1]);
  });

  it('refuses a second body for an existing version (versions are immutable) and keeps the first', async () => {
    await repo.saveRuleSet(body(id('imm'), 1));
    const changed = body(id('imm'), 1, (b) => {
      b.rateCards[0]!.rates[0]!.hourlyRate = 16000;
    });
    const err = await storeError(repo.saveRuleSet(changed));
    expect(err.code).toBe('RULESET.VERSION_CONFLICT');
    expect(err.message).toContain(`${id('imm')}@1 already exists with a different body`);
    expect((await repo.getRuleSet({ id: id('imm'), version: 1 })).rateCards[0]!.rates[0]!.hourlyRate).toBe(15000);
    // the change goes in as version 2; version 1 stays as it was for the contracts pinned to it
    expect((await repo.saveRuleSet(body(id('imm'), 2, (b) => void (b.rateCards[0]!.rates[0]!.hourlyRate = 16000)))).created).toBe(true);
    expect((await repo.getRuleSet({ id: id('imm'), version: 2 })).rateCards[0]!.rates[0]!.hourlyRate).toBe(16000);
    expect((await repo.getRuleSet({ id: id('imm'), version: 1 })).rateCards[0]!.rates[0]!.hourlyRate).toBe(15000);
  });

  it('two loaders racing on one version: one creates it, the other sees a no-op or a conflict', async () => {
    const same = await Promise.all([repo.saveRuleSet(body(id('race'), 1)), repo.saveRuleSet(body(id('race'), 1))]);
    expect(same.map((r) => r.created).sort()).toEqual([false, true]);
    const other = body(id('race2'), 1, (b) => void (b.intercompany.markupBp = 900));
    const results = await Promise.allSettled([repo.saveRuleSet(body(id('race2'), 1)), repo.saveRuleSet(other)]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
    expect((rejected.reason as RuleSetStoreError).code).toBe('RULESET.VERSION_CONFLICT');
  });

  it('rejects an invalid rule set with every bad path and writes nothing', async () => {
    const bad = body(id('bad'), 1, (b) => {
      b.rateCards[0]!.rates[1]!.hourlyRate = 130.5;
      b.intercompany.markupBp = -1;
    });
    const err = await storeError(repo.saveRuleSet(bad));
    expect(err.code).toBe('RULESET.INVALID');
    expect(err.meta.errors).toEqual([
      'rateCards.0.rates.1.hourlyRate: Invalid input: expected int, received number',
      'intercompany.markupBp: Too small: expected number to be >=0',
    ]);
    expect(await handle.db.select().from(schema.ruleSets).where(inArray(schema.ruleSets.id, [id('bad')]))).toEqual([]);
  });

  it('a missing pinned version is RULESET.NOT_FOUND naming the id and version', async () => {
    await repo.saveRuleSet(body(id('pin'), 1));
    const err = await storeError(repo.getRuleSet({ id: id('pin'), version: 7 }));
    expect(err.code).toBe('RULESET.NOT_FOUND');
    expect(err.message).toBe(`rule set ${id('pin')}@7 is not in the database (load it with: q2c ruleset load <file>)`);
    expect(err.meta).toEqual({ id: id('pin'), version: 7 });
  });

  it('latestApproved skips drafts and retired versions; a retired version still serves its pinned contracts', async () => {
    const lid = id('life');
    expect(await repo.latestApproved(lid)).toBeUndefined();
    await repo.saveRuleSet(body(lid, 1), { status: 'retired' });
    await repo.saveRuleSet(body(lid, 2));
    await repo.saveRuleSet(body(lid, 3), { status: 'draft' });
    expect((await repo.latestApproved(lid))?.version).toBe(2);
    expect((await repo.getRuleSet({ id: lid, version: 1 })).version).toBe(1);
    // a no-op save does not change the stored status
    expect((await repo.saveRuleSet(body(lid, 3))).status).toBe('draft');
  });

  it('lists every version by id then version with status and description', async () => {
    const a = id('list-a');
    const b = id('list-b');
    await repo.saveRuleSet(body(b, 1));
    await repo.saveRuleSet(body(a, 2), { status: 'draft' });
    await repo.saveRuleSet(body(a, 1, (x) => void (x.description = 'first')));
    const mine = (await repo.listRuleSets()).filter((r) => r.id === a || r.id === b);
    expect(mine.map((r) => [r.id, r.version, r.status, r.description])).toEqual([
      [a, 1, 'approved', 'first'],
      [a, 2, 'draft', defaultRuleSet.description],
      [b, 1, 'approved', defaultRuleSet.description],
    ]);
    expect(mine[0]!.createdAt).toBeInstanceOf(Date);
  });

  it('a stored body that no longer validates is reported on read, not billed with', async () => {
    const cid = id('corrupt');
    await handle.db.insert(schema.ruleSets).values({ id: cid, version: 1, body: { id: cid, version: 1, rateCards: [] } });
    const err = await storeError(repo.getRuleSet({ id: cid, version: 1 }));
    expect(err.code).toBe('RULESET.INVALID');
    expect(err.meta.errors).toContain('rateCards: Too small: expected array to have >=1 items');
  });

  it('ensureDefaultRuleSets loads the shipped files once', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'q2c-rulesets-'));
    try {
      writeFileSync(path.join(dir, 'a.json'), JSON.stringify(body(id('shipped'), 1)));
      writeFileSync(path.join(dir, 'notes.txt'), 'not a rule set');
      expect(await ensureDefaultRuleSets(handle.db, dir)).toEqual([{ id: id('shipped'), version: 1, created: true }]);
      expect(await ensureDefaultRuleSets(handle.db, dir)).toEqual([{ id: id('shipped'), version: 1, created: false }]);
      // editing a shipped file without bumping its version is caught at start-up
      writeFileSync(path.join(dir, 'a.json'), JSON.stringify(body(id('shipped'), 1, (b) => void (b.intercompany.markupBp = 900))));
      expect((await storeError(ensureDefaultRuleSets(handle.db, dir))).code).toBe('RULESET.VERSION_CONFLICT');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ensureDefaultRuleSets with the shipped directory', () => {
  it('loads src/rules/rulesets/default.json into a fresh database', async () => {
    const handle = await openDb({ dataDir: 'memory://' });
    try {
      expect(DEFAULT_RULESETS_DIR.endsWith(path.join('src', 'rules', 'rulesets'))).toBe(true);
      expect(await ensureDefaultRuleSets(handle.db)).toContainEqual({ id: 'default', version: 1, created: true });
      expect((await new RuleSetRepository(handle.db).latestApproved('default'))?.rateCards.map((c) => c.id)).toEqual(['RC-STD', 'RC-BLENDED']);
    } finally {
      await handle.close();
    }
  });
});
