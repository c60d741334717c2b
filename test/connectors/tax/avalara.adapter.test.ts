import type { Address } from '../../../src/canonical';
import { ConnectorError } from '../../../src/connectors/errors';
import { basicAuth, HttpClient, staticSecret } from '../../../src/connectors/http';
import { AvalaraAdapter, classifyAvalara } from '../../../src/connectors/tax/avalara.adapter';
import type { TaxDocumentInput } from '../../../src/connectors/tax/tax.port';
import { AVALARA_SANDBOX, AVALARA_VENDOR } from '../../../src/sandbox/avalara/avalara.sandbox';
import { startTestSandbox, type TestSandbox } from '../../support/sandbox';

let sb: TestSandbox;
beforeAll(async () => {
  sb = await startTestSandbox({ vendors: [AVALARA_VENDOR] });
});
afterAll(async () => sb.close());
afterEach(() => sb.faults.clear());

const adapter = (opts: { licenseKey?: string; timeoutMs?: number } = {}) =>
  new AvalaraAdapter({
    http: new HttpClient({
      system: 'avalara',
      baseUrl: `${sb.url}/avalara`,
      auth: basicAuth(staticSecret(AVALARA_SANDBOX.accountId), staticSecret(opts.licenseKey ?? AVALARA_SANDBOX.licenseKey)),
      classify: classifyAvalara,
      timeoutMs: opts.timeoutMs ?? 5_000,
    }),
    companyCode: AVALARA_SANDBOX.companyCode,
  });

const shipFrom: Address = { line1: '100 Market St', city: 'San Francisco', region: 'CA', postalCode: '94105', country: 'US' };
const ca: Address = { line1: '1 Infinite Loop', city: 'Cupertino', region: 'CA', postalCode: '95014', country: 'US' };
const ny: Address = { line1: '350 5th Ave', city: 'New York', region: 'NY', postalCode: '10118', country: 'US' };
const london: Address = { line1: '10 Downing St', city: 'London', postalCode: 'SW1A 2AA', country: 'GB' };
const berlin: Address = { line1: 'Unter den Linden 1', city: 'Berlin', postalCode: '10117', country: 'DE' };

const usd = (amountMinor: number) => ({ amountMinor, currency: 'USD' });
const doc = (code: string, over: Partial<TaxDocumentInput> = {}): TaxDocumentInput => ({
  documentCode: code,
  kind: 'INVOICE',
  customerCode: 'cust-1',
  date: '2025-03-31',
  currency: 'USD',
  shipFrom,
  shipTo: ca,
  commit: false,
  lines: [
    { lineId: 'L1', amount: usd(100_000), taxCode: 'P0000000', description: 'Consulting' },
    { lineId: 'L2', amount: usd(333), taxCode: 'P0000000' },
    { lineId: 'L3', amount: usd(200), taxCode: 'P0000000' },
    { lineId: 'L4', amount: usd(5_000), taxCode: 'NT', description: 'Travel, not taxable' },
  ],
  ...over,
});

const stored = async () => (await sb.store.list('avalara', 'transaction')).items;

test('California 7.25 %: tax per line in cents, rounded half up per line, exempt NT line untaxed', async () => {
  const res = await adapter().calculateTax(doc('INV-CA-1'));
  // 100000 * 0.0725 = 7250; 333 * 0.0725 = 24.1425 -> 24; 200 * 0.0725 = 14.5 -> 15 (half up); NT -> 0
  expect(res.lines.map((l) => [l.lineId, l.tax.amountMinor, l.taxable.amountMinor, l.exempt.amountMinor])).toEqual([
    ['L1', 7250, 100_000, 0],
    ['L2', 24, 333, 0],
    ['L3', 15, 200, 0],
    ['L4', 0, 0, 5_000],
  ]);
  expect(res.totalTax).toEqual(usd(7250 + 24 + 15));
  expect(res.totalAmount).toEqual(usd(100_000 + 333 + 200 + 5_000));
  expect(res.status).toBe('SAVED');
  expect(res.lines[0]!.jurisdictions).toEqual(['CALIFORNIA']);
});

test('New York 8.875 %, UK VAT 20 % and German VAT 19 %', async () => {
  const a = adapter();
  const nyDoc = await a.calculateTax(doc('INV-NY-1', { shipTo: ny, lines: [{ lineId: 'L1', amount: usd(1_001), taxCode: 'P0000000' }] }));
  expect(nyDoc.totalTax).toEqual(usd(89)); // 1001 * 0.08875 = 88.83875
  const gb = await a.calculateTax(doc('INV-GB-1', { shipTo: london, currency: 'GBP', lines: [{ lineId: 'L1', amount: { amountMinor: 12_345, currency: 'GBP' }, taxCode: 'SE000000' }] }));
  expect(gb.totalTax).toEqual({ amountMinor: 2_469, currency: 'GBP' }); // 12345 * 0.2 = 2469
  const de = await a.calculateTax(doc('INV-DE-1', { shipTo: berlin, currency: 'EUR', lines: [{ lineId: 'L1', amount: { amountMinor: 10_050, currency: 'EUR' }, taxCode: 'SE000000' }] }));
  expect(de.totalTax).toEqual({ amountMinor: 1_910, currency: 'EUR' }); // 10050 * 0.19 = 1909.5 -> 1910
  expect(de.lines[0]!.jurisdictions).toEqual(['GERMANY']);
});

