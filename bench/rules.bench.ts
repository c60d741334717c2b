/**
 * Rules engine throughput: classify + rate + group N generated time entries
 * across C contracts (default 1,000,000 across 1,000), then materialise the
 * canonical draft invoices (timed separately).
 *
 *   npm run bench:rules                                   # N = 1,000,000
 *   npm run bench:rules -- 100000                         # quick run
 *   npm run bench:rules -- 1000000 1000                   # N, contracts
 *   npm run bench:rules -- 1000000 1000 /tmp/q2c-base     # and the rules engine in /tmp/q2c-base/src/rules,
 *                                                         # alternating base, current, base, current in one process
 *
 * A baseline tree: `mkdir -p /tmp/q2c-base && git archive <commit> src | tar -x -C /tmp/q2c-base &&
 * ln -s "$PWD/node_modules" /tmp/q2c-base/node_modules`.
 *
 * Wall clock and process CPU time (process.cpuUsage: user + system, GC helper
 * threads included) are measured around the timed calls only; hashing and
 * bookkeeping are outside. The generator is seeded, so both hashes are the same on
 * every run and machine; a changed hash means changed billing results:
 *  - decision hash: every decision's class, amount and invoice key, in run order;
 *  - invoice hash:  every invoice's key, subtotal, line amounts and source counts.
 */
import { loadavg } from 'node:os';
import { Contract, RuleSetRef, type TimeEntry } from '../src/canonical';
import path from 'node:path';
import * as current from '../src/rules';
import { RuleSet, fnv1a64, type ClassTotals } from '../src/rules';

type Engine = Pick<typeof current, 'classTotals' | 'classifyDeliveries' | 'compileContract' | 'groupDecisions' | 'invoiceKeyOf' | 'materializeInvoices'>;

const N = Number(process.argv[2] ?? 1_000_000);
const CONTRACTS = Number(process.argv[3] ?? 1_000);
const BASE_DIR = process.argv[4];
const ASOF = '2025-07-01';

// mulberry32: tiny deterministic PRNG
const rng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const rand = rng(20251128);
const int = (n: number): number => Math.floor(rand() * n);

const ROLES = ['consultant', 'architect', 'pm', 'developer', 'analyst', 'designer', 'tester', 'engineer'];
const REGIONS = ['US', 'EU', 'UK', 'IN', 'APAC'];

const ruleSet = RuleSet.parse({
  id: 'bench',
  version: 1,
  rateCards: [
    {
      id: 'RC',
      currency: 'USD',
      overtimeMultiplierBp: 15000,
      rates: [
        ...ROLES.flatMap((role, i) =>
          REGIONS.flatMap((region, j) => [
            { role, region, from: '2025-01-01', to: '2025-03-31', hourlyRate: 9000 + i * 1500 + j * 700 },
            { role, region, from: '2025-04-01', hourlyRate: 9500 + i * 1500 + j * 700 },
          ]),
        ),
        { role: '*', region: '*', from: '2025-01-01', hourlyRate: 10000 },
      ],
    },
  ],
  expensePolicy: { default: { treatment: 'AT_COST' } },
  taxCodes: { SERVICES: { taxable: true } },
  intercompany: { markupBp: 800, costCard: { id: 'COST', currency: 'USD', rates: [{ role: '*', region: '*', from: '2025-01-01', hourlyRate: 5000 }] } },
});
const pin = RuleSetRef.parse({ id: 'bench', version: 1 });

const SCHEDULES = ['MONTHLY', 'MONTHLY', 'MONTHLY', 'WEEKLY', 'IMMEDIATE'] as const;

const contracts = Array.from({ length: CONTRACTS }, (_, k) => {
  const capped = k % 10 === 0; // 10 % of contracts carry a not-to-exceed cap
  const retainer = k % 25 === 7; // 4 % are retainers
  return Contract.parse({
    id: `C-${k}`,
    version: 1,
    status: 'ACTIVE',
    opportunityId: `O-${k}`,
    quoteId: `Q-${k}`,
    customerId: `CU-${k % 700}`,
    billToCustomerId: `CU-${k % 700}`,
    contractingLegalEntityId: k % 3 === 0 ? 'LE-EU' : 'LE-US',
    currency: 'USD',
    paymentTerms: { netDays: 30 },
    poNumber: k % 4 === 0 ? undefined : `PO-${k}`,
    startDate: '2025-01-01',
    endDate: '2025-12-31',
    ruleSet: pin,
    lines: [
      {
        id: `L-${k}-1`, quoteLineId: `QL-${k}-1`, billingModel: retainer ? 'RETAINER' : 'TIME_AND_MATERIALS',
        startDate: '2025-01-01', endDate: '2025-12-31', taxCode: 'SERVICES', revenueTreatment: retainer ? 'AS_DRAWN' : 'AS_INVOICED',
        invoiceSchedule: SCHEDULES[k % SCHEDULES.length], rateCardRef: 'RC', discountBp: (k % 5) * 250,
        cap: capped ? { notToExceed: { amountMinor: 40_000_000, currency: 'USD' }, toleranceBp: 500 } : undefined,
        retainer: retainer ? { prepaid: { amountMinor: 30_000_000, currency: 'USD' }, expiresOn: '2025-12-31', overage: 'BILL' } : undefined,
        allocatedValue: { amountMinor: 500_000_000, currency: 'USD' },
      },
      {
        id: `L-${k}-2`, quoteLineId: `QL-${k}-2`, billingModel: 'TIME_AND_MATERIALS', startDate: '2025-03-01', endDate: '2025-12-31',
        taxCode: 'SERVICES', revenueTreatment: 'AS_INVOICED', invoiceSchedule: 'MONTHLY', rateCardRef: 'RC',
        allocatedValue: { amountMinor: 500_000_000, currency: 'USD' },
      },
    ],
  });
});

