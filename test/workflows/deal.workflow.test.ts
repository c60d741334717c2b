import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { DbHandle } from '../../src/db';
import { createTemporalDealGateway } from '../../src/service/temporal-deal-gateway';
import { dealWorkflow } from '../../src/workflows';
import { annotateExceptionUpdate, contractSignatureSignal, dealWorkflowId, resolveExceptionUpdate } from '../../src/contract';
import { patchSalesforce, sandboxActivityDeps, seedClosedWonDeal, startDealWorkers, untilDeal as until } from '../support/deal';
import { maybeRecordHistory } from '../support/histories';
import { useSandboxAndDb, type TestSandbox } from '../support/sandbox';
import { createTimeSkippingEnv } from '../support/temporal';

const TASK_QUEUE = 'deal-tests';
jest.setTimeout(120_000);
const DAY = 86_400_000;

let env: TestWorkflowEnvironment;
let sandbox: TestSandbox;
let db: DbHandle;
let workers: { stop(): Promise<void> };

useSandboxAndDb((c) => ({ sandbox, db } = c));
// A test server per test: its clock is the test's alone (a deal left in one test
// cannot hold time for the next), and starting one takes about a second.
beforeEach(async () => {
  env = await createTimeSkippingEnv();
  workers = await startDealWorkers(env, TASK_QUEUE, sandboxActivityDeps(sandbox.url, db.db));
});
afterEach(async () => {
  await workers?.stop();
  await env?.teardown();
});
afterEach(() => sandbox.faults.clear());

const start = (opportunityId: string, extra: Partial<Parameters<typeof dealWorkflow>[0]> = {}) =>
  env.client.workflow.start(dealWorkflow, {
    taskQueue: TASK_QUEUE,
    workflowId: dealWorkflowId(opportunityId),
    args: [{ opportunityId, correlationId: `corr-${opportunityId}`, ...extra }],
  });


/**
 * Ends a deal a test is done with. The time-skipping server keeps time locked for an
 * activity still in flight when its workflow is terminated, so wait until none is.
 */
async function finish(handle: { describe: () => Promise<{ raw: { pendingActivities?: unknown[] | null } }>; terminate: (reason: string) => Promise<unknown> }): Promise<void> {
  for (let i = 0; i < 100 && ((await handle.describe()).raw.pendingActivities?.length ?? 0) > 0; i++) await new Promise((r) => setTimeout(r, 100));
  await handle.terminate('test done');
}

const records = async (vendor: string, kind: string) => (await sandbox.store.list(vendor, kind, { limit: 1000 })).items;
const sign = (envelopeId: string, status: 'completed' | 'declined' | 'voided' = 'completed') => ({
  eventId: `evt-${envelopeId}-${status}`,
  envelopeId,
  status,
  occurredAt: '2026-01-20T10:00:00Z',
});

