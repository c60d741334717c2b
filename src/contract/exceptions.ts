import type { ExceptionSystem } from './deal';

// Pure helpers about the deal's parked steps, shared by the workflow (which raises and
// applies them) and the service (which shows and validates them). No I/O, no zod.

/** The system each step of the deal's first part calls. */
export const STEP_SYSTEM: Readonly<Record<string, ExceptionSystem>> = {
  loadDeal: 'crm',
  syncCustomerMaster: 'erp',
  sendContractForSignature: 'esign',
  awaitSignature: 'esign',
  provisionProject: 'psa',
  postErpContract: 'erp',
  scheduleRecurringBilling: 'billing',
  updateCrmOpportunity: 'crm',
};

/**
 * The fields of a step's input an operator may correct and retry with (`override`).
 * syncCustomerMaster upserts the customer in the ERP: its currency (NetSuite refuses one not
 * enabled there: ERP.CUSTOMER_INVALID), name, bill-to e-mail and address are the CRM's data,
 * often wrong in one field; correcting it here lets the deal go on while the CRM is fixed.
 */
export const OVERRIDE_FIELDS: Readonly<Record<string, readonly string[]>> = {
  syncCustomerMaster: [
    'customer.currency',
    'customer.name',
    'customer.billTo.email',
    'customer.billTo.attention',
    'customer.billTo.address.line1',
    'customer.billTo.address.line2',
    'customer.billTo.address.city',
    'customer.billTo.address.region',
    'customer.billTo.address.postalCode',
    'customer.billTo.address.country',
  ],
};

/** Fields the customer may lack: an empty override removes them. */
const OPTIONAL_FIELDS = new Set(['customer.billTo.email', 'customer.billTo.attention', 'customer.billTo.address.line2', 'customer.billTo.address.region', 'customer.billTo.address.postalCode']);

/** Why an override value is refused, or undefined when it may be applied. */
export function overrideProblem(step: string, field: string, value: string): string | undefined {
  const fields = OVERRIDE_FIELDS[step];
  if (!fields) return `step ${step} has no fields an override may correct`;
  if (!fields.includes(field)) return `'${field}' cannot be overridden on ${step}; fields: ${fields.join(', ')}`;
  const v = value.trim();
  if (v.length === 0 && !OPTIONAL_FIELDS.has(field)) return `${field} cannot be empty`;
  if (v.length > 500) return `${field}: at most 500 characters`;
  if (field === 'customer.currency' && !/^[A-Z]{3}$/.test(v)) return `${field}: expected an ISO 4217 code`;
  if (field === 'customer.billTo.address.country' && !/^[A-Z]{2}$/.test(v)) return `${field}: expected an ISO 3166-1 alpha-2 code`;
  if (field === 'customer.billTo.email' && v !== '' && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v)) return `${field}: expected an e-mail address`;
  return undefined;
}

interface OverridableCustomer {
  name: string;
  currency?: string;
  billTo: { address: { line1: string; line2?: string; city: string; region?: string; postalCode?: string; country: string }; email?: string; attention?: string };
}

/** The customer with one field corrected (an empty optional field is removed). Pure: returns a copy. */
export function applyCustomerOverride<C extends OverridableCustomer>(customer: C, field: string, value: string): C {
  const v = value.trim();
  const path = field.split('.').slice(1); // drop 'customer'
  const copy = { ...customer, billTo: { ...customer.billTo, address: { ...customer.billTo.address } } } as C;
  const parent = (path.length === 1 ? copy : path.length === 2 ? copy.billTo : copy.billTo.address) as unknown as Record<string, unknown>;
  const key = path[path.length - 1]!;
  if (v === '') delete parent[key];
  else parent[key] = v;
  return copy;
}
