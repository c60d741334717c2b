import type { Contract } from '../../canonical';

export type EnvelopeStatus = 'created' | 'sent' | 'delivered' | 'signed' | 'completed' | 'declined' | 'voided';

export interface Signer {
  name: string;
  email: string;
  /** 1 signs first. */
  routingOrder?: number;
}

export interface CreateEnvelopeInput {
  contract: Contract;
  /** The contract document to sign. */
  document: { name: string; fileExtension: string; contentBase64: string };
  signers: readonly Signer[];
  emailSubject: string;
  /** Workflow id + step + contract id. Stored on the envelope and looked up before creating. */
  idempotencyKey: string;
}

export interface EnvelopeRef {
  envelopeId: string;
  status: EnvelopeStatus;
  /** false when an envelope with this idempotency key already existed. */
  created: boolean;
}

export interface EnvelopeState {
  envelopeId: string;
  status: EnvelopeStatus;
  /** Canonical contract id and version the envelope was created for. */
  contractId: string | null;
  contractVersion: number | null;
  sentAt: string | null;
  completedAt: string | null;
  declinedAt: string | null;
  voidedAt: string | null;
  voidedReason: string | null;
}

/**
 * Contract lifecycle / e-signature: send the contract for signature, read
 * where it stands, and void it. Completion, decline and void also arrive as
 * signed webhooks (see verifyDocuSignConnect).
 */
export interface ClmPort {
  createEnvelope(input: CreateEnvelopeInput): Promise<EnvelopeRef>;
  getEnvelope(envelopeId: string): Promise<EnvelopeState>;
  /** Sends the signing reminder again (DocuSign: PUT .../envelopes/{id}?resend_envelope=true); no-op for a completed envelope. */
  resendEnvelope(envelopeId: string): Promise<void>;
  /** Voids a sent envelope; voiding one that is already voided is a no-op; a completed one is DOCUSIGN.ENVELOPE_STATE. */
  voidEnvelope(envelopeId: string, reason: string): Promise<void>;
}
