import { applyCustomerOverride, overrideProblem, OVERRIDE_FIELDS, STEP_SYSTEM } from '../../src/contract';

const customer = {
  id: 'C1',
  name: 'Acme GmbH',
  currency: 'CHF',
  billTo: { address: { line1: 'Bahnhofstrasse 1', city: 'Zurich', postalCode: '8001', country: 'CH' }, email: 'ap@acme.example' },
};

describe('override of a parked step\'s input', () => {
  it('only the step\'s own fields, with values of the right shape', () => {
    expect(overrideProblem('syncCustomerMaster', 'customer.currency', 'USD')).toBeUndefined();
    expect(overrideProblem('syncCustomerMaster', 'customer.currency', 'usd')).toBe('customer.currency: expected an ISO 4217 code');
    expect(overrideProblem('syncCustomerMaster', 'customer.billTo.address.country', 'Germany')).toBe('customer.billTo.address.country: expected an ISO 3166-1 alpha-2 code');
    expect(overrideProblem('syncCustomerMaster', 'customer.billTo.email', 'not-mail')).toBe('customer.billTo.email: expected an e-mail address');
    expect(overrideProblem('syncCustomerMaster', 'customer.name', '  ')).toBe('customer.name cannot be empty');
    expect(overrideProblem('syncCustomerMaster', 'customer.billTo.address.postalCode', '')).toBeUndefined();
    expect(overrideProblem('syncCustomerMaster', 'customer.id', 'X')).toMatch(/^'customer.id' cannot be overridden on syncCustomerMaster/);
    expect(overrideProblem('provisionProject', 'customer.name', 'X')).toBe('step provisionProject has no fields an override may correct');
    expect(Object.keys(OVERRIDE_FIELDS).every((step) => STEP_SYSTEM[step] !== undefined)).toBe(true);
  });

  it('applies one field to a copy; an empty optional field is removed', () => {
    const fixed = applyCustomerOverride(customer, 'customer.billTo.address.postalCode', ' 8002 ');
    expect(fixed.billTo.address.postalCode).toBe('8002');
    expect(customer.billTo.address.postalCode).toBe('8001');
    expect(applyCustomerOverride(customer, 'customer.currency', 'USD').currency).toBe('USD');
    expect(applyCustomerOverride(customer, 'customer.billTo.email', 'ar@acme.example').billTo.email).toBe('ar@acme.example');
    expect('email' in applyCustomerOverride(customer, 'customer.billTo.email', '').billTo).toBe(false);
  });
});
