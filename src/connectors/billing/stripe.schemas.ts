import { z } from 'zod';

/**
 * The webhook event fields the adapter reads. The SDK's types describe the
 * full objects; this schema checks what a verified event must carry before
 * it is mapped, so a malformed event fails loudly instead of half-mapping.
 */
export const StripeEventObject = z.looseObject({
  id: z.string(),
  object: z.string(),
  currency: z.string().optional(),
  amount_paid: z.number().optional(),
  amount_received: z.number().optional(),
  amount_refunded: z.number().optional(),
  metadata: z.record(z.string(), z.string()).optional(),
});

export const StripeEventSchema = z.looseObject({
  id: z.string(),
  type: z.string(),
  created: z.number(),
  data: z.object({ object: StripeEventObject }),
});
export type StripeEventShape = z.infer<typeof StripeEventSchema>;
