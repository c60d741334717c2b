import { ActivityFailure, CancellationScope, getExternalWorkflowHandle, log, patched, proxyActivities, sleep, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { Invoice } from '../canonical';
import type { BillingActivities } from '../activities/billing.activities';
import type { IssueContext, IssueRequest, IssueResult, IssueStep } from '../contract';
import { issueProgressSignal } from '../contract/messages';
import { STALLED_ISSUE_AFTER_MS, STALLED_ISSUE_PATCH } from '../engagement/stalled-issue';
import { ISSUE_PRIORITY_PATCH, issuePriorityKey } from '../engagement/issue-priority';

import { ERP_TASK_QUEUE } from '../contract/task-queues';
import { failureCode, failureMessage } from './failures';

export { ERP_TASK_QUEUE };

/**
 * Billing steps (tax committed, invoice posted, audit and write-backs, revenue, payments) must
 * not be lost half-way: a step the vendors saw and q2c did not finish would leave them out of
 * sync. So their retries are bounded by total time, not by a count a crash loop or an outage
 * could use up: attempts at most 30 s apart for up to a day (SCHEDULE_TO_CLOSE), then the
 * failure path. Non-retryable failures (bad data) still fail at once.
 */
export const BILLING_RETRY: ActivityOptions['retry'] = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' };
/**
 * start-to-close bounds a hung attempt (a connector's requests time out after 30 s each);
 * the heartbeat timeout finds a dead worker in seconds (the activities' liveness beat,
 * src/activities/liveness.ts) so another worker retries its step at once.
 */
export const BILLING_OPTIONS: ActivityOptions = { startToCloseTimeout: '2 minutes', heartbeatTimeout: '10 seconds', scheduleToCloseTimeout: '24 hours', retry: BILLING_RETRY };
/** The ERP's own queue (its rate limit holds tasks back at month end: the day-long schedule-to-close covers the wait). */
export const ERP_OPTIONS: ActivityOptions = { ...BILLING_OPTIONS, taskQueue: ERP_TASK_QUEUE };

/** ERP_OPTIONS on the deal's ERP queue (DealInput.erpTaskQueue); absent, the default queue, so older deals schedule exactly as before. */
export const erpOptions = (taskQueue?: string): ActivityOptions => (taskQueue ? { ...ERP_OPTIONS, taskQueue } : ERP_OPTIONS);

export interface InvoiceRunInput {
  ctx: IssueContext;
  runId: string;
  requests: IssueRequest[];
  /** The deal's ERP queue (absent: ERP_TASK_QUEUE). */
  erpTaskQueue?: string;
}

/** Told when an invoice has been held in one issuing step for STALLED_ISSUE_AFTER_MS, and when the step completes. */
export interface IssueWatch {
  stalled(invoiceId: string, step: IssueStep): void;
  /** The step ended: completed, or failed for good (then the run's results report the failure). */
  moved(invoiceId: string, completed: boolean): void;
}

/**
 * Runs one issuing step; with a watch, a timer races it and tells the watch when the step has
 * taken STALLED_ISSUE_AFTER_MS. The timer is cancelled when the step ends (no event is left
 * waiting), so a watched step costs two history events (timer started, cancelled).
 */
async function step<T>(watch: IssueWatch | undefined, invoiceId: string, name: IssueStep, run: () => Promise<T>): Promise<T> {
  if (!watch) return run();
  const timer = new CancellationScope();
  void timer.run(() => sleep(STALLED_ISSUE_AFTER_MS)).then(
    () => watch.stalled(invoiceId, name),
    () => undefined, // cancelled: the step ended first
  );
  let completed = false;
  try {
    const value = await run();
    completed = true;
    return value;
  } finally {
    timer.cancel();
    watch.moved(invoiceId, completed);
  }
}

/**
 * Tax, post and write back each invoice, one after another (the ERP queue's
 * concurrency paces them); a periodic invoice's steps at the bulk priority. A failed invoice is reported, not thrown: the others
 * still go out, and the deal raises an exception for the one that failed.
 * With a watch (the deal's own runs, from patched STALLED_ISSUE_PATCH on), an
 * invoice held in one step is reported while Temporal keeps retrying it.
 */
export async function issueInvoices(ctx: IssueContext, requests: readonly IssueRequest[], opts: { watch?: IssueWatch; erpTaskQueue?: string } = {}): Promise<IssueResult[]> {
  const { watch } = opts;
  // Periodic invoices' steps yield to everything else on the queues (src/engagement/issue-priority.ts).
  const prioritised = requests.length > 0 && patched(ISSUE_PRIORITY_PATCH);
  const proxies = (priorityKey: number | undefined) => {
    const priority = priorityKey === undefined ? {} : { priority: { priorityKey } };
    return { acts: proxyActivities<BillingActivities>({ ...BILLING_OPTIONS, ...priority }), erp: proxyActivities<BillingActivities>({ ...erpOptions(opts.erpTaskQueue), ...priority }) };
  };
  const results: IssueResult[] = [];
  for (const req of requests) {
    const { acts, erp } = proxies(prioritised ? issuePriorityKey(req.invoice.schedule) : undefined);
    try {
      const id = req.invoice.id;
      const t = await step(watch, id, 'TAX', () => acts.taxInvoice({ invoice: req.invoice, customer: ctx.customer, seller: ctx.seller, taxableLineIds: req.taxableLineIds }));
      const invoice: Invoice = {
        ...req.invoice,
        status: 'POSTED',
        tax: { amountMinor: t.taxMinor, currency: req.invoice.currency },
        total: { amountMinor: req.invoice.subtotal.amountMinor + t.taxMinor, currency: req.invoice.currency },
      };
      const posted = await step(watch, id, 'POST', () => erp.postInvoice({ ctx, invoice }));
      await step(watch, id, 'RECORD', () => acts.recordInvoiceIssued({ ctx, invoice, posted, events: req.events }));
      results.push({ invoiceId: invoice.id, ok: true, number: posted.number, externalId: posted.externalId, system: posted.system, taxMinor: t.taxMinor });
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      results.push({ invoiceId: req.invoice.id, ok: false, errorCode: failureCode(err), errorMessage: failureMessage(err) });
    }
  }
  return results;
}

/**
 * A child run reports to its deal by signal: an invoice held in a step, and the end of that
 * step (only for a step it reported), so a run that goes well sends nothing.
 */
function parentWatch(parent: { workflowId: string; runId: string }): IssueWatch {
  const deal = getExternalWorkflowHandle(parent.workflowId, parent.runId);
  const held = new Map<string, IssueStep>();
  const tell = (invoiceId: string, step: IssueStep, stalled: boolean) =>
    void deal.signal(issueProgressSignal, { invoiceId, step, stalled }).catch((err: unknown) => log.warn('the deal was not told of a stalled invoice', { invoiceId, error: String(err) }));
  return {
    stalled: (invoiceId, step) => {
      held.set(invoiceId, step);
      tell(invoiceId, step, true);
    },
    moved: (invoiceId) => {
      const step = held.get(invoiceId);
      if (step === undefined) return;
      held.delete(invoiceId);
      tell(invoiceId, step, false);
    },
  };
}

/** An invoice run of a large deal as a child workflow: its own history, so the deal's stays small. */
export async function invoiceRunWorkflow(input: InvoiceRunInput): Promise<IssueResult[]> {
  const parent = workflowInfo().parent;
  const watch = parent && patched(STALLED_ISSUE_PATCH) ? parentWatch(parent) : undefined;
  return issueInvoices(input.ctx, input.requests, { ...(watch ? { watch } : {}), ...(input.erpTaskQueue ? { erpTaskQueue: input.erpTaskQueue } : {}) });
}
