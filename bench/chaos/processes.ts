/**
 * The chaos run's own processes, each one it can kill and start again: a
 * PostgreSQL cluster in a temporary directory, the Temporal dev server on a
 * persistent SQLite file, and q2c's deployment entry points (src/worker.ts,
 * src/service/main.ts) as child processes of a source tree (this one, or a
 * previous commit's for the mid-run deploy).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { devServerArgs, loadDevServerSettings, portOpen, waitForPort } from '../../src/cli/temporal-dev';
import { resolveTemporalCli, REPO_ROOT } from '../../src/cli/toolchain';
import { sandboxConnectorEnv } from '../../src/cli/dev-secrets';
import { SANDBOX_DOCUSIGN_HMAC_KEYS } from '../../src/sandbox/credentials';
import { STRIPE_SANDBOX } from '../../src/sandbox/stripe/stripe.sandbox';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A free TCP port on loopback (the OS picks; released before use). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Waits for `child` to exit (resolves at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

// ---------------------------------------------------------------- PostgreSQL

function pgBin(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(path.join(base, v, 'bin', 'pg_ctl'))) : [];
  const v = versions.sort((a, b) => Number(a) - Number(b)).at(-1);
  if (!v) throw new Error(`no PostgreSQL server binaries under ${base} (apt-get install postgresql, or bash scripts/postgres-server.sh)`);
  return path.join(base, v, 'bin');
}

export interface ChaosPostgres {
  url: string;
  /** A crash restart (`pg_ctl restart -m immediate`): connections are cut, nothing committed is lost. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A PostgreSQL cluster of the run's own (initdb in `dir`), so restarting it
 * touches nothing else on the machine. initdb refuses root: as root it runs as
 * the `postgres` user Debian's package creates.
 */
