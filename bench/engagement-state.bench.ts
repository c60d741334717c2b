/**
 * Engagement state (issue 12, item 4): how much the deal's delivery part costs to keep, measured
 * on a base commit and on the current tree in one run, with the ratio current/base.
 *
 *   npm run bench:engagement-state                                    # base: merge-base of HEAD and b3346a9; current: the working tree
 *   npm run bench:engagement-state -- --deals 50                      # quick run (fewer cached deals)
 *   npm run bench:engagement-state -- --base <commit> --current HEAD  # any two commits (current: a worktree of that commit)
 *   npm run bench:engagement-state -- --repeat 2 --only cached        # base, current, base, current; one figure
 *   options: --entries 100 --warmup 5 --evict-cache <n> --max-history 1000 --keep (leave the worktrees)
 *
 * Figures (bench/engagement-state.measure.ts says how each is taken):
 *   cached   cached deals per GB of worker memory on the month-end profile: N deals x 100 approved
 *            time entries, each issued its invoice and idle on its timer in the worker's cache; the
 *            workflow thread's V8 heap (and the process RSS) after a forced GC, before and after,
 *            per cached run; plus an evict check with a cache that holds half of them.
 *   carried  the serialised state a 3-year weekly-billed deal carries across continue-as-new: the
 *            input payload of each WorkflowExecutionContinuedAsNew event (last and largest).
 *
 * The base commit is checked out with `git worktree add` in a temporary directory, node_modules and
 * .temporal are symlinked into it, and this tree's measurement module is copied there, so both
 * sides run the same measuring code against their own src/ and test/. Each figure of each side runs
 * in a process of its own (memory figures never mix), base first, then current, alternately when
 * repeated. The worktrees are removed at the end.
 */
import { spawn, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { CachedPhase, CachedResult, CarriedResult } from './engagement-state.measure';

const REPO = resolve(__dirname, '..');
const MEASURE = 'bench/engagement-state.measure.ts';
/** The commit before the engagement-core refactor (issue 12): the default base is its merge-base with HEAD. */
const DEFAULT_BASE = 'b3346a9';
const GIB = 2 ** 30;

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    current: { type: 'string' },
    deals: { type: 'string', default: '200' },
    entries: { type: 'string', default: '100' },
    warmup: { type: 'string', default: '5' },
    'evict-cache': { type: 'string' },
    'max-history': { type: 'string', default: '1000' },
    repeat: { type: 'string', default: '1' },
    only: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});

const git = (...args: string[]) => execFileSync('git', args, { cwd: REPO, encoding: 'utf8' }).trim();
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');

interface Tree {
  label: 'base' | 'current';
  root: string;
  describe: string;
  worktree: boolean;
}

const worktrees: string[] = [];
function removeWorktrees(): void {
  for (const dir of worktrees.splice(0)) {
    if (values.keep) {
      console.log(`kept worktree ${dir} (git worktree remove --force ${dir})`);
      continue;
    }
    try {
      git('worktree', 'remove', '--force', dir);
    } catch {
      rmSync(dir, { recursive: true, force: true });
      git('worktree', 'prune');
    }
  }
}

/** A detached worktree of `commit` that runs this tree's measurement module against its own src/ and test/. */
function worktreeOf(label: Tree['label'], commit: string): Tree {
  const dir = mkdtempSync(join(tmpdir(), `q2c-engagement-${label}-`));
  git('worktree', 'add', '--detach', '--quiet', dir, commit);
  worktrees.push(dir);
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  // The Temporal toolchain is found under the repository root (src/cli/toolchain.ts).
  if (existsSync(join(REPO, '.temporal'))) symlinkSync(join(REPO, '.temporal'), join(dir, '.temporal'));
  copyFileSync(join(REPO, MEASURE), join(dir, MEASURE));
  return { label, root: dir, describe: `${git('log', '-1', '--format=%h %s', commit).slice(0, 100)}`, worktree: true };
}

interface Run<R> {
  result: R;
  seconds: number;
}

/** Runs one figure in its own process in `tree`; progress lines are echoed, the rest kept for an error report. */
function measure<R>(tree: Tree, figure: 'cached' | 'carried', args: string[]): Promise<Run<R>> {
  const t0 = performance.now();
  const child = spawn(join(REPO, 'node_modules', '.bin', 'tsx'), [join(tree.root, MEASURE), figure, ...args], { cwd: tree.root, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  let result: R | undefined;
  const keep = (line: string) => {
    tail.push(line);
    if (tail.length > 60) tail.shift();
  };
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith('RESULT ')) result = JSON.parse(line.slice(7)) as R;
    else keep(line);
  });
  createInterface({ input: child.stderr }).on('line', (line) => {
    if (line.startsWith('[measure')) console.log(`  ${tree.label.padEnd(7)} ${line}`);
    else keep(line);
  });
  return new Promise((resolvePromise, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 && result !== undefined) resolvePromise({ result, seconds: (performance.now() - t0) / 1000 });
      else reject(new Error(`${tree.label} (${tree.root}) ${figure} exited with ${code}:\n${tail.join('\n')}`));
    });
  });
}

