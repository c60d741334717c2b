import { fromDayNumber } from '../rules/dates';
import type { RuleSet } from '../rules/ruleset';
import { instantMs, localMidnight } from './calendar';
import { refuse } from './refusal';

/*
 * Rule-set governance as a decider: a proposed rule-set version, who may approve or
 * reject it, when it expires and when it comes into force. Plain data in and out,
 * time as an argument (ms since the epoch): the proposal workflow receives the
 * messages, asks these functions (its update validators call the same checks the
 * handlers apply) and runs what follows as activities.
 */

const DAY_MS = 86_400_000;
export const DEFAULT_PROPOSAL_EXPIRY_DAYS = 14;
export const MAX_PROPOSAL_EXPIRY_DAYS = 365;
/** Effective dates are local dates in this zone unless the proposal names another. */
export const DEFAULT_GOVERNANCE_TIME_ZONE = 'UTC';

/** PROPOSED: awaiting a decision; APPROVED: waiting for its effective date; ACTIVE: in force; REJECTED / EXPIRED: changed nothing. */
export type ProposalStatus = 'PROPOSED' | 'APPROVED' | 'ACTIVE' | 'REJECTED' | 'EXPIRED';

/** What starts a proposal (the proposal workflow's input). */
export interface RuleSetProposalInput {
  /** The new version, validated (the service and the CLI parse it with the RuleSet schema first). */
  ruleSet: RuleSet;
  /** Who proposes it: the operator key's name on the HTTP path, `--by` on the CLI. */
  by: string;
  /** YYYY-MM-DD: in force from local midnight of this date in `timeZone`. */
  effectiveDate: string;
  /** IANA zone of the effective date (default UTC). */
  timeZone?: string;
  /** Without an approval this many days after it was proposed, the proposal expires (default 14). */
  expiresInDays?: number;
  note?: string;
}

/** An approval or a rejection. */
export interface ProposalDecisionRequest {
  by: string;
  note?: string;
}

export interface ProposalDecisionRecord {
  by: string;
  /** ISO-8601 instant. */
  at: string;
  note?: string;
}

/** Money figures of one deal under a rule set, in minor units of the deal's currency. */
export interface ImpactFigures {
  billedMinor: number;
  cappedMinor: number;
  recognisedMinor: number;
}

/** One open deal: its figures under its pinned rule set and under the proposed one, over its current deliveries. */
export interface DealImpact {
  opportunityId: string;
  contractId: string;
  contractVersion: number;
  currency: string;
  /** The rule set the deal's contract version pins now. */
  pinned: { id: string; version: number };
  asOf: string;
  /** Items priced (time entries, expenses, milestone completions). */
  items: number;
  current: ImpactFigures;
  proposed: ImpactFigures;
  /** proposed − current. */
  delta: ImpactFigures;
}

/** A deal the preview could not price, and why (it is listed, never silently left out). */
export interface SkippedDeal {
  opportunityId: string;
  reason: string;
}

/** The effect of a proposed version on every open deal, and the totals per currency. */
export interface RuleSetImpact {
  /** ISO-8601 instant the preview was computed at. */
  computedAt: string;
  deals: DealImpact[];
  skipped: SkippedDeal[];
  totals: Record<string, { deals: number; current: ImpactFigures; proposed: ImpactFigures; delta: ImpactFigures }>;
}

/** A proposal as its workflow holds it and its query returns it. */
export interface RuleSetProposalView {
  proposalId: string;
  ruleSet: { id: string; version: number };
  description: string;
  author: string;
  note?: string;
  status: ProposalStatus;
  /** ISO-8601 instants. */
  proposedAt: string;
  effectiveDate: string;
  timeZone: string;
  /** Local midnight of the effective date in `timeZone`. */
  activatesAt: string;
  expiresAt: string;
  preview?: RuleSetImpact;
  approval?: ProposalDecisionRecord;
  rejection?: ProposalDecisionRecord;
  /** Set when the version came into force (the effective date, or the approval when that came later). */
  activatedAt?: string;
  expiredAt?: string;
}

const pad = (n: number, w: number): string => String(n).padStart(w, '0');
/** ms since the epoch as an ISO-8601 UTC instant ('2026-03-01T05:00:00.000Z'), without the Date global. */
const iso = (ms: number): string => {
  const day = Math.floor(ms / DAY_MS);
  const t = ms - day * DAY_MS;
  return `${fromDayNumber(day)}T${pad(Math.floor(t / 3_600_000), 2)}:${pad(Math.floor(t / 60_000) % 60, 2)}:${pad(Math.floor(t / 1000) % 60, 2)}.${pad(t % 1000, 3)}Z`;
};
const samePerson = (a: string, b: string): boolean => a.trim().toLowerCase() === b.trim().toLowerCase();
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The proposal workflow's id: one proposal per rule-set version. */
export const ruleSetProposalId = (ref: { id: string; version: number }): string => `ruleset-proposal:${ref.id}:v${ref.version}`;

