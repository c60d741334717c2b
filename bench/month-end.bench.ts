/**
 * Month-end at the ERP's own limit (issues 6 and 16): D deals x E approved time entries are
 * delivered through the service's signed Kantata relay endpoint and invoiced through the real
 * billing path by q2c's own worker process, against the floor under it, all in one run.
 *
 *   npm run bench:month-end                                  # 1,000 deals x 100 entries
 *   npm run bench:month-end -- --deals 100 --entries 20      # a quick run
 *   npm run bench:month-end -- --profile                     # and a CPU profile of the worker
 *
 * The stack (bench/chaos/processes.ts): PostgreSQL in a temporary directory, the Temporal dev
 * server, the vendor sandboxes in this process (NetSuite with its account governor: G requests
 * in flight, each held P ms, 429 CONCURRENCY_LIMIT_EXCEEDED beyond), and q2c's deployment
 * entry points as child processes: the service (src/service/main.ts) and one worker
 * (src/worker.ts) with ERP_CONCURRENCY = G.
 *
 * Deals: half contracted by LE-US in USD at $150.00/h (the shipped rule set), half by LE-DE in
 * EUR at EUR 144.00/h (a rule set the bench approves), eight deals per customer. Each is started
 * in IN_DELIVERY (its continue-as-new input; setup, not timed) and receives last month's approved
 * time as signed `time-entry-approved` relay events through the service, plus a second event
 * re-delivering 20 % of them (a sweep overlap; it must change nothing). The deals have no PSA
 * project, so issuing writes back to the CRM only: the Kantata write-back would need the month's
 * 100,000 entries seeded in the PSA sandbox first.
 *
 * Month-end is the moment every deal's daily pass finds the month closed with its entries in
 * the inbox. The bench makes that moment by delivering the month while no worker runs (the
 * signals wait in the deals' histories, as entries delivered during the month wait in their
 * inboxes) and then starting the worker: all runs fire together, as at midnight on the 1st.
 *
 * Phases, in this order:
 *   latency, idle   P probe deals on the IMMEDIATE schedule, one approved entry each, one at a
 *                   time on the quiet stack: entry posted to the service -> invoice in NetSuite;
 *   intake          the month's relay events posted to the service with no worker running;
 *   month-end       the worker starts: timed from its "worker running" to the last invoice
 *                   recorded (its CRM write-back, the last step of issuing), with up to P more
 *                   probes posted during it, one every --probe-every ms (invoice latency under
 *                   month-end load);
 *   engine ceiling  D no-op workflows with the same signals and sequential no-op activities per
 *                   deal as the month-end histories show, made to wait the same way, then a
 *                   worker in this process started: what Temporal alone allows on this machine;
 *   vendor floor    the NetSuite requests the month-end made x P ms / G: what the governor allows.
 *
 * Checked: one NetSuite invoice per deal (more is a duplicate), every entry on exactly one
 * invoice (audit links), invoiced subtotals equal to the hand formula per currency, and no
 * governor refusal.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { Command } from 'commander';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { loadCatalog } from '../src/activities/deal/catalog';
import { contractFromQuote } from '../src/activities/deal/mapping';
import type { Customer, Quote } from '../src/canonical';
import { sandboxConnectorsConfig } from '../src/cli/dev-secrets';
import { REPO_ROOT } from '../src/cli/toolchain';
import { EncryptionCodec, parseEncryptionKeys } from '../src/codec/encryption.codec';
import { connectorsConfigFromEnv } from '../src/connectors';
import { createNetSuiteAdapter } from '../src/connectors/erp/netsuite.adapter';
import { dealWorkflowId, type DealInput, type DealSnapshot } from '../src/contract';
import { openDb } from '../src/db';
import { RuleSetRepository } from '../src/db/rulesets';
import { initialEngagementState } from '../src/engagement/state';
import defaultRuleSet from '../src/rules/rulesets/default.json';
import { seededRandom } from '../src/sandbox/faults';
import { startSandbox } from '../src/sandbox/server';
import { cpuSince, exited, freePort, processCpu, q2cEnv, sleep, startQ2c, startServers } from './chaos/processes';
import { sign } from './chaos/storm';
import { vendorRecords } from './chaos/vendor-records';

const program = new Command()
  .name('bench:month-end')
  .option('--deals <n>', 'month-end deals', (v) => Number(v), 1_000)
  .option('--entries <n>', 'approved time entries per deal', (v) => Number(v), 100)
  .option('--governor <n>', "NetSuite's account concurrency limit (the worker's ERP_CONCURRENCY)", (v) => Number(v), 5)
  .option('--netsuite-ms <ms>', 'NetSuite processing time per request', (v) => Number(v), 100)
  .option('--probes <n>', 'latency probe deals per latency phase', (v) => Number(v), 40)
  .option('--senders <n>', 'relay events posted at once', (v) => Number(v), 16)
  .option('--probe-every <ms>', 'a latency probe this often during the month-end (spread over its run)', (v) => Number(v), 2_500)
  .option('--deadline <s>', 'seconds the month-end phase may take', (v) => Number(v), 1_800)
  .option('--profile', 'write a CPU profile of the worker during the month-end and summarise it')
  .option('--temporal-on-disk', "the dev server's SQLite file on disk instead of tmpfs (/dev/shm)")
  .option('--keep', 'keep the temporary directory (logs, profile)')
  .parse();
const opts = program.opts<{ deals: number; entries: number; governor: number; netsuiteMs: number; probes: number; senders: number; probeEvery: number; deadline: number; profile?: boolean; temporalOnDisk?: boolean; keep?: boolean }>();

const catalog = loadCatalog();
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const secondsOf = (ms: number) => `${fmt(ms / 1000, 1)} s`;
const pct = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]! : NaN);

/** The two contracting entities and their price: minor units per minute (rates are per hour). */
const BOOKS = {
  USD: { entity: 'LE-US', ruleSet: { id: 'default', version: 1 }, perMinute: 15_000 / 60, address: { line1: '350 5th Ave', city: 'New York', region: 'NY', postalCode: '10118', country: 'US' } },
  EUR: { entity: 'LE-DE', ruleSet: { id: 'month-end-eur', version: 1 }, perMinute: 14_400 / 60, address: { line1: 'Unter den Linden 1', city: 'Berlin', postalCode: '10117', country: 'DE' } },
} as const;
type Currency = keyof typeof BOOKS;

