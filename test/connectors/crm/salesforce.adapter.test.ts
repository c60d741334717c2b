import { z } from 'zod';
import type { Customer } from '../../../src/canonical';
import { SalesforceCrmAdapter, createSalesforceHttp } from '../../../src/connectors/crm/salesforce.adapter';
import { ConnectorError } from '../../../src/connectors/errors';
import { ClientCredentialsAuth, HttpClient, JwtBearerAuth, staticSecret } from '../../../src/connectors/http';
import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_JWT_PRIVATE_KEY, SANDBOX_USER } from '../../../src/sandbox/credentials';
import { SALESFORCE_SANDBOX_AUDIENCE } from '../../../src/sandbox/salesforce/salesforce.sandbox';
import { startTestSandbox, type TestSandbox } from '../../support/sandbox';

let sandbox: TestSandbox;
let base: string;
let auth: ClientCredentialsAuth;
let crm: SalesforceCrmAdapter;
let seed: HttpClient;

const V = '/services/data/v60.0';
const create = async (type: string, fields: Record<string, unknown>): Promise<string> =>
  (await seed.request<{ id: string }>({ method: 'POST', path: `${V}/sobjects/${type}`, json: fields })).body.id;

const failure = async (p: Promise<unknown>): Promise<ConnectorError> => {
  try {
    await p;
  } catch (err) {
    if (err instanceof ConnectorError) return err;
    throw err;
  }
  throw new Error('expected a ConnectorError');
};

const customer: Customer = {
  id: 'cust-acme',
  name: 'Acme GmbH',
  billTo: { address: { line1: 'Hauptstr. 1', line2: 'Etage 3', city: 'Berlin', postalCode: '10115', country: 'DE' } },
  legalEntityId: 'le-de',
  parentId: null,
  currency: 'EUR',
  taxRegistration: { scheme: 'VAT', number: 'DE123456789', country: 'DE', exempt: false },
  externalIds: {},
  status: 'ACTIVE',
};

let accountId: string;
let oppId: string;
let quoteId: string;
let lineIds: string[];

beforeAll(async () => {
  sandbox = await startTestSandbox();
  base = `${sandbox.url}/salesforce`;
  auth = new ClientCredentialsAuth({ tokenUrl: `${base}/services/oauth2/token`, clientId: SANDBOX_CLIENT_ID, clientSecret: staticSecret(SANDBOX_CLIENT_SECRET) });
  crm = new SalesforceCrmAdapter(createSalesforceHttp({ instanceUrl: base, auth, timeoutMs: 2000 }), { apiVersion: '60.0', queryBatchSize: 2 });
  seed = createSalesforceHttp({ instanceUrl: base, auth });

  accountId = await create('Account', { Name: 'Seed Account' });
  oppId = await create('Opportunity', { Name: 'Acme rollout', AccountId: accountId, StageName: 'Closed Won', CloseDate: '2025-03-31', Amount: 12500.5, CurrencyIsoCode: 'EUR' });
  quoteId = await create('SBQQ__Quote__c', { Name: 'Q-00001', SBQQ__Opportunity2__c: oppId, SBQQ__Account__c: accountId, SBQQ__Primary__c: true, SBQQ__Status__c: 'Approved', ApprovalStatus__c: 'Approved', SBQQ__ExpirationDate__c: '2025-04-30', CurrencyIsoCode: 'EUR' });
  await create('SBQQ__Quote__c', { Name: 'Q-00000', SBQQ__Opportunity2__c: oppId, SBQQ__Primary__c: false, CurrencyIsoCode: 'EUR' });
  lineIds = [
    await create('SBQQ__QuoteLine__c', { SBQQ__Quote__c: quoteId, SBQQ__Number__c: 2, SBQQ__ProductCode__c: 'SUPPORT-GOLD', SBQQ__Description__c: 'Gold support', SBQQ__Quantity__c: 12, SBQQ__ListPrice__c: 1000, SBQQ__NetPrice__c: 900, SBQQ__Discount__c: 10, Q2C_Unit__c: 'Month' }),
    await create('SBQQ__QuoteLine__c', { SBQQ__Quote__c: quoteId, SBQQ__Number__c: 1, SBQQ__ProductCode__c: 'IMPL-STD', SBQQ__Description__c: null, SBQQ__Quantity__c: 80, SBQQ__ListPrice__c: 150.25, SBQQ__NetPrice__c: 142.74, SBQQ__Discount__c: 5, Q2C_Unit__c: 'Hour' }),
  ];
  lineIds.reverse();
});
afterAll(() => sandbox.close());
afterEach(() => sandbox.faults.clear());

