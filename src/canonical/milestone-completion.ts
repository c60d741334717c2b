import { z } from 'zod';
import { Id, Instant, IsoDate } from './common';

/** A milestone reported complete; billable only once the customer accepts it. */
export const MilestoneCompletion = z
  .object({
    id: Id,
    projectId: Id,
    contractId: Id,
    contractLineId: Id,
    milestoneId: Id,
    completedOn: IsoDate,
    acceptedOn: IsoDate.nullable().default(null),
    acceptedBy: z.string().optional(),
    rejectedAt: Instant.optional(),
  })
  .refine((m) => m.acceptedOn === null || m.acceptedOn >= m.completedOn, {
    message: 'acceptance cannot precede completion',
    path: ['acceptedOn'],
  });
export type MilestoneCompletion = z.infer<typeof MilestoneCompletion>;
