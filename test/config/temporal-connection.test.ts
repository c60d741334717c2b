import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, parseConfig } from '../../src/config';
import { temporalConnectionOptions, TemporalConnectionError } from '../../src/temporal/connection';

const dir = mkdtempSync(path.join(tmpdir(), 'q2c-temporal-'));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};
const CERT = file('client.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
const KEY = file('client.key', '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n');
const CA = file('ca.pem', '-----BEGIN CERTIFICATE-----\nCAFE\n-----END CERTIFICATE-----\n');
const PROFILES = file(
  'temporal.toml',
  `[profile.default]
address = "default.example:7233"

[profile.prod]
address = "q2c.a1b2c.tmprl.cloud:7233"
namespace = "q2c.a1b2c"

[profile.prod.tls]
client_cert_path = "${CERT}"
client_key_path = "${KEY}"
server_name = "q2c.a1b2c.tmprl.cloud"

[profile.prod.grpc_meta]
x-team = "finance-ops"

[profile.cloud]
address = "eu-west-1.aws.api.temporal.io:7233"
namespace = "q2c.a1b2c"
api_key = "profile-key"
`,
);

describe('Temporal connection settings (one resolution for service, worker and CLI)', () => {
  it('defaults to the local dev server, in plaintext, with no profile file', () => {
    const c = parseConfig({});
    expect(c.TEMPORAL_ADDRESS).toBe('localhost:7233');
    expect(c.TEMPORAL_NAMESPACE).toBe('default');
    expect(c.temporal).toEqual({ address: 'localhost:7233', namespace: 'default' });
    expect(temporalConnectionOptions(c.temporal)).toEqual({ address: 'localhost:7233' });
  });

  it('reads a profile from TEMPORAL_CONFIG_FILE + TEMPORAL_PROFILE: address, namespace, mTLS files, server name, gRPC metadata', () => {
    const c = parseConfig({ TEMPORAL_CONFIG_FILE: PROFILES, TEMPORAL_PROFILE: 'prod' });
    expect(c.TEMPORAL_ADDRESS).toBe('q2c.a1b2c.tmprl.cloud:7233');
    expect(c.TEMPORAL_NAMESPACE).toBe('q2c.a1b2c');
    expect(c.temporal.profile).toEqual({ name: 'prod', file: PROFILES });
    const opts = temporalConnectionOptions(c.temporal);
    expect(opts.address).toBe('q2c.a1b2c.tmprl.cloud:7233');
    expect(opts.metadata).toEqual({ 'x-team': 'finance-ops' });
    const tls = opts.tls as { clientCertPair: { crt: Buffer; key: Buffer }; serverNameOverride: string };
    expect(tls.clientCertPair.crt.toString()).toContain('MIIB');
    expect(tls.clientCertPair.key.toString()).toContain('MIIE');
    expect(tls.serverNameOverride).toBe('q2c.a1b2c.tmprl.cloud');
    expect(opts.apiKey).toBeUndefined();
  });

  it('lets each TEMPORAL_* variable override the profile (as the Temporal CLI does), and uses the default profile without TEMPORAL_PROFILE', () => {
    const c = parseConfig({ TEMPORAL_CONFIG_FILE: PROFILES, TEMPORAL_PROFILE: 'prod', TEMPORAL_NAMESPACE: 'q2c-staging', TEMPORAL_TLS_SERVER_CA_CERT_PATH: CA });
    expect(c.TEMPORAL_ADDRESS).toBe('q2c.a1b2c.tmprl.cloud:7233');
    expect(c.TEMPORAL_NAMESPACE).toBe('q2c-staging');
    const tls = temporalConnectionOptions(c.temporal).tls as { serverRootCACertificate: Buffer; clientCertPair: unknown };
    expect(tls.serverRootCACertificate.toString()).toContain('CAFE');
    expect(tls.clientCertPair).toBeDefined();

    expect(parseConfig({ TEMPORAL_CONFIG_FILE: PROFILES }).TEMPORAL_ADDRESS).toBe('default.example:7233');
    expect(parseConfig({ TEMPORAL_CONFIG_FILE: PROFILES, TEMPORAL_ADDRESS: 'temporal.internal:7233' }).TEMPORAL_ADDRESS).toBe('temporal.internal:7233');
  });

  it('an API key (from the profile or TEMPORAL_API_KEY) connects over TLS with the system roots', () => {
    const fromProfile = parseConfig({ TEMPORAL_CONFIG_FILE: PROFILES, TEMPORAL_PROFILE: 'cloud' });
    expect(temporalConnectionOptions(fromProfile.temporal)).toEqual({ address: 'eu-west-1.aws.api.temporal.io:7233', apiKey: 'profile-key', tls: true });
    const fromEnv = parseConfig({ TEMPORAL_ADDRESS: 'eu-west-1.aws.api.temporal.io:7233', TEMPORAL_API_KEY: 'env-key' });
    expect(fromEnv.TEMPORAL_API_KEY).toBe('env-key');
    expect(temporalConnectionOptions(fromEnv.temporal)).toEqual({ address: 'eu-west-1.aws.api.temporal.io:7233', apiKey: 'env-key', tls: true });
    // TEMPORAL_TLS=false turns TLS off even with a key (a plaintext proxy in front of the cluster).
    expect(temporalConnectionOptions(parseConfig({ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' }).temporal).tls).toBe(false);
  });

  it("keeps q2c's older TEMPORAL_TLS_CERT / _KEY / _CA names working, and refuses one that contradicts the new name", () => {
    const c = parseConfig({ TEMPORAL_ADDRESS: 'temporal.internal:7233', TEMPORAL_TLS_CERT: CERT, TEMPORAL_TLS_KEY: KEY, TEMPORAL_TLS_CA: CA });
    const tls = temporalConnectionOptions(c.temporal).tls as { clientCertPair: { crt: Buffer; key: Buffer }; serverRootCACertificate: Buffer };
    expect(tls.clientCertPair.crt.toString()).toContain('MIIB');
    expect(tls.serverRootCACertificate.toString()).toContain('CAFE');
    expect(() => parseConfig({ TEMPORAL_TLS_CERT: CERT, TEMPORAL_TLS_CLIENT_CERT_PATH: CA, TEMPORAL_TLS_KEY: KEY })).toThrow(
      'TEMPORAL_TLS_CERT: conflicts with TEMPORAL_TLS_CLIENT_CERT_PATH',
    );
  });

  it('names the variable and the file when a certificate cannot be read or is not PEM', () => {
    const missing = parseConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: path.join(dir, 'nope.pem'), TEMPORAL_TLS_CLIENT_KEY_PATH: KEY });
    expect(() => temporalConnectionOptions(missing.temporal)).toThrow(TemporalConnectionError);
    expect(() => temporalConnectionOptions(missing.temporal)).toThrow(`TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read ${path.join(dir, 'nope.pem')} (no such file)`);

    const notPem = parseConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: CERT, TEMPORAL_TLS_CLIENT_KEY_PATH: PROFILES });
    expect(() => temporalConnectionOptions(notPem.temporal)).toThrow(`TEMPORAL_TLS_CLIENT_KEY_PATH: ${PROFILES} is not a PEM certificate or key`);

    // A legacy name is named as it was given.
    const legacy = parseConfig({ TEMPORAL_TLS_CERT: CERT, TEMPORAL_TLS_KEY: KEY, TEMPORAL_TLS_CA: path.join(dir, 'gone-ca.pem') });
    expect(() => temporalConnectionOptions(legacy.temporal)).toThrow(`TEMPORAL_TLS_CA: cannot read ${path.join(dir, 'gone-ca.pem')} (no such file)`);

    // From a profile: the key, the profile and the file.
    const badProfile = file('bad.toml', `[profile.prod.tls]\nclient_cert_path = "${path.join(dir, 'lost.pem')}"\nclient_key_path = "${KEY}"\n`);
    const fromProfile = parseConfig({ TEMPORAL_CONFIG_FILE: badProfile, TEMPORAL_PROFILE: 'prod' });
    expect(() => temporalConnectionOptions(fromProfile.temporal)).toThrow(`tls.client_cert_path of profile "prod" in ${badProfile}: cannot read ${path.join(dir, 'lost.pem')} (no such file)`);
  });

  it('refuses at configuration time: a missing profile file, an unknown profile, a certificate without its key, a bad TEMPORAL_TLS', () => {
    const problems = (env: Record<string, string>) => {
      try {
        parseConfig(env);
      } catch (err) {
        return (err as ConfigError).problems;
      }
      throw new Error('parsed');
    };
    expect(problems({ TEMPORAL_CONFIG_FILE: path.join(dir, 'missing.toml') })).toEqual([`TEMPORAL_CONFIG_FILE: no file at ${path.join(dir, 'missing.toml')}`]);
    expect(problems({ TEMPORAL_CONFIG_FILE: PROFILES, TEMPORAL_PROFILE: 'staging' })).toEqual([`TEMPORAL_PROFILE=staging (${PROFILES}): Profile 'staging' not found in config data`]);
    expect(problems({ TEMPORAL_TLS_CLIENT_CERT_PATH: CERT })).toEqual([
      'TEMPORAL_TLS_CLIENT_CERT_PATH: a client certificate needs its key and the key its certificate (TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH)',
    ]);
    expect(problems({ TEMPORAL_TLS: 'yes' })).toEqual(['TEMPORAL_TLS: must be true or false']);
    expect(problems({ TEMPORAL_PROFILE: 'prod', HOME: dir })).toEqual([
      `TEMPORAL_PROFILE: no profile file to read profile "prod" from (${dir}/.config/temporalio/temporal.toml does not exist; set TEMPORAL_CONFIG_FILE)`,
    ]);
  });

  it('finds the default profile file where the Temporal CLI keeps it ($XDG_CONFIG_HOME/temporalio/temporal.toml)', () => {
    const xdg = mkdtempSync(path.join(tmpdir(), 'q2c-xdg-'));
    mkdirSync(path.join(xdg, 'temporalio'));
    writeFileSync(path.join(xdg, 'temporalio', 'temporal.toml'), '[profile.default]\naddress = "from-xdg:7233"\nnamespace = "ops"\n');
    const c = parseConfig({ XDG_CONFIG_HOME: xdg });
    expect([c.TEMPORAL_ADDRESS, c.TEMPORAL_NAMESPACE]).toEqual(['from-xdg:7233', 'ops']);
    expect(c.temporal.profile).toEqual({ name: 'default', file: path.join(xdg, 'temporalio', 'temporal.toml') });
  });
});