/** The EUR books' rule set: the shipped one with its rate card and expense caps in EUR, consultant EUR 144.00/h anywhere. */
function eurRuleSet() {
  const rs = structuredClone(defaultRuleSet) as unknown as Record<string, unknown> & { rateCards: Array<Record<string, unknown>> };
  const inEur = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(inEur) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === 'currency' && x === 'USD' ? 'EUR' : inEur(x)])) : v;
  return {
    ...(inEur(rs) as Record<string, unknown>),
    id: BOOKS.EUR.ruleSet.id,
    version: BOOKS.EUR.ruleSet.version,
    description: 'month-end bench: EUR books',
    rateCards: [{ id: 'RC-STD', currency: 'EUR', rates: [{ role: 'consultant', region: '*', from: '2025-01-01', hourlyRate: 14_400 }] }],
  };
}

/** Last calendar month (the one month-end bills), and the day before yesterday (probes). */
function dates() {
  const now = new Date();
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const first = new Date(Date.UTC(y, m - 1, 1)).toISOString().slice(0, 10);
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return { first, days, contractStart: new Date(Date.UTC(y, m - 2, 1)).toISOString().slice(0, 10), recent: new Date(now.getTime() - 2 * 86_400_000).toISOString().slice(0, 10) };
}

interface Entry {
  id: string;
  date: string;
  minutes: number;
}
interface Deal {
  opportunityId: string;
  currency: Currency;
  customer: Customer;
  snapshot: DealSnapshot;
  entries: Entry[];
  minutes: number;
}

function customerOf(k: number, currency: Currency): Customer {
  const b = BOOKS[currency];
  return { id: `CUS-ME-${currency}-${k}`, name: `Month-end customer ${currency} ${k}`, billTo: { address: b.address, email: `ap${k}@customer.example` }, legalEntityId: b.entity, parentId: null, currency, externalIds: {}, status: 'ACTIVE' };
}

function makeDeal(opportunityId: string, k: number, currency: Currency, entries: Entry[], schedule?: 'IMMEDIATE'): Deal {
  const b = BOOKS[currency];
  const customer = customerOf(Math.floor(k / 4), currency);
  const price = { amountMinor: b.perMinute * 60, currency };
  const quote: Quote = {
    id: `Q-${opportunityId}`,
    opportunityId,
    customerId: customer.id,
    currency,
    approvalStatus: 'APPROVED',
    externalIds: {},
    // not-to-exceed 5,000 h: month-end never reaches the cap
    lines: [{ id: 'QL-1', servicePackage: 'ADVISORY_TM', description: 'Advisory', quantity: 5_000, unit: 'HOUR', listPrice: price, netPrice: price, discountBp: 0, approvalStatus: 'APPROVED', externalIds: {} }],
  };
  const contract = contractFromQuote({ quote, customer, catalog, startDate: dates().contractStart });
  const lines = contract.lines.map((l) => ({ ...l, ...(schedule ? { invoiceSchedule: schedule } : {}) }));
  const entity = catalog.legalEntities.find((e) => e.id === b.entity)!;
  const snapshot: DealSnapshot = { quote, contract: { ...contract, lines, ruleSet: b.ruleSet, status: 'ACTIVE' }, customer, contractingEntity: entity, deliveringEntityIds: [b.entity] };
  return { opportunityId, currency, customer, snapshot, entries, minutes: entries.reduce((a, e) => a + e.minutes, 0) };
}

