import type { AnnotateAttentionRequest, AttentionItem } from './model';
import { refuse } from './refusal';
import type { EngagementState } from './state';

/** Why an annotation is refused (DEAL.ATTENTION_UNKNOWN, DEAL.ACTION_INVALID); nothing when it may be applied. */
export function validateAnnotation(s: EngagementState, req: AnnotateAttentionRequest): void {
  if (!s.attention.some((a) => a.id === req.attentionId)) refuse('DEAL.ATTENTION_UNKNOWN', `no open attention item ${req.attentionId}`);
  if (typeof req.by !== 'string' || !req.by.trim() || req.by.length > 200) refuse('DEAL.ACTION_INVALID', 'by: 1-200 characters');
  if (req.note === undefined && req.assignee === undefined) refuse('DEAL.ACTION_INVALID', 'give a note or an assignee');
  if (req.note !== undefined && (typeof req.note !== 'string' || !req.note.trim() || req.note.length > 2000)) refuse('DEAL.ACTION_INVALID', 'note: 1-2000 characters');
  if (req.assignee !== undefined && (typeof req.assignee !== 'string' || req.assignee.length > 200)) refuse('DEAL.ACTION_INVALID', 'assignee: at most 200 characters');
}

/**
 * Adds the note and/or sets the assignee of an open attention item, `at` the workflow's time.
 * Bookkeeping only: nothing the deal does depends on it. Returns the item.
 */
export function annotateAttention(s: EngagementState, req: AnnotateAttentionRequest, at: string): AttentionItem {
  validateAnnotation(s, req);
  const item = s.attention.find((a) => a.id === req.attentionId)!;
  const note = req.note?.trim();
  if (note) item.notes = [...(item.notes ?? []), { at, by: req.by.trim(), text: note }];
  if (req.assignee !== undefined) {
    const assignee = req.assignee.trim();
    if (assignee) item.assignee = assignee;
    else delete item.assignee;
  }
  return item;
}
