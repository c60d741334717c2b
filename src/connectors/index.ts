import type { Logger } from 'pino';
import type { BillingPort } from './billing/billing.port';
import { createStripeAdapter, type StripeConnectionConfig } from './billing/stripe.adapter';
import type { ClmPort } from './clm/clm.port';
import { createDocuSignHttp, DocuSignClmAdapter } from './clm/docusign.adapter';
import type { CrmPort } from './crm/crm.port';
import { createSalesforceHttp, SalesforceCrmAdapter } from './crm/salesforce.adapter';
import type { ErpPort } from './erp/erp.port';
import { createNetSuiteAdapter, type NetSuiteConnectionConfig } from './erp/netsuite.adapter';
import { bearerTokenAuth, ClientCredentialsAuth, JwtBearerAuth, secretFromSpec, TokenBucket, type AuthProvider, type SecretSource } from './http';
import { createKantataHttp, KantataPsaAdapter } from './psa/kantata.adapter';
import type { PsaPort } from './psa/psa.port';
import { createAvalaraAdapter, type AvalaraConnectionConfig } from './tax/avalara.adapter';
import type { TaxPort } from './tax/tax.port';

export interface Connectors {
  crm: CrmPort;
  clm: ClmPort;
  psa: PsaPort;
  erp: ErpPort;
  billing: BillingPort;
  tax: TaxPort;
}

export interface SalesforceConnectionConfig {
  /** https://<my-domain>.my.salesforce.com, or `${sandbox}/salesforce`. */
  instanceUrl: string;
  apiVersion?: string;
  /** https://login.salesforce.com/services/oauth2/token (or the My Domain token URL). */
  tokenUrl: string;
  clientId: string;
  /** Client-credentials flow. */
  clientSecret?: SecretSource;
  /** JWT-bearer flow (preferred in production): the user to act as and the connected app's certificate key. */
  jwt?: { subject: string; audience: string; privateKey: SecretSource };
  queryBatchSize?: number;
}

export interface DocuSignConnectionConfig {
  /** The account's base_uri, e.g. https://demo.docusign.net, or `${sandbox}/docusign`. */
  baseUrl: string;
  accountId: string;
  /** https://account-d.docusign.com/oauth/token (demo) or https://account.docusign.com/oauth/token. */
  tokenUrl: string;
  /** 'account-d.docusign.com' or 'account.docusign.com'. */
  audience: string;
  integrationKey: string;
  userId: string;
  privateKey: SecretSource;
}

export interface KantataConnectionConfig {
  /** https://api.mavenlink.com/api/v1, or `${sandbox}/kantata/api/v1`. */
  baseUrl: string;
  token: SecretSource;
}

/**
 * Every vendor's settings, from configuration (`connectorsConfigFromEnv`). This
 * module knows no sandbox: the dev stack supplies the sandbox's URLs and
 * credentials as configuration (src/cli/dev-secrets.ts `withSandboxVendors`).
 */
export interface ConnectorsConfig {
  logger?: Logger;
  timeoutMs?: number;
  /** Requests this process keeps in flight to the ERP (its share of the account's concurrency limit). */
  erpConcurrency?: number;
  salesforce?: SalesforceConnectionConfig;
  docusign?: DocuSignConnectionConfig;
  kantata?: KantataConnectionConfig;
  netsuite?: NetSuiteConnectionConfig;
  stripe?: StripeConnectionConfig;
  avalara?: AvalaraConnectionConfig;
}

const missing = (vendor: string): never => {
  throw new Error(`connector ${vendor} is not configured: set its variables (docs/connectors.md)`);
};

/**
 * Builds every port's adapter from configuration: the same adapters talk to
 * the real vendors or to the sandbox, only URLs and credentials differ.
 * Rate limits are the vendors' documented ones, one bucket per system; NetSuite is
 * governed by requests in flight (`erpConcurrency`), as NetSuite governs an account.
 */