// Generate entries bucketed per contract (already validated canonical objects: zod runs at
// the boundary when events arrive, not in the billing loop).
const gen0 = performance.now();
const batches: TimeEntry[][] = contracts.map(() => []);
const days: string[] = [];
for (let d = 0; d < 200; d++) {
  const t = new Date(Date.UTC(2025, 0, 1 + d));
  days.push(t.toISOString().slice(0, 10));
}
// Entries arrive per contract (a PSA export or a batched signal), so each contract's
// entries are generated together; which contract gets how many is still random.
const counts = new Int32Array(CONTRACTS);
for (let i = 0; i < N; i++) counts[int(CONTRACTS)]! += 1;
const NO_IDS = Object.freeze({}) as Record<string, string>;
let seq = 0;
for (let k = 0; k < CONTRACTS; k++) {
  const c = contracts[k]!;
  const batch = batches[k]!;
  for (let j = 0; j < counts[k]!; j++) {
    const i = seq++;
    const dup = j > 0 && int(1000) === 0; // 0.1 % duplicate deliveries
    const id = dup ? `TE-${i - 1}` : `TE-${i}`;
    const line = int(4) === 0 ? 1 : 0;
    batch.push({
      id,
      projectId: `P-${k}`,
      contractId: c.id,
      contractLineId: c.lines[line]!.id,
      taskId: int(20) === 0 ? 'TASK-NB' : 'TASK-1',
      role: ROLES[int(ROLES.length)]!,
      region: REGIONS[int(REGIONS.length)]!,
      resourceLegalEntityId: int(5) === 0 ? 'LE-IN' : c.contractingLegalEntityId,
      workDate: days[int(days.length)]!,
      minutes: 15 * (1 + int(40)),
      approved: int(50) !== 0,
      overtime: int(10) === 0,
      externalIds: NO_IDS,
    });
  }
}
const genMs = performance.now() - gen0;
const project = { phases: [{ id: 'PH', name: 'ph', milestones: [], tasks: [{ id: 'TASK-1', name: 't', billable: true }, { id: 'TASK-NB', name: 'nb', billable: false }] }] };

const gc = (globalThis as { gc?: () => void }).gc;

/** FNV-1a-style mixing over 32-bit words, two lanes (64 bits): cheap enough to run per decision. */
class WordHash {
  private h1 = 0x811c9dc5 | 0;
  private h2 = 0x01000193 | 0;
  word(x: number): void {
    this.h1 = Math.imul(this.h1 ^ x, 0x01000193);
    this.h2 = Math.imul(this.h2 ^ x, 0x5bd1e995) ^ (this.h2 >>> 15);
  }
  /** A non-negative safe integer (amounts in minor units) as two words. */
  amount(n: number): void {
    this.word(n % 0x100000000);
    this.word(Math.floor(n / 0x100000000));
  }
  hex(): string {
    return (this.h2 >>> 0).toString(16).padStart(8, '0') + (this.h1 >>> 0).toString(16).padStart(8, '0');
  }
}

const keyWords = new Map<string, number>();
/** 32-bit id of an invoice key (its FNV-1a 64 low word), cached: decisions fold in the key's id, not the string. */
const keyWord = (key: string | undefined): number => {
  if (key === undefined) return -1;
  let w = keyWords.get(key);
  if (w === undefined) keyWords.set(key, (w = parseInt(fnv1a64(key).slice(8), 16) | 0));
  return w;
};
const CLASS_INDEX: Record<string, number> = { BILLABLE: 0, DEFERRED: 1, CAPPED: 2, EXCLUDED: 3 };

interface PhaseResult {
  name: string;
  classifyWall: number;
  classifyCpu: number;
  materializeWall: number;
  materializeCpu: number;
  decisions: number;
  invoices: number;
  lines: number;
  totals: ClassTotals;
  decisionHash: string;
  invoiceHash: string;
  peakHeap: number;
}

