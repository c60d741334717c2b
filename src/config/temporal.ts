import { existsSync } from 'node:fs';
import { loadClientConfigProfile, type ClientConfigProfile, type ConfigDataSource } from '@temporalio/envconfig';

/**
 * The Temporal connection settings every process uses (service, worker, CLI), resolved the
 * way the Temporal CLI resolves them (@temporalio/envconfig): a profile from the TOML file
 * (TEMPORAL_CONFIG_FILE, else ~/.config/temporalio/temporal.toml; profile TEMPORAL_PROFILE,
 * else `default`), each TEMPORAL_* variable overriding the profile's value, then q2c's defaults.
 * q2c's older names TEMPORAL_TLS_CERT / _KEY / _CA still work as aliases of
 * TEMPORAL_TLS_CLIENT_CERT_PATH / _CLIENT_KEY_PATH / _SERVER_CA_CERT_PATH.
 */
export const TEMPORAL_ENV_KEYS = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_API_KEY',
  'TEMPORAL_PROFILE',
  'TEMPORAL_CONFIG_FILE',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_CERT_DATA',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_DATA',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_TLS_CERT',
  'TEMPORAL_TLS_KEY',
  'TEMPORAL_TLS_CA',
] as const;

export const DEFAULT_TEMPORAL_ADDRESS = 'localhost:7233';
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';

/** q2c's earlier variable -> the Temporal CLI's name for the same file. */
const LEGACY_TLS = {
  TEMPORAL_TLS_CERT: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  TEMPORAL_TLS_KEY: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
  TEMPORAL_TLS_CA: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
} as const;

/** A PEM given as a file or inline, and where the setting came from (for error messages). */
export type PemSource = ({ path: string } | { data: string }) & { from: string };

export interface TemporalSettings {
  address: string;
  namespace: string;
  apiKey?: string;
  /** undefined: plaintext unless an API key is set (then TLS with the system roots); false: TLS forced off. */
  tls?:
    | false
    | {
        serverName?: string;
        clientCert?: PemSource;
        clientKey?: PemSource;
        serverCaCert?: PemSource;
      };
  /** gRPC metadata from the profile's grpc_meta table. */
  metadata?: Record<string, string>;
  /** The profile file that contributed, if any (for logs and errors; never secrets). */
  profile?: { name: string; file?: string };
}

type Env = Partial<Record<(typeof TEMPORAL_ENV_KEYS)[number] | 'HOME' | 'XDG_CONFIG_HOME' | 'APPDATA', string>>;

export type TemporalSettingsResult = { ok: true; settings: TemporalSettings } | { ok: false; problems: string[] };

/**
 * Resolves the settings from an already-parsed environment (empty values already removed).
 * Reads the profile file (not the certificates: src/temporal/connection.ts reads those and
 * names the setting when one is missing). Pure apart from that one read.
 */