test('happy path: closed-won to IN_DELIVERY with one project, one ERP contract, one billing schedule', async () => {
  const { opportunityId } = await seedClosedWonDeal(sandbox.url, { key: 'HAPPY' });
  const handle = await start(opportunityId);
  const out = await until(handle, (v) => v.stage === 'CONTRACT_OUT_FOR_SIGNATURE', 'out for signature');
  await handle.signal(contractSignatureSignal, sign(out.ids.envelopeId!));
  // The deal lives on in delivery (part 2); part 1 is done when it reaches IN_DELIVERY.
  const view = await until(handle, (v) => v.stage === 'IN_DELIVERY', 'in delivery');

  expect(view.stage).toBe('IN_DELIVERY');
  expect(view.timeline.map((t) => t.stage)).toEqual([
    'QUOTE_ACCEPTED', 'CUSTOMER_VALIDATED', 'CONTRACT_OUT_FOR_SIGNATURE', 'CONTRACT_SIGNED', 'PROJECT_PROVISIONED', 'ERP_CONTRACT_POSTED', 'BILLING_SCHEDULED', 'IN_DELIVERY',
  ]);
  expect(view.ids.erpContractNumber).toBe(`SO-${opportunityId}`);
  expect(view.intercompany).toBe(false);
  expect(view.exceptions).toEqual([]);
  // exactly one of each downstream record
  expect((await records('kantata', 'workspaces')).filter((r) => r.id === view.ids.projectId)).toHaveLength(1);
  expect((await records('netsuite', 'salesOrder')).filter((r) => r.id === view.ids.erpContractId)).toHaveLength(1);
  expect(view.ids.subscriptionIds).toHaveLength(1);
  // CRM updated: stage and project link
  const opp = (await sandbox.store.get('salesforce', 'Opportunity', opportunityId))!.data;
  expect([opp['StageName'], opp['Q2C_Project_Id__c']]).toEqual(['Closed Won - In Delivery', view.ids.projectId]);
  // search attributes kept current for the Web UI
  const described = await handle.describe();
  expect(described.searchAttributes['DealStage']).toEqual(['IN_DELIVERY']);
  expect(described.searchAttributes['NeedsAttention']).toEqual([false]);
  expect(described.searchAttributes['LegalEntity']).toEqual(['LE-US']);
  await finish(handle);
  await maybeRecordHistory(handle, 'deal-happy-path');
});


test('a signature on day 13 completes the deal; the signer was reminded once, on day 7', async () => {
  const { opportunityId } = await seedClosedWonDeal(sandbox.url, { key: 'DAY13' });
  const handle = await start(opportunityId);
  const out = await until(handle, (v) => v.stage === 'CONTRACT_OUT_FOR_SIGNATURE', 'out for signature');
  const sentAt = await env.currentTimeMs();
  await env.sleep(13 * DAY);
  const envelope = (await sandbox.store.get('docusign', 'envelope', out.ids.envelopeId!))!.data;
  expect(envelope['resendCount']).toBe(1);
  await handle.signal(contractSignatureSignal, sign(out.ids.envelopeId!));
  const view = await until(handle, (v) => v.stage === 'IN_DELIVERY', 'in delivery');
  const signedAt = Date.parse(view.timeline.find((t) => t.stage === 'CONTRACT_SIGNED')!.at);
  // signed 13 days (not 14) after it went out, so no expiry was raised on the way
  expect(Math.floor((signedAt - sentAt) / DAY)).toBe(13);
  expect(view.timeline.map((t) => t.stage)).not.toContain('NEEDS_ATTENTION');
  await finish(handle);
});

test('no signature by day 14: NEEDS_ATTENTION (CLM.SIGNATURE_EXPIRED); the operator cancels and the envelope is voided', async () => {
  const { opportunityId } = await seedClosedWonDeal(sandbox.url, { key: 'EXPIRE' });
  const handle = await start(opportunityId);
  const out = await until(handle, (v) => v.stage === 'CONTRACT_OUT_FOR_SIGNATURE', 'out for signature');
  await env.sleep(14 * DAY + 60_000);
  const parked = await until(handle, (v) => v.stage === 'NEEDS_ATTENTION', 'needs attention');
  expect(parked.exceptions.map((e) => [e.step, e.code, e.allowed])).toEqual([['awaitSignature', 'CLM.SIGNATURE_EXPIRED', ['retry', 'cancel']]]);
  expect((await handle.describe()).searchAttributes['NeedsAttention']).toEqual([true]);
  // the validator refuses what the step does not allow
  await expect(handle.executeUpdate(resolveExceptionUpdate, { args: [{ action: 'skip' }] })).rejects.toThrow(WorkflowUpdateFailedError);
  const after = await handle.executeUpdate(resolveExceptionUpdate, { args: [{ action: 'cancel', reason: 'customer went quiet' }] });
  expect(after.stage).toBe('CANCELLED');
  const view = await handle.result();
  expect(view.stage).toBe('CANCELLED');
  expect((await sandbox.store.get('docusign', 'envelope', out.ids.envelopeId!))!.data['status']).toBe('voided');
  expect((await sandbox.store.get('salesforce', 'Opportunity', opportunityId))!.data['StageName']).toBe('Closed Lost');
  // nothing was provisioned
  expect(view.ids.projectId).toBeUndefined();
  await maybeRecordHistory(handle, 'deal-signature-expired-cancelled');
});

