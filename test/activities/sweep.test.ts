import { WorkflowNotFoundError, type WorkflowClient } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { and, eq } from 'drizzle-orm';
import type { Project } from '../../src/canonical';
import { createDealActivities } from '../../src/activities/deal.activities';
import { createSweepActivities, type SweepActivityDeps, type SweepDealResult, type SweepTarget } from '../../src/activities/sweep.activities';
import { bearerTokenAuth, HttpClient, staticSecret } from '../../src/connectors/http';
import { SANDBOX_KANTATA_TOKENS } from '../../src/sandbox/credentials';
import { openDb, type Db, type DbHandle } from '../../src/db';
import { identityMap, syncWatermarks } from '../../src/db/schema';
import type { DeliveryBatch, DeliveryItem } from '../../src/contract';
import { patchSalesforce, sandboxActivityDeps, seedClosedWonDeal } from '../support/deal';
import { startTestSandbox, type TestSandbox } from '../support/sandbox';
import { NOW, NOW_S, q2cHeaders, SECRETS, startHarness, type Harness } from '../service/support/harness';

jest.setTimeout(60_000);
/** The failures these tests provoke are expected: the SDK need not print them. */
const quiet = { logger: new DefaultLogger('ERROR') };

/** Advisory T&M (200 h x $150.00) and expenses: the PSA project has the advisory tasks T1 (billable) and T2 (not billable). */
const LINES = [
  { SBQQ__Number__c: 1, SBQQ__ProductCode__c: 'ADVISORY_TM', SBQQ__Description__c: 'Advisory', SBQQ__Quantity__c: 200, SBQQ__ListPrice__c: 150, SBQQ__NetPrice__c: 150, SBQQ__Discount__c: 0, Q2C_Unit__c: 'Hour' },
  { SBQQ__Number__c: 2, SBQQ__ProductCode__c: 'EXPENSES', SBQQ__Description__c: 'Expenses', SBQQ__Quantity__c: 1, SBQQ__ListPrice__c: 5000, SBQQ__NetPrice__c: 5000, SBQQ__Discount__c: 0, Q2C_Unit__c: 'Each' },
];

/**
 * Fixed fee TRANSFORMATION $20,000.00 (milestones M1 30 %, M2 50 %, M3 20 %, each a Kantata milestone story)
 * and Advisory T&M: tasks L1-T1 Workshops (billable), L1-T3 Internal QA (not billable), L2-T1 Advisory hours ...
 */
const FIXED_FEE_LINES = [
  { SBQQ__Number__c: 1, SBQQ__ProductCode__c: 'TRANSFORMATION', SBQQ__Description__c: 'Transformation', SBQQ__Quantity__c: 1, SBQQ__ListPrice__c: 20000, SBQQ__NetPrice__c: 20000, SBQQ__Discount__c: 0, Q2C_Unit__c: 'Each' },
  ...LINES,
];

let sandbox: TestSandbox;
let db: DbHandle;
let kantata: HttpClient;
/** Kantata's API as a project lead uses it (moving stories through their states). */
let kantataApi: HttpClient;

beforeAll(async () => {
  sandbox = await startTestSandbox();
  db = await openDb({ dataDir: 'memory://' });
  kantata = new HttpClient({ system: 'kantata-control', baseUrl: `${sandbox.url}/kantata` });
  kantataApi = new HttpClient({ system: 'kantata-lead', baseUrl: `${sandbox.url}/kantata/api/v1`, auth: bearerTokenAuth(staticSecret(SANDBOX_KANTATA_TOKENS[0])) });
});
afterEach(() => sandbox.faults.clear());
afterAll(async () => {
  await sandbox?.close();
  await db?.close();
});

/** A Kantata record's last change, as its API returns it. */
const updatedAt = async (kind: string, id: string): Promise<string> => String((await sandbox.store.get('kantata', kind, id))!.data['updated_at']);

/** What people do in Kantata: log time and file expenses, approve them. */
const seed = async (kind: string, data: Record<string, unknown>): Promise<string> => (await kantata.request<{ id: string }>({ method: 'POST', path: `/_sandbox/${kind}`, json: data })).body.id;

async function consultant(fields = true): Promise<string> {
  const user = await seed('users', { full_name: 'Ana Consultant' });
  if (fields) for (const [name, value] of [['Role', 'consultant'], ['Region', 'US'], ['Legal Entity', 'LE-US']]) await seed('custom_field_values', { subject_type: 'User', subject_id: user, custom_field_name: name, value, display_value: value });
  return user;
}

