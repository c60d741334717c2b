import { z } from 'zod';
import { ExternalIds, IanaTimeZone, Id, TaxJurisdiction } from './common';
import { CurrencyCode } from './money';

/** A subsidiary that contracts with customers or delivers work. */
export const LegalEntity = z.object({
  id: Id,
  name: z.string().min(1),
  functionalCurrency: CurrencyCode,
  taxJurisdiction: TaxJurisdiction,
  /** Business dates of this entity (period ends, invoice dates) are in this zone. */
  timeZone: IanaTimeZone,
  taxRegistrationNumber: z.string().min(1).optional(),
  externalIds: ExternalIds.default({}),
});
export type LegalEntity = z.infer<typeof LegalEntity>;
