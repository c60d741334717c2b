import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DEFAULT_WORKER_METRICS_ADDRESS, workerMetricsAddress } from '../../src/worker';
import { REPO_ROOT } from '../../src/cli/toolchain';
import { buildWorkflowBundles } from '../../src/workflow-bundle';
import { sandboxConnectorEnv } from '../../src/cli/dev-secrets';
import { createDevServerEnv, freePort } from '../support/temporal';

jest.setTimeout(120_000);

describe('the worker metrics address', () => {
  it('is on by default for the standalone worker, off with `off`, and WORKER_METRICS_ADDRESS wins', () => {
    expect(DEFAULT_WORKER_METRICS_ADDRESS).toBe('0.0.0.0:9464');
    expect(workerMetricsAddress({ WORKER_METRICS_ADDRESS: undefined })).toBe('0.0.0.0:9464');
    expect(workerMetricsAddress({ WORKER_METRICS_ADDRESS: '127.0.0.1:9100' })).toBe('127.0.0.1:9100');
    expect(workerMetricsAddress({ WORKER_METRICS_ADDRESS: 'off' })).toBeUndefined();
    // The dev stack passes no fallback: none unless asked for.
    expect(workerMetricsAddress({ WORKER_METRICS_ADDRESS: undefined }, null)).toBeUndefined();
  });
});

describe('the standalone worker (src/worker.ts, `npm run worker`) serves the Temporal SDK metrics on /metrics', () => {
  let env: TestWorkflowEnvironment;
  let worker: ChildProcess | undefined;
  const output: string[] = [];

  beforeAll(async () => {
    env = await createDevServerEnv();
  });
  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      const exited = new Promise((r) => worker!.once('exit', r));
      worker.kill('SIGTERM');
      await exited;
    }
    await env?.teardown();
  });

  it('answers Prometheus text with the temporal_ worker metrics of its task queues; on a fresh database it loads the shipped rule sets; it runs a pre-built bundle', async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'q2c-worker-'));
    const { plain } = await buildWorkflowBundles(path.join(dataDir, 'dist'));
    // The real entry point, as `npm run worker` runs it; PGlite in a temporary directory; vendor
    // settings (a standalone worker needs every vendor's) pointing at a sandbox no activity reaches here.
    const childEnv: NodeJS.ProcessEnv = { ...sandboxConnectorEnv('http://127.0.0.1:9'), PATH: process.env.PATH, HOME: dataDir, TEMPORAL_ADDRESS: env.address, Q2C_DATA_DIR: dataDir, WORKER_METRICS_ADDRESS: `127.0.0.1:${port}`, WORKFLOW_BUNDLE: plain, LOG_LEVEL: 'info' };
    worker = spawn(path.join(REPO_ROOT, 'node_modules/.bin/tsx'), [path.join(REPO_ROOT, 'src/worker.ts')], { cwd: REPO_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    worker.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
    worker.stderr!.on('data', (c: Buffer) => output.push(c.toString()));

    let text = '';
    // Both workers' pollers: the ERP worker starts after the deal worker, so the first scrape can hold only the deal worker's.
    const polling = (queue: string) => new RegExp(`^temporal_num_pollers\\{.*task_queue="${queue}"`, 'm').test(text);
    for (let i = 0; i < 600 && !(polling('q2c') && polling('q2c-erp')); i++) {
      if (worker.exitCode !== null) throw new Error(`the worker exited (${worker.exitCode}):\n${output.join('')}`);
      await new Promise((r) => setTimeout(r, 200));
      const res = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
      if (res?.ok) {
        expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
        text = await res.text();
      }
    }
    // Its pollers on both of its task queues, and the SDK's own series (the names the Temporal dashboards use).
    expect(text).toMatch(/^temporal_num_pollers\{.*poller_type="workflow_task".*task_queue="q2c".*\} \d+$/m);
    expect(text).toMatch(/^temporal_num_pollers\{.*poller_type="activity_task".*task_queue="q2c-erp".*\} \d+$/m);
    expect(text).toMatch(/^# TYPE temporal_worker_task_slots_available gauge$/m);
    expect(text).toMatch(/^temporal_worker_start_total\{.*task_queue="q2c".*\} 1$/m);
    // The start line says where the metrics are (and that tracing is off by default).
    const started = output.join('').split('\n').find((l) => l.includes('"msg":"worker running"'));
    expect(JSON.parse(started!)).toMatchObject({ taskQueue: 'q2c', address: env.address, namespace: 'default', metrics: `http://127.0.0.1:${port}/metrics`, tracing: false, workflowBundle: plain });
    // A fresh database (PGlite in a new directory): the worker loaded the shipped rule set a new deal pins.
    const ruleSets = output.join('').split('\n').find((l) => l.includes('"msg":"rule sets ready"'));
    expect(JSON.parse(ruleSets!).ruleSets).toEqual(['default@1 (loaded)']);
  });
});
