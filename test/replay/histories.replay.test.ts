import { itReplays, loadHistories } from '../support/histories';
import { tracedWorkflowBundle, workflowBundle } from '../support/temporal';

// A worker with tracing on (OTEL_* set) runs the OpenTelemetry workflow interceptors: the
// histories recorded without them (and the traced one, deal-declined-traced, with them)
// replay there too.
describe('recorded histories replay on the current workflow code', () => {
  const histories = loadHistories();

  it('has recorded histories to replay', () => {
    expect(histories.length).toBeGreaterThan(0);
  });

  itReplays(histories, { bundle: workflowBundle, tracedBundle: () => tracedWorkflowBundle() });
});
