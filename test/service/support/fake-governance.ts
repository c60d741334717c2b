import * as core from '../../../src/engagement/governance';
import { Refusal } from '../../../src/engagement/refusal';
import type { ProposalDecisionRequest, RuleSetProposalInput, RuleSetProposalView } from '../../../src/contract';
import { ProposalConflictError, ProposalNotFoundError, ProposalRefusedError, type RuleSetGovernanceGateway } from '../../../src/service/ruleset-gateway';
import { NOW } from './harness';

/** The proposal workflows as the pure core decides them (the workflow itself is tested on the time-skipping server). */
export class FakeGovernance implements RuleSetGovernanceGateway {
  readonly proposals = new Map<string, RuleSetProposalView>();
  readonly inputs: RuleSetProposalInput[] = [];
  private decide(id: string, fn: () => void): RuleSetProposalView {
    try {
      fn();
    } catch (e) {
      if (e instanceof Refusal) throw new ProposalRefusedError(id, e.message, e.code);
      throw e;
    }
    return this.proposals.get(id)!;
  }
  private get(id: string): RuleSetProposalView {
    const p = this.proposals.get(id);
    if (!p) throw new ProposalNotFoundError(id);
    return p;
  }
  async propose(input: RuleSetProposalInput) {
    const p = core.openProposal(input, NOW.getTime());
    if (this.proposals.has(p.proposalId)) throw new ProposalConflictError(p.proposalId);
    this.inputs.push(input);
    this.proposals.set(p.proposalId, { ...p, preview: { computedAt: NOW.toISOString(), deals: [], skipped: [], totals: {} } });
    return { proposalId: p.proposalId };
  }
  async getProposal(id: string) {
    return this.get(id);
  }
  async approve(id: string, req: ProposalDecisionRequest) {
    const p = this.get(id);
    return this.decide(id, () => core.approve(p, req, NOW.getTime()));
  }
  async reject(id: string, req: ProposalDecisionRequest) {
    const p = this.get(id);
    return this.decide(id, () => core.reject(p, req, NOW.getTime()));
  }
}