test('reads an opportunity with money in minor units', async () => {
  expect(await crm.getOpportunity(oppId)).toEqual({
    id: oppId,
    name: 'Acme rollout',
    accountId,
    stage: 'Closed Won',
    isClosed: true,
    isWon: true,
    closeDate: '2025-03-31',
    amount: { amountMinor: 1250050, currency: 'EUR' },
    primaryQuoteId: null,
    projectUrl: null,
    soldLegalEntityId: null,
    deliveryLegalEntityId: null,
    poNumber: null,
  });
});

test('reads the entity, delivery entity and PO custom fields of an opportunity', async () => {
  const id = await create('Opportunity', { Name: 'Intercompany', AccountId: accountId, StageName: 'Closed Won', CloseDate: '2025-03-31', Q2C_Sold_Entity__c: 'LE-US', Q2C_Delivery_Entity__c: 'LE-DE', Q2C_PO_Number__c: 'PO-42' });
  const opp = await crm.getOpportunity(id);
  expect([opp.soldLegalEntityId, opp.deliveryLegalEntityId, opp.poNumber]).toEqual(['LE-US', 'LE-DE', 'PO-42']);
});

test('reads an account as a canonical customer, and rejects one without a legal entity naming the field', async () => {
  const id = await create('Account', {
    Name: 'Globex Corporation',
    BillingStreet: '1 Main St\nFloor 9',
    BillingCity: 'New York',
    BillingState: 'NY',
    BillingPostalCode: '10001',
    BillingCountryCode: 'US',
    CurrencyIsoCode: 'USD',
    Q2C_Legal_Entity__c: 'LE-US',
    Q2C_Billing_Email__c: 'ap@globex.example',
    Q2C_Billing_Contact__c: 'Accounts Payable',
  });
  expect(await crm.getAccount(id)).toEqual({
    id,
    name: 'Globex Corporation',
    billTo: {
      address: { line1: '1 Main St', line2: 'Floor 9', city: 'New York', region: 'NY', postalCode: '10001', country: 'US' },
      email: 'ap@globex.example',
      attention: 'Accounts Payable',
    },
    legalEntityId: 'LE-US',
    parentId: null,
    currency: 'USD',
    externalIds: { salesforce: id },
    status: 'ACTIVE',
  });
  const err = await failure(crm.getAccount(accountId));
  expect(err.code).toBe('CRM.ACCOUNT_INVALID');
  expect(err.retryable).toBe(false);
  expect(err.message).toContain('legalEntityId');
});

test('the primary CPQ quote maps to a canonical quote, lines in SBQQ__Number__c order', async () => {
  expect(await crm.getPrimaryQuote(oppId, 'cust-acme')).toEqual({
    id: quoteId,
    opportunityId: oppId,
    customerId: 'cust-acme',
    currency: 'EUR',
    approvalStatus: 'APPROVED',
    validUntil: '2025-04-30',
    lines: [
      { id: lineIds[0], servicePackage: 'IMPL-STD', description: '', quantity: 80, unit: 'HOUR', listPrice: { amountMinor: 15025, currency: 'EUR' }, netPrice: { amountMinor: 14274, currency: 'EUR' }, discountBp: 500, approvalStatus: 'NOT_REQUIRED', externalIds: { salesforce: lineIds[0] } },
      { id: lineIds[1], servicePackage: 'SUPPORT-GOLD', description: 'Gold support', quantity: 12, unit: 'MONTH', listPrice: { amountMinor: 100000, currency: 'EUR' }, netPrice: { amountMinor: 90000, currency: 'EUR' }, discountBp: 1000, approvalStatus: 'NOT_REQUIRED', externalIds: { salesforce: lineIds[1] } },
    ],
    externalIds: { salesforce: quoteId },
  });
});

test('a quote line the canonical model rejects is a non-retryable error naming the field', async () => {
  const opp = await create('Opportunity', { Name: 'Odd', AccountId: accountId, StageName: 'Closed Won', CloseDate: '2025-03-31', CurrencyIsoCode: 'EUR' });
  const q = await create('SBQQ__Quote__c', { SBQQ__Opportunity2__c: opp, SBQQ__Primary__c: true, CurrencyIsoCode: 'EUR' });
  await create('SBQQ__QuoteLine__c', { SBQQ__Quote__c: q, SBQQ__Number__c: 1, SBQQ__ProductCode__c: 'IMPL-STD', SBQQ__Quantity__c: 1.5, SBQQ__ListPrice__c: 100, SBQQ__NetPrice__c: 100 });
  const err = await failure(crm.getPrimaryQuote(opp, 'cust-x'));
  expect(err.code).toBe('HTTP.UNEXPECTED_RESPONSE');
  expect(err.retryable).toBe(false);
  expect(err.message).toContain('lines.0.quantity');
});

