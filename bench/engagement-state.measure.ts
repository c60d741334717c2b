/**
 * The measuring half of bench/engagement-state.bench.ts (issue 12, item 4): one figure of the
 * deal's delivery part, measured in the tree this file sits in, printed as `RESULT <json>` on
 * the last line of stdout (progress goes to stderr). The bench runs the current tree's copy and
 * a copy placed in a git worktree of the base commit, each figure in a process of its own.
 *
 *   tsx bench/engagement-state.measure.ts cached  [--deals 200] [--entries 100] [--warmup 5] [--evict-cache <n>]
 *   tsx bench/engagement-state.measure.ts carried [--max-history 1000]
 *
 * cached: N deals (engagementTestWorkflow with a month-end snapshot, as bench/month-end.bench.ts
 * builds it) each receive last month's E approved time entries in one batch, on a Temporal dev
 * server with the NetSuite and Avalara sandboxes (startTestSandbox) and a PGlite memory
 * database; each issues its invoice and then waits on its timer (next month) in the worker's
 * cache. The SDK runs workflows in a worker thread (reuseV8Context: one V8 isolate and context
 * for all of them), which the main thread's process.memoryUsage().heapUsed never sees, so this
 * process attaches to that thread through the inspector (NodeWorker domain), forces a full GC
 * there (HeapProfiler.collectGarbage) and in the main isolate, and reads the thread's heap
 * (Runtime.getHeapUsage) and the process RSS, before and after the deals are cached. The delta
 * is divided by the worker's own count of cached runs (Worker.getStatus().numCachedWorkflows).
 * Evict check: a second worker (new thread) whose cache holds only half of the deals runs N new
 * deals; if the memory belongs to cached deals (not to every deal ever run), its delta per
 * cached run equals the first phase's.
 *
 * carried: the 3-year weekly-billed deal of test/workflows/engagement.long.test.ts (157 weekly
 * invoices, paid two days after each monthly batch, continue-as-new after --max-history events)
 * on the time-skipping server; reads the input payload of every WorkflowExecutionContinuedAsNew
 * event in the history (the state carried to the next run).
 */
import { existsSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Context } from '@temporalio/activity';
import type { QueryDefinition, SignalDefinition } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { createBillingActivities } from '../src/activities/billing.activities';
import { openDb } from '../src/db';
import { addDays } from '../src/rules/dates';
import { RuleSet } from '../src/rules/ruleset';
import defaultRuleSet from '../src/rules/rulesets/default.json';
import { AVALARA_VENDOR } from '../src/sandbox/avalara/avalara.sandbox';
import { NETSUITE_VENDOR } from '../src/sandbox/netsuite/netsuite.sandbox';
import { kpiSinks } from '../src/worker';
import { testLogger } from '../test/support/logger';
import { startTestSandbox } from '../test/support/sandbox';
import { createDevServerEnv, createTimeSkippingEnv } from '../test/support/temporal';
import { avalara, catalog, customer, engagementBundle, engagementWorkers, netsuite, recordingPorts, skipTo, snapshotFor, usd } from '../test/workflows/engagement.support';
import { engagementTestWorkflow } from '../test/workflows/engagement.workflows';
import { seededRandom } from '../src/sandbox/faults';

// ---------------------------------------------------------------- the delivery messages

/*
 * The same file runs against trees where the delivery messages live in different modules
 * (src/workflows/delivery.messages.ts up to b3346a9, src/contract after the engagement-core
 * refactor): the first of these that exists is used. When they move again, add the new place
 * first. Only what this file sends and reads is typed here (the wire names do not change:
 * recorded histories replay against them).
 */
const MESSAGE_MODULES = ['../src/contract', '../src/workflows/delivery.messages'];
/** The ERP activities' task queue (ERP_TASK_QUEUE, a wire name like the messages'; its module moved too). */
const ERP_TASK_QUEUE = 'q2c-erp';

