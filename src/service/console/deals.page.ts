import type { DealView, DeliveryView, RevenueWaterfall } from '../../contract';
import type { AuditLink } from '../../db/audit';
import { temporalUiUrl, type TemporalUiLink } from '../dashboard.routes';
import type { DealSummary } from '../deal-gateway';
import { contractVersions, dealTimeline, openBalance, type DealAmounts } from './deals';
import { escapeHtml, instant, money, renderLayout, type Chrome } from './layout';

export interface DealRow {
  summary: DealSummary;
  /** Absent before delivery or when the deal could not be queried. */
  amounts?: DealAmounts;
}

const stageLabel = (s: string | undefined) => escapeHtml((s ?? '—').replace(/_/g, ' '));
const dealLink = (opportunityId: string) => `<a href="/console/deals/${encodeURIComponent(opportunityId)}">${escapeHtml(opportunityId)}</a>`;
const amount = (minor: number | undefined, currency: string | undefined) => (minor === undefined || !currency ? '' : escapeHtml(money(minor, currency)));

/** The deals page: the funnel by stage, then one row per deal with its amounts, and totals per currency. */
export function renderDealsPage(opts: {
  chrome: Chrome;
  rows: readonly DealRow[];
  funnel: ReadonlyArray<{ stage: string; count: number }>;
  totals: ReadonlyMap<string, Omit<DealAmounts, 'currency'>>;
  ui: TemporalUiLink;
  stage?: string;
}): string {
  const cards = opts.funnel
    .map(
      (f) =>
        `<a class="card${f.stage === 'NEEDS_ATTENTION' && f.count > 0 ? ' attention' : ''}" href="/console/deals?stage=${encodeURIComponent(f.stage)}" data-stage="${escapeHtml(f.stage)}"><div class="n">${f.count}</div><div class="muted">${stageLabel(f.stage)}</div></a>`,
    )
    .join('\n');
  const rows = opts.rows
    .map(({ summary: d, amounts: a }) => {
      const c = a?.currency;
      return `<tr data-deal="${escapeHtml(d.opportunityId)}"><td>${dealLink(d.opportunityId)}</td><td><span class="badge${d.needsAttention ? ' attention' : ''}">${stageLabel(d.stage)}</span></td><td>${escapeHtml(d.customerId ?? '')}</td><td>${escapeHtml(d.legalEntity ?? '')}</td>
<td class="num">${amount(a?.contractValueMinor, c)}</td><td class="num">${amount(a?.invoicedMinor, c)}</td><td class="num">${amount(a?.collectedMinor, c)}</td><td class="num">${amount(a?.outstandingMinor, c)}</td>
<td>${escapeHtml(instant(d.startedAt))}</td><td><a href="${escapeHtml(temporalUiUrl(opts.ui, d.workflowId))}" rel="noreferrer">workflow</a></td></tr>`;
    })
    .join('\n');
  const totals = [...opts.totals.entries()]
    .sort(([x], [y]) => x.localeCompare(y))
    .map(([c, t]) => `<tr class="total" data-currency="${escapeHtml(c)}"><th colspan="4">Total ${escapeHtml(c)}</th><td class="num">${amount(t.contractValueMinor, c)}</td><td class="num">${amount(t.invoicedMinor, c)}</td><td class="num">${amount(t.collectedMinor, c)}</td><td class="num">${amount(t.outstandingMinor, c)}</td><td colspan="2"></td></tr>`)
    .join('\n');
  const body = `<h1>Deals${opts.stage ? ` in ${stageLabel(opts.stage)} <a class="muted" href="/console/deals">(all)</a>` : ''}</h1>
<div class="cards" id="funnel">${cards}</div>
<table id="deals">
<thead><tr><th>Opportunity</th><th>Stage</th><th>Customer</th><th>Legal entity</th><th class="num">Contract value</th><th class="num">Invoiced</th><th class="num">Collected</th><th class="num">Outstanding</th><th>Started</th><th>Temporal</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="10" class="muted">No deals.</td></tr>'}
${totals}
</tbody>
</table>
<p class="muted">Amounts are in each deal's contract currency, tax included; deals before delivery have none yet. Totals are per currency.</p>`;
  return renderLayout({ title: 'Deals', page: 'deals', chrome: opts.chrome, body });
}

/** An operator action as the deal page lists it (operator_actions). */
export interface OperatorActionRecordView {
  at: string;
  actor: string;
  via: string;
  action: string;
  target: string | null;
  reason: string | null;
  outcome: string;
}

