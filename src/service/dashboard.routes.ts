import type { FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DEAL_STAGES } from '../contract';
import { requireScope, type AccessPolicy } from './auth';
import type { DealGateway, DealListQuery, DealSummary } from './deal-gateway';
import { validationProblem, type HttpProblem } from './errors';
import { documented, errorResponses } from './openapi';
import { answer } from './operator.routes';
import { contentSecurityPolicy, styleHash } from './security';

/** A form's "any" option sends the parameter empty: that is no filter. */
const unsetIfEmpty = (v: unknown) => (v === '' ? undefined : v);

/** Query string of GET /deals and GET /dashboard. The stage goes into a visibility query: closed list only. */
export const DealListParams = z.object({
  stage: z.preprocess(unsetIfEmpty, z.enum(DEAL_STAGES).optional()),
  needsAttention: z.preprocess(
    unsetIfEmpty,
    z
      .enum(['true', 'false'], { error: 'expected true or false' })
      .transform((v) => v === 'true')
      .optional(),
  ),
  limit: z.preprocess(unsetIfEmpty, z.coerce.number().int().min(1).max(1000).default(200)),
});

export interface TemporalUiLink {
  /** e.g. http://localhost:8233 */
  baseUrl: string;
  namespace: string;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Text and attribute values alike: every value rendered into the page goes through this. */
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

export const temporalUiUrl = (ui: TemporalUiLink, workflowId: string): string =>
  `${ui.baseUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(ui.namespace)}/workflows/${encodeURIComponent(workflowId)}`;

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1b1f24}
h1{font-size:1.3rem;margin:0 0 1rem}
form{margin:0 0 1rem;display:flex;gap:.75rem;align-items:end}
label{display:flex;flex-direction:column;font-size:.8rem;color:#57606a}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #d0d7de;white-space:nowrap}
th{background:#f6f8fa;font-weight:600}
tr.attention td{background:#fff8c5}
.muted{color:#57606a}
`;

/** The dashboard page: a filter form and one row per deal. Pure, so a test can read it exactly. */
export function renderDashboard(opts: { deals: readonly DealSummary[]; query: DealListQuery; ui: TemporalUiLink; limit: number }): string {
  const { deals, query, ui } = opts;
  const option = (value: string, label: string, selected: boolean) =>
    `<option value="${escapeHtml(value)}"${selected ? ' selected' : ''}>${escapeHtml(label)}</option>`;
  const stageOptions = [option('', 'any', query.stage === undefined), ...DEAL_STAGES.map((s) => option(s, s, query.stage === s))].join('');
  const attention = query.needsAttention;
  const attentionOptions = [option('', 'any', attention === undefined), option('true', 'yes', attention === true), option('false', 'no', attention === false)].join('');
  const rows = deals
    .map((d) => {
      const cells = [
        `<a href="/deals/${encodeURIComponent(d.opportunityId)}">${escapeHtml(d.opportunityId)}</a>`,
        escapeHtml(d.stage ?? '—'),
        d.needsAttention ? 'yes' : 'no',
        escapeHtml(d.customerId ?? ''),
        escapeHtml(d.legalEntity ?? ''),
        escapeHtml(d.status),
        escapeHtml(d.startedAt),
        escapeHtml(d.closedAt ?? ''),
        `<a href="${escapeHtml(temporalUiUrl(ui, d.workflowId))}" rel="noreferrer">${escapeHtml(d.workflowId)}</a>`,
      ];
      return `<tr${d.needsAttention ? ' class="attention"' : ''}>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
    })
    .join('\n');
  const needing = deals.filter((d) => d.needsAttention).length;
  const summary =
    `${deals.length} deal${deals.length === 1 ? '' : 's'}, ${needing} needing attention` +
    (deals.length >= opts.limit ? ` (first ${opts.limit}; narrow the filter)` : '');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>q2c deals</title>
<style>${STYLE}</style>
</head>
<body>
<h1>q2c deals</h1>
<form method="get" action="/dashboard">
<label>Stage<select name="stage">${stageOptions}</select></label>
<label>Needs attention<select name="needsAttention">${attentionOptions}</select></label>
<button type="submit">Filter</button>
</form>
<p class="muted">${escapeHtml(summary)}</p>
<table>
<thead><tr><th>Opportunity</th><th>Stage</th><th>Needs attention</th><th>Customer</th><th>Legal entity</th><th>Workflow status</th><th>Started</th><th>Closed</th><th>Temporal</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</body>
</html>
`;
}

function errorPage(problem: HttpProblem): string {
  const issues = (problem.details.issues ?? []) as Array<{ path: string; message: string }>;
  const items = issues.map((i) => `<li><code>${escapeHtml(i.path)}</code>: ${escapeHtml(i.message)}</li>`).join('');
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>q2c deals: ${escapeHtml(problem.message)}</title></head>
<body>
<h1>${escapeHtml(problem.message)}</h1>
<ul>${items}</ul>
<p><a href="/dashboard">all deals</a></p>
</body>
</html>
`;
}

/** The dashboard's one inline <style>, allowed by its hash in the page's CSP (no 'unsafe-inline'). */
export const DASHBOARD_STYLE_HASH = styleHash(STYLE);

// Security headers (CSP, nosniff, referrer policy, framing) come from @fastify/helmet (security.ts);
// the page adds its inline style's hash to the CSP and is never cached (it shows live state).
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
};
const PAGE_CSP = { contentSecurityPolicy: contentSecurityPolicy({ extraStyles: [DASHBOARD_STYLE_HASH] }) };