interface TimeEntryItem {
  kind: 'timeEntry';
  sourceId: string;
  projectId: string;
  taskId?: string;
  resourceId: string;
  role?: string;
  workDate: string;
  minutes: number;
  billable: boolean;
  approvedAt: string;
}
interface Batch {
  batchId: string;
  source: 'kantata' | 'sweep';
  receivedAt: string;
  items: TimeEntryItem[];
}
interface Payment {
  eventId: string;
  source: 'stripe';
  kind: 'invoice.paid';
  occurredAt: string;
  amountMinor: number;
  currency: string;
  invoiceNumber: string;
}
interface StateView {
  invoices: Array<{ number: string; status: string; totalMinor: number }>;
  continuedAsNew: number;
  summary?: { invoices: unknown[]; invoicedMinor: number };
}
interface Messages {
  deliveryBatchSignal: SignalDefinition<[Batch]>;
  paymentSignal: SignalDefinition<[Payment]>;
  getDeliveryStateQuery: QueryDefinition<StateView>;
}

async function loadMessages(): Promise<{ from: string; messages: Messages }> {
  for (const rel of MESSAGE_MODULES) {
    const abs = join(__dirname, rel);
    if (!existsSync(`${abs}.ts`) && !existsSync(join(abs, 'index.ts'))) continue;
    const mod = (await import(abs)) as Partial<Messages>;
    if (mod.deliveryBatchSignal && mod.paymentSignal && mod.getDeliveryStateQuery) {
      return { from: rel, messages: { deliveryBatchSignal: mod.deliveryBatchSignal, paymentSignal: mod.paymentSignal, getDeliveryStateQuery: mod.getDeliveryStateQuery } };
    }
  }
  throw new Error(`no delivery messages in ${MESSAGE_MODULES.join(', ')} (relative to ${__dirname}): add their module to MESSAGE_MODULES`);
}

// ---------------------------------------------------------------- helpers

