import { Client, ScheduleOverlapPolicy, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { ensureSweepSchedule, SWEEP_SCHEDULE_ID } from '../../src/cli/sweep';
import { bearerTokenAuth, HttpClient, staticSecret } from '../../src/connectors/http';
import { openDb, type Db, type DbHandle } from '../../src/db';
import { identityMap, syncWatermarks } from '../../src/db/schema';
import { dealWorkflow, reconciliationSweepWorkflow } from '../../src/workflows';
import { contractSignatureSignal, dealWorkflowId, getDealStateQuery, type DealView } from '../../src/contract';
import { deliveryBatchSignal, getDeliveryStateQuery, type DeliveryView } from '../../src/contract';
import type { SweepSummary } from '../../src/contract';
import { sandboxActivityDeps, seedClosedWonDeal, startDealWorkers } from '../support/deal';
import { SANDBOX_KANTATA_TOKENS } from '../../src/sandbox/credentials';
import { startTestSandbox, type TestSandbox } from '../support/sandbox';
import { createDevServerEnv, createTimeSkippingEnv, workflowBundle } from '../support/temporal';

jest.setTimeout(180_000);

/** Advisory T&M at RC-STD (consultant, US: $150.00/h, not-to-exceed 200 h) and expenses (TRAVEL at cost). */
const LINES = [
  { SBQQ__Number__c: 1, SBQQ__ProductCode__c: 'ADVISORY_TM', SBQQ__Description__c: 'Advisory', SBQQ__Quantity__c: 200, SBQQ__ListPrice__c: 150, SBQQ__NetPrice__c: 150, SBQQ__Discount__c: 0, Q2C_Unit__c: 'Hour' },
  { SBQQ__Number__c: 2, SBQQ__ProductCode__c: 'EXPENSES', SBQQ__Description__c: 'Expenses', SBQQ__Quantity__c: 1, SBQQ__ListPrice__c: 5000, SBQQ__NetPrice__c: 5000, SBQQ__Discount__c: 0, Q2C_Unit__c: 'Each' },
];

/*
 * The time-skipping server starts at the real now and only moves forward, and the sandboxes
 * stamp with the wall clock: the deals' calendar hangs off today in New York (month 0), so the
 * tests hold on any date. Contracts close on the 1st two months back and run 12 months.
 */
const NY_TODAY = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
/** Day `day` of the month `offset` months from this one, as YYYY-MM-DD. */
function monthDay(offset: number, day: number): string {
  const [y, m] = NY_TODAY.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y, m - 1 + offset, day)).toISOString().slice(0, 10);
}
const CLOSE_DATE = monthDay(-2, 1);
const SIGNED_AT = `${monthDay(-2, 5)}T10:00:00Z`;

