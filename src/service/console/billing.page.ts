import type { BillingItem, BillingQueue } from './billing';
import { escapeHtml, hasScope, money, moneyByCurrency, postForm, renderLayout, type Chrome } from './layout';

function row(chrome: Chrome, item: BillingItem, held: boolean): string {
  const i = item.invoice;
  const base = `/console/deals/${encodeURIComponent(item.opportunityId)}/invoices/${encodeURIComponent(i.id)}`;
  const actions = !hasScope(chrome, 'approve')
    ? '<span class="muted">needs the approve scope</span>'
    : held
      ? `${postForm(chrome, `${base}/decision`, 'Approve', { hidden: { decision: 'approve' } })} ${postForm(chrome, `${base}/decision`, 'Reject', { danger: true, hidden: { decision: 'reject' }, inputs: '<input type="text" name="reason" placeholder="reason (required)" required maxlength="2000">' })}`
      : postForm(chrome, `${base}/write-off`, 'Write off', { danger: true, inputs: '<input type="text" name="reason" placeholder="reason (required)" required maxlength="2000">' });
  return `<tr data-invoice="${escapeHtml(i.number)}" data-deal="${escapeHtml(item.opportunityId)}"><td><a href="/console/deals/${encodeURIComponent(item.opportunityId)}">${escapeHtml(item.opportunityId)}</a></td><td>${escapeHtml(i.number)}</td><td>${escapeHtml(i.status)}</td><td>${escapeHtml(i.period.start)} – ${escapeHtml(i.period.end)}</td><td>${escapeHtml(i.issueDate)}</td><td>${escapeHtml(i.dueDate)}</td><td class="num">${escapeHtml(money(item.amountMinor, item.currency))}</td><td>${actions}</td></tr>`;
}

const HEAD = (amount: string) => `<thead><tr><th>Deal</th><th>Invoice</th><th>Status</th><th>Period</th><th>Issued</th><th>Due</th><th class="num">${amount}</th><th>Actions</th></tr></thead>`;

/** Invoices held at the approval threshold (approve / reject) and issued invoices still open (write off), with totals per currency. */
export function renderBillingPage(opts: { chrome: Chrome; queue: BillingQueue; unreadable: readonly string[] }): string {
  const { queue } = opts;
  const body = `<h1>Billing awaiting release</h1>
<div class="cards"><div class="card attention"><div class="n" id="held-total">${escapeHtml(moneyByCurrency(queue.heldByCurrency))}</div><div class="muted">${queue.held.length} invoice(s) awaiting approval</div></div>
<div class="card"><div class="n">${escapeHtml(moneyByCurrency(queue.unpaidByCurrency))}</div><div class="muted">${queue.unpaid.length} issued invoice(s) open</div></div></div>
${opts.unreadable.length ? `<p class="flash error">Could not read ${escapeHtml(opts.unreadable.join(', '))}</p>` : ''}
<h2>Awaiting approval</h2>
<table id="held">${HEAD('Total')}<tbody>${queue.held.map((i) => row(opts.chrome, i, true)).join('\n') || '<tr><td colspan="8" class="muted">Nothing held.</td></tr>'}</tbody></table>
<h2>Issued, open</h2>
<table id="unpaid">${HEAD('Open')}<tbody>${queue.unpaid.map((i) => row(opts.chrome, i, false)).join('\n') || '<tr><td colspan="8" class="muted">Nothing open.</td></tr>'}</tbody></table>
<p class="muted">Approve releases the invoice to be taxed and posted; reject and write-off need a reason and are made in your name (approve scope).</p>`;
  return renderLayout({ title: 'Billing release', page: 'billing', chrome: opts.chrome, body });
}
