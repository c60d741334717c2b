/**
 * Month-end at scale (issue 6): D deals x E approved time entries each are
 * invoiced through the real billing path, and nothing is invoiced twice.
 *
 *   npm run bench:month-end                          # 1,000 deals x 100 entries = 100,000 entries
 *   npm run bench:month-end -- 100 100               # quick run: deals, entries per deal
 *   npm run bench:month-end -- 1000 100 10 100 300   # ... ERP activities/s (queue-wide limit), NetSuite ms per request,
 *                                                    #     seconds the unlimited phase may take
 *
 * What runs: a Temporal dev server (Temporal CLI, in-memory), the NetSuite and
 * Avalara sandboxes on loopback HTTP (NetSuite with its account concurrency
 * governor: 5 requests in flight, 429 CONCURRENCY_LIMIT_EXCEEDED beyond), one
 * PGlite database (audit links and sandbox records), and in this process a
 * worker for the deal workflows and billing activities plus the ERP worker on
 * 'q2c-erp'. Each deal is the production dealWorkflow resumed in IN_DELIVERY
 * (its continue-as-new input) with last month's approved time already in its
 * inbox (signal-with-start), so its first invoice run is the month-end run:
 * drain + dedupe, classify/rate/group, materialise, then per invoice
 * taxInvoice (Avalara), postInvoice (NetSuite, on the rate-limited ERP queue)
 * and recordInvoiceIssued (audit links; CRM and PSA write-back are in-memory
 * stubs here). A second signal re-delivers 20 % of each deal's entries (a
 * duplicate webhook / sweep overlap); it must change nothing.
 *
 * Phases, all in one run:
 *   baseline  the rules alone over the same entries, in process (no Temporal, no I/O);
 *   limit on  the ERP worker with the queue-wide limit (default 10/s, the config default);
 *   limit off the same with an unreachable limit (100,000/s), stopped after a deadline.
 * Each phase's deals are new, so no phase finds another's invoices. The adapters'
 * per-process token buckets are raised out of the way: the queue-wide limit and
 * the vendor's own governor are what is measured.
 *
 * Checked after each phase: invoices in the NetSuite sandbox per deal (each
 * deal's entries are one month of one contract line: exactly one invoice;
 * every extra one is a duplicate), every entry on exactly one invoice (audit
 * links), and the invoiced total (audit links and ERP subtotals) equals the
 * hand formula sum(minutes) x $150.00/h (RC-STD consultant US) in cents.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { sql } from 'drizzle-orm';
import pino from 'pino';
import { createBillingActivities } from '../src/activities/billing.activities';
import { loadCatalog } from '../src/activities/deal/catalog';
import { contractFromQuote, projectFromContract } from '../src/activities/deal/mapping';
import type { DealSnapshot } from '../src/contract';
import type { Customer, Quote, TimeEntry } from '../src/canonical';
import { resolveTemporalCli } from '../src/cli/toolchain';
import type { BillingPort } from '../src/connectors/billing/billing.port';
import type { CrmPort } from '../src/connectors/crm/crm.port';
import { sandboxConnectorsConfig } from '../src/cli/dev-secrets';
import { createNetSuiteAdapter } from '../src/connectors/erp/netsuite.adapter';
import type { PsaPort } from '../src/connectors/psa/psa.port';
import { createAvalaraAdapter } from '../src/connectors/tax/avalara.adapter';
import { openDb } from '../src/db';
import { classifyDeliveries, compileContract, groupDecisions, materializeInvoices, RuleSet } from '../src/rules';
import defaultRuleSet from '../src/rules/rulesets/default.json';
import { AVALARA_VENDOR } from '../src/sandbox/avalara/avalara.sandbox';
import { NETSUITE_VENDOR } from '../src/sandbox/netsuite/netsuite.sandbox';
import { startSandbox } from '../src/sandbox/server';
import { kpiSinks, WORKFLOW_BUNDLER_OPTIONS, WORKFLOWS_PATH } from '../src/worker';
import { dealWorkflowId, type DealInput } from '../src/contract';
import { initialEngagementState } from '../src/engagement/state';
import { deliveryBatchSignal, type DeliveryBatch, type DeliveryItem } from '../src/contract';
import { ERP_TASK_QUEUE } from '../src/contract';
import { seededRandom } from '../src/sandbox/faults';

const DEALS = Number(process.argv[2] ?? 1_000);
const PER_DEAL = Number(process.argv[3] ?? 100);
const ERP_PER_SECOND = Number(process.argv[4] ?? 10);
const NETSUITE_MS = Number(process.argv[5] ?? 100);
/** The unlimited phase stops waiting after this long (its retries back off up to 5 minutes each). */
const OFF_DEADLINE_S = Number(process.argv[6] ?? 300);
const TASK_QUEUE = 'month-end';
const DEALS_PER_CUSTOMER = 4;
const RATE_MINOR_PER_MINUTE = 15_000 / 60; // $150.00/h

