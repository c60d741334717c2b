import { z } from 'zod';
import { ERP_TASK_QUEUE } from '../contract/task-queues';
import { resolveTemporalSettings, TEMPORAL_ENV_KEYS, type TemporalSettings } from './temporal';

/** Empty strings count as unset, so `FOO=` in a .env file does not override a default. */
const optional = <T extends z.ZodTypeAny>(schema: T) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), schema.optional());

const port = z.coerce.number().int().min(1).max(65535);

/**
 * Vendor connection settings read by connectorsConfigFromEnv (src/connectors).
 * The dev CLI fills the ones a vendor lacks with its sandbox's (Q2C_SANDBOX_URL,
 * or the stack's own sandbox). Secrets may be given as `file:/path` (re-read on rotation).
 */
export const CONNECTOR_ENV_KEYS = [
  'AVALARA_ACCOUNT_ID',
  'AVALARA_BASE_URL',
  'AVALARA_COMPANY_CODE',
  'AVALARA_LICENSE_KEY',
  'DOCUSIGN_ACCOUNT_ID',
  'DOCUSIGN_BASE_URL',
  'DOCUSIGN_INTEGRATION_KEY',
  'DOCUSIGN_OAUTH_HOST',
  'DOCUSIGN_PRIVATE_KEY',
  'DOCUSIGN_TOKEN_URL',
  'DOCUSIGN_USER_ID',
  'KANTATA_BASE_URL',
  'KANTATA_TOKEN',
  'NETSUITE_BASE_URL',
  'NETSUITE_CERTIFICATE_ID',
  'NETSUITE_CLIENT_ID',
  'NETSUITE_DEFERRED_REVENUE_ACCOUNT_ID',
  'NETSUITE_PRIVATE_KEY',
  'NETSUITE_REVENUE_ACCOUNT_ID',
  'NETSUITE_SERVICE_ITEM_ID',
  'SALESFORCE_API_VERSION',
  'SALESFORCE_CLIENT_ID',
  'SALESFORCE_CLIENT_SECRET',
  'SALESFORCE_INSTANCE_URL',
  'SALESFORCE_JWT_AUDIENCE',
  'SALESFORCE_JWT_PRIVATE_KEY',
  'SALESFORCE_JWT_SUBJECT',
  'SALESFORCE_TOKEN_URL',
  'STRIPE_API_KEY',
  'STRIPE_BASE_URL',
] as const;
const connectorEnv = Object.fromEntries(CONNECTOR_ENV_KEYS.map((k) => [k, optional(z.string())])) as Record<(typeof CONNECTOR_ENV_KEYS)[number], ReturnType<typeof optional<z.ZodString>>>;