export function resolveTemporalSettings(env: Env): TemporalSettingsResult {
  const problems: string[] = [];
  const vars: Record<string, string> = {};
  /** The older q2c name a value was given under, to name it in errors. */
  const givenAs: Record<string, string> = {};
  for (const key of [...TEMPORAL_ENV_KEYS, 'HOME', 'XDG_CONFIG_HOME', 'APPDATA'] as const) {
    const value = env[key];
    if (value !== undefined && !(key in LEGACY_TLS)) vars[key] = value;
  }
  for (const [legacy, name] of Object.entries(LEGACY_TLS) as Array<[keyof typeof LEGACY_TLS, string]>) {
    const value = env[legacy];
    if (value === undefined) continue;
    if (vars[name] !== undefined && vars[name] !== value) problems.push(`${legacy}: conflicts with ${name} (set one; ${legacy} is the older name of ${name})`);
    else if (vars[name] === undefined) {
      vars[name] = value;
      givenAs[name] = legacy;
    }
  }
  if (vars.TEMPORAL_CONFIG_FILE !== undefined && !existsSync(vars.TEMPORAL_CONFIG_FILE)) {
    problems.push(`TEMPORAL_CONFIG_FILE: no file at ${vars.TEMPORAL_CONFIG_FILE}`);
  }
  if (vars.TEMPORAL_TLS !== undefined && !['true', 'false', '1', '0'].includes(vars.TEMPORAL_TLS)) problems.push('TEMPORAL_TLS: must be true or false');
  if (problems.length) return { ok: false, problems };

  const file = vars.TEMPORAL_CONFIG_FILE ?? defaultProfileFile(vars);
  const profileName = vars.TEMPORAL_PROFILE ?? 'default';
  if (vars.TEMPORAL_PROFILE !== undefined && (!file || !existsSync(file))) {
    return { ok: false, problems: [`TEMPORAL_PROFILE: no profile file to read profile "${profileName}" from (${file ? `${file} does not exist` : 'no home directory'}; set TEMPORAL_CONFIG_FILE)`] };
  }
  let fromFile: ClientConfigProfile;
  let merged: ClientConfigProfile;
  try {
    fromFile = loadClientConfigProfile({ overrideEnvVars: vars, disableEnv: true });
    merged = loadClientConfigProfile({ overrideEnvVars: vars });
  } catch (err) {
    // envconfig's messages name the key or profile; say which file and variable led there.
    const where = vars.TEMPORAL_PROFILE !== undefined ? `TEMPORAL_PROFILE=${vars.TEMPORAL_PROFILE}` : 'the Temporal profile';
    return { ok: false, problems: [`${where} (${file ?? 'no profile file'}): ${(err as Error).message}`] };
  }
  const fileUsed = Object.keys(fromFile).length > 0;
  const source = (ds: ConfigDataSource | undefined, envPath: string, envData: string, tomlKey: string): PemSource | undefined => {
    if (!ds) return undefined;
    const fromEnv = 'path' in ds ? vars[envPath] === ds.path : vars[envData] !== undefined;
    const from = fromEnv ? ('path' in ds ? (givenAs[envPath] ?? envPath) : envData) : `tls.${tomlKey}_${'path' in ds ? 'path' : 'data'} of profile "${profileName}" in ${file}`;
    return 'path' in ds ? { path: ds.path, from } : { data: typeof ds.data === 'string' ? ds.data : Buffer.from(ds.data).toString('utf8'), from };
  };
  const tls = merged.tls;
  const settings: TemporalSettings = {
    address: merged.address ?? DEFAULT_TEMPORAL_ADDRESS,
    namespace: merged.namespace ?? DEFAULT_TEMPORAL_NAMESPACE,
    ...(merged.apiKey !== undefined ? { apiKey: merged.apiKey } : {}),
    ...(tls
      ? {
          tls: tls.disabled
            ? false
            : dropUndefined({
                serverName: tls.serverName,
                clientCert: source(tls.clientCert, 'TEMPORAL_TLS_CLIENT_CERT_PATH', 'TEMPORAL_TLS_CLIENT_CERT_DATA', 'client_cert'),
                clientKey: source(tls.clientKey, 'TEMPORAL_TLS_CLIENT_KEY_PATH', 'TEMPORAL_TLS_CLIENT_KEY_DATA', 'client_key'),
                serverCaCert: source(tls.serverCACert, 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', 'TEMPORAL_TLS_SERVER_CA_CERT_DATA', 'server_ca_cert'),
              }),
        }
      : {}),
    ...(merged.grpcMeta && Object.keys(merged.grpcMeta).length ? { metadata: merged.grpcMeta } : {}),
    ...(fileUsed ? { profile: { name: profileName, ...(file ? { file } : {}) } } : {}),
  };
  const t = settings.tls;
  if (t && Boolean(t.clientCert) !== Boolean(t.clientKey)) {
    const has = t.clientCert ?? t.clientKey!;
    return { ok: false, problems: [`${has.from}: a client certificate needs its key and the key its certificate (TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH)`] };
  }
  return { ok: true, settings };
}

/** The Temporal CLI's default profile file on this platform's layout (Linux: $XDG_CONFIG_HOME or ~/.config). */
function defaultProfileFile(vars: Record<string, string>): string | undefined {
  if (process.platform === 'win32') return vars.APPDATA && `${vars.APPDATA}\\temporalio\\temporal.toml`;
  if (process.platform === 'darwin') return vars.HOME && `${vars.HOME}/Library/Application Support/temporalio/temporal.toml`;
  const dir = vars.XDG_CONFIG_HOME ?? (vars.HOME && `${vars.HOME}/.config`);
  return dir && `${dir}/temporalio/temporal.toml`;
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
