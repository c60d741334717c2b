import { z } from 'zod';
import { Id, IsoDate } from './common';
import { RevenueTreatment } from './contract';
import { Money } from './money';

export const RevenueScheduleLine = z.object({
  id: Id,
  contractId: Id,
  contractLineId: Id,
  treatment: RevenueTreatment,
  kind: z.enum(['RECOGNITION', 'BREAKAGE', 'REVERSAL']),
  recognitionDate: IsoDate,
  amount: Money,
  /** Invoice lines, milestone completions, time entries ... behind this amount. */
  sourceIds: z.array(Id).default([]),
});
export type RevenueScheduleLine = z.infer<typeof RevenueScheduleLine>;
