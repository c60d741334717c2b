import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { createLogger, prettyMessage, requestLogController, resolveLogFormat } from '../../src/logger';

/** Collects what a logger writes, line by line. */
function sink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0));
      done();
    },
  });
  return { lines, stream };
}

describe('LOG_FORMAT', () => {
  it('auto is pretty only for a process a person reads on a terminal', () => {
    expect(resolveLogFormat('auto', true, true)).toBe('pretty');
    expect(resolveLogFormat('auto', true, false)).toBe('json'); // npm start piped to a file
    expect(resolveLogFormat('auto', false, true)).toBe('json'); // npm run worker on a terminal
    expect(resolveLogFormat('json', true, true)).toBe('json');
    expect(resolveLogFormat('pretty', false, false)).toBe('pretty');
  });

  it('json writes one JSON object per record, with its fields and the secrets redacted', () => {
    const out = sink();
    const logger = createLogger({ destination: out.stream, service: 'q2c-test' });
    logger.child({ component: 'service' }).info({ headers: { authorization: 'Bearer k-123' }, workflowId: 'deal-1' }, 'webhook dispatched');
    expect(out.lines).toHaveLength(1);
    const record = JSON.parse(out.lines[0]!);
    expect(record).toMatchObject({ service: 'q2c-test', component: 'service', workflowId: 'deal-1', msg: 'webhook dispatched', level: 30 });
    expect(record.headers.authorization).toBe('[REDACTED]');
  });

  it('pretty writes one readable line: level, [component], message, fields; no headers', () => {
    const out = sink();
    const logger = createLogger({ destination: out.stream, format: 'pretty' });
    logger.child({ component: 'service' }).warn({ headers: { 'user-agent': 'x' }, workflowId: 'deal-1' }, 'webhook rejected');
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\] WARN: \[service\] webhook rejected \{"workflowId":"deal-1"\}$/);
    expect(out.lines[0]).not.toContain('user-agent');
  });

  it('a multi-line message keeps its first line', () => {
    expect(prettyMessage({ msg: 'asset workflow-bundle.js 3.9 MiB\norphan modules 473 KiB', component: 'temporal-sdk' })).toBe('[temporal-sdk] asset workflow-bundle.js 3.9 MiB …');
    expect(prettyMessage({ msg: 'one line' })).toBe('one line');
  });
});

describe('requestLogController', () => {
  async function serve(level: 'info' | 'debug', loggerLevel: string) {
    const out = sink();
    const app = Fastify({ loggerInstance: createLogger({ level: loggerLevel, destination: out.stream }), logController: requestLogController(level) });
    app.get('/ping', async () => ({ ok: true }));
    // A real request over loopback (Fastify's inject needs an ESM-only module jest cannot load here).
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    await fetch(`${url}/ping`);
    await app.close();
    return out.lines.map((l) => JSON.parse(l) as { level: number; msg: string; statusCode?: number; url?: string }).filter((l) => !l.msg.startsWith('Server listening'));
  }

  it("info keeps Fastify's own two lines per request", async () => {
    const lines = await serve('info', 'info');
    expect(lines.map((l) => l.msg)).toEqual(['incoming request', 'request completed']);
  });

  it('debug writes nothing at info, and one line per answered request at debug', async () => {
    expect(await serve('debug', 'info')).toEqual([]);
    const lines = await serve('debug', 'debug');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 20, msg: 'request completed', url: '/ping', statusCode: 200 });
  });
});
