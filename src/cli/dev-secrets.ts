import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SANDBOX_DOCUSIGN_HMAC_KEYS } from '../sandbox/credentials';
import { STRIPE_SANDBOX } from '../sandbox/stripe/stripe.sandbox';

/** The secrets the local stack needs; generated once per checkout, never committed (.q2c is git-ignored). */
const GENERATED: Record<string, () => string> = {
  Q2C_PAYLOAD_KEYS: () => `dev1:${randomBytes(32).toString('base64')}`,
  Q2C_WEBHOOK_SECRET_SALESFORCE: () => randomBytes(24).toString('hex'),
  Q2C_WEBHOOK_SECRET_KANTATA: () => randomBytes(24).toString('hex'),
  // The vendor sandboxes sign their webhooks with their own fixed keys.
  Q2C_DOCUSIGN_CONNECT_KEYS: () => SANDBOX_DOCUSIGN_HMAC_KEYS.join(','),
  STRIPE_WEBHOOK_SECRET: () => STRIPE_SANDBOX.webhookSecret,
  Q2C_OPERATOR_API_KEYS: () => `dev-operator:read+operate:${randomBytes(24).toString('hex')}`,
};

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
  if (changed) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(current, null, 2) + '\n', { mode: 0o600 });
  }
  return current;
}
