import type { RuleSetProposalView } from '../../contract';
import { escapeHtml, hasScope, instant, postForm, renderLayout, type Chrome } from './layout';

/** Rule-set proposals awaiting a decision: author, dates, the preview's totals, approve / reject (approve scope; never one's own). */
export function renderRuleSetsPage(opts: { chrome: Chrome; proposals: readonly RuleSetProposalView[]; unreadable: readonly string[]; governance: boolean }): string {
  const canDecide = hasScope(opts.chrome, 'approve');
  const rows = opts.proposals
    .map((p) => {
      const base = `/console/rulesets/proposals/${encodeURIComponent(p.proposalId)}`;
      const preview = p.preview ? `${p.preview.deals.length} deal(s) previewed, ${p.preview.skipped.length} skipped` : 'preview pending';
      const actions =
        p.status !== 'PROPOSED'
          ? ''
          : canDecide
            ? `${postForm(opts.chrome, `${base}/approval`, 'Approve', { inputs: '<input type="text" name="note" placeholder="note" maxlength="2000">' })} ${postForm(opts.chrome, `${base}/rejection`, 'Reject', { danger: true, inputs: '<input type="text" name="note" placeholder="why" maxlength="2000">' })}`
            : '<span class="muted">needs the approve scope</span>';
      return `<tr data-proposal="${escapeHtml(p.proposalId)}"><td>${escapeHtml(`${p.ruleSet.id} v${p.ruleSet.version}`)}</td><td>${escapeHtml(p.description)}</td><td>${escapeHtml(p.author)}</td><td>${escapeHtml(p.status)}</td><td>${escapeHtml(p.effectiveDate)} (${escapeHtml(p.timeZone)})</td><td class="nowrap">${escapeHtml(instant(p.expiresAt))}</td><td>${escapeHtml(preview)}</td><td>${actions}</td></tr>`;
    })
    .join('\n');
  const body = `<h1>Rule-set proposals</h1>
${opts.governance ? '' : '<p class="flash error">This service runs without the rule-set proposal workflows.</p>'}
${opts.unreadable.length ? `<p class="flash error">Could not read ${escapeHtml(opts.unreadable.join(', '))}</p>` : ''}
<table id="proposals"><thead><tr><th>Version</th><th>Description</th><th>Author</th><th>Status</th><th>Effective</th><th>Expires</th><th>Preview</th><th>Decision</th></tr></thead>
<tbody>${rows || '<tr><td colspan="8" class="muted">No proposal awaits a decision.</td></tr>'}</tbody></table>
<p class="muted">Someone other than the author approves (the proposal refuses its author's approval: RULESET.SELF_APPROVAL). The preview per deal: GET /rulesets/proposals/:id or q2c ruleset proposal.</p>`;
  return renderLayout({ title: 'Rule sets', page: 'rulesets', chrome: opts.chrome, body });
}
