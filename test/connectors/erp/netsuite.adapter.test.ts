import { generateKeyPairSync } from 'node:crypto';
import { request } from 'undici';
import type { Contract, CreditMemo, Customer, Invoice, LegalEntity, RevenueScheduleLine } from '../../../src/canonical';
import { NetSuiteAdapter, classifyNetSuite } from '../../../src/connectors/erp/netsuite.adapter';
import { NetSuiteM2MAuth } from '../../../src/connectors/erp/netsuite.auth';
import { toApplicationFailure } from '../../../src/activities/boundary';
import { ConnectorError } from '../../../src/connectors/errors';
import { HttpClient, InFlightLimit, staticSecret } from '../../../src/connectors/http';
import { NETSUITE_SANDBOX } from '../../../src/sandbox/netsuite/netsuite.credentials';
import { NETSUITE_VENDOR } from '../../../src/sandbox/netsuite/netsuite.sandbox';
import { startTestSandbox, type TestSandbox } from '../../support/sandbox';
import { ApplicationFailure } from '@temporalio/common';
import { postedInvoice } from '../../support/invoice-fixture';

let sb: TestSandbox;
beforeAll(async () => {
  sb = await startTestSandbox({ vendors: [NETSUITE_VENDOR] });
});
afterAll(async () => sb.close());
afterEach(async () => {
  sb.faults.clear();
  await setConfig({});
});

const setConfig = async (cfg: Record<string, number>) => {
  const res = await request(`${sb.url}/netsuite/_sandbox/config`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(cfg) });
  await res.body.json();
};

const mapping = { serviceItemId: NETSUITE_SANDBOX.serviceItemId, deferredRevenueAccountId: NETSUITE_SANDBOX.deferredRevenueAccountId, revenueAccountId: NETSUITE_SANDBOX.revenueAccountId };

const make = (opts: { privateKey?: string; timeoutMs?: number; pageSize?: number; concurrency?: number } = {}) => {
  const baseUrl = `${sb.url}/netsuite`;
  const auth = new NetSuiteM2MAuth({
    tokenUrl: `${baseUrl}/services/rest/auth/oauth2/v1/token`,
    clientId: NETSUITE_SANDBOX.clientId,
    certificateId: staticSecret(NETSUITE_SANDBOX.certificateId),
    privateKey: staticSecret(opts.privateKey ?? NETSUITE_SANDBOX.privateKeyPem),
  });
  const http = new HttpClient({ system: 'netsuite', baseUrl, auth, classify: classifyNetSuite, timeoutMs: opts.timeoutMs ?? 5_000, ...(opts.concurrency ? { inFlight: new InFlightLimit(opts.concurrency) } : {}) });
  return { auth, adapter: new NetSuiteAdapter({ http, mapping, ...(opts.pageSize ? { pageSize: opts.pageSize } : {}) }) };
};

const usd = (amountMinor: number) => ({ amountMinor, currency: 'USD' });
const entity = (subsidiary: string): LegalEntity => ({
  id: `le-${subsidiary}`,
  name: 'Q2C Inc.',
  functionalCurrency: 'USD',
  taxJurisdiction: { country: 'US', subdivision: 'CA' },
  timeZone: 'America/Los_Angeles',
  externalIds: { netsuite: subsidiary },
});
const US = entity('1');
const customer = (id: string, over: Partial<Customer> = {}): Customer => ({
  id,
  name: `Acme ${id}`,
  billTo: { address: { line1: '1 Main St', city: 'San Jose', region: 'CA', country: 'US' }, email: 'ap@acme.test' },
  legalEntityId: US.id,
  parentId: null,
  currency: 'USD',
  externalIds: {},
  status: 'ACTIVE',
  ...over,
});
const contract = (version: number, poNumber = 'PO-7'): Contract => ({
  id: 'ctr-1',
  version,
  status: 'ACTIVE',
  opportunityId: 'opp-1',
  quoteId: 'q-1',
  customerId: 'cust-1',
  billToCustomerId: 'cust-1',
  contractingLegalEntityId: US.id,
  currency: 'USD',
  paymentTerms: { netDays: 30 },
  billingTerms: { inArrears: true, weekStartsOn: 1 },
  poNumber,
  poRequired: true,
  startDate: '2025-01-01',
  endDate: '2025-12-31',
  ruleSet: { id: 'rs', version: 1 },
  signedAt: '2024-12-20T10:00:00Z',
  lines: [
    { id: 'cl-1', quoteLineId: 'ql-1', description: 'Implementation', billingModel: 'TIME_AND_MATERIALS', startDate: '2025-01-01', endDate: '2025-06-30', taxCode: 'SE000000', revenueTreatment: 'AS_INVOICED', invoiceSchedule: 'MONTHLY', rateCardRef: 'rc-1', discountBp: 0, allocatedValue: usd(12_000_000) },
    { id: 'cl-2', quoteLineId: 'ql-2', description: 'Support', billingModel: 'SUBSCRIPTION', startDate: '2025-01-01', endDate: '2025-12-31', taxCode: 'SW050000', revenueTreatment: 'RATABLE_DAILY', invoiceSchedule: 'MONTHLY', discountBp: 0, allocatedValue: usd(2_400_000), subscription: { amountPerPeriod: usd(200_000), period: 'MONTHLY', timing: 'IN_ADVANCE' } },
  ],
  externalIds: {},
});
const invoice = (id: string): Invoice => postedInvoice(id, US.id);

