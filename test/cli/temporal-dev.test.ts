import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { devServerArgs, loadDevServerSettings, startDevServer } from '../../src/cli/temporal-dev';
import net from 'node:net';

const write = (text: string): string => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'q2c-')), 'temporal-dev.yaml');
  writeFileSync(file, text);
  return file;
};

describe('temporal-dev.yaml', () => {
  it('turns the committed settings into start-dev arguments, search attributes included', () => {
    const args = devServerArgs(loadDevServerSettings(), '/repo');
    expect(args.slice(0, 8)).toEqual(['server', 'start-dev', '--ip', '127.0.0.1', '--port', '7233', '--ui-port', '8233']);
    expect(args).toEqual(expect.arrayContaining(['--db-filename', '/repo/.q2c/temporal-dev.sqlite', '--ui-codec-endpoint', 'http://127.0.0.1:8080/codec']));
    const attrs = args.flatMap((a, i) => (args[i - 1] === '--search-attribute' ? [a] : []));
    expect(attrs).toEqual(['DealStage=Keyword', 'CustomerId=Keyword', 'LegalEntity=Keyword', 'NeedsAttention=Bool']);
    expect(args).toEqual(expect.arrayContaining(['--dynamic-config-value', 'system.forceSearchAttributesCacheRefreshOnRead=true']));
  });

  it('names the file and every bad key', () => {
    const file = write('port: seventy\nsearchAttributes:\n  DealStage: Keywrd\ncolour: blue\n');
    expect(() => loadDevServerSettings(file)).toThrow(file);
    try {
      loadDevServerSettings(file);
    } catch (err) {
      const msg = (err as Error).message;
      expect(msg).toContain('port: Invalid input: expected number');
      expect(msg).toContain('searchAttributes.DealStage');
      expect(msg).toContain('colour');
    }
  });

  it('refuses a port held by something else, naming it', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    const settings = { ...loadDevServerSettings(), port, uiPort: port + 1 === 65536 ? port - 1 : port + 1 };
    try {
      await expect(startDevServer(settings, { reuse: true })).rejects.toThrow(`port ${port} (Temporal frontend, temporal-dev.yaml 'port') is already in use`);
    } finally {
      blocker.close();
    }
  });
});
