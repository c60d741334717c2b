import type { BillingClass } from '../canonical';

/** Every reason code the engine emits: '<CLASS>.<REASON>'. */
export const REASONS = {
  'BILLABLE.TIME_AND_MATERIALS': 'Approved time on a time-and-materials line, charged at the rate card.',
  'BILLABLE.PARTIAL_UNDER_CAP': 'Only the part of this item that fits under the not-to-exceed cap is billed; the rest is capped.',
  'BILLABLE.RETAINER_DRAWDOWN': 'Drawn down from the prepaid retainer balance; not invoiced again.',
  'BILLABLE.RETAINER_OVERAGE': 'The retainer balance is used up; this work is billed as overage at the rate card.',
  'BILLABLE.MILESTONE_ACCEPTED': 'The customer accepted the milestone, so its fee is billed.',
  'BILLABLE.SUBSCRIPTION_PERIOD': 'A recurring charge for a service period that is due.',
  'BILLABLE.RETAINER_FEE': 'The prepaid retainer fee, billed at the start of the retainer.',
  'BILLABLE.EXPENSE_AT_COST': 'A reimbursable expense, billed at cost.',
  'BILLABLE.EXPENSE_MARKUP': 'A reimbursable expense, billed at cost plus the policy markup.',
  'BILLABLE.EXPENSE_CAPPED_PART': 'The expense is billed up to the per-item policy limit; the rest is capped.',
  'DEFERRED.MILESTONE_NOT_ACCEPTED': 'The milestone is complete but not yet accepted by the customer; it is billed on acceptance.',
  'DEFERRED.PERIOD_NOT_CLOSED': 'The item falls in an invoice period that has not closed yet; it is billed when the period closes.',
  'DEFERRED.NOT_YET_DUE': 'The item is dated after the billing date; it is billed when it falls due.',
  'DEFERRED.AWAITING_PO': 'The contract requires a purchase order and none is on file; billing waits for the PO.',
  'DEFERRED.NO_RATE': 'No rate card row matches this role, region and date; billing waits for a rate.',
  'DEFERRED.RECEIPT_MISSING': 'The expense is above the receipt threshold and has no receipt; it is billed once the receipt is attached.',
  'DEFERRED.FX_RATE_MISSING': 'The expense is in another currency and no FX rate is available for its date.',
  'CAPPED.OVER_CAP': 'The not-to-exceed cap (with tolerance) is reached; this amount is written off, not billed.',
  'CAPPED.RETAINER_EXHAUSTED': 'The retainer is used up and the contract does not bill overage.',
  'CAPPED.EXPENSE_POLICY_LIMIT': 'The part of the expense above the per-item policy limit is not billed.',
  'EXCLUDED.DUPLICATE': 'The same item was already received; the duplicate is ignored.',
  'EXCLUDED.UNAPPROVED': 'The item is not approved; it is reconsidered once approved.',
  'EXCLUDED.UNKNOWN_CONTRACT_LINE': 'The item names a contract line that is not on this contract version.',
  'EXCLUDED.NON_BILLABLE_TASK': 'The task is marked non-billable, so this time is not charged.',
  'EXCLUDED.OUTSIDE_CONTRACT_DATES': 'The item is dated outside the contract line term.',
  'EXCLUDED.COVERED_BY_FIXED_FEE': 'Time on a fixed-fee line is covered by the milestone fees.',
  'EXCLUDED.COVERED_BY_SUBSCRIPTION': 'Time on a subscription line is covered by the recurring fee.',
  'EXCLUDED.EXPENSE_CATEGORY': 'The expense policy does not bill this expense category.',
  'EXCLUDED.WRONG_LINE_TYPE': 'This kind of item cannot be billed on this line type.',
  'EXCLUDED.UNKNOWN_MILESTONE': 'The milestone is not in the line milestone schedule.',
  'EXCLUDED.CURRENCY_MISMATCH': 'The expense is in another currency than the contract and the deal has no FX rate to bill it at; re-submit it in the contract currency.',
} as const satisfies Record<string, string>;

export type ReasonCode = keyof typeof REASONS;

/**
 * The class a reason code belongs to. Runs once per item in the hot path, so it reads
 * the first letter (the four classes start with different letters) instead of looking
 * the code up in a 30-key table.
 */
export const classOf = (code: ReasonCode): BillingClass => {
  switch (code.charCodeAt(0)) {
    case 66: // B
      return 'BILLABLE';
    case 68: // D
      return 'DEFERRED';
    case 67: // C
      return 'CAPPED';
    default:
      return 'EXCLUDED';
  }
};

export const sentenceFor = (code: ReasonCode): string => REASONS[code];
