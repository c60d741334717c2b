import { createHmac } from 'node:crypto';
import type { DbHandle } from '../../src/db';
import { schema } from '../../src/db';
import { SECRETS, docusignHeaders, type Harness, useWebhookHarness } from './support/harness';
import { ENVELOPE, OPP, connectEvent } from './support/payloads';

const URL = '/webhooks/docusign/connect';
const WORKFLOW_ID = `deal-${OPP}`;

describe('POST /webhooks/docusign/connect', () => {
  let database: DbHandle;
  let h: Harness;
  useWebhookHarness((current) => ({ h, database } = current), { [WORKFLOW_ID]: { stage: 'CONTRACT_OUT_FOR_SIGNATURE', correlationId: 'c0' } });

  const post = (body: string, headers: Record<string, string>) => h.inject({ method: 'POST', url: URL, payload: body, headers });

  it('verifies a Connect message signed with the documented scheme and signals the completed signature', async () => {
    const body = JSON.stringify(connectEvent('envelope-completed'));
    // Written out from DocuSign's guide: base64(HMAC-SHA256(key, payload bytes)) in X-DocuSign-Signature-1.
    const signature = createHmac('sha256', SECRETS.docusignNew).update(Buffer.from(body, 'utf8')).digest('base64');
    const res = await post(body, { 'content-type': 'application/json', 'x-docusign-signature-1': signature });

    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ workflowId: WORKFLOW_ID, eventId: `${ENVELOPE}:envelope-completed`, duplicate: false });
    expect(h.gateway.calls).toEqual([
      {
        method: 'signalSignature',
        workflowId: WORKFLOW_ID,
        event: { eventId: `${ENVELOPE}:envelope-completed`, envelopeId: ENVELOPE, status: 'completed', occurredAt: '2025-03-31T11:59:30.123Z' },
      },
    ]);
    const rows = await h.inboxRows();
    expect(rows.map((r) => [r.source, r.eventId, r.eventType, r.status, r.workflowId, r.rawBody])).toEqual([
      ['docusign', `${ENVELOPE}:envelope-completed`, 'envelope-completed', 'dispatched', WORKFLOW_ID, body],
    ]);
  });

  it('accepts either key while both are active (one header per key), and a single header made with the old key', async () => {
    const b1 = JSON.stringify(connectEvent('envelope-completed', { envelopeId: 'env-1' }));
    const b2 = JSON.stringify(connectEvent('envelope-completed', { envelopeId: 'env-2' }));
    const b3 = JSON.stringify(connectEvent('envelope-completed', { envelopeId: 'env-3' }));
    expect((await post(b1, docusignHeaders(b1, ['an-unknown-key-123', SECRETS.docusignNew]))).statusCode).toBe(202);
    expect((await post(b2, docusignHeaders(b2, [SECRETS.docusignOld]))).statusCode).toBe(202);
    expect((await post(b3, docusignHeaders(b3, [SECRETS.docusignNew, SECRETS.docusignOld]))).statusCode).toBe(202);
    expect(h.gateway.calls.map((c) => (c as { event: { envelopeId: string } }).event.envelopeId)).toEqual(['env-1', 'env-2', 'env-3']);
  });

  it('rejects a message signed only with an unknown key, or with no signature header, with 401', async () => {
    const body = JSON.stringify(connectEvent('envelope-completed'));
    const forged = await post(body, docusignHeaders(body, ['a-retired-or-unknown-key']));
    expect(forged.statusCode).toBe(401);
    expect(forged.json()).toEqual({ error: 'UNAUTHORIZED', message: 'signature does not match', reason: 'BAD_SIGNATURE' });
    const unsigned = await post(body, { 'content-type': 'application/json' });
    expect(unsigned.statusCode).toBe(401);
    expect(unsigned.json()).toEqual({ error: 'UNAUTHORIZED', message: 'signature header missing', reason: 'MISSING_SIGNATURE' });
    expect(h.gateway.calls).toEqual([]);
    expect((await h.inboxRows()).map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('carries the decline reason and the void reason', async () => {
    const declined = JSON.stringify(connectEvent('envelope-declined', { declinedReason: 'Payment terms must be net 45' }));
    const voided = JSON.stringify(connectEvent('envelope-voided', { envelopeId: 'env-v', voidedReason: 'Superseded by amended SOW' }));
    expect((await post(declined, docusignHeaders(declined, [SECRETS.docusignNew]))).statusCode).toBe(202);
    expect((await post(voided, docusignHeaders(voided, [SECRETS.docusignNew]))).statusCode).toBe(202);
    expect(h.gateway.calls.map((c) => (c as { event: unknown }).event)).toEqual([
      { eventId: `${ENVELOPE}:envelope-declined`, envelopeId: ENVELOPE, status: 'declined', occurredAt: '2025-03-31T11:59:30.123Z', reason: 'Payment terms must be net 45' },
      { eventId: 'env-v:envelope-voided', envelopeId: 'env-v', status: 'voided', occurredAt: '2025-03-31T11:59:30.123Z', reason: 'Superseded by amended SOW' },
    ]);
  });

  it('answers 422 for an event it does not handle (envelope-sent)', async () => {
    const body = JSON.stringify(connectEvent('envelope-sent'));
    const res = await post(body, docusignHeaders(body, [SECRETS.docusignNew]));
    expect(res.statusCode).toBe(422);
    expect(res.json()).toEqual({ error: 'UNKNOWN_EVENT_TYPE', message: "event type 'envelope-sent' is not handled by this endpoint", eventType: 'envelope-sent' });
    expect(h.gateway.calls).toEqual([]);
  });

  it('answers 400 with the field path when the envelope id is missing', async () => {
    const payload = connectEvent('envelope-completed');
    const { envelopeId: _e, ...data } = payload.data;
    const body = JSON.stringify({ ...payload, data });
    const res = await post(body, docusignHeaders(body, [SECRETS.docusignNew]));
    expect(res.statusCode).toBe(400);
    expect(res.json().issues).toEqual([{ path: 'data.envelopeId', message: 'Invalid input: expected string, received undefined' }]);
  });

  it('finds the deal through the identity map when the envelope has no opportunity custom field', async () => {
    await database.db.insert(schema.identityMap).values({ kind: 'deal', system: 'docusign', externalId: 'env-mapped', canonicalId: OPP });
    const body = JSON.stringify(connectEvent('envelope-completed', { envelopeId: 'env-mapped', opportunityId: null }));
    const res = await post(body, docusignHeaders(body, [SECRETS.docusignNew]));
    expect(res.statusCode).toBe(202);
    expect(res.json().workflowId).toBe(WORKFLOW_ID);
  });

  it('answers 422 DEAL_UNRESOLVED for an envelope no deal knows, and 422 DEAL_NOT_FOUND when the deal is not running', async () => {
    const orphan = JSON.stringify(connectEvent('envelope-completed', { envelopeId: 'env-orphan', opportunityId: null }));
    const r1 = await post(orphan, docusignHeaders(orphan, [SECRETS.docusignNew]));
    expect(r1.statusCode).toBe(422);
    expect(r1.json()).toEqual({
      error: 'DEAL_UNRESOLVED',
      message: 'the event names no opportunity and none is mapped to its records',
      lookup: { system: 'docusign', externalIds: ['env-orphan'] },
    });

    const stray = JSON.stringify(connectEvent('envelope-completed', { envelopeId: 'env-stray', opportunityId: '006Hs00009ZZZZZAAA' }));
    const r2 = await post(stray, docusignHeaders(stray, [SECRETS.docusignNew]));
    expect(r2.statusCode).toBe(422);
    expect(r2.json()).toEqual({
      error: 'DEAL_NOT_FOUND',
      message: 'no running deal deal-006Hs00009ZZZZZAAA for this event',
      workflowId: 'deal-006Hs00009ZZZZZAAA',
    });
    expect(h.gateway.calls).toEqual([]);
    const rows = await h.inboxRows();
    expect(rows.map((r) => [r.eventId, r.status, (r.error as { error: string }).error])).toEqual([
      ['env-orphan:envelope-completed', 'rejected', 'DEAL_UNRESOLVED'],
      ['env-stray:envelope-completed', 'rejected', 'DEAL_NOT_FOUND'],
    ]);
  });

  it('absorbs a replayed (identical) Connect message as a duplicate', async () => {
    const body = JSON.stringify(connectEvent('envelope-completed'));
    await post(body, docusignHeaders(body, [SECRETS.docusignNew]));
    const replay = await post(body, docusignHeaders(body, [SECRETS.docusignNew]));
    expect(replay.json()).toEqual({ workflowId: WORKFLOW_ID, eventId: `${ENVELOPE}:envelope-completed`, duplicate: true });
    expect(h.gateway.calls).toHaveLength(1);
  });
});
