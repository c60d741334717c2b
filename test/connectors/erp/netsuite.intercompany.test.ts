import type { LegalEntity } from '../../../src/canonical';
import { classifyNetSuite, NetSuiteAdapter } from '../../../src/connectors/erp/netsuite.adapter';
import { NetSuiteM2MAuth } from '../../../src/connectors/erp/netsuite.auth';
import type { NetSuiteMappingConfig } from '../../../src/connectors/erp/netsuite.mapper';
import type { ConnectorError } from '../../../src/connectors/errors';
import { HttpClient, staticSecret } from '../../../src/connectors/http';
import { NETSUITE_SANDBOX } from '../../../src/sandbox/netsuite/netsuite.credentials';
import { NETSUITE_VENDOR } from '../../../src/sandbox/netsuite/netsuite.sandbox';
import { startTestSandbox, type TestSandbox } from '../../support/sandbox';

/**
 * Intercompany journals against the NetSuite sandbox over HTTP. LE-DE
 * (subsidiary 3, EUR) delivers for LE-US (subsidiary 1, USD). The sandbox's
 * rate table has USD->EUR 0.92 from 2025-01-01 (id 1) and 0.905 from
 * 2026-01-01 (id 2), EUR->USD 1.087 from 2025-01-01 (id 3).
 */
let sb: TestSandbox;
beforeAll(async () => {
  sb = await startTestSandbox({ vendors: [NETSUITE_VENDOR] });
});
afterAll(async () => sb.close());
afterEach(() => sb.faults.clear());

const baseMapping: NetSuiteMappingConfig = { serviceItemId: NETSUITE_SANDBOX.serviceItemId, deferredRevenueAccountId: NETSUITE_SANDBOX.deferredRevenueAccountId, revenueAccountId: NETSUITE_SANDBOX.revenueAccountId };

const make = (opts: { timeoutMs?: number; mapping?: NetSuiteMappingConfig } = {}) => {
  const baseUrl = `${sb.url}/netsuite`;
  const auth = new NetSuiteM2MAuth({
    tokenUrl: `${baseUrl}/services/rest/auth/oauth2/v1/token`,
    clientId: NETSUITE_SANDBOX.clientId,
    certificateId: staticSecret(NETSUITE_SANDBOX.certificateId),
    privateKey: staticSecret(NETSUITE_SANDBOX.privateKeyPem),
  });
  const http = new HttpClient({ system: 'netsuite', baseUrl, auth, classify: classifyNetSuite, timeoutMs: opts.timeoutMs ?? 5_000 });
  return { http, adapter: new NetSuiteAdapter({ http, mapping: opts.mapping ?? baseMapping }) };
};

const entity = (id: string, subsidiary: string, functionalCurrency: string, country: string): LegalEntity => ({
  id,
  name: id,
  functionalCurrency,
  taxJurisdiction: { country },
  timeZone: 'UTC',
  externalIds: { netsuite: subsidiary },
});
const US = entity('LE-US', '1', 'USD', 'US');
const DE = entity('LE-DE', '3', 'EUR', 'DE');
const GB = entity('LE-GB', '2', 'GBP', 'GB');
const LEGACY = entity('LE-NL', '9', 'EUR', 'NL');

type Line = { lineSubsidiary: { id: string }; account: { id: string }; debit?: number; credit?: number; eliminate: boolean };
const stored = async (id: string) => (await sb.store.get<Record<string, unknown>>('netsuite', 'intercompanyJournalEntry', id))!;
const linesOf = (data: Record<string, unknown>) => (data['line'] as { items: Line[] }).items.map((l) => [l.lineSubsidiary.id, l.account.id, l.debit ?? 0, l.credit ?? 0, l.eliminate]);
const journals = async () => (await sb.store.list('netsuite', 'intercompanyJournalEntry')).items;
const IC = NETSUITE_SANDBOX.intercompanyAccounts;
/** The error a call must end in (a success fails the test). */
const failure = (p: Promise<unknown>): Promise<ConnectorError> =>
  p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e as ConnectorError,
  );

