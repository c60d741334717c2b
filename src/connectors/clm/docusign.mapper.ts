import type { EnvelopeState, EnvelopeStatus, CreateEnvelopeInput } from './clm.port';
import type { EnvelopeRecord } from './docusign.schemas';

/** Envelope custom fields q2c sets: the look-up key, and what the webhook service routes on. */
export const FIELD_IDEMPOTENCY_KEY = 'q2cIdempotencyKey';
export const FIELD_OPPORTUNITY = 'opportunityId';
export const FIELD_CONTRACT = 'contractId';
export const FIELD_CONTRACT_VERSION = 'contractVersion';

const STATUSES: ReadonlySet<string> = new Set(['created', 'sent', 'delivered', 'signed', 'completed', 'declined', 'voided']);
export const toStatus = (s: string): EnvelopeStatus => (STATUSES.has(s.toLowerCase()) ? (s.toLowerCase() as EnvelopeStatus) : 'sent');

const field = (e: EnvelopeRecord, name: string): string | undefined => e.customFields?.textCustomFields?.find((f) => f.name === name)?.value;

export const toEnvelopeState = (e: EnvelopeRecord): EnvelopeState => {
  const version = field(e, FIELD_CONTRACT_VERSION);
  return {
    envelopeId: e.envelopeId,
    status: toStatus(e.status),
    contractId: field(e, FIELD_CONTRACT) ?? null,
    contractVersion: version !== undefined && /^\d+$/.test(version) ? Number(version) : null,
    sentAt: e.sentDateTime ?? null,
    completedAt: e.completedDateTime ?? null,
    declinedAt: e.declinedDateTime ?? null,
    voidedAt: e.voidedDateTime ?? null,
    voidedReason: e.voidedReason ?? null,
  };
};

/** Envelope definition for POST /envelopes, sent immediately (status 'sent'). */
export const toEnvelopeDefinition = (i: CreateEnvelopeInput) => ({
  emailSubject: i.emailSubject,
  status: 'sent',
  documents: [{ documentId: '1', name: i.document.name, fileExtension: i.document.fileExtension, documentBase64: i.document.contentBase64 }],
  recipients: {
    signers: i.signers.map((s, n) => ({ email: s.email, name: s.name, recipientId: String(n + 1), routingOrder: String(s.routingOrder ?? 1) })),
  },
  customFields: {
    textCustomFields: [
      { name: FIELD_IDEMPOTENCY_KEY, value: i.idempotencyKey, show: 'false', required: 'false' },
      { name: FIELD_OPPORTUNITY, value: i.contract.opportunityId, show: 'false', required: 'false' },
      { name: FIELD_CONTRACT, value: i.contract.id, show: 'false', required: 'false' },
      { name: FIELD_CONTRACT_VERSION, value: String(i.contract.version), show: 'false', required: 'false' },
    ],
  },
});