test("CPQ's quote line start and end dates become the line's service period; start after end is refused with the field path", async () => {
  const opp = await create('Opportunity', { Name: 'Phased', AccountId: accountId, StageName: 'Closed Won', CloseDate: '2025-03-31', CurrencyIsoCode: 'EUR' });
  const q = await create('SBQQ__Quote__c', { SBQQ__Opportunity2__c: opp, SBQQ__Primary__c: true, CurrencyIsoCode: 'EUR' });
  const line = { SBQQ__Quote__c: q, SBQQ__ProductCode__c: 'IMPL-STD', SBQQ__Quantity__c: 10, SBQQ__ListPrice__c: 100, SBQQ__NetPrice__c: 100 };
  await create('SBQQ__QuoteLine__c', { ...line, SBQQ__Number__c: 1, SBQQ__StartDate__c: '2025-05-01', SBQQ__EndDate__c: '2025-08-31' });
  await create('SBQQ__QuoteLine__c', { ...line, SBQQ__Number__c: 2 });
  const quote = await crm.getPrimaryQuote(opp, 'cust-x');
  expect(quote.lines.map((l) => [l.serviceStart, l.serviceEnd])).toEqual([
    ['2025-05-01', '2025-08-31'],
    [undefined, undefined], // no CPQ dates: the contract's term
  ]);

  const bad = await create('Opportunity', { Name: 'Backwards', AccountId: accountId, StageName: 'Closed Won', CloseDate: '2025-03-31', CurrencyIsoCode: 'EUR' });
  const bq = await create('SBQQ__Quote__c', { SBQQ__Opportunity2__c: bad, SBQQ__Primary__c: true, CurrencyIsoCode: 'EUR' });
  await create('SBQQ__QuoteLine__c', { ...line, SBQQ__Quote__c: bq, SBQQ__Number__c: 1, SBQQ__StartDate__c: '2025-09-01', SBQQ__EndDate__c: '2025-08-31' });
  const err = await failure(crm.getPrimaryQuote(bad, 'cust-x'));
  expect(err.code).toBe('HTTP.UNEXPECTED_RESPONSE');
  expect(err.message).toContain('lines.0.serviceEnd: service end 2025-08-31 is before service start 2025-09-01');
});

test('no primary quote is HTTP.NOT_FOUND', async () => {
  const opp = await create('Opportunity', { Name: 'Bare', AccountId: accountId, StageName: 'Prospecting', CloseDate: '2025-06-30' });
  expect((await failure(crm.getPrimaryQuote(opp, 'c'))).code).toBe('HTTP.NOT_FOUND');
});

test('closed-won opportunities since a time, across nextRecordsUrl pages', async () => {
  // SOQL dateTime literals have whole seconds: step past the second the earlier records were written in.
  await new Promise((r) => setTimeout(r, 1100));
  const since = new Date().toISOString();
  const names = ['W1', 'W2', 'W3', 'W4', 'W5'];
  for (const n of names) await create('Opportunity', { Name: n, AccountId: accountId, StageName: 'Closed Won', CloseDate: '2025-05-01' });
  await create('Opportunity', { Name: 'L1', AccountId: accountId, StageName: 'Closed Lost', CloseDate: '2025-05-01' });
  const got = await crm.listClosedWonOpportunities(since);
  expect(got.map((o) => o.name)).toEqual(names);
  expect(got.every((o) => o.isWon && o.isClosed)).toBe(true);
});

test('upsert account by external id: created once, updated after', async () => {
  const first = await crm.upsertAccount({ customer });
  expect(first.created).toBe(true);
  expect(first.externalId).toBe('cust-acme');
  const second = await crm.upsertAccount({ customer: { ...customer, name: 'Acme Deutschland GmbH' }, parentAccountId: accountId });
  expect(second).toEqual({ id: first.id, externalId: 'cust-acme', created: false });
  const rec = await sandbox.store.getByExternalId('salesforce', 'Account', 'cust-acme');
  expect(rec?.data).toMatchObject({
    Name: 'Acme Deutschland GmbH',
    External_Id__c: 'cust-acme',
    BillingStreet: 'Hauptstr. 1\nEtage 3',
    BillingCity: 'Berlin',
    BillingPostalCode: '10115',
    BillingCountryCode: 'DE',
    CurrencyIsoCode: 'EUR',
    ParentId: accountId,
    Q2C_Legal_Entity__c: 'le-de',
    Q2C_Tax_Id__c: 'DE123456789',
  });
});

