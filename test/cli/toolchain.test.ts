import { execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolveTemporalCli } from '../../src/cli/toolchain';

describe('Temporal toolchain', () => {
  it('names a TEMPORAL_CLI that is not an executable', () => {
    expect(() => resolveTemporalCli({ temporalCli: '/nonexistent/temporal' })).toThrow('TEMPORAL_CLI=/nonexistent/temporal is not an executable file');
  });

  it('the provisioning script is idempotent and reports what it found', () => {
    const stderr = execFileSync('bash', ['-c', 'bash scripts/temporal-toolchain.sh 2>&1 >/dev/null'], { encoding: 'utf8' });
    expect(stderr).toContain('present in .temporal/bin');
  });

  it('without pip, Go or Java it says what to install instead of failing obscurely', () => {
    // A PATH with the shell utilities the script uses, and no python3, go, java or temporal.
    const bin = mkdtempSync(path.join(tmpdir(), 'q2c-notools-'));
    for (const tool of ['dirname', 'mkdir', 'ln', 'cat', 'grep', 'tr', 'head']) symlinkSync(`/usr/bin/${tool}`, path.join(bin, tool));
    const copy = mkdtempSync(path.join(tmpdir(), 'q2c-repo-'));
    execFileSync('cp', ['-r', 'scripts', 'tools', copy]);
    let stderr = '';
    try {
      execFileSync('/bin/bash', [path.join(copy, 'scripts/temporal-toolchain.sh')], { env: { PATH: bin }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      stderr = String((err as { stderr: string }).stderr);
    }
    expect(stderr).toContain('python3 not found');
    expect(stderr).toContain('Go 1.25+ is needed to build the Temporal CLI from source');
  });
});