export const configSchema = z.object({
  NODE_ENV: optional(z.enum(['development', 'test', 'production'])).default('development'),
  LOG_LEVEL: optional(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])).default('info'),
  /** auto: one readable line per record for `q2c up` on a terminal, JSON lines everywhere else (worker, service, pipes). */
  LOG_FORMAT: optional(z.enum(['auto', 'json', 'pretty'])).default('auto'),
  /** PostgreSQL server; when unset, PGlite (in-process PostgreSQL) under Q2C_DATA_DIR. */
  DATABASE_URL: optional(z.string().regex(/^postgres(ql)?:\/\/\S+$/, 'must be one postgres:// or postgresql:// URL')),
  Q2C_DATA_DIR: optional(z.string()).default('.q2c'),
  /**
   * The Temporal connection: the Temporal CLI's variables and profiles (TEMPORAL_ADDRESS,
   * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE),
   * resolved with the profile file by ./temporal.ts into `temporal`; the defaults
   * (localhost:7233, default) apply after the profile.
   */
  ...Object.fromEntries(TEMPORAL_ENV_KEYS.map((k) => [k, optional(z.string())])) as Record<(typeof TEMPORAL_ENV_KEYS)[number], ReturnType<typeof optional<z.ZodString>>>,
  TEMPORAL_TASK_QUEUE: optional(z.string()).default('q2c'),
  /**
   * The ERP's rate-limited task queue: the ERP worker polls it and new deals schedule their ERP
   * activities on it (DealInput.erpTaskQueue). A deal keeps the name it was started with.
   */
  ERP_TASK_QUEUE: optional(z.string().regex(/^\S+$/, 'one task queue name, no spaces')).default(ERP_TASK_QUEUE),
  /**
   * The ERP account's concurrency limit: requests in flight across every process that calls it
   * (NetSuite governs concurrency; 5 at its base tier, more with SuiteCloud Plus licences).
   * Each worker process keeps at most ERP_CONCURRENCY / ERP_WORKERS requests in flight
   * (src/worker.ts erpSlotsPerWorker), so the account's governor is never tripped.
   */
  ERP_CONCURRENCY: optional(z.coerce.number().int().min(1)).default(5),
  /** How many worker processes share ERP_CONCURRENCY (each takes its whole-number share, at least one). */
  ERP_WORKERS: optional(z.coerce.number().int().min(1)).default(1),
  /**
   * An optional queue-wide rate limit of ERP activities per second (enforced by the Temporal
   * server across all workers of the queue). Unset: none, concurrency alone governs.
   */
  ERP_ACTIVITIES_PER_SECOND: optional(z.coerce.number().positive()),
  /**
   * Workflows the worker keeps cached (0 disables the cache: every task replays the history).
   * Unset: half the V8 heap at 1 MiB per cached deal (src/worker.ts defaultMaxCachedWorkflows).
   */
  WORKER_MAX_CACHED_WORKFLOWS: optional(z.coerce.number().int().min(0)),
  /** A workflow bundle built by `npm run build:workflows` (e.g. dist/workflow-bundle.js): the worker loads it instead of bundling at start. */
  WORKFLOW_BUNDLE: optional(z.string().min(1)),
  TEMPORAL_CLI: optional(z.string()),
  /** Searched for a `temporal` binary when .temporal/bin has none. */
  PATH: optional(z.string()),
  /** Where the Temporal CLI's default profile file lives (~/.config/temporalio/temporal.toml). */
  HOME: optional(z.string()),
  XDG_CONFIG_HOME: optional(z.string()),
  APPDATA: optional(z.string()),
  /**
   * The standalone worker's Prometheus endpoint for the Temporal SDK's own metrics
   * (`host:port`, GET /metrics); `off` disables it. Unset: 0.0.0.0:9464 for `npm run worker` /
   * `q2c worker`, none in the dev stack (`q2c up`), whose service serves /metrics.
   */
  WORKER_METRICS_ADDRESS: optional(z.union([z.literal('off'), z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'must be host:port (e.g. 0.0.0.0:9464) or off')])),
  /**
   * OpenTelemetry tracing, off unless configured the standard way (src/telemetry): OTLP when
   * OTEL_TRACES_EXPORTER=otlp or an OTLP endpoint is set; the exporter reads its other
   * OTEL_EXPORTER_OTLP_* settings (headers, timeout) itself.
   */
  OTEL_SDK_DISABLED: optional(z.enum(['true', 'false'])),
  OTEL_TRACES_EXPORTER: optional(z.string().regex(/^(otlp|console|none)(,(otlp|console|none))*$/, 'must be otlp, console or none (comma-separated)')),
  OTEL_EXPORTER_OTLP_ENDPOINT: optional(z.string().url()),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optional(z.string().url()),
  OTEL_SERVICE_NAME: optional(z.string()),
  /** Payload encryption keys, `id:base64(32 bytes)`, comma-separated, newest first (rotation). */
  Q2C_PAYLOAD_KEYS: optional(z.string()),
  /** Webhook signing secrets, comma-separated: several are valid at once during rotation. */
  Q2C_WEBHOOK_SECRET_SALESFORCE: optional(z.string()),
  Q2C_WEBHOOK_SECRET_KANTATA: optional(z.string()),
  Q2C_DOCUSIGN_CONNECT_KEYS: optional(z.string()),
  STRIPE_WEBHOOK_SECRET: optional(z.string()),
  /** Operator API keys: `name:scope[+scope]:key`, comma-separated; scopes read | operate | approve. */
  Q2C_OPERATOR_API_KEYS: optional(z.string()),
  /** base64 of 32 random bytes: encrypts the operator console's session cookie (unset: a random key per process, sessions end on restart). */
  Q2C_CONSOLE_SESSION_KEY: optional(z.string().refine((s) => Buffer.from(s, 'base64').length === 32, 'expected base64 of 32 bytes (openssl rand -base64 32)')),
  /** The CLI's operator commands (`q2c deal …`): the service's base URL (default: this machine's SERVICE_PORT) and the caller's key. */
  Q2C_SERVICE_URL: optional(z.string().url()),
  Q2C_OPERATOR_KEY: optional(z.string()),
  /** Base URL of the vendor sandboxes (src/sandbox); vendors without real settings use it. */
  Q2C_SANDBOX_URL: optional(z.string().url()),
  ...connectorEnv,
  /** Operator API, pages and docs: requests per minute per operator key holder (else per address); 0 = no limit. */
  RATE_LIMIT_PER_MINUTE: optional(z.coerce.number().int().min(0)).default(600),
  /** Each webhook endpoint: requests per minute per sender address; 0 = no limit. */
  WEBHOOK_RATE_LIMIT_PER_MINUTE: optional(z.coerce.number().int().min(0)).default(6000),
  /**
   * The service runs behind reverse proxies: `true` (trust X-Forwarded-For from any), or the proxies'
   * comma-separated addresses/CIDRs. Client addresses (rate limits) then come from the header.
   */
  TRUST_PROXY: optional(
    z
      .string()
      .trim()
      .transform((v): boolean | string => (v === 'true' ? true : v === 'false' ? false : v)),
  ),
  SERVICE_PORT: optional(port).default(8080),
  SANDBOX_PORT: optional(port).default(8090),
});

