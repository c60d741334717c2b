import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { ProposalDecisionRequest, RuleSetProposalView } from '../engagement/governance';

// The rule-set proposal workflow's public contract: its type, id scheme, input, view and messages.
export type {
  DealImpact,
  ImpactFigures,
  ProposalDecisionRecord,
  ProposalDecisionRequest,
  ProposalStatus,
  RuleSetImpact,
  RuleSetProposalInput,
  RuleSetProposalView,
  SkippedDeal,
} from '../engagement/governance';
export type { DealBillingBasis } from '../engagement/ruleset-impact';
export { DEFAULT_GOVERNANCE_TIME_ZONE, DEFAULT_PROPOSAL_EXPIRY_DAYS, MAX_PROPOSAL_EXPIRY_DAYS, ruleSetProposalId } from '../engagement/governance';

export const RULESET_PROPOSAL_WORKFLOW_TYPE = 'ruleSetProposalWorkflow';

/** The proposal as it stands: status, preview of its effect on open deals, decisions. */
export const getRuleSetProposalQuery = defineQuery<RuleSetProposalView>('getRuleSetProposal');
/** Approves the proposal; the validator refuses the author (RULESET.SELF_APPROVAL), a closed or expired proposal, or one without its preview yet. */
export const approveRuleSetUpdate = defineUpdate<RuleSetProposalView, [ProposalDecisionRequest]>('approveRuleSet');
/** Rejects the proposal (its author may withdraw it); the validator refuses a closed or expired proposal. */
export const rejectRuleSetUpdate = defineUpdate<RuleSetProposalView, [ProposalDecisionRequest]>('rejectRuleSet');
