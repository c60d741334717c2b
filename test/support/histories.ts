import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import type { WorkflowHandle } from '@temporalio/client';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { Worker, type ReplayWorkerOptions, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { setupTelemetry, type Telemetry } from '../../src/telemetry';
import { kpiSinks } from '../../src/worker';

/** Histories of the deal workflow (replayed with the main bundle). */
export const HISTORIES_DIR = path.join(__dirname, '..', 'histories');
/** Histories of the delivery part alone (engagementTestWorkflow, replayed with its test bundle). */
export const DELIVERY_HISTORIES_DIR = path.join(HISTORIES_DIR, 'delivery');

/**
 * Saves a finished workflow's history under test/histories when
 * Q2C_RECORD_HISTORIES=1, so that test/replay proves later code replays it.
 * Committed histories are never rewritten by a normal test run.
 */
export async function maybeRecordHistory(handle: WorkflowHandle, name: string, dir = HISTORIES_DIR): Promise<void> {
  if (process.env.Q2C_RECORD_HISTORIES !== '1') return;
  const history = temporal.api.history.v1.History.fromObject(await handle.fetchHistory());
  // Proto3 JSON through @temporalio/proto's own types (the copy of protobufjs inside
  // @temporalio/common rejects messages made by another copy).
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(history.toJSON(), null, 1) + '\n');
}

export function loadHistories(dir = HISTORIES_DIR): Array<{ workflowId: string; history: temporal.api.history.v1.History }> {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({
      workflowId: path.basename(f, '.json'),
      history: temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(path.join(dir, f), 'utf8'))),
    }));
}

type Histories = ReturnType<typeof loadHistories>;

/**
 * Each history replayed twice: on `bundle`, and on `tracedBundle` with the OpenTelemetry
 * interceptors installed (tracing on), so tracing can be turned on or off under running deals.
 */
export function itReplays(histories: Histories, bundles: { bundle: () => Promise<WorkflowBundleWithSourceMap>; tracedBundle: () => Promise<WorkflowBundleWithSourceMap> }): void {
  const replay = async (h: Histories[number], options: Omit<ReplayWorkerOptions, 'workflowBundle'> & { workflowBundle: WorkflowBundleWithSourceMap }) => {
    for await (const r of Worker.runReplayHistories(options, [h])) expect(r.error).toBeUndefined();
  };
  it.each(histories.map((h) => [h.workflowId, h] as const))('%s replays without nondeterminism', async (_id, h) => {
    await replay(h, { workflowBundle: await bundles.bundle(), sinks: kpiSinks() });
  });

  describe('with the OpenTelemetry interceptors installed (tracing on)', () => {
    let telemetry: Telemetry;
    beforeAll(() => {
      telemetry = setupTelemetry({ serviceName: 'replay', env: {}, exporter: new InMemorySpanExporter() });
    });
    afterAll(() => telemetry.shutdown());

    it.each(histories.map((h) => [h.workflowId, h] as const))('%s replays without nondeterminism', async (_id, h) => {
      await replay(h, { workflowBundle: await bundles.tracedBundle(), sinks: { ...kpiSinks(), ...telemetry.worker!.sinks }, interceptors: { activity: telemetry.worker!.interceptors.activity } });
    });
  });
}
