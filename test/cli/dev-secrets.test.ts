import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { consoleBanner, ensureDevSecrets } from '../../src/cli/dev-secrets';
import { parseConfig } from '../../src/config';

describe('dev stack: the operator console', () => {
  it('generates a console session key the configuration accepts, kept across runs', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'q2c-dev-secrets-'));
    const first = ensureDevSecrets(dir);
    expect(Buffer.from(first.Q2C_CONSOLE_SESSION_KEY!, 'base64')).toHaveLength(32);
    expect(ensureDevSecrets(dir).Q2C_CONSOLE_SESSION_KEY).toBe(first.Q2C_CONSOLE_SESSION_KEY);
    expect(() => parseConfig({ Q2C_CONSOLE_SESSION_KEY: 'c2hvcnQ=' })).toThrow(/Q2C_CONSOLE_SESSION_KEY.*32 bytes/s);
  });

  it('prints the console URL and the keys by name and scope, never the key', () => {
    const lines = consoleBanner('http://127.0.0.1:8080/', 'dev-operator:read+operate:k_secret_aaaaaaaaaaaa,dev-controller:approve:k_secret_bbbbbbbbbbbb');
    expect(lines[0]).toBe('Operator console: http://127.0.0.1:8080/console');
    expect(lines[1]).toContain('dev-operator (read+operate), dev-controller (approve)');
    expect(lines.join('\n')).not.toContain('k_secret');
  });
});
