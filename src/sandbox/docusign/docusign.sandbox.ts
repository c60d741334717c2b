import { createHmac } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SandboxContext, SandboxPlugin, SandboxVendor } from '../context';
import { SANDBOX_CLIENT_ID, SANDBOX_DOCUSIGN_ACCOUNT_ID, SANDBOX_DOCUSIGN_HMAC_KEYS, SANDBOX_JWT_PUBLIC_KEY } from '../credentials';
import { addFormParser, TokenTable, verifyJwtAssertion } from '../oauth';
import type { SandboxRecord } from '../store';

const VENDOR = 'docusign';
const KIND = 'envelope';
/** aud of JWT grants (the real ones: account-d.docusign.com for demo, account.docusign.com for production). */
export const DOCUSIGN_SANDBOX_AUDIENCE = 'account-d.docusign.com';
export const DOCUSIGN_SANDBOX_USER_ID = '22222222-3333-4444-5555-666666666666';

type Status = 'created' | 'sent' | 'delivered' | 'completed' | 'declined' | 'voided';
interface Signer {
  email: string;
  name: string;
  recipientId: string;
  routingOrder: string;
  status: string;
  declinedReason?: string;
  signedDateTime?: string;
}
interface Envelope extends Record<string, unknown> {
  envelopeId: string;
  status: Status;
  emailSubject: string;
  createdDateTime: string;
  sentDateTime?: string;
  completedDateTime?: string;
  declinedDateTime?: string;
  voidedDateTime?: string;
  voidedReason?: string;
  statusChangedDateTime: string;
  documents: { documentId: string; name: string; fileExtension: string; bytes: number }[];
  recipients: { signers: Signer[] };
  customFields: { textCustomFields: { fieldId: string; name: string; value: string; show: string; required: string }[] };
}

const dsError = (errorCode: string, message: string) => ({ errorCode, message });
const envelopeId = (seq: number): string => `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`;
const now = (): string => new Date().toISOString();

/** base64(HMAC-SHA256(key, body)) per key, as X-DocuSign-Signature-1..N. */
export const connectSignatureHeaders = (body: string, keys: readonly string[]): Record<string, string> =>
  Object.fromEntries(keys.map((k, i) => [`x-docusign-signature-${i + 1}`, createHmac('sha256', k).update(body).digest('base64')]));

const CONNECT_EVENTS: Partial<Record<Status, string>> = { completed: 'envelope-completed', declined: 'envelope-declined', voided: 'envelope-voided' };

/** Sends the Connect (JSON SIM) message for a status the Connect configuration subscribes to. */
async function publish(ctx: SandboxContext, env: Envelope, keys: readonly string[]): Promise<void> {
  const event = CONNECT_EVENTS[env.status];
  if (!event) return;
  const body = JSON.stringify({
    event,
    apiVersion: 'v2.1',
    uri: `/restapi/v2.1/accounts/${SANDBOX_DOCUSIGN_ACCOUNT_ID}/envelopes/${env.envelopeId}`,
    retryCount: 0,
    configurationId: 10001,
    generatedDateTime: now(),
    data: { accountId: SANDBOX_DOCUSIGN_ACCOUNT_ID, userId: DOCUSIGN_SANDBOX_USER_ID, envelopeId: env.envelopeId, envelopeSummary: env },
  });
  await ctx.webhooks.send({ vendor: VENDOR, eventType: event, body, headers: { 'content-type': 'application/json', ...connectSignatureHeaders(body, keys) } });
}

/**
 * DocuSign eSignature REST v2.1 (envelopes subset), the OAuth JWT grant, and
 * Connect: completed / declined / voided envelopes are pushed to the webhook
 * target signed with every active HMAC key. Signing itself happens in the
 * sandbox control routes (/_sandbox/envelopes/:id/complete | decline).
 */