test('timeout after commit: the retry of the upsert finds the record; exactly one account', async () => {
  const c = { ...customer, id: 'cust-timeout' };
  sandbox.faults.add({ vendor: 'salesforce', kind: 'timeout_after_commit', method: 'PATCH', path: 'External_Id__c/cust-timeout$', times: 1 });
  const err = await failure(crm.upsertAccount({ customer: c }));
  expect(['HTTP.TIMEOUT', 'HTTP.CONNECTION']).toContain(err.code);
  expect(err.retryable).toBe(true);
  const retry = await crm.upsertAccount({ customer: c });
  expect(retry.created).toBe(false);
  const all = await sandbox.store.list('salesforce', 'Account', { contains: { External_Id__c: 'cust-timeout' } });
  expect(all.total).toBe(1);
  expect(all.items[0]!.id).toBe(retry.id);
});

test('write back stage and project link', async () => {
  await crm.updateOpportunityStage(oppId, 'Delivery');
  await crm.setProjectLink(oppId, { projectId: 'ws-42', url: 'https://app.mavenlink.com/workspaces/42' });
  const o = await crm.getOpportunity(oppId);
  expect([o.stage, o.isClosed, o.projectUrl]).toEqual(['Delivery', false, 'https://app.mavenlink.com/workspaces/42']);
  expect((await sandbox.store.get('salesforce', 'Opportunity', oppId))?.data.Q2C_Project_Id__c).toBe('ws-42');
  await crm.updateOpportunityStage(oppId, 'Closed Won');
});

test('invoice and payment status: one record per invoice number, updated in place', async () => {
  const input = { opportunityId: oppId, invoiceNumber: 'INV-1001', status: 'POSTED' as const, total: { amountMinor: 119000, currency: 'EUR' }, amountPaid: { amountMinor: 0, currency: 'EUR' }, dueDate: '2025-05-30' };
  const a = await crm.recordInvoiceStatus(input);
  const b = await crm.recordInvoiceStatus({ ...input, status: 'PAID', amountPaid: { amountMinor: 119000, currency: 'EUR' } });
  expect([a.created, b.created, b.id]).toEqual([true, false, a.id]);
  const recs = await sandbox.store.list('salesforce', 'Q2C_Invoice__c');
  expect(recs.total).toBe(1);
  expect(recs.items[0]!.data).toMatchObject({ Name: 'INV-1001', Invoice_Number__c: 'INV-1001', Opportunity__c: oppId, Status__c: 'Paid', Total__c: 1190, Amount_Paid__c: 1190, Due_Date__c: '2025-05-30', CurrencyIsoCode: 'EUR' });
});

test('an expired session is refreshed once, transparently', async () => {
  const before = auth.tokenRequests;
  await seed.request({ method: 'POST', path: '/_sandbox/revoke-sessions' });
  expect((await crm.getOpportunity(oppId)).id).toBe(oppId);
  expect(auth.tokenRequests).toBe(before + 1);
});

test('JWT bearer flow authenticates against the token endpoint', async () => {
  const jwt = new JwtBearerAuth({ tokenUrl: `${base}/services/oauth2/token`, issuer: SANDBOX_CLIENT_ID, subject: SANDBOX_USER, audience: SALESFORCE_SANDBOX_AUDIENCE, privateKey: staticSecret(SANDBOX_JWT_PRIVATE_KEY) });
  const viaJwt = new SalesforceCrmAdapter(createSalesforceHttp({ instanceUrl: base, auth: jwt }), { apiVersion: '60.0' });
  expect((await viaJwt.getOpportunity(oppId)).name).toBe('Acme rollout');
});

test('a wrong client secret is HTTP.AUTH, not retryable', async () => {
  const bad = new SalesforceCrmAdapter(
    createSalesforceHttp({ instanceUrl: base, auth: new ClientCredentialsAuth({ tokenUrl: `${base}/services/oauth2/token`, clientId: SANDBOX_CLIENT_ID, clientSecret: staticSecret('nope') }) }),
    { apiVersion: '60.0' },
  );
  const err = await failure(bad.getOpportunity(oppId));
  expect([err.code, err.retryable, err.meta.vendorCode]).toEqual(['HTTP.AUTH', false, 'invalid_client']);
});

