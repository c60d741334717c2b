import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config';
import { connectorsConfigFromEnv, type ConnectorsConfig } from '../connectors';
import { AVALARA_SANDBOX } from '../sandbox/avalara/avalara.sandbox';
import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_DOCUSIGN_ACCOUNT_ID, SANDBOX_DOCUSIGN_HMAC_KEYS, SANDBOX_JWT_PRIVATE_KEY, SANDBOX_KANTATA_TOKENS } from '../sandbox/credentials';
import { DOCUSIGN_SANDBOX_AUDIENCE, DOCUSIGN_SANDBOX_USER_ID } from '../sandbox/docusign/docusign.sandbox';
import { NETSUITE_SANDBOX } from '../sandbox/netsuite/netsuite.credentials';
import { STRIPE_SANDBOX } from '../sandbox/stripe/stripe.sandbox';

/** The secrets the local stack needs; generated once per checkout, never committed (.q2c is git-ignored). */
const GENERATED: Record<string, () => string> = {
  Q2C_PAYLOAD_KEYS: () => `dev1:${randomBytes(32).toString('base64')}`,
  Q2C_WEBHOOK_SECRET_SALESFORCE: () => randomBytes(24).toString('hex'),
  Q2C_WEBHOOK_SECRET_KANTATA: () => randomBytes(24).toString('hex'),
  // The vendor sandboxes sign their webhooks with their own fixed keys.
  Q2C_DOCUSIGN_CONNECT_KEYS: () => SANDBOX_DOCUSIGN_HMAC_KEYS.join(','),
  STRIPE_WEBHOOK_SECRET: () => STRIPE_SANDBOX.webhookSecret,
  Q2C_OPERATOR_API_KEYS: () => `dev-operator:read+operate:${randomBytes(24).toString('hex')},${devController()}`,
  Q2C_CONSOLE_SESSION_KEY: () => randomBytes(32).toString('base64'),
};

/** A second dev key for approvals (an approver cannot approve their own rule-set proposal). */
const devController = () => `dev-controller:approve:${randomBytes(24).toString('hex')}`;

/**
 * Reads `<dataDir>/dev-secrets.json`, adding any secret it lacks. These are
 * defaults for the dev stack only: a variable set in the environment wins.
 */
export function ensureDevSecrets(dataDir: string): Record<string, string> {
  const file = path.join(dataDir, 'dev-secrets.json');
  const current: Record<string, string> = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>) : {};
  let changed = false;
  for (const [name, make] of Object.entries(GENERATED)) {
    if (!current[name]) {
      current[name] = make();
      changed = true;
    }
  }
  // Dev secrets written before the approve scope existed get the approver's key.
  if (current.Q2C_OPERATOR_API_KEYS && !/:[a-z+]*approve[a-z+]*:/.test(current.Q2C_OPERATOR_API_KEYS)) {
    current.Q2C_OPERATOR_API_KEYS += `,${devController()}`;
    changed = true;
  }
  if (changed) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(current, null, 2) + '\n', { mode: 0o600 });
  }
  return current;
}

type Vendor = 'salesforce' | 'docusign' | 'kantata' | 'netsuite' | 'stripe' | 'avalara';
/** Each vendor's configuration variables start with its prefix (src/config CONNECTOR_ENV_KEYS). */
const VENDOR_PREFIX: Record<Vendor, string> = { salesforce: 'SALESFORCE_', docusign: 'DOCUSIGN_', kantata: 'KANTATA_', netsuite: 'NETSUITE_', stripe: 'STRIPE_', avalara: 'AVALARA_' };

/**
 * The vendor sandboxes at `sandboxUrl` as configuration: the same variables a
 * real vendor is configured with, carrying the sandbox's URLs and its fixed,
 * documented credentials (src/sandbox/credentials.ts). Dev stack and tests only.
 */
