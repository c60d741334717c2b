// Workflow code for the engagement tests: the deal's delivery part driven directly
// with a fixed snapshot (part 1 is covered by its own tests). Bundled on its own.
import { continueAsNew } from '@temporalio/workflow';
import type { DealSnapshot } from '../../src/contract';
import type { DealView } from '../../src/contract';
import { installDeliveryHandlers, runDelivery } from '../../src/workflows/delivery';
import type { DeliveryCarry } from '../../src/engagement/state';
import type { DeliveryOptions } from '../../src/contract';

export { invoiceRunWorkflow } from '../../src/workflows/invoice-run.workflow';

export interface EngagementInput {
  opportunityId: string;
  snapshot: DealSnapshot;
  view: DealView;
  options?: DeliveryOptions;
  /** As DealInput.erpTaskQueue. */
  erpTaskQueue?: string;
  resume?: DeliveryCarry;
}

export async function engagementTestWorkflow(input: EngagementInput): Promise<DealView> {
  const inbox = installDeliveryHandlers(input.resume);
  const view = input.view;
  return runDelivery({
    opportunityId: input.opportunityId,
    snapshot: input.snapshot,
    view,
    inbox,
    ...(input.options ? { options: input.options } : {}),
    ...(input.erpTaskQueue ? { erpTaskQueue: input.erpTaskQueue } : {}),
    ...(input.resume ? { resume: input.resume } : {}),
    enter: (stage, note) => {
      view.stage = stage;
      view.timeline.push({ at: new Date().toISOString(), stage, ...(note ? { note } : {}) });
    },
    key: (step) => `${input.opportunityId}:${step}`,
    continueAsNew: (carry) => continueAsNew<typeof engagementTestWorkflow>({ ...input, view, resume: carry }),
  });
}