function monthEndDeals(n: number, perDeal: number, key: string): Deal[] {
  const rnd = seededRandom(16);
  const { first, days } = dates();
  return Array.from({ length: n }, (_, d) => {
    const opportunityId = `ME${key}-${String(d).padStart(5, '0')}`;
    const entries = Array.from({ length: perDeal }, (_, i) => {
      const day = 1 + Math.floor(rnd() * days);
      return { id: `${opportunityId}-${i}`, date: `${first.slice(0, 8)}${String(day).padStart(2, '0')}`, minutes: 30 * (8 + Math.floor(rnd() * 13)) }; // 4 h .. 10 h in half hours
    });
    return makeDeal(opportunityId, d >> 1, d % 2 === 0 ? 'USD' : 'EUR', entries);
  });
}

const probeDeals = (n: number, tag: string, key: string): Deal[] =>
  Array.from({ length: n }, (_, i) => makeDeal(`LP${key}-${tag}-${i}`, 10_000 + i, 'USD', [{ id: `LP${key}-${tag}-${i}-0`, date: dates().recent, minutes: 60 }], 'IMMEDIATE'));

function dealInput(d: Deal, erpCustomerId: string): DealInput {
  return {
    opportunityId: d.opportunityId,
    correlationId: `month-end-${d.opportunityId}`,
    resume: {
      snapshot: d.snapshot,
      view: { opportunityId: d.opportunityId, stage: 'IN_DELIVERY', ids: { erpCustomerId }, exceptions: [], timeline: [] },
      delivery: { state: initialEngagementState(), inbox: { batches: [], payments: [], recentBatchIds: [] } },
    },
  };
}

