import { z } from 'zod';

export const DocuSignErrorBody = z.looseObject({ errorCode: z.string(), message: z.string().optional() });

export const EnvelopeSummary = z.looseObject({ envelopeId: z.string(), status: z.string(), statusDateTime: z.string().optional() });

const opt = z.string().optional().nullable();
export const EnvelopeRecord = z.looseObject({
  envelopeId: z.string(),
  status: z.string(),
  sentDateTime: opt,
  completedDateTime: opt,
  declinedDateTime: opt,
  voidedDateTime: opt,
  voidedReason: opt,
  customFields: z.looseObject({ textCustomFields: z.array(z.looseObject({ name: z.string(), value: z.string().optional() })).optional() }).optional(),
});
export type EnvelopeRecord = z.infer<typeof EnvelopeRecord>;

export const EnvelopeList = z.looseObject({
  resultSetSize: z.coerce.number(),
  envelopes: z.array(EnvelopeRecord).optional(),
});