const state = async (kind: string) => (await sb.store.list<Record<string, unknown>>('netsuite', kind)).items;

describe('customer master', () => {
  test('validateCustomer: a valid customer has no issues; missing or inactive subsidiary and unknown currency are reported', async () => {
    const { adapter } = make();
    expect(await adapter.validateCustomer(customer('c0'), US)).toEqual([]);
    expect(await adapter.validateCustomer(customer('c0'), entity('99'))).toEqual([{ field: 'legalEntityId', message: 'subsidiary 99 does not exist in NetSuite' }]);
    expect(await adapter.validateCustomer(customer('c0', { currency: 'CHF' }), entity('9'))).toEqual([
      { field: 'legalEntityId', message: 'subsidiary 9 (Q2C Legacy BV) is inactive' },
      { field: 'currency', message: 'currency CHF is not enabled in NetSuite' },
    ]);
  });

  test('upsertCustomer by external id: created once, then updated in place', async () => {
    const { adapter } = make();
    const first = await adapter.upsertCustomer({ customer: customer('c1'), legalEntity: US, idempotencyKey: 'cust:c1' });
    expect(first.created).toBe(true);
    const second = await adapter.upsertCustomer({ customer: customer('c1', { name: 'Acme Renamed' }), legalEntity: US, idempotencyKey: 'cust:c1' });
    expect(second).toEqual({ id: first.id, externalId: 'cust:c1', created: false });
    const rows = (await state('customer')).filter((r) => r.externalId === 'cust:c1');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.version).toBe(2);
    expect(rows[0]!.data).toEqual({ companyName: 'Acme Renamed', email: 'ap@acme.test', subsidiary: { id: '1' }, currency: { id: '1' }, isInactive: false, custentity_q2c_customer_id: 'c1' });
  });

  test('an invalid customer master is ERP.CUSTOMER_INVALID, non-retryable, and nothing is written', async () => {
    const { adapter } = make();
    const err = await adapter.upsertCustomer({ customer: customer('c2'), legalEntity: entity('99'), idempotencyKey: 'cust:c2' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe('ERP.CUSTOMER_INVALID');
    expect((err as ConnectorError).meta.fields).toBe('legalEntityId');
    const failure = toApplicationFailure(err) as ApplicationFailure;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure.type).toBe('ERP.CUSTOMER_INVALID');
    expect(failure.nonRetryable).toBe(true);
    expect((await state('customer')).filter((r) => r.externalId === 'cust:c2')).toHaveLength(0);
  });
});