export function createConnectors(config: ConnectorsConfig): Connectors {
  const log = (system: string) => config.logger?.child({ system });
  const common = (system: string) => ({ ...(log(system) ? { logger: log(system)! } : {}), ...(config.timeoutMs ? { timeoutMs: config.timeoutMs } : {}) });

  const sf = config.salesforce ?? missing('salesforce');
  const sfAuth: AuthProvider = sf.jwt
    ? new JwtBearerAuth({ tokenUrl: sf.tokenUrl, issuer: sf.clientId, subject: sf.jwt.subject, audience: sf.jwt.audience, privateKey: sf.jwt.privateKey })
    : new ClientCredentialsAuth({ tokenUrl: sf.tokenUrl, clientId: sf.clientId, clientSecret: sf.clientSecret ?? missing('salesforce client secret') });
  // Salesforce counts API calls per 24 h rather than per second; 25 concurrent long-running calls is the hard limit.
  const crm = new SalesforceCrmAdapter(createSalesforceHttp({ instanceUrl: sf.instanceUrl, auth: sfAuth, rateLimiter: new TokenBucket({ capacity: 25, refillPerSecond: 25 }), ...common('salesforce') }), {
    apiVersion: sf.apiVersion ?? '60.0',
    ...(sf.queryBatchSize ? { queryBatchSize: sf.queryBatchSize } : {}),
  });

  const ds = config.docusign ?? missing('docusign');
  const dsAuth = new JwtBearerAuth({ tokenUrl: ds.tokenUrl, issuer: ds.integrationKey, subject: ds.userId, audience: ds.audience, privateKey: ds.privateKey, scope: 'signature impersonation', assertionTtlSeconds: 3600 });
  // DocuSign: 3,000 calls per hour per account, at most 500 in any 30 s.
  const clm = new DocuSignClmAdapter(createDocuSignHttp({ baseUrl: ds.baseUrl, auth: dsAuth, rateLimiter: new TokenBucket({ capacity: 500, refillPerSecond: 3000 / 3600 }), ...common('docusign') }), { accountId: ds.accountId });

  const kt = config.kantata ?? missing('kantata');
  const psa = new KantataPsaAdapter(createKantataHttp({ baseUrl: kt.baseUrl, auth: bearerTokenAuth(kt.token), rateLimiter: new TokenBucket({ capacity: 10, refillPerSecond: 5 }), ...common('kantata') }));

  const erp = createNetSuiteAdapter({ ...(config.netsuite ?? missing('netsuite')), ...(config.erpConcurrency ? { concurrency: config.erpConcurrency } : {}), ...common('netsuite') });
  const billing = createStripeAdapter({ ...(config.stripe ?? missing('stripe')), ...common('stripe') });
  const tax = createAvalaraAdapter({ ...(config.avalara ?? missing('avalara')), ...common('avalara') });

  return { crm, clm, psa, erp, billing, tax };
}

type Env = Readonly<Record<string, string | undefined>>;
const val = (env: Env, name: string): string | undefined => {
  const v = env[name]?.trim();
  return v ? v : undefined;
};
/** A secret from env: `file:/path` reads (and on rotation re-reads) a file, otherwise the value itself. */
const secret = (env: Env, name: string): SecretSource | undefined => {
  const v = val(env, name);
  return v === undefined ? undefined : secretFromSpec(v, name);
};

/**
 * Per-vendor settings from environment variables (see docs/connectors.md).
 * Pass the parsed environment from src/config; a vendor whose required variables
 * are unset is left out (createConnectors then refuses to start without it).
 */