export async function startPostgres(dir: string): Promise<ChaosPostgres> {
  const bin = pgBin();
  const data = path.join(dir, 'pgdata');
  mkdirSync(data, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  if (asRoot) for (const d of [dir, data]) chownSync(d, uid('postgres'), gid('postgres'));
  const run = (cmd: string, args: string[]) => {
    const file = path.join(bin, cmd);
    return asRoot ? execFileSync('su', ['postgres', '-s', '/bin/sh', '-c', [file, ...args].map(shellQuote).join(' ')], { stdio: 'pipe' }) : execFileSync(file, args, { stdio: 'pipe' });
  };
  run('initdb', ['-D', data, '-U', 'q2c', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const log = path.join(dir, 'postgres.log');
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=200`;
  run('pg_ctl', ['-D', data, '-l', log, '-o', opts, '-w', 'start']);
  return {
    url: `postgres://q2c@127.0.0.1:${port}/postgres`,
    restart: async () => {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      run('pg_ctl', ['-D', data, '-l', log, '-o', opts, '-w', 'start']);
    },
    stop: async () => {
      try {
        run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      } catch {
        // already stopped
      }
    },
  };
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const uid = (user: string) => Number(execFileSync('id', ['-u', user]).toString().trim());
const gid = (user: string) => Number(execFileSync('id', ['-g', user]).toString().trim());

// ---------------------------------------------------------------- Temporal dev server

export interface ChaosTemporal {
  address: string;
  /** SIGKILL, then start again on the same SQLite file and port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** The Temporal dev server with temporal-dev.yaml's search attributes and dynamic config, on free ports, history in `dir`. */
export async function startTemporal(dir: string): Promise<ChaosTemporal> {
  const settings = loadDevServerSettings();
  const port = await freePort();
  const uiPort = await freePort();
  const s = { ...settings, ip: '127.0.0.1', port, uiPort, dbFile: path.join(dir, 'temporal.sqlite'), logLevel: 'error' as const };
  delete (s as { uiCodecEndpoint?: string }).uiCodecEndpoint;
  const cli = resolveTemporalCli({ pathEnv: process.env.PATH });
  const out = openSync(path.join(dir, 'temporal.log'), 'a');
  let child: ChildProcess;
  const start = async () => {
    child = spawn(cli, devServerArgs(s), { stdio: ['ignore', out, out] });
    await waitForPort('127.0.0.1', port, 60_000, 'Temporal dev server');
  };
  await start();
  return {
    address: `127.0.0.1:${port}`,
    restart: async () => {
      child.kill('SIGKILL');
      await exited(child);
      while (await portOpen('127.0.0.1', port)) await sleep(100);
      await start();
    },
    stop: async () => {
      child.kill('SIGTERM');
      await exited(child);
    },
  };
}

// ---------------------------------------------------------------- q2c processes

export interface Q2cProcess {
  name: string;
  /** The source tree it runs from (this checkout, or a previous commit's). */
  root: string;
  child: ChildProcess;
  /** When it was (re)started (ms since epoch) and when it said it was running. */
  startedAt: number;
  ready: Promise<number>;
}

/**
 * Starts `entry` (src/worker.ts or src/service/main.ts) of `root` under tsx,
 * logging JSON to `logFile`; `ready` resolves when a line matches `readyLine`. `nodeArgs` go
 * to node itself (e.g. --cpu-prof, which NODE_OPTIONS does not take).
 */
export function startQ2c(opts: { name: string; root?: string; entry: string; env: Record<string, string>; logFile: string; readyLine: RegExp; nodeArgs?: string[] }): Q2cProcess {
  const root = opts.root ?? REPO_ROOT;
  const out = openSync(opts.logFile, 'a');
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', path.join(root, opts.entry)], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'production', ...opts.env },
    stdio: ['ignore', 'pipe', out],
  });
  const startedAt = Date.now();
  const ready = new Promise<number>((resolve, reject) => {
    let buf = '';
    // Lines are read until the ready line only: past it the log goes to the file untouched (a
    // busy service's request log would otherwise be split and matched here line by line).
    const onData = (chunk: Buffer) => {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (opts.readyLine.test(line)) {
          child.stdout!.off('data', onData);
          buf = '';
          resolve(Date.now());
          return;
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stdout!.pipe(createWriteStream(opts.logFile, { flags: 'a' }));
    child.once('exit', (code, signal) => reject(new Error(`${opts.name} exited with ${signal ?? code} before it was ready (see ${opts.logFile})`)));
  });
  ready.catch(() => {});
  return { name: opts.name, root, child, startedAt, ready };
}

// ---------------------------------------------------------------- q2c configuration

/**
 * The environment of q2c's service and workers on this stack: the sandboxes as vendors (when
 * given), the run's own Temporal and PostgreSQL, fresh webhook secrets and payload keys, and the webhook
 * rate limit out of the way (the harness is one client on loopback).
 */
export function q2cEnv(o: { dir: string; sandboxUrl?: string; temporalAddress: string; databaseUrl: string; servicePort: number; workflowBundle?: string; extra?: Record<string, string> }) {
  const secrets = { salesforce: randomBytes(24).toString('hex'), kantata: randomBytes(24).toString('hex') };
  const payloadKeys = `run1:${randomBytes(32).toString('base64')}`;
  const env: Record<string, string> = {
    ...(o.sandboxUrl ? sandboxConnectorEnv(o.sandboxUrl) : {}),
    TEMPORAL_ADDRESS: o.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TASK_QUEUE: 'q2c',
    DATABASE_URL: o.databaseUrl,
    Q2C_DATA_DIR: path.join(o.dir, 'data'),
    Q2C_PAYLOAD_KEYS: payloadKeys,
    Q2C_WEBHOOK_SECRET_SALESFORCE: secrets.salesforce,
    Q2C_WEBHOOK_SECRET_KANTATA: secrets.kantata,
    Q2C_DOCUSIGN_CONNECT_KEYS: SANDBOX_DOCUSIGN_HMAC_KEYS.join(','),
    STRIPE_WEBHOOK_SECRET: STRIPE_SANDBOX.webhookSecret,
    Q2C_OPERATOR_API_KEYS: `bench:read+operate:${randomBytes(24).toString('hex')}`,
    SERVICE_PORT: String(o.servicePort),
    WEBHOOK_RATE_LIMIT_PER_MINUTE: '1000000',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    WORKER_METRICS_ADDRESS: 'off',
    ...(o.workflowBundle ? { WORKFLOW_BUNDLE: o.workflowBundle } : {}),
    ...o.extra,
  };
  return { secrets, payloadKeys, env };
}

/**
 * Where a run's Temporal dev server keeps its SQLite file: on tmpfs (/dev/shm) unless `onDisk`.
 * On this machine's disk SQLite waits for each write's fsync (about 25 signal-with-starts/s
 * against about 100/s on tmpfs), which would measure the disk, not the engine; PostgreSQL runs
 * with fsync off for the same reason. A tmpfs directory is removed by `cleanup`.
 */
export function temporalDir(dir: string, cleanup: Array<() => Promise<unknown>>, onDisk = false): string {
  if (onDisk || !existsSync('/dev/shm')) return dir;
  const shm = mkdtempSync('/dev/shm/q2c-temporal-');
  cleanup.push(async () => rmSync(shm, { recursive: true, force: true }));
  return shm;
}

/**
 * The servers a run owns: PostgreSQL and the Temporal dev server (its file per `temporalDir`),
 * and this build's workflow bundle (the workers start from it); each stop is pushed onto `cleanup`.
 */
export async function startServers(dir: string, cleanup: Array<() => Promise<unknown>>, o: { temporalOnDisk?: boolean } = {}): Promise<{ pg: ChaosPostgres; temporal: ChaosTemporal; workflowBundle: string }> {
  const pg = await startPostgres(dir);
  cleanup.push(() => pg.stop());
  const temporal = await startTemporal(temporalDir(dir, cleanup, o.temporalOnDisk));
  cleanup.push(() => temporal.stop());
  const bundleDir = path.join(dir, 'bundle');
  execFileSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src/workflow-bundle.ts'), bundleDir], { cwd: REPO_ROOT, stdio: 'pipe' });
  return { pg, temporal, workflowBundle: path.join(bundleDir, 'workflow-bundle.js') };
}

// ---------------------------------------------------------------- where the CPU goes

/** CPU seconds of the bench process, the Temporal dev server, PostgreSQL and the named q2c processes. */
export type ProcessCpu<K extends string> = Record<'bench' | 'temporal' | 'postgres' | K, number>;

/** utime + stime of a process, seconds (Linux /proc; 0 when it is gone); with `reaped`, also its exited children's. */
function procCpuSeconds(pid: number, reaped = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]) + (reaped ? Number(fields[13]) + Number(fields[14]) : 0);
    return ticks / 100;
  } catch {
    return 0;
  }
}

const parentOf = (pid: number): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
};
const pids = () => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);

