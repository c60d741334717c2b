// Workflow code for test/canonical/sandbox.test.ts: parses sample values with the
// canonical schemas inside Temporal's workflow sandbox (bundled on its own).
import { ZodError, type z } from 'zod';
import {
  Amendment, AmendmentChange, Contract, DateRange, IanaTimeZone, Instant, IsoDate, Money, NonNegativeMoney,
  applyAmendment, formatZodIssues, parseAmendmentChanges, type ParseAmendmentChangesResult,
} from '../../src/canonical';
import { contractInput } from './fixtures';

export type Outcome = { ok: true; data: unknown } | { ok: false; errors: string[] };

const outcome = (r: z.ZodSafeParseResult<unknown>): Outcome => (r.success ? { ok: true, data: r.data } : { ok: false, errors: formatZodIssues(r.error) });

const change = { op: 'UPDATE_LINE', lineId: 'CL-TM', set: { cap: { notToExceed: { amountMinor: 1_200_000, currency: 'USD' } }, endDate: '2026-06-30' } };
const amendment = { id: 'C-1-A2', contractId: 'C-1', baseVersion: 1, effectiveDate: '2025-07-01', reason: 'scope extension', changes: [change] };

export interface Samples {
  schemas: Record<string, Outcome>;
  /** Line CL-TM of the sample contract after applyAmendment (which parses the new version with Contract). */
  amendedLine: Outcome;
  changes: Record<string, ParseAmendmentChangesResult>;
}

/** Caught here: anything else thrown in workflow code fails the task and retries forever. */
const amendedLine = (): Outcome => {
  try {
    return { ok: true, data: applyAmendment(Contract.parse(contractInput()), Amendment.parse(amendment)).lines[0] };
  } catch (err) {
    return { ok: false, errors: err instanceof ZodError ? formatZodIssues(err) : [String(err)] };
  }
};

/** Every sample parsed; plain JSON, so the sandbox's answer can be compared with Node's. */
export function parseSamples(): Samples {
  const badContract = contractInput();
  (badContract as { endDate: string }).endDate = '2025-02-29';
  badContract.lines[0]!.allocatedValue = { amountMinor: 100, currency: 'EUR' };
  const schemas: Record<string, Outcome> = {
    dateLeapDay: outcome(IsoDate.safeParse('2024-02-29')),
    dateNotLeapYear: outcome(IsoDate.safeParse('2025-02-29')),
    dateDay31InApril: outcome(IsoDate.safeParse('2025-04-31')),
    dateMonth13: outcome(IsoDate.safeParse('2025-13-01')),
    dateWithTime: outcome(IsoDate.safeParse('2025-01-01T00:00:00Z')),
    dateObject: outcome(IsoDate.safeParse(new Date(0))),
    instantUtc: outcome(Instant.safeParse('2025-03-01T09:30:00Z')),
    instantOffset: outcome(Instant.safeParse('2025-03-01T09:30:00+02:00')),
    instantLocal: outcome(Instant.safeParse('2025-03-01T09:30:00')),
    zoneKnown: outcome(IanaTimeZone.safeParse('Europe/Berlin')),
    zoneUnknown: outcome(IanaTimeZone.safeParse('Mars/Olympus_Mons')),
    dateRangeBackwards: outcome(DateRange.safeParse({ start: '2025-03-02', end: '2025-03-01' })),
    money: outcome(Money.safeParse({ amountMinor: -12_345, currency: 'JPY' })),
    moneyFraction: outcome(Money.safeParse({ amountMinor: 1.5, currency: 'USD' })),
    moneyUnknownCurrency: outcome(Money.safeParse({ amountMinor: 1, currency: 'XXX' })),
    moneyNegative: outcome(NonNegativeMoney.safeParse({ amountMinor: -1, currency: 'USD' })),
    changeCap: outcome(AmendmentChange.safeParse(change)),
    changeEndLineBadDate: outcome(AmendmentChange.safeParse({ op: 'END_LINE', lineId: 'CL-TM', endDate: '2025-06-31' })),
    amendment: outcome(Amendment.safeParse(amendment)),
    contract: outcome(Contract.safeParse(contractInput())),
    contractInvalid: outcome(Contract.safeParse(badContract)),
  };
  return {
    schemas,
    amendedLine: amendedLine(),
    changes: {
      inUsd: parseAmendmentChanges([change, { op: 'END_LINE', lineId: 'CL-FF', endDate: '2025-11-30' }], 'USD'),
      inEur: parseAmendmentChanges([change], 'EUR'),
      invalid: parseAmendmentChanges(
        [
          { op: 'END_LINE', lineId: 'CL-FF', endDate: '2025-02-29' },
          { op: 'UPDATE_LINE', lineId: 'CL-TM', set: { cap: { notToExceed: { amountMinor: -5, currency: 'USD' }, toleranceBp: 2.5 }, discountBp: 10_001 } },
          { op: 'SET_TERMS', set: { endDate: '2025-9-30' } },
        ],
        'USD',
      ),
      empty: parseAmendmentChanges([], 'USD'),
      unknownKey: parseAmendmentChanges([{ op: 'UPDATE_LINE', lineId: 'CL-TM', set: { discountBp: 500, colour: 'blue' } }], 'USD'),
    },
  };
}

export async function canonicalSamplesWorkflow(): Promise<Samples> {
  return parseSamples();
}