/** One signed Kantata relay event (the q2c relay scheme), as Kantata's approved time records. */
function relayEvent(d: Deal, entries: Entry[], secret: string): { body: string; headers: Record<string, string> } {
  const items = entries.map((e) => ({ id: e.id, story_id: `${d.snapshot.contract.lines[0]!.id}-T1`, user_id: `u-${d.opportunityId.length % 37}`, role_name: 'consultant', date_performed: e.date, time_in_minutes: e.minutes, billable: true, approved: true, approved_at: `${e.date}T20:00:00Z` }));
  const body = JSON.stringify({ eventId: randomUUID(), occurredAt: new Date().toISOString(), workspaceId: `WS-${d.opportunityId}`, opportunityId: d.opportunityId, items });
  return { body, headers: { 'content-type': 'application/json', ...sign('q2c', secret, body, Math.floor(Date.now() / 1000)) } };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const t0 = performance.now();
  const dir = mkdtempSync(path.join(tmpdir(), 'q2c-month-end-'));
  const revision = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT }).toString().trim();
  const key = Date.now().toString(36).toUpperCase();
  const cleanup: Array<() => Promise<unknown>> = [];
  const say = (line: string) => console.log(line);
  // Interrupted: stop every process the run started before exiting.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void (async () => {
      for (const c of cleanup.reverse()) await c().catch(() => undefined);
      process.exit(130);
    })());
  }
  say(`month-end bench at ${revision}: ${fmt(opts.deals)} deals x ${fmt(opts.entries)} entries = ${fmt(opts.deals * opts.entries)} approved time entries; NetSuite governor ${opts.governor} in flight, ${opts.netsuiteMs} ms per request; ${opts.probes} + ${opts.probes} latency probes`);
  say(`machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GB, Node ${process.version}; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}; files in ${dir}`);
  try {
    // ---- the stack
    const { pg, temporal, workflowBundle } = await startServers(dir, cleanup, { temporalOnDisk: opts.temporalOnDisk ?? false });
    const sandboxDb = await openDb({ dataDir: 'memory://' });
    cleanup.push(() => sandboxDb.close());
    const sandbox = await startSandbox({ port: 0, db: sandboxDb.db, logger: pino({ level: 'silent' }) });
    cleanup.push(() => sandbox.close());
    await fetch(`${sandbox.url}/netsuite/_sandbox/config`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ concurrencyLimit: opts.governor, processingMs: opts.netsuiteMs, editWindowMs: 0 }) });
    const servicePort = await freePort();
    const serviceUrl = `http://127.0.0.1:${servicePort}`;
    const { secrets, payloadKeys, env } = q2cEnv({ dir, sandboxUrl: sandbox.url, temporalAddress: temporal.address, databaseUrl: pg.url, servicePort, workflowBundle, extra: { ERP_CONCURRENCY: String(opts.governor), ERP_WORKERS: '1' } });

    // The EUR books' rule set, approved (the shipped one is seeded by the worker).
    const q2cDb = await openDb({ databaseUrl: pg.url });
    cleanup.push(() => q2cDb.close());
    await new RuleSetRepository(q2cDb.db).saveRuleSet(eurRuleSet(), { status: 'approved' });

    const service = startQ2c({ name: 'service', entry: 'src/service/main.ts', env, logFile: path.join(dir, 'service.log'), readyLine: /Server listening/ });
    cleanup.push(async () => (service.child.kill('SIGTERM'), exited(service.child)));
    const worker = startQ2c({ name: 'worker', entry: 'src/worker.ts', env, logFile: path.join(dir, 'worker.log'), readyLine: /worker running/ });
    cleanup.push(async () => (worker.child.kill('SIGTERM'), exited(worker.child)));
    await Promise.all([service.ready, worker.ready]);
    say(`stack ready in ${secondsOf(performance.now() - t0)} (PostgreSQL, Temporal dev server, sandboxes, service, one worker with ERP_CONCURRENCY=${opts.governor})`);

    const connection = await Connection.connect({ address: temporal.address });
    cleanup.push(() => connection.close());
    const client = new Client({ connection, dataConverter: { payloadCodecs: [new EncryptionCodec(parseEncryptionKeys(payloadKeys))] } });

    // ---- setup, not timed: ERP customers, and every deal started in delivery
    const deals = monthEndDeals(opts.deals, opts.entries, key);
    const idle = probeDeals(opts.probes, 'idle', key);
    const loaded = probeDeals(opts.probes, 'load', key);
    const all = [...deals, ...idle, ...loaded];
    const erp = createNetSuiteAdapter({ ...connectorsConfigFromEnv(env).netsuite!, ...sandboxConnectorsConfig(sandbox.url).netsuite, concurrency: opts.governor });
    const erpCustomer = new Map<string, string>();
    const customers = [...new Map(all.map((d) => [d.customer.id, d])).values()];
    await pool(customers, opts.governor, async (d) => {
      const entity = catalog.legalEntities.find((e) => e.id === d.customer.legalEntityId)!;
      erpCustomer.set(d.customer.id, (await erp.upsertCustomer({ customer: d.customer, legalEntity: entity, idempotencyKey: d.customer.id })).id);
    });
    // The probe deals run long before month-end, as a deal with an immediate schedule does: their first pass is done.
    await pool([...idle, ...loaded], 20, (d) => client.workflow.start('dealWorkflow', { taskQueue: 'q2c', workflowId: dealWorkflowId(d.opportunityId), args: [dealInput(d, erpCustomer.get(d.customer.id)!)] }).then(() => undefined));
    say(`setup: ${fmt(customers.length)} ERP customers, ${fmt(idle.length + loaded.length)} probe deals started in delivery (${secondsOf(performance.now() - t0)} since start)`);
    await sleep(3_000); // their first workflow tasks

    const post = async (d: Deal, entries: Entry[]): Promise<number> => {
      const { body, headers } = relayEvent(d, entries, secrets.kantata);
      const sent = Date.now();
      const res = await fetch(`${serviceUrl}/webhooks/kantata/time-entry-approved`, { method: 'POST', headers, body });
      const text = await res.text();
      if (res.status >= 300) throw new Error(`relay event for ${d.opportunityId}: ${res.status} ${text.slice(0, 300)}`);
      return sent;
    };
    const invoicesOf = async (prefix: string) => (await vendorRecords(sandbox, 'netsuite', 'invoice')).filter((r) => (r.externalId ?? '').startsWith(`deal-${prefix}`));
    const latencies = async (probes: Deal[], sentAt: Map<string, number>, deadlineMs: number): Promise<number[]> => {
      const until = Date.now() + deadlineMs;
      for (;;) {
        const inv = await invoicesOf(`LP${key}-`);
        const byDeal = new Map(inv.map((r) => [r.externalId!.split(':invoice:')[0]!.slice('deal-'.length), r.createdAt.getTime()]));
        const found = probes.filter((p) => byDeal.has(p.opportunityId));
        if (found.length === probes.length || Date.now() > until) return found.map((p) => byDeal.get(p.opportunityId)! - sentAt.get(p.opportunityId)!);
        await sleep(500);
      }
    };

    // ---- latency, idle
    const idleSent = new Map<string, number>();
    for (const p of idle) {
      idleSent.set(p.opportunityId, await post(p, p.entries));
      await sleep(500);
    }
    const idleLatency = await latencies(idle, idleSent, 120_000);
    say(`latency, idle: ${idleLatency.length}/${idle.length} probes invoiced; p50 ${fmt(pct(idleLatency, 50))} ms, p99 ${fmt(pct(idleLatency, 99))} ms`);

    // ---- intake: the month delivered while no worker runs
    worker.child.kill('SIGTERM');
    await exited(worker.child);
    await pool(deals, 20, (d) => client.workflow.start('dealWorkflow', { taskQueue: 'q2c', workflowId: dealWorkflowId(d.opportunityId), args: [dealInput(d, erpCustomer.get(d.customer.id)!)] }).then(() => undefined));
    const iStart = performance.now();
    let sentEvents = 0;
    await pool(deals, opts.senders, async (d) => {
      await post(d, d.entries);
      await post(d, d.entries.slice(0, Math.ceil(d.entries.length / 5))); // the overlap: 20 % again
      sentEvents += 2;
    });
    const intakeMs = performance.now() - iStart;
    say(`intake: ${fmt(sentEvents)} relay events (${fmt(opts.deals * opts.entries * 1.2)} entries) accepted in ${secondsOf(intakeMs)}, ${fmt(sentEvents / (intakeMs / 1000), 1)} events/s, no worker running`);

    // ---- month-end: the worker starts
    await fetch(`${sandbox.url}/_sandbox/requests`, { method: 'DELETE' });
    const profileDir = path.join(dir, 'profile');
    const monthEndWorker = startQ2c({ name: 'worker', entry: 'src/worker.ts', env, logFile: path.join(dir, 'worker-month-end.log'), readyLine: /worker running/, ...(opts.profile ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : {}) });
    cleanup.push(async () => (monthEndWorker.child.kill('SIGTERM'), exited(monthEndWorker.child)));
    await monthEndWorker.ready;
    const pgData = path.join(dir, 'pgdata');
    const q2cPids = { service: service.child.pid!, worker: monthEndWorker.child.pid! };
    const cpu0 = processCpu(q2cPids, pgData);
    const mStart = performance.now();
    const loadSent = new Map<string, number>();
    let issued = 0;
    let mDone = 0;
    const probing = (async () => {
      for (const p of loaded) {
        await sleep(opts.probeEvery);
        if (mDone) break; // the month-end is over: the rest would measure a quiet stack
        loadSent.set(p.opportunityId, await post(p, p.entries));
      }
    })();
    while (performance.now() - mStart < opts.deadline * 1000) {
      issued = (await vendorRecords(sandbox, 'salesforce', 'Q2C_Invoice__c')).filter((r) => String(r.data['Opportunity__c'] ?? '').startsWith(`ME${key}-`)).length;
      if (issued >= deals.length) {
        mDone = performance.now();
        break;
      }
      await sleep(1_000); // each look lists the CRM sandbox's invoices: often enough, and little of the CPU
    }
    const monthEndMs = (mDone || performance.now()) - mStart;
    const cpu = cpuSince(cpu0, processCpu(q2cPids, pgData));
    await probing;
    const loadLatency = await latencies(loaded.filter((p) => loadSent.has(p.opportunityId)), loadSent, 120_000);
    const waited = new Map<string, number>();
    const probed = loaded.filter((p) => loadSent.has(p.opportunityId));
    for (const p of probed) for (const [k, ms] of await probeWaits(client, dealWorkflowId(p.opportunityId))) waited.set(k, (waited.get(k) ?? 0) + ms);
    const requests = (await (await fetch(`${sandbox.url}/_sandbox/requests`)).json()) as { requests: Array<{ vendor: string; method: string; route: string; status: number; count: number }> };
    const nsRequests = requests.requests.filter((r) => r.vendor === 'netsuite');
    const nsTotal = nsRequests.reduce((a, r) => a + r.count, 0);
    const refusals = nsRequests.filter((r) => r.status === 429).reduce((a, r) => a + r.count, 0);

    // ---- checks, from the vendors' records and the audit links
    const inv = await invoicesOf(`ME${key}-`);
    const perDeal = new Map<string, number>();
    const erpSubtotal: Record<string, number> = {};
    for (const r of inv) {
      const deal = r.externalId!.split(':invoice:')[0]!;
      perDeal.set(deal, (perDeal.get(deal) ?? 0) + 1);
    }
    const currencyOf = new Map(deals.map((d) => [dealWorkflowId(d.opportunityId), d.currency]));
    for (const r of inv) {
      const c = currencyOf.get(r.externalId!.split(':invoice:')[0]!)!;
      erpSubtotal[c] = (erpSubtotal[c] ?? 0) + Math.round(Number(r.data['subtotal'] ?? 0) * 100);
    }
    const expected: Record<string, number> = {};
    for (const d of deals) expected[d.currency] = (expected[d.currency] ?? 0) + d.minutes * BOOKS[d.currency].perMinute;
    const duplicates = [...perDeal.values()].reduce((a, n) => a + n - 1, 0);
    const links = (await q2cDb.db.execute(sql`
      select count(*)::int as links, count(distinct source_id)::int as sources,
             (select count(*)::int from (select source_id from audit_links where document_kind = 'invoice' and deal_id like ${`deal-ME${key}-%`} group by source_id having count(distinct document_number) > 1) x) as twice
      from audit_links where document_kind = 'invoice' and deal_id like ${`deal-ME${key}-%`}`)) as unknown as { rows: Array<{ links: number; sources: number; twice: number }> };
    const row = links.rows[0]!;

    // ---- histories: workflow tasks, signals and activities per deal (a sample), for the ceiling
    const sample = deals.slice(0, Math.min(20, deals.length));
    const shape = { tasks: 0, activities: 0, signals: 0, children: 0 };
    for (const d of sample) {
      const s = await historyShape(client, dealWorkflowId(d.opportunityId));
      shape.tasks += s.tasks;
      shape.activities += s.activities;
      shape.signals += s.signals;
      shape.children += s.children;
    }
    const per = { tasks: shape.tasks / sample.length, activities: Math.round(shape.activities / sample.length), signals: Math.round(shape.signals / sample.length), children: shape.children / sample.length };

    // ---- engine ceiling: the same shape with no-op workflows and activities, on the same dev server
    const ceilingCpu0 = processCpu({}, pgData);
    const ceiling = await engineCeiling(temporal.address, deals.length, per.activities, per.signals, opts.senders);
    const ceilingCpu = cpuSince(ceilingCpu0, processCpu({}, pgData));

    // ---- the CPU profile, written when the worker exits
    let profileSummary: string[] = [];
    if (opts.profile) {
      monthEndWorker.child.kill('SIGTERM');
      await exited(monthEndWorker.child);
      profileSummary = summariseProfile(profileDir);
    }

    // ---- report
    const floorMs = (nsTotal * opts.netsuiteMs) / opts.governor;
    const bound = Math.max(ceiling.ms, floorMs);
    const ratio = monthEndMs / bound;
    const done = mDone > 0;
    say('');
    say('| phase | figure |');
    say('| --- | --- |');
    say(`| month-end | ${done ? '' : 'NOT DONE: '}${fmt(issued)} / ${fmt(deals.length)} invoices issued in **${secondsOf(monthEndMs)}** from the worker's start; ${fmt(issued / (monthEndMs / 1000), 1)} invoices/s |`);
    say(`| intake (no worker running) | ${fmt(sentEvents)} signed relay events, ${fmt(opts.deals * opts.entries * 1.2)} entries, in ${secondsOf(intakeMs)} (${opts.senders} at once) |`);
    say(`| engine ceiling | ${fmt(deals.length)} no-op workflows x (${per.signals} signals + ${per.activities} sequential no-op activities) in **${secondsOf(ceiling.ms)}**; ${fmt(ceiling.tasksPerWorkflow, 1)} workflow tasks each (the deals: ${fmt(per.tasks, 1)}, plus ${fmt(per.children, 1)} child runs) |`);
    say(`| vendor floor | ${fmt(nsTotal)} NetSuite requests x ${opts.netsuiteMs} ms / ${opts.governor} in flight = **${secondsOf(floorMs)}** (${fmt(nsTotal / Math.max(1, inv.length + loadLatency.length), 2)} requests per invoice, the probes' included; the worker's first currency look-up too) |`);
    say(`| month-end / max(ceiling, floor) | **${fmt(ratio, 2)}x** (goal <= 1.25x: ${ratio <= 1.25 ? 'met' : 'NOT met'}) |`);
    say(`| governor refusals (429) | ${fmt(refusals)} (goal 0: ${refusals === 0 ? 'met' : 'NOT met'}) |`);
    say(`| duplicates in NetSuite | ${duplicates} (${fmt(inv.length)} invoices for ${fmt(perDeal.size)} deals) |`);
    say(`| entries invoiced | ${fmt(row.sources)} distinct of ${fmt(opts.deals * opts.entries)}, ${row.twice} on two invoices, ${fmt(row.links)} audit links |`);
    for (const c of Object.keys(expected)) say(`| ${c} subtotal | NetSuite ${fmt(erpSubtotal[c] ?? 0)} minor units; hand formula sum(minutes) x ${fmt(BOOKS[c as Currency].perMinute * 60)}/h / 60 = ${fmt(expected[c]!)} (${erpSubtotal[c] === expected[c] ? 'equal' : 'DIFFERENT'}) |`);
    say(`| invoice latency, idle (baseline) | ${idleLatency.length} probes: p50 ${fmt(pct(idleLatency, 50))} ms, p99 ${fmt(pct(idleLatency, 99))} ms |`);
    say(`| invoice latency, month-end load | ${loadLatency.length} probes: p50 ${fmt(pct(loadLatency, 50))} ms, p99 **${fmt(pct(loadLatency, 99))} ms** (${fmt(pct(loadLatency, 99) / pct(idleLatency, 99), 1)}x idle; goal p99 < 2,000 ms: ${pct(loadLatency, 99) < 2_000 ? 'met' : 'NOT met'}) |`);
    const cores = cpus().length;
    const share = (sec: number, ms: number) => `${fmt(sec, 1)} s (${fmt((100 * sec) / (ms / 1000) / cores, 0)} % of ${cores} cores)`;
    say(`| where a probe's time went under load (mean ms after its entry reached the deal; the rest of its latency is the service's answer) | ${[...waited].filter(([, ms]) => ms / probed.length >= 1).map(([k, ms]) => `${k} ${fmt(ms / probed.length)}`).join('; ')} |`);
    say(`| CPU during the month-end | worker ${share(cpu.worker, monthEndMs)}, Temporal ${share(cpu.temporal, monthEndMs)}, PostgreSQL ${share(cpu.postgres, monthEndMs)}, service ${share(cpu.service, monthEndMs)}, bench (sandboxes, probes) ${share(cpu.bench, monthEndMs)} |`);
    say(`| CPU during the ceiling | Temporal ${share(ceilingCpu.temporal, ceiling.ms)}, bench (the no-op worker) ${share(ceilingCpu.bench, ceiling.ms)} |`);
    say(`| load average at end | ${loadavg().map((l) => l.toFixed(1)).join(' ')} |`);
    for (const l of profileSummary) say(l);
    if (!done || duplicates > 0 || row.twice > 0 || Object.keys(expected).some((c) => erpSubtotal[c] !== expected[c])) process.exitCode = 1;
  } finally {
    for (const c of cleanup.reverse()) await c().catch((err: unknown) => console.error(`cleanup: ${(err as Error).message}`));
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `fn` over `items`, at most `n` at once. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/** Workflow tasks completed, activities scheduled, signals and child workflows in a deal's history (and its children's tasks and activities). */
async function historyShape(client: Client, workflowId: string): Promise<{ tasks: number; activities: number; signals: number; children: number }> {
  const out = { tasks: 0, activities: 0, signals: 0, children: 0 };
  const walk = async (id: string, runId?: string) => {
    const history = await client.workflow.getHandle(id, runId).fetchHistory();
    for (const e of history.events ?? []) {
      if (e.workflowTaskCompletedEventAttributes) out.tasks += 1;
      if (e.activityTaskScheduledEventAttributes) out.activities += 1;
      if (e.workflowExecutionSignaledEventAttributes) out.signals += 1;
      const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
      if (child?.workflowId) {
        out.children += 1;
        await walk(child.workflowId, child.runId ?? undefined);
      }
    }
  };
  await walk(workflowId);
  return out;
}

/**
 * Where one probe's time went after its entry reached the deal (its signal), from its history:
 * waiting in a task queue (scheduled -> started) and running (started -> completed), per
 * workflow task and per activity type, in ms.
 */
async function probeWaits(client: Client, workflowId: string): Promise<Map<string, number>> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const at = (e: (typeof events)[number]) => Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);
  const byId = new Map(events.map((e) => [Number(e.eventId), e]));
  const signalled = events.find((e) => e.workflowExecutionSignaledEventAttributes);
  const out = new Map<string, number>();
  const add = (k: string, ms: number) => out.set(k, (out.get(k) ?? 0) + ms);
  if (!signalled) return out;
  const from = at(signalled);
  for (const e of events) {
    const wfStarted = e.workflowTaskStartedEventAttributes;
    const wfDone = e.workflowTaskCompletedEventAttributes;
    const actStarted = e.activityTaskStartedEventAttributes;
    const actDone = e.activityTaskCompletedEventAttributes;
    const ref = wfStarted?.scheduledEventId ?? wfDone?.startedEventId ?? actStarted?.scheduledEventId ?? actDone?.startedEventId;
    const before = ref ? byId.get(Number(ref)) : undefined;
    if (!before || at(e) < from) continue;
    const type = (id: unknown) => byId.get(Number(id))?.activityTaskScheduledEventAttributes?.activityType?.name ?? '?';
    const since = Math.max(at(before), from); // a task queued before the signal counts from the signal
    if (wfStarted) add('workflow task, queued', at(e) - since);
    if (wfDone) add('workflow task, running', at(e) - since);
    if (actStarted) add(`${type(actStarted.scheduledEventId)}, queued`, at(e) - since);
    if (actDone) add(`${type(actDone.scheduledEventId)}, running`, at(e) - since);
  }
  return out;
}

