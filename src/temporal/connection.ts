import { readFileSync } from 'node:fs';
import { Client, Connection, type ClientOptions, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import type { Config } from '../config';
import type { PemSource, TemporalSettings } from '../config/temporal';

/** A certificate or key that cannot be used; the message names the setting and the file. */
export class TemporalConnectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemporalConnectionError';
  }
}

type ConnectOptions = Pick<ConnectionOptions, 'address' | 'tls' | 'apiKey' | 'metadata'>;

/**
 * The one place connection options are built, for the client (service, CLI) and the worker's
 * native connection alike: address, TLS (mTLS files, server CA, server name), API key, metadata.
 * Reads the PEM files now, so a missing or unreadable one fails at start with its setting named.
 */
export function temporalConnectionOptions(settings: TemporalSettings, read: (path: string) => Buffer = readFileSync): ConnectOptions {
  const pem = (s: PemSource | undefined): Buffer | undefined => {
    if (!s) return undefined;
    let bytes: Buffer;
    if ('data' in s) bytes = Buffer.from(s.data, 'utf8');
    else {
      try {
        bytes = read(s.path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new TemporalConnectionError(`${s.from}: cannot read ${s.path} (${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message})`);
      }
    }
    if (!bytes.toString('utf8').includes('-----BEGIN ')) {
      throw new TemporalConnectionError(`${s.from}: ${'path' in s ? s.path : 'the value'} is not a PEM certificate or key (no -----BEGIN line)`);
    }
    return bytes;
  };
  const t = settings.tls;
  let tls: ConnectOptions['tls'];
  if (t === false) tls = false;
  else if (t) {
    const crt = pem(t.clientCert);
    const key = pem(t.clientKey);
    const ca = pem(t.serverCaCert);
    tls = {
      ...(crt && key ? { clientCertPair: { crt, key } } : {}),
      ...(ca ? { serverRootCACertificate: ca } : {}),
      ...(t.serverName ? { serverNameOverride: t.serverName } : {}),
    };
  } else if (settings.apiKey !== undefined) {
    // An API key goes only over TLS (Temporal Cloud): the system's roots.
    tls = true;
  }
  return {
    address: settings.address,
    ...(tls !== undefined ? { tls } : {}),
    ...(settings.apiKey !== undefined ? { apiKey: settings.apiKey } : {}),
    ...(settings.metadata ? { metadata: settings.metadata } : {}),
  };
}

/** A client connection (service, CLI, the worker's own client) from the configuration. */
export function connectTemporal(config: Pick<Config, 'temporal'>, extra: Partial<ConnectionOptions> = {}): Promise<Connection> {
  return Connection.connect({ ...temporalConnectionOptions(config.temporal), ...extra });
}

/** The worker's native connection from the same configuration. */
export function connectTemporalNative(config: Pick<Config, 'temporal'>, extra: Partial<NativeConnectionOptions> = {}): Promise<NativeConnection> {
  return NativeConnection.connect({ ...(temporalConnectionOptions(config.temporal) as NativeConnectionOptions), ...extra });
}

/** A client on `connection` in the configured namespace; `options` adds the data converter and interceptors. */
export function temporalClient(connection: Connection, config: Pick<Config, 'TEMPORAL_NAMESPACE'>, options: Omit<ClientOptions, 'connection' | 'namespace'> = {}): Client {
  return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, ...options });
}
