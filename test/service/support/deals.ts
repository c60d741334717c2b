import type { DealSummary } from '../../../src/service/deal-gateway';

/** What the fake visibility store lists: running, parked (with hostile text), closed, and not yet staged. */
export const LISTED: DealSummary[] = [
  {
    workflowId: 'deal-006A00000000001AAA',
    runId: 'run-1',
    opportunityId: '006A00000000001AAA',
    status: 'RUNNING',
    stage: 'IN_DELIVERY',
    customerId: 'CUST-1',
    legalEntity: 'US01',
    needsAttention: false,
    startedAt: '2025-03-01T09:00:00.000Z',
  },
  {
    workflowId: 'deal-006A00000000002AAA',
    runId: 'run-2',
    opportunityId: '006A00000000002AAA',
    status: 'RUNNING',
    stage: 'NEEDS_ATTENTION',
    customerId: '<script>alert("x")</script>&Co',
    legalEntity: "O'Brien Ltd",
    needsAttention: true,
    startedAt: '2025-03-20T10:30:00.000Z',
  },
  {
    workflowId: 'deal-006A00000000003AAA',
    runId: 'run-3',
    opportunityId: '006A00000000003AAA',
    status: 'COMPLETED',
    stage: 'CLOSED',
    customerId: 'CUST-3',
    legalEntity: 'DE01',
    needsAttention: false,
    startedAt: '2025-01-05T08:00:00.000Z',
    closedAt: '2025-03-28T17:00:00.000Z',
  },
  {
    workflowId: 'deal-006A00000000004AAA',
    runId: 'run-4',
    opportunityId: '006A00000000004AAA',
    status: 'RUNNING',
    needsAttention: false,
    startedAt: '2025-03-31T11:59:00.000Z',
  },
];
