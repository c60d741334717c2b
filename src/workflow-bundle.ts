import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger, type BundleOptions, type WorkflowBundlePath } from '@temporalio/worker';
import { WORKFLOW_INTERCEPTOR_MODULES } from './telemetry';

/**
 * The workflow code bundled once, at build time, instead of at every worker start
 * (bundling ~4 MB of workflow code takes seconds, and a restarted worker should be
 * polling again at once). Two bundles: the plain one and one that also carries the
 * OpenTelemetry workflow interceptors, for workers with tracing on.
 *
 *   npm run build:workflows            # dist/workflow-bundle.js and dist/workflow-bundle.traced.js
 *   WORKFLOW_BUNDLE=dist/workflow-bundle.js npm run worker
 */
export const WORKFLOWS_PATH = require.resolve('./workflows');

/**
 * How the workflow code is bundled (every bundle: the worker's, the tests', the benches').
 * preloadModules: src/workflows/preload.ts and what it imports are evaluated once per
 * workflow thread, before any workflow, and shared by all the workflows of that thread
 * (reuseV8Context); every other module of the bundle is evaluated again for each workflow
 * run and kept with it while it is cached.
 */
export const WORKFLOW_BUNDLER_OPTIONS = { preloadModules: [require.resolve('./workflows/preload')] } satisfies Pick<BundleOptions, 'preloadModules'>;

export const DEFAULT_BUNDLE_FILE = 'workflow-bundle.js';

/** The traced sibling of a bundle file: x.js -> x.traced.js. */
export const tracedBundlePath = (bundle: string): string => bundle.replace(/(\.js)?$/, '.traced.js');

export async function buildWorkflowBundles(outDir: string): Promise<{ plain: string; traced: string }> {
  await mkdir(outDir, { recursive: true });
  const plain = path.resolve(outDir, DEFAULT_BUNDLE_FILE);
  const traced = tracedBundlePath(plain);
  const quiet = new DefaultLogger('WARN');
  const [a, b] = await Promise.all([
    bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, ...WORKFLOW_BUNDLER_OPTIONS, logger: quiet }),
    bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, ...WORKFLOW_BUNDLER_OPTIONS, workflowInterceptorModules: [...WORKFLOW_INTERCEPTOR_MODULES], logger: quiet }),
  ]);
  await writeFile(plain, a.code);
  await writeFile(traced, b.code);
  return { plain, traced };
}

/** A configured bundle file must exist (and its traced sibling, when tracing is on): say which is missing and how to build it. */
export class WorkflowBundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkflowBundleError';
  }
}

/** WORKFLOW_BUNDLE resolved for a worker: undefined bundles at start; otherwise the file to load. */
export function workflowBundleFor(setting: string | undefined, traced: boolean): WorkflowBundlePath | undefined {
  if (setting === undefined) return undefined;
  const file = path.resolve(traced ? tracedBundlePath(setting) : setting);
  if (!existsSync(file)) {
    throw new WorkflowBundleError(`WORKFLOW_BUNDLE: no workflow bundle at ${file}${traced ? ' (tracing is on: the traced bundle)' : ''}; build it with \`npm run build:workflows\``);
  }
  return { codePath: file };
}

if (require.main === module) {
  const outDir = process.argv[2] ?? 'dist';
  buildWorkflowBundles(outDir)
    .then(({ plain, traced }) => console.log(`workflow bundles written: ${path.relative(process.cwd(), plain)}, ${path.relative(process.cwd(), traced)}`))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
