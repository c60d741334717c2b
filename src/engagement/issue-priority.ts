import type { InvoiceSchedule } from '../canonical';

/*
 * Month-end is bulk work: every deal's periodic invoice run fires together, and its thousands of
 * issuing steps would queue, first come first served, ahead of an invoice a customer is waiting
 * for now (an immediate or milestone invoice) and of every other deal's steps. Temporal's task
 * queues take a priority key (lower goes first; 3 when unset), so the periodic runs' issuing
 * steps go at BULK_ISSUE_PRIORITY and yield to everything else on the same queues.
 */

/** The priority key of a periodic (weekly, monthly) invoice's issuing steps: behind the default, 3. */
export const BULK_ISSUE_PRIORITY = 4;

/** The change to running deals that gives periodic invoices' steps the bulk priority. */
export const ISSUE_PRIORITY_PATCH = 'bulk-issue-priority';

/** The task-queue priority key of an invoice's issuing steps; undefined: the default. */
export function issuePriorityKey(schedule: InvoiceSchedule): number | undefined {
  return schedule === 'MONTHLY' || schedule === 'WEEKLY' ? BULK_ISSUE_PRIORITY : undefined;
}
