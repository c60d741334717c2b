import { escapeHtml, hasScope, instant, postForm, renderLayout, type Chrome } from './layout';
import type { ExceptionGroup, ParkedItem } from './exceptions';

const dealUrl = (opportunityId: string) => `/console/deals/${encodeURIComponent(opportunityId)}`;

const notesForm = (chrome: Chrome, item: ParkedItem): string =>
  postForm(chrome, `/console/deals/${encodeURIComponent(item.opportunityId)}/exceptions/${encodeURIComponent(item.id)}/notes`, 'Save note', {
    inputs: `<input type="text" name="note" placeholder="note" maxlength="2000"><input type="text" name="assignee" placeholder="assignee" value="${escapeHtml(item.assignee ?? '')}" maxlength="200">`,
  });

function actionsFor(chrome: Chrome, item: ParkedItem): string {
  if (!hasScope(chrome, 'operate')) return '<span class="muted">read only</span>';
  if (item.kind === 'delivery') {
    return `${deliveryLinks(item)}<br>${notesForm(chrome, item)}`;
  }
  return dealForms(chrome, item);
}

/** Where an attention item is cleared: the deal's own updates (billing release here; the rest by API/CLI). */
function deliveryLinks(item: ParkedItem): string {
  const billing = item.allowed.some((a) => a === 'approve' || a === 'write-off' || a === 'reject');
  return (
    [
      billing ? `<a href="/console/billing">billing release</a>` : '',
      item.allowed.includes('promise-to-pay') ? `<a href="${dealUrl(item.opportunityId)}">promise to pay (API/CLI)</a>` : '',
      item.allowed.includes('amend') ? `<a href="${dealUrl(item.opportunityId)}">amend the contract (API/CLI)</a>` : '',
    ]
      .filter(Boolean)
      .join(' · ') || '<span class="muted">clears when the deal receives the event</span>'
  );
}

function dealForms(chrome: Chrome, item: ParkedItem): string {
  const base = `/console/deals/${encodeURIComponent(item.opportunityId)}/exceptions/${item.exceptionId}`;
  const hidden = { exceptionId: String(item.exceptionId) };
  const forms: string[] = [];
  if (item.allowed.includes('retry')) forms.push(postForm(chrome, `${base}/resolve`, 'Retry', { hidden: { ...hidden, action: 'retry' }, inputs: '<input type="text" name="note" placeholder="note" maxlength="2000">' }));
  if (item.allowed.includes('skip')) forms.push(postForm(chrome, `${base}/resolve`, 'Skip', { hidden: { ...hidden, action: 'skip' }, inputs: '<input type="text" name="note" placeholder="why (required)" required maxlength="2000">' }));
  if (item.allowed.includes('link')) forms.push(postForm(chrome, `${base}/resolve`, 'Link', { hidden: { ...hidden, action: 'link' }, inputs: '<input type="text" name="externalId" placeholder="existing record id" required maxlength="200">' }));
  if (item.allowed.includes('override') && item.overridable?.length) {
    const options = item.overridable.map((f) => `<option value="${escapeHtml(f)}">${escapeHtml(f)}</option>`).join('');
    forms.push(postForm(chrome, `${base}/resolve`, 'Override and retry', { hidden: { ...hidden, action: 'override' }, inputs: `<select name="field">${options}</select><input type="text" name="value" placeholder="corrected value" maxlength="500">` }));
  }
  if (item.allowed.includes('cancel')) forms.push(postForm(chrome, `${base}/resolve`, 'Cancel deal', { danger: true, hidden: { ...hidden, action: 'cancel' }, inputs: '<input type="text" name="reason" placeholder="reason (required)" required maxlength="2000">' }));
  forms.push(notesForm(chrome, item));
  return forms.join('<br>');
}

function renderItem(chrome: Chrome, item: ParkedItem): string {
  const notes = item.notes.map((n) => `<li><span class="muted">${escapeHtml(instant(n.at))} ${escapeHtml(n.by)}:</span> ${escapeHtml(n.text)}</li>`).join('');
  return `<tr class="item" data-deal="${escapeHtml(item.opportunityId)}" data-item="${escapeHtml(item.id)}">
<td><a href="${dealUrl(item.opportunityId)}">${escapeHtml(item.opportunityId)}</a><br><span class="muted">${escapeHtml(item.step)}</span></td>
<td>${escapeHtml(item.message)}${notes ? `<ul class="notes">${notes}</ul>` : ''}</td>
<td class="num">${item.attempts}</td><td class="nowrap">${escapeHtml(instant(item.firstSeenAt))}</td><td class="nowrap">${escapeHtml(instant(item.lastSeenAt))}</td>
<td>${escapeHtml(item.assignee ?? '')}</td>
<td>${actionsFor(chrome, item)}</td></tr>`;
}

/** The exceptions page: one table per (error code, system) with its counts and first/last seen, the items and their actions. */
export function renderExceptionsPage(opts: { chrome: Chrome; groups: readonly ExceptionGroup[]; unreadable: readonly string[] }): string {
  const summary = `<table id="groups"><thead><tr><th>Error code</th><th>System</th><th class="num">Open</th><th class="num">Deals</th><th class="num">Attempts</th><th>First seen</th><th>Last seen</th></tr></thead><tbody>${
    opts.groups
      .map((g) => `<tr data-code="${escapeHtml(g.code)}"><td><a href="#${escapeHtml(encodeURIComponent(`${g.code}-${g.system}`))}">${escapeHtml(g.code)}</a></td><td>${escapeHtml(g.system)}</td><td class="num">${g.count}</td><td class="num">${g.deals}</td><td class="num">${g.attempts}</td><td>${escapeHtml(instant(g.firstSeenAt))}</td><td>${escapeHtml(instant(g.lastSeenAt))}</td></tr>`)
      .join('\n') || '<tr><td colspan="7" class="muted">Nothing is parked.</td></tr>'
  }</tbody></table>`;
  const groups = opts.groups
    .map(
      (g) => `<h2 id="${escapeHtml(encodeURIComponent(`${g.code}-${g.system}`))}">${escapeHtml(g.code)} <span class="badge">${escapeHtml(g.system)}</span> <span class="muted">${g.count} open</span></h2>
<table class="group"><thead><tr><th>Deal / step</th><th>Message and notes</th><th class="num">Attempts</th><th>First seen</th><th>Last seen</th><th>Assignee</th><th>Actions</th></tr></thead><tbody>
${g.items.map((i) => renderItem(opts.chrome, i)).join('\n')}
</tbody></table>`,
    )
    .join('\n');
  const unreadable = opts.unreadable.length
    ? `<p class="flash error">Could not read ${opts.unreadable.length} deal(s) needing attention: ${escapeHtml(opts.unreadable.join(', '))}</p>`
    : '';
  const body = `<h1>Exceptions</h1>
<p class="muted">Every parked item of every deal needing attention, read from the deals themselves (Temporal visibility, then each deal's state). Retry, skip, link, override and cancel are the deal workflow's own operator actions; notes and assignees are kept on the exception.</p>
${unreadable}${summary}${groups}`;
  return renderLayout({ title: 'Exceptions', page: 'exceptions', chrome: opts.chrome, body });
}