interface Deal {
  opportunityId: string;
  projectId: string;
  project: Project;
  /** canonical task id -> Kantata story id */
  story: (taskId: string) => Promise<string>;
  t1: string;
  t2: string;
}

/** A closed-won deal provisioned in Kantata by part 1's own activities (which also write the identity map row). */
async function provisionedDeal(key: string, lines = LINES): Promise<Deal> {
  const { opportunityId } = await seedClosedWonDeal(sandbox.url, { key, lines });
  const acts = createDealActivities(sandboxActivityDeps(sandbox.url, db.db));
  const snap = await acts.loadDeal({ opportunityId, correlationId: key });
  const { projectId, project } = await acts.provisionProject({ idempotencyKey: `deal-${opportunityId}:project`, contract: snap.contract, quote: snap.quote, customer: snap.customer });
  const tasks = project.phases.flatMap((p) => p.tasks);
  const story = async (taskId: string) => (await sandbox.store.list('kantata', 'stories', { limit: 1000 })).items.find((r) => String(r.data['description']).startsWith(`q2c-ref:${taskId}`))!.id;
  return { opportunityId, projectId, project, story, t1: tasks.find((t) => t.billable)!.id, t2: tasks.find((t) => !t.billable)!.id };
}

type Signal = { workflowId: string; batch: DeliveryBatch };

/** A Temporal client that records signals; deals listed in `closed` are COMPLETED, in `missing` do not exist. */
function recordingClient(opts: { closed?: string[]; missing?: string[] } = {}): { client: WorkflowClient; signals: Signal[] } {
  const signals: Signal[] = [];
  const client = {
    getHandle: (workflowId: string) => ({
      describe: async () => {
        if (opts.missing?.includes(workflowId)) throw new WorkflowNotFoundError('not found', workflowId, undefined);
        return { status: { name: opts.closed?.includes(workflowId) ? 'COMPLETED' : 'RUNNING' } };
      },
      signal: async (_def: unknown, batch: DeliveryBatch) => {
        signals.push({ workflowId, batch });
      },
    }),
  } as unknown as WorkflowClient;
  return { client, signals };
}

const sweep = (client: WorkflowClient, extra: Partial<SweepActivityDeps> = {}, database: Db = db.db) =>
  createSweepActivities({ ...sandboxActivityDeps(sandbox.url, database), temporalClient: client, sweep: { overlapMs: 0 }, ...extra });

const cursors = async (projectId: string) =>
  Object.fromEntries(
    (await db.db.select().from(syncWatermarks).where(eq(syncWatermarks.source, 'kantata')))
      .filter((r) => r.stream.endsWith(`:${projectId}`))
      .map((r) => [r.stream.split(':')[0], r.cursor]),
  );

type SweepDeals = (input: { targets: SweepTarget[]; chunkSize?: number }) => Promise<SweepDealResult[]>;
const run = (fn: SweepDeals, input: Parameters<SweepDeals>[0], env = new MockActivityEnvironment({}, quiet)): Promise<SweepDealResult[]> =>
  env.run(fn, input) as Promise<SweepDealResult[]>;

