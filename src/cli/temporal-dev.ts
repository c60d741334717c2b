import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, openSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { REPO_ROOT, resolveTemporalCli } from './toolchain';

const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]*$/, 'must be an identifier');

export const devServerSettingsSchema = z
  .object({
    ip: z.string().default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(7233),
    uiPort: z.number().int().min(1).max(65535).default(8233),
    namespace: z.string().min(1).default('default'),
    dbFile: z.string().min(1).optional(),
    /** Where the Web UI sends encrypted payloads to be decoded (the q2c service's codec endpoint). */
    uiCodecEndpoint: z.string().url().optional(),
    logLevel: z.enum(['debug', 'info', 'warn', 'error', 'never']).default('warn'),
    searchAttributes: z
      .record(identifier, z.enum(['Text', 'Keyword', 'Int', 'Double', 'Bool', 'Datetime', 'KeywordList']))
      .default({}),
    dynamicConfig: z.record(identifier, z.union([z.string(), z.number(), z.boolean()])).default({}),
  })
  .strict();

export type DevServerSettings = z.infer<typeof devServerSettingsSchema>;

export class SettingsError extends Error {
  override name = 'SettingsError';
}

/** Reads and validates temporal-dev.yaml; every problem names the file and the key. */
export function loadDevServerSettings(file = path.join(REPO_ROOT, 'temporal-dev.yaml')): DevServerSettings {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SettingsError(`${file}: cannot read YAML: ${(err as Error).message}`);
  }
  const result = devServerSettingsSchema.safeParse(raw ?? {});
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const key = i.path.join('.') || (i.code === 'unrecognized_keys' ? i.keys.join(', ') : '(root)');
      return `  ${key}: ${i.message}`;
    });
    throw new SettingsError(`${file}: invalid settings\n${lines.join('\n')}`);
  }
  return result.data;
}

/** The `temporal server start-dev` arguments for the given settings. */
export function devServerArgs(s: DevServerSettings, root = REPO_ROOT): string[] {
  const args = ['server', 'start-dev', '--ip', s.ip, '--port', String(s.port), '--ui-port', String(s.uiPort)];
  args.push('--log-level', s.logLevel, '--ui-disable-news-fetch');
  if (s.namespace !== 'default') args.push('--namespace', s.namespace);
  if (s.dbFile) args.push('--db-filename', path.resolve(root, s.dbFile));
  if (s.uiCodecEndpoint) args.push('--ui-codec-endpoint', s.uiCodecEndpoint);
  for (const [key, type] of Object.entries(s.searchAttributes)) args.push('--search-attribute', `${key}=${type}`);
  for (const [key, value] of Object.entries(s.dynamicConfig)) args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  return args;
}

/** True when something accepts TCP connections on host:port. */
export function portOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function waitForPort(host: string, port: number, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await portOpen(host, port)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not open ${host}:${port} within ${timeoutMs} ms`);
}

export interface RunningDevServer {
  address: string;
  uiUrl: string;
  /** Undefined when a server was already listening and was reused. */
  process?: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts the dev server from the settings, or reuses one already answering on
 * its port. A port held by something that is not our server is a named error.
 */
export async function startDevServer(
  settings: DevServerSettings,
  opts: { temporalCli?: string; pathEnv?: string; logFile?: string; reuse?: boolean } = {},
): Promise<RunningDevServer> {
  const address = `${settings.ip}:${settings.port}`;
  const uiUrl = `http://localhost:${settings.uiPort}`;
  const grpcBusy = await portOpen(settings.ip, settings.port);
  const uiBusy = await portOpen(settings.ip, settings.uiPort);
  if (grpcBusy && uiBusy && (opts.reuse ?? true)) {
    return { address, uiUrl, stop: async () => {} };
  }
  if (grpcBusy) throw new Error(`port ${settings.port} (Temporal frontend, temporal-dev.yaml 'port') is already in use`);
  if (uiBusy) throw new Error(`port ${settings.uiPort} (Temporal Web UI, temporal-dev.yaml 'uiPort') is already in use`);

  const cli = resolveTemporalCli({ temporalCli: opts.temporalCli, pathEnv: opts.pathEnv });
  if (settings.dbFile) mkdirSync(path.dirname(path.resolve(REPO_ROOT, settings.dbFile)), { recursive: true });
  const logFile = opts.logFile ?? path.join(REPO_ROOT, '.q2c', 'temporal-dev.log');
  mkdirSync(path.dirname(logFile), { recursive: true });
  const out = openSync(logFile, 'a');
  const child = spawn(cli, devServerArgs(settings), { stdio: ['ignore', out, out] });
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `exited with ${signal ?? code}`;
  });
  const deadline = Date.now() + 60_000;
  while (!(await portOpen(settings.ip, settings.port)) || !(await portOpen(settings.ip, settings.uiPort))) {
    if (exited) throw new Error(`Temporal dev server ${exited}; see ${logFile}`);
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`Temporal dev server did not listen on ${address} within 60 s; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    address,
    uiUrl,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
