/**
 * One chaos run: the local stack with q2c's own processes, N deals through the
 * real signed webhooks, and while they run: worker SIGKILLs (each restarted),
 * a dev-server and a PostgreSQL restart, vendor faults at about 30 %, the
 * webhook storm, bad data, and (full profile) a deploy from a previous commit's
 * workers to this build. Then the faults stop and the run waits for every deal
 * to settle, reconciled from the vendors' records (reconcile.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { EncryptionCodec, parseEncryptionKeys } from '../../src/codec/encryption.codec';
import { REPO_ROOT } from '../../src/cli/toolchain';
import { openDb } from '../../src/db';
import { SANDBOX_DOCUSIGN_HMAC_KEYS } from '../../src/sandbox/credentials';
import { seededRandom, type FaultRuleInput } from '../../src/sandbox/faults';
import { startSandbox } from '../../src/sandbox/server';
import { STRIPE_SANDBOX } from '../../src/sandbox/stripe/stripe.sandbox';
import { driveDeal, planDeals } from './deals';
import { exited, freePort, q2cEnv, sleep, startQ2c, startServers, type Q2cProcess } from './processes';
import { reconcile, type Reconciliation } from './reconcile';
import { Storm } from './storm';

export interface ChaosProfile {
  name: string;
  deals: number;
  /** Deals driven at once. */
  concurrency: number;
  /** Worker processes (each runs the deal and the ERP workers, as src/worker.ts does). */
  workers: number;
  /** Worker SIGKILLs, spread over the run, each followed by a restart. */
  kills: number;
  killEveryMs: number;
  /** Chance a request to NetSuite, AvaTax, Stripe or Kantata meets a fault. */
  faultProbability: number;
  restartTemporal: boolean;
  restartPostgres: boolean;
  /** A git revision whose workers run first and are replaced by this build mid-run (none: no deploy). */
  deployFrom?: string;
  /** Every n-th deal carries one kind of bad data, the kinds in turn (0: none)... */
  badEvery: number;
  /** ...or, when set, the first this many deals do (the short profile: each kind once). */
  badDeals?: number;
  maxLateMs: number;
  /** How long the run waits for the deals to settle after the last fault. */
  settleDeadlineMs: number;
  seed: number;
}

export const PROFILES: Record<'short' | 'full', ChaosProfile> = {
  short: { name: 'short', deals: 10, concurrency: 10, workers: 2, kills: 6, killEveryMs: 6_000, faultProbability: 0.3, restartTemporal: true, restartPostgres: true, badEvery: 0, badDeals: 7, maxLateMs: 3_000, settleDeadlineMs: 180_000, seed: 15 },
  full: { name: 'full', deals: 200, concurrency: 25, workers: 2, kills: 24, killEveryMs: 8_000, faultProbability: 0.3, restartTemporal: true, restartPostgres: true, deployFrom: 'HEAD~1', badEvery: 10, maxLateMs: 10_000, settleDeadlineMs: 600_000, seed: 15 },
};

export interface FaultRow {
  kind: string;
  injected: number;
  /** Survived: the run went on (process back and ready, vendor call retried, copy refused or deduplicated). */
  survived: number;
  /** Longest recovery where it is measured (a process back and ready), ms. */
  worstRecoveryMs?: number;
  note?: string;
}

export interface ChaosReport {
  profile: ChaosProfile;
  revision: string;
  startedAt: string;
  wallSeconds: number;
  /** From the last fault (faults cleared, last kill or restart) to every deal settled; undefined: not within the deadline. */
  settleSeconds?: number;
  /** The slowest deal that did settle, from the last fault (0: settled when the faults stopped). */
  worstSettledSeconds: number;
  faults: FaultRow[];
  reconciliation: Reconciliation;
  /** Worker or service exits the harness did not cause. */
  crashes: string[];
  badAnswers: Record<string, number[]>;
  stormUnexpected: string[];
}

