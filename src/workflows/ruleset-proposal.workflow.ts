import { allHandlersFinished, ApplicationFailure, condition, log, proxyActivities, setHandler, sleep, type ActivityOptions } from '@temporalio/workflow';
import type { GovernanceActivities } from '../activities/governance.activities';
import { approveRuleSetUpdate, getRuleSetProposalQuery, rejectRuleSetUpdate, type ProposalDecisionRequest, type RuleSetProposalInput, type RuleSetProposalView } from '../contract';
import * as governance from '../engagement/governance';
import { Refusal } from '../engagement/refusal';
import { refusing } from './failures';

export const GOVERNANCE_RETRY: ActivityOptions['retry'] = { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' };
/** Storing and recording a decision: one database write each. */
export const GOVERNANCE_STORE_OPTIONS: ActivityOptions = { startToCloseTimeout: '1 minute', retry: GOVERNANCE_RETRY };
/** The preview reads every open deal and its PSA items: heartbeats after each deal. */
export const GOVERNANCE_PREVIEW_OPTIONS: ActivityOptions = { startToCloseTimeout: '30 minutes', heartbeatTimeout: '2 minutes', retry: { ...GOVERNANCE_RETRY, maximumAttempts: 5 } };

const store = proxyActivities<GovernanceActivities>(GOVERNANCE_STORE_OPTIONS);
const previews = proxyActivities<GovernanceActivities>(GOVERNANCE_PREVIEW_OPTIONS);


/**
 * One proposed rule-set version (id `ruleset-proposal:<id>:v<version>`): stored as a draft,
 * its effect on every open deal previewed, then approved by someone other than its author
 * (in force at local midnight of its effective date, a durable timer), rejected, or expired
 * when nobody decided in time. Rejected and expired proposals change nothing but their own
 * version's status. The decisions are the pure core's (engagement/governance.ts); the
 * validators call the same checks, so a refusal and an application cannot disagree.
 */
export async function ruleSetProposalWorkflow(input: RuleSetProposalInput): Promise<RuleSetProposalView> {
  const p = refusing(() => governance.openProposal(input, Date.now()));
  const ref = p.ruleSet;
  setHandler(getRuleSetProposalQuery, () => p);
  setHandler(
    approveRuleSetUpdate,
    (req: ProposalDecisionRequest) => {
      refusing(() => governance.approve(p, req, Date.now()));
      log.info('rule-set proposal approved', { proposalId: p.proposalId, by: p.approval?.by });
      return p;
    },
    {
      validator: (req: ProposalDecisionRequest) => {
        // A refused update leaves no trace in the history; the log is its audit.
        try {
          governance.checkApproval(p, req, Date.now());
        } catch (err) {
          if (err instanceof Refusal) log.warn('rule-set approval refused', { proposalId: p.proposalId, by: req.by, code: err.code });
          throw err instanceof Refusal ? ApplicationFailure.nonRetryable(err.message, err.code) : err;
        }
      },
    },
  );
  setHandler(
    rejectRuleSetUpdate,
    (req: ProposalDecisionRequest) => {
      refusing(() => governance.reject(p, req, Date.now()));
      log.info('rule-set proposal rejected', { proposalId: p.proposalId, by: p.rejection?.by });
      return p;
    },
    { validator: (req: ProposalDecisionRequest) => refusing(() => governance.checkRejection(p, req, Date.now())) },
  );

  await store.storeProposedRuleSet({ ruleSet: input.ruleSet, governance: governance.governanceRecord(p) });
  p.preview = await previews.previewRuleSetImpact({ ref });

  const decided = await condition(() => p.status !== 'PROPOSED', governance.msUntilExpiry(p, Date.now()));
  if (!decided) governance.expire(p, Date.now());
  if (p.status === 'APPROVED') {
    // In force from its effective date; an approval after that date puts it in force at once.
    const wait = governance.msUntilActivation(p, Date.now());
    if (wait > 0) await sleep(wait);
    governance.activate(p, Date.now());
  }
  await store.recordRuleSetDecision({ ref, status: refusing(() => governance.finalStatusOf(p)), governance: governance.governanceRecord(p) });
  log.info('rule-set proposal closed', { proposalId: p.proposalId, status: p.status });
  await condition(allHandlersFinished);
  return p;
}
