import type { Outcome } from './commands';
import { outcome } from './commands';
import { raise, resolveAttention } from './deal';
import type { AttentionItem, IssueContext, IssueStep } from './model';
import type { EngagementState } from './state';

/*
 * Issuing one invoice is three activities in a row (tax commit, post, record), each retried for
 * up to a day. While one of them keeps failing, the vendors disagree: tax committed in AvaTax and
 * no invoice in the ERP, or an ERP invoice with no audit links. An invoice held between two steps
 * longer than STALLED_ISSUE_AFTER_MS raises ISSUE_STALLED; the step completing (or failing for
 * good, which raises POSTING_FAILED instead) clears it.
 */

/** How long (workflow time) one issuing step may take before the deal asks for attention. */
export const STALLED_ISSUE_AFTER_MS = 10 * 60_000;

/** The change to running deals that watches issuing steps (a timer per step). */
export const STALLED_ISSUE_PATCH = 'stalled-issue-attention';

export const stalledIssueId = (invoiceId: string): string => `ISSUE_STALLED:${invoiceId}`;

/** Where the invoice is held, as the operator reads it. */
export function stalledStepText(step: IssueStep, system: IssueContext['system'] = 'erp'): string {
  switch (step) {
    case 'TAX':
      return 'not taxed: the tax commit (AvaTax) has not completed';
    case 'POST':
      return `tax committed, not posted to ${system === 'stripe' ? 'Stripe' : 'the ERP'}`;
    case 'RECORD':
      return 'posted, audit not recorded (audit links and CRM/PSA write-back)';
  }
}

export interface IssueStall {
  invoiceId: string;
  step: IssueStep;
  system?: IssueContext['system'];
  /** The step's last failure, when the shell knows it. */
  lastFailure?: { code: string; message: string };
}

/** The attention item for an invoice held in a step (the message names the invoice, the step and the last failure). */
export function stalledIssueItem(stall: IssueStall, today: string, afterMs = STALLED_ISSUE_AFTER_MS): AttentionItem {
  const minutes = Math.round(afterMs / 60_000);
  const failure = stall.lastFailure ? `; last failure ${stall.lastFailure.code}: ${stall.lastFailure.message}` : '';
  return {
    id: stalledIssueId(stall.invoiceId),
    kind: 'ISSUE_STALLED',
    invoiceId: stall.invoiceId,
    issueStep: stall.step,
    message: `invoice ${stall.invoiceId}: ${stalledStepText(stall.step, stall.system)} after ${minutes} minutes${failure}`,
    raisedOn: today,
  };
}

/** The invoice has been in `step` for STALLED_ISSUE_AFTER_MS: raise (or move to this step) its ISSUE_STALLED item. */
export function issueStalled(s: EngagementState, stall: IssueStall, today: string): Outcome {
  const out = outcome();
  // A child run's late report of an invoice the deal has already taken the result of.
  if (!s.drafts.some((x) => x.invoice.id === stall.invoiceId)) return out;
  const item = stalledIssueItem(stall, today);
  const open = s.attention.find((a) => a.id === item.id);
  if (open) {
    // Still held, now in a later step (or with a failure now known): the operator reads where it is now.
    Object.assign(open, { issueStep: item.issueStep, message: item.message });
    return out;
  }
  raise(s, item, out);
  return out;
}

/** The step completed or failed for good: the invoice is no longer held in it. True when an item was cleared. */
export function issueMoved(s: EngagementState, invoiceId: string): boolean {
  const before = s.attention.length;
  resolveAttention(s, (a) => a.kind === 'ISSUE_STALLED' && a.invoiceId === invoiceId);
  return s.attention.length !== before;
}