/**
 * The engine's own ceiling: `n` workflows, each started and signalled `signals` times while no
 * worker polls, then run by a worker in this process (the SDK's defaults): wait for the
 * signals, then `activities` no-op activities one after another. Timed from the worker's start
 * to the last completion.
 */
async function engineCeiling(address: string, n: number, activities: number, signals: number, senders: number): Promise<{ ms: number; tasksPerWorkflow: number }> {
  const connection = await NativeConnection.connect({ address });
  const clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection });
  const noop = () => {};
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: path.join(__dirname, 'engine-ceiling.workflow.ts'), logger: { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop } });
  const ids = Array.from({ length: n }, (_, i) => `ceiling-${Date.now().toString(36)}-${i}`);
  // Started and signalled before any worker polls, as the deals were.
  await pool(ids, senders, async (id) => {
    const h = await client.workflow.start('engineCeiling', { taskQueue: 'engine-ceiling', workflowId: id, args: [{ activities, signals }] });
    for (let s = 0; s < signals; s++) await h.signal('more');
  });
  const worker = await Worker.create({ connection, taskQueue: 'engine-ceiling', workflowBundle, activities: { noop: async () => undefined } });
  const t = performance.now();
  const running = worker.run();
  await Promise.all(ids.map((id) => client.workflow.getHandle(id).result()));
  const ms = performance.now() - t;
  const first = await client.workflow.getHandle(ids[0]!).fetchHistory();
  const tasksPerWorkflow = (first.events ?? []).filter((e) => e.workflowTaskCompletedEventAttributes).length;
  worker.shutdown();
  await running;
  await clientConnection.close();
  await connection.close();
  return { ms, tasksPerWorkflow };
}

