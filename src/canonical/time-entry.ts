import { z } from 'zod';
import { ExternalIds, Id, IsoDate } from './common';

/** Approved (or not yet approved) time. Minutes are an integer: 7.5 h = 450. */
export const TimeEntry = z.object({
  id: Id,
  projectId: Id,
  contractId: Id,
  contractLineId: Id,
  taskId: Id,
  resourceId: Id.optional(),
  role: z.string().min(1),
  region: z.string().min(1),
  resourceLegalEntityId: Id,
  workDate: IsoDate,
  minutes: z.int().positive().max(24 * 60),
  approved: z.boolean(),
  overtime: z.boolean().default(false),
  description: z.string().optional(),
  externalIds: ExternalIds.default({}),
});
export type TimeEntry = z.infer<typeof TimeEntry>;