describe('transactions', () => {
  let customerId: string;
  beforeAll(async () => {
    customerId = (await make().adapter.upsertCustomer({ customer: customer('cust-1'), legalEntity: US, idempotencyKey: 'cust:cust-1' })).id;
  });

  test('postContract writes contract metadata as a sales order; a new contract version updates the same order', async () => {
    const { adapter } = make();
    const v1 = await adapter.postContract({ contract: contract(1), erpCustomerId: customerId, legalEntity: US, idempotencyKey: 'deal-opp-1:contract:ctr-1', tranId: 'SO-1001' });
    expect(v1).toEqual({ id: v1.id, externalId: 'deal-opp-1:contract:ctr-1', created: true, tranId: 'SO-1001' });
    const so = (await sb.store.get<Record<string, unknown>>('netsuite', 'salesOrder', v1.id))!;
    expect(so.data).toMatchObject({ tranId: 'SO-1001', otherRefNum: 'PO-7', custbody_q2c_net_days: 30, custbody_q2c_po_required: true, total: 144_000, tranDate: '2024-12-20' });
    expect((so.data['item'] as { items: unknown[] }).items).toEqual([
      { item: { id: '100' }, description: 'Implementation', amount: 120_000, custcol_q2c_contract_line_id: 'cl-1', custcol_q2c_quote_line_id: 'ql-1', custcol_q2c_tax_code: 'SE000000', custcol_q2c_revenue_treatment: 'AS_INVOICED', custcol_q2c_billing_model: 'TIME_AND_MATERIALS', revRecStartDate: '2025-01-01', revRecEndDate: '2025-06-30' },
      { item: { id: '100' }, description: 'Support', amount: 24_000, custcol_q2c_contract_line_id: 'cl-2', custcol_q2c_quote_line_id: 'ql-2', custcol_q2c_tax_code: 'SW050000', custcol_q2c_revenue_treatment: 'RATABLE_DAILY', custcol_q2c_billing_model: 'SUBSCRIPTION', revRecStartDate: '2025-01-01', revRecEndDate: '2025-12-31' },
    ]);
    const v2 = await adapter.postContract({ contract: contract(2, 'PO-8'), erpCustomerId: customerId, legalEntity: US, idempotencyKey: 'deal-opp-1:contract:ctr-1', tranId: 'SO-1001' });
    expect(v2).toEqual({ id: v1.id, externalId: 'deal-opp-1:contract:ctr-1', created: false, tranId: 'SO-1001' });
    const after = (await sb.store.get<Record<string, unknown>>('netsuite', 'salesOrder', v1.id))!;
    expect([after.version, after.data['otherRefNum'], after.data['custbody_q2c_contract_version']]).toEqual([2, 'PO-8', 2]);
    expect(await state('salesOrder')).toHaveLength(1);
  });

  test('closeContract marks the sales order closed with the reason; repeating it changes nothing more', async () => {
    const { adapter } = make();
    const so = await adapter.postContract({ contract: contract(1), erpCustomerId: customerId, legalEntity: US, idempotencyKey: 'deal-opp-close:contract', tranId: 'SO-CLOSE-1' });
    await adapter.closeContract(so.id, 'deal cancelled');
    await adapter.closeContract(so.id, 'deal cancelled');
    const rec = (await sb.store.get<Record<string, unknown>>('netsuite', 'salesOrder', so.id))!;
    expect([rec.data['custbody_q2c_status'], rec.data['memo']]).toEqual(['CLOSED', 'Closed by q2c: deal cancelled']);
  });

  test('RCRD_HAS_BEEN_CHANGED: of two overlapping edits one is rejected (retryable); its retry applies on the new version', async () => {
    await setConfig({ editWindowMs: 300 });
    const a = make().adapter;
    const b = make().adapter;
    const key = 'deal-opp-1:contract:ctr-1';
    const results = await Promise.allSettled([
      a.postContract({ contract: contract(3, 'PO-A'), erpCustomerId: customerId, legalEntity: US, idempotencyKey: key, tranId: 'SO-1001' }),
      b.postContract({ contract: contract(4, 'PO-B'), erpCustomerId: customerId, legalEntity: US, idempotencyKey: key, tranId: 'SO-1001' }),
    ]);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(1);
    const err = rejected[0]!.reason as ConnectorError;
    expect([err.code, err.retryable, err.meta.vendorCode]).toEqual(['NETSUITE.RECORD_CHANGED', true, 'RCRD_HAS_BEEN_CHANGED']);
    await setConfig({});
    const loser = results[0]!.status === 'rejected' ? { adapter: a, v: 3, po: 'PO-A' } : { adapter: b, v: 4, po: 'PO-B' };
    await loser.adapter.postContract({ contract: contract(loser.v, loser.po), erpCustomerId: customerId, legalEntity: US, idempotencyKey: key, tranId: 'SO-1001' });
    const so = (await state('salesOrder'))[0]!;
    expect([so.version, so.data['otherRefNum']]).toEqual([4, loser.po]);
  });

  test('postInvoice creates once; a repeat with the same key returns the same invoice', async () => {
    const { adapter } = make();
    const first = await adapter.postInvoice({ invoice: invoice('inv-1'), erpCustomerId: customerId, legalEntity: US, idempotencyKey: 'deal-opp-1:invoice:inv-1', tranId: 'INV-2025-0001' });
    expect(first).toEqual({ id: first.id, externalId: 'deal-opp-1:invoice:inv-1', created: true, tranId: 'INV-2025-0001' });
    const again = await adapter.postInvoice({ invoice: invoice('inv-1'), erpCustomerId: customerId, legalEntity: US, idempotencyKey: 'deal-opp-1:invoice:inv-1', tranId: 'INV-2025-0001' });
    expect(again).toEqual({ ...first, created: false });
    const inv = (await sb.store.get<Record<string, unknown>>('netsuite', 'invoice', first.id))!;
    expect([inv.data['subtotal'], inv.data['taxTotal'], inv.data['total'], inv.data['otherRefNum'], inv.data['dueDate']]).toEqual([14_345.67, 1_040.06, 15_385.73, 'PO-7', '2025-03-03']);
    expect((await state('invoice')).filter((r) => r.externalId === 'deal-opp-1:invoice:inv-1')).toHaveLength(1);
  });

  test('postInvoice is one request to the record service: the create, no look-up before it and no read after it', async () => {
    const { adapter } = make();
    // Its own customer (listInvoices below counts the first customer's); token and currency map cached, as in a running worker.
    const other = (await adapter.upsertCustomer({ customer: customer('cust-one'), legalEntity: US, idempotencyKey: 'cust:cust-one' })).id;
    sb.requests.reset();
    const ref = await adapter.postInvoice({ invoice: invoice('inv-one'), erpCustomerId: other, legalEntity: US, idempotencyKey: 'deal-opp-1:invoice:inv-one', tranId: 'INV-2025-0101' });
    expect(sb.requests.list('netsuite').map((r) => [r.method, r.route, r.status, r.count])).toEqual([['POST', '/netsuite/services/rest/record/v1/:type', 204, 1]]);
    expect(ref).toEqual({ id: ref.id, externalId: 'deal-opp-1:invoice:inv-one', created: true, tranId: 'INV-2025-0101' });
    expect((await sb.store.get<Record<string, unknown>>('netsuite', 'invoice', ref.id))?.data['tranId']).toBe('INV-2025-0101');
  });

  test('timeout after commit: the retry looks the invoice up by external id instead of posting a second', async () => {
    sb.faults.add({ vendor: 'netsuite', kind: 'timeout_after_commit', method: 'POST', path: '^/services/rest/record/v1/invoice$', delayMs: 1_500, times: 1 });
    const { adapter } = make({ timeoutMs: 600 });
    const input = { invoice: invoice('inv-2'), erpCustomerId: customerId, legalEntity: US, idempotencyKey: 'deal-opp-1:invoice:inv-2', tranId: 'INV-2025-0002' };
    const err = await adapter.postInvoice(input).catch((e: unknown) => e);
    expect([(err as ConnectorError).code, (err as ConnectorError).retryable]).toEqual(['HTTP.TIMEOUT', true]);
    const retry = await adapter.postInvoice(input);
    expect([retry.created, retry.tranId]).toEqual([false, 'INV-2025-0002']);
    expect((await state('invoice')).filter((r) => r.externalId === 'deal-opp-1:invoice:inv-2')).toHaveLength(1);
  });

  test('unique transaction numbers: a second invoice with a used tranId is NETSUITE.DUPLICATE_RECORD, non-retryable', async () => {
    const { adapter } = make();
    const err = await adapter
      .postInvoice({ invoice: invoice('inv-3'), erpCustomerId: customerId, legalEntity: US, idempotencyKey: 'deal-opp-1:invoice:inv-3', tranId: 'INV-2025-0001' })
      .catch((e: unknown) => e);
    expect([(err as ConnectorError).code, (err as ConnectorError).retryable, (err as ConnectorError).meta.vendorCode]).toEqual(['NETSUITE.DUPLICATE_RECORD', false, 'DUP_RCRD']);
    expect((await state('invoice')).filter((r) => r.data['tranId'] === 'INV-2025-0001')).toHaveLength(1);
    expect((await state('invoice')).filter((r) => r.externalId === 'deal-opp-1:invoice:inv-3')).toHaveLength(0);
  });

  test('postCreditMemo against a posted invoice; an unknown invoice is NETSUITE.INVALID_REFERENCE', async () => {
    const { adapter } = make();
    const inv = (await state('invoice')).find((r) => r.externalId === 'deal-opp-1:invoice:inv-1')!;
    const cm: CreditMemo = {
      id: 'cm-1',
      customerId: 'cust-1',
      originalInvoiceId: 'inv-1',
      currency: 'USD',
      reason: 'RERATE',
      issueDate: '2025-02-10',
      lines: [{ id: 'cm-1-l1', originalInvoiceLineId: 'inv-1-l1', contractLineId: 'cl-1', sourceItemIds: ['te-inv-1'], description: 'Re-rate', amount: usd(10_000) }],
      total: usd(10_000),
      externalIds: {},
    };
    const ref = await adapter.postCreditMemo({ creditMemo: cm, erpCustomerId: customerId, legalEntity: US, erpInvoiceId: inv.id, idempotencyKey: 'deal-opp-1:credit:cm-1', tranId: 'CM-0001' });
    expect([ref.created, ref.tranId]).toEqual([true, 'CM-0001']);
    const stored = (await sb.store.get<Record<string, unknown>>('netsuite', 'creditMemo', ref.id))!;
    expect([stored.data['total'], stored.data['createdFrom']]).toEqual([100, { id: inv.id }]);
    const err = await adapter
      .postCreditMemo({ creditMemo: { ...cm, id: 'cm-2' }, erpCustomerId: customerId, legalEntity: US, erpInvoiceId: '999999', idempotencyKey: 'deal-opp-1:credit:cm-2', tranId: 'CM-0002' })
      .catch((e: unknown) => e);
    expect([(err as ConnectorError).code, (err as ConnectorError).retryable]).toEqual(['NETSUITE.INVALID_REFERENCE', false]);
  });

  test('postRevenueLines posts one balanced journal: debit deferred revenue, credit revenue; a reversal swaps sides', async () => {
    const { adapter } = make();
    const line = (id: string, amountMinor: number, kind: RevenueScheduleLine['kind']): RevenueScheduleLine => ({
      id,
      contractId: 'ctr-1',
      contractLineId: 'cl-2',
      treatment: 'RATABLE_DAILY',
      kind,
      recognitionDate: '2025-01-31',
      amount: usd(amountMinor),
      sourceIds: [],
    });
    const ref = await adapter.postRevenueLines({ lines: [line('rev-1', 203_836, 'RECOGNITION'), line('rev-2', 1_000, 'REVERSAL')], legalEntity: US, idempotencyKey: 'deal-opp-1:revenue:2025-01' });
    const je = (await sb.store.get<Record<string, unknown>>('netsuite', 'journalEntry', ref.id))!;
    const lines = (je.data['line'] as { items: Record<string, unknown>[] }).items.map((l) => [(l['account'] as { id: string }).id, l['debit'] ?? 0, l['credit'] ?? 0]);
    expect(lines).toEqual([
      ['2500', 2_038.36, 0],
      ['4000', 0, 2_038.36],
      ['4000', 10, 0],
      ['2500', 0, 10],
    ]);
    expect([je.data['total'], je.data['tranDate']]).toEqual([2_048.36, '2025-01-31']);
    expect((await adapter.postRevenueLines({ lines: [line('rev-1', 203_836, 'RECOGNITION'), line('rev-2', 1_000, 'REVERSAL')], legalEntity: US, idempotencyKey: 'deal-opp-1:revenue:2025-01' })).created).toBe(false);
    expect(await state('journalEntry')).toHaveLength(1);
  });

  test('listInvoices pages through SuiteQL (offset/limit/hasMore) to the end', async () => {
    const { adapter } = make({ pageSize: 2 });
    for (const n of [4, 5, 6]) {
      await adapter.postInvoice({ invoice: invoice(`inv-${n}`), erpCustomerId: customerId, legalEntity: US, idempotencyKey: `deal-opp-1:invoice:inv-${n}`, tranId: `INV-2025-000${n}` });
    }
    const list = await adapter.listInvoices(customerId);
    expect(list.map((i) => [i.tranId, i.total.amountMinor, i.status])).toEqual([
      ['INV-2025-0001', 1_538_573, 'Open'],
      ['INV-2025-0002', 1_538_573, 'Open'],
      ['INV-2025-0004', 1_538_573, 'Open'],
      ['INV-2025-0005', 1_538_573, 'Open'],
      ['INV-2025-0006', 1_538_573, 'Open'],
    ]);
    expect(list[0]!.total.currency).toBe('USD');
  });

  test("each invoice line's service period goes to its custcol_q2c_service_start / _end columns", async () => {
    const { adapter } = make();
    const base = invoice('inv-sp');
    const withPeriod = { ...base, lines: [{ ...base.lines[0]!, servicePeriod: { start: '2025-01-06', end: '2025-01-29' } }, base.lines[1]!] };
    const posted = await adapter.postInvoice({ invoice: withPeriod, erpCustomerId: customerId, legalEntity: US, idempotencyKey: 'deal-opp-1:invoice:inv-sp', tranId: 'INV-2025-0099' });
    const inv = (await sb.store.get<Record<string, unknown>>('netsuite', 'invoice', posted.id))!;
    const items = (inv.data['item'] as { items: Record<string, unknown>[] }).items;
    expect(items.map((l) => [l['custcol_q2c_line_id'], l['custcol_q2c_service_start'], l['custcol_q2c_service_end']])).toEqual([
      ['inv-sp-l1', '2025-01-06', '2025-01-29'],
      ['inv-sp-l2', undefined, undefined], // a line without a service period (drafted before the field existed) sends none
    ]);
  });
});