export function connectorsConfigFromEnv(env: Env): Omit<ConnectorsConfig, 'logger'> {
  const out: Omit<ConnectorsConfig, 'logger'> = {};
  const sfUrl = val(env, 'SALESFORCE_INSTANCE_URL');
  const sfClient = val(env, 'SALESFORCE_CLIENT_ID');
  if (sfUrl && sfClient) {
    const key = secret(env, 'SALESFORCE_JWT_PRIVATE_KEY');
    const subject = val(env, 'SALESFORCE_JWT_SUBJECT');
    const clientSecret = secret(env, 'SALESFORCE_CLIENT_SECRET');
    out.salesforce = {
      instanceUrl: sfUrl,
      tokenUrl: val(env, 'SALESFORCE_TOKEN_URL') ?? 'https://login.salesforce.com/services/oauth2/token',
      clientId: sfClient,
      ...(val(env, 'SALESFORCE_API_VERSION') ? { apiVersion: val(env, 'SALESFORCE_API_VERSION')! } : {}),
      ...(key && subject ? { jwt: { subject, privateKey: key, audience: val(env, 'SALESFORCE_JWT_AUDIENCE') ?? 'https://login.salesforce.com' } } : {}),
      ...(clientSecret ? { clientSecret } : {}),
    };
  }

  const dsUrl = val(env, 'DOCUSIGN_BASE_URL');
  const dsKey = secret(env, 'DOCUSIGN_PRIVATE_KEY');
  const dsAccount = val(env, 'DOCUSIGN_ACCOUNT_ID');
  const dsIk = val(env, 'DOCUSIGN_INTEGRATION_KEY');
  const dsUser = val(env, 'DOCUSIGN_USER_ID');
  if (dsUrl && dsKey && dsAccount && dsIk && dsUser) {
    const oauthHost = val(env, 'DOCUSIGN_OAUTH_HOST') ?? 'account-d.docusign.com';
    out.docusign = { baseUrl: dsUrl, accountId: dsAccount, integrationKey: dsIk, userId: dsUser, privateKey: dsKey, audience: oauthHost, tokenUrl: val(env, 'DOCUSIGN_TOKEN_URL') ?? `https://${oauthHost}/oauth/token` };
  }

  const ktToken = secret(env, 'KANTATA_TOKEN');
  if (ktToken) out.kantata = { baseUrl: val(env, 'KANTATA_BASE_URL') ?? 'https://api.mavenlink.com/api/v1', token: ktToken };

  const nsUrl = val(env, 'NETSUITE_BASE_URL');
  const nsClient = val(env, 'NETSUITE_CLIENT_ID');
  const nsCert = secret(env, 'NETSUITE_CERTIFICATE_ID');
  const nsKey = secret(env, 'NETSUITE_PRIVATE_KEY');
  if (nsUrl && nsClient && nsCert && nsKey) {
    out.netsuite = {
      baseUrl: nsUrl,
      clientId: nsClient,
      certificateId: nsCert,
      privateKey: nsKey,
      mapping: { serviceItemId: val(env, 'NETSUITE_SERVICE_ITEM_ID') ?? '', deferredRevenueAccountId: val(env, 'NETSUITE_DEFERRED_REVENUE_ACCOUNT_ID') ?? '', revenueAccountId: val(env, 'NETSUITE_REVENUE_ACCOUNT_ID') ?? '' },
    };
  }

  const stripeKey = secret(env, 'STRIPE_API_KEY');
  const stripeHook = val(env, 'STRIPE_WEBHOOK_SECRET');
  if (stripeKey && stripeHook) out.stripe = { apiKey: stripeKey, webhookSecret: stripeHook, ...(val(env, 'STRIPE_BASE_URL') ? { baseUrl: val(env, 'STRIPE_BASE_URL')! } : {}) };

  const avAccount = secret(env, 'AVALARA_ACCOUNT_ID');
  const avLicense = secret(env, 'AVALARA_LICENSE_KEY');
  const avCompany = val(env, 'AVALARA_COMPANY_CODE');
  if (avAccount && avLicense && avCompany) out.avalara = { baseUrl: val(env, 'AVALARA_BASE_URL') ?? 'https://rest.avatax.com', accountId: avAccount, licenseKey: avLicense, companyCode: avCompany };
  return out;
}