test('a declined contract cancels the deal and tells the CRM; nothing is provisioned', async () => {
  const { opportunityId } = await seedClosedWonDeal(sandbox.url, { key: 'DECLINE' });
  const handle = await start(opportunityId);
  const out = await until(handle, (v) => v.stage === 'CONTRACT_OUT_FOR_SIGNATURE', 'out for signature');
  await handle.signal(contractSignatureSignal, { ...sign(out.ids.envelopeId!, 'declined'), reason: 'terms not acceptable' });
  const view = await handle.result();
  expect(view.stage).toBe('CANCELLED');
  expect(view.timeline.at(-1)!.note).toBe('contract declined: terms not acceptable');
  expect((await sandbox.store.get('salesforce', 'Opportunity', opportunityId))!.data['StageName']).toBe('Closed Lost');
  expect(view.ids.projectId).toBeUndefined();
  await maybeRecordHistory(handle, 'deal-declined');
  // The declined envelope is final at DocuSign: no void was attempted on it.
  const activities = (await handle.fetchHistory()).events!.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType!.name!] : []));
  expect(activities).not.toContain('voidSignatureRequest');
});

test('ERP validation error parks the deal; the operator fixes the account in the CRM, retries, and the deal completes', async () => {
  // CHF is not enabled in the ERP: the customer master is rejected (ERP.CUSTOMER_INVALID, non-retryable)
  const { opportunityId, accountId } = await seedClosedWonDeal(sandbox.url, { key: 'ERPFIX', account: { CurrencyIsoCode: 'CHF' } });
  const handle = await start(opportunityId);
  const parked = await until(handle, (v) => v.stage === 'NEEDS_ATTENTION', 'needs attention');
  expect(parked.exceptions.map((e) => [e.step, e.code])).toEqual([['syncCustomerMaster', 'ERP.CUSTOMER_INVALID']]);
  expect(parked.exceptions[0]!.message).toContain('currency CHF is not enabled');
  expect(parked.resumeStage).toBe('QUOTE_ACCEPTED');

  await patchSalesforce(sandbox.url, 'Account', accountId, { CurrencyIsoCode: 'USD' });
  const resumed = await handle.executeUpdate(resolveExceptionUpdate, { args: [{ action: 'retry', note: 'currency fixed in Salesforce' }] });
  expect(resumed.stage).not.toBe('NEEDS_ATTENTION');
  const out = await until(handle, (v) => v.stage === 'CONTRACT_OUT_FOR_SIGNATURE', 'out for signature');
  await handle.signal(contractSignatureSignal, sign(out.ids.envelopeId!));
  const view = await until(handle, (v) => v.stage === 'IN_DELIVERY', 'in delivery');
  expect(view.timeline.map((t) => t.stage)).toEqual([
    'QUOTE_ACCEPTED', 'NEEDS_ATTENTION', 'QUOTE_ACCEPTED', 'CUSTOMER_VALIDATED', 'CONTRACT_OUT_FOR_SIGNATURE', 'CONTRACT_SIGNED', 'PROJECT_PROVISIONED', 'ERP_CONTRACT_POSTED', 'BILLING_SCHEDULED', 'IN_DELIVERY',
  ]);
  const customers = (await records('netsuite', 'customer')).filter((r) => r.externalId === view.customerId);
  expect(customers).toHaveLength(1);
  await finish(handle);
  await maybeRecordHistory(handle, 'deal-erp-invalid-fixed-retried');
});

