import type { Client, Connection } from '@temporalio/client';
import type { Config } from '../config';
import { connectTemporal, TemporalConnectionError, temporalClient } from '../temporal/connection';
import { dataConverterFrom } from '../worker';
import { setupTelemetry } from '../telemetry';

/**
 * Runs `fn` with a Temporal client for reading deals (the payload codec
 * configured, so encrypted state reads as plain), and closes the connection.
 * A cluster that does not answer is one sentence naming what needed it.
 */
export async function withDealClient<T>(config: Config, purpose: string, fn: (client: Client) => Promise<T>): Promise<T> {
  let connection: Connection;
  try {
    connection = await connectTemporal(config, { connectTimeout: '3s' });
  } catch (err) {
    if (err instanceof TemporalConnectionError) throw err;
    throw new Error(`${purpose} reads from Temporal at ${config.TEMPORAL_ADDRESS}, which does not answer (${(err as Error).message}): start the stack, or \`npm run temporal\` for the dev server's kept history`);
  }
  try {
    const dataConverter = dataConverterFrom(config);
    const { clientInterceptors } = setupTelemetry({ serviceName: 'q2c-cli', env: config });
    return await fn(temporalClient(connection, config, { ...(dataConverter ? { dataConverter } : {}), ...(clientInterceptors ? { interceptors: clientInterceptors } : {}) }));
  } finally {
    await connection.close();
  }
}