/** Reads until `ok` holds (10 s at most); a failing read (no query handler yet) counts as not yet. */
async function poll<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < 300; i++) {
    try {
      last = await read();
      if (ok(last)) return last;
    } catch {
      // the query handler is installed once delivery has started
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never reached: ${what} (last: ${JSON.stringify(last)})`);
}

/** One sweep run to its end. A plain client: waiting for its result must not let the server skip the deal's time (time moves only by env.sleep). */
const runSweepOn = (env: TestWorkflowEnvironment, taskQueue: string, id: string): Promise<SweepSummary> =>
  new Client({ connection: env.connection }).workflow.execute(reconciliationSweepWorkflow, { taskQueue, workflowId: id, args: [{}] });

/** A database whose next `n` watermark writes fail: the sweep crashes after feeding the deal, before moving the watermark. */
function crashingWatermarks(db: Db): { db: Db; failNext(n: number): void; failed(): number } {
  let pending = 0;
  let failed = 0;
  const proxy = new Proxy(db, {
    get(target, prop) {
      if (prop === 'insert') {
        return (table: unknown) => {
          if (table === syncWatermarks && pending > 0) {
            pending -= 1;
            failed += 1;
            throw new Error('connection terminated');
          }
          return target.insert(table as typeof syncWatermarks);
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { db: proxy, failNext: (n) => (pending = n), failed: () => failed };
}

describe('the reconciliation sweep on the time-skipping server: the deal counts every item once', () => {
  const TASK_QUEUE = 'sweep-tests';
  let env: TestWorkflowEnvironment;
  let sandbox: TestSandbox;
  let handleDb: DbHandle;
  let workers: { stop(): Promise<void> };
  let crash: ReturnType<typeof crashingWatermarks>;
  let kantata: HttpClient;

  beforeAll(async () => {
    sandbox = await startTestSandbox();
    handleDb = await openDb({ dataDir: 'memory://' });
    crash = crashingWatermarks(handleDb.db);
    env = await createTimeSkippingEnv();
    workers = await startDealWorkers(env, TASK_QUEUE, { ...sandboxActivityDeps(sandbox.url, crash.db), temporalClient: env.client.workflow });
    kantata = new HttpClient({ system: 'kantata-control', baseUrl: `${sandbox.url}/kantata` });
  });
  afterAll(async () => {
    await workers?.stop();
    await env?.teardown();
    await sandbox?.close();
    await handleDb?.close();
  });

  const seed = async (kind: string, data: Record<string, unknown>): Promise<string> => (await kantata.request<{ id: string }>({ method: 'POST', path: `/_sandbox/${kind}`, json: data })).body.id;
  const storyOf = async (taskId: string) => (await sandbox.store.list('kantata', 'stories', { limit: 1000 })).items.find((r) => String(r.data['description']).startsWith(`q2c-ref:${taskId}`))!.id;


  const runSweep = (id: string) => runSweepOn(env, TASK_QUEUE, id);
  const sleepUntil = async (iso: string) => {
    const ms = Date.parse(iso) - (await env.currentTimeMs());
    if (ms > 0) await env.sleep(ms);
  };

  it('feeds what the webhook missed, re-feeds harmlessly after a crash, and never bills an item twice', async () => {
    // Part 1 for real: closed-won, signed, provisioned in Kantata (which links deal -> workspace in the identity map).
    const { opportunityId } = await seedClosedWonDeal(sandbox.url, { key: 'SWEEP', lines: LINES, opportunity: { CloseDate: CLOSE_DATE } });
    const deal: WorkflowHandle<typeof dealWorkflow> = await env.client.workflow.start(dealWorkflow, {
      taskQueue: TASK_QUEUE,
      workflowId: dealWorkflowId(opportunityId),
      args: [{ opportunityId, correlationId: 'corr-sweep' }],
    });
    const out = await poll(() => deal.query(getDealStateQuery), (v: DealView) => v.stage === 'CONTRACT_OUT_FOR_SIGNATURE', 'out for signature');
    await deal.signal(contractSignatureSignal, { eventId: 'evt-sign', envelopeId: out.ids.envelopeId!, status: 'completed', occurredAt: SIGNED_AT });
    const view = await poll(() => deal.query(getDealStateQuery), (v: DealView) => v.stage === 'IN_DELIVERY', 'in delivery');
    const ws = view.ids.projectId!;
    const line = `CTR-${opportunityId}-L1`;

    // Last month in Kantata: 10 h + 8 h advisory, 2 h internal admin (not billable), 1 h not approved, $420.00 travel.
    const user = await seed('users', { full_name: 'Ana Consultant' });
    for (const [name, value] of [['Role', 'consultant'], ['Region', 'US'], ['Legal Entity', 'LE-US']]) await seed('custom_field_values', { subject_type: 'User', subject_id: user, custom_field_name: name, value, display_value: value });
    const te = async (taskId: string, date: string, minutes: number, approved = true) =>
      seed('time_entries', { workspace_id: ws, story_id: await storyOf(taskId), user_id: user, date_performed: date, time_in_minutes: minutes, approved, billable: true });
    const e1 = await te(`${line}-T1`, monthDay(-1, 5), 600);
    await te(`${line}-T1`, monthDay(-1, 6), 480);
    await te(`${line}-T2`, monthDay(-1, 7), 120);
    await te(`${line}-T1`, monthDay(-1, 8), 60, false);
    await seed('expenses', { workspace_id: ws, user_id: user, date: monthDay(-1, 9), category: 'TRAVEL', amount_in_cents: 42_000, currency: 'USD', approved: true });

    // Only the first entry's webhook arrived (as the Kantata relay sends it: the story id as task).
    await deal.signal(deliveryBatchSignal, {
      batchId: 'kantata:evt-te-1',
      source: 'kantata',
      receivedAt: new Date().toISOString(),
      items: [{ kind: 'timeEntry', sourceId: e1, projectId: ws, taskId: await storyOf(`${line}-T1`), resourceId: user, role: 'consultant', workDate: monthDay(-1, 5), minutes: 600, billable: true, approvedAt: `${monthDay(-1, 5)}T20:00:00Z` }],
    });

    const first = await runSweep('sweep-1');
    expect(first).toEqual({ deals: 1, fed: 1, time: 3, expenses: 1, milestones: 0, batches: 2, skipped: [], failed: [] });

    // The 1st of next month: last month and this one are closed; one invoice for last month. (600 + 480) min x $150.00/h = $2,700.00 + $420.00 travel = $3,120.00;
    // 120 min internal admin = $300.00 excluded. The webhook's entry is counted once.
    await poll(() => deal.query(getDeliveryStateQuery), (s) => s.pending.time === 3 && s.pending.expenses === 1, 'items received');
    await sleepUntil(`${monthDay(1, 1)}T12:00:00Z`);
    const posted = (s: DeliveryView) => s.invoices.length > 0 && s.invoices.every((i) => i.status === 'POSTED');
    let state = await poll(() => deal.query(getDeliveryStateQuery), posted, 'october invoiced');
    expect(state.totals).toEqual({ BILLABLE: 312_000, DEFERRED: 0, CAPPED: 0, EXCLUDED: 30_000, delivered: 342_000 });
    expect(state.invoices.map((i) => [i.issueDate, i.period.start, i.subtotalMinor])).toEqual([[monthDay(1, 1), monthDay(-1, 1), 312_000]]);
    expect(state.excluded.map((x) => [x.reasonCode, x.amountMinor])).toEqual([['EXCLUDED.NON_BILLABLE_TASK', 30_000]]);

    // The next sweep reads the window's overlap and the rows the invoice write-back touched again
    // (their updated_at moved); the deal drops them as seen (checked below: nothing of them is pending or billed again).
    const second = await runSweep('sweep-2');
    expect([second.time, second.expenses, second.failed]).toEqual([3, 1, []]);

    // A late entry for last month; the sweep crashes after signalling, before its watermark write, and is retried by Temporal.
    await te(`${line}-T1`, monthDay(-1, 20), 300);
    crash.failNext(1);
    const third = await runSweep('sweep-3');
    expect(crash.failed()).toBe(1);
    expect([third.time, third.failed]).toEqual([4, []]);
    const history = await env.client.workflow.getHandle('sweep-3').fetchHistory();
    const attempts = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
    expect(attempts).toEqual([1, 2]); // listSweepTargets once; sweepDeals failed once and ran again

    // The deal bills late items at its next run (the 1st of the month after next): 300 min x $150.00/h = $750.00, once, on a late invoice for last month.
    state = await poll(() => deal.query(getDeliveryStateQuery), (s) => s.pending.time > 0, 'late entry received');
    expect([state.pending, state.totals.delivered, state.invoices.length]).toEqual([{ time: 1, expenses: 0, milestones: 0 }, 342_000, 1]);
    await sleepUntil(`${monthDay(2, 1)}T12:00:00Z`);
    state = await poll(() => deal.query(getDeliveryStateQuery), (s) => s.invoices.length === 2 && posted(s), 'late entry invoiced');
    expect(state.totals).toEqual({ BILLABLE: 387_000, DEFERRED: 0, CAPPED: 0, EXCLUDED: 30_000, delivered: 417_000 });
    expect(state.invoices.map((i) => i.subtotalMinor)).toEqual([312_000, 75_000]);
    // Kantata agrees: each entry sits on one invoice (the sandbox refuses to invoice an entry twice).
    const psaInvoices = (await sandbox.store.list('kantata', 'invoices', { limit: 100 })).items.filter((r) => (r.data['workspace_ids'] as string[]).includes(ws));
    expect(psaInvoices.map((r) => (r.data['time_entry_ids'] as string[]).length)).toEqual([2, 1]);
    const watermarks = await handleDb.db.select().from(syncWatermarks);
    expect(watermarks.map((w) => w.stream).sort()).toEqual([`expenses:${ws}`, `milestones:${ws}`, `time:${ws}`]);

    for (let i = 0; i < 100 && ((await deal.describe()).raw.pendingActivities?.length ?? 0) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    await deal.terminate('test done');
  });
});

describe('the sweep recovers a milestone the webhook missed, on the time-skipping server', () => {
  const TASK_QUEUE = 'sweep-milestones';
  let env: TestWorkflowEnvironment;
  let sandbox: TestSandbox;
  let handleDb: DbHandle;
  let workers: { stop(): Promise<void> };
  let lead: HttpClient;

  beforeAll(async () => {
    sandbox = await startTestSandbox();
    handleDb = await openDb({ dataDir: 'memory://' });
    env = await createTimeSkippingEnv();
    workers = await startDealWorkers(env, TASK_QUEUE, { ...sandboxActivityDeps(sandbox.url, handleDb.db), temporalClient: env.client.workflow });
    lead = new HttpClient({ system: 'kantata-lead', baseUrl: `${sandbox.url}/kantata/api/v1`, auth: bearerTokenAuth(staticSecret(SANDBOX_KANTATA_TOKENS[0])) });
  });
  afterAll(async () => {
    await workers?.stop();
    await env?.teardown();
    await sandbox?.close();
    await handleDb?.close();
  });

  const runSweep = (id: string) => runSweepOn(env, TASK_QUEUE, id);
  const moveStory = (id: string, state: string) => lead.request({ method: 'PUT', path: `/stories/${id}.json`, json: { story: { state } } });

  it('a fixed-fee milestone accepted in Kantata whose acceptance webhook was lost is invoiced once, for its percentage', async () => {
    // L1 TRANSFORMATION, fixed fee $20,000.00: M1 Discovery sign-off 30 %, M2 50 %, M3 20 %, invoiced on acceptance.
    const lines = [{ SBQQ__Number__c: 1, SBQQ__ProductCode__c: 'TRANSFORMATION', SBQQ__Description__c: 'Transformation', SBQQ__Quantity__c: 1, SBQQ__ListPrice__c: 20000, SBQQ__NetPrice__c: 20000, SBQQ__Discount__c: 0, Q2C_Unit__c: 'Each' }];
    const { opportunityId } = await seedClosedWonDeal(sandbox.url, { key: 'SWEEPMS', lines, opportunity: { CloseDate: CLOSE_DATE } });
    const deal: WorkflowHandle<typeof dealWorkflow> = await env.client.workflow.start(dealWorkflow, {
      taskQueue: TASK_QUEUE,
      workflowId: dealWorkflowId(opportunityId),
      args: [{ opportunityId, correlationId: 'corr-sweep-ms' }],
    });
    const out = await poll(() => deal.query(getDealStateQuery), (v: DealView) => v.stage === 'CONTRACT_OUT_FOR_SIGNATURE', 'out for signature');
    await deal.signal(contractSignatureSignal, { eventId: 'evt-sign-ms', envelopeId: out.ids.envelopeId!, status: 'completed', occurredAt: SIGNED_AT });
    const view = await poll(() => deal.query(getDealStateQuery), (v: DealView) => v.stage === 'IN_DELIVERY', 'in delivery');
    const ws = view.ids.projectId!;
    const m1 = (await sandbox.store.list('kantata', 'stories', { limit: 1000 })).items.find((r) => String(r.data['description']).startsWith(`q2c-ref:CTR-${opportunityId}-L1-M1`))!.id;

    // The project lead completes M1 (its webhook arrives, keyed by the story id), then the customer accepts it (that webhook is lost).
    await moveStory(m1, 'completed');
    const completedAt = String((await sandbox.store.get('kantata', 'stories', m1))!.data['completed_at']);
    await deal.signal(deliveryBatchSignal, { batchId: 'kantata:evt-m1-completed', source: 'kantata', receivedAt: new Date().toISOString(), items: [{ kind: 'milestone', sourceId: m1, projectId: ws, title: 'Discovery sign-off', status: 'completed', at: completedAt }] });
    await poll(() => deal.query(getDeliveryStateQuery), (s) => s.pending.milestones === 1, 'completion received');
    await moveStory(m1, 'accepted');
    let state = await deal.query(getDeliveryStateQuery);
    expect([state.invoices.length, state.totals.BILLABLE]).toEqual([0, 0]); // completed, not accepted: nothing billed yet

    // The sweep reads the story (completion and acceptance); the deal drops the completion it has seen and bills the acceptance.
    const first = await runSweep('sweep-ms-1');
    expect(first).toEqual({ deals: 1, fed: 1, time: 0, expenses: 0, milestones: 2, batches: 1, skipped: [], failed: [] });
    // M1 = 30 % of $20,000.00 = $6,000.00 = 600,000 minor units, on one invoice.
    const posted = (s: DeliveryView) => s.invoices.length > 0 && s.invoices.every((i) => i.status === 'POSTED');
    state = await poll(() => deal.query(getDeliveryStateQuery), posted, 'M1 invoiced');
    expect(state.invoices.map((i) => i.subtotalMinor)).toEqual([600_000]);
    expect(state.totals).toEqual({ BILLABLE: 600_000, DEFERRED: 0, CAPPED: 0, EXCLUDED: 0, delivered: 600_000 });

    // The next sweep re-reads the story within its overlap window and feeds it again: the deal bills nothing more.
    const second = await runSweep('sweep-ms-2');
    expect([second.batches, second.failed]).toEqual([1, []]);
    const history = await deal.fetchHistory();
    const sweepBatches = history.events!.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'deliveryBatch').length;
    expect(sweepBatches).toBe(3); // the webhook's batch and one per sweep: both sweep batches reached the deal
    state = await deal.query(getDeliveryStateQuery);
    expect([state.invoices.length, state.pending.milestones, state.totals.BILLABLE, state.totals.delivered]).toEqual([1, 0, 600_000, 600_000]);
    const watermarks = await handleDb.db.select().from(syncWatermarks);
    expect(watermarks.map((w) => w.stream).sort()).toEqual([`expenses:${ws}`, `milestones:${ws}`, `time:${ws}`]);

    for (let i = 0; i < 100 && ((await deal.describe()).raw.pendingActivities?.length ?? 0) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    await deal.terminate('test done');
  });
});

describe("the sweep's Temporal Schedule on the dev server", () => {
  const TASK_QUEUE = 'sweep-schedule';
  let env: TestWorkflowEnvironment;
  let handleDb: DbHandle;
  let client: Client;

  beforeAll(async () => {
    env = await createDevServerEnv();
    client = env.client;
    handleDb = await openDb({ dataDir: 'memory://' });
  });
  afterAll(async () => {
    await client?.schedule.getHandle(SWEEP_SCHEDULE_ID).delete().catch(() => undefined);
    await env?.teardown();
    await handleDb?.close();
  });

  it('is created once, updated in place (keeping a pause), skips overlaps, and starts the sweep workflow', async () => {
    expect(await ensureSweepSchedule(client, { taskQueue: TASK_QUEUE })).toBe('created');
    const handle = client.schedule.getHandle(SWEEP_SCHEDULE_ID);
    let d = await handle.describe();
    expect(d.spec.intervals).toEqual([{ every: 15 * 60_000 }]);
    expect(d.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(d.action).toMatchObject({ type: 'startWorkflow', workflowType: 'reconciliationSweepWorkflow', workflowId: SWEEP_SCHEDULE_ID, taskQueue: TASK_QUEUE, args: [{}] });

    await handle.pause('maintenance');
    expect(await ensureSweepSchedule(client, { taskQueue: TASK_QUEUE, every: '5 minutes' })).toBe('updated');
    d = await handle.describe();
    expect([d.spec.intervals, d.policies.overlap, d.state.paused]).toEqual([[{ every: 5 * 60_000 }], ScheduleOverlapPolicy.SKIP, true]);
    let listed = 0;
    for await (const s of client.schedule.list()) if (s.scheduleId === SWEEP_SCHEDULE_ID) listed++;
    expect(listed).toBe(1);

    // A deal the identity map knows whose workflow does not exist: the triggered run reports it skipped.
    await handleDb.db.insert(identityMap).values({ kind: 'deal', canonicalId: 'OPP-NOWF', system: 'kantata', externalId: 'ws-nowf' });
    const sandboxUrl = 'http://127.0.0.1:9'; // never called: the deal is skipped before the PSA is read
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUE,
      workflowBundle: await workflowBundle(),
      activities: createActivities({ ...sandboxActivityDeps(sandboxUrl, handleDb.db), temporalClient: client.workflow }),
    });
    await worker.runUntil(async () => {
      await handle.trigger();
      let runId: string | undefined;
      for (let i = 0; i < 100 && !runId; i++) {
        runId = (await handle.describe()).info.recentActions[0]?.action.workflow.workflowId;
        if (!runId) await new Promise((r) => setTimeout(r, 100));
      }
      expect(runId).toMatch(new RegExp(`^${SWEEP_SCHEDULE_ID}-`));
      const summary: SweepSummary = await client.workflow.getHandle(runId!).result();
      expect(summary).toEqual({ deals: 1, fed: 0, time: 0, expenses: 0, milestones: 0, batches: 0, skipped: [{ opportunityId: 'OPP-NOWF', status: 'missing' }], failed: [] });
    });
  });
});