/** Self time of the worker's CPU profile by where the code lives (q2c's modules, each package, Node's own), and the top functions. */
function summariseProfile(dir: string): string[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) return [`(no CPU profile written in ${dir})`];
  const prof = JSON.parse(readFileSync(path.join(dir, files[0]!), 'utf8')) as { nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }>; startTime: number; endTime: number; samples: number[] };
  const totalMs = (prof.endTime - prof.startTime) / 1000;
  const hits = prof.samples.length;
  const msPerHit = totalMs / Math.max(1, hits);
  const where = (url: string, fn: string): string => {
    if (url === '') return fn === '(idle)' || fn === '(program)' || fn === '(garbage collector)' ? fn : '(native)';
    const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    if (nm) return nm[1]!;
    if (url.startsWith('node:')) return 'node internals';
    const src = /\/(src\/[^/]+(?:\/[^/]+)?)/.exec(url);
    return src ? src[1]! : url.replace(/^file:\/\//, '').replace(REPO_ROOT, '');
  };
  const byPlace = new Map<string, number>();
  const byFn = new Map<string, number>();
  for (const n of prof.nodes) {
    const h = n.hitCount ?? 0;
    if (h === 0) continue;
    const place = where(n.callFrame.url, n.callFrame.functionName);
    byPlace.set(place, (byPlace.get(place) ?? 0) + h);
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${place}:${n.callFrame.lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + h);
  }
  const busy = hits - (byPlace.get('(idle)') ?? 0);
  const top = (m: Map<string, number>, k: number) => [...m].filter(([p]) => p !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, k);
  return [
    '',
    `worker CPU profile: ${secondsOf(totalMs)} profiled, ${secondsOf(busy * msPerHit)} on the CPU (the main thread; workflow threads and the SDK core are native threads outside it)`,
    '| where | self time | share of busy |',
    '| --- | ---: | ---: |',
    ...top(byPlace, 15).map(([p, h]) => `| ${p} | ${secondsOf(h * msPerHit)} | ${fmt((100 * h) / Math.max(1, busy), 1)} % |`),
    '',
    '| function | self time |',
    '| --- | ---: |',
    ...top(byFn, 15).map(([f, h]) => `| ${f} | ${secondsOf(h * msPerHit)} |`),
  ];
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