test('the same document code twice returns the existing transaction: one document at the vendor', async () => {
  const a = adapter();
  const first = await a.calculateTax(doc('INV-DUP-1'));
  const second = await a.calculateTax(doc('INV-DUP-1'));
  expect(second).toEqual(first);
  expect((await stored()).filter((r) => r.externalId === 'Q2C:INV-DUP-1')).toHaveLength(1);
});

test('commit: commitTax commits a saved document; recalculating it with different lines is refused', async () => {
  const a = adapter();
  await a.calculateTax(doc('INV-COMMIT-1'));
  const committed = await a.commitTax('INV-COMMIT-1');
  expect(committed.status).toBe('COMMITTED');
  expect((await a.commitTax('INV-COMMIT-1')).status).toBe('COMMITTED');
  const err = await a.calculateTax(doc('INV-COMMIT-1', { lines: [{ lineId: 'L1', amount: usd(1), taxCode: 'P0000000' }] })).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConnectorError);
  expect((err as ConnectorError).code).toBe('AVALARA.DOCUMENT_COMMITTED');
  expect((err as ConnectorError).retryable).toBe(false);
  expect((await a.getTaxDocument('INV-COMMIT-1'))!.totalTax).toEqual(usd(7289));
});

test('a saved (uncommitted) document is replaced by a recalculation with the same code, still one document', async () => {
  const a = adapter();
  const first = await a.calculateTax(doc('INV-REPLACE-1'));
  const second = await a.calculateTax(doc('INV-REPLACE-1', { lines: [{ lineId: 'L1', amount: usd(10_000), taxCode: 'P0000000' }], commit: true }));
  expect(second.vendorId).toBe(first.vendorId);
  expect(second.totalTax).toEqual(usd(725));
  expect(second.status).toBe('COMMITTED');
  expect((await stored()).filter((r) => r.externalId === 'Q2C:INV-REPLACE-1')).toHaveLength(1);
});

test('a return (credit memo) gives negative tax', async () => {
  const res = await adapter().calculateTax(doc('CM-1', { kind: 'RETURN', lines: [{ lineId: 'C1', amount: usd(10_000), taxCode: 'P0000000' }] }));
  expect(res.totalTax).toEqual(usd(-725));
  expect(res.totalAmount).toEqual(usd(-10_000));
});

test('unknown document -> undefined; unknown jurisdiction -> AVALARA.ADDRESS_UNRESOLVED', async () => {
  const a = adapter();
  expect(await a.getTaxDocument('NOPE')).toBeUndefined();
  const err = await a.calculateTax(doc('INV-XX', { shipTo: { line1: 'x', city: 'Anchorage', region: 'AK', country: 'US' } })).catch((e: unknown) => e);
  expect((err as ConnectorError).code).toBe('AVALARA.ADDRESS_UNRESOLVED');
  expect((err as ConnectorError).meta.vendorCode).toBe('JurisdictionNotFoundError');
});

test('wrong license key -> HTTP.AUTH with AvaTax AuthenticationException', async () => {
  const err = await adapter({ licenseKey: 'wrong' }).calculateTax(doc('INV-AUTH')).catch((e: unknown) => e);
  expect((err as ConnectorError).code).toBe('HTTP.AUTH');
  expect((err as ConnectorError).meta.vendorCode).toBe('AuthenticationException');
  expect(await stored()).not.toContainEqual(expect.objectContaining({ externalId: 'Q2C:INV-AUTH' }));
});

test('429 with Retry-After and 503 are retryable; the retry then succeeds', async () => {
  sb.faults.add({ vendor: 'avalara', kind: 'rate_limit', retryAfterSeconds: 2, path: '^/api/v2/transactions/create$', times: 1 });
  const a = adapter();
  const err = await a.calculateTax(doc('INV-429')).catch((e: unknown) => e);
  expect((err as ConnectorError).code).toBe('HTTP.RATE_LIMITED');
  expect((err as ConnectorError).retryable).toBe(true);
  expect((err as ConnectorError).retryAfterMs).toBe(2000);
  sb.faults.add({ vendor: 'avalara', kind: 'status', status: 503, times: 1 });
  const err2 = await a.calculateTax(doc('INV-429')).catch((e: unknown) => e);
  expect((err2 as ConnectorError).code).toBe('HTTP.SERVER_ERROR');
  expect((err2 as ConnectorError).retryable).toBe(true);
  expect((await a.calculateTax(doc('INV-429'))).totalTax).toEqual(usd(7289));
});

test('timeout after commit: the retry with the same code finds the document, no second one', async () => {
  sb.faults.add({ vendor: 'avalara', kind: 'timeout_after_commit', delayMs: 1_500, times: 1 });
  const a = adapter({ timeoutMs: 500 });
  const err = await a.calculateTax(doc('INV-TAC', { commit: true })).catch((e: unknown) => e);
  expect((err as ConnectorError).code).toBe('HTTP.TIMEOUT');
  const retry = await a.calculateTax(doc('INV-TAC', { commit: true }));
  expect(retry.status).toBe('COMMITTED');
  expect(retry.totalTax).toEqual(usd(7289));
  expect((await stored()).filter((r) => r.externalId === 'Q2C:INV-TAC')).toHaveLength(1);
});