test('a parked step keeps its operators\' notes, assignee and attempts; an override corrects the customer\'s currency and the retry goes through', async () => {
  const { opportunityId } = await seedClosedWonDeal(sandbox.url, { key: 'ERPOVR', account: { CurrencyIsoCode: 'CHF' } });
  const handle = await start(opportunityId);
  const parked = await until(handle, (v) => v.stage === 'NEEDS_ATTENTION', 'needs attention');
  const first = parked.exceptions[0]!;
  expect(first).toMatchObject({ step: 'syncCustomerMaster', code: 'ERP.CUSTOMER_INVALID', system: 'erp', attempts: 1, notes: [], allowed: ['retry', 'link', 'override', 'cancel'] });
  expect(first.firstSeenAt).toBe(first.raisedAt);
  expect(first.overridable).toContain('customer.currency');

  // Notes and an assignee change nothing the deal does; bad ones are refused by the validator.
  await expect(handle.executeUpdate(annotateExceptionUpdate, { args: [{ exceptionId: 99, by: 'ops', note: 'x' }] })).rejects.toThrow(WorkflowUpdateFailedError);
  await expect(handle.executeUpdate(annotateExceptionUpdate, { args: [{ exceptionId: first.id, by: 'ops' }] })).rejects.toThrow(WorkflowUpdateFailedError);
  const noted = await handle.executeUpdate(annotateExceptionUpdate, { args: [{ exceptionId: first.id, by: 'ops', note: 'asked sales about CHF', assignee: 'dana' }] });
  expect(noted).toMatchObject({ assignee: 'dana', notes: [{ by: 'ops', text: 'asked sales about CHF' }] });

  // A retry with nothing fixed parks the same step again: one more attempt, first seen and notes kept.
  await handle.executeUpdate(resolveExceptionUpdate, { args: [{ action: 'retry', by: 'ops' }] });
  const again = await until(handle, (v) => v.stage === 'NEEDS_ATTENTION' && v.exceptions[0]?.id !== first.id, 'parked again');
  expect(again.exceptions[0]).toMatchObject({ attempts: 2, firstSeenAt: first.firstSeenAt, assignee: 'dana', notes: [{ by: 'ops', text: 'asked sales about CHF' }] });

  // An override of a field the step does not take, or a bad value, is refused; USD goes through.
  const refusal = (p: Promise<unknown>) => p.then(() => 'accepted', (e: WorkflowUpdateFailedError) => e.cause?.message);
  expect(await refusal(handle.executeUpdate(resolveExceptionUpdate, { args: [{ action: 'override', field: 'customer.id', value: 'X' }] }))).toMatch(/'customer.id' cannot be overridden on syncCustomerMaster/);
  expect(await refusal(handle.executeUpdate(resolveExceptionUpdate, { args: [{ action: 'override', field: 'customer.currency', value: 'usd' }] }))).toBe('customer.currency: expected an ISO 4217 code');
  const resumed = await handle.executeUpdate(resolveExceptionUpdate, { args: [{ action: 'override', field: 'customer.currency', value: 'USD', note: 'billing in USD per contract', by: 'ops' }] });
  expect(resumed.exceptions).toEqual([]);
  expect(resumed.timeline.at(-1)!.note).toBe('operator: override customer.currency by ops (billing in USD per contract)');
  await until(handle, (v) => v.stage === 'CONTRACT_OUT_FOR_SIGNATURE', 'out for signature');
  const customers = (await records('netsuite', 'customer')).filter((r) => r.externalId === resumed.customerId);
  expect(customers).toHaveLength(1);
  await finish(handle);
});