test('vendor faults are classified: 503 retryable, 429 with Retry-After, unknown id not found', async () => {
  // One busy answer is absorbed by the connector's repeat (DEFAULT_REPEAT: two more tries); three are the activity's to retry.
  sandbox.faults.add({ vendor: 'salesforce', kind: 'status', status: 503, path: '/sobjects/Opportunity/', times: 1, message: 'maintenance' });
  expect((await crm.getOpportunity(oppId)).name).toBeDefined();
  sandbox.faults.add({ vendor: 'salesforce', kind: 'status', status: 503, path: '/sobjects/Opportunity/', times: 3, message: 'maintenance' });
  const e503 = await failure(crm.getOpportunity(oppId));
  expect([e503.code, e503.retryable, e503.meta.vendorCode, e503.meta.status]).toEqual(['HTTP.SERVER_ERROR', true, 'SERVER_UNAVAILABLE', 503]);

  // A Retry-After beyond what the connector may wait (2 s) ends the call at once, carrying the wait to the activity retry.
  sandbox.faults.add({ vendor: 'salesforce', kind: 'rate_limit', retryAfterSeconds: 5, times: 1 });
  const e429 = await failure(crm.getOpportunity(oppId));
  expect([e429.code, e429.retryable, e429.retryAfterMs, e429.meta.vendorCode]).toEqual(['HTTP.RATE_LIMITED', true, 5000, 'REQUEST_LIMIT_EXCEEDED']);

  const e404 = await failure(crm.getOpportunity('006000000000999AAA'));
  expect([e404.code, e404.retryable, e404.meta.vendorCode]).toEqual(['HTTP.NOT_FOUND', false, 'NOT_FOUND']);
});

test('sandbox rejects unknown fields the way Salesforce does', async () => {
  const err = await failure(seed.request({ method: 'PATCH', path: `${V}/sobjects/Opportunity/${oppId}`, json: { Bogus__c: 1 } }));
  expect([err.code, err.retryable, err.meta.vendorCode]).toEqual(['SALESFORCE.INVALID_FIELD', false, 'INVALID_FIELD']);
  expect(err.message).toBe(`salesforce PATCH /salesforce${V}/sobjects/Opportunity/${oppId}: 400 No such column 'Bogus__c' on sobject of type Opportunity`);
});

test('a dunning task on the opportunity: created once per key (a repeat finds it), on the opportunity\'s account, money as the customer reads it', async () => {
  const input = {
    key: 'deal-X:dunning:INV-1:14', opportunityId: oppId, invoiceNumber: 'INV-1', step: 14, daysPastDue: 15, final: false, dueDate: '2030-03-03', remindOn: '2030-03-18',
    open: { amountMinor: 123_456_789, currency: 'EUR' }, total: { amountMinor: 163_312_500, currency: 'EUR' }, notes: ['The payment retry on file was declined: Your card was declined.'],
  };
  const first = await crm.createDunningTask(input);
  const again = await crm.createDunningTask(input);
  expect([first.created, again.created, again.id]).toEqual([true, false, first.id]);
  const rows = await crm.query(`SELECT Id, Subject, AccountId, WhatId, Status, Priority, ActivityDate, Description, Q2C_Amount_Open__c FROM Task WHERE Q2C_Dunning_Key__c = 'deal-X:dunning:INV-1:14'`, z.looseObject({ Id: z.string() }));
  expect(rows).toEqual([
    expect.objectContaining({
      Id: first.id, WhatId: oppId, AccountId: accountId, Status: 'Not Started', Priority: 'Normal', ActivityDate: '2030-03-18', Q2C_Amount_Open__c: 1234567.89,
      Subject: 'Payment reminder: invoice INV-1, EUR 1,234,567.89 open, 15 days past due',
      Description: 'Invoice INV-1 was due on 2030-03-03: EUR 1,234,567.89 of EUR 1,633,125.00 is open, 15 days past due.\nThe payment retry on file was declined: Your card was declined.',
    }),
  ]);
  // AccountId is Salesforce's to set.
  const err = await failure(seed.request({ method: 'POST', path: `${V}/sobjects/Task`, json: { WhatId: oppId, AccountId: accountId, Subject: 'x' } }));
  expect(err.meta.vendorCode).toBe('INVALID_FIELD_FOR_INSERT_UPDATE');
});