const VENDOR_FAULTS = (p: number): FaultRuleInput[] => {
  // Four independent kinds per vendor; together about p of a vendor's requests are hit: 1 - (1 - q)^4 = p.
  const q = 1 - Math.pow(1 - p, 1 / 4);
  const notAdmin = '^/(?!_sandbox)';
  return ['netsuite', 'avalara', 'stripe', 'kantata'].flatMap((vendor) => [
    { vendor, path: notAdmin, kind: 'status', status: 503, message: 'chaos: service unavailable', probability: q },
    { vendor, path: notAdmin, kind: 'rate_limit', retryAfterSeconds: 1, probability: q },
    { vendor, path: notAdmin, kind: 'reset', probability: q },
    { vendor, path: notAdmin, kind: 'timeout_after_commit', probability: q },
  ]);
};

export async function runChaos(profile: ChaosProfile, log: (line: string) => void = console.log): Promise<ChaosReport> {
  const t0 = Date.now();
  const dir = mkdtempSync(path.join(tmpdir(), 'q2c-chaos-'));
  const revision = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT }).toString().trim();
  const random = seededRandom(profile.seed);
  const cleanup: Array<() => Promise<unknown>> = [];
  const crashes: string[] = [];
  const faults: FaultRow[] = [];
  log(`chaos ${profile.name}: ${profile.deals} deals, ${profile.workers} worker processes, ${profile.kills} SIGKILLs, vendor faults ${Math.round(profile.faultProbability * 100)} %, at ${revision}; files in ${dir}`);
  try {
    // ---- the stack: PostgreSQL, Temporal, the sandboxes (their own in-memory database: vendors are other systems), the storm
    const { pg, temporal, workflowBundle } = await startServers(dir, cleanup, { temporalOnDisk: true }); // the same file after a restart, as on a real disk
    log(`  PostgreSQL ${pg.url.replace(/\/\/.*@/, '//…@')}, Temporal ${temporal.address}, workflow bundle built (${((Date.now() - t0) / 1000).toFixed(1)} s)`);

    const servicePort = await freePort();
    const serviceUrl = `http://127.0.0.1:${servicePort}`;
    const storm = new Storm({ serviceUrl, random, maxLateMs: profile.maxLateMs, badCopyProbability: 0.3 });
    await storm.listen({ docusign: SANDBOX_DOCUSIGN_HMAC_KEYS[0]!, stripe: STRIPE_SANDBOX.webhookSecret });
    cleanup.push(() => storm.close());
    const sandboxDb = await openDb({ dataDir: 'memory://' });
    cleanup.push(() => sandboxDb.close());
    const sandbox = await startSandbox({ port: 0, db: sandboxDb.db, logger: pino({ level: 'silent' }), faultSeed: profile.seed, webhookTargets: { docusign: `${storm.relayUrl}/relay/docusign`, stripe: `${storm.relayUrl}/relay/stripe` } });
    cleanup.push(() => sandbox.close());
    // NetSuite's account governor: few requests in flight, so concurrency refusals happen for real.
    await fetch(`${sandbox.url}/netsuite/_sandbox/config`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ concurrencyLimit: 3, processingMs: 20 }) });

    const { secrets, payloadKeys, env } = q2cEnv({ dir, sandboxUrl: sandbox.url, temporalAddress: temporal.address, databaseUrl: pg.url, servicePort, workflowBundle });

    // ---- q2c: the service, then the workers (of the previous commit first when a deploy is in the run)
    const service = startQ2c({ name: 'service', entry: 'src/service/main.ts', env, logFile: path.join(dir, 'service.log'), readyLine: /Server listening/ });
    await service.ready;
    let serviceProc: Q2cProcess = service;
    const superviseService = () => {
      void exited(serviceProc.child).then(() => {
        if (stopping) return;
        crashes.push(`service exited with ${serviceProc.child.signalCode ?? serviceProc.child.exitCode} at +${((Date.now() - t0) / 1000).toFixed(0)} s`);
        serviceProc = startQ2c({ name: 'service', entry: 'src/service/main.ts', env, logFile: path.join(dir, 'service.log'), readyLine: /Server listening/ });
        superviseService();
      });
    };
    let stopping = false;
    superviseService();
    cleanup.push(async () => {
      stopping = true;
      serviceProc.child.kill('SIGTERM');
      await exited(serviceProc.child);
    });

    let prevRoot: string | undefined;
    if (profile.deployFrom) {
      prevRoot = path.join(dir, 'previous');
      execFileSync('git', ['worktree', 'add', '--detach', prevRoot, profile.deployFrom], { cwd: REPO_ROOT, stdio: 'pipe' });
      symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(prevRoot, 'node_modules'));
      cleanup.push(async () => execFileSync('git', ['worktree', 'remove', '--force', prevRoot!], { cwd: REPO_ROOT, stdio: 'pipe' }));
    }
    const workers: Array<Q2cProcess | undefined> = [];
    const recoveries: number[] = [];
    let workerSeq = 0;
    const startWorker = (slot: number, root?: string): Q2cProcess => {
      const w = startQ2c({ name: `worker-${slot}`, ...(root ? { root } : {}), entry: 'src/worker.ts', env: root ? withoutBundle(env) : env, logFile: path.join(dir, `worker-${slot}-${workerSeq++}.log`), readyLine: /worker running/ });
      workers[slot] = w;
      void exited(w.child).then(() => {
        if (stopping || workers[slot] !== w || (w as Q2cProcess & { killed?: boolean }).killed) return;
        crashes.push(`${w.name} exited with ${w.child.signalCode ?? w.child.exitCode} at +${((Date.now() - t0) / 1000).toFixed(0)} s (see its log)`);
        startWorker(slot, w.root === REPO_ROOT ? undefined : w.root);
      });
      return w;
    };
    for (let i = 0; i < profile.workers; i++) startWorker(i, prevRoot);
    await Promise.all(workers.map((w) => w!.ready));
    cleanup.push(async () => {
      stopping = true;
      for (const w of workers) w?.child.kill('SIGTERM');
      await Promise.all(workers.map((w) => (w ? exited(w.child) : undefined)));
    });
    log(`  service and ${profile.workers} worker(s) running${prevRoot ? ` (workers of ${profile.deployFrom})` : ''} at +${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const codec = new EncryptionCodec(parseEncryptionKeys(payloadKeys));
    const connection = await Connection.connect({ address: temporal.address });
    cleanup.push(() => connection.close());
    const client = new Client({ connection, dataConverter: { payloadCodecs: [codec] } });

    // ---- faults on
    await fetch(`${sandbox.url}/_sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(VENDOR_FAULTS(profile.faultProbability)) });

    // ---- the deals
    const deals = planDeals(profile.deals, `CH${revision.slice(0, 4).toUpperCase()}${Date.now().toString(36).toUpperCase()}`, random, profile);
    const target = { client, sandbox, storm, secrets };
    let next = 0;
    const drivers = Array.from({ length: Math.min(profile.concurrency, deals.length) }, async () => {
      while (next < deals.length) {
        const p = deals[next++]!;
        try {
          await driveDeal(target, p);
        } catch (err) {
          p.error = (err as Error).message;
          log(`  deal ${p.key}: ${p.error}`);
        }
      }
    });
    const driving = Promise.all(drivers);

    // ---- chaos while they run
    let kills = 0;
    let deployedAt: number | undefined;
    const restarts: FaultRow[] = [];
    for (let k = 0; k < profile.kills; k++) {
      await sleep(profile.killEveryMs * (0.5 + random()));
      const slot = Math.floor(random() * profile.workers);
      const victim = workers[slot]!;
      (victim as Q2cProcess & { killed?: boolean }).killed = true;
      victim.child.kill('SIGKILL');
      await exited(victim.child);
      kills += 1;
      const killedAt = Date.now();
      const fresh = startWorker(slot, victim.root === REPO_ROOT ? undefined : victim.root);
      void fresh.ready.then((at) => recoveries.push(at - killedAt)).catch(() => {});
      if (profile.restartTemporal && k === Math.floor(profile.kills / 3)) {
        const s = Date.now();
        await temporal.restart();
        restarts.push({ kind: 'Temporal dev server restart (SIGKILL, same SQLite file)', injected: 1, survived: 1, worstRecoveryMs: Date.now() - s });
        log(`  Temporal dev server killed and restarted in ${Date.now() - s} ms`);
      }
      if (prevRoot && deployedAt === undefined && k === Math.floor(profile.kills / 2)) {
        // The deploy: each previous-commit worker is stopped (SIGTERM, as a rollout does) and replaced by this build.
        const s = Date.now();
        for (let i = 0; i < profile.workers; i++) {
          const old = workers[i]!;
          (old as Q2cProcess & { killed?: boolean }).killed = true;
          old.child.kill('SIGTERM');
          await exited(old.child);
          await startWorker(i).ready;
        }
        deployedAt = Date.now();
        restarts.push({ kind: `deploy: workers of ${profile.deployFrom} replaced by ${revision}`, injected: 1, survived: 1, worstRecoveryMs: deployedAt - s });
        log(`  deployed ${revision} over ${profile.deployFrom} in ${deployedAt - s} ms`);
      }
      if (profile.restartPostgres && k === Math.floor((2 * profile.kills) / 3)) {
        const s = Date.now();
        await pg.restart();
        restarts.push({ kind: 'PostgreSQL crash restart (pg_ctl -m immediate)', injected: 1, survived: 1, worstRecoveryMs: Date.now() - s });
        log(`  PostgreSQL crash-restarted in ${Date.now() - s} ms`);
      }
    }
    await Promise.all(workers.map((w) => w!.ready.catch(() => undefined)));
    await driving;
    // ---- faults off: the last fault is now
    const faultStats = (await (await fetch(`${sandbox.url}/_sandbox/faults`)).json()) as { faults: Array<{ rule: FaultRuleInput; matched: number; fired: number }> };
    await fetch(`${sandbox.url}/_sandbox/faults`, { method: 'DELETE' });
    const lastFault = Date.now();
    log(`  ${kills} worker kills done, deals driven, faults cleared at +${((lastFault - t0) / 1000).toFixed(0)} s; waiting for every deal to settle`);
    await storm.drain();

    // Each deal's settle time is when the reconciliation first found it settled (checked every 2 s).
    const settledAt = new Map<string, number>();
    let rec = await reconcile(deals, sandbox, client);
    let settleSeconds: number | undefined;
    for (;;) {
      for (const c of rec.checks) if (c.settled && !settledAt.has(c.opportunityId)) settledAt.set(c.opportunityId, Date.now());
      if (rec.settled === rec.deals) {
        settleSeconds = Math.max(0, ...[...settledAt.values()].map((at) => (at - lastFault) / 1000));
        break;
      }
      if (Date.now() - lastFault > profile.settleDeadlineMs) break;
      await sleep(2_000);
      rec = await reconcile(deals, sandbox, client);
    }
    log(`  ${rec.settled}/${rec.deals} deals settled${settleSeconds !== undefined ? ` ${settleSeconds.toFixed(1)} s after the last fault` : ` (deadline ${profile.settleDeadlineMs / 1000} s)`}`);

    // ---- the table
    // Every slot ran again at the end (awaited above); a worker killed while still starting came back with the next start.
    const back = workers.every((w) => w !== undefined && w.child.exitCode === null && w.child.signalCode === null);
    faults.push({ kind: 'worker SIGKILL (restarted at once)', injected: kills, survived: back ? kills : recoveries.length, worstRecoveryMs: Math.max(0, ...recoveries), note: `kill to "worker running" again: median ${median(recoveries)} ms; ${kills - recoveries.length} killed while still starting` });
    faults.push(...restarts);
    const byKind = new Map<string, { matched: number; fired: number }>();
    for (const f of faultStats.faults) {
      const k = `${f.rule.vendor} ${f.rule.kind === 'status' ? '503' : f.rule.kind === 'rate_limit' ? '429 Retry-After' : f.rule.kind}`;
      const row = byKind.get(k) ?? { matched: 0, fired: 0 };
      row.matched += f.matched;
      row.fired += f.fired;
      byKind.set(k, row);
    }
    for (const [kind, s] of byKind) faults.push({ kind, injected: s.fired, survived: s.fired, note: `${s.matched} requests, ${((100 * s.fired) / Math.max(1, s.matched)).toFixed(0)} % hit` });
    const governor = (await (await fetch(`${sandbox.url}/_sandbox/requests`)).json()) as { requests?: Array<{ vendor: string; status: number; count: number }> };
    const refusals = (governor.requests ?? []).filter((r) => r.vendor === 'netsuite' && r.status === 429).reduce((a, r) => a + r.count, 0);
    faults.push({ kind: 'NetSuite 429 (governor + injected)', injected: refusals, survived: refusals });
    const st = storm.stats;
    faults.push({ kind: 'webhook copies (3 per delivery, shuffled, up to late)', injected: st.validCopies, survived: st.validCopies, note: `${st.deliveries} deliveries; ${st.redelivered} redelivered after 5xx/429/reset` });
    for (const [kind, s] of Object.entries(st.bad)) faults.push({ kind: `webhook ${kind} copy`, injected: s.sent, survived: s.refused, note: 'survived = refused (401; 413 for a body over the limit)' });
    const badAnswers: Record<string, number[]> = {};
    for (const p of deals) if (p.bad) (badAnswers[p.bad] ??= []).push(p.badAnswer ?? 0);
    for (const [kind, answers] of Object.entries(badAnswers)) faults.push({ kind: `bad data: ${kind}`, injected: answers.length, survived: answers.length, note: `answers ${[...new Set(answers)].join(', ')}` });

    const worstSettledSeconds = Math.max(0, ...[...settledAt.values()].map((at) => (at - lastFault) / 1000));
    return { profile, revision, startedAt: new Date(t0).toISOString(), wallSeconds: (Date.now() - t0) / 1000, ...(settleSeconds !== undefined ? { settleSeconds } : {}), worstSettledSeconds, faults, reconciliation: rec, crashes, badAnswers, stormUnexpected: st.unexpected };
  } finally {
    for (const c of cleanup.reverse()) await c().catch((err: unknown) => log(`  cleanup: ${(err as Error).message}`));
    if (!process.env.CHAOS_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

/** A previous commit's worker bundles its own workflow code at start (its bundle is not this build's). */
const withoutBundle = ({ WORKFLOW_BUNDLE: _, ...rest }: Record<string, string>) => rest;

const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : 0);

/** The report as Markdown: the run, the fault table, the reconciliation. */
export function formatReport(r: ChaosReport): string[] {
  const c = r.reconciliation;
  const out = [
    `chaos ${r.profile.name} at ${r.revision}, ${r.startedAt}: ${r.profile.deals} deals, wall ${r.wallSeconds.toFixed(0)} s, settled ${c.settled}/${c.deals} (${c.parkedWithReason} of them waiting for an operator with their reason)${r.settleSeconds !== undefined ? `, the last ${r.settleSeconds.toFixed(1)} s after the last fault` : ` (NOT all within the deadline; the slowest that did: ${r.worstSettledSeconds.toFixed(1)} s after the last fault)`}`,
    '',
    '| fault | injected | survived | worst recovery | note |',
    '|---|---:|---:|---:|---|',
    ...r.faults.map((f) => `| ${f.kind} | ${f.injected} | ${f.survived} | ${f.worstRecoveryMs !== undefined ? `${(f.worstRecoveryMs / 1000).toFixed(1)} s` : ''} | ${f.note ?? ''} |`),
    '',
    `reconciliation from the vendors' records: ${c.invoices} NetSuite invoices, ${c.taxDocuments} AvaTax documents (${c.orphanTaxDocuments} without an invoice), ${c.payments} Stripe payments, ${c.revenueJournals} revenue journals`,
    `  billed ${c.erpCents} cents, inputs say ${c.expectedCents}: duplicates ${c.duplicateCents} cents, lost ${c.lostCents} cents; duplicate external ids ${c.duplicateRecords}`,
    `  crashes not caused by the harness: ${r.crashes.length ? r.crashes.join('; ') : 'none'}`,
    `  storm surprises: ${r.stormUnexpected.length ? r.stormUnexpected.slice(0, 5).join('; ') : 'none'}`,
    ...c.findings.slice(0, 40).map((f) => `  ! ${f}`),
  ];
  return out;
}
