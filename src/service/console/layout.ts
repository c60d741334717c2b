import { formatMoney } from '../../canonical/money-math';
import type { Scope } from '../auth';
import { escapeHtml } from '../dashboard.routes';

export { escapeHtml };

/** Who is signed in, the form token for their POSTs, and a one-time message from the last action. */
export interface Chrome {
  operator: { name: string; scopes: readonly Scope[] };
  csrfToken: string;
  flash?: Flash;
}

export interface Flash {
  kind: 'ok' | 'error';
  text: string;
}

export type ConsolePage = 'deals' | 'exceptions' | 'billing' | 'inbox' | 'rulesets' | 'kpis';

const NAV: ReadonlyArray<[ConsolePage, string]> = [
  ['deals', 'Deals'],
  ['exceptions', 'Exceptions'],
  ['billing', 'Billing release'],
  ['inbox', 'Webhook inbox'],
  ['rulesets', 'Rule sets'],
  ['kpis', 'KPIs'],
];

const STYLE = `
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f8fa}
header{display:flex;align-items:center;gap:1.5rem;background:#24292f;color:#fff;padding:.5rem 1.5rem}
header a{color:#d0d7de;text-decoration:none}
header a.active{color:#fff;font-weight:600;border-bottom:2px solid #fd8c73}
header .brand{font-weight:700;color:#fff}
header .who{margin-left:auto;display:flex;gap:.75rem;align-items:center;color:#d0d7de}
main{padding:1.25rem 1.5rem;max-width:1400px}
h1{font-size:1.3rem;margin:0 0 1rem}
h2{font-size:1.05rem;margin:1.5rem 0 .5rem}
table{border-collapse:collapse;width:100%;background:#fff;margin-bottom:1rem}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #d0d7de;vertical-align:top}
th{background:#eaeef2;font-weight:600;white-space:nowrap}
td.num,th.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.muted{color:#57606a}
.flash{padding:.5rem .75rem;margin-bottom:1rem;border-radius:4px}
.flash.ok{background:#dafbe1;border:1px solid #4ac26b}
.flash.error{background:#ffebe9;border:1px solid #ff8182}
.cards{display:flex;gap:.75rem;flex-wrap:wrap;margin-bottom:1rem}
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:.5rem .9rem;min-width:9rem}
.card .n{font-size:1.4rem;font-weight:600}
.card.attention{border-color:#d4a72c;background:#fff8c5}
form.inline{display:inline-flex;gap:.35rem;align-items:center;margin:.1rem 0}
input,select,button{font:inherit}
input[type=text],input[type=password]{padding:.2rem .4rem}
button{padding:.2rem .6rem;cursor:pointer}
button.danger{color:#cf222e}
.badge{display:inline-block;padding:0 .4rem;border-radius:1rem;background:#eaeef2;font-size:.8rem}
.badge.attention{background:#fff8c5}
.chart{background:#fff;border:1px solid #d0d7de;padding:.75rem;margin-bottom:1rem;max-width:900px}
.chart .plot{position:relative;height:220px}
header .badge{background:#57606a;color:#fff}
.nowrap{white-space:nowrap}
ol.timeline{list-style:none;padding:0}
ol.timeline li{padding:.25rem 0 .25rem 1rem;border-left:3px solid #d0d7de}
`;

/** The console's page frame: nav, the signed-in holder with sign-out, the flash, the page's body. Pure. */
export function renderLayout(opts: { title: string; page?: ConsolePage; chrome?: Chrome; body: string; scripts?: readonly string[] }): string {
  const { chrome } = opts;
  const nav = chrome
    ? NAV.map(([id, label]) => `<a href="/console/${id}"${id === opts.page ? ' class="active"' : ''}>${escapeHtml(label)}</a>`).join('\n')
    : '';
  const who = chrome
    ? `<span class="who"><span>${escapeHtml(chrome.operator.name)} <span class="badge">${escapeHtml(chrome.operator.scopes.join(' + '))}</span></span>
<form method="post" action="/console/sign-out" class="inline">${csrfField(chrome)}<button type="submit">Sign out</button></form></span>`
    : '';
  const flash = chrome?.flash ? `<div class="flash ${chrome.flash.kind}" role="status">${escapeHtml(chrome.flash.text)}</div>` : '';
  const scripts = (opts.scripts ?? []).map((src) => `<script src="${escapeHtml(src)}" defer></script>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(opts.title)} · q2c console</title>
<style>${STYLE}</style>
${scripts}
</head>
<body>
<header><a class="brand" href="/console/deals">q2c console</a>
${nav}
${who}</header>
<main>
${flash}
${opts.body}
</main>
</body>
</html>
`;
}

/** The hidden form field every POST form carries (@fastify/csrf-protection reads `_csrf` from the body). */
export const csrfField = (chrome: Chrome): string => `<input type="hidden" name="_csrf" value="${escapeHtml(chrome.csrfToken)}">`;

/** A small POST form: hidden fields, visible inputs (already rendered), one button. */
export function postForm(chrome: Chrome, action: string, button: string, opts: { hidden?: Record<string, string>; inputs?: string; danger?: boolean } = {}): string {
  const hidden = Object.entries(opts.hidden ?? {})
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');
  return `<form method="post" action="${escapeHtml(action)}" class="inline">${csrfField(chrome)}${hidden}${opts.inputs ?? ''}<button type="submit"${opts.danger ? ' class="danger"' : ''}>${escapeHtml(button)}</button></form>`;
}

/** 'USD 1,125.00' from integer minor units (the currency's own exponent). */
export const money = (amountMinor: number, currency: string): string => formatMoney({ amountMinor, currency });

/** Sums per currency, rendered 'USD 1,000.00; EUR 20.00' (never added across currencies). */
export function moneyByCurrency(totals: ReadonlyMap<string, number> | Record<string, number>): string {
  const entries = totals instanceof Map ? [...totals.entries()] : Object.entries(totals);
  if (entries.length === 0) return '—';
  return entries
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([c, m]) => money(m, c))
    .join('; ');
}

export const hasScope = (chrome: Chrome, scope: Scope): boolean =>
  chrome.operator.scopes.includes(scope) || (scope === 'read' && chrome.operator.scopes.length > 0);

/** A short ISO instant: '2026-01-15 09:00Z'. */
export const instant = (iso: string | undefined): string => (iso ? iso.replace('T', ' ').replace(/:\d{2}(\.\d+)?Z$/, 'Z') : '');