const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const runPhase = (name: string, R: Engine): PhaseResult => {
  gc?.();
  let peakHeap = process.memoryUsage().heapUsed;
  const r: PhaseResult = {
    name, classifyWall: 0, classifyCpu: 0, materializeWall: 0, materializeCpu: 0, decisions: 0, invoices: 0, lines: 0,
    totals: { BILLABLE: 0, DEFERRED: 0, CAPPED: 0, EXCLUDED: 0, delivered: 0 }, decisionHash: '', invoiceHash: '', peakHeap: 0,
  };
  const dh = new WordHash();
  const hashParts: string[] = [];
  for (let k = 0; k < contracts.length; k++) {
    // timed: compile + classify + rate + group + class totals
    let w = performance.now();
    let c = cpuNow();
    const cc = R.compileContract(contracts[k]!, ruleSet, project);
    const decisions = R.classifyDeliveries(cc, { timeEntries: batches[k]! }, ASOF, { scheduledCharges: false }).decisions;
    const grouping = R.groupDecisions(cc, decisions);
    const totals = R.classTotals(decisions);
    r.classifyWall += performance.now() - w;
    r.classifyCpu += cpuNow() - c;
    // timed: materialise canonical draft invoices
    w = performance.now();
    c = cpuNow();
    const invoices = R.materializeInvoices(cc, grouping, { asOf: ASOF });
    r.materializeWall += performance.now() - w;
    r.materializeCpu += cpuNow() - c;
    // not timed: bookkeeping and hashes
    for (const cls of ['BILLABLE', 'DEFERRED', 'CAPPED', 'EXCLUDED', 'delivered'] as const) r.totals[cls] += totals[cls];
    for (const d of decisions) {
      dh.word(CLASS_INDEX[d.billingClass]!);
      dh.amount(d.amountMinor);
      dh.word(keyWord(d.billingClass === 'BILLABLE' && d.lineKey !== undefined ? R.invoiceKeyOf(cc, cc.lines.get(d.contractLineId)!, d) : undefined));
    }
    r.decisions += decisions.length;
    r.invoices += invoices.length;
    for (const inv of invoices) {
      r.lines += inv.lines.length;
      hashParts.push(`${inv.invoiceKey}=${inv.subtotal.amountMinor}:${inv.lines.map((l) => `${l.amount.amountMinor}/${l.sourceItemIds.length}`).join(',')}`);
    }
    if ((k & 63) === 0) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  }
  r.peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  r.decisionHash = dh.hex();
  r.invoiceHash = fnv1a64(hashParts.join('\n'));
  return r;
};

// eslint-disable-next-line @typescript-eslint/no-require-imports -- a second copy of the engine, from another tree
const base: Engine | undefined = BASE_DIR ? (require(path.resolve(BASE_DIR, 'src', 'rules')) as Engine) : undefined;
const results = base ? [runPhase('base', base), runPhase('current', current), runPhase('base', base), runPhase('current', current)] : [runPhase('current', current)];


const mb = (b: number): string => (b / 1024 / 1024).toFixed(0) + ' MB';
const rate = (ms: number): string => Math.round((N / ms) * 1000).toLocaleString('en-US').padStart(10);
console.log(`entries            ${N.toLocaleString('en-US')} across ${CONTRACTS.toLocaleString('en-US')} contracts (generated in ${genMs.toFixed(0)} ms); node ${process.version}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log('phase      segment                    wall ms    CPU ms   entries/s (wall)  entries per CPU-second');
for (const r of results) {
  const row = (seg: string, wall: number, cpu: number) =>
    console.log(`${r.name.padEnd(10)} ${seg.padEnd(24)} ${wall.toFixed(0).padStart(9)} ${cpu.toFixed(0).padStart(9)}        ${rate(wall)}              ${rate(cpu)}`);
  row('classify+rate+group', r.classifyWall, r.classifyCpu);
  row('materialise invoices', r.materializeWall, r.materializeCpu);
  row('all of the above', r.classifyWall + r.materializeWall, r.classifyCpu + r.materializeCpu);
}
for (const r of results) {
  const t = r.totals;
  console.log(`${r.name.padEnd(10)} decisions ${r.decisions.toLocaleString('en-US')}; invoices ${r.invoices.toLocaleString('en-US')}; invoice lines ${r.lines.toLocaleString('en-US')}; peak heap ${mb(r.peakHeap)}`);
  console.log(`${r.name.padEnd(10)} totals (USD minor) billable ${t.BILLABLE} deferred ${t.DEFERRED} capped ${t.CAPPED} excluded ${t.EXCLUDED} = delivered ${t.delivered}; conservation ${t.BILLABLE + t.DEFERRED + t.CAPPED + t.EXCLUDED === t.delivered ? 'ok' : 'BROKEN'}`);
  console.log(`${r.name.padEnd(10)} decision hash ${r.decisionHash}; invoice hash ${r.invoiceHash}`);
}
if (results.length > 1) {
  const same = results.every((r) => r.decisionHash === results[0]!.decisionHash && r.invoiceHash === results[0]!.invoiceHash);
  console.log(`phases agree       ${same ? 'yes (same decision and invoice hashes)' : 'NO: the engines disagree'}`);
  if (!same) process.exitCode = 1;
}
console.log(`peak RSS           ${mb(process.resourceUsage().maxRSS * 1024)}`);