// ---------------------------------------------------------------- figures

interface PerDeal {
  cachedRuns: number;
  heap: number;
  rss: number;
  mainHeap: number;
}
function perCachedRun(p: CachedPhase): PerDeal {
  const n = p.cachedAfter - p.cachedBefore;
  return { cachedRuns: n, heap: (p.after.threadHeapUsed - p.before.threadHeapUsed) / n, rss: (p.after.rss - p.before.rss) / n, mainHeap: (p.after.mainHeapUsed - p.before.mainHeapUsed) / n };
}

interface Row {
  figure: string;
  /** One value per run, base and current. */
  base: number[];
  current: number[];
  unit: (n: number) => string;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const kib = (n: number) => `${fmt(n / 1024)} KiB`;
const bytes = (n: number) => `${fmt(n)} B`;
const count = (n: number) => fmt(n);

function cachedRows(runs: Record<Tree['label'], CachedResult[]>): Row[] {
  const pick = (phase: number, f: (p: PerDeal, r: CachedResult) => number) => (label: Tree['label']) => runs[label].filter((r) => r.phases[phase]).map((r) => f(perCachedRun(r.phases[phase]!), r));
  const row = (figure: string, unit: Row['unit'], phase: number, f: (p: PerDeal, r: CachedResult) => number): Row => ({ figure, unit, base: pick(phase, f)('base'), current: pick(phase, f)('current') });
  const rows = [
    row('cached deals per GB, workflow-thread heap', count, 0, (p) => GIB / p.heap),
    row('cached deals per GB, process RSS', count, 0, (p) => GIB / p.rss),
    row('heap per cached deal (workflow thread)', kib, 0, (p) => p.heap),
    row('RSS per cached deal', kib, 0, (p) => p.rss),
    row('main-thread heap per cached deal (noise: +-MBs)', kib, 0, (p) => p.mainHeap),
    row('deals cached (numCachedWorkflows delta)', count, 0, (p) => p.cachedRuns),
    row('history events per deal (mean)', count, 0, (_p, r) => r.phases[0]!.historyEvents[1]),
  ];
  if (runs.base.some((r) => r.phases[1])) {
    rows.push(
      row('evict check: deals cached of those run', count, 1, (p) => p.cachedRuns),
      row('evict check: heap per cached deal', kib, 1, (p) => p.heap),
      row('evict check: that / all-cached heap per deal', (n) => n.toFixed(3), 1, (p, r) => p.heap / perCachedRun(r.phases[0]!).heap),
      row('evict check: RSS per cached deal', kib, 1, (p) => p.rss),
    );
  }
  return rows;
}

function carriedRows(runs: Record<Tree['label'], CarriedResult[]>): Row[] {
  const carried = (r: CarriedResult) => r.runs.filter((x) => x.inputBytes !== undefined);
  const row = (figure: string, unit: Row['unit'], f: (r: CarriedResult) => number): Row => ({ figure, unit, base: runs.base.map(f), current: runs.current.map(f) });
  return [
    row('carried input, last continue-as-new', bytes, (r) => carried(r).at(-1)?.inputBytes ?? 0),
    row('carried input, largest', bytes, (r) => Math.max(0, ...carried(r).map((x) => x.inputBytes!))),
    row('  of which resume (delivery carry), last', bytes, (r) => carried(r).at(-1)?.resumeBytes ?? 0),
    row('runs (continue-as-new + 1)', count, (r) => r.runs.length),
    row('history events per run (max)', count, (r) => Math.max(...r.runs.map((x) => x.historyEvents))),
    row('invoices paid, deal CLOSED (157 expected)', count, (r) => (r.stage === 'CLOSED' && r.paid === r.invoices ? r.paid : 0)),
  ];
}

function printTable(rows: Row[]): void {
  const cells = rows.map((r) => {
    const b = median(r.base);
    const c = median(r.current);
    return [r.figure, r.base.map(r.unit).join(' / '), r.current.map(r.unit).join(' / '), b > 0 && c > 0 ? (c / b).toFixed(3) : '-'];
  });
  const head = ['figure', 'base', 'current', 'current/base'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join(' | ')} |`;
  console.log(line(head));
  console.log(`| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`);
  for (const c of cells) console.log(line(c));
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const t0 = performance.now();
  const baseCommit = values.base ? git('rev-parse', '--verify', `${values.base}^{commit}`) : git('merge-base', 'HEAD', DEFAULT_BASE);
  const figures = (values.only ? [values.only] : ['cached', 'carried']) as Array<'cached' | 'carried'>;
  if (figures.some((f) => f !== 'cached' && f !== 'carried')) throw new Error(`--only cached|carried (got ${values.only})`);
  const repeat = Number(values.repeat);
  const cachedArgs = ['--deals', values.deals, '--entries', values.entries, '--warmup', values.warmup, ...(values['evict-cache'] !== undefined ? ['--evict-cache', values['evict-cache']] : [])];
  const carriedArgs = ['--max-history', values['max-history']];

  console.log(`engagement-state bench, ${new Date().toISOString()}`);
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / GIB)} GB, Node ${process.version}; load ${load()}`);
  console.log(`command: npm run bench:engagement-state -- ${process.argv.slice(2).join(' ')}`.trimEnd());