describe('postIntercompanyJournal', () => {
  test('LE-DE delivers for LE-US: due from / IC revenue in subsidiary 3, IC expense / due to in subsidiary 1, balanced per subsidiary; USD->EUR at the rate table rate for the date', async () => {
    const { adapter } = make();
    const input = { seller: DE, buyer: US, amount: { amountMinor: 51_840, currency: 'USD' }, tranDate: '2030-01-31', idempotencyKey: 'deal-opp-ic:ic:LE-DE-LE-US-2030-01-R0', memo: 'IC 2030-01' };
    const ref = await adapter.postIntercompanyJournal(input);
    expect(ref.created).toBe(true);
    expect(ref.tranId).toMatch(/^ICJE\d+$/);
    // $518.40 x 0.905 = EUR 469.152 -> 469.15 (half-even at the cent).
    expect([ref.amount, ref.seller, ref.buyer]).toEqual([
      { amountMinor: 51_840, currency: 'USD' },
      { legalEntityId: 'LE-DE', erpEntityId: '3', amount: { amountMinor: 46_915, currency: 'EUR' } },
      { legalEntityId: 'LE-US', erpEntityId: '1', amount: { amountMinor: 51_840, currency: 'USD' } },
    ]);
    expect(ref.fxRate).toEqual({ base: 'USD', quote: 'EUR', rate: '0.905', asOf: '2026-01-01', source: 'netsuite:currencyrate/2' });

    const rec = await stored(ref.id);
    expect(rec.externalId).toBe(input.idempotencyKey);
    expect([rec.data['subsidiary'], rec.data['toSubsidiary'], rec.data['currency'], rec.data['exchangeRate'], rec.data['tranDate'], rec.data['total']]).toEqual([{ id: '3' }, { id: '1' }, { id: '1' }, 0.905, '2030-01-31', 518.4]);
    expect([rec.data['custbody_q2c_fx_rate'], rec.data['custbody_q2c_fx_as_of'], rec.data['custbody_q2c_fx_source']]).toEqual(['USD/EUR 0.905', '2026-01-01', 'netsuite:currencyrate/2']);
    // The accounts were found by number (1300, 4900, 5900, 2300): the lines carry their internal ids.
    expect(linesOf(rec.data)).toEqual([
      ['3', IC.receivable, 518.4, 0, true],
      ['3', IC.revenue, 0, 518.4, false],
      ['1', IC.expense, 518.4, 0, false],
      ['1', IC.payable, 0, 518.4, true],
    ]);

    // Idempotent on the key: the repeat finds the journal and reports the same booking.
    const again = await adapter.postIntercompanyJournal(input);
    expect(again).toEqual({ ...ref, created: false });
    expect((await journals()).filter((r) => r.externalId === input.idempotencyKey)).toHaveLength(1);
  });

  test('a charge in the seller\'s currency converts the buyer\'s side (EUR->USD 1.087); an explicit dated rate is used as given', async () => {
    const { adapter } = make();
    const eur = await adapter.postIntercompanyJournal({ seller: DE, buyer: US, amount: { amountMinor: 100_001, currency: 'EUR' }, tranDate: '2025-03-31', idempotencyKey: 'deal-opp-ic:ic:eur', memo: 'IC EUR' });
    // EUR 1,000.01 x 1.087 = USD 1,087.01087 -> 1,087.01.
    expect([eur.seller.amount, eur.buyer.amount, eur.fxRate]).toEqual([
      { amountMinor: 100_001, currency: 'EUR' },
      { amountMinor: 108_701, currency: 'USD' },
      { base: 'EUR', quote: 'USD', rate: '1.087', asOf: '2025-01-01', source: 'netsuite:currencyrate/3' },
    ]);
    expect((await stored(eur.id)).data['currency']).toEqual({ id: '4' });

    const fxRate = { base: 'USD', quote: 'GBP', rate: '0.7825', asOf: '2025-03-31', source: 'ECB reference rate' };
    const gb = await adapter.postIntercompanyJournal({ seller: GB, buyer: US, amount: { amountMinor: 200_000, currency: 'USD' }, tranDate: '2025-03-31', idempotencyKey: 'deal-opp-ic:ic:explicit', memo: 'IC GB', fxRate });
    expect([gb.seller.amount, gb.buyer.amount, gb.fxRate]).toEqual([{ amountMinor: 156_500, currency: 'GBP' }, { amountMinor: 200_000, currency: 'USD' }, fxRate]);
    const rec = await stored(gb.id);
    expect([rec.data['exchangeRate'], rec.data['custbody_q2c_fx_source']]).toEqual([0.7825, 'ECB reference rate']);
  });

  test('refused before anything is written: a currency neither entity keeps books in, a rate in the wrong direction, one subsidiary on both sides', async () => {
    const { adapter } = make();
    const before = (await journals()).length;
    const base = { seller: DE, buyer: US, tranDate: '2025-03-31', memo: 'bad' };
    const errs = await Promise.all([
      failure(adapter.postIntercompanyJournal({ ...base, amount: { amountMinor: 1_000, currency: 'GBP' }, idempotencyKey: 'bad-1' })),
      failure(adapter
        .postIntercompanyJournal({ ...base, amount: { amountMinor: 1_000, currency: 'USD' }, idempotencyKey: 'bad-2', fxRate: { base: 'EUR', quote: 'USD', rate: '1.1', asOf: '2025-03-31', source: 'x' } })),
      failure(adapter.postIntercompanyJournal({ ...base, buyer: { ...US, id: 'LE-DE2', externalIds: { netsuite: '3' } }, amount: { amountMinor: 1_000, currency: 'EUR' }, idempotencyKey: 'bad-3' })),
      failure(adapter.postIntercompanyJournal({ ...base, amount: { amountMinor: 0, currency: 'USD' }, idempotencyKey: 'bad-4' })),
    ]);
    expect(errs.map((e) => [e.code, e.retryable])).toEqual([
      ['HTTP.VALIDATION', false],
      ['HTTP.VALIDATION', false],
      ['HTTP.VALIDATION', false],
      ['HTTP.VALIDATION', false],
    ]);
    expect(errs[0]!.message).toContain("the rule set's intercompany cost card must be in one of the two functional currencies");
    // No USD->EUR rate is effective before 2025-01-01.
    const early = await failure(adapter.postIntercompanyJournal({ ...base, amount: { amountMinor: 1_000, currency: 'USD' }, tranDate: '2024-12-31', idempotencyKey: 'bad-5' }));
    expect([early.code, early.retryable, early.message]).toEqual(['NETSUITE.INVALID_REFERENCE', false, 'NetSuite has no USD->EUR exchange rate effective on or before 2024-12-31']);
    // An inactive subsidiary is refused by NetSuite.
    const inactive = await failure(adapter.postIntercompanyJournal({ ...base, buyer: LEGACY, amount: { amountMinor: 1_000, currency: 'EUR' }, idempotencyKey: 'bad-6' }));
    expect([inactive.code, inactive.retryable]).toEqual(['NETSUITE.INVALID_REFERENCE', false]);
    expect(await journals()).toHaveLength(before);
  });

  test('timeout after commit: the retry finds the journal by external id; configured account ids are used as given', async () => {
    sb.faults.add({ vendor: 'netsuite', kind: 'timeout_after_commit', method: 'POST', path: '^/services/rest/record/v1/intercompanyJournalEntry$', delayMs: 1_500, times: 1 });
    const accounts = { receivable: '1200', revenue: NETSUITE_SANDBOX.revenueAccountId, expense: IC.expense, payable: IC.payable };
    const { adapter } = make({ timeoutMs: 600, mapping: { ...baseMapping, intercompanyAccounts: accounts } });
    const input = { seller: DE, buyer: US, amount: { amountMinor: 12_345, currency: 'USD' }, tranDate: '2025-06-30', idempotencyKey: 'deal-opp-ic:ic:timeout', memo: 'IC timeout' };
    const err = await failure(adapter.postIntercompanyJournal(input));
    expect([err.code, err.retryable]).toEqual(['HTTP.TIMEOUT', true]);
    const retry = await adapter.postIntercompanyJournal(input);
    expect([retry.created, retry.seller.amount, retry.fxRate?.rate]).toEqual([false, { amountMinor: 11_357, currency: 'EUR' }, '0.92']);
    expect(linesOf((await stored(retry.id)).data).map((l) => l[1])).toEqual(['1200', '4000', IC.expense, IC.payable]);
    expect((await journals()).filter((r) => r.externalId === input.idempotencyKey)).toHaveLength(1);
  });
});

