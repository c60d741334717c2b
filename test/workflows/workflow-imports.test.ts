import { execFileSync } from 'node:child_process';
import path from 'node:path';

/*
 * Every module the workflow code loads is evaluated again for each deal workflow and kept while the deal is
 * cached, except what src/workflows/preload.ts shares. zod and the canonical schemas cost about 1.3 MiB per
 * cached deal (BENCHMARKS.md, "Engagement state"): workflow code loads them only on a deal's first amendment.
 * This guards the eager imports: a value import of the canonical barrel from workflows, the engagement core or
 * the rules they use would bring them back without any other test failing.
 */
describe('what the workflow code loads eagerly', () => {
  it('loads no zod and only the schema-free canonical modules', () => {
    const root = path.join(__dirname, '..', '..');
    const script = `
      require('./src/workflows');
      const loaded = Object.keys(require.cache);
      console.log(JSON.stringify({
        zod: loaded.filter((k) => k.includes('/node_modules/zod/')).length,
        canonical: loaded.filter((k) => k.includes('/src/canonical/')).map((k) => k.slice(k.indexOf('/src/') + 1)).sort(),
      }));`;
    const out = execFileSync(path.join(root, 'node_modules', '.bin', 'tsx'), ['-e', script], { cwd: root, encoding: 'utf8' });
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ zod: 0, canonical: ['src/canonical/errors.ts', 'src/canonical/money-math.ts'] });
  }, 60_000);
});
