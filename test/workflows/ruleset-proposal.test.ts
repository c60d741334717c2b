import { ApplicationFailure } from '@temporalio/common';
import { Client, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { HttpClient } from '../../src/connectors/http';
import {
  approveRuleSetUpdate,
  contractSignatureSignal,
  dealWorkflowId,
  getBillingBasisQuery,
  getDealStateQuery,
  getRuleSetProposalQuery,
  rejectRuleSetUpdate,
  ruleSetProposalId,
  type DealView,
  type RuleSetProposalInput,
  type RuleSetProposalView,
} from '../../src/contract';
import { openDb, type DbHandle } from '../../src/db';
import { RuleSetRepository } from '../../src/db/rulesets';
import { RuleSet } from '../../src/rules';
import defaultRuleSet from '../../src/rules/rulesets/default.json';
import { dealWorkflow, ruleSetProposalWorkflow } from '../../src/workflows';
import { sandboxActivityDeps, seedClosedWonDeal, startDealWorkers } from '../support/deal';
import { startTestSandbox, type TestSandbox } from '../support/sandbox';
import { createTimeSkippingEnv } from '../support/temporal';

jest.setTimeout(240_000);

const DAY = 86_400_000;
/** Advisory T&M at RC-STD (consultant, US: 150.00/h, not-to-exceed 200 h). */
const LINES = [{ SBQQ__Number__c: 1, SBQQ__ProductCode__c: 'ADVISORY_TM', SBQQ__Description__c: 'Advisory', SBQQ__Quantity__c: 200, SBQQ__ListPrice__c: 150, SBQQ__NetPrice__c: 150, SBQQ__Discount__c: 0, Q2C_Unit__c: 'Hour' }];
const NY_TODAY = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
function monthDay(offset: number, day: number): string {
  const [y, m] = NY_TODAY.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y, m - 1 + offset, day)).toISOString().slice(0, 10);
}

/** default@<version>: RC-STD consultant/US at `rate` minor units an hour, the rest as default@1. */
const version = (v: number, rate: number, description: string): RuleSet =>
  RuleSet.parse({
    ...JSON.parse(JSON.stringify(defaultRuleSet)),
    version: v,
    description,
    rateCards: defaultRuleSet.rateCards.map((c) => (c.id !== 'RC-STD' ? c : { ...c, rates: c.rates.map((r) => (r.role === 'consultant' && r.region === 'US' ? { ...r, hourlyRate: rate } : r)) })),
  });

async function poll<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < 300; i++) {
    try {
      last = await read();
      if (ok(last)) return last;
    } catch {
      // not answering yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never reached: ${what} (last: ${JSON.stringify(last)})`);
}

/** The update's refusal: its failure type and message. */
async function refusal(p: Promise<unknown>): Promise<{ type: string | undefined | null; message: string }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) return { type: err.cause.type, message: err.cause.message };
    throw err;
  }
  throw new Error('the update was accepted');
}