describe('sandbox validation of intercompany journals (raw REST)', () => {
  const body = (over: Record<string, unknown> = {}, lines?: Array<Record<string, unknown>>) => ({
    externalId: `raw-${Math.random()}`,
    subsidiary: { id: '3' },
    toSubsidiary: { id: '1' },
    currency: { id: '1' },
    exchangeRate: 0.9,
    tranDate: '2025-03-31',
    memo: 'raw',
    line: {
      items: lines ?? [
        { lineSubsidiary: { id: '3' }, account: { id: IC.receivable }, debit: 10, eliminate: true },
        { lineSubsidiary: { id: '3' }, account: { id: IC.revenue }, credit: 10, eliminate: false },
        { lineSubsidiary: { id: '1' }, account: { id: IC.expense }, debit: 10, eliminate: false },
        { lineSubsidiary: { id: '1' }, account: { id: IC.payable }, credit: 10, eliminate: true },
      ],
    },
    ...over,
  });
  const post = async (json: unknown) => {
    const { http } = make();
    const res = await http.request<{ 'o:errorDetails'?: Array<{ 'o:errorCode': string; detail: string }> }>({ method: 'POST', path: '/services/rest/record/v1/intercompanyJournalEntry', json, allowStatus: [400] });
    return res.status === 400 ? [res.body['o:errorDetails']![0]!['o:errorCode'], res.body['o:errorDetails']![0]!.detail] : [res.status];
  };

  test('balanced overall but not per subsidiary; unknown account; a line of a third subsidiary; a currency of neither; a missing rate', async () => {
    const before = (await journals()).length;
    expect(
      await post(
        body({}, [
          { lineSubsidiary: { id: '3' }, account: { id: IC.receivable }, debit: 10, eliminate: true },
          { lineSubsidiary: { id: '3' }, account: { id: IC.revenue }, credit: 5, eliminate: false },
          { lineSubsidiary: { id: '1' }, account: { id: IC.expense }, debit: 5, eliminate: false },
          { lineSubsidiary: { id: '1' }, account: { id: IC.payable }, credit: 10, eliminate: true },
        ]),
      ),
    ).toEqual(['USER_ERROR', 'The transaction is out of balance for subsidiary Q2C GmbH: debits 10 and credits 5 differ.']);
    expect(await post(body({}, [{ lineSubsidiary: { id: '3' }, account: { id: '9999' }, debit: 10, eliminate: true }]))).toEqual(['INVALID_KEY_OR_REF', 'Invalid account reference key 9999 for linesubsidiary 3.']);
    expect(await post(body({}, [{ lineSubsidiary: { id: '2' }, account: { id: IC.receivable }, debit: 10, eliminate: true }]))).toEqual([
      'INVALID_KEY_OR_REF',
      'Invalid lineSubsidiary reference key 2: a line belongs to subsidiary 3 or 1.',
    ]);
    expect(await post(body({ currency: { id: '2' } }))).toEqual(['INVALID_KEY_OR_REF', 'Invalid currency reference key 2: the currency must be the base currency of Q2C GmbH or Q2C Inc..']);
    expect(await post(body({ toSubsidiary: { id: '77' } }))).toEqual(['INVALID_KEY_OR_REF', 'Invalid toSubsidiary reference key 77.']);
    const { exchangeRate: _r, ...noRate } = body({ tranDate: '2024-06-30' });
    expect(await post(noRate)).toEqual(['USER_ERROR', 'No exchange rate from currency 1 to EUR is effective on 2024-06-30.']);
    expect(await journals()).toHaveLength(before);
    // Without an exchange rate, the rate table's rate for the date is booked, as NetSuite does.
    const { exchangeRate: _r2, ...defaulted } = body();
    expect(await post(defaulted)).toEqual([204]);
    const latest = (await journals()).at(-1)!;
    expect([latest.data['exchangeRate'], latest.data['total']]).toEqual([0.92, 10]);
  });

  test('SuiteQL: the chart of accounts by number and the exchange rate table', async () => {
    const { adapter } = make();
    const accounts = [];
    for await (const r of adapter.suiteQl("SELECT id, acctnumber FROM account WHERE acctnumber IN ('1300', '2300')")) accounts.push(r);
    expect(accounts).toEqual([
      { links: [], id: IC.receivable, acctnumber: '1300' },
      { links: [], id: IC.payable, acctnumber: '2300' },
    ]);
    const rates = [];
    for await (const r of adapter.suiteQl("SELECT id, exchangerate, effectivedate FROM currencyrate WHERE basecurrency = '4' AND transactioncurrency = '1' ORDER BY effectivedate DESC")) rates.push(r);
    expect(rates).toEqual([
      { links: [], id: '2', exchangerate: 0.905, effectivedate: '2026-01-01' },
      { links: [], id: '1', exchangerate: 0.92, effectivedate: '2025-01-01' },
    ]);
  });
});
