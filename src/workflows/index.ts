// The workflowsPath barrel: every workflow the worker registers.
export { dealWorkflow } from './deal.workflow';
export { invoiceRunWorkflow } from './invoice-run.workflow';
export { reconciliationSweepWorkflow } from './sweep.workflow';
export { ruleSetProposalWorkflow } from './ruleset-proposal.workflow';
