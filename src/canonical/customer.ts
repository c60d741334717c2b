import { z } from 'zod';
import { Address, CountryCode, ExternalIds, Id } from './common';
import { CanonicalError } from './errors';
import { CurrencyCode } from './money';

export const TaxRegistration = z.object({
  /** 'VAT', 'GST', 'EIN', 'ABN' ... */
  scheme: z.string().min(1),
  number: z.string().min(1),
  country: CountryCode,
  /** Customer holds a certificate that exempts it from sales tax. */
  exempt: z.boolean().default(false),
});
export type TaxRegistration = z.infer<typeof TaxRegistration>;

export const Customer = z
  .object({
    id: Id,
    name: z.string().min(1),
    billTo: z.object({
      address: Address,
      email: z.email().optional(),
      attention: z.string().optional(),
    }),
    /** The legal entity that normally contracts with this customer. */
    legalEntityId: Id,
    /** Parent account in the customer hierarchy; null at the root. */
    parentId: Id.nullable().default(null),
    currency: CurrencyCode.optional(),
    taxRegistration: TaxRegistration.optional(),
    /** Same customer in other systems: { salesforce: '001..', netsuite: '123', stripe: 'cus_..' }. */
    externalIds: ExternalIds.default({}),
    status: z.enum(['ACTIVE', 'MERGED', 'INACTIVE']).default('ACTIVE'),
    /** When status is MERGED: the surviving customer. */
    mergedIntoId: Id.optional(),
  })
  .refine((c) => c.parentId !== c.id, { message: 'a customer cannot be its own parent', path: ['parentId'] })
  .refine((c) => c.status !== 'MERGED' || c.mergedIntoId !== undefined, {
    message: 'a merged customer names the survivor',
    path: ['mergedIntoId'],
  });
export type Customer = z.infer<typeof Customer>;

/**
 * Ancestors of `customerId`, nearest first. Throws CUSTOMER.HIERARCHY_CYCLE on a
 * cycle (a re-parent that would loop must be rejected, not followed forever).
 */
export const customerAncestors = (customerId: string, byId: ReadonlyMap<string, Pick<Customer, 'id' | 'parentId'>>): string[] => {
  const out: string[] = [];
  const seen = new Set<string>([customerId]);
  let cur = byId.get(customerId)?.parentId ?? null;
  while (cur !== null) {
    if (seen.has(cur)) {
      throw new CanonicalError('CUSTOMER.HIERARCHY_CYCLE', `customer hierarchy has a cycle through ${cur}`, { customerId, at: cur });
    }
    seen.add(cur);
    out.push(cur);
    cur = byId.get(cur)?.parentId ?? null;
  }
  return out;
};
