import { z } from 'zod';
import { DiscountBasisPoints, Id, Instant, IsoDate, RuleSetRef } from './common';
import { Contract, ContractLine } from './contract';
import { CanonicalError } from './errors';

/**
 * The fields an UPDATE_LINE may set. The line's own defaults (description '',
 * discountBp 0) are dropped here: a field the change does not name must stay as
 * the line has it, not be reset to its default.
 */
const LineChanges = ContractLine.omit({ id: true, quoteLineId: true }).extend({ description: z.string(), discountBp: DiscountBasisPoints }).partial();

export const AmendmentChange = z.discriminatedUnion('op', [
  z.object({ op: z.literal('ADD_LINE'), line: ContractLine }),
  z.object({
    op: z.literal('UPDATE_LINE'),
    lineId: Id,
    set: LineChanges,
  }),
  /** Lines are never deleted (invoices trace to them); they are ended. */
  z.object({ op: z.literal('END_LINE'), lineId: Id, endDate: IsoDate }),
  z.object({
    op: z.literal('SET_TERMS'),
    set: z
      .object({
        poNumber: z.string().min(1),
        endDate: IsoDate,
        billToCustomerId: Id,
        paymentTerms: z.object({ netDays: z.int().min(0).max(365) }),
        ruleSet: RuleSetRef,
      })
      .partial(),
  }),
]);
export type AmendmentChange = z.infer<typeof AmendmentChange>;

/** A versioned delta (change order) against one contract version. */
export const Amendment = z.object({
  id: Id,
  contractId: Id,
  /** The version this delta was written against; applying to another version is refused. */
  baseVersion: z.int().positive(),
  effectiveDate: IsoDate,
  reason: z.string().min(1),
  approvedAt: Instant.optional(),
  changes: z.array(AmendmentChange).min(1),
});
export type Amendment = z.infer<typeof Amendment>;

/**
 * The amendment's changes applied to `contract`: version baseVersion + 1, not
 * validated as a whole (applyAmendment does that). For code that cannot run zod
 * parsing, e.g. workflow code, which checks the result with contractLineIssues.
 */
export const applyAmendmentChanges = (contract: Contract, amendment: Pick<Amendment, 'id' | 'contractId' | 'baseVersion' | 'changes'>): Contract => {
  if (amendment.contractId !== contract.id || amendment.baseVersion !== contract.version) {
    throw new CanonicalError(
      'AMENDMENT.VERSION_MISMATCH',
      `amendment ${amendment.id} targets ${amendment.contractId} v${amendment.baseVersion}, contract is ${contract.id} v${contract.version}`,
      { amendmentId: amendment.id, contractId: contract.id, version: contract.version },
    );
  }
  let lines = contract.lines.map((l) => ({ ...l }));
  let terms: Partial<Contract> = {};
  const find = (lineId: string): number => {
    const i = lines.findIndex((l) => l.id === lineId);
    if (i < 0) throw new CanonicalError('AMENDMENT.LINE_NOT_FOUND', `line ${lineId} not on contract ${contract.id}`, { lineId });
    return i;
  };
  for (const ch of amendment.changes) {
    switch (ch.op) {
      case 'ADD_LINE':
        if (lines.some((l) => l.id === ch.line.id)) throw new CanonicalError('AMENDMENT.LINE_EXISTS', `line ${ch.line.id} already exists`, { lineId: ch.line.id });
        lines = [...lines, ch.line];
        break;
      case 'UPDATE_LINE': {
        const i = find(ch.lineId);
        const defined = Object.fromEntries(Object.entries(ch.set).filter(([, v]) => v !== undefined));
        lines[i] = { ...lines[i]!, ...defined };
        break;
      }
      case 'END_LINE': {
        const i = find(ch.lineId);
        lines[i] = { ...lines[i]!, endDate: ch.endDate };
        break;
      }
      case 'SET_TERMS':
        terms = { ...terms, ...Object.fromEntries(Object.entries(ch.set).filter(([, v]) => v !== undefined)) };
        break;
    }
  }
  return { ...contract, ...terms, lines, version: contract.version + 1 };
};

/**
 * Apply an amendment: returns contract version baseVersion + 1, validated
 * again in full (a delta that would make the contract invalid throws a ZodError
 * with the paths of the bad fields).
 */
export const applyAmendment = (contract: Contract, amendment: Amendment): Contract => Contract.parse(applyAmendmentChanges(contract, amendment));