describe('auth and governance', () => {
  test("held to the account's concurrency, twelve invoices posted at once meet no refusal; above it, the governor refuses", async () => {
    const customerId = (await make().adapter.upsertCustomer({ customer: customer('cust-gov'), legalEntity: US, idempotencyKey: 'cust:cust-gov' })).id;
    await setConfig({ concurrencyLimit: 3, processingMs: 50 });
    const post = (adapter: NetSuiteAdapter, run: string) =>
      Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => adapter.postInvoice({ invoice: invoice(`gov-${run}-${i}`), erpCustomerId: customerId, legalEntity: US, idempotencyKey: `deal-gov:invoice:${run}-${i}`, tranId: `INV-GOV-${run}-${i}` })),
      );
    const held = make({ concurrency: 3 }).adapter;
    await held.listInvoices('0');
    sb.requests.reset();
    const ok = await post(held, 'a');
    expect(ok.filter((r) => r.status === 'fulfilled')).toHaveLength(12);
    expect(sb.requests.list('netsuite').filter((r) => r.status === 429)).toEqual([]);
    // The same burst with no limit in the client: the governor refuses what is above 3 in flight.
    const free = make().adapter;
    await free.listInvoices('0');
    const over = await post(free, 'b');
    expect(over.filter((r) => r.status === 'rejected').map((r) => ((r as PromiseRejectedResult).reason as ConnectorError).code)).toContain('NETSUITE.CONCURRENCY_LIMIT');
  });

  test('concurrency governor: requests beyond the account limit get 429 CONCURRENCY_LIMIT_EXCEEDED (retryable)', async () => {
    const { adapter } = make();
    await adapter.listInvoices('0'); // token + currency map cached
    await setConfig({ concurrencyLimit: 1, processingMs: 300 });
    const results = await Promise.allSettled([adapter.listInvoices('0'), adapter.listInvoices('0'), adapter.listInvoices('0')]);
    const errors = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as ConnectorError);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(errors.map((e) => [e.code, e.retryable, e.meta.status, e.meta.vendorCode])).toEqual([
      ['NETSUITE.CONCURRENCY_LIMIT', true, 429, 'CONCURRENCY_LIMIT_EXCEEDED'],
      ['NETSUITE.CONCURRENCY_LIMIT', true, 429, 'CONCURRENCY_LIMIT_EXCEEDED'],
    ]);
  });

  test('a revoked token (401 INVALID_LOGIN) is replaced once, transparently', async () => {
    const { adapter, auth } = make();
    expect(await adapter.listInvoices('0')).toEqual([]);
    expect(auth.tokenRequests).toBe(1);
    await request(`${sb.url}/netsuite/_sandbox/tokens`, { method: 'DELETE' }).then((r) => r.body.dump());
    expect(await adapter.listInvoices('0')).toEqual([]);
    expect(auth.tokenRequests).toBe(2);
  });

  test('an assertion signed with an unregistered key is refused: HTTP.AUTH', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const err = await make({ privateKey }).adapter.listInvoices('0').catch((e: unknown) => e);
    expect([(err as ConnectorError).code, (err as ConnectorError).meta.vendorCode]).toEqual(['HTTP.AUTH', 'invalid_client']);
  });
});
