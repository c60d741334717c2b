import { replayability, type InboxRow } from '../../db/inbox';
import { escapeHtml, hasScope, instant, postForm, renderLayout, type Chrome } from './layout';

/** The error's code and message as the inbox stored them. */
const reasonOf = (error: unknown): string => {
  if (!error || typeof error !== 'object') return '';
  const e = error as { error?: unknown; code?: unknown; message?: unknown; reason?: unknown; issues?: Array<{ path: string; message: string }> };
  const code = typeof e.error === 'string' ? e.error : typeof e.code === 'string' ? e.code : '';
  const issues = Array.isArray(e.issues) ? e.issues.map((i) => `${i.path || '(body)'}: ${i.message}`).join('; ') : '';
  return [code, typeof e.reason === 'string' ? e.reason : '', typeof e.message === 'string' ? e.message : '', issues].filter(Boolean).join(' — ');
};

/** Rejected and undispatched deliveries with their reason; a replay button on those that verified and failed later. */
export function renderInboxPage(opts: { chrome: Chrome; rows: readonly InboxRow[]; status: string }): string {
  const canReplay = hasScope(opts.chrome, 'operate');
  const rows = opts.rows
    .map((r) => {
      const can = replayability(r);
      const action = can.replayable
        ? canReplay
          ? postForm(opts.chrome, `/console/inbox/${r.id}/replay`, 'Replay')
          : '<span class="muted">replayable (operate scope)</span>'
        : `<span class="muted">${escapeHtml(can.reason)}</span>`;
      return `<tr data-inbox="${r.id}" data-status="${escapeHtml(r.status)}"><td>${r.id}</td><td>${escapeHtml(instant(r.receivedAt.toISOString()))}</td><td>${escapeHtml(r.source)}</td><td>${escapeHtml(r.eventType ?? '')}</td><td>${escapeHtml(r.eventId ?? '')}</td><td>${escapeHtml(r.status)}${r.replays ? ` <span class="badge">replayed ${r.replays}x</span>` : ''}</td><td>${escapeHtml(reasonOf(r.error))}</td><td>${r.signatureVerifiedAt ? 'yes' : 'no'}</td><td>${action}</td></tr>`;
    })
    .join('\n');
  const tab = (status: string, label: string) => `<a href="/console/inbox?status=${status}"${opts.status === status ? ' class="badge attention"' : ''}>${escapeHtml(label)}</a>`;
  const body = `<h1>Webhook inbox</h1>
<p>${tab('attention', 'Rejected and undispatched')} · ${tab('dispatched', 'Dispatched')} · ${tab('duplicate', 'Duplicates')}</p>
<table id="inbox"><thead><tr><th>#</th><th>Received</th><th>Source</th><th>Event type</th><th>Event id</th><th>Status</th><th>Reason</th><th>Signature verified</th><th>Action</th></tr></thead>
<tbody>${rows || '<tr><td colspan="9" class="muted">Nothing here.</td></tr>'}</tbody></table>
<p class="muted">A replay parses the stored body again, finds the deal and hands the event to it, without checking the (now old) signature again: only deliveries whose signature checked out on receipt and that failed afterwards (no deal yet, none mapped, dispatch failed) can be replayed. Deals ignore an event they already have.</p>`;
  return renderLayout({ title: 'Webhook inbox', page: 'inbox', chrome: opts.chrome, body });
}
