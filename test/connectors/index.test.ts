import { sandboxConnectorEnv, sandboxConnectorsConfig, withSandboxVendors } from '../../src/cli/dev-secrets';
import { parseConfig } from '../../src/config';
import { connectorsConfigFromEnv, createConnectors } from '../../src/connectors';
import { startTestSandbox, type TestSandbox } from '../support/sandbox';

let sandbox: TestSandbox;
beforeAll(async () => {
  sandbox = await startTestSandbox();
});
afterAll(() => sandbox.close());

test('the sandbox supplied as configuration gives six working ports against it', async () => {
  const c = createConnectors(sandboxConnectorsConfig(sandbox.url));
  expect(Object.keys(c).sort()).toEqual(['billing', 'clm', 'crm', 'erp', 'psa', 'tax']);
  const ref = await c.crm.upsertAccount({
    customer: { id: 'cust-idx', name: 'Index Ltd', billTo: { address: { line1: '1 Main St', city: 'Austin', region: 'TX', country: 'US' } }, legalEntityId: 'le-us', parentId: null, externalIds: {}, status: 'ACTIVE' },
  });
  expect([ref.externalId, ref.created]).toEqual(['cust-idx', true]);
  expect((await sandbox.store.getByExternalId('salesforce', 'Account', 'cust-idx'))?.id).toBe(ref.id);
});

test('without configuration a connector fails loudly', () => {
  expect(() => createConnectors({})).toThrow('connector salesforce is not configured: set its variables (docs/connectors.md)');
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
  expect([cfg.stripe, cfg.netsuite, cfg.avalara]).toEqual([undefined, undefined, undefined]);
});

test('the dev stack fills only the vendors without complete settings of their own with the sandbox', async () => {
  const config = parseConfig({
    // Salesforce configured for real; Kantata half-configured (no token): the sandbox replaces it whole.
    SALESFORCE_INSTANCE_URL: 'https://acme.my.salesforce.com',
    SALESFORCE_CLIENT_ID: '3MVG9-ck',
    SALESFORCE_CLIENT_SECRET: 'sf-secret',
    KANTATA_BASE_URL: 'https://api.mavenlink.com/api/v1',
  });
  const filled = connectorsConfigFromEnv(withSandboxVendors(config, 'http://127.0.0.1:8090/') as unknown as Record<string, string | undefined>);
  expect(filled.salesforce).toMatchObject({ instanceUrl: 'https://acme.my.salesforce.com', tokenUrl: 'https://login.salesforce.com/services/oauth2/token', clientId: '3MVG9-ck' });
  expect(filled.kantata!.baseUrl).toBe('http://127.0.0.1:8090/kantata/api/v1');
  expect(await filled.kantata!.token.get()).toBe(sandboxConnectorEnv('http://127.0.0.1:8090').KANTATA_TOKEN);
  expect(filled.docusign).toMatchObject({ baseUrl: 'http://127.0.0.1:8090/docusign', tokenUrl: 'http://127.0.0.1:8090/docusign/oauth/token', audience: 'account-d.docusign.com' });
  expect([filled.netsuite?.baseUrl, filled.stripe?.baseUrl, filled.avalara?.baseUrl]).toEqual(['http://127.0.0.1:8090/netsuite', 'http://127.0.0.1:8090/stripe', 'http://127.0.0.1:8090/avalara']);
  // The configuration itself is not changed.
  expect(config.KANTATA_TOKEN).toBeUndefined();
});
