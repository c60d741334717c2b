/** Opportunity and account ids in Salesforce's 18-character form. */
export const OPP = '006Hs00001AbCdEIAZ';
export const ACCOUNT = '001Hs00000XyZabIAB';

export function closedWon(overrides: { eventId?: string; opportunityId?: string } = {}) {
  return {
    eventId: overrides.eventId ?? 'a1b2c3d4-0001',
    eventType: 'opportunity.closed_won',
    occurredAt: '2025-03-31T11:58:00.000+0000',
    opportunity: {
      id: overrides.opportunityId ?? OPP,
      accountId: ACCOUNT,
      name: 'Acme — Data platform rollout',
      stageName: 'Closed Won',
      isWon: true,
      closeDate: '2025-03-31',
      currencyIsoCode: 'USD',
    },
  };
}

export const ENVELOPE = '4f8a2c1e-93b7-4d2a-9c55-0b1e7f6a3d21';

export function connectEvent(
  event: string,
  opts: { envelopeId?: string; opportunityId?: string | null; voidedReason?: string; declinedReason?: string } = {},
) {
  return {
    event,
    apiVersion: 'v2.1',
    uri: `/restapi/v2.1/accounts/9a1b/envelopes/${opts.envelopeId ?? ENVELOPE}`,
    retryCount: 0,
    configurationId: 10418,
    generatedDateTime: '2025-03-31T11:59:30.1234567Z',
    data: {
      accountId: '9a1b2c3d-0000-4444-8888-123456789abc',
      userId: '5e6f7a8b-1111-4444-8888-abcdefabcdef',
      envelopeId: opts.envelopeId ?? ENVELOPE,
      envelopeSummary: {
        status: event.replace('envelope-', ''),
        emailSubject: 'Please sign: Acme MSA + SOW',
        ...(opts.voidedReason ? { voidedReason: opts.voidedReason } : {}),
        customFields: {
          textCustomFields:
            opts.opportunityId === null ? [] : [{ fieldId: '1', name: 'opportunityId', show: 'false', required: 'false', value: opts.opportunityId ?? OPP }],
        },
        recipients: {
          signers: [
            { recipientId: '1', status: opts.declinedReason ? 'declined' : 'completed', ...(opts.declinedReason ? { declinedReason: opts.declinedReason } : {}) },
          ],
        },
      },
    },
  };
}