/**
 * CPU seconds so far of this process, the named q2c processes, the Temporal dev server (this
 * process's `temporal` child) and PostgreSQL (the postmaster with its exited backends, and the
 * live ones). Subtract two readings with `cpuSince`.
 */
export function processCpu<K extends string>(named: Record<K, number>, pgData: string): ProcessCpu<K> {
  const postmaster = Number(readFileSync(path.join(pgData, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const all = pids();
  const temporal = all.filter((p) => parentOf(p) === process.pid && readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'temporal');
  const backends = all.filter((p) => parentOf(p) === postmaster);
  const { user, system } = process.cpuUsage();
  const own = Object.fromEntries(Object.entries<number>(named).map(([k, pid]) => [k, procCpuSeconds(pid)])) as Record<K, number>;
  return {
    ...own,
    bench: (user + system) / 1e6,
    temporal: temporal.reduce((a, p) => a + procCpuSeconds(p), 0),
    postgres: procCpuSeconds(postmaster, true) + backends.reduce((a, p) => a + procCpuSeconds(p), 0),
  };
}

export const cpuSince = <K extends string>(before: ProcessCpu<K>, after: ProcessCpu<K>): ProcessCpu<K> =>
  Object.fromEntries(Object.keys(after).map((k) => [k, after[k as keyof typeof after] - before[k as keyof typeof before]])) as ProcessCpu<K>;
