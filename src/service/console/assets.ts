import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';

/** Chart.js's UMD build from the installed package (its exports map hides dist/, so found next to its main entry). */
const chartJsPath = () => path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');
const consoleJsPath = path.join(__dirname, 'assets', 'console.js');

/** Same-origin scripts only (CSP script-src 'self'): Chart.js and the console's own chart script. Read once, cached by the browser for an hour. */
export function registerAssets(scope: FastifyInstance): void {
  const files: Record<string, () => string> = {
    'chart.umd.min.js': chartJsPath,
    'console.js': () => consoleJsPath,
  };
  const cache = new Map<string, Buffer>();
  scope.get('/console/assets/:file', async (request, reply) => {
    const { file } = request.params as { file: string };
    const locate = files[file];
    if (!locate) return reply.code(404).send({ error: 'NOT_FOUND', message: `no asset ${file}` });
    let body = cache.get(file);
    if (!body) cache.set(file, (body = readFileSync(locate())));
    return reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').header('x-content-type-options', 'nosniff').send(body);
  });
}
