import { ApplicationFailure } from '@temporalio/common';
import { activityBoundary, toApplicationFailure } from '../../src/activities/boundary';
import { MappingError } from '../../src/activities/deal/mapping';
import { ConnectorError } from '../../src/connectors/errors';

describe('toApplicationFailure', () => {
  test('non-retryable code becomes a nonRetryable failure with the code as type', () => {
    const cause = new Error('socket');
    const f = toApplicationFailure(new ConnectorError('HTTP.VALIDATION', 'bad field', { cause, meta: { system: 'kantata', status: 422 } }));
    expect(f).toBeInstanceOf(ApplicationFailure);
    const af = f as ApplicationFailure;
    expect(af.type).toBe('HTTP.VALIDATION');
    expect(af.nonRetryable).toBe(true);
    expect(af.message).toBe('bad field');
    expect(af.details).toEqual([{ system: 'kantata', status: 422 }]);
    expect(af.cause).toBe(cause);
    expect(af.nextRetryDelay).toBeUndefined();
  });
  test('rate limit keeps Retry-After as nextRetryDelay and stays retryable', () => {
    const af = toApplicationFailure(new ConnectorError('HTTP.RATE_LIMITED', 'slow down', { retryAfterMs: 2500 })) as ApplicationFailure;
    expect(af.type).toBe('HTTP.RATE_LIMITED');
    expect(af.nonRetryable).toBe(false);
    expect(af.nextRetryDelay).toBe(2500);
  });
  test('other errors pass through unchanged', () => {
    const e = new TypeError('bug');
    expect(toApplicationFailure(e)).toBe(e);
  });
});

describe('activityBoundary', () => {
  const thrownBy = (err: unknown) => activityBoundary(() => Promise.reject(err)).catch((e: unknown) => e);

  test('returns the body result', async () => {
    await expect(activityBoundary(() => Promise.resolve(42))).resolves.toBe(42);
  });
  test('an ApplicationFailure passes as it is', async () => {
    const af = ApplicationFailure.create({ type: 'DEAL.PARKED', message: 'parked', nonRetryable: true });
    expect(await thrownBy(af)).toBe(af);
  });
  test('a mapping error is non-retryable with its code as type', async () => {
    const f = (await thrownBy(new MappingError('PSA.TEMPLATE_MISSING', 'no template for FIXED-1'))) as ApplicationFailure;
    expect(f).toBeInstanceOf(ApplicationFailure);
    expect(f.type).toBe('PSA.TEMPLATE_MISSING');
    expect(f.message).toBe('no template for FIXED-1');
    expect(f.nonRetryable).toBe(true);
  });
  test.each([
    ['NETSUITE.CONCURRENCY_LIMIT', false],
    ['SALESFORCE.ROW_LOCK', false],
    ['ERP.CUSTOMER_INVALID', true],
    ['STRIPE.CARD_DECLINED', true],
  ] as const)('a connector error %s keeps its code as type (nonRetryable %s, from RETRYABLE)', async (code, nonRetryable) => {
    const f = (await thrownBy(new ConnectorError(code, `failed: ${code}`))) as ApplicationFailure;
    expect(f).toBeInstanceOf(ApplicationFailure);
    expect(f.type).toBe(code);
    expect(f.message).toBe(`failed: ${code}`);
    expect(f.nonRetryable).toBe(nonRetryable);
  });
  test('any other error passes through for the activity retry policy', async () => {
    const e = new TypeError('bug');
    expect(await thrownBy(e)).toBe(e);
  });
});
