import { annotateAttention, initialEngagementState, Refusal, validateAnnotation } from '../../src/engagement';

describe('notes and assignees on attention items (core)', () => {
  const state = () => {
    const s = initialEngagementState();
    s.attention.push({ id: 'OVERDUE:inv-1', kind: 'OVERDUE', invoiceId: 'inv-1', message: 'overdue', raisedOn: '2030-03-15' });
    return s;
  };
  const code = (fn: () => void) => {
    try {
      fn();
    } catch (e) {
      return e instanceof Refusal ? e.code : 'not a refusal';
    }
    return undefined;
  };

  it('adds notes in order and sets, changes or clears the assignee', () => {
    const s = state();
    annotateAttention(s, { attentionId: 'OVERDUE:inv-1', by: 'ops', note: ' called AP ', assignee: 'dana' }, '2030-03-16T10:00:00.000Z');
    const item = annotateAttention(s, { attentionId: 'OVERDUE:inv-1', by: 'lee', note: 'promise expected' }, '2030-03-17T10:00:00.000Z');
    expect(item).toMatchObject({ assignee: 'dana', notes: [{ at: '2030-03-16T10:00:00.000Z', by: 'ops', text: 'called AP' }, { at: '2030-03-17T10:00:00.000Z', by: 'lee', text: 'promise expected' }] });
    expect(annotateAttention(s, { attentionId: 'OVERDUE:inv-1', by: 'ops', assignee: ' ' }, '2030-03-18T10:00:00.000Z').assignee).toBeUndefined();
  });

  it('refuses an unknown item, no author, nothing to record', () => {
    const s = state();
    expect(code(() => validateAnnotation(s, { attentionId: 'OVERDUE:inv-2', by: 'ops', note: 'x' }))).toBe('DEAL.ATTENTION_UNKNOWN');
    expect(code(() => validateAnnotation(s, { attentionId: 'OVERDUE:inv-1', by: ' ', note: 'x' }))).toBe('DEAL.ACTION_INVALID');
    expect(code(() => validateAnnotation(s, { attentionId: 'OVERDUE:inv-1', by: 'ops' }))).toBe('DEAL.ACTION_INVALID');
    expect(code(() => validateAnnotation(s, { attentionId: 'OVERDUE:inv-1', by: 'ops', note: '' }))).toBe('DEAL.ACTION_INVALID');
    expect(s.attention[0]!.notes).toBeUndefined();
  });
});