describe('rule-set governance on the time-skipping server', () => {
  const TASK_QUEUE = 'governance-tests';
  let env: TestWorkflowEnvironment;
  let sandbox: TestSandbox;
  let handleDb: DbHandle;
  let workers: { stop(): Promise<void> };
  /** A plain client: waiting on it does not let the server skip time (only env.sleep moves it). */
  let client: Client;
  let repo: RuleSetRepository;

  beforeAll(async () => {
    sandbox = await startTestSandbox();
    handleDb = await openDb({ dataDir: 'memory://' });
    env = await createTimeSkippingEnv();
    workers = await startDealWorkers(env, TASK_QUEUE, { ...sandboxActivityDeps(sandbox.url, handleDb.db), temporalClient: env.client.workflow });
    client = new Client({ connection: env.connection });
    repo = new RuleSetRepository(handleDb.db);
  });
  afterAll(async () => {
    await workers?.stop();
    await env?.teardown();
    await sandbox?.close();
    await handleDb?.close();
  });

  const propose = (input: RuleSetProposalInput): Promise<WorkflowHandle<typeof ruleSetProposalWorkflow>> =>
    client.workflow.start(ruleSetProposalWorkflow, { taskQueue: TASK_QUEUE, workflowId: ruleSetProposalId(input.ruleSet), args: [input] });
  const previewed = (h: WorkflowHandle<typeof ruleSetProposalWorkflow>) => poll(() => h.query(getRuleSetProposalQuery), (p: RuleSetProposalView) => p.preview !== undefined, 'preview computed');
  const statuses = async () => (await repo.listRuleSets()).map((r) => `${r.id}@${r.version}:${r.status}`);

  it('previews a rate change on an open deal, refuses self-approval, activates at the effective date; rejected and expired proposals change nothing', async () => {
    // An open deal in delivery, pinned to default@1, with 10 h of approved consultant time (US) in Kantata last month.
    const { opportunityId } = await seedClosedWonDeal(sandbox.url, { key: 'GOV', lines: LINES, opportunity: { CloseDate: monthDay(-2, 1) } });
    const deal = await client.workflow.start(dealWorkflow, { taskQueue: TASK_QUEUE, workflowId: dealWorkflowId(opportunityId), args: [{ opportunityId, correlationId: 'corr-gov' }] });
    const out = await poll(() => deal.query(getDealStateQuery), (v: DealView) => v.stage === 'CONTRACT_OUT_FOR_SIGNATURE', 'out for signature');
    await deal.signal(contractSignatureSignal, { eventId: 'evt-sign', envelopeId: out.ids.envelopeId!, status: 'completed', occurredAt: `${monthDay(-2, 5)}T10:00:00Z` });
    const view = await poll(() => deal.query(getDealStateQuery), (v: DealView) => v.stage === 'IN_DELIVERY', 'in delivery');
    const ws = view.ids.projectId!;
    const kantata = new HttpClient({ system: 'kantata-control', baseUrl: `${sandbox.url}/kantata` });
    const seed = async (kind: string, data: Record<string, unknown>): Promise<string> => (await kantata.request<{ id: string }>({ method: 'POST', path: `/_sandbox/${kind}`, json: data })).body.id;
    const line = `CTR-${opportunityId}-L1`;
    const story = (await sandbox.store.list('kantata', 'stories', { limit: 1000 })).items.find((r) => String(r.data['description']).startsWith(`q2c-ref:${line}-T1`))!.id;
    const user = await seed('users', { full_name: 'Ana Consultant' });
    for (const [name, value] of [['Role', 'consultant'], ['Region', 'US'], ['Legal Entity', 'LE-US']]) await seed('custom_field_values', { subject_type: 'User', subject_id: user, custom_field_name: name, value, display_value: value });
    await seed('time_entries', { workspace_id: ws, story_id: story, user_id: user, date_performed: monthDay(-1, 5), time_in_minutes: 360, approved: true, billable: true });
    await seed('time_entries', { workspace_id: ws, story_id: story, user_id: user, date_performed: monthDay(-1, 6), time_in_minutes: 240, approved: true, billable: true });
    expect((await deal.query(getBillingBasisQuery)).contract.ruleSet).toEqual({ id: 'default', version: 1 });
    expect(await statuses()).toEqual(['default@1:approved']);

    // default@2: consultant/US 150.00 -> 165.00 an hour, proposed by alice, in force from the 3rd day from now (UTC).
    const now = await env.currentTimeMs();
    const effectiveDate = new Date(now + 3 * DAY).toISOString().slice(0, 10);
    const a = await propose({ ruleSet: version(2, 16_500, 'consultant US 165.00/h'), by: 'alice', effectiveDate, expiresInDays: 14 });
    const pa = await previewed(a);
    // Last month's 10 h (6 h + 4 h), its period closed: 10 x 150.00 = 1,500.00 billed now; 10 x 165.00 = 1,650.00 under v2; +150.00.
    // The T&M line is recognised as invoiced: recognised follows billed.
    expect(pa.preview!.deals.map((d) => [d.opportunityId, d.pinned, d.items, d.current, d.proposed, d.delta])).toEqual([
      [
        opportunityId,
        { id: 'default', version: 1 },
        2,
        { billedMinor: 150_000, cappedMinor: 0, recognisedMinor: 150_000 },
        { billedMinor: 165_000, cappedMinor: 0, recognisedMinor: 165_000 },
        { billedMinor: 15_000, cappedMinor: 0, recognisedMinor: 15_000 },
      ],
    ]);
    expect(pa.preview!.totals).toEqual({ USD: { deals: 1, current: pa.preview!.deals[0]!.current, proposed: pa.preview!.deals[0]!.proposed, delta: { billedMinor: 15_000, cappedMinor: 0, recognisedMinor: 15_000 } } });
    expect(await statuses()).toEqual(['default@1:approved', 'default@2:draft']);

    // alice cannot approve her own proposal; bob can.
    expect(await refusal(a.executeUpdate(approveRuleSetUpdate, { args: [{ by: 'Alice' }] }))).toEqual({
      type: 'RULESET.SELF_APPROVAL',
      message: 'Alice proposed default@2 and cannot approve it: approval must come from someone other than the author',
    });
    expect((await a.query(getRuleSetProposalQuery)).status).toBe('PROPOSED');
    const approved = await a.executeUpdate(approveRuleSetUpdate, { args: [{ by: 'bob', note: 'rate review 2026' }] });
    expect([approved.status, approved.approval?.by]).toEqual(['APPROVED', 'bob']);
    // Approved is not yet in force: the version stays a draft until its effective date.
    expect(await statuses()).toEqual(['default@1:approved', 'default@2:draft']);
    expect((await repo.latestApproved('default'))?.version).toBe(1);

    // Past local midnight (UTC) of the effective date: in force.
    await env.sleep(Date.parse(`${effectiveDate}T00:00:00Z`) - (await env.currentTimeMs()) + 60_000);
    const active = await poll(() => a.query(getRuleSetProposalQuery), (p) => p.status === 'ACTIVE', 'activated');
    // The timer fires at the activation instant (the server may add a few ms).
    expect(active.activatesAt).toBe(`${effectiveDate}T00:00:00.000Z`);
    const late = Date.parse(active.activatedAt!) - Date.parse(active.activatesAt);
    expect(late >= 0 && late < 60_000).toBe(true);
    expect(await poll(() => statuses(), (s) => s.includes('default@2:approved'), 'stored as approved')).toEqual(['default@1:approved', 'default@2:approved']);
    expect((await repo.latestApproved('default'))?.version).toBe(2);
    const record = await repo.getRecord({ id: 'default', version: 2 });
    expect([record.governance?.['author'], (record.governance?.['approval'] as { by: string }).by, record.governance?.['status']]).toEqual(['alice', 'bob', 'ACTIVE']);
    // The running deal keeps the version its contract pinned.
    expect((await deal.query(getBillingBasisQuery)).contract.ruleSet).toEqual({ id: 'default', version: 1 });

    // default@3 rejected by carol; default@4 left undecided until it expires: neither changes anything but its own row.
    const b = await propose({ ruleSet: version(3, 20_000, 'consultant US 200.00/h'), by: 'alice', effectiveDate, expiresInDays: 5 });
    const pb = await previewed(b);
    // Priced against the deal's pinned default@1: 10 x 200.00 = 2,000.00 vs 1,500.00.
    expect(pb.preview!.deals[0]!.delta).toEqual({ billedMinor: 50_000, cappedMinor: 0, recognisedMinor: 50_000 });
    const rejected = await b.executeUpdate(rejectRuleSetUpdate, { args: [{ by: 'carol', note: 'too steep' }] });
    expect([rejected.status, rejected.rejection?.by]).toEqual(['REJECTED', 'carol']);
    expect(await refusal(b.executeUpdate(approveRuleSetUpdate, { args: [{ by: 'bob' }] }))).toEqual({ type: 'RULESET.PROPOSAL_CLOSED', message: 'proposal ruleset-proposal:default:v3 is REJECTED; only a PROPOSED proposal can be decided' });

    const c = await propose({ ruleSet: version(4, 9_000, 'consultant US 90.00/h'), by: 'alice', effectiveDate, expiresInDays: 2 });
    await previewed(c);
    await env.sleep(2 * DAY + 60_000);
    const expired = await poll(() => c.query(getRuleSetProposalQuery), (p) => p.status === 'EXPIRED', 'expired');
    expect(expired.approval).toBeUndefined();
    // Closed: the expired proposal takes no update at all.
    await expect(c.executeUpdate(approveRuleSetUpdate, { args: [{ by: 'bob' }] })).rejects.toThrow();

    expect(await poll(() => statuses(), (s) => s.length === 4 && !s.some((x) => x.endsWith(':draft')), 'decided')).toEqual([
      'default@1:approved',
      'default@2:approved',
      'default@3:rejected',
      'default@4:expired',
    ]);
    // Still what new contracts pin: default@2, and its body is the one approved.
    const inForce = await repo.latestApproved('default');
    expect([inForce?.version, inForce?.rateCards[0]?.rates[0]?.hourlyRate]).toEqual([2, 16_500]);
    expect((await deal.query(getBillingBasisQuery)).contract.ruleSet).toEqual({ id: 'default', version: 1 });
    expect((await a.result()).status).toBe('ACTIVE');
    expect((await b.result()).status).toBe('REJECTED');
    expect((await c.result()).status).toBe('EXPIRED');

    for (let i = 0; i < 100 && ((await deal.describe()).raw.pendingActivities?.length ?? 0) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    await deal.terminate('test done');
  });
});
