import { createSalesforceHttp } from '../../connectors/crm/salesforce.adapter';
import { ClientCredentialsAuth, staticSecret } from '../../connectors/http';
import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET } from '../credentials';

const V = '/services/data/v60.0';

/** A Salesforce REST client on the sandbox with its fixed credentials. */
function sandboxSalesforce(sandboxUrl: string) {
  const instanceUrl = `${sandboxUrl}/salesforce`;
  return createSalesforceHttp({
    instanceUrl,
    auth: new ClientCredentialsAuth({ tokenUrl: `${instanceUrl}/services/oauth2/token`, clientId: SANDBOX_CLIENT_ID, clientSecret: staticSecret(SANDBOX_CLIENT_SECRET) }),
  });
}

export interface SeedOptions {
  /** Makes ids and names unique per test. */
  key: string;
  account?: Record<string, unknown>;
  opportunity?: Record<string, unknown>;
  /** Quote lines; default: a fixed-fee transformation, capped advisory T&M and 12 months of managed support. */
  lines?: Array<Record<string, unknown>>;
}

export const DEFAULT_LINES = [
  // 1 x $120,000.00
  { SBQQ__Number__c: 1, SBQQ__ProductCode__c: 'TRANSFORMATION', SBQQ__Description__c: 'Transformation programme', SBQQ__Quantity__c: 1, SBQQ__ListPrice__c: 120000, SBQQ__NetPrice__c: 120000, SBQQ__Discount__c: 0, Q2C_Unit__c: 'Each' },
  // 200 h x $150.00 = $30,000.00 not-to-exceed
  { SBQQ__Number__c: 2, SBQQ__ProductCode__c: 'ADVISORY_TM', SBQQ__Description__c: 'Advisory', SBQQ__Quantity__c: 200, SBQQ__ListPrice__c: 150, SBQQ__NetPrice__c: 150, SBQQ__Discount__c: 0, Q2C_Unit__c: 'Hour' },
  // 12 months x $2,000.00
  { SBQQ__Number__c: 3, SBQQ__ProductCode__c: 'MANAGED_SUPPORT', SBQQ__Description__c: 'Managed support', SBQQ__Quantity__c: 12, SBQQ__ListPrice__c: 2000, SBQQ__NetPrice__c: 2000, SBQQ__Discount__c: 0, Q2C_Unit__c: 'Month' },
];

/**
 * Seeds the Salesforce sandbox, through Salesforce's own REST API, for the demo
 * (`npm start`) and the tests.
 */

/**
 * Creates a closed-won opportunity with its account and primary CPQ quote in
 * the Salesforce sandbox, through Salesforce's own REST API.
 */
export async function seedClosedWonDeal(sandboxUrl: string, o: SeedOptions): Promise<{ opportunityId: string; accountId: string; quoteId: string }> {
  const http = sandboxSalesforce(sandboxUrl);
  const create = async (type: string, fields: Record<string, unknown>) => (await http.request<{ id: string }>({ method: 'POST', path: `${V}/sobjects/${type}`, json: fields })).body.id;
  const accountId = await create('Account', {
    Name: `Globex ${o.key}`,
    BillingStreet: '1 Main St',
    BillingCity: 'New York',
    BillingState: 'NY',
    BillingPostalCode: '10001',
    BillingCountryCode: 'US',
    CurrencyIsoCode: 'USD',
    Q2C_Legal_Entity__c: 'LE-US',
    Q2C_Billing_Email__c: `ap+${o.key.toLowerCase()}@globex.example`,
    Q2C_Billing_Contact__c: 'Accounts Payable',
    ...o.account,
  });
  const opportunityId = await create('Opportunity', {
    Name: `Globex transformation ${o.key}`,
    AccountId: accountId,
    StageName: 'Closed Won',
    // Today in New York (the account's), so a seeded contract is always current: a fixed
    // date would put every later run after the contract's end.
    CloseDate: new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date()),
    Amount: 174000,
    CurrencyIsoCode: 'USD',
    Q2C_Sold_Entity__c: 'LE-US',
    Q2C_Delivery_Entity__c: 'LE-US',
    Q2C_PO_Number__c: `PO-${o.key}`,
    ...o.opportunity,
  });
  const quoteId = await create('SBQQ__Quote__c', {
    Name: `Q-${o.key}`,
    SBQQ__Opportunity2__c: opportunityId,
    SBQQ__Account__c: accountId,
    SBQQ__Primary__c: true,
    SBQQ__Status__c: 'Accepted',
    ApprovalStatus__c: 'Approved',
    CurrencyIsoCode: 'USD',
  });
  for (const line of o.lines ?? DEFAULT_LINES) await create('SBQQ__QuoteLine__c', { SBQQ__Quote__c: quoteId, CurrencyIsoCode: 'USD', ...line });
  return { opportunityId, accountId, quoteId };
}

/** Updates a Salesforce record in the sandbox (an operator fixing master data). */
export async function patchSalesforce(sandboxUrl: string, type: string, id: string, fields: Record<string, unknown>): Promise<void> {
  await sandboxSalesforce(sandboxUrl).request({ method: 'PATCH', path: `${V}/sobjects/${type}/${id}`, json: fields });
}