/** A new proposal; refuses what the workflow cannot keep (the service and the CLI check the same first). */
export function openProposal(input: RuleSetProposalInput, nowMs: number): RuleSetProposalView {
  if (input.by.trim() === '') refuse('RULESET.AUTHOR_MISSING', 'a proposal needs its author');
  if (!DATE.test(input.effectiveDate)) refuse('RULESET.EFFECTIVE_DATE_INVALID', `effective date must be YYYY-MM-DD, got '${input.effectiveDate}'`);
  const days = input.expiresInDays ?? DEFAULT_PROPOSAL_EXPIRY_DAYS;
  if (!Number.isInteger(days) || days < 1 || days > MAX_PROPOSAL_EXPIRY_DAYS) refuse('RULESET.EXPIRY_INVALID', `expires in days must be a whole number from 1 to ${MAX_PROPOSAL_EXPIRY_DAYS}, got ${days}`);
  const timeZone = input.timeZone ?? DEFAULT_GOVERNANCE_TIME_ZONE;
  let activatesAt: number;
  try {
    activatesAt = localMidnight(input.effectiveDate, timeZone);
  } catch {
    return refuse('RULESET.TIME_ZONE_INVALID', `unknown time zone '${timeZone}'`);
  }
  return {
    proposalId: ruleSetProposalId(input.ruleSet),
    ruleSet: { id: input.ruleSet.id, version: input.ruleSet.version },
    description: input.ruleSet.description,
    author: input.by.trim(),
    ...(input.note ? { note: input.note } : {}),
    status: 'PROPOSED',
    proposedAt: iso(nowMs),
    effectiveDate: input.effectiveDate,
    timeZone,
    activatesAt: iso(activatesAt),
    expiresAt: iso(nowMs + days * DAY_MS),
  };
}

export const isExpired = (p: RuleSetProposalView, nowMs: number): boolean => p.status === 'PROPOSED' && nowMs >= instantMs(p.expiresAt);

/** How long the proposal may still wait for a decision. */
export const msUntilExpiry = (p: RuleSetProposalView, nowMs: number): number => Math.max(0, instantMs(p.expiresAt) - nowMs);

/** How long an approved proposal waits for its effective date (0 when that has passed). */
export const msUntilActivation = (p: RuleSetProposalView, nowMs: number): number => Math.max(0, instantMs(p.activatesAt) - nowMs);

function checkOpen(p: RuleSetProposalView, req: ProposalDecisionRequest, nowMs: number, what: string): void {
  if (req.by.trim() === '') refuse('RULESET.DECIDER_MISSING', `${what} needs the name of who decides`);
  if (p.status !== 'PROPOSED') refuse('RULESET.PROPOSAL_CLOSED', `proposal ${p.proposalId} is ${p.status}; only a PROPOSED proposal can be decided`);
  if (isExpired(p, nowMs)) refuse('RULESET.PROPOSAL_EXPIRED', `proposal ${p.proposalId} expired at ${p.expiresAt}`);
}

/** Refuses an approval that may not be given: by the author, on a closed or expired proposal, or before the preview is there to approve. */
export function checkApproval(p: RuleSetProposalView, req: ProposalDecisionRequest, nowMs: number): void {
  checkOpen(p, req, nowMs, 'an approval');
  if (samePerson(req.by, p.author)) {
    refuse('RULESET.SELF_APPROVAL', `${req.by.trim()} proposed ${p.ruleSet.id}@${p.ruleSet.version} and cannot approve it: approval must come from someone other than the author`);
  }
  if (!p.preview) refuse('RULESET.PREVIEW_PENDING', `the effect of ${p.ruleSet.id}@${p.ruleSet.version} on open deals is still being computed; approve once the preview is there`);
}

/** Anyone may reject an open proposal, its author included (a withdrawal). */
export function checkRejection(p: RuleSetProposalView, req: ProposalDecisionRequest, nowMs: number): void {
  checkOpen(p, req, nowMs, 'a rejection');
}

const record = (req: ProposalDecisionRequest, nowMs: number): ProposalDecisionRecord => ({ by: req.by.trim(), at: iso(nowMs), ...(req.note ? { note: req.note } : {}) });

export function approve(p: RuleSetProposalView, req: ProposalDecisionRequest, nowMs: number): RuleSetProposalView {
  checkApproval(p, req, nowMs);
  p.status = 'APPROVED';
  p.approval = record(req, nowMs);
  return p;
}

export function reject(p: RuleSetProposalView, req: ProposalDecisionRequest, nowMs: number): RuleSetProposalView {
  checkRejection(p, req, nowMs);
  p.status = 'REJECTED';
  p.rejection = record(req, nowMs);
  return p;
}

export function expire(p: RuleSetProposalView, nowMs: number): RuleSetProposalView {
  if (p.status !== 'PROPOSED') refuse('RULESET.PROPOSAL_CLOSED', `proposal ${p.proposalId} is ${p.status}; only a PROPOSED proposal expires`);
  p.status = 'EXPIRED';
  p.expiredAt = iso(nowMs);
  return p;
}

export function activate(p: RuleSetProposalView, nowMs: number): RuleSetProposalView {
  if (p.status !== 'APPROVED') refuse('RULESET.PROPOSAL_CLOSED', `proposal ${p.proposalId} is ${p.status}; only an APPROVED proposal comes into force`);
  p.status = 'ACTIVE';
  p.activatedAt = iso(nowMs);
  return p;
}

/** The repository status a proposal's version has in each proposal status. */
export const storedStatusOf = (s: ProposalStatus): 'draft' | 'approved' | 'rejected' | 'expired' =>
  s === 'ACTIVE' ? 'approved' : s === 'REJECTED' ? 'rejected' : s === 'EXPIRED' ? 'expired' : 'draft';

/** The stored status of a decided proposal (ACTIVE, REJECTED or EXPIRED); refuses one still open. */
export function finalStatusOf(p: RuleSetProposalView): 'approved' | 'rejected' | 'expired' {
  const s = storedStatusOf(p.status);
  if (s === 'draft') return refuse('RULESET.PROPOSAL_OPEN', `proposal ${p.proposalId} is ${p.status}: not decided yet`);
  return s;
}

/** What the repository keeps of the proposal with the version (no preview: it is the workflow's). */
export function governanceRecord(p: RuleSetProposalView): Record<string, unknown> {
  const { preview: _preview, ...rest } = p;
  return { ...rest };
}