const log = (msg: string) => process.stderr.write(`[measure ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quietLogger = () => Runtime.install({ logger: new DefaultLogger('ERROR') });

/** Seeded PRNG: the same entries on every run (the sandbox's fault generator). */
const prng = seededRandom;

/**
 * The V8 heaps of this process: the main isolate's and, through the inspector's NodeWorker
 * domain, those of its worker threads (the SDK's workflow thread). No command-line flag is
 * needed: an in-process inspector session can force a GC and read heap usage in any isolate.
 */
class HeapProbe {
  private readonly session = new Session();
  private readonly threads = new Map<string, string>(); // sessionId -> url
  private readonly pending = new Map<number, (r: { result?: unknown; error?: { message: string } }) => void>();
  private nextId = 0;

  static async open(): Promise<HeapProbe> {
    const p = new HeapProbe();
    p.session.connect();
    p.session.on('NodeWorker.attachedToWorker', (m) => p.threads.set(m.params.sessionId, m.params.workerInfo.url));
    p.session.on('NodeWorker.detachedFromWorker', (m) => p.threads.delete(m.params.sessionId));
    p.session.on('NodeWorker.receivedMessageFromWorker', (m) => {
      const msg = JSON.parse(m.params.message) as { id?: number; result?: unknown; error?: { message: string } };
      if (msg.id === undefined) return;
      p.pending.get(msg.id)?.(msg);
      p.pending.delete(msg.id);
    });
    await p.session.post('NodeWorker.enable', { waitForDebuggerOnStart: false });
    return p;
  }

  /** The SDK's workflow thread (lib/workflow/workflow-worker-thread.js) that attached after `known`. */
  async workflowThread(known: Set<string>): Promise<string> {
    for (let i = 0; i < 100; i++) {
      const found = [...this.threads].filter(([id, url]) => !known.has(id) && url.includes('workflow-worker-thread'));
      if (found.length === 1) return found[0]![0];
      if (found.length > 1) throw new Error(`expected one workflow thread (reuseV8Context), found ${found.length}`);
      await sleep(50);
    }
    throw new Error(`no workflow thread attached; threads: ${[...this.threads.values()].join(', ') || 'none'}`);
  }

  knownThreads(): Set<string> {
    return new Set(this.threads.keys());
  }

  private send<T>(sessionId: string, method: string): Promise<T> {
    const id = ++this.nextId;
    const reply = new Promise<T>((resolve, reject) =>
      this.pending.set(id, (r) => (r.error ? reject(new Error(`${method}: ${r.error.message}`)) : resolve(r.result as T))),
    );
    void this.session.post('NodeWorker.sendMessageToWorker', { sessionId, message: JSON.stringify({ id, method }) });
    return reply;
  }

  /** Full GCs in both isolates (twice: finalizers free more), then the workflow thread's heap and the process figures. */
  async measure(thread: string): Promise<Memory> {
    for (let i = 0; i < 2; i++) {
      await this.session.post('HeapProfiler.collectGarbage');
      await this.send(thread, 'HeapProfiler.collectGarbage');
      await sleep(200);
    }
    const heap = await this.send<{ usedSize: number; totalSize: number }>(thread, 'Runtime.getHeapUsage');
    const mu = process.memoryUsage();
    return { threadHeapUsed: heap.usedSize, threadHeapTotal: heap.totalSize, mainHeapUsed: mu.heapUsed, rss: mu.rss, external: mu.external, arrayBuffers: mu.arrayBuffers };
  }

  close(): void {
    this.session.disconnect();
  }
}

interface Memory {
  /** The workflow thread's V8 heap, live objects after a full GC: every cached deal's state is here. */
  threadHeapUsed: number;
  threadHeapTotal: number;
  mainHeapUsed: number;
  /** The whole process: both isolates, the SDK core's native cache (Rust), the sandboxes and PGlite (WASM). */
  rss: number;
  external: number;
  arrayBuffers: number;
}

// ---------------------------------------------------------------- cached deals per GB

export interface CachedPhase {
  name: string;
  maxCachedWorkflows: number;
  dealsRun: number;
  cachedBefore: number;
  cachedAfter: number;
  before: Memory;
  after: Memory;
  /** History events per deal when idle (min, mean, max). */
  historyEvents: [number, number, number];
  seconds: number;
}

export interface CachedResult {
  figure: 'cached';
  messagesFrom: string;
  deals: number;
  entries: number;
  warmup: number;
  phases: CachedPhase[];
  seconds: number;
}

/** Last calendar month (month-end bills it) and a contract that started the month before. */
function monthEnd(): { start: string; days: number; contractStart: string } {
  const now = new Date();
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const first = new Date(Date.UTC(y, m - 1, 1));
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return { start: first.toISOString().slice(0, 10), days, contractStart: new Date(Date.UTC(y, m - 2, 1)).toISOString().slice(0, 10) };
}

async function measureCached(opts: { deals: number; entries: number; warmup: number; evictCache: number }): Promise<CachedResult> {
  const t0 = performance.now();
  quietLogger();
  const { from, messages } = await loadMessages();
  const env = await createDevServerEnv();
  const sb = await startTestSandbox({ vendors: [NETSUITE_VENDOR, AVALARA_VENDOR] });
  const db = await openDb({ dataDir: 'memory://' });
  const probe = await HeapProbe.open();
  try {
    const erp = netsuite(sb.url);
    const erpCustomer = await erp.upsertCustomer({ customer, legalEntity: catalog.legalEntities.find((e) => e.id === 'LE-US')!, idempotencyKey: customer.id });
    const ports = recordingPorts();
    const ruleSet = RuleSet.parse(defaultRuleSet);
    const base = createBillingActivities({ db: db.db, logger: testLogger, catalog, ruleSets: () => ruleSet, connectors: { erp, tax: avalara(sb.url), crm: ports.crm, psa: ports.psa, billing: ports.billing } });
    // The deals (workflow ids) whose invoice has been issued: recordInvoiceIssued is its last step.
    const issued = new Set<string>();
    const activities = {
      ...base,
      recordInvoiceIssued: async (input: Parameters<typeof base.recordInvoiceIssued>[0]) => {
        await base.recordInvoiceIssued(input);
        issued.add(Context.current().info.workflowExecution?.workflowId ?? '');
      },
    };
    const erpWorker = await Worker.create({ connection: env.nativeConnection, taskQueue: ERP_TASK_QUEUE, activities, maxTaskQueueActivitiesPerSecond: 50 });
    const erpRun = erpWorker.run();
    const { start, days, contractStart } = monthEnd();

    const startDeals = async (taskQueue: string, prefix: string, count: number, seed: number): Promise<string[]> => {
      const rnd = prng(seed);
      const ids: string[] = [];
      const starts: Array<Promise<unknown>> = [];
      for (let d = 0; d < count; d++) {
        const opportunityId = `${prefix}-${String(d).padStart(5, '0')}`;
        const workflowId = `deal-${opportunityId}`;
        // As bench/month-end.bench.ts: T&M at $150.00/h, not-to-exceed 5,000 h (never reached), monthly in arrears.
        const snapshot = snapshotFor(opportunityId, [{ id: 'QL-1', servicePackage: 'ADVISORY_TM', description: 'Advisory', quantity: 5_000, unit: 'HOUR', listPrice: usd(15_000), netPrice: usd(15_000), discountBp: 0, approvalStatus: 'APPROVED', externalIds: {} }], contractStart);
        const task = `${snapshot.contract.lines[0]!.id}-T1`;
        const items: TimeEntryItem[] = [];
        for (let i = 0; i < opts.entries; i++) {
          const workDate = `${start.slice(0, 8)}${String(1 + Math.floor(rnd() * days)).padStart(2, '0')}`;
          const minutes = 30 * (8 + Math.floor(rnd() * 13)); // 4 h .. 10 h in half hours
          items.push({ kind: 'timeEntry', sourceId: `${opportunityId}-${i}`, projectId: `WS-${opportunityId}`, taskId: task, resourceId: `r-${d % 37}`, role: 'consultant', workDate, minutes, billable: true, approvedAt: `${workDate}T20:00:00Z` });
        }
        const batch: Batch = { batchId: `kantata:${opportunityId}:month`, source: 'kantata', receivedAt: new Date().toISOString(), items };
        starts.push(
          env.client.workflow.signalWithStart(engagementTestWorkflow, {
            taskQueue,
            workflowId,
            args: [{ opportunityId, snapshot, view: { opportunityId, stage: 'IN_DELIVERY', ids: { erpCustomerId: erpCustomer.id }, exceptions: [], timeline: [] } }],
            signal: messages.deliveryBatchSignal,
            signalArgs: [batch],
          }),
        );
        ids.push(workflowId);
        if (starts.length >= 50) await Promise.all(starts.splice(0));
      }
      await Promise.all(starts);
      return ids;
    };

    /** Until every deal has issued its invoice, both workers are idle, and each history ends in TimerStarted. */
    const untilIdle = async (main: Worker, ids: string[]): Promise<number[]> => {
      const deadline = performance.now() + 15 * 60_000;
      for (;;) {
        if (performance.now() > deadline) throw new Error(`deals not idle after 15 min: ${ids.filter((id) => !issued.has(id)).length} without an invoice`);
        await sleep(500);
        if (!ids.every((id) => issued.has(id))) continue;
        let quiet = 0;
        while (quiet < 4 && performance.now() < deadline) {
          const m = main.getStatus();
          const e = erpWorker.getStatus();
          quiet = m.numInFlightWorkflowActivations === 0 && m.numInFlightActivities === 0 && e.numInFlightActivities === 0 ? quiet + 1 : 0;
          await sleep(250);
        }
        const lengths: number[] = [];
        let waiting = 0;
        for (const id of ids) {
          const events = (await env.client.workflow.getHandle(id).fetchHistory()).events ?? [];
          lengths.push(events.length);
          if (events[events.length - 1]?.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_TIMER_STARTED) waiting += 1;
        }
        if (waiting === ids.length) return lengths;
        log(`${ids.length - waiting} of ${ids.length} deals not yet waiting on their timer`);
      }
    };

    const phase = async (name: string, prefix: string, seed: number, maxCachedWorkflows: number): Promise<CachedPhase> => {
      const tp = performance.now();
      const taskQueue = `engagement-state-${prefix.toLowerCase()}`;
      const known = probe.knownThreads();
      const main = await Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        workflowBundle: await engagementBundle(),
        activities,
        sinks: kpiSinks(),
        maxCachedWorkflows,
        maxConcurrentWorkflowTaskExecutions: Math.min(40, maxCachedWorkflows),
      });
      const thread = await probe.workflowThread(known);
      const run = main.run();
      try {
        // Warm-up deals: code compiled, connections and pools open, the sandboxes' tables in use, before the baseline.
        const warm = await startDeals(taskQueue, `${prefix}W`, opts.warmup, seed + 1);
        await untilIdle(main, warm);
        const cachedBefore = main.getStatus().numCachedWorkflows;
        const before = await probe.measure(thread);
        log(`${name}: baseline with ${cachedBefore} cached: workflow thread heap ${mib(before.threadHeapUsed)}, RSS ${mib(before.rss)}`);
        const ids = await startDeals(taskQueue, prefix, opts.deals, seed);
        const lengths = await untilIdle(main, ids);
        const cachedAfter = main.getStatus().numCachedWorkflows;
        const after = await probe.measure(thread);
        log(`${name}: ${opts.deals} deals idle, ${cachedAfter} cached: workflow thread heap ${mib(after.threadHeapUsed)}, RSS ${mib(after.rss)}`);
        const mean = lengths.reduce((a, n) => a + n, 0) / lengths.length;
        return { name, maxCachedWorkflows, dealsRun: opts.deals, cachedBefore, cachedAfter, before, after, historyEvents: [Math.min(...lengths), Math.round(mean), Math.max(...lengths)], seconds: (performance.now() - tp) / 1000 };
      } finally {
        main.shutdown();
        await run;
      }
    };

    const phases: CachedPhase[] = [];
    phases.push(await phase('all cached', 'CACHED', 1, 2 * (opts.deals + opts.warmup)));
    if (opts.evictCache > 0) phases.push(await phase(`evict check (cache ${opts.evictCache})`, 'EVICT', 2, opts.evictCache));
    erpWorker.shutdown();
    await erpRun;
    return { figure: 'cached', messagesFrom: from, deals: opts.deals, entries: opts.entries, warmup: opts.warmup, phases, seconds: (performance.now() - t0) / 1000 };
  } finally {
    probe.close();
    await env.teardown();
    await sb.close();
    await db.close();
  }
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

// ---------------------------------------------------------------- carried state size

export interface CarriedRun {
  historyEvents: number;
  /** Bytes of the WorkflowExecutionContinuedAsNew event's input payloads (data, JSON), when the run continued as new. */
  inputBytes?: number;
  /** Bytes of the carried delivery state alone (the input's `resume`, re-serialised as JSON). */
  resumeBytes?: number;
}

export interface CarriedResult {
  figure: 'carried';
  messagesFrom: string;
  maxHistoryEvents: number;
  runs: CarriedRun[];
  /** The last carried input's largest top-level parts of resume.state (bytes of JSON). */
  lastStateParts: Record<string, number>;
  stage: string;
  invoices: number;
  paid: number;
  seconds: number;
}

const OPP = 'OPP-LONG';
const WEEKS = 157;

/** The scenario of test/workflows/engagement.long.test.ts, without its assertions (a few are checked below). */
async function measureCarried(opts: { maxHistory: number }): Promise<CarriedResult> {
  const t0 = performance.now();
  quietLogger();
  const { from, messages } = await loadMessages();
  const env: TestWorkflowEnvironment = await createTimeSkippingEnv();
  const sb = await startTestSandbox({ vendors: [NETSUITE_VENDOR, AVALARA_VENDOR] });
  const db = await openDb({ dataDir: 'memory://' });
  try {
    const until = (iso: string) => skipTo(env, iso);
    const erp = netsuite(sb.url);
    const ports = recordingPorts();
    const erpCustomer = await erp.upsertCustomer({ customer, legalEntity: catalog.legalEntities.find((e) => e.id === 'LE-US')!, idempotencyKey: customer.id });
    const base = snapshotFor(OPP, [{ id: 'QL-1', servicePackage: 'ADVISORY_TM', description: 'Advisory', quantity: 1_000, unit: 'HOUR', listPrice: usd(15_000), netPrice: usd(15_000), discountBp: 0, approvalStatus: 'APPROVED', externalIds: {} }], '2031-01-01');
    const snapshot = { ...base, contract: { ...base.contract, endDate: '2033-12-31', lines: base.contract.lines.map((l) => ({ ...l, endDate: '2033-12-31', invoiceSchedule: 'WEEKLY' as const })) } };
    const workers = await engagementWorkers({ env, taskQueue: 'long', db: db.db, connectors: { erp, tax: avalara(sb.url), crm: ports.crm, psa: ports.psa, billing: ports.billing } });
    const wednesdays = Array.from({ length: WEEKS }, (_, i) => addDays('2031-01-01', 7 * i));

    return await workers.run(async () => {
      await until('2031-01-01T14:00:00Z');
      const handle = await env.client.workflow.start(engagementTestWorkflow, {
        taskQueue: 'long',
        workflowId: `deal-${OPP}`,
        args: [{ opportunityId: OPP, snapshot, view: { opportunityId: OPP, stage: 'IN_DELIVERY', ids: { erpCustomerId: erpCustomer.id }, exceptions: [], timeline: [] }, options: { maxHistoryEvents: opts.maxHistory, childRunThreshold: 3 } }],
      });
      const paid = new Set<string>();
      const payPosted = async (at: string) => {
        for (const inv of (await handle.query(messages.getDeliveryStateQuery)).invoices) {
          if (paid.has(inv.number) || inv.status !== 'POSTED') continue;
          paid.add(inv.number);
          await handle.signal(messages.paymentSignal, { eventId: `evt-${inv.number}`, source: 'stripe', kind: 'invoice.paid', occurredAt: at, amountMinor: inv.totalMinor, currency: 'USD', invoiceNumber: inv.number });
        }
      };
      for (let y = 2031; y <= 2033; y++) {
        for (let m = 1; m <= 12; m++) {
          const month = `${y}-${String(m).padStart(2, '0')}`;
          const next = m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
          const items: TimeEntryItem[] = wednesdays
            .filter((d) => d.startsWith(month))
            .map((d) => ({ kind: 'timeEntry', sourceId: `W${d}`, projectId: 'WS-LONG', resourceId: 'r-us', role: 'consultant', workDate: d, minutes: 60, billable: true, approvedAt: `${d}T20:00:00Z` }));
          await until(`${next}-01T17:00:00Z`);
          await handle.signal(messages.deliveryBatchSignal, { batchId: `kantata:${month}`, source: 'kantata', receivedAt: `${next}-01T17:00:00Z`, items });
          await until(`${next}-03T17:00:00Z`);
          await payPosted(`${next}-03T17:00:00Z`);
        }
        log(`carried: ${y} delivered, ${paid.size} invoices paid`);
      }
      await until('2034-01-10T17:00:00Z');
      await payPosted('2034-01-10T17:00:00Z');
      const view = (await handle.result()) as { stage: string };
      const state = await env.client.workflow.getHandle(`deal-${OPP}`).query(messages.getDeliveryStateQuery);

      const runs: CarriedRun[] = [];
      let lastStateParts: Record<string, number> = {};
      let runId: string | undefined = handle.firstExecutionRunId;
      while (runId) {
        const history: temporal.api.history.v1.IHistory = await env.client.workflow.getHandle(`deal-${OPP}`, runId).fetchHistory();
        const events: temporal.api.history.v1.IHistoryEvent[] = history.events ?? [];
        const can = events[events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes;
        const run: CarriedRun = { historyEvents: events.length };
        if (can) {
          const payloads = can.input?.payloads ?? [];
          run.inputBytes = payloads.reduce((a, p) => a + (p.data?.length ?? 0), 0);
          const input = JSON.parse(Buffer.from(payloads[0]!.data!).toString('utf8')) as { resume?: { state?: Record<string, unknown> } };
          run.resumeBytes = Buffer.byteLength(JSON.stringify(input.resume ?? null));
          lastStateParts = Object.fromEntries(
            Object.entries(input.resume?.state ?? {})
              .map(([k, v]) => [k, Buffer.byteLength(JSON.stringify(v) ?? '')] as const)
              .sort((a, b) => b[1] - a[1]),
          );
        }
        runs.push(run);
        runId = can?.newExecutionRunId ?? undefined;
      }
      return { figure: 'carried', messagesFrom: from, maxHistoryEvents: opts.maxHistory, runs, lastStateParts, stage: view.stage, invoices: state.summary?.invoices.length ?? state.invoices.length, paid: paid.size, seconds: (performance.now() - t0) / 1000 } satisfies CarriedResult;
    });
  } finally {
    await env.teardown();
    await sb.close();
    await db.close();
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      deals: { type: 'string', default: '200' },
      entries: { type: 'string', default: '100' },
      warmup: { type: 'string', default: '5' },
      'evict-cache': { type: 'string' },
      'max-history': { type: 'string', default: '1000' },
    },
  });
  const figure = positionals[0];
  let result: CachedResult | CarriedResult;
  if (figure === 'cached') {
    const deals = Number(values.deals);
    const warmup = Number(values.warmup);
    const evictCache = values['evict-cache'] !== undefined ? Number(values['evict-cache']) : warmup + Math.ceil(deals / 2);
    result = await measureCached({ deals, entries: Number(values.entries), warmup, evictCache });
  } else if (figure === 'carried') {
    result = await measureCarried({ maxHistory: Number(values['max-history']) });
  } else {
    throw new Error(`usage: tsx bench/engagement-state.measure.ts cached|carried [options] (got ${figure ?? 'nothing'})`);
  }
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
