/**
 * Webhook intake (issue 16): signed, valid Salesforce closed-won deliveries
 * against the real service process, next to a raw signal-with-start loop
 * against the same Temporal dev server, in one run.
 *
 *   npm run bench:intake                                    # 30 s per phase, 500 requests/s, 50 connections, 1,000 deals
 *   npm run bench:intake -- --duration 10 --connections 20  # quicker
 *   npm run bench:intake -- --rate 800 --deals 5000
 *   npm run bench:intake -- --service-cpu-prof /tmp/prof   # the service under node --cpu-prof
 *
 * What runs: a PostgreSQL cluster of the run's own (initdb in a temporary
 * directory; as the `postgres` user when run as root; fsync off), the Temporal
 * dev server (its SQLite file on tmpfs, /dev/shm, unless --temporal-on-disk: on
 * this machine's disk each of its writes waits for an fsync, about 25
 * signal-with-starts/s), and the service as its deployment runs
 * it: `src/service/main.ts` as a child process (NODE_ENV=production, JSON
 * request log at info, payload encryption on, PostgreSQL pool of 10). No
 * worker runs: the server accepts starts and signals without one (the deals
 * wait for a worker that never comes), and intake is what is measured.
 *
 * Each request is a distinct closed-won event (its own event id, so the inbox
 * stores every one), signed with the q2c relay scheme at the moment it is
 * sent, for one of `--deals` opportunities in turn: the first delivery of a
 * deal starts its workflow, the later ones signal it (USE_EXISTING). The
 * endpoint's path per delivery: HMAC check, JSON + zod parse, inbox insert,
 * signalWithStart, inbox update to dispatched, 202.
 *
 * Phases (each on deals of its own, so each starts as many workflows):
 *   raw before  `--connections` loops in this process, each awaiting
 *               client.workflow.signalWithStart with the service's arguments,
 *               options and payload codec;
 *   intake      autocannon, `--connections` connections, as fast as answered;
 *   raw after   the raw loop again: the baseline is the mean of the two raw
 *               phases around the intake phase (the CPU a shared machine
 *               leaves to the run drifts within minutes);
 *   paced       autocannon at `--rate` requests/s overall (`overallRate`).
 * A short warm-up of each path comes first and is not counted. Any non-2xx
 * answer or connection error makes its phase invalid. Afterwards the inbox in
 * PostgreSQL must hold a dispatched row for every event answered 202.
 *
 * autocannon's overallRate is not a smooth arrival rate: each connection sends
 * its share of a second back to back from the start of the second, then waits
 * for the next. The paced phase is bursts of `--connections` requests in flight
 * until the second's quota is answered, then nothing.
 *
 * Where the time goes: the CPU seconds of each process (this one, the service,
 * the dev server, PostgreSQL) over each phase, from /proc, and the service's
 * own mean dispatch time (q2c_webhook_dispatch_seconds on its /metrics).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import autocannon from 'autocannon';
import { Command, InvalidArgumentError } from 'commander';
import { Client as PgClient } from 'pg';
import { EncryptionCodec, parseEncryptionKeys } from '../src/codec/encryption.codec';
import { closedWonSignal, DEAL_WORKFLOW_TYPE, dealWorkflowId, type ClosedWonEvent, type DealInput } from '../src/contract';
import { sign } from './chaos/storm';
import { cpuSince, exited, freePort, processCpu, q2cEnv, startPostgres, startQ2c, startTemporal, temporalDir, type ProcessCpu, type Q2cProcess } from './chaos/processes';

const ENDPOINT = '/webhooks/salesforce/opportunity';
const TASK_QUEUE = 'q2c';
/** The service's webhook limit per sender address, raised so one load generator on loopback is never refused. */
const WEBHOOK_LIMIT_PER_MINUTE = 100_000_000;

interface Options {
  duration: number;
  warmup: number;
  rate: number;
  connections: number;
  deals: number;
  temporalOnDisk: boolean;
  /** A directory: the service runs under `node --cpu-prof` and leaves its profile there at the end. */
  serviceCpuProf?: string;
}

interface PhaseResult {
  name: string;
  what: string;
  seconds: number;
  /** Answered 2xx (intake) or completed without error (raw). */
  ok: number;
  perSecond: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  /** Intake only: event ids answered 202, for the inbox check. */
  accepted?: Set<string>;
  /** CPU seconds each process spent in the phase. */
  cpu?: Cpu;
  /** Intake only: the service's mean time in the dispatch (its signalWithStart), from its /metrics, ms. */
  dispatchMeanMs?: number;
  /** autocannon's mean latency, ms (raw: the loop's). */
  mean: number;
}