test('feeds approved time and expenses since the watermark in chunks, then moves the watermark; the next run reads only what changed', async () => {
  const deal = await provisionedDeal('SWA1');
  const user = await consultant();
  const ws = deal.projectId;
  const te = async (taskId: string, date: string, minutes: number, approved = true) =>
    seed('time_entries', { workspace_id: ws, story_id: await deal.story(taskId), user_id: user, date_performed: date, time_in_minutes: minutes, approved, billable: true, notes: null });
  const a = await te(deal.t1, '2026-10-05', 600);
  const b = await te(deal.t1, '2026-10-06', 480);
  const c = await te(deal.t2, '2026-10-07', 120); // internal admin: delivered, not billable
  await te(deal.t1, '2026-10-08', 60, false); // not approved: not read
  const x = await seed('expenses', { workspace_id: ws, user_id: user, date: '2026-10-09', category: 'TRAVEL', amount_in_cents: 42_000, currency: 'USD', approved: true, notes: 'Flight' });

  const { client, signals } = recordingClient();
  const acts = sweep(client);
  const before = Date.now();
  const [first] = await run(acts.sweepDeals, { targets: [{ opportunityId: deal.opportunityId, projectId: ws }], chunkSize: 2 });
  const until = first!.window!.until;
  expect(Date.parse(until)).toBeGreaterThanOrEqual(before);
  expect(first).toEqual({ opportunityId: deal.opportunityId, projectId: ws, status: 'fed', time: 3, expenses: 1, milestones: 0, batches: 3, window: { since: '1970-01-01T00:00:00.000Z', until } });

  // Items as the Kantata relay's webhooks give them: Kantata's ids (the deal maps story -> task), the entry's own
  // billable flag (c is billable in Kantata; the deal excludes it because its task T2 is not), approved at the row's last change.
  const [t1, t2] = [await deal.story(deal.t1), await deal.story(deal.t2)];
  const entry = async (sourceId: string, taskId: string, workDate: string, minutes: number) => ({ kind: 'timeEntry', sourceId, projectId: ws, taskId, resourceId: user, role: 'consultant', workDate, minutes, billable: true, approvedAt: await updatedAt('time_entries', sourceId) });
  const window = `1970-01-01T00:00:00.000Z..${until}`;
  expect(signals).toEqual([
    { workflowId: `deal-${deal.opportunityId}`, batch: { batchId: `sweep:${ws}:time:${window}:1/2`, source: 'sweep', receivedAt: until, items: [await entry(a, t1, '2026-10-05', 600), await entry(b, t1, '2026-10-06', 480)] } },
    { workflowId: `deal-${deal.opportunityId}`, batch: { batchId: `sweep:${ws}:time:${window}:2/2`, source: 'sweep', receivedAt: until, items: [await entry(c, t2, '2026-10-07', 120)] } },
    {
      workflowId: `deal-${deal.opportunityId}`,
      batch: {
        batchId: `sweep:${ws}:expenses:${window}:1/1`,
        source: 'sweep',
        receivedAt: until,
        items: [{ kind: 'expense', sourceId: x, projectId: ws, resourceId: user, category: 'TRAVEL', incurredOn: '2026-10-09', amountMinor: 42_000, currency: 'USD', billable: true, notes: 'Flight', approvedAt: await updatedAt('expenses', x) }],
      },
    },
  ]);
  expect(await cursors(ws)).toEqual({ time: until, expenses: until, milestones: until });

  // Nothing changed since: nothing is sent, the window moves on.
  const [second] = await run(acts.sweepDeals, { targets: [{ opportunityId: deal.opportunityId, projectId: ws }] });
  expect([second!.status, second!.time, second!.expenses, second!.batches, second!.window!.since]).toEqual(['fed', 0, 0, 0, until]);
  expect(signals).toHaveLength(3);

  // One more approved entry: only it is read.
  const d = await te(deal.t1, '2026-10-12', 90);
  const [third] = await run(acts.sweepDeals, { targets: [{ opportunityId: deal.opportunityId, projectId: ws }] });
  expect([third!.time, third!.expenses, third!.batches]).toEqual([1, 0, 1]);
  expect(signals[3]!.batch.items.map((i) => i.sourceId)).toEqual([d]);
  expect(signals[3]!.batch.batchId).toBe(`sweep:${ws}:time:${second!.window!.until}..${third!.window!.until}:1/1`);
});

test('the window starts the overlap before the watermark, so a row stamped late is still read', async () => {
  const deal = await provisionedDeal('SWA2');
  const user = await consultant();
  const { client, signals } = recordingClient();
  const target = { opportunityId: deal.opportunityId, projectId: deal.projectId };
  const acts = sweep(client, { sweep: { overlapMs: 60_000 } });
  const [first] = await run(acts.sweepDeals, { targets: [target] });
  const a = await seed('time_entries', { workspace_id: deal.projectId, story_id: await deal.story(deal.t1), user_id: user, date_performed: '2026-10-05', time_in_minutes: 60, approved: true });
  const [second] = await run(acts.sweepDeals, { targets: [target] });
  expect(second!.window!.since).toBe(new Date(Date.parse(first!.window!.until) - 60_000).toISOString());
  // The third run re-reads the entry inside the overlap; the deal drops it as already seen.
  const [third] = await run(acts.sweepDeals, { targets: [target] });
  expect([second!.time, third!.time]).toEqual([1, 1]);
  expect(signals.map((s) => s.batch.items.map((i) => i.sourceId))).toEqual([[a], [a]]);
  expect(new Set(signals.map((s) => s.batch.batchId)).size).toBe(2);
});

