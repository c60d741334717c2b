import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { and, asc, desc, eq, inArray } from 'drizzle-orm';
import { parseRuleSet, parseRuleSetText, type RuleSet } from '../rules';
import type { Db } from './index';
import { ruleSets } from './schema';

/**
 * draft: stored, not in force (a proposal awaiting its decision); approved: in force, what new
 * contracts pin; retired: no longer pinned by new contracts; rejected / expired: a proposal that
 * was refused or never decided, kept for the record and never pinned.
 */
export type RuleSetStatus = 'draft' | 'approved' | 'retired' | 'rejected' | 'expired';
export const RULESET_STATUSES: readonly RuleSetStatus[] = ['draft', 'approved', 'retired', 'rejected', 'expired'];

/** What the governance workflow records on a version: plain JSON, log-safe (names, dates, notes). */
export type RuleSetGovernance = Record<string, unknown>;

export type RuleSetStoreErrorCode = 'RULESET.NOT_FOUND' | 'RULESET.INVALID' | 'RULESET.VERSION_CONFLICT' | 'RULESET.STATUS_CONFLICT';

/**
 * Rule-set storage failures. None is retryable: a missing pinned version, a body
 * that fails validation and a second body for an existing version all need a person.
 */
export class RuleSetStoreError extends Error {
  override name = 'RuleSetStoreError';
  readonly retryable = false;
  constructor(
    readonly code: RuleSetStoreErrorCode,
    message: string,
    /** Log-safe: ids, versions and validation messages (field paths), never a rule-set body. */
    readonly meta: Readonly<{ id?: string; version?: number; errors?: readonly string[] }> = {},
  ) {
    super(message);
  }
}

export interface RuleSetSummary {
  id: string;
  version: number;
  status: RuleSetStatus;
  description: string;
  createdAt: Date;
  /** Set for versions that went through a governance proposal. */
  governance?: RuleSetGovernance;
}

export interface SaveRuleSetResult {
  /** false when this exact version was already stored with the same body (a no-op). */
  created: boolean;
  ruleSet: RuleSet;
  /** The stored status (an existing row keeps its own). */
  status: RuleSetStatus;
}

/**
 * JSON with object keys sorted, so two bodies compare equal whatever key order
 * they were written in (jsonb returns keys in its own order).
 */
const canonicalJson = (v: unknown): string => {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
};

const parseStored = (id: string, version: number, body: unknown): RuleSet => {
  const parsed = parseRuleSet(body);
  if (!parsed.ok) {
    throw new RuleSetStoreError('RULESET.INVALID', `stored rule set ${id}@${version} no longer validates: ${parsed.errors.join('; ')}`, {
      id,
      version,
      errors: parsed.errors,
    });
  }
  return parsed.ruleSet;
};

/**
 * Versioned rule sets in the `rule_sets` table. A version is immutable once
 * stored: contracts pin `{ id, version }`, so changing billing means loading a
 * new version (no redeploy), never editing one in place.
 */
export class RuleSetRepository {
  constructor(private readonly db: Db) {}

  /**
   * Validate and store a rule set. The parsed form (defaults filled in) is what is
   * stored, so a read gives back exactly what was validated. Saving a version that
   * exists is a no-op when the body is the same and RULESET.VERSION_CONFLICT otherwise.
   */
  async saveRuleSet(input: unknown, opts: { status?: RuleSetStatus; governance?: RuleSetGovernance } = {}): Promise<SaveRuleSetResult> {
    const parsed = parseRuleSet(input);
    if (!parsed.ok) {
      const ref = input as { id?: unknown; version?: unknown } | null;
      const label = typeof ref?.id === 'string' ? `${ref.id}@${String(ref.version)}` : 'rule set';
      throw new RuleSetStoreError('RULESET.INVALID', `${label} is invalid: ${parsed.errors.join('; ')}`, { errors: parsed.errors });
    }
    const ruleSet = parsed.ruleSet;
    const status = opts.status ?? 'approved';
    // Insert-or-nothing, then compare: safe when two loaders race on the same version.
    const inserted = await this.db
      .insert(ruleSets)
      .values({ id: ruleSet.id, version: ruleSet.version, body: ruleSet, status, ...(opts.governance ? { governance: opts.governance } : {}) })
      .onConflictDoNothing()
      .returning({ status: ruleSets.status });
    if (inserted.length === 1) return { created: true, ruleSet, status };
    const [row] = await this.db
      .select({ body: ruleSets.body, status: ruleSets.status })
      .from(ruleSets)
      .where(and(eq(ruleSets.id, ruleSet.id), eq(ruleSets.version, ruleSet.version)));
    if (!row) throw new Error(`rule set ${ruleSet.id}@${ruleSet.version}: insert conflicted but no row was found`);
    const stored = parseRuleSet(row.body);
    if (!stored.ok || canonicalJson(stored.ruleSet) !== canonicalJson(ruleSet)) {
      throw new RuleSetStoreError(
        'RULESET.VERSION_CONFLICT',
        `rule set ${ruleSet.id}@${ruleSet.version} already exists with a different body; versions are immutable, load it as version ${ruleSet.version + 1} or later`,
        { id: ruleSet.id, version: ruleSet.version },
      );
    }
    return { created: false, ruleSet: stored.ruleSet, status: row.status };
  }

