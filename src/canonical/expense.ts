import { z } from 'zod';
import { ExternalIds, Id, IsoDate } from './common';
import { NonNegativeMoney } from './money';

export const Expense = z.object({
  id: Id,
  projectId: Id,
  contractId: Id,
  contractLineId: Id,
  resourceId: Id.optional(),
  resourceLegalEntityId: Id.optional(),
  category: z.string().min(1),
  amount: NonNegativeMoney,
  incurredOn: IsoDate,
  approved: z.boolean(),
  receipt: z.object({ documentId: Id, url: z.url().optional() }).optional(),
  description: z.string().optional(),
  externalIds: ExternalIds.default({}),
});
export type Expense = z.infer<typeof Expense>;
