import { EncryptionCodec, parseEncryptionKeys } from '../codec/encryption.codec';
import { loadConfig, type Config } from '../config';
import { openDb } from '../db';
import { buildService, type ServiceSecrets } from './app';
import { parseOperatorKeys, parseSecretList } from './auth';
import { createLogger, resolveLogFormat } from '../logger';
import { createTemporalDealGateway } from './temporal-deal-gateway';
import { createTemporalGovernanceGateway } from './ruleset-gateway';
import { setupTelemetry } from '../telemetry';
import { connectTemporal, temporalClient } from '../temporal/connection';

type ServiceEnv = Pick<
  Config,
  'Q2C_WEBHOOK_SECRET_SALESFORCE' | 'Q2C_WEBHOOK_SECRET_KANTATA' | 'Q2C_DOCUSIGN_CONNECT_KEYS' | 'STRIPE_WEBHOOK_SECRET' | 'Q2C_OPERATOR_API_KEYS'
>;

/** Secrets from the parsed config; refuses to run with a source that has none (it would reject everything). */
export function serviceSecretsFrom(config: ServiceEnv): ServiceSecrets {
  const secrets: ServiceSecrets = {
    salesforceWebhookSecrets: parseSecretList(config.Q2C_WEBHOOK_SECRET_SALESFORCE),
    kantataWebhookSecrets: parseSecretList(config.Q2C_WEBHOOK_SECRET_KANTATA),
    docusignConnectKeys: parseSecretList(config.Q2C_DOCUSIGN_CONNECT_KEYS),
    stripeWebhookSecrets: parseSecretList(config.STRIPE_WEBHOOK_SECRET),
    operatorApiKeys: parseOperatorKeys(config.Q2C_OPERATOR_API_KEYS),
  };
  const missing = [
    ['Q2C_WEBHOOK_SECRET_SALESFORCE', secrets.salesforceWebhookSecrets],
    ['Q2C_WEBHOOK_SECRET_KANTATA', secrets.kantataWebhookSecrets],
    ['Q2C_DOCUSIGN_CONNECT_KEYS', secrets.docusignConnectKeys],
    ['STRIPE_WEBHOOK_SECRET', secrets.stripeWebhookSecrets],
    ['Q2C_OPERATOR_API_KEYS', secrets.operatorApiKeys],
  ].filter(([, list]) => (list as unknown[]).length === 0).map(([name]) => name as string);
  if (missing.length) throw new Error(`service: unset ${missing.join(', ')} (a source without a secret rejects every delivery)`);
  return secrets;
}

export async function main(): Promise<void> {
  const config = loadConfig();
  // Before the Fastify instance exists: its request spans are registered as it initialises.
  const telemetry = setupTelemetry({ serviceName: 'q2c-service', env: config });
  const logger = createLogger({ level: config.LOG_LEVEL, service: 'q2c-service', format: resolveLogFormat(config.LOG_FORMAT, false) });
  const secrets = serviceSecretsFrom(config);
  // With PGlite (no DATABASE_URL) only one process may open the data dir: run the
  // service inside the stack process then (see docs/service.md), or set DATABASE_URL.
  const database = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: `${config.Q2C_DATA_DIR}/pglite`, onIdleError: (err) => logger.warn({ err }, 'database connection dropped; the next query reconnects') });
  const connection = await connectTemporal(config);
  // Signals and updates must be encrypted with the same keys the worker decrypts with.
  const codec = config.Q2C_PAYLOAD_KEYS ? new EncryptionCodec(parseEncryptionKeys(config.Q2C_PAYLOAD_KEYS)) : undefined;
  const dataConverter = codec ? { payloadCodecs: [codec] } : undefined;
  const client = temporalClient(connection, config, { ...(dataConverter ? { dataConverter } : {}), ...(telemetry.clientInterceptors ? { interceptors: telemetry.clientInterceptors } : {}) });
  const app = await buildService({
    db: database.db,
    dealGateway: createTemporalDealGateway({ client: client.workflow, taskQueue: config.TEMPORAL_TASK_QUEUE, erpTaskQueue: config.ERP_TASK_QUEUE }),
    governance: createTemporalGovernanceGateway({ client: client.workflow, taskQueue: config.TEMPORAL_TASK_QUEUE }),
    logger,
    secrets,
    defaultMetrics: true,
    // The same codec serves the Web UI's /codec/decode (CORS origins, UI URL and
    // loopback access keep their defaults until the config has keys for them).
    codec,
    namespace: config.TEMPORAL_NAMESPACE,
    ...(config.Q2C_CONSOLE_SESSION_KEY ? { consoleSessionKey: Buffer.from(config.Q2C_CONSOLE_SESSION_KEY, 'base64') } : {}),
    rateLimit: { perMinute: config.RATE_LIMIT_PER_MINUTE, webhooksPerMinute: config.WEBHOOK_RATE_LIMIT_PER_MINUTE },
    ...(config.TRUST_PROXY !== undefined ? { trustProxy: config.TRUST_PROXY } : {}),
  });

  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'service: shutting down');
    await app.close();
    await connection.close();
    await database.close();
    await telemetry.shutdown();
    process.exit(0);
  };
  process.once('SIGINT', (s) => void shutdown(s));
  process.once('SIGTERM', (s) => void shutdown(s));

  await app.listen({ port: config.SERVICE_PORT, host: '0.0.0.0' });
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
