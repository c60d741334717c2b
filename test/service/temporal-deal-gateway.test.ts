import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { ActionRejectedError, DealNotFoundError, DealNotInDeliveryError } from '../../src/service/deal-gateway';
import { createTemporalDealGateway } from '../../src/service/temporal-deal-gateway';
import { createDevServerEnv } from '../support/temporal';
import { stubStateQuery } from './fixtures/stub-deal.workflow';

const TASK_QUEUE = 'service-gateway-test';

describe('Temporal DealGateway (against the dev server, with a stub dealWorkflow)', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;

  beforeAll(async () => {
    env = await createDevServerEnv();
    const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./fixtures/stub-deal.workflow'), logger: quiet });
    worker = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUE, workflowBundle });
    running = worker.run();
  }, 120_000);

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  const gateway = () => createTemporalDealGateway({ client: env.client.workflow, taskQueue: TASK_QUEUE });
  const state = (opportunityId: string) => env.client.workflow.getHandle(`deal-${opportunityId}`).query(stubStateQuery);
  const ev = (eventId: string, opportunityId: string) => ({ eventId, opportunityId, accountId: '001A', occurredAt: '2025-03-31T11:58:00.000Z' });

  it('starts one workflow for concurrent closed-won deliveries and signals it with each', async () => {
    const g = gateway();
    const results = await Promise.all([
      g.startOrSignalClosedWon(ev('e1', 'OPP-T1'), { correlationId: 'c1' }),
      g.startOrSignalClosedWon(ev('e2', 'OPP-T1'), { correlationId: 'c2' }),
      g.startOrSignalClosedWon(ev('e3', 'OPP-T1'), { correlationId: 'c3' }),
    ]);
    expect(results).toEqual([{ workflowId: 'deal-OPP-T1' }, { workflowId: 'deal-OPP-T1' }, { workflowId: 'deal-OPP-T1' }]);
    // Every delivery reaches the one run. Signals that arrive while a workflow task is in
    // flight are buffered by the server and written to the history when the task completes,
    // so both the history and the query are read until they show all three.
    const closedWonEvents = async () =>
      (await env.client.workflow.getHandle('deal-OPP-T1').fetchHistory()).events!.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'closedWon').length;
    let signalled = await closedWonEvents();
    let s = await state('OPP-T1');
    for (let i = 0; i < 50 && (signalled < 3 || s.closedWon.length < 3); i++) {
      await new Promise((r) => setTimeout(r, 100));
      signalled = await closedWonEvents();
      s = await state('OPP-T1');
    }
    expect(signalled).toBe(3);
    expect(s.closedWon.map((e) => e.eventId).sort()).toEqual(['e1', 'e2', 'e3']);
    expect(['c1', 'c2', 'c3']).toContain(s.input.correlationId);
    const first = await env.client.workflow.getHandle('deal-OPP-T1').describe();
    expect(first.runId).toBe(s.runId);
  });

  it('starts a deal with the ERP task queue it is configured with (none given: the input has none, the workflow uses the default)', async () => {
    await createTemporalDealGateway({ client: env.client.workflow, taskQueue: TASK_QUEUE, erpTaskQueue: 'acme-netsuite' }).startOrSignalClosedWon(ev('e1', 'OPP-TQ1'), { correlationId: 'c1' });
    await gateway().startOrSignalClosedWon(ev('e2', 'OPP-TQ2'), { correlationId: 'c2' });
    expect((await state('OPP-TQ1')).input).toEqual({ opportunityId: 'OPP-TQ1', correlationId: 'c1', erpTaskQueue: 'acme-netsuite' });
    expect((await state('OPP-TQ2')).input).toEqual({ opportunityId: 'OPP-TQ2', correlationId: 'c2' });
  });

  it('answers a revenue waterfall only for a deal in delivery: not found for no deal, not in delivery before it bills', async () => {
    const g = gateway();
    await expect(g.revenueWaterfall('OPP-NONE')).rejects.toBeInstanceOf(DealNotFoundError);
    await g.startOrSignalClosedWon(ev('w1', 'OPP-WF'), { correlationId: 'c1' });
    // The stub deal never reaches delivery, where the deal workflow registers the waterfall query.
    await expect(g.revenueWaterfall('OPP-WF')).rejects.toBeInstanceOf(DealNotInDeliveryError);
  });

  it('never starts a deal again once it has closed (reuse policy REJECT_DUPLICATE)', async () => {
    const g = gateway();
    await g.startOrSignalClosedWon(ev('f1', 'OPP-T2'), { correlationId: 'c1' });
    const { runId } = await state('OPP-T2');
    await g.resolveException('OPP-T2', { action: 'cancel', reason: 'customer withdrew' });
    const handle = env.client.workflow.getHandle('deal-OPP-T2');
    expect(await handle.result()).toBe('CANCELLED');

    expect(await g.startOrSignalClosedWon(ev('f2', 'OPP-T2'), { correlationId: 'c2' })).toEqual({ workflowId: 'deal-OPP-T2' });
    const after = await handle.describe();
    expect(after.runId).toBe(runId);
    expect(after.status.name).toBe('COMPLETED');
  });

  it('signals signatures, delivery batches and payments to a running deal', async () => {
    const g = gateway();
    await g.startOrSignalClosedWon(ev('g1', 'OPP-T3'), { correlationId: 'c1' });
    await g.signalSignature('OPP-T3', { eventId: 'env-1:envelope-completed', envelopeId: 'env-1', status: 'completed', occurredAt: '2025-03-31T12:00:00.000Z' });
    await g.signalDelivery('OPP-T3', {
      batchId: 'kantata:b1',
      source: 'kantata',
      receivedAt: '2025-03-31T12:00:00.000Z',
      items: [{ kind: 'milestone', sourceId: 'ms-1', projectId: '7001', status: 'accepted', at: '2025-03-31T11:00:00.000Z' }],
    });
    await g.signalPayment('OPP-T3', { eventId: 'evt_1', source: 'stripe', kind: 'invoice.paid', occurredAt: '2025-03-31T12:00:00.000Z', amountMinor: 100, currency: 'USD' });
    const s = await state('OPP-T3');
    expect(s.signatures.map((x) => x.envelopeId)).toEqual(['env-1']);
    expect(s.deliveries.map((b) => b.batchId)).toEqual(['kantata:b1']);
    expect(s.payments.map((p) => p.amountMinor)).toEqual([100]);
    expect((await g.queryDeal('OPP-T3')).workflowId).toBe('deal-OPP-T3');
  });

  it('maps a missing workflow to DealNotFoundError and a validator refusal to ActionRejectedError', async () => {
    const g = gateway();
    await expect(g.signalSignature('OPP-NONE', { eventId: 'x', envelopeId: 'x', status: 'completed', occurredAt: '2025-03-31T12:00:00.000Z' })).rejects.toBeInstanceOf(DealNotFoundError);
    await expect(g.queryDeal('OPP-NONE')).rejects.toBeInstanceOf(DealNotFoundError);

    await g.startOrSignalClosedWon(ev('h1', 'OPP-T4'), { correlationId: 'c1' });
    const refusal = g.resolveException('OPP-T4', { action: 'skip' });
    await expect(refusal).rejects.toBeInstanceOf(ActionRejectedError);
    await expect(refusal).rejects.toThrow('skip is not allowed for this step');
    expect(await g.resolveException('OPP-T4', { action: 'retry' })).toEqual({ workflowId: 'deal-OPP-T4', result: { stage: 'IN_DELIVERY' } });
  });
});

const noop = () => {};
const quiet = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };
