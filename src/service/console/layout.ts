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


/**
 * Every console page's headers: its own strict Content-Security-Policy (scripts and styles
 * from this origin only, nothing inline, forms post only here, no framing), never cached.
 */
export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy':
    "default-src 'self'; script-src 'self'; script-src-attr 'none'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
} as const;

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
<link rel="stylesheet" href="/console/assets/console.css">
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
