import type { KpiSeries } from './kpis';
import { escapeHtml, renderLayout, type Chrome } from './layout';

function table(s: KpiSeries): string {
  if (s.months.length === 0) return '';
  const head = `<tr><th>${escapeHtml(s.unit)}</th>${s.months.map((m) => `<th class="num">${escapeHtml(m)}</th>`).join('')}</tr>`;
  const rows = s.datasets.map((d) => `<tr><th>${escapeHtml(d.label)}</th>${d.values.map((v) => `<td class="num">${v === null ? '' : v}</td>`).join('')}</tr>`).join('');
  return `<details><summary>numbers</summary><table>${head}${rows}</table></details>`;
}

/** One Chart.js chart per KPI: the data rides in a data attribute, /console/assets/console.js draws it (no inline script). */
export function renderKpisPage(opts: { chrome: Chrome; series: readonly KpiSeries[]; deals: number }): string {
  const charts = opts.series
    .map(
      (s) => `<section class="chart" id="kpi-${escapeHtml(s.id)}"><h2>${escapeHtml(s.title)}</h2><p class="muted">${escapeHtml(s.definition)}</p>
${s.months.length ? '' : '<p class="muted">No data yet.</p>'}<div class="plot"${s.months.length ? '' : ' hidden'}><canvas data-kpi="${escapeHtml(JSON.stringify({ labels: s.months, unit: s.unit, datasets: s.datasets }))}" role="img" aria-label="${escapeHtml(s.title)} by month"></canvas></div>
${table(s)}</section>`,
    )
    .join('\n');
  const body = `<h1>KPIs</h1>
<p class="muted">From ${opts.deals} deal(s) in Temporal (visibility, then each deal's state and delivery). The same events also feed /metrics (q2c_deal_stage_reached_seconds, q2c_invoice_latency_seconds, q2c_deal_exceptions_total) for Prometheus.</p>
${charts}`;
  return renderLayout({ title: 'KPIs', page: 'kpis', chrome: opts.chrome, body, scripts: ['/console/assets/chart.umd.min.js', '/console/assets/console.js'] });
}
