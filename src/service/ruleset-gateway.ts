import { ApplicationFailure } from '@temporalio/common';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowClient } from '@temporalio/client';
import {
  approveRuleSetUpdate,
  getRuleSetProposalQuery,
  rejectRuleSetUpdate,
  RULESET_PROPOSAL_WORKFLOW_TYPE,
  ruleSetProposalId,
  type ProposalDecisionRequest,
  type RuleSetProposalInput,
  type RuleSetProposalView,
} from '../contract';

/** What the operator API and the CLI need from the rule-set proposal workflows; Temporal in production, a fake in unit tests. */
export interface RuleSetGovernanceGateway {
  /** Starts `ruleset-proposal:<id>:v<version>`; ProposalConflictError when that version was proposed before. */
  propose(input: RuleSetProposalInput): Promise<{ proposalId: string }>;
  /** The proposal as its query answers it (also once it is closed); ProposalNotFoundError. */
  getProposal(proposalId: string): Promise<RuleSetProposalView>;
  /** ProposalNotFoundError, or ProposalRefusedError with the workflow's refusal type (e.g. RULESET.SELF_APPROVAL). */
  approve(proposalId: string, req: ProposalDecisionRequest): Promise<RuleSetProposalView>;
  reject(proposalId: string, req: ProposalDecisionRequest): Promise<RuleSetProposalView>;
}

export class ProposalNotFoundError extends Error {
  readonly code = 'PROPOSAL_NOT_FOUND';
  constructor(readonly proposalId: string, options?: { cause?: unknown }) {
    super(`no rule-set proposal '${proposalId}'`, options);
    this.name = 'ProposalNotFoundError';
  }
}

export class ProposalConflictError extends Error {
  readonly code = 'PROPOSAL_EXISTS';
  constructor(readonly proposalId: string, options?: { cause?: unknown }) {
    super(`rule-set proposal '${proposalId}' exists already: propose the next version`, options);
    this.name = 'ProposalConflictError';
  }
}

/** The proposal refused the decision; `reason` is its stable refusal type. */
export class ProposalRefusedError extends Error {
  constructor(readonly proposalId: string, message: string, readonly reason: string | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProposalRefusedError';
  }
}

export function createTemporalGovernanceGateway({ client, taskQueue }: { client: WorkflowClient; taskQueue: string }): RuleSetGovernanceGateway {
  const existing = async <T>(proposalId: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ProposalNotFoundError(proposalId, { cause: err });
      if (err instanceof WorkflowUpdateFailedError) {
        const reason = err.cause instanceof ApplicationFailure ? (err.cause.type ?? undefined) : undefined;
        throw new ProposalRefusedError(proposalId, err.cause?.message ?? err.message, reason, { cause: err });
      }
      throw err;
    }
  };
  return {
    async propose(input) {
      const proposalId = ruleSetProposalId(input.ruleSet);
      try {
        await client.start(RULESET_PROPOSAL_WORKFLOW_TYPE, { taskQueue, workflowId: proposalId, args: [input], workflowIdReusePolicy: 'REJECT_DUPLICATE' });
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) throw new ProposalConflictError(proposalId, { cause: err });
        throw err;
      }
      return { proposalId };
    },
    getProposal: (proposalId) => existing(proposalId, () => client.getHandle(proposalId).query(getRuleSetProposalQuery)),
    approve: (proposalId, req) => existing(proposalId, () => client.getHandle(proposalId).executeUpdate(approveRuleSetUpdate, { args: [req] })),
    reject: (proposalId, req) => existing(proposalId, () => client.getHandle(proposalId).executeUpdate(rejectRuleSetUpdate, { args: [req] })),
  };
}
