import { connectorsConfigFromEnv, createConnectors } from '../../src/connectors';
import { startTestSandbox, type TestSandbox } from '../support/sandbox';

let sandbox: TestSandbox;
beforeAll(async () => {
  sandbox = await startTestSandbox();
});
afterAll(() => sandbox.close());

test('createConnectors with sandboxBaseUrl gives six working ports against the sandbox', async () => {
  const c = createConnectors({ sandboxBaseUrl: sandbox.url });
  expect(Object.keys(c).sort()).toEqual(['billing', 'clm', 'crm', 'erp', 'psa', 'tax']);
  const ref = await c.crm.upsertAccount({
    customer: { id: 'cust-idx', name: 'Index Ltd', billTo: { address: { line1: '1 Main St', city: 'Austin', region: 'TX', country: 'US' } }, legalEntityId: 'le-us', parentId: null, externalIds: {}, status: 'ACTIVE' },
  });
  expect([ref.externalId, ref.created]).toEqual(['cust-idx', true]);
  expect((await sandbox.store.getByExternalId('salesforce', 'Account', 'cust-idx'))?.id).toBe(ref.id);
});

test('without configuration or sandbox a connector fails loudly', () => {
  expect(() => createConnectors({})).toThrow('connector salesforce is not configured: give its settings or sandboxBaseUrl');
});

test('environment variables map to vendor settings; secrets may come from files', async () => {
  const cfg = connectorsConfigFromEnv({
    SALESFORCE_INSTANCE_URL: 'https://acme.my.salesforce.com',
    SALESFORCE_CLIENT_ID: '3MVG9-ck',
    SALESFORCE_CLIENT_SECRET: 'sf-secret',
    KANTATA_TOKEN: 'kt-token',
    DOCUSIGN_BASE_URL: 'https://demo.docusign.net',
    DOCUSIGN_ACCOUNT_ID: 'acc-1',
    DOCUSIGN_INTEGRATION_KEY: 'ik-1',
    DOCUSIGN_USER_ID: 'user-1',
    DOCUSIGN_PRIVATE_KEY: 'file:/run/secrets/docusign.pem',
    STRIPE_API_KEY: '',
  });
  expect(cfg.salesforce).toMatchObject({ instanceUrl: 'https://acme.my.salesforce.com', tokenUrl: 'https://login.salesforce.com/services/oauth2/token', clientId: '3MVG9-ck' });
  expect(await cfg.salesforce!.clientSecret!.get()).toBe('sf-secret');
  expect(cfg.kantata!.baseUrl).toBe('https://api.mavenlink.com/api/v1');
  expect(await cfg.kantata!.token.get()).toBe('kt-token');
  expect(cfg.docusign).toMatchObject({ baseUrl: 'https://demo.docusign.net', accountId: 'acc-1', integrationKey: 'ik-1', userId: 'user-1', audience: 'account-d.docusign.com', tokenUrl: 'https://account-d.docusign.com/oauth/token' });
  expect(cfg.docusign!.privateKey.name).toBe('file:/run/secrets/docusign.pem');
  expect([cfg.stripe, cfg.netsuite, cfg.avalara, cfg.sandboxBaseUrl]).toEqual([undefined, undefined, undefined, undefined]);
});