export const docusignSandbox: SandboxPlugin = async (app, ctx) => {
  addFormParser(app);
  const tokens = new TokenTable();
  let hmacKeys: readonly string[] = SANDBOX_DOCUSIGN_HMAC_KEYS;

  app.post('/oauth/token', async (req, reply) => {
    const form = (req.body ?? {}) as Record<string, string>;
    if (form.grant_type !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return reply.code(400).send({ error: 'unsupported_grant_type' });
    const v = verifyJwtAssertion(form.assertion ?? '', { issuer: SANDBOX_CLIENT_ID, audience: DOCUSIGN_SANDBOX_AUDIENCE, publicKeyPem: SANDBOX_JWT_PUBLIC_KEY });
    if (!v.ok) return reply.code(400).send({ error: 'invalid_grant', error_description: v.reason });
    if (typeof v.claims.scope !== 'string' || !v.claims.scope.split(' ').includes('signature')) return reply.code(400).send({ error: 'consent_required' });
    return { access_token: tokens.issue(String(v.claims.sub), 3600), token_type: 'Bearer', expires_in: 3600 };
  });

  // Sandbox control: what signers do in the DocuSign UI, and Connect key rotation.
  const transition = async (id: string, to: Status, patch: (e: Envelope) => Partial<Envelope>, reply: FastifyReply) => {
    const rec = await ctx.store.get<Envelope>(VENDOR, KIND, id);
    if (!rec) return reply.code(404).send(dsError('ENVELOPE_DOES_NOT_EXIST', 'The envelope specified either does not exist or you have no rights to it.'));
    if (!['sent', 'delivered'].includes(rec.data.status)) return reply.code(400).send(dsError('ENVELOPE_INVALID_STATUS', `Envelope status ${rec.data.status} does not allow ${to}`));
    const updated = await ctx.store.update<Envelope>(VENDOR, KIND, id, (e) => ({ ...e, ...patch(e), status: to, statusChangedDateTime: now() }));
    await publish(ctx, updated.data, hmacKeys);
    return updated.data;
  };
  app.post('/_sandbox/envelopes/:id/complete', async (req, reply) =>
    transition((req.params as { id: string }).id, 'completed', (e) => ({ completedDateTime: now(), recipients: { signers: e.recipients.signers.map((s) => ({ ...s, status: 'completed', signedDateTime: now() })) } }), reply),
  );
  app.post('/_sandbox/envelopes/:id/decline', async (req, reply) => {
    const reason = ((req.body ?? {}) as { reason?: string }).reason ?? 'declined by signer';
    return transition((req.params as { id: string }).id, 'declined', (e) => ({ declinedDateTime: now(), recipients: { signers: e.recipients.signers.map((s, i) => (i === 0 ? { ...s, status: 'declined', declinedReason: reason } : s)) } }), reply);
  });
  app.put('/_sandbox/connect/hmac-keys', async (req) => {
    hmacKeys = ((req.body ?? {}) as { keys?: string[] }).keys ?? SANDBOX_DOCUSIGN_HMAC_KEYS;
    return { keys: hmacKeys.length };
  });
  app.post('/_sandbox/revoke-tokens', async () => {
    tokens.revokeAll();
    return { revoked: true };
  });

  app.register(async (api) => {
    api.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      if (tokens.check(req.headers.authorization) === undefined) return reply.code(401).send(dsError('AUTHORIZATION_INVALID_TOKEN', 'The access token provided is expired, revoked or malformed.'));
      const { accountId } = req.params as { accountId?: string };
      if (accountId !== SANDBOX_DOCUSIGN_ACCOUNT_ID) return reply.code(400).send(dsError('USER_LACKS_MEMBERSHIP', 'The UserID does not have a valid membership in this Account.'));
      return undefined;
    });
    const missing = (reply: FastifyReply) => reply.code(404).send(dsError('ENVELOPE_DOES_NOT_EXIST', 'The envelope specified either does not exist or you have no rights to it.'));
    const base = '/restapi/v2.1/accounts/:accountId/envelopes';

    api.post(base, async (req, reply) => {
      const b = (req.body ?? {}) as {
        emailSubject?: string;
        status?: string;
        documents?: { documentId?: string; name?: string; fileExtension?: string; documentBase64?: string }[];
        recipients?: { signers?: { email?: string; name?: string; recipientId?: string; routingOrder?: string }[] };
        customFields?: { textCustomFields?: { name?: string; value?: string; show?: string; required?: string }[] };
      };
      if (!b.emailSubject) return reply.code(400).send(dsError('INVALID_EMAIL_SUBJECT', 'emailSubject is required.'));
      const docs = b.documents ?? [];
      if (docs.length === 0 || docs.some((d) => !d.documentBase64 || !d.name || !d.documentId)) return reply.code(400).send(dsError('INVALID_REQUEST_PARAMETER', 'Each document needs documentId, name and documentBase64.'));
      const signers = b.recipients?.signers ?? [];
      if (b.status === 'sent' && signers.length === 0) return reply.code(400).send(dsError('ENVELOPE_HAS_NO_RECIPIENTS', 'An envelope must have at least one recipient to be sent.'));
      if (signers.some((s) => !s.email || !/^[^@\s]+@[^@\s]+$/.test(s.email) || !s.name)) return reply.code(400).send(dsError('INVALID_EMAIL_ADDRESS_FOR_RECIPIENT', 'The email address for the recipient is invalid.'));
      const t = now();
      const status: Status = b.status === 'sent' ? 'sent' : 'created';
      const rec = await ctx.store.insert<Envelope>(VENDOR, KIND, {
        idFor: envelopeId,
        data: (id) => ({
          envelopeId: id,
          status,
          emailSubject: b.emailSubject!,
          createdDateTime: t,
          ...(status === 'sent' ? { sentDateTime: t } : {}),
          statusChangedDateTime: t,
          documents: docs.map((d) => ({ documentId: d.documentId!, name: d.name!, fileExtension: d.fileExtension ?? 'pdf', bytes: Buffer.from(d.documentBase64!, 'base64').length })),
          recipients: { signers: signers.map((s, i) => ({ email: s.email!, name: s.name!, recipientId: s.recipientId ?? String(i + 1), routingOrder: s.routingOrder ?? '1', status: status === 'sent' ? 'sent' : 'created' })) },
          customFields: { textCustomFields: (b.customFields?.textCustomFields ?? []).map((f, i) => ({ fieldId: String(10_000 + i), name: f.name ?? '', value: f.value ?? '', show: f.show ?? 'false', required: f.required ?? 'false' })) },
        }),
      });
      return reply.code(201).send({ envelopeId: rec.id, uri: `/envelopes/${rec.id}`, statusDateTime: t, status });
    });

    // listStatusChanges: from_date is required unless envelope_ids is given; custom_field=name=value filters.
    api.get(base, async (req, reply) => {
      const q = req.query as { from_date?: string; custom_field?: string; envelope_ids?: string };
      if (!q.from_date && !q.envelope_ids) return reply.code(400).send(dsError('INVALID_REQUEST_PARAMETER', 'The request contained at least one invalid parameter. A value for from_date, envelope_ids or transaction_ids must be set.'));
      const from = q.from_date ? Date.parse(q.from_date) : 0;
      const [cfName, ...cfRest] = (q.custom_field ?? '').split('=');
      const cfValue = cfRest.join('=');
      const ids = q.envelope_ids ? new Set(q.envelope_ids.split(',')) : undefined;
      const all = (await ctx.store.list<Envelope>(VENDOR, KIND)).items
        .map((r: SandboxRecord<Envelope>) => r.data)
        .filter((e) => (ids ? ids.has(e.envelopeId) : Date.parse(e.statusChangedDateTime) >= from))
        .filter((e) => !q.custom_field || e.customFields.textCustomFields.some((f) => f.name === cfName && f.value === cfValue));
      return { resultSetSize: String(all.length), totalSetSize: String(all.length), startPosition: '0', endPosition: String(Math.max(0, all.length - 1)), ...(all.length ? { envelopes: all } : {}) };
    });

    api.get(`${base}/:envelopeId`, async (req, reply) => {
      const rec = await ctx.store.get<Envelope>(VENDOR, KIND, (req.params as { envelopeId: string }).envelopeId);
      return rec ? rec.data : missing(reply);
    });

    api.put(`${base}/:envelopeId`, async (req, reply) => {
      const id = (req.params as { envelopeId: string }).envelopeId;
      const b = (req.body ?? {}) as { status?: string; voidedReason?: string };
      const rec = await ctx.store.get<Envelope>(VENDOR, KIND, id);
      if (!rec) return missing(reply);
      if ((req.query as { resend_envelope?: string }).resend_envelope === 'true') {
        if (!['sent', 'delivered'].includes(rec.data.status)) return reply.code(400).send(dsError('ENVELOPE_INVALID_STATUS', `Envelope status ${rec.data.status} cannot be resent.`));
        await ctx.store.update<Envelope>(VENDOR, KIND, id, (e) => ({ ...e, lastResentDateTime: now(), resendCount: Number(e.resendCount ?? 0) + 1 }));
        return { envelopeId: id };
      }
      if (b.status !== 'voided') return reply.code(400).send(dsError('INVALID_REQUEST_PARAMETER', 'Only voiding is supported by this sandbox.'));
      if (!b.voidedReason) return reply.code(400).send(dsError('ENVELOPE_VOID_REASON_REQUIRED', 'A reason is required to void an envelope.'));
      if (!['created', 'sent', 'delivered'].includes(rec.data.status)) return reply.code(400).send(dsError('ENVELOPE_CANNOT_VOID_INVALID_STATE', `Only envelopes in the 'Sent' or 'Delivered' states may be voided.`));
      const t = now();
      const updated = await ctx.store.update<Envelope>(VENDOR, KIND, id, (e) => ({ ...e, status: 'voided', voidedDateTime: t, voidedReason: b.voidedReason!, statusChangedDateTime: t }));
      await publish(ctx, updated.data, hmacKeys);
      return { envelopeId: id };
    });
  });
};

export const docusignVendor: SandboxVendor = {
  vendor: VENDOR,
  prefix: '/docusign',
  plugin: docusignSandbox,
  errorBody: (status, message) => dsError(status === 429 ? 'HOURLY_APIINVOCATION_LIMIT_EXCEEDED' : status === 404 ? 'RESOURCE_NOT_FOUND' : status >= 500 ? 'UNSPECIFIED_ERROR' : 'INVALID_REQUEST_PARAMETER', message),
};
