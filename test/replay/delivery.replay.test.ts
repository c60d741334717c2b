import { DELIVERY_HISTORIES_DIR, itReplays, loadHistories } from '../support/histories';
import { tracedWorkflowBundle } from '../support/temporal';
import { engagementBundle } from '../workflows/engagement.support';

// Histories of the delivery part alone (engagementTestWorkflow), recorded by
// test/workflows/*.test.ts with Q2C_RECORD_HISTORIES=1 on the code named in each test.
describe('recorded delivery histories replay on the current workflow code', () => {
  const histories = loadHistories(DELIVERY_HISTORIES_DIR);

  it('has recorded delivery histories to replay', () => {
    expect(histories.map((h) => h.workflowId)).toContain('approved-invoice-paid');
  });

  itReplays(histories, { bundle: engagementBundle, tracedBundle: () => tracedWorkflowBundle(require.resolve('../workflows/engagement.workflows')) });
});