// ---------------------------------------------------------------- the events

/** Salesforce ids are 15 or 18 alphanumerics: 3-character key prefix, a 4-character tag of the phase, 11 digits. */
const sfId = (prefix: string, tag: string, n: number) => `${prefix}${tag}${String(n).padStart(11, '0')}`;

/** A tag of 4 alphanumerics per phase and run, so no phase meets another's deals or event ids. */
const phaseTag = (phase: string, run: string) => createHash('sha256').update(`${run}:${phase}`).digest('hex').slice(0, 4).toUpperCase();

function closedWon(tag: string, seq: number, deals: number): { eventId: string; opportunityId: string; body: string; ev: ClosedWonEvent } {
  const deal = seq % deals;
  const eventId = `${tag}-${seq}`;
  const opportunityId = sfId('006', tag, deal);
  const accountId = sfId('001', tag, deal % 97);
  const occurredAt = new Date().toISOString();
  const body = JSON.stringify({
    eventId,
    eventType: 'opportunity.closed_won',
    occurredAt,
    opportunity: { id: opportunityId, accountId, name: `Month-end deal ${deal}`, stageName: 'Closed Won', isWon: true, closeDate: '2026-12-31', currencyIsoCode: 'USD' },
  });
  return { eventId, opportunityId, body, ev: { eventId, opportunityId, accountId, occurredAt } };
}

// ---------------------------------------------------------------- phases

const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : 0);

