import { CANONICAL_EVENT_TYPES, EVENT_DEFINITIONS, parseEvent } from '../../src/canonical';
import { contractInput } from './fixtures';

const envelope = (type: string, schemaVersion: number, payload: unknown) => ({
  id: 'evt-1',
  type,
  schemaVersion,
  correlationId: 'deal-OPP-1',
  idempotencyKey: `kantata:${type}:1`,
  source: 'kantata',
  occurredAt: '2025-03-04T09:15:00+01:00',
  payload,
});

const timeV1 = {
  id: 'T1', projectId: 'P1', contractId: 'C-1', contractLineId: 'CL-TM', taskId: 'TK1', role: 'consultant', region: 'EU',
  resourceLegalEntityId: 'LE-DE', date: '2025-03-03', hours: '7.5', approved: true,
};
const { date: _d, hours: _h, ...timeCommon } = timeV1;
const timeV2 = { ...timeCommon, workDate: '2025-03-03', minutes: 450, overtime: true };
const timeV3 = { ...timeV2, resourceId: 'R-9', description: 'workshop', externalIds: { kantata: '991' } };

describe('event envelope', () => {
  it('time_entry.approved v1: hours "7.5" -> 7.5 x 60 = 450 minutes, date -> workDate, overtime false', () => {
    const r = parseEvent(envelope('time_entry.approved', 1, timeV1));
    expect(r).toEqual({
      ok: true,
      upcastFrom: 1,
      event: { ...envelope('time_entry.approved', 3, undefined), payload: { ...timeCommon, workDate: '2025-03-03', minutes: 450, overtime: false, externalIds: {} } },
    });
  });

  it('time_entry.approved v1 refuses hours that are not whole minutes ("0.01" h = 0.6 min)', () => {
    expect(parseEvent(envelope('time_entry.approved', 1, { ...timeV1, hours: '0.01' }))).toEqual({
      ok: false,
      code: 'EVENT.INVALID_PAYLOAD',
      errors: ['payload: hours 0.01 is not a whole number of minutes'],
    });
  });

  it('time_entry.approved v2: keeps minutes and overtime, defaults externalIds', () => {
    const r = parseEvent(envelope('time_entry.approved', 2, timeV2));
    expect(r.ok && r.event.payload).toEqual({ ...timeV2, externalIds: {} });
    expect(r.ok && r.upcastFrom).toBe(2);
  });

  it('time_entry.approved v3 (latest) passes through unchanged', () => {
    const r = parseEvent(envelope('time_entry.approved', 3, timeV3));
    expect(r.ok && r.event.payload).toEqual(timeV3);
    expect(r.ok && r.event.schemaVersion).toBe(3);
  });

  it('expense.approved v1: "1234.5" USD -> 123450 minor', () => {
    const v1 = { id: 'X1', projectId: 'P1', contractId: 'C-1', contractLineId: 'CL-EX', category: 'TRAVEL', amount: '1234.5', currency: 'USD', incurredOn: '2025-03-03', approved: true };
    const r = parseEvent(envelope('expense.approved', 1, v1));
    const { currency: _c, ...rest } = v1;
    expect(r.ok && r.event.payload).toEqual({ ...rest, amount: { amountMinor: 123_450, currency: 'USD' }, externalIds: {} });
  });

  it('expense.approved v2 (latest) validates Money', () => {
    const v2 = { id: 'X1', projectId: 'P1', contractId: 'C-1', contractLineId: 'CL-EX', category: 'TRAVEL', amount: { amountMinor: 12.5, currency: 'USD' }, incurredOn: '2025-03-03', approved: true };
    expect(parseEvent(envelope('expense.approved', 2, v2))).toEqual({
      ok: false,
      code: 'EVENT.INVALID_PAYLOAD',
      errors: ['payload.amount.amountMinor: Invalid input: expected int, received number'],
    });
  });

  it('contract.signed v1 validates the contract', () => {
    const r = parseEvent(envelope('contract.signed', 1, contractInput()));
    expect(r.ok && r.event.type === 'contract.signed' && r.event.payload.lines.map((l) => l.id)).toEqual(['CL-TM', 'CL-FF']);
  });

  it('rejects unknown types, future versions, bad envelopes with paths', () => {
    expect(parseEvent(envelope('time_entry.deleted', 1, {}))).toEqual({ ok: false, code: 'EVENT.UNKNOWN_TYPE', errors: ['type: unknown event type time_entry.deleted'] });
    expect(parseEvent(envelope('time_entry.approved', 4, timeV3))).toEqual({
      ok: false,
      code: 'EVENT.UNSUPPORTED_VERSION',
      errors: ['schemaVersion: time_entry.approved has no version 4 (latest 3)'],
    });
    expect(parseEvent({ ...envelope('quote.accepted', 1, {}), occurredAt: '2025-03-04T09:15:00' })).toEqual({
      ok: false,
      code: 'EVENT.INVALID_ENVELOPE',
      errors: ['occurredAt: Invalid ISO datetime'],
    });
  });

  it('every registered type has a latest schema and an upcaster for each older version', () => {
    for (const t of CANONICAL_EVENT_TYPES) {
      const d = EVENT_DEFINITIONS[t];
      for (let v = 1; v < d.latestVersion; v++) expect(Object.keys(d.past)).toContain(String(v));
    }
  });
});
