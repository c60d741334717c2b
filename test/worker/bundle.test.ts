import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { tracedBundlePath, WorkflowBundleError, workflowBundleFor } from '../../src/workflow-bundle';

describe('WORKFLOW_BUNDLE', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'q2c-bundle-'));
  const plain = path.join(dir, 'workflow-bundle.js');

  it('unset: the worker bundles the workflow code at start', () => {
    expect(workflowBundleFor(undefined, false)).toBeUndefined();
    expect(workflowBundleFor(undefined, true)).toBeUndefined();
  });

  it('set: the plain bundle, or with tracing on its traced sibling', () => {
    writeFileSync(plain, '/* plain */');
    writeFileSync(tracedBundlePath(plain), '/* traced */');
    expect(tracedBundlePath(plain)).toBe(path.join(dir, 'workflow-bundle.traced.js'));
    expect(workflowBundleFor(plain, false)).toEqual({ codePath: plain });
    expect(readFileSync(workflowBundleFor(plain, true)!.codePath, 'utf8')).toBe('/* traced */');
  });

  it('a missing file stops the worker with the setting, the path and how to build it', () => {
    const missing = path.join(dir, 'nope.js');
    expect(() => workflowBundleFor(missing, false)).toThrow(WorkflowBundleError);
    expect(() => workflowBundleFor(missing, false)).toThrow(`WORKFLOW_BUNDLE: no workflow bundle at ${missing}; build it with \`npm run build:workflows\``);
    expect(() => workflowBundleFor(missing, true)).toThrow(`no workflow bundle at ${path.join(dir, 'nope.traced.js')} (tracing is on: the traced bundle)`);
  });
});