/** The baseline: `connections` loops, each awaiting the service's own signalWithStart call, for `seconds`. */
async function rawLoop(client: Client, o: { name: string; tag: string; seconds: number; connections: number; deals: number }): Promise<PhaseResult> {
  const latencies: number[] = [];
  let seq = 0;
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const end = t0 + o.seconds * 1000;
  await Promise.all(
    Array.from({ length: o.connections }, async () => {
      while (performance.now() < end) {
        const { opportunityId, ev } = closedWon(o.tag, seq++, o.deals);
        const input: DealInput = { opportunityId, correlationId: `bench-${ev.eventId}` };
        const s = performance.now();
        try {
          await client.workflow.signalWithStart(DEAL_WORKFLOW_TYPE, {
            workflowId: dealWorkflowId(opportunityId),
            taskQueue: TASK_QUEUE,
            args: [input],
            signal: closedWonSignal,
            signalArgs: [ev],
            workflowIdConflictPolicy: 'USE_EXISTING',
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
          });
          latencies.push(performance.now() - s);
        } catch (err) {
          errors += 1;
          firstError ??= (err as Error).message;
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  if (firstError) console.log(`  ${o.name}: ${errors} errors, the first: ${firstError}`);
  latencies.sort((a, b) => a - b);
  const mean = latencies.reduce((a, x) => a + x, 0) / Math.max(1, latencies.length);
  return { name: o.name, what: `client.workflow.signalWithStart, ${o.connections} loops`, seconds, ok: latencies.length, perSecond: latencies.length / seconds, p50: pct(latencies, 50), p90: pct(latencies, 90), p99: pct(latencies, 99), max: latencies.at(-1) ?? 0, mean, non2xx: 0, errors };
}

/** autocannon against the endpoint: every request a fresh event, signed as it is sent. */
async function intake(o: { name: string; url: string; secret: string; tag: string; seconds: number; connections: number; deals: number; rate?: number }): Promise<PhaseResult> {
  let seq = 0;
  const accepted = new Set<string>();
  const statuses = new Map<number, number>();
  let firstRefusal: string | undefined;
  const result = await autocannon({
    url: o.url,
    connections: o.connections,
    duration: o.seconds,
    // autocannon's correction for a set rate records every 1 ms below each answer's latency as a sample
    // (its expected interval is ceil(1 / per-connection rate) = 1): the raw latencies are reported instead.
    ...(o.rate ? { overallRate: o.rate, ignoreCoordinatedOmission: true } : {}),
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: ENDPOINT,
        setupRequest: (req) => {
          const { body } = closedWon(o.tag, seq++, o.deals);
          return { ...req, body, headers: { 'content-type': 'application/json', ...sign('q2c', o.secret, body, Math.floor(Date.now() / 1000)) } };
        },
        onResponse: (status, body) => {
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (status === 202) accepted.add((JSON.parse(body) as { eventId: string }).eventId);
          else firstRefusal ??= `${status} ${body.slice(0, 300)}`;
        },
      },
    ],
  });
  if (firstRefusal) console.log(`  ${o.name}: answers ${[...statuses].map(([s, n]) => `${s} x${n}`).join(', ')}; the first refusal: ${firstRefusal}`);
  const seconds = (result.finish.getTime() - result.start.getTime()) / 1000;
  const l = result.latency;
  return {
    name: o.name,
    what: o.rate ? `autocannon, ${o.connections} connections, overallRate ${o.rate}/s` : `autocannon, ${o.connections} connections`,
    seconds,
    ok: result['2xx'],
    perSecond: result['2xx'] / seconds,
    p50: l.p50,
    p90: l.p90,
    p99: l.p99,
    max: l.max,
    non2xx: result.non2xx,
    errors: result.errors,
    accepted,
    mean: l.mean,
  };
}

// ---------------------------------------------------------------- where the time goes

type Cpu = ProcessCpu<'service'>;

/** The service's q2c_webhook_dispatch_seconds for Salesforce so far: sum (s) and count. */
async function dispatchSoFar(url: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const total = (suffix: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`q2c_webhook_dispatch_seconds_${suffix}{`) && l.includes('source="salesforce"'))
      .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return { sum: total('sum'), count: total('count') };
}

// ---------------------------------------------------------------- the run

const machine = () => {
  const c = cpus();
  return `${c.length} cpus (${c[0]?.model.trim() ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load average ${loadavg().map((x) => x.toFixed(2)).join(' / ')}`;
};

async function run(o: Options): Promise<boolean> {
  const t0 = Date.now();
  const dir = mkdtempSync(path.join(tmpdir(), 'q2c-intake-'));
  const cleanup: Array<() => Promise<unknown>> = [];
  let serviceProc: Q2cProcess | undefined;
  const cleanUp = async () => {
    for (const c of cleanup.reverse()) await c().catch((err: unknown) => console.log(`  cleanup: ${(err as Error).message}`));
    cleanup.length = 0;
    if (serviceProc && serviceProc.child.exitCode === null && serviceProc.child.signalCode === null) serviceProc.child.kill('SIGKILL');
    if (!process.env.INTAKE_KEEP) rmSync(dir, { recursive: true, force: true });
  };
  // Ctrl-C mid-run: the servers and the temporary directory go too.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.log(`${signal}: cleaning up`);
      void cleanUp().finally(() => process.exit(130));
    });
  }
  const runTag = randomBytes(4).toString('hex');
  console.log(`intake bench: ${o.duration} s per phase (${o.warmup} s warm-up), ${o.connections} connections, paced at ${o.rate}/s, ${o.deals} deals per phase; files in ${dir}`);
  console.log(`machine at start: ${machine()}`);
  try {
    const pg = await startPostgres(dir);
    cleanup.push(() => pg.stop());
    const temporalFiles = temporalDir(dir, cleanup, o.temporalOnDisk);
    const temporal = await startTemporal(temporalFiles);
    cleanup.push(() => temporal.stop());

    const servicePort = await freePort();
    const url = `http://127.0.0.1:${servicePort}`;
    const { secrets, payloadKeys, env } = q2cEnv({ dir, temporalAddress: temporal.address, databaseUrl: pg.url, servicePort, extra: { TEMPORAL_TASK_QUEUE: TASK_QUEUE, WEBHOOK_RATE_LIMIT_PER_MINUTE: String(WEBHOOK_LIMIT_PER_MINUTE) } });
    const secret = secrets.salesforce;
    const service = startQ2c({ name: 'service', entry: 'src/service/main.ts', env, logFile: path.join(dir, 'service.log'), readyLine: /Server listening/, ...(o.serviceCpuProf ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${path.resolve(o.serviceCpuProf)}`] } : {}) });
    serviceProc = service;
    cleanup.push(async () => {
      service.child.kill('SIGTERM');
      await exited(service.child);
    });
    await service.ready;
    console.log(`  Temporal dev server's SQLite file in ${temporalFiles}${temporalFiles === dir ? ' (on disk)' : ' (tmpfs)'}`);
    console.log(`  PostgreSQL, Temporal dev server ${temporal.address} and the service (src/service/main.ts, pid ${service.child.pid}) up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    console.log(`  no worker runs: the server accepts the starts and signals without one; intake is what is measured`);
    console.log(`  the service's webhook rate limit is raised to ${WEBHOOK_LIMIT_PER_MINUTE.toLocaleString('en-US')}/min (WEBHOOK_RATE_LIMIT_PER_MINUTE; default 6,000) so the one load generator is not refused`);

    const connection = await Connection.connect({ address: temporal.address });
    cleanup.push(() => connection.close());
    const client = new Client({ connection, namespace: 'default', dataConverter: { payloadCodecs: [new EncryptionCodec(parseEncryptionKeys(payloadKeys))] } });

    const tag = (phase: string) => phaseTag(phase, runTag);
    const base = { connections: o.connections, deals: o.deals };
    // Warm-ups: the JIT, the pools (PostgreSQL, gRPC), the server's caches. Not counted.
    if (o.warmup > 0) {
      await rawLoop(client, { ...base, name: 'warm-up raw', tag: tag('warm-raw'), seconds: o.warmup });
      await intake({ ...base, name: 'warm-up intake', url, secret, tag: tag('warm-intake'), seconds: o.warmup });
    }
    const pgData = path.join(dir, 'pgdata');
    /** One phase, with the CPU each process spent in it and the service's dispatch time. */
    const measured = async (phase: () => Promise<PhaseResult>): Promise<PhaseResult> => {
      const d0 = await dispatchSoFar(url);
      const c0 = processCpu({ service: service.child.pid! }, pgData);
      const r = await phase();
      const cpu = cpuSince(c0, processCpu({ service: service.child.pid! }, pgData));
      const d1 = await dispatchSoFar(url);
      const dispatched = d1.count - d0.count;
      console.log(`  ${r.name} done: ${r.ok} ${r.name.startsWith('raw') ? 'calls' : 'answered 202'}, ${r.perSecond.toFixed(0)}/s`);
      // A raw phase may see the last intake answers' dispatches finish: not its own.
      const own = !r.name.startsWith('raw') && dispatched > 0;
      return { ...r, cpu, ...(own ? { dispatchMeanMs: (1000 * (d1.sum - d0.sum)) / dispatched } : {}) };
    };
    // The raw loop runs before and after the unpaced intake phase, which is compared with their mean:
    // on a shared machine the CPU left to the run drifts within minutes (and each phase leaves its
    // deals open, each with a workflow task no worker takes, so the server's state grows too).
    const raw = await measured(() => rawLoop(client, { ...base, name: 'raw before', tag: tag('raw'), seconds: o.duration }));
    const free = await measured(() => intake({ ...base, name: 'intake', url, secret, tag: tag('intake'), seconds: o.duration }));
    const rawAfter = await measured(() => rawLoop(client, { ...base, name: 'raw after', tag: tag('raw-after'), seconds: o.duration }));
    const baseline = (raw.perSecond + rawAfter.perSecond) / 2;
    const paced = await measured(() => intake({ ...base, name: 'paced', url, secret, tag: tag('paced'), seconds: o.duration, rate: o.rate }));

    // ---- the inbox: a dispatched row for every 202, per phase (answers still on their way at the stop may add rows)
    await new Promise((r) => setTimeout(r, 1_000));
    const db = new PgClient({ connectionString: pg.url });
    await db.connect();
    cleanup.push(() => db.end());
    const inboxChecks: string[] = [];
    let inboxOk = true;
    for (const [phase, r] of [['intake', free], ['paced', paced]] as const) {
      const rows = await db.query<{ event_id: string; status: string }>(`select event_id, status from webhook_inbox where source = 'salesforce' and event_id like $1`, [`${tag(phase)}-%`]);
      const dispatched = new Set(rows.rows.filter((x) => x.status === 'dispatched').map((x) => x.event_id));
      const other = rows.rows.filter((x) => x.status !== 'dispatched');
      const lost = [...r.accepted!].filter((id) => !dispatched.has(id));
      const unanswered = [...dispatched].filter((id) => !r.accepted!.has(id)).length;
      const ok = lost.length === 0 && other.length === 0;
      inboxOk &&= ok;
      inboxChecks.push(
        `  inbox, ${phase}: ${rows.rowCount} rows, ${dispatched.size} dispatched for ${r.accepted!.size} answered 202; ` +
          `lost ${lost.length}${lost.length ? ` (e.g. ${lost.slice(0, 3).join(', ')})` : ''}, not dispatched ${other.length}${other.length ? ` (${[...new Set(other.map((x) => x.status))].join(', ')})` : ''}, ` +
          `dispatched but unanswered when the phase stopped ${unanswered} -> ${ok ? 'nothing lost' : 'NOT OK'}`,
      );
    }

    // ---- the table
    const valid = (r: PhaseResult) => r.non2xx === 0 && r.errors === 0;
    const ms = (x: number) => x.toFixed(1);
    console.log('');
    console.log(`| phase | load | seconds | ok | per second | vs baseline | p50 ms | p90 ms | p99 ms | max ms | non-2xx | errors | valid |`);
    console.log(`|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|`);
    for (const r of [raw, free, rawAfter, paced]) {
      console.log(`| ${r.name} | ${r.what} | ${r.seconds.toFixed(1)} | ${r.ok} | ${r.perSecond.toFixed(0)} | ${r === raw || r === rawAfter ? '' : `${((100 * r.perSecond) / baseline).toFixed(0)} %`} | ${ms(r.p50)} | ${ms(r.p90)} | ${ms(r.p99)} | ${ms(r.max)} | ${r.non2xx} | ${r.errors} | ${valid(r) ? 'yes' : 'NO'} |`);
    }
    console.log('');
    console.log(`where the time goes: CPU seconds per phase (2 cores = ${(2 * o.duration).toFixed(0)} CPU s available per ${o.duration} s), and per 1,000 answered; mean latency and the service's mean dispatch (its signalWithStart)`);
    console.log('');
    console.log(`| phase | bench (load generator) | service | Temporal | PostgreSQL | total per 1,000 | mean latency ms | service dispatch ms |`);
    console.log(`|---|---:|---:|---:|---:|---:|---:|---:|`);
    for (const r of [raw, free, rawAfter, paced]) {
      const c = r.cpu!;
      const per = (x: number) => ((1000 * x) / Math.max(1, r.ok)).toFixed(2);
      const total = c.bench + c.service + c.temporal + c.postgres;
      console.log(`| ${r.name} | ${c.bench.toFixed(1)} (${per(c.bench)}) | ${c.service.toFixed(1)} (${per(c.service)}) | ${c.temporal.toFixed(1)} (${per(c.temporal)}) | ${c.postgres.toFixed(1)} (${per(c.postgres)}) | ${per(total)} | ${ms(r.mean)} | ${r.dispatchMeanMs !== undefined ? ms(r.dispatchMeanMs) : ''} |`);
    }
    console.log('');
    for (const line of inboxChecks) console.log(line);
    console.log(`  baseline: the raw loop's mean of before and after the intake phase, ${baseline.toFixed(0)}/s (${raw.perSecond.toFixed(0)} and ${rawAfter.perSecond.toFixed(0)})`);
    const ratio = free.perSecond / baseline;
    const rateReached = paced.perSecond >= 0.95 * o.rate;
    console.log(`  goal p99 < 50 ms at ${o.rate}/s: p99 ${ms(paced.p99)} ms at ${paced.perSecond.toFixed(0)}/s -> ${paced.p99 < 50 && rateReached && valid(paced) ? 'met' : `NOT met${rateReached ? '' : ' (rate not reached)'}${valid(paced) ? '' : ' (phase invalid)'}`}`);
    console.log(`  goal intake >= 70 % of the raw loop: ${(100 * ratio).toFixed(0)} % -> ${ratio >= 0.7 && valid(free) && valid(raw) && valid(rawAfter) ? 'met' : 'NOT met'}`);
    console.log(`machine at end: ${machine()}; wall ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    const serviceAlive = service.child.exitCode === null && service.child.signalCode === null;
    if (!serviceAlive) console.log(`  the service exited during the run (see ${path.join(dir, 'service.log')})`);
    return valid(raw) && valid(free) && valid(rawAfter) && valid(paced) && inboxOk && serviceAlive;
  } finally {
    await cleanUp();
  }
}

const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive whole number, not ${v}`);
  return n;
};
const wholeNumber = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number, not ${v}`);
  return n;
};

new Command('bench:intake')
  .description('signed webhooks through the service against a raw signal-with-start loop (issue 16)')
  .option('--duration <s>', 'seconds per measured phase', positive('--duration'), 30)
  .option('--warmup <s>', 'seconds of warm-up per path, not counted (0: none)', wholeNumber('--warmup'), 5)
  .option('--rate <n>', 'requests per second of the paced phase', positive('--rate'), 500)
  .option('--connections <n>', 'connections (intake) and loops (raw)', positive('--connections'), 50)
  .option('--deals <n>', 'deals each phase spreads its events over', positive('--deals'), 1_000)
  .option('--service-cpu-prof <dir>', 'run the service under node --cpu-prof, its .cpuprofile written to <dir> when it stops')
  .option('--temporal-on-disk', "the dev server's SQLite file on disk instead of tmpfs (/dev/shm)", false)
  .action(async (o: Options) => {
    const ok = await run(o);
    process.exit(ok ? 0 : 1);
  })
  .parseAsync()
  .catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  });
