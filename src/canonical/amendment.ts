import { z } from 'zod';
import { DiscountBasisPoints, Id, Instant, IsoDate, RuleSetRef } from './common';
import { Contract, ContractLine, type MilestoneBilling } from './contract';
import { CanonicalError } from './errors';
import type { Money } from './money';
import { formatZodIssues } from './zod-issues';

/**
 * The fields an UPDATE_LINE may set. The line's own defaults (description '',
 * discountBp 0) are dropped here: a field the change does not name must stay as
 * the line has it, not be reset to its default.
 */
const LineChanges = ContractLine.omit({ id: true, quoteLineId: true }).extend({ description: z.string(), discountBp: DiscountBasisPoints }).partial();

/** A PSA task of a line a change order adds: time on it bills on that line (when the task is billable). */
export const ScopeTask = z.object({ name: z.string().min(1).max(200), billable: z.boolean() });
export type ScopeTask = z.infer<typeof ScopeTask>;

export const AmendmentChange = z.discriminatedUnion('op', [
  /** `tasks`: the PSA tasks of the new line (absent: one task named after the line). */
  z.object({ op: z.literal('ADD_LINE'), line: ContractLine, tasks: z.array(ScopeTask).max(50).optional() }),
  z.object({
    op: z.literal('UPDATE_LINE'),
    lineId: Id,
    set: LineChanges,
  }),
  /** Lines are never deleted (invoices trace to them); they are ended. */
  z.object({ op: z.literal('END_LINE'), lineId: Id, endDate: IsoDate }),
  /** Only a line nothing was billed, drawn or recognised on: it leaves the version (no invoice traces to it). */
  z.object({ op: z.literal('REMOVE_LINE'), lineId: Id }),
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

/** A milestone of a line a change order asks for: q2c names it `<lineId>-M<k>` when the request does not. */
export type RequestedMilestone = Omit<z.input<typeof MilestoneBilling>, 'milestoneId'> & { milestoneId?: string };

/**
 * A line as a change order asks for it: q2c gives what the request leaves out
 * (the line id `<contractId>-L<n>`, the quote line reference, the dates, the milestone ids).
 */
export type RequestedLine = Omit<z.input<typeof ContractLine>, 'id' | 'quoteLineId' | 'startDate' | 'endDate' | 'milestones'> & {
  id?: string;
  quoteLineId?: string;
  startDate?: string;
  endDate?: string;
  milestones?: RequestedMilestone[];
};

/** A change as an operator sends it (AmendmentChange once q2c has filled in an added line's ids). */
export type AmendmentChangeRequest = Exclude<AmendmentChange, { op: 'ADD_LINE' }> | { op: 'ADD_LINE'; line: RequestedLine; tasks?: ScopeTask[] };

type Path = (string | number)[];

/** The amounts a line (or the fields an UPDATE_LINE sets) carries, each with its path in the line. */
const lineAmounts = (l: Partial<ContractLine>): [Path, Money | undefined][] => [
  [['allocatedValue'], l.allocatedValue],
  [['fee'], l.fee],
  [['cap', 'notToExceed'], l.cap?.notToExceed],
  [['retainer', 'prepaid'], l.retainer?.prepaid],
  [['subscription', 'amountPerPeriod'], l.subscription?.amountPerPeriod],
  ...(l.milestones ?? []).map((m, i): [Path, Money | undefined] => [['milestones', i, 'amount'], m.amount]),
];

const changeAmounts = (ch: AmendmentChange): [Path, Money | undefined][] => {
  switch (ch.op) {
    case 'ADD_LINE':
      return lineAmounts(ch.line).map(([p, m]) => [['line', ...p], m]);
    case 'UPDATE_LINE':
      return lineAmounts(ch.set).map(([p, m]) => [['set', ...p], m]);
    default:
      return [];
  }
};

/**
 * The changes of an amendment to a contract in `currency`: at least one
 * AmendmentChange, and every amount they carry in that currency. Parsing
 * returns them normalised (a cap's toleranceBp defaults to 0; keys the schema
 * does not know are dropped). Runs in workflow code as well as in the service.
 */
export const amendmentChangesIn = (currency: string) =>
  z
    .array(
      AmendmentChange.superRefine((ch, ctx) => {
        for (const [path, m] of changeAmounts(ch)) {
          if (m && m.currency !== currency) ctx.addIssue({ code: 'custom', message: `currency ${m.currency} differs from contract currency ${currency}`, path });
        }
      }),
    )
    .min(1);

export type ParseAmendmentChangesResult = { ok: true; changes: AmendmentChange[] } | { ok: false; errors: string[] };

/**
 * Validate an amendment request's untrusted `changes` for a contract in
 * `currency`. Every bad field is listed by its path from the request, e.g.
 * 'changes.0.set.cap.notToExceed: currency EUR differs from contract currency USD'
 * or 'changes.1.endDate: Invalid ISO date'.
 */
export const parseAmendmentChanges = (changes: unknown, currency: string): ParseAmendmentChangesResult => {
  const r = z.object({ changes: amendmentChangesIn(currency) }).safeParse({ changes });
  return r.success ? { ok: true, changes: r.data.changes } : { ok: false, errors: formatZodIssues(r.error) };
};

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
 * validated as a whole (applyAmendment does that with Contract.parse, which
 * runs in workflow code too).
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
        const defined: Partial<ContractLine> = Object.fromEntries(Object.entries(ch.set).filter(([, v]) => v !== undefined));
        // a new cap that does not name includesExpenses keeps the line's term (only lines that have one are touched)
        const keep = lines[i]!.cap?.includesExpenses;
        if (defined.cap && defined.cap.includesExpenses === undefined && keep !== undefined) defined.cap = { ...defined.cap, includesExpenses: keep };
        lines[i] = { ...lines[i]!, ...defined };
        break;
      }
      case 'END_LINE': {
        const i = find(ch.lineId);
        lines[i] = { ...lines[i]!, endDate: ch.endDate };
        break;
      }
      case 'REMOVE_LINE': {
        const i = find(ch.lineId);
        lines = lines.filter((_, j) => j !== i);
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
