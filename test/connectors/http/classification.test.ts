import { RETRYABLE } from '../../../src/connectors/errors';
import { classifyStatus, classifyTransportError, parseRetryAfter } from '../../../src/connectors/http';

describe('classifyStatus', () => {
  test.each([
    [400, 'HTTP.VALIDATION', false],
    [401, 'HTTP.AUTH', false],
    [403, 'HTTP.FORBIDDEN', false],
    [404, 'HTTP.NOT_FOUND', false],
    [408, 'HTTP.TIMEOUT', true],
    [409, 'HTTP.CONFLICT', false],
    [410, 'HTTP.NOT_FOUND', false],
    [412, 'HTTP.CONFLICT', false],
    [422, 'HTTP.VALIDATION', false],
    [429, 'HTTP.RATE_LIMITED', true],
    [500, 'HTTP.SERVER_ERROR', true],
    [502, 'HTTP.SERVER_ERROR', true],
    [503, 'HTTP.SERVER_ERROR', true],
  ] as const)('%i -> %s (retryable %s)', (status, code, retryable) => {
    expect(classifyStatus(status)).toBe(code);
    expect(RETRYABLE[classifyStatus(status)]).toBe(retryable);
  });
});

describe('classifyTransportError', () => {
  const withCode = (code: string) => Object.assign(new Error(code), { code });
  test.each([
    ['ECONNRESET', false, 'HTTP.CONNECTION'],
    ['ECONNREFUSED', false, 'HTTP.CONNECTION'],
    ['UND_ERR_SOCKET', false, 'HTTP.CONNECTION'],
    ['UND_ERR_HEADERS_TIMEOUT', false, 'HTTP.TIMEOUT'],
    ['UND_ERR_BODY_TIMEOUT', false, 'HTTP.TIMEOUT'],
    ['UND_ERR_ABORTED', true, 'HTTP.TIMEOUT'],
  ] as const)('%s (deadline hit: %s) -> %s', (code, timedOut, expected) => {
    expect(classifyTransportError(withCode(code), timedOut)).toBe(expected);
  });
  test('finds the code on a wrapped cause', () => {
    expect(classifyTransportError(new Error('outer', { cause: withCode('UND_ERR_HEADERS_TIMEOUT') }), false)).toBe('HTTP.TIMEOUT');
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-03-01T12:00:00Z');
  test('delta seconds', () => expect(parseRetryAfter('7', now)).toBe(7000));
  test('fractional seconds', () => expect(parseRetryAfter('0.5', now)).toBe(500));
  test('HTTP date', () => expect(parseRetryAfter('Sat, 01 Mar 2025 12:00:30 GMT', now)).toBe(30_000));
  test('a date in the past waits 0', () => expect(parseRetryAfter('Sat, 01 Mar 2025 11:00:00 GMT', now)).toBe(0));
  test('absent or garbage', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});

describe('RETRYABLE table', () => {
  test('transient codes are retryable, deterministic ones are not', () => {
    const retryable = Object.entries(RETRYABLE).filter(([, r]) => r).map(([c]) => c).sort();
    expect(retryable).toEqual([
      'HTTP.CONNECTION',
      'HTTP.RATE_LIMITED',
      'HTTP.SERVER_ERROR',
      'HTTP.TIMEOUT',
      'NETSUITE.CONCURRENCY_LIMIT',
      'NETSUITE.RECORD_CHANGED',
      'SALESFORCE.ROW_LOCK',
      'STRIPE.IDEMPOTENCY_IN_USE',
    ]);
  });
});
