import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createTemporalDealGateway, dealVisibilityQuery } from '../../src/service/temporal-deal-gateway';
import type { DealListQuery, DealSummary } from '../../src/service/deal-gateway';
import { CustomerIdKey, DealStageKey, LegalEntityKey, NeedsAttentionKey } from '../../src/contract';
import { createDevServerEnv } from '../support/temporal';

// No worker polls this queue: the executions only need to exist (and carry search attributes) to be listed.
const TASK_QUEUE = 'service-deal-list-test';

describe('Temporal DealGateway.listDeals (against the dev server and its visibility store)', () => {
  let env: TestWorkflowEnvironment;

  beforeAll(async () => {
    env = await createDevServerEnv();
    const start = (workflowType: string, workflowId: string, attrs: Array<[unknown, unknown]>) =>
      env.client.workflow.start(workflowType, {
        workflowId,
        taskQueue: TASK_QUEUE,
        typedSearchAttributes: attrs.map(([key, value]) => ({ key, value })) as never,
      });
    await start('dealWorkflow', 'deal-OPP-L1', [[DealStageKey, 'IN_DELIVERY'], [CustomerIdKey, 'CUST-1'], [LegalEntityKey, 'US01'], [NeedsAttentionKey, false]]);
    await start('dealWorkflow', 'deal-OPP-L2', [[DealStageKey, 'NEEDS_ATTENTION'], [CustomerIdKey, 'CUST-2'], [LegalEntityKey, 'DE01'], [NeedsAttentionKey, true]]);
    await start('dealWorkflow', 'deal-OPP-L3', []); // not staged yet: no attributes at all
    const closed = await start('dealWorkflow', 'deal-OPP-L4', [[DealStageKey, 'IN_DELIVERY'], [NeedsAttentionKey, false]]);
    await closed.terminate('test: a closed deal');
    await start('invoiceRunWorkflow', 'invoice-run-OPP-L1', [[DealStageKey, 'IN_DELIVERY']]);
  }, 120_000);

  afterAll(async () => {
    await env?.teardown();
  });

  const gateway = () => createTemporalDealGateway({ client: env.client.workflow, taskQueue: TASK_QUEUE });
  /** Visibility is eventually consistent: ask until the listing settles on the expected ids. */
  const listUntil = async (q: DealListQuery, expectedIds: string[]): Promise<DealSummary[]> => {
    let deals: DealSummary[] = [];
    for (let i = 0; i < 50; i++) {
      deals = await gateway().listDeals(q);
      if (JSON.stringify(deals.map((d) => d.opportunityId).sort()) === JSON.stringify(expectedIds)) return deals;
      await new Promise((r) => setTimeout(r, 200));
    }
    return deals;
  };
  const ids = (deals: DealSummary[]) => deals.map((d) => d.opportunityId).sort();

  it('builds the visibility query from the filters', () => {
    expect(dealVisibilityQuery({})).toBe("WorkflowType = 'dealWorkflow'");
    expect(dealVisibilityQuery({ openOnly: true, stage: 'IN_DELIVERY', needsAttention: true })).toBe(
      "WorkflowType = 'dealWorkflow' AND ExecutionStatus = 'Running' AND DealStage = 'IN_DELIVERY' AND NeedsAttention = true",
    );
    expect(dealVisibilityQuery({ needsAttention: false })).toBe("WorkflowType = 'dealWorkflow' AND (NeedsAttention = false OR NeedsAttention IS NULL)");
    expect(dealVisibilityQuery({ stage: "X' OR 'a'='a" as never })).toBe("WorkflowType = 'dealWorkflow' AND DealStage = 'X'' OR ''a''=''a'");
  });

  it('lists deal workflows only, with their search attributes', async () => {
    const deals = await listUntil({}, ['OPP-L1', 'OPP-L2', 'OPP-L3', 'OPP-L4']);
    expect(ids(deals)).toEqual(['OPP-L1', 'OPP-L2', 'OPP-L3', 'OPP-L4']);
    const byId = Object.fromEntries(deals.map((d) => [d.opportunityId, d]));
    expect(byId['OPP-L2']).toEqual({
      workflowId: 'deal-OPP-L2',
      runId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      opportunityId: 'OPP-L2',
      status: 'RUNNING',
      stage: 'NEEDS_ATTENTION',
      customerId: 'CUST-2',
      legalEntity: 'DE01',
      needsAttention: true,
      startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(byId['OPP-L3']).toEqual({ workflowId: 'deal-OPP-L3', runId: byId['OPP-L3']!.runId, opportunityId: 'OPP-L3', status: 'RUNNING', needsAttention: false, startedAt: byId['OPP-L3']!.startedAt });
    expect(byId['OPP-L4']!.status).toBe('TERMINATED');
    expect(byId['OPP-L4']!.closedAt).toMatch(/Z$/);
  });

  it('filters by stage, needs-attention (a missing value counts as false), open only, and limit', async () => {
    expect(ids(await listUntil({ stage: 'IN_DELIVERY' }, ['OPP-L1', 'OPP-L4']))).toEqual(['OPP-L1', 'OPP-L4']);
    expect(ids(await listUntil({ stage: 'IN_DELIVERY', openOnly: true }, ['OPP-L1']))).toEqual(['OPP-L1']);
    expect(ids(await listUntil({ needsAttention: true }, ['OPP-L2']))).toEqual(['OPP-L2']);
    expect(ids(await listUntil({ needsAttention: false, openOnly: true }, ['OPP-L1', 'OPP-L3']))).toEqual(['OPP-L1', 'OPP-L3']);
    expect(await gateway().listDeals({ limit: 2 })).toHaveLength(2);
    expect(await gateway().listDeals({ limit: 0 })).toEqual([]);
  });
});
