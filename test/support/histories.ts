import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import type { WorkflowHandle } from '@temporalio/client';

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