test('a crash after feeding and before the watermark re-feeds the same items on the next run', async () => {
  const deal = await provisionedDeal('SWA3');
  const user = await consultant();
  const a = await seed('time_entries', { workspace_id: deal.projectId, story_id: await deal.story(deal.t1), user_id: user, date_performed: '2026-10-05', time_in_minutes: 240, approved: true });
  // The database goes away right after the signals: the watermark write fails once.
  let failWrites = 1;
  const flaky = new Proxy(db.db, {
    get(target, prop) {
      if (prop === 'insert') {
        return (table: unknown) => {
          if (table === syncWatermarks && failWrites-- > 0) throw new Error('connection terminated');
          return target.insert(table as typeof syncWatermarks);
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
  const { client, signals } = recordingClient();
  const target = { opportunityId: deal.opportunityId, projectId: deal.projectId };
  const acts = sweep(client, {}, flaky);
  await expect(run(acts.sweepDeals, { targets: [target] })).rejects.toThrow('connection terminated');
  expect(await cursors(deal.projectId)).toEqual({});
  const [retry] = await run(acts.sweepDeals, { targets: [target] });
  expect(retry!.window!.since).toBe('1970-01-01T00:00:00.000Z');
  expect(signals.map((s) => s.batch.items.map((i) => i.sourceId))).toEqual([[a], [a]]);
  expect(signals[0]!.batch.batchId).not.toBe(signals[1]!.batch.batchId);
  expect(await cursors(deal.projectId)).toEqual({ time: retry!.window!.until, expenses: retry!.window!.until, milestones: retry!.window!.until });
});

test('closed and unknown deals are skipped unread; a vendor error fails its deal only, and its watermark stays', async () => {
  const good = await provisionedDeal('SWA4');
  const broken = await provisionedDeal('SWA5');
  const user = await consultant();
  const nobody = await consultant(false); // no Role / Region / Legal Entity: Kantata time cannot be valued
  await seed('time_entries', { workspace_id: good.projectId, story_id: await good.story(good.t1), user_id: user, date_performed: '2026-10-05', time_in_minutes: 60, approved: true });
  await seed('time_entries', { workspace_id: broken.projectId, story_id: await broken.story(broken.t1), user_id: nobody, date_performed: '2026-10-05', time_in_minutes: 60, approved: true });
  const { client, signals } = recordingClient({ closed: ['deal-OPP-CLOSED'], missing: ['deal-OPP-GONE'] });
  const results = await run(sweep(client).sweepDeals, {
    targets: [
      { opportunityId: 'OPP-CLOSED', projectId: 'ws-closed' },
      { opportunityId: broken.opportunityId, projectId: broken.projectId },
      { opportunityId: 'OPP-GONE', projectId: 'ws-gone' },
      { opportunityId: good.opportunityId, projectId: good.projectId },
    ],
  });
  expect(results.map((r) => [r.opportunityId, r.status, r.time, r.error?.code, r.error?.retryable])).toEqual([
    ['OPP-CLOSED', 'closed', 0, undefined, undefined],
    [broken.opportunityId, 'failed', 0, 'HTTP.UNEXPECTED_RESPONSE', false],
    ['OPP-GONE', 'missing', 0, undefined, undefined],
    [good.opportunityId, 'fed', 1, undefined, undefined],
  ]);
  expect(signals.map((s) => s.workflowId)).toEqual([`deal-${good.opportunityId}`]);
  expect(await cursors(broken.projectId)).toEqual({});
  expect(await cursors('ws-closed')).toEqual({});
});

test('the project comes from the deal as loadDeal reads it, without insisting the opportunity is still won', async () => {
  const deal = await provisionedDeal('SWL1');
  const user = await consultant();
  const a = await seed('time_entries', { workspace_id: deal.projectId, story_id: await deal.story(deal.t1), user_id: user, date_performed: '2026-10-05', time_in_minutes: 60, approved: true });
  // The opportunity left the won stages (reopened by hand): loadDeal refuses it, the sweep still reads its deal in delivery.
  await patchSalesforce(sandbox.url, 'Opportunity', deal.opportunityId, { StageName: 'Negotiation/Review' });
  await expect(createDealActivities(sandboxActivityDeps(sandbox.url, db.db)).loadDeal({ opportunityId: deal.opportunityId, correlationId: 'SWL1' })).rejects.toMatchObject({ type: 'CRM.OPPORTUNITY_NOT_WON' });
  const { client, signals } = recordingClient();
  const [result] = await run(sweep(client).sweepDeals, { targets: [{ opportunityId: deal.opportunityId, projectId: deal.projectId }] });
  expect([result!.status, result!.time]).toEqual(['fed', 1]);
  expect(signals.flatMap((sg) => sg.batch.items.map((i) => i.sourceId))).toEqual([a]);
});

test('a retried attempt resumes after the last deal its heartbeat reported', async () => {
  const deal = await provisionedDeal('SWA6');
  const { client, signals } = recordingClient();
  const done: SweepDealResult = { opportunityId: 'OPP-DONE', projectId: 'ws-done', status: 'fed', time: 7, expenses: 0, milestones: 0, batches: 1 };
  const heartbeats: unknown[] = [];
  const env = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: { results: [done] } }, quiet);
  env.on('heartbeat', (d: unknown) => heartbeats.push(d));
  const results = await run(sweep(client).sweepDeals, { targets: [{ opportunityId: 'OPP-DONE', projectId: 'ws-done' }, { opportunityId: deal.opportunityId, projectId: deal.projectId }] }, env);
  expect(results.map((r) => [r.opportunityId, r.status])).toEqual([['OPP-DONE', 'fed'], [deal.opportunityId, 'fed']]);
  expect(signals).toEqual([]); // the new project has no approved time yet
  expect(heartbeats.at(-1)).toEqual({ results });
});

test('targets are the deals the identity map links to a Kantata project, in opportunity order', async () => {
  await db.db.insert(identityMap).values([
    { kind: 'deal', canonicalId: 'OPP-T2', system: 'kantata', externalId: 'ws-t2' },
    { kind: 'deal', canonicalId: 'OPP-T1', system: 'kantata', externalId: 'ws-t1' },
    { kind: 'deal', canonicalId: 'OPP-T1', system: 'docusign', externalId: 'env-t1' },
    { kind: 'project', canonicalId: 'PRJ-OPP-T1', system: 'kantata', externalId: 'ws-t1' },
  ]);
  const acts = sweep(recordingClient().client);
  expect(await acts.listSweepTargets({ opportunityIds: ['OPP-T1', 'OPP-T2'] })).toEqual([
    { opportunityId: 'OPP-T1', projectId: 'ws-t1' },
    { opportunityId: 'OPP-T2', projectId: 'ws-t2' },
  ]);
  const all = await acts.listSweepTargets();
  expect(all.map((t) => t.opportunityId)).toEqual([...all.map((t) => t.opportunityId)].sort());
  const kantataDeals = await db.db.select().from(identityMap).where(and(eq(identityMap.kind, 'deal'), eq(identityMap.system, 'kantata')));
  expect(all).toHaveLength(kantataDeals.length);
});

test('without a Temporal client the activity fails for good, naming the missing dependency', async () => {
  const acts = createSweepActivities({ ...sandboxActivityDeps(sandbox.url, db.db) });
  await expect(new MockActivityEnvironment({}, quiet).run(acts.sweepDeals, { targets: [] })).rejects.toMatchObject({ type: 'SWEEP.NO_TEMPORAL_CLIENT', nonRetryable: true });
});

/** What a project lead does in Kantata: move a story to a state (PUT /stories/:id.json). */
const moveStory = async (storyId: string, state: string): Promise<void> => {
  await kantataApi.request({ method: 'PUT', path: `/stories/${storyId}.json`, json: { story: { state } } });
  await new Promise((r) => setTimeout(r, 5)); // distinct millisecond stamps: the expected order below is by time
};
const storyRow = async (storyId: string) => (await sandbox.store.get('kantata', 'stories', storyId))!.data as { completed_at?: string; accepted_at?: string; updated_at: string };

test('recovers milestones completed and accepted in Kantata without a webhook, keyed by the story id as the relay keys them; once per change', async () => {
  const deal = await provisionedDeal('SWM1', FIXED_FEE_LINES);
  const ws = deal.projectId;
  const line = `CTR-${deal.opportunityId}-L1`;
  const [m1, m2, m3] = [await deal.story(`${line}-M1`), await deal.story(`${line}-M2`), await deal.story(`${line}-M3`)];
  // A milestone someone added in Kantata by hand: no q2c reference, no contract line bills it.
  const manual = (await kantataApi.request<{ results: Array<{ id: string }> }>({ method: 'POST', path: '/stories.json', json: { story: { workspace_id: ws, title: 'Extra sign-off', story_type: 'milestone' } } })).body.results[0]!.id;
  await moveStory(m1, 'completed');
  await moveStory(m1, 'accepted');
  await moveStory(m2, 'completed');
  await moveStory(m3, 'started'); // neither completed nor accepted: nothing to bill
  await moveStory(manual, 'completed');
  const [r1, r2] = [await storyRow(m1), await storyRow(m2)];

  const { client, signals } = recordingClient();
  const acts = sweep(client);
  const target = { opportunityId: deal.opportunityId, projectId: ws };
  const [first] = await run(acts.sweepDeals, { targets: [target] });
  const until = first!.window!.until;
  expect(first).toEqual({ opportunityId: deal.opportunityId, projectId: ws, status: 'fed', time: 0, expenses: 0, milestones: 3, batches: 1, window: { since: '1970-01-01T00:00:00.000Z', until } });
  // The same items as the 'milestone-completed' / 'milestone-accepted' webhooks: sourceId = Kantata story id, title, status, when.
  const ms = (sourceId: string, title: string, status: 'completed' | 'accepted', at: string | undefined) => ({ kind: 'milestone', sourceId, projectId: ws, title, status, at });
  expect(signals).toEqual([
    {
      workflowId: `deal-${deal.opportunityId}`,
      batch: {
        batchId: `sweep:${ws}:milestones:1970-01-01T00:00:00.000Z..${until}:1/1`,
        source: 'sweep',
        receivedAt: until,
        items: [ms(m1, 'Discovery sign-off', 'completed', r1.completed_at), ms(m1, 'Discovery sign-off', 'accepted', r1.accepted_at), ms(m2, 'Build complete', 'completed', r2.completed_at)],
      },
    },
  ]);
  expect([r1.completed_at! < r1.accepted_at!, r1.accepted_at! < r2.completed_at!]).toEqual([true, true]);
  expect(await cursors(ws)).toEqual({ time: until, expenses: until, milestones: until });

  // Nothing changed: nothing is fed, the watermark moves on.
  const [second] = await run(acts.sweepDeals, { targets: [target] });
  expect([second!.status, second!.milestones, second!.batches, second!.window!.since]).toEqual(['fed', 0, 0, until]);
  expect(signals).toHaveLength(1);
  expect(await cursors(ws)).toEqual({ time: second!.window!.until, expenses: second!.window!.until, milestones: second!.window!.until });

  // M2 accepted later: the story changed, so its completion is reported again with it (the deal has seen it and drops it).
  await moveStory(m2, 'accepted');
  const r2b = await storyRow(m2);
  const [third] = await run(acts.sweepDeals, { targets: [target] });
  expect([third!.milestones, third!.batches]).toEqual([2, 1]);
  expect(signals[1]!.batch.batchId).toBe(`sweep:${ws}:milestones:${second!.window!.until}..${third!.window!.until}:1/1`);
  expect(signals[1]!.batch.items).toEqual([ms(m2, 'Build complete', 'completed', r2.completed_at), ms(m2, 'Build complete', 'accepted', r2b.accepted_at)]);
});

test('a vendor error reading the milestones fails the deal and keeps all three watermarks; the next sweep feeds it', async () => {
  const deal = await provisionedDeal('SWM2', FIXED_FEE_LINES);
  const ws = deal.projectId;
  const m1 = await deal.story(`CTR-${deal.opportunityId}-L1-M1`);
  const { client, signals } = recordingClient();
  const acts = sweep(client);
  const target = { opportunityId: deal.opportunityId, projectId: ws };
  const [first] = await run(acts.sweepDeals, { targets: [target] });
  const before = await cursors(ws);
  expect(before).toEqual({ time: first!.window!.until, expenses: first!.window!.until, milestones: first!.window!.until });

  await moveStory(m1, 'accepted'); // accepted straight away: no completion stamp, the acceptance stands for both
  // Three 503s: the connector repeats a refused read twice within the call (DEFAULT_REPEAT), the third ends it.
  sandbox.faults.add({ vendor: 'kantata', kind: 'status', status: 503, method: 'GET', path: '^/api/v1/stories\\.json', times: 3 });
  const [failed] = await run(acts.sweepDeals, { targets: [target] });
  expect([failed!.status, failed!.milestones, failed!.batches, failed!.error?.code, failed!.error?.retryable]).toEqual(['failed', 0, 0, 'HTTP.SERVER_ERROR', true]);
  expect(signals).toEqual([]);
  expect(await cursors(ws)).toEqual(before);

  const [retry] = await run(acts.sweepDeals, { targets: [target] });
  expect(retry!.window!.since).toBe(first!.window!.until);
  expect([retry!.status, retry!.milestones, retry!.batches]).toEqual(['fed', 1, 1]);
  expect(signals.map((sg) => sg.batch.items)).toEqual([[{ kind: 'milestone', sourceId: m1, projectId: ws, title: 'Discovery sign-off', status: 'accepted', at: (await storyRow(m1)).accepted_at }]]);
  expect(await cursors(ws)).toEqual({ time: retry!.window!.until, expenses: retry!.window!.until, milestones: retry!.window!.until });
});

test('time and expenses marked non-billable in Kantata are fed as not billable', async () => {
  const deal = await provisionedDeal('SWB1');
  const user = await consultant();
  const ws = deal.projectId;
  // On the billable advisory task, but the entry itself is marked non-billable (e.g. goodwill hours).
  const goodwill = await seed('time_entries', { workspace_id: ws, story_id: await deal.story(deal.t1), user_id: user, date_performed: '2026-10-05', time_in_minutes: 90, approved: true, billable: false });
  const billed = await seed('time_entries', { workspace_id: ws, story_id: await deal.story(deal.t1), user_id: user, date_performed: '2026-10-06', time_in_minutes: 60, approved: true, billable: true });
  const unflagged = await seed('time_entries', { workspace_id: ws, story_id: await deal.story(deal.t1), user_id: user, date_performed: '2026-10-07', time_in_minutes: 30, approved: true }); // no flag: the task's (billable)
  const dinner = await seed('expenses', { workspace_id: ws, user_id: user, date: '2026-10-05', category: 'MEALS', amount_in_cents: 8_000, currency: 'USD', approved: true, billable: false });
  const taxi = await seed('expenses', { workspace_id: ws, user_id: user, date: '2026-10-06', category: 'TRAVEL', amount_in_cents: 3_500, currency: 'USD', approved: true, billable: true });
  const { client, signals } = recordingClient();
  await run(sweep(client).sweepDeals, { targets: [{ opportunityId: deal.opportunityId, projectId: ws }] });
  const fed = signals.flatMap((sg) => sg.batch.items).map((i) => [i.kind, i.sourceId, 'billable' in i ? i.billable : undefined]);
  expect(fed).toEqual([
    ['timeEntry', goodwill, false],
    ['timeEntry', billed, true],
    ['timeEntry', unflagged, true],
    ['expense', dinner, false],
    ['expense', taxi, true],
  ]);
});

describe('the sweep and the webhook relay give the same items for the same Kantata records', () => {
  type Row = Record<string, unknown> & { id: string };
  /** Kantata's API as the relay reads it: the rows of one list call. */
  const apiRows = async (path: string, key: string, query: Record<string, string>): Promise<Row[]> => {
    const body = (await kantataApi.request<{ results: Array<{ id: string }> } & Record<string, Record<string, Row>>>({ method: 'GET', path, query: { ...query, per_page: 200 } })).body;
    return body.results.map((r) => body[key]![r.id]!);
  };
  const byKey = (items: DeliveryItem[]) => [...items].sort((p, q) => (key(p) < key(q) ? -1 : 1));
  const key = (i: DeliveryItem) => `${i.kind}|${i.sourceId}|${i.kind === 'milestone' ? i.status : ''}`;

  let h: Harness;
  afterEach(async () => h?.close());

  test('time entries billable and not, expenses billable and not, milestones completed and accepted', async () => {
    const deal = await provisionedDeal('SWP1', FIXED_FEE_LINES);
    const user = await consultant();
    const ws = deal.projectId;
    const line = `CTR-${deal.opportunityId}-L1`;
    const [t1, t2, m1, m2] = [await deal.story(deal.t1), await deal.story(deal.t2), await deal.story(`${line}-M1`), await deal.story(`${line}-M2`)];
    const billed = await seed('time_entries', { workspace_id: ws, story_id: t1, user_id: user, date_performed: '2026-10-05', time_in_minutes: 450, approved: true, billable: true, notes: 'Workshop' });
    const goodwill = await seed('time_entries', { workspace_id: ws, story_id: t1, user_id: user, date_performed: '2026-10-06', time_in_minutes: 90, approved: true, billable: false, notes: null });
    const internal = await seed('time_entries', { workspace_id: ws, story_id: t2, user_id: user, date_performed: '2026-10-07', time_in_minutes: 120, approved: true, billable: true }); // its task is not billable
    const taxi = await seed('expenses', { workspace_id: ws, user_id: user, date: '2026-10-06', category: 'TRAVEL', amount_in_cents: 3_500, currency: 'USD', approved: true, billable: true, notes: 'Airport' });
    const dinner = await seed('expenses', { workspace_id: ws, user_id: user, date: '2026-10-05', category: 'MEALS', amount_in_cents: 8_000, currency: 'USD', approved: true, billable: false, notes: null });
    await moveStory(m1, 'completed');
    await moveStory(m1, 'accepted');
    await moveStory(m2, 'completed');

    // The pull path.
    const { client, signals } = recordingClient();
    const [swept] = await run(sweep(client).sweepDeals, { targets: [{ opportunityId: deal.opportunityId, projectId: ws }] });
    expect([swept!.status, swept!.time, swept!.expenses, swept!.milestones]).toEqual(['fed', 3, 2, 3]);
    const fromSweep = byKey(signals.flatMap((sg) => sg.batch.items));

    // The push path: the relay forwards the same records as Kantata's API returns them, adding the user's role to time.
    h = await startHarness(db);
    h.gateway.running.set(`deal-${deal.opportunityId}`, { stage: 'IN_DELIVERY', correlationId: 'c-swp1' });
    const relay = async (kind: string, items: Row[]) => {
      const body = JSON.stringify({ eventId: `swp1-${kind}`, occurredAt: NOW.toISOString(), workspaceId: ws, opportunityId: deal.opportunityId, items });
      const res = await h.inject({ method: 'POST', url: `/webhooks/kantata/${kind}`, payload: body, headers: q2cHeaders(body, SECRETS.kantata, NOW_S) });
      expect([kind, res.statusCode]).toEqual([kind, 202]);
    };
    const time = await apiRows('/time_entries.json', 'time_entries', { workspace_id: ws, approved: 'true' });
    await relay('time-entry-approved', time.map((r) => ({ ...r, role_name: 'consultant' })));
    await relay('expense-approved', await apiRows('/expenses.json', 'expenses', { workspace_id: ws, approved: 'true' }));
    const stories = await apiRows('/stories.json', 'stories', { workspace_id: ws, story_type: 'milestone' });
    await relay('milestone-completed', stories.filter((s) => s.id === m1 || s.id === m2));
    await relay('milestone-accepted', stories.filter((s) => s.id === m1));
    const fromWebhook = byKey(h.gateway.calls.flatMap((c) => (c.method === 'signalDelivery' ? c.batch.items : [])));

    expect(fromWebhook).toEqual(fromSweep);
    // ... and they are these items: Kantata's ids, the entry's own billable flag, the times Kantata stamped.
    const at = async (kind: string, id: string, field = 'updated_at') => String((await sandbox.store.get('kantata', kind, id))!.data[field]);
    const te = async (sourceId: string, taskId: string, workDate: string, minutes: number, billable: boolean, notes?: string) => ({ kind: 'timeEntry', sourceId, projectId: ws, taskId, resourceId: user, role: 'consultant', workDate, minutes, billable, ...(notes ? { notes } : {}), approvedAt: await at('time_entries', sourceId) });
    const ex = async (sourceId: string, category: string, incurredOn: string, amountMinor: number, billable: boolean, notes?: string) => ({ kind: 'expense', sourceId, projectId: ws, resourceId: user, category, incurredOn, amountMinor, currency: 'USD', billable, ...(notes ? { notes } : {}), approvedAt: await at('expenses', sourceId) });
    const ms = async (sourceId: string, title: string, status: 'completed' | 'accepted') => ({ kind: 'milestone', sourceId, projectId: ws, title, status, at: await at('stories', sourceId, `${status}_at`) });
    expect(fromSweep).toEqual(
      byKey([
        await te(billed, t1, '2026-10-05', 450, true, 'Workshop'),
        await te(goodwill, t1, '2026-10-06', 90, false),
        await te(internal, t2, '2026-10-07', 120, true),
        await ex(taxi, 'TRAVEL', '2026-10-06', 3_500, true, 'Airport'),
        await ex(dinner, 'MEALS', '2026-10-05', 8_000, false),
        await ms(m1, 'Discovery sign-off', 'completed'),
        await ms(m1, 'Discovery sign-off', 'accepted'),
        await ms(m2, 'Build complete', 'completed'),
      ] as DeliveryItem[]),
    );
  });
});