const catalog = loadCatalog();
const ruleSet = RuleSet.parse(defaultRuleSet);
const usd = (amountMinor: number) => ({ amountMinor, currency: 'USD' });
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** Seeded PRNG: the same entries on every run (the sandbox's fault generator). */
const prng = seededRandom;

/** Last calendar month (the one month-end bills) and a contract that started the month before. */
function months(): { start: string; days: number; contractStart: string } {
  const now = new Date();
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth(); // 0-based: last month is m - 1
  const first = new Date(Date.UTC(y, m - 1, 1));
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return { start: first.toISOString().slice(0, 10), days, contractStart: new Date(Date.UTC(y, m - 2, 1)).toISOString().slice(0, 10) };
}

function customerOf(k: number): Customer {
  return {
    id: `CUS-ME-${k}`,
    name: `Month-end customer ${k}`,
    billTo: { address: { line1: '350 5th Ave', city: 'New York', region: 'NY', postalCode: '10118', country: 'US' }, email: `ap${k}@customer.example` },
    legalEntityId: 'LE-US',
    parentId: null,
    externalIds: {},
    status: 'ACTIVE',
  };
}

interface Deal {
  opportunityId: string;
  customer: Customer;
  snapshot: DealSnapshot;
  items: DeliveryItem[];
  minutes: number;
}

function makeDeals(prefix: string, seed: number): Deal[] {
  const rnd = prng(seed);
  const { start, days, contractStart } = months();
  const deals: Deal[] = [];
  for (let d = 0; d < DEALS; d++) {
    const opportunityId = `${prefix}-${String(d).padStart(5, '0')}`;
    const customer = customerOf(Math.floor(d / DEALS_PER_CUSTOMER));
    const quote: Quote = {
      id: `Q-${opportunityId}`,
      opportunityId,
      customerId: customer.id,
      currency: 'USD',
      approvalStatus: 'APPROVED',
      externalIds: {},
      // not-to-exceed 5,000 h: month-end never hits the cap here
      lines: [{ id: 'QL-1', servicePackage: 'ADVISORY_TM', description: 'Advisory', quantity: 5_000, unit: 'HOUR', listPrice: usd(15_000), netPrice: usd(15_000), discountBp: 0, approvalStatus: 'APPROVED', externalIds: {} }],
    };
    const contract = contractFromQuote({ quote, customer, catalog, startDate: contractStart });
    const entity = catalog.legalEntities.find((e) => e.id === 'LE-US')!;
    const snapshot: DealSnapshot = { quote, contract: { ...contract, status: 'ACTIVE' }, customer, contractingEntity: entity, deliveringEntityIds: ['LE-US'] };
    const task = `${contract.lines[0]!.id}-T1`;
    const items: DeliveryItem[] = [];
    let minutes = 0;
    for (let i = 0; i < PER_DEAL; i++) {
      const m = 30 * (8 + Math.floor(rnd() * 13)); // 4 h .. 10 h in half hours
      minutes += m;
      const day = 1 + Math.floor(rnd() * days);
      const workDate = `${start.slice(0, 8)}${String(day).padStart(2, '0')}`;
      items.push({ kind: 'timeEntry', sourceId: `${opportunityId}-${i}`, projectId: `WS-${opportunityId}`, taskId: task, resourceId: `r-${d % 37}`, role: 'consultant', workDate, minutes: m, billable: true, approvedAt: `${workDate}T20:00:00Z` });
    }
    deals.push({ opportunityId, customer, snapshot, items, minutes });
  }
  return deals;
}

/** The rules alone over the same entries, as the delivery loop calls them (no Temporal, no I/O). */
function baseline(deals: Deal[]): { ms: number; invoices: number; subtotal: number } {
  const asOf = new Date().toISOString().slice(0, 10);
  let invoices = 0;
  let subtotal = 0;
  const prepared = deals.map((d) => {
    const project = projectFromContract({ contract: d.snapshot.contract, quote: d.snapshot.quote, catalog, customer: d.customer });
    const line = d.snapshot.contract.lines[0]!;
    const entries: TimeEntry[] = d.items.map((it) => {
      const t = it as Extract<DeliveryItem, { kind: 'timeEntry' }>;
      return { id: `TE-${t.sourceId}`, projectId: project.id, contractId: d.snapshot.contract.id, contractLineId: line.id, taskId: t.taskId!, resourceId: t.resourceId, role: 'consultant', region: 'US', resourceLegalEntityId: 'LE-US', workDate: t.workDate, minutes: t.minutes, approved: true, overtime: false, externalIds: {} };
    });
    return { d, project, entries };
  });
  const t0 = performance.now();
  for (const { d, project, entries } of prepared) {
    const cc = compileContract(d.snapshot.contract, ruleSet, { phases: project.phases });
    const run = classifyDeliveries(cc, { timeEntries: entries, expenses: [], milestones: [] }, asOf, { billedByLine: {}, drawnByLine: {}, processedIds: new Set() }, project.id);
    const grouping = groupDecisions(cc, run.decisions.filter((x) => x.billingClass === 'BILLABLE'));
    const inv = materializeInvoices(cc, grouping, { asOf });
    invoices += inv.length;
    for (const i of inv) subtotal += i.subtotal.amountMinor;
  }
  return { ms: performance.now() - t0, invoices, subtotal };
}

interface Counters {
  /** Invoices whose recordInvoiceIssued (the last step of issuing) succeeded. */
  issued: Set<string>;
  postInvoice: number;
  taxInvoice: number;
  recordInvoiceIssued: number;
  retries: number;
  failures: Record<string, number>;
}
const counters = (): Counters => ({ issued: new Set(), postInvoice: 0, taxInvoice: 0, recordInvoiceIssued: 0, retries: 0, failures: {} });

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const logger = pino({ level: 'silent' });
  const { start } = months();
  console.log(`month-end bench: ${fmt(DEALS)} deals x ${fmt(PER_DEAL)} entries = ${fmt(DEALS * PER_DEAL)} approved time entries per phase (${start.slice(0, 7)}), ERP limit ${ERP_PER_SECOND}/s, NetSuite ${NETSUITE_MS} ms per request, governor 5 in flight`);
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GB, Node ${process.version}; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);

  // ---- baseline: the rules alone
  const baseDeals = makeDeals('BASE', 1);
  const b = baseline(baseDeals);
  const expectedBase = baseDeals.reduce((a, d) => a + d.minutes * RATE_MINOR_PER_MINUTE, 0);
  console.log(`\nbaseline (rules only, in process): ${fmt(b.ms)} ms, ${fmt((DEALS * PER_DEAL) / (b.ms / 1000))} entries/s, ${fmt(b.invoices)} invoices, subtotal ${b.subtotal === expectedBase ? 'matches' : 'DIFFERS FROM'} sum(minutes) x $150/h`);

  // ---- the stack
  const handle = await openDb({ dataDir: 'memory://' });
  const sandbox = await startSandbox({ port: 0, db: handle.db, logger, vendors: [NETSUITE_VENDOR, AVALARA_VENDOR] });
  await fetch(`${sandbox.url}/netsuite/_sandbox/config`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ concurrencyLimit: 5, processingMs: NETSUITE_MS, editWindowMs: 0 }) });
  const cfg = sandboxConnectorsConfig(sandbox.url);
  const unlimited = { capacity: 1_000_000, refillPerSecond: 1_000_000 };
  const erp = createNetSuiteAdapter({ ...cfg.netsuite, rateLimit: unlimited, timeoutMs: 60_000 });
  const tax = createAvalaraAdapter({ ...cfg.avalara, rateLimit: unlimited, timeoutMs: 60_000 });
  const crm = { recordInvoiceStatus: async (i: { invoiceNumber: string }) => ({ id: i.invoiceNumber, externalId: i.invoiceNumber, created: true }), updateOpportunityStage: async () => undefined } as unknown as CrmPort;
  const psa = { recordInvoice: async (i: { invoiceNumber: string }) => ({ id: i.invoiceNumber, created: true }) } as unknown as PsaPort;
  const billing = {} as BillingPort;
  const base = createBillingActivities({ db: handle.db, logger, catalog, ruleSets: () => ruleSet, connectors: { erp, tax, crm, psa, billing } });

  let c = counters();
  const counted = <K extends 'postInvoice' | 'taxInvoice' | 'recordInvoiceIssued'>(name: K) =>
    (async (input: never) => {
      c[name] += 1;
      if (Context.current().info.attempt > 1) c.retries += 1;
      try {
        const out = await (base[name] as (i: never) => Promise<unknown>)(input);
        if (name === 'recordInvoiceIssued') c.issued.add((input as { invoice: { id: string } }).invoice.id);
        return out;
      } catch (err) {
        const code = err instanceof ApplicationFailure ? (err.type ?? 'UNKNOWN') : 'UNKNOWN';
        c.failures[code] = (c.failures[code] ?? 0) + 1;
        throw err;
      }
    }) as (typeof base)[K];
  const activities = { ...base, postInvoice: counted('postInvoice'), taxInvoice: counted('taxInvoice'), recordInvoiceIssued: counted('recordInvoiceIssued') };

  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: resolveTemporalCli({ pathEnv: process.env.PATH }) }, extraArgs: ['--search-attribute', 'DealStage=Keyword', '--search-attribute', 'CustomerId=Keyword', '--search-attribute', 'LegalEntity=Keyword', '--search-attribute', 'NeedsAttention=Bool'] },
  });
  const client = env.client;
  const native = env.nativeConnection;
  const noop = () => {};
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, ...WORKFLOW_BUNDLER_OPTIONS, logger: { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop } });
  const main = await Worker.create({ connection: native, taskQueue: TASK_QUEUE, workflowBundle, activities, sinks: kpiSinks(), maxCachedWorkflows: Math.max(2_000, DEALS * 2) });
  const mainRun = main.run();

  // ERP customers (setup, not timed): one per 4 deals.
  const usEntity = catalog.legalEntities.find((e) => e.id === 'LE-US')!;
  const erpCustomers = new Map<string, string>();
  const customerIds = [...new Set(Array.from({ length: DEALS }, (_, d) => Math.floor(d / DEALS_PER_CUSTOMER)))];
  for (let i = 0; i < customerIds.length; i += 4) {
    await Promise.all(
      customerIds.slice(i, i + 4).map(async (k) => {
        const cust = customerOf(k);
        erpCustomers.set(cust.id, (await erp.upsertCustomer({ customer: cust, legalEntity: usEntity, idempotencyKey: cust.id })).id);
      }),
    );
  }

  async function phase(name: string, prefix: string, seed: number, limit: number, deadlineMs: number): Promise<void> {
    c = counters();
    const deals = makeDeals(prefix, seed);
    // The server keeps the last queue-wide limit a poller reported, so "off" is an explicit, unreachable limit.
    const erpWorker = await Worker.create({ connection: native, taskQueue: ERP_TASK_QUEUE, activities, maxTaskQueueActivitiesPerSecond: limit });
    const erpRun = erpWorker.run();
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    // signal-with-start: the month's approved time is in the inbox before the first invoice run.
    const starts: Array<Promise<unknown>> = [];
    for (const d of deals) {
      const input: DealInput = {
        opportunityId: d.opportunityId,
        correlationId: `month-end-${d.opportunityId}`,
        resume: {
          snapshot: d.snapshot,
          view: { opportunityId: d.opportunityId, stage: 'IN_DELIVERY', ids: { erpCustomerId: erpCustomers.get(d.customer.id)!, projectId: `WS-${d.opportunityId}` }, exceptions: [], timeline: [] },
          delivery: { state: initialEngagementState(), inbox: { batches: [], payments: [], recentBatchIds: [] } },
        },
      };
      const batch: DeliveryBatch = { batchId: `kantata:${d.opportunityId}:month`, source: 'kantata', receivedAt: new Date().toISOString(), items: d.items };
      const dup: DeliveryBatch = { batchId: `sweep:${d.opportunityId}:overlap`, source: 'sweep', receivedAt: new Date().toISOString(), items: d.items.slice(0, Math.ceil(PER_DEAL / 5)) };
      starts.push(
        client.workflow
          .signalWithStart('dealWorkflow', { taskQueue: TASK_QUEUE, workflowId: dealWorkflowId(d.opportunityId), args: [input], signal: deliveryBatchSignal, signalArgs: [batch] })
          .then(() => client.workflow.getHandle(dealWorkflowId(d.opportunityId)).signal(deliveryBatchSignal, dup)),
      );
      if (starts.length >= 50) await Promise.all(starts.splice(0));
    }
    await Promise.all(starts);
    const tStarted = performance.now();

    let done = 0;
    let tDone = 0;
    while (done < DEALS && performance.now() - t0 < deadlineMs) {
      await new Promise((r) => setTimeout(r, 250));
      done = c.issued.size;
      if (done >= DEALS) tDone = performance.now();
    }
    const wall = ((tDone || performance.now()) - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    erpWorker.shutdown();
    await erpRun;

    // ---- correctness: one ERP invoice per deal (all its entries are one month), one invoice per entry, totals
    const ns = (await sandbox.store.list('netsuite', 'invoice', { limit: 1_000_000 })).items.filter((r) => (r.externalId ?? '').startsWith(`deal-${prefix}-`));
    const perDeal = new Map<string, number>();
    let erpSubtotal = 0;
    for (const r of ns) {
      const dealId = r.externalId!.split(':invoice:')[0]!;
      perDeal.set(dealId, (perDeal.get(dealId) ?? 0) + 1);
      erpSubtotal += Math.round(Number(r.data['subtotal'] ?? 0) * 100);
    }
    const duplicates = [...perDeal.values()].reduce((a, n) => a + n - 1, 0);
    const links = await handle.db.execute(sql`
      select count(*)::int as links, count(distinct source_id)::int as sources, coalesce(sum(amount_minor), 0)::bigint as amount,
             (select count(*)::int from (select source_id from audit_links where document_kind = 'invoice' and deal_id like ${`deal-${prefix}-%`} group by source_id having count(distinct document_number) > 1) x) as twice
      from audit_links where document_kind = 'invoice' and deal_id like ${`deal-${prefix}-%`}`);
    const row = (links as unknown as { rows: Array<{ links: number; sources: number; amount: string; twice: number }> }).rows[0]!;
    const expected = deals.reduce((a, d) => a + d.minutes * RATE_MINOR_PER_MINUTE, 0);
    // Peak invoice creates per second in the ERP sandbox, from its own timestamps.
    const perSecond = new Map<number, number>();
    for (const r of ns) {
      const s = Math.floor(r.createdAt.getTime() / 1000);
      perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
    }
    const peak = Math.max(0, ...perSecond.values());
    const entries = Number(row.sources);

    console.log(`\n${name}`);
    console.log(`  invoices issued      ${fmt(done)} / ${fmt(DEALS)}${tDone ? '' : `  (NOT DONE within ${fmt(deadlineMs / 1000)} s: the rest are still retrying or wait for a later run)`}`);
    console.log(`  wall clock           ${fmt(wall, 1)} s (starting ${fmt(DEALS)} deals with their entries: ${fmt((tStarted - t0) / 1000, 1)} s)`);
    console.log(`  throughput           ${fmt(done / wall, 1)} invoices/s, ${fmt(entries / wall)} entries/s`);
    console.log(`  process CPU          ${fmt((cpu.user + cpu.system) / 1e6, 1)} s (worker + sandboxes + PGlite; the dev server is another process)`);
    console.log(`  ERP peak             ${peak} invoices created in one second (sandbox timestamps)`);
    console.log(`  activity attempts    postInvoice ${fmt(c.postInvoice)}, taxInvoice ${fmt(c.taxInvoice)}, recordInvoiceIssued ${fmt(c.recordInvoiceIssued)}; retries ${fmt(c.retries)}; failures ${JSON.stringify(c.failures)}`);
    console.log(`  duplicates in ERP    ${duplicates} (${fmt(ns.length)} invoice records for ${fmt(perDeal.size)} deals; ERP subtotal ${fmt(erpSubtotal)} cents)`);
    console.log(`  entries invoiced     ${fmt(entries)} distinct, ${row.twice} on two invoices, ${fmt(Number(row.links))} audit links`);
    console.log(`  invoiced amount      ${fmt(Number(row.amount))} cents; expected sum(minutes) x $150/h = ${fmt(expected)} cents${done === DEALS ? (Number(row.amount) === expected ? ' (equal)' : ' (DIFFERENT)') : ''}`);
  }

  // ON first: what is still retrying when OFF hits its deadline must not run into another phase.
  await phase(`rate limit ON (maxTaskQueueActivitiesPerSecond ${ERP_PER_SECOND})`, 'ON', 3, ERP_PER_SECOND, 20 * 60_000);
  await phase(`rate limit OFF (maxTaskQueueActivitiesPerSecond 100,000: no effective limit)`, 'OFF', 2, 100_000, OFF_DEADLINE_S * 1000);

  main.shutdown();
  await mainRun;
  await env.teardown();
  await sandbox.close();
  await handle.close();
  console.log(`\nload at end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