/** A deal as the visibility store lists it (DealSummary). */
const DealSummaryBody = z.object({
  workflowId: z.string(),
  runId: z.string(),
  opportunityId: z.string(),
  status: z.string().meta({ description: 'RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, CONTINUED_AS_NEW, TIMED_OUT' }),
  stage: z.string().optional(),
  customerId: z.string().optional(),
  legalEntity: z.string().optional(),
  needsAttention: z.boolean(),
  startedAt: z.string().meta({ format: 'date-time' }),
  closedAt: z.string().meta({ format: 'date-time' }).optional(),
});

/** GET /deals (JSON) and GET /dashboard (HTML): deals from the visibility store, filtered by stage and needs-attention. */
export function registerDashboardRoutes(app: FastifyInstance, deps: { access: AccessPolicy; gateway: DealGateway; ui: TemporalUiLink }) {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get('/deals', {
    preValidation: requireScope(deps.access, 'read'),
    config: { inputNames: { querystring: 'query' } },
    schema: {
      ...documented({ tag: 'deals', summary: 'Deals, filtered by stage and needs-attention', scope: 'read', description: 'From the workflow visibility store (search attributes DealStage, NeedsAttention): open deals first, then by close time.' }),
      querystring: DealListParams,
      response: { 200: z.object({ items: z.array(DealSummaryBody) }), ...errorResponses(400, 401, 403, 429) },
    },
  }, async (request, reply) => {
    try {
      const { limit, ...query } = request.query;
      return { items: await deps.gateway.listDeals({ ...query, limit }) };
    } catch (err) {
      return answer(reply, err);
    }
  });

  api.get('/dashboard', {
    preValidation: requireScope(deps.access, 'read', { challenge: 'Basic' }),
    helmet: PAGE_CSP,
    config: { inputNames: { querystring: 'query' } },
    schema: {
      ...documented({ tag: 'pages', summary: 'The deal dashboard (HTML)', scope: 'read', description: 'A filter form and one row per deal, each linked to its workflow in the Temporal Web UI. Open on loopback in the dev stack.' }),
      querystring: DealListParams,
      produces: ['text/html'],
      response: {
        200: { description: 'The page', content: { 'text/html': { schema: z.string() } } },
        400: { description: 'A bad filter: a page naming each bad parameter', content: { 'text/html': { schema: z.string() } } },
        ...errorResponses(401, 403, 429),
      },
    },
    // A bad filter answers the page's own error page, not the API's JSON.
    errorHandler: (error, request, reply) => {
      if (!hasZodFastifySchemaValidationErrors(error)) throw error;
      const problem = validationProblem(error, request.routeOptions.config.inputNames);
      return reply.code(400).headers(PAGE_HEADERS).send(errorPage(problem));
    },
  }, async (request, reply) => {
    const { limit, ...query } = request.query;
    const deals = await deps.gateway.listDeals({ ...query, limit });
    reply.headers(PAGE_HEADERS);
    return renderDashboard({ deals, query, ui: deps.ui, limit });
  });
}