/** The parsed environment, with the Temporal connection resolved (env > profile > defaults). */
export type Config = z.infer<typeof configSchema> & {
  /** Resolved: TEMPORAL_ADDRESS, else the profile's, else localhost:7233. */
  TEMPORAL_ADDRESS: string;
  /** Resolved: TEMPORAL_NAMESPACE, else the profile's, else default. */
  TEMPORAL_NAMESPACE: string;
  /** Everything a connection needs (src/temporal/connection.ts builds the options from it). */
  temporal: TemporalSettings;
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses an environment once, listing every problem rather than the first. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  const temporal = resolveTemporalSettings(result.data);
  if (!temporal.ok) throw new ConfigError(temporal.problems);
  const { settings } = temporal;
  return {
    ...result.data,
    TEMPORAL_ADDRESS: settings.address,
    TEMPORAL_NAMESPACE: settings.namespace,
    ...(settings.apiKey !== undefined ? { TEMPORAL_API_KEY: settings.apiKey } : {}),
    temporal: settings,
  };
}

let cached: Config | undefined;
let cachedWithDefaults = false;

/**
 * The process configuration; the only place that reads process.env. `defaults`
 * fill what the environment leaves unset (the dev stack's generated secrets).
 */
export function loadConfig(defaults?: Record<string, string> | ((base: Config) => Record<string, string>)): Config {
  // Defaults given later (the dev stack's secrets) replace a configuration read without them.
  if (!cached || (defaults && !cachedWithDefaults)) {
    const base = parseConfig(process.env);
    const fill = typeof defaults === 'function' ? defaults(base) : (defaults ?? {});
    cached = defaults ? parseConfig({ ...fill, ...process.env }) : base;
    cachedWithDefaults = defaults !== undefined;
  }
  return cached;
}