  const base = worktreeOf('base', baseCommit);
  let current: Tree;
  if (values.current) {
    current = worktreeOf('current', git('rev-parse', '--verify', `${values.current}^{commit}`));
  } else {
    const changed = git('status', '--porcelain', '--', 'src', 'test').split('\n').filter(Boolean).length;
    current = { label: 'current', root: REPO, describe: `working tree: HEAD ${git('log', '-1', '--format=%h %s').slice(0, 80)} + ${changed} changed paths in src/ and test/`, worktree: false };
  }
  console.log(`base:    ${base.describe} (${base.root})`);
  console.log(`current: ${current.describe}${current.worktree ? ` (${current.root})` : ''}\n`);

  const cached: Record<Tree['label'], CachedResult[]> = { base: [], current: [] };
  const carried: Record<Tree['label'], CarriedResult[]> = { base: [], current: [] };
  const seconds: Record<string, number[]> = {};
  for (let r = 0; r < repeat; r++) {
    for (const figure of figures) {
      for (const tree of [base, current]) {
        console.log(`${figure} / ${tree.label} (round ${r + 1} of ${repeat}), load ${load()}`);
        if (figure === 'cached') {
          const run = await measure<CachedResult>(tree, figure, cachedArgs);
          cached[tree.label].push(run.result);
          (seconds[`${figure} ${tree.label}`] ??= []).push(run.seconds);
        } else {
          const run = await measure<CarriedResult>(tree, figure, carriedArgs);
          carried[tree.label].push(run.result);
          (seconds[`${figure} ${tree.label}`] ??= []).push(run.seconds);
        }
      }
    }
  }

  console.log(`\nresults (${repeat} run${repeat > 1 ? 's' : ''} per side; ratio of medians)\n`);
  const rows = [...(figures.includes('cached') ? cachedRows(cached) : []), ...(figures.includes('carried') ? carriedRows(carried) : [])];
  printTable(rows);
  if (figures.includes('cached')) {
    const c = cached.current.at(-1)!;
    console.log(`\ncached: ${c.deals} deals x ${c.entries} entries after ${c.warmup} warm-up deals; messages from ${cached.base[0]!.messagesFrom} (base), ${c.messagesFrom} (current)`);
  }
  if (figures.includes('carried')) {
    const parts = Object.entries(carried.current.at(-1)!.lastStateParts).slice(0, 6).map(([k, v]) => `${k} ${fmt(v)}`);
    const bparts = Object.entries(carried.base.at(-1)!.lastStateParts).slice(0, 6).map(([k, v]) => `${k} ${fmt(v)}`);
    console.log(`carried: largest parts of the last carried state (bytes of JSON): base ${bparts.join(', ')}; current ${parts.join(', ')}`);
    console.log(`carried: input bytes per continue-as-new: base ${carried.base.at(-1)!.runs.filter((x) => x.inputBytes).map((x) => fmt(x.inputBytes!)).join(', ')}; current ${carried.current.at(-1)!.runs.filter((x) => x.inputBytes).map((x) => fmt(x.inputBytes!)).join(', ')}`);
  }
  console.log(`\nseconds per process: ${Object.entries(seconds).map(([k, v]) => `${k} ${v.map((s) => fmt(s)).join(', ')}`).join('; ')}`);
  console.log(`total ${fmt((performance.now() - t0) / 1000)} s; load at end ${load()}`);
}

process.on('SIGINT', () => {
  removeWorktrees();
  process.exit(130);
});
main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(removeWorktrees);
