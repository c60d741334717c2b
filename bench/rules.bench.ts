/**
 * Rules engine throughput: classify + rate + group N generated time entries
 * across C contracts (default 1,000,000 across 1,000).
 *
 *   npm run bench:rules                 # N = 1,000,000
 *   npm run bench:rules -- 100000       # quick run
 *   npm run bench:rules -- 1000000 1000 # N, contracts
 *
 * The generator is seeded, so the output hash is the same on every run and
 * machine; a changed hash means changed billing results.
 */
import { Contract, RuleSetRef, type TimeEntry } from '../src/canonical';
import {
  RuleSet, classTotals, classifyDeliveries, compileContract, fnv1a64, groupDecisions, materializeInvoices, type Decision, type InvoiceGrouping,
} from '../src/rules';

const N = Number(process.argv[2] ?? 1_000_000);
const CONTRACTS = Number(process.argv[3] ?? 1_000);
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
gc?.();
let peakHeap = process.memoryUsage().heapUsed;

const t0 = performance.now();
const cpu0 = process.cpuUsage();
let classifyMs = 0;
let groupMs = 0;
const totals = { BILLABLE: 0, DEFERRED: 0, CAPPED: 0, EXCLUDED: 0, delivered: 0 };
let invoiceCount = 0;
let lineCount = 0;
let h = '';
let decisionsCount = 0;
const hashParts: string[] = [];
for (let k = 0; k < contracts.length; k++) {
  const cc = compileContract(contracts[k]!, ruleSet, project);
  const a = performance.now();
  const run = classifyDeliveries(cc, { timeEntries: batches[k]! }, ASOF, { scheduledCharges: false });
  const b = performance.now();
  const grouping: InvoiceGrouping = groupDecisions(cc, run.decisions);
  const invoices = materializeInvoices(cc, grouping, { asOf: ASOF });
  classifyMs += b - a;
  groupMs += performance.now() - b;
  decisionsCount += run.decisions.length;
  const t = classTotals(run.decisions as Decision[]);
  totals.BILLABLE += t.BILLABLE;
  totals.DEFERRED += t.DEFERRED;
  totals.CAPPED += t.CAPPED;
  totals.EXCLUDED += t.EXCLUDED;
  totals.delivered += t.delivered;
  invoiceCount += invoices.length;
  for (const inv of invoices) {
    lineCount += inv.lines.length;
    hashParts.push(`${inv.invoiceKey}=${inv.subtotal.amountMinor}:${inv.lines.map((l) => `${l.amount.amountMinor}/${l.sourceItemIds.length}`).join(',')}`);
  }
  if ((k & 63) === 0) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
}
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const cpuMs = (cpu.user + cpu.system) / 1000;
peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
h = fnv1a64(hashParts.join('\n'));

const mb = (b: number): string => (b / 1024 / 1024).toFixed(0) + ' MB';
console.log(`entries            ${N.toLocaleString('en-US')} across ${CONTRACTS.toLocaleString('en-US')} contracts (generated in ${genMs.toFixed(0)} ms)`);
console.log(`classify+rate+group ${ms.toFixed(0)} ms`);
console.log(`  of which          classify+rate ${classifyMs.toFixed(0)} ms, group+materialise ${groupMs.toFixed(0)} ms; process CPU ${cpuMs.toFixed(0)} ms (GC threads included)`);
console.log(`throughput         ${Math.round((N / ms) * 1000).toLocaleString('en-US')} entries/s (wall clock); ${Math.round((N / cpuMs) * 1000).toLocaleString('en-US')} entries per CPU-second`);
console.log(`decisions          ${decisionsCount.toLocaleString('en-US')}; invoices ${invoiceCount.toLocaleString('en-US')}; invoice lines ${lineCount.toLocaleString('en-US')}`);
console.log(`totals (USD minor) billable ${totals.BILLABLE} deferred ${totals.DEFERRED} capped ${totals.CAPPED} excluded ${totals.EXCLUDED} = delivered ${totals.delivered}`);
console.log(`conservation       ${totals.BILLABLE + totals.DEFERRED + totals.CAPPED + totals.EXCLUDED === totals.delivered ? 'ok' : 'BROKEN'}`);
console.log(`peak RSS           ${mb(process.resourceUsage().maxRSS * 1024)}; peak heap used ${mb(peakHeap)}`);
console.log(`output hash        ${h}`);