  /** The pinned version, validated on read; RULESET.NOT_FOUND when it is not stored. Retired versions are still returned (contracts pinned to them still bill). */
  async getRuleSet(ref: { id: string; version: number }): Promise<RuleSet> {
    const [row] = await this.db
      .select({ body: ruleSets.body })
      .from(ruleSets)
      .where(and(eq(ruleSets.id, ref.id), eq(ruleSets.version, ref.version)));
    if (!row) {
      throw new RuleSetStoreError('RULESET.NOT_FOUND', `rule set ${ref.id}@${ref.version} is not in the database (load it with: q2c ruleset load <file>)`, {
        id: ref.id,
        version: ref.version,
      });
    }
    return parseStored(ref.id, ref.version, row.body);
  }

  /** Every stored version, by id then version. */
  async listRuleSets(): Promise<RuleSetSummary[]> {
    const rows = await this.db.select().from(ruleSets).orderBy(asc(ruleSets.id), asc(ruleSets.version));
    return rows.map((r) => {
      const description = (r.body as { description?: unknown } | null)?.description;
      return {
        id: r.id,
        version: r.version,
        status: r.status,
        description: typeof description === 'string' ? description : '',
        createdAt: r.createdAt,
        ...(r.governance ? { governance: r.governance } : {}),
      };
    });
  }

  /** One version with its status and governance record; RULESET.NOT_FOUND when it is not stored. */
  async getRecord(ref: { id: string; version: number }): Promise<{ ruleSet: RuleSet; status: RuleSetStatus; governance?: RuleSetGovernance; createdAt: Date }> {
    const [row] = await this.db.select().from(ruleSets).where(and(eq(ruleSets.id, ref.id), eq(ruleSets.version, ref.version)));
    if (!row) throw new RuleSetStoreError('RULESET.NOT_FOUND', `rule set ${ref.id}@${ref.version} is not in the database`, { id: ref.id, version: ref.version });
    return { ruleSet: parseStored(ref.id, ref.version, row.body), status: row.status, createdAt: row.createdAt, ...(row.governance ? { governance: row.governance } : {}) };
  }

  /**
   * Moves a version from one of `from` to `to`, recording `governance` with it. Repeating a
   * transition that already happened is a no-op (changed: false), so a retried activity is
   * harmless; a version in any other status is RULESET.STATUS_CONFLICT. The body never changes.
   */
  async transition(ref: { id: string; version: number }, t: { from: readonly RuleSetStatus[]; to: RuleSetStatus; governance?: RuleSetGovernance }): Promise<{ status: RuleSetStatus; changed: boolean }> {
    const updated = await this.db
      .update(ruleSets)
      .set({ status: t.to, ...(t.governance ? { governance: t.governance } : {}) })
      .where(and(eq(ruleSets.id, ref.id), eq(ruleSets.version, ref.version), inArray(ruleSets.status, [...t.from])))
      .returning({ status: ruleSets.status });
    if (updated.length === 1) return { status: t.to, changed: true };
    const [row] = await this.db.select({ status: ruleSets.status }).from(ruleSets).where(and(eq(ruleSets.id, ref.id), eq(ruleSets.version, ref.version)));
    if (!row) throw new RuleSetStoreError('RULESET.NOT_FOUND', `rule set ${ref.id}@${ref.version} is not in the database`, { id: ref.id, version: ref.version });
    if (row.status === t.to) return { status: t.to, changed: false };
    throw new RuleSetStoreError('RULESET.STATUS_CONFLICT', `rule set ${ref.id}@${ref.version} is ${row.status}; only ${t.from.join(' or ')} can become ${t.to}`, { id: ref.id, version: ref.version });
  }

  /** The highest approved version of `id` (what a new contract version pins), or undefined. */
  async latestApproved(id: string): Promise<RuleSet | undefined> {
    const [row] = await this.db
      .select({ version: ruleSets.version, body: ruleSets.body })
      .from(ruleSets)
      .where(and(eq(ruleSets.id, id), eq(ruleSets.status, 'approved')))
      .orderBy(desc(ruleSets.version))
      .limit(1);
    return row ? parseStored(id, row.version, row.body) : undefined;
  }
}

/** The rule-set files shipped with q2c (src/rules/rulesets/*.json). */
export const DEFAULT_RULESETS_DIR = path.join(__dirname, '..', 'rules', 'rulesets');

/**
 * Load the shipped rule sets that are not in the database yet (for `npm start`).
 * Already-loaded versions are left alone; a shipped file whose body differs from
 * the stored version fails with RULESET.VERSION_CONFLICT (bump its version).
 */
export async function ensureDefaultRuleSets(db: Db, dir: string = DEFAULT_RULESETS_DIR): Promise<Array<{ id: string; version: number; created: boolean }>> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  const repo = new RuleSetRepository(db);
  const out: Array<{ id: string; version: number; created: boolean }> = [];
  for (const f of files) {
    const file = path.join(dir, f);
    const parsed = parseRuleSetText(await readFile(file, 'utf8'), 'json');
    if (!parsed.ok) throw new RuleSetStoreError('RULESET.INVALID', `${file}: ${parsed.errors.join('; ')}`, { errors: parsed.errors });
    const r = await repo.saveRuleSet(parsed.ruleSet);
    out.push({ id: r.ruleSet.id, version: r.ruleSet.version, created: r.created });
  }
  return out;
}
