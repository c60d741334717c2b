import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';

/** Chart.js's UMD build from the installed package (its exports map hides dist/, so found next to its main entry). */
const chartJsPath = () => path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');
const ASSETS = path.join(__dirname, 'assets');

/** Same-origin scripts and styles only (CSP script-src/style-src 'self'): Chart.js, the console's chart script and stylesheet. Read once, cached by the browser for an hour. */
export function registerAssets(scope: FastifyInstance): void {
  const files: Record<string, { path: () => string; type: string }> = {
    'chart.umd.min.js': { path: chartJsPath, type: 'text/javascript; charset=utf-8' },
    'console.js': { path: () => path.join(ASSETS, 'console.js'), type: 'text/javascript; charset=utf-8' },
    'console.css': { path: () => path.join(ASSETS, 'console.css'), type: 'text/css; charset=utf-8' },
  };
  const cache = new Map<string, Buffer>();
  scope.get('/console/assets/:file', async (request, reply) => {
    const { file } = request.params as { file: string };
    const asset = Object.prototype.hasOwnProperty.call(files, file) ? files[file] : undefined;
    if (!asset) return reply.code(404).send({ error: 'NOT_FOUND', message: `no asset ${file}` });
    let body = cache.get(file);
    if (!body) cache.set(file, (body = readFileSync(asset.path())));
    return reply.type(asset.type).header('cache-control', 'public, max-age=3600').header('x-content-type-options', 'nosniff').send(body);
  });
}