export function sandboxConnectorEnv(sandboxUrl: string): Record<string, string> {
  const b = sandboxUrl.replace(/\/+$/, '');
  return {
    SALESFORCE_INSTANCE_URL: `${b}/salesforce`,
    SALESFORCE_TOKEN_URL: `${b}/salesforce/services/oauth2/token`,
    SALESFORCE_CLIENT_ID: SANDBOX_CLIENT_ID,
    SALESFORCE_CLIENT_SECRET: SANDBOX_CLIENT_SECRET,
    DOCUSIGN_BASE_URL: `${b}/docusign`,
    DOCUSIGN_ACCOUNT_ID: SANDBOX_DOCUSIGN_ACCOUNT_ID,
    DOCUSIGN_TOKEN_URL: `${b}/docusign/oauth/token`,
    DOCUSIGN_OAUTH_HOST: DOCUSIGN_SANDBOX_AUDIENCE,
    DOCUSIGN_INTEGRATION_KEY: SANDBOX_CLIENT_ID,
    DOCUSIGN_USER_ID: DOCUSIGN_SANDBOX_USER_ID,
    DOCUSIGN_PRIVATE_KEY: SANDBOX_JWT_PRIVATE_KEY,
    KANTATA_BASE_URL: `${b}/kantata/api/v1`,
    KANTATA_TOKEN: SANDBOX_KANTATA_TOKENS[0],
    NETSUITE_BASE_URL: `${b}/netsuite`,
    NETSUITE_CLIENT_ID: NETSUITE_SANDBOX.clientId,
    NETSUITE_CERTIFICATE_ID: NETSUITE_SANDBOX.certificateId,
    NETSUITE_PRIVATE_KEY: NETSUITE_SANDBOX.privateKeyPem,
    NETSUITE_SERVICE_ITEM_ID: NETSUITE_SANDBOX.serviceItemId,
    NETSUITE_DEFERRED_REVENUE_ACCOUNT_ID: NETSUITE_SANDBOX.deferredRevenueAccountId,
    NETSUITE_REVENUE_ACCOUNT_ID: NETSUITE_SANDBOX.revenueAccountId,
    STRIPE_BASE_URL: `${b}/stripe`,
    STRIPE_API_KEY: STRIPE_SANDBOX.apiKey,
    STRIPE_WEBHOOK_SECRET: STRIPE_SANDBOX.webhookSecret,
    AVALARA_BASE_URL: `${b}/avalara`,
    AVALARA_ACCOUNT_ID: AVALARA_SANDBOX.accountId,
    AVALARA_LICENSE_KEY: AVALARA_SANDBOX.licenseKey,
    AVALARA_COMPANY_CODE: AVALARA_SANDBOX.companyCode,
  };
}

/** Every vendor's settings for the sandbox at `sandboxUrl` (tests, benchmarks). */
export function sandboxConnectorsConfig(sandboxUrl: string): Required<Pick<ConnectorsConfig, Vendor>> {
  const c = connectorsConfigFromEnv(sandboxConnectorEnv(sandboxUrl));
  const vendor = <V extends Vendor>(v: V): NonNullable<ConnectorsConfig[V]> => c[v] ?? missingSandboxSetting(v);
  return { salesforce: vendor('salesforce'), docusign: vendor('docusign'), kantata: vendor('kantata'), netsuite: vendor('netsuite'), stripe: vendor('stripe'), avalara: vendor('avalara') };
}

const missingSandboxSetting = (vendor: string): never => {
  throw new Error(`sandboxConnectorEnv lacks a setting connectorsConfigFromEnv needs for ${vendor}`);
};

/**
 * `config` with every vendor that has no complete settings of its own pointed
 * at the sandbox at `sandboxUrl` (its variables replace the vendor's partial
 * ones, so a real token URL never meets a sandbox host). Vendors configured
 * for real are left as they are.
 */
export function withSandboxVendors(config: Config, sandboxUrl: string): Config {
  const own = connectorsConfigFromEnv(config as unknown as Record<string, string | undefined>);
  const sandbox = Object.entries(sandboxConnectorEnv(sandboxUrl));
  const out: Record<string, unknown> = { ...config };
  for (const [vendor, prefix] of Object.entries(VENDOR_PREFIX) as Array<[Vendor, string]>) {
    if (own[vendor]) continue;
    for (const key of Object.keys(out)) if (key.startsWith(prefix)) delete out[key];
    for (const [key, value] of sandbox) if (key.startsWith(prefix)) out[key] = value;
  }
  return out as Config;
}

/**
 * What `q2c up` prints about the operator console: its URL and the keys to sign in with,
 * by name and scope only (the keys themselves stay in the secrets file or the environment).
 */
export function consoleBanner(serviceUrl: string, operatorKeys: string | undefined): string[] {
  const keys = (operatorKeys ?? '')
    .split(',')
    .map((e) => e.trim().split(':'))
    .filter((parts) => parts.length >= 3 && parts[0])
    .map(([name, scopes]) => `${name} (${scopes})`);
  return [
    `Operator console: ${serviceUrl.replace(/\/+$/, '')}/console`,
    keys.length
      ? `  sign in with an operator key: ${keys.join(', ')} — the keys are in Q2C_OPERATOR_API_KEYS (dev stack: .q2c/dev-secrets.json, name:scopes:key)`
      : '  no operator keys configured (Q2C_OPERATOR_API_KEYS): nobody can sign in',
  ];
}