test('three concurrent closed-won webhooks start one deal: one project, one ERP contract, one billing schedule', async () => {
  const { opportunityId, accountId } = await seedClosedWonDeal(sandbox.url, { key: 'DUP3' });
  const gateway = createTemporalDealGateway({ client: env.client.workflow, taskQueue: TASK_QUEUE });
  const ev = { eventId: 'evt-dup', opportunityId, accountId, occurredAt: '2026-01-15T09:00:00Z' };
  const results = await Promise.all([1, 2, 3].map((n) => gateway.startOrSignalClosedWon({ ...ev, eventId: `evt-dup-${n}` }, { correlationId: `corr-${n}` })));
  expect(new Set(results.map((r) => r.workflowId))).toEqual(new Set([dealWorkflowId(opportunityId)]));
  const handle = env.client.workflow.getHandle(dealWorkflowId(opportunityId));
  const out = await until(handle, (v) => v.stage === 'CONTRACT_OUT_FOR_SIGNATURE', 'out for signature');
  await handle.signal(contractSignatureSignal, sign(out.ids.envelopeId!));
  const view = await until(handle, (v) => v.stage === 'IN_DELIVERY', 'in delivery');
  const projectRef = `q2c-ref:${dealWorkflowId(opportunityId)}:project`;
  expect((await records('kantata', 'workspaces')).filter((r) => String(r.data['description']).includes(projectRef))).toHaveLength(1);
  expect((await records('netsuite', 'salesOrder')).filter((r) => r.data['tranId'] === `SO-${opportunityId}`)).toHaveLength(1);
  expect((await records('stripe', 'subscription')).filter((r) => (r.data['metadata'] as Record<string, string>)['q2c_opportunity_id'] === opportunityId)).toHaveLength(1);
  expect(view.ids.subscriptionIds).toHaveLength(1);
  await finish(handle);
});

test("the PSA's timeout-after-create hazard still gives one project", async () => {
  const { opportunityId } = await seedClosedWonDeal(sandbox.url, { key: 'PSATO' });
  // The workspace is created, then the response never arrives; the activity times out and retries.
  sandbox.faults.add({ vendor: 'kantata', method: 'POST', path: '^/api/v1/workspaces', kind: 'timeout_after_commit', times: 1 });
  const handle = await start(opportunityId);
  const out = await until(handle, (v) => v.stage === 'CONTRACT_OUT_FOR_SIGNATURE', 'out for signature');
  await handle.signal(contractSignatureSignal, sign(out.ids.envelopeId!));
  const view = await until(handle, (v) => v.stage === 'IN_DELIVERY', 'in delivery');
  const projectRef = `q2c-ref:${dealWorkflowId(opportunityId)}:project`;
  const workspaces = (await records('kantata', 'workspaces')).filter((r) => String(r.data['description']).includes(projectRef));
  expect(workspaces.map((w) => w.id)).toEqual([view.ids.projectId]);
  await finish(handle);
});

test('a PSA refusing the project\'s first story twelve times in a row (more than the 8 attempts that once parked the deal) still gives one project, and the deal goes on', async () => {
  const { opportunityId } = await seedClosedWonDeal(sandbox.url, { key: 'PSA12' });
  // 500 is not one the connector repeats within the call: each refusal costs provisionProject an attempt.
  sandbox.faults.add({ vendor: 'kantata', method: 'POST', path: '^/api/v1/stories', kind: 'status', status: 500, times: 12 });
  const handle = await start(opportunityId);
  const out = await until(handle, (v) => v.stage === 'CONTRACT_OUT_FOR_SIGNATURE', 'out for signature');
  await handle.signal(contractSignatureSignal, sign(out.ids.envelopeId!));
  // Twelve retries at most 30 s apart (1 + 2 + 4 + 8 + 16 + 7 x 30 s = 4 min 1 s): skip past them.
  await env.sleep('10 minutes');
  const view = await until(handle, (v) => v.stage === 'IN_DELIVERY' || v.stage === 'NEEDS_ATTENTION', 'in delivery');
  expect([view.stage, view.exceptions]).toEqual(['IN_DELIVERY', []]);
  const attempts = (await handle.fetchHistory()).events!.filter((e) => e.activityTaskStartedEventAttributes && e.activityTaskStartedEventAttributes.attempt! >= 1).map((e) => e.activityTaskStartedEventAttributes!.attempt);
  expect(Math.max(...attempts.map(Number))).toBeGreaterThanOrEqual(13);
  const projectRef = `q2c-ref:${dealWorkflowId(opportunityId)}:project`;
  expect((await records('kantata', 'workspaces')).filter((r) => String(r.data['description']).includes(projectRef)).map((w) => w.id)).toEqual([view.ids.projectId]);
  await finish(handle);
});