export function renderActionLog(actions: readonly OperatorActionRecordView[]): string {
  if (actions.length === 0) return '<p class="muted">None recorded.</p>';
  const rows = actions
    .map((x) => `<tr><td>${escapeHtml(instant(x.at))}</td><td>${escapeHtml(x.actor)}</td><td>${escapeHtml(x.via)}</td><td>${escapeHtml(x.action)}</td><td>${escapeHtml(x.target ?? '')}</td><td>${escapeHtml(x.reason ?? '')}</td><td>${escapeHtml(x.outcome)}</td></tr>`)
    .join('\n');
  return `<table id="actions"><thead><tr><th>When</th><th>Who</th><th>Via</th><th>Action</th><th>On</th><th>Why</th><th>Outcome</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** One deal: ids, amounts, the end-to-end timeline, contract versions, invoices with their audit trail, and the operators' actions. */
export function renderDealPage(opts: {
  chrome: Chrome;
  workflowId: string;
  view: DealView;
  delivery?: DeliveryView;
  waterfall?: RevenueWaterfall;
  amounts?: DealAmounts;
  audit: readonly AuditLink[];
  actions: readonly OperatorActionRecordView[];
  ui: TemporalUiLink;
}): string {
  const { view, delivery, amounts: a } = opts;
  const c = delivery?.currency;
  const ids = Object.entries(view.ids)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(Array.isArray(v) ? v.join(', ') : String(v))}</td></tr>`)
    .join('');
  const amountCards = a
    ? (
        [
          ['Contract value', a.contractValueMinor],
          ['Invoiced', a.invoicedMinor],
          ['Collected', a.collectedMinor],
          ['Outstanding', a.outstandingMinor],
          ['Awaiting approval', a.awaitingApprovalMinor],
          ['Recognised', a.recognisedMinor],
        ] as const
      )
        .map(([label, v]) => `<div class="card" data-amount="${escapeHtml(label)}"><div class="n">${amount(v, c)}</div><div class="muted">${escapeHtml(label)}</div></div>`)
        .join('')
    : '<p class="muted">Not in delivery yet: no invoices or revenue.</p>';
  const timeline = dealTimeline(view, delivery)
    .map((e) => {
      const extra = [e.amountMinor !== undefined && c ? money(e.amountMinor, c) : '', e.paidMinor && c ? `paid ${money(e.paidMinor, c)}` : '', e.writtenOffMinor && c ? `written off ${money(e.writtenOffMinor, c)}` : '']
        .filter(Boolean)
        .join(', ');
      return `<li data-kind="${e.kind}"><span class="muted">${escapeHtml(instant(e.at))}</span> ${escapeHtml(e.text)}${extra ? ` — <strong>${escapeHtml(extra)}</strong>` : ''}</li>`;
    })
    .join('\n');
  const versions = contractVersions(delivery)
    .map((v) => `<tr><td>v${v.version}</td><td>${escapeHtml(v.from || 'start')}</td><td>${escapeHtml(v.by ?? '')}</td><td>${escapeHtml(v.reason)}</td><td>${escapeHtml(v.changes.join(', '))}</td></tr>`)
    .join('');
  const byDocument = new Map<string, AuditLink[]>();
  for (const l of opts.audit) if (l.documentKind === 'invoice') byDocument.set(l.documentNumber, [...(byDocument.get(l.documentNumber) ?? []), l]);
  const invoices = (delivery?.invoices ?? [])
    .map((i) => {
      const trail = (byDocument.get(i.number) ?? [])
        .map((l) => `<tr><td>${escapeHtml(l.documentLineId)}</td><td>${escapeHtml(l.billingEventId ?? '')}</td><td>${escapeHtml(`${l.sourceKind} ${l.sourceId}`)}</td><td>${escapeHtml(l.contractLineId ?? '?')}</td><td>${escapeHtml(l.quoteLineId ?? '?')}</td><td class="num">${amount(l.amountMinor ?? undefined, l.currency ?? undefined)}</td></tr>`)
        .join('');
      return `<tr data-invoice="${escapeHtml(i.number)}"><td>${escapeHtml(i.number)}</td><td>${escapeHtml(i.status)}</td><td>${escapeHtml(i.issueDate)}</td><td>${escapeHtml(i.dueDate)}</td><td class="num">${amount(i.totalMinor, c)}</td><td class="num">${amount(i.paidMinor, c)}</td><td class="num">${amount(openBalance(i), c)}</td></tr>
<tr><td></td><td colspan="6"><details><summary>audit trail: invoice line → billing event → source item → contract line → quote line</summary>${trail ? `<table><thead><tr><th>Invoice line</th><th>Billing event</th><th>Source</th><th>Contract line</th><th>Quote line</th><th class="num">Amount</th></tr></thead><tbody>${trail}</tbody></table>` : '<p class="muted">No audit links recorded.</p>'}</details></td></tr>`;
    })
    .join('\n');
  const open = view.exceptions.length
    ? `<p class="flash error"><a href="/console/exceptions">${view.exceptions.length} open exception(s)</a>: ${escapeHtml(view.exceptions.map((e) => `${e.step} ${e.code}`).join('; '))}</p>`
    : '';
  const body = `<h1>Deal ${escapeHtml(view.opportunityId)} <span class="badge${view.stage === 'NEEDS_ATTENTION' ? ' attention' : ''}" id="stage">${stageLabel(view.stage)}</span></h1>
<p><a href="${escapeHtml(temporalUiUrl(opts.ui, opts.workflowId))}" rel="noreferrer">Workflow ${escapeHtml(opts.workflowId)} in the Temporal Web UI</a>${delivery ? ` · business date ${escapeHtml(delivery.asOf)}` : ''}</p>
${open}
<div class="cards" id="amounts">${amountCards}</div>
<h2>Records</h2><table><tbody><tr><th>customer</th><td>${escapeHtml(view.customerId ?? '')}</td></tr><tr><th>legal entity</th><td>${escapeHtml(view.legalEntityId ?? '')}${view.intercompany ? ' (intercompany)' : ''}</td></tr>${ids}</tbody></table>
<h2>Timeline</h2><ol class="timeline" id="timeline">${timeline}</ol>
<h2>Contract versions</h2>${versions ? `<table><thead><tr><th>Version</th><th>From</th><th>By</th><th>Why</th><th>Changes</th></tr></thead><tbody>${versions}</tbody></table>` : '<p class="muted">Known once the deal is in delivery.</p>'}
<h2>Invoices</h2>${invoices ? `<table id="invoices"><thead><tr><th>Number</th><th>Status</th><th>Issued</th><th>Due</th><th class="num">Total</th><th class="num">Paid</th><th class="num">Open</th></tr></thead><tbody>${invoices}</tbody></table>` : '<p class="muted">None yet.</p>'}
<h2>Operator actions</h2>${renderActionLog(opts.actions)}`;
  return renderLayout({ title: `Deal ${view.opportunityId}`, page: 'deals', chrome: opts.chrome, body });
}
