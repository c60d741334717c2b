import type { Logger } from 'pino';
import { ConnectorError } from '../errors';
import { HttpClient, type AuthProvider, type ErrorContext, type TokenBucket, type VendorClassification, DEFAULT_REPEAT } from '../http';
import type { ClmPort, CreateEnvelopeInput, EnvelopeRef, EnvelopeState } from './clm.port';
import { FIELD_IDEMPOTENCY_KEY, toEnvelopeDefinition, toEnvelopeState, toStatus } from './docusign.mapper';
import { DocuSignErrorBody, EnvelopeList, EnvelopeRecord, EnvelopeSummary } from './docusign.schemas';

export interface DocuSignConfig {
  accountId: string;
  /** How far back the look-up-before-create searches (days; default 90). */
  lookbackDays?: number;
  now?: () => number;
}

/** DocuSign error codes -> connector codes. */
export function classifyDocuSign(ctx: ErrorContext): VendorClassification | undefined {
  const parsed = DocuSignErrorBody.safeParse(ctx.body);
  if (!parsed.success) return undefined;
  const base = { vendorCode: parsed.data.errorCode, ...(parsed.data.message ? { message: parsed.data.message } : {}) };
  switch (parsed.data.errorCode) {
    case 'ENVELOPE_CANNOT_VOID_INVALID_STATE':
    case 'ENVELOPE_INVALID_STATUS':
      return { ...base, code: 'DOCUSIGN.ENVELOPE_STATE' };
    case 'AUTHORIZATION_INVALID_TOKEN':
    case 'USER_AUTHENTICATION_FAILED':
      return { ...base, code: 'HTTP.AUTH' };
    case 'HOURLY_APIINVOCATION_LIMIT_EXCEEDED':
    case 'BURST_APIINVOCATION_LIMIT_EXCEEDED':
      return { ...base, code: 'HTTP.RATE_LIMITED' };
    case 'ENVELOPE_DOES_NOT_EXIST':
      return { ...base, code: 'HTTP.NOT_FOUND' };
    default:
      return base;
  }
}

export interface DocuSignHttpOptions {
  /** e.g. https://demo.docusign.net (the account's base_uri), without /restapi. */
  baseUrl: string;
  auth: AuthProvider;
  rateLimiter?: TokenBucket;
  logger?: Logger;
  timeoutMs?: number;
}

export const createDocuSignHttp = (o: DocuSignHttpOptions): HttpClient =>
  new HttpClient({
    system: 'docusign',
    baseUrl: o.baseUrl,
    auth: o.auth,
    classify: classifyDocuSign,
    ...(o.rateLimiter ? { rateLimiter: o.rateLimiter } : {}),
    ...(o.logger ? { logger: o.logger } : {}),
    ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
    repeat: DEFAULT_REPEAT,
  });

/**
 * DocuSign eSignature REST v2.1. Envelope creation has no idempotency key, so
 * the key rides on the envelope as a text custom field and every create
 * first searches for it (listStatusChanges with custom_field=).
 */
export class DocuSignClmAdapter implements ClmPort {
  constructor(
    private readonly http: HttpClient,
    private readonly config: DocuSignConfig,
  ) {}

  private get base(): string {
    return `/restapi/v2.1/accounts/${encodeURIComponent(this.config.accountId)}/envelopes`;
  }

  async createEnvelope(input: CreateEnvelopeInput): Promise<EnvelopeRef> {
    const existing = await this.findByKey(input.idempotencyKey);
    if (existing) return { envelopeId: existing.envelopeId, status: toStatus(existing.status), created: false };
    const res = await this.http.request({ method: 'POST', path: this.base, json: toEnvelopeDefinition(input), schema: EnvelopeSummary });
    return { envelopeId: res.body.envelopeId, status: toStatus(res.body.status), created: true };
  }

  async getEnvelope(envelopeId: string): Promise<EnvelopeState> {
    return toEnvelopeState(await this.http.get(`${this.base}/${encodeURIComponent(envelopeId)}`, EnvelopeRecord));
  }

  async resendEnvelope(envelopeId: string): Promise<void> {
    const state = await this.getEnvelope(envelopeId);
    if (state.status !== 'sent' && state.status !== 'delivered') return; // nobody left to remind
    await this.http.request({ method: 'PUT', path: `${this.base}/${encodeURIComponent(envelopeId)}`, query: { resend_envelope: 'true' }, json: {} });
  }

  async voidEnvelope(envelopeId: string, reason: string): Promise<void> {
    try {
      await this.http.request({ method: 'PUT', path: `${this.base}/${encodeURIComponent(envelopeId)}`, json: { status: 'voided', voidedReason: reason } });
    } catch (err) {
      // A retry after a void that did commit: already voided is success.
      if (err instanceof ConnectorError && err.code === 'DOCUSIGN.ENVELOPE_STATE' && (await this.getEnvelope(envelopeId)).status === 'voided') return;
      throw err;
    }
  }

  private async findByKey(key: string): Promise<EnvelopeRecord | undefined> {
    const now = this.config.now?.() ?? Date.now();
    const from = new Date(now - (this.config.lookbackDays ?? 90) * 86_400_000).toISOString();
    const list = await this.http.get(this.base, EnvelopeList, { from_date: from, custom_field: `${FIELD_IDEMPOTENCY_KEY}=${key}` });
    const hits = list.envelopes ?? [];
    // Prefer a live envelope over a voided one left by an earlier, cancelled attempt.
    return hits.find((e) => e.status !== 'voided') ?? undefined;
  }
}
