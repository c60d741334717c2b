import { openDb, type DbHandle } from '../../src/db';
import { IdentityRepository, survive } from '../../src/db/identity';

describe('survivorship', () => {
  it('lets the owning system overwrite its fields and keeps other systems off them', () => {
    const fromCrm = survive('customer', {}, {}, { name: 'Globex', currency: 'USD' }, 'salesforce');
    expect(fromCrm).toEqual({ data: { name: 'Globex', currency: 'USD' }, sources: { name: 'salesforce', currency: 'salesforce' } });
    // The ERP owns currency: it replaces the CRM's value, but cannot rename the customer.
    const fromErp = survive('customer', fromCrm.data, fromCrm.sources, { name: 'GLOBEX CORP', currency: 'EUR' }, 'netsuite');
    expect(fromErp.data).toEqual({ name: 'Globex', currency: 'EUR' });
    // Once the owner has spoken, the CRM cannot take currency back.
    const again = survive('customer', fromErp.data, fromErp.sources, { currency: 'GBP' }, 'salesforce');
    expect(again.data.currency).toBe('EUR');
  });
});

describe('IdentityRepository', () => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await openDb({ dataDir: 'memory://' });
  });
  afterAll(() => handle.close());

  it('maps one system record to one canonical id, whatever id a second caller proposes', async () => {
    const ids = new IdentityRepository(handle.db);
    expect(await ids.canonicalIdFor('customer', 'salesforce', '001A', 'CUS-001A')).toBe('CUS-001A');
    expect(await ids.canonicalIdFor('customer', 'salesforce', '001A', 'CUS-OTHER')).toBe('CUS-001A');
    await ids.link('customer', 'CUS-001A', 'netsuite', '77');
    await ids.link('customer', 'CUS-001A', 'netsuite', '77'); // idempotent
    await expect(ids.link('customer', 'CUS-999', 'netsuite', '77')).rejects.toThrow('already maps to CUS-001A');
    expect(await ids.externalIds('customer', 'CUS-001A')).toEqual({ salesforce: '001A', netsuite: '77' });
  });

  it('merges golden records under the survivorship rules and counts versions', async () => {
    const ids = new IdentityRepository(handle.db);
    await ids.mergeGoldenRecord('customer', 'CUS-001A', 'salesforce', { name: 'Globex', currency: 'USD' });
    const merged = await ids.mergeGoldenRecord('customer', 'CUS-001A', 'netsuite', { name: 'GLOBEX CORP', currency: 'EUR' });
    expect(merged).toEqual({ name: 'Globex', currency: 'EUR' });
  });
});
