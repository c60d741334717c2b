import { z } from 'zod';
import { Id, IsoDate } from './common';

export const ResourceAssignment = z.object({
  id: Id,
  projectId: Id,
  resourceId: Id,
  placeholderId: Id.optional(),
  role: z.string().min(1),
  region: z.string().min(1),
  /** Employing entity of the resource; differs from the contracting entity for intercompany work. */
  deliveryLegalEntityId: Id,
  startDate: IsoDate,
  endDate: IsoDate.optional(),
});
export type ResourceAssignment = z.infer<typeof ResourceAssignment>;
