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

describe('IdentityRepository.links', () => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await openDb({ dataDir: 'memory://' });
  });
  afterAll(() => handle.close());

  it('lists one kind in one system as (canonical, external) pairs in canonical then external order, optionally for some canonical ids', async () => {
    const ids = new IdentityRepository(handle.db);
    await ids.link('deal', 'OPP-2', 'kantata', 'ws-2');
    await ids.link('deal', 'OPP-1', 'kantata', 'ws-1b');
    await ids.link('deal', 'OPP-1', 'kantata', 'ws-1a');
    await ids.link('deal', 'OPP-1', 'docusign', 'env-1'); // another system
    await ids.link('project', 'PRJ-OPP-1', 'kantata', 'ws-1a'); // another kind
    expect(await ids.links('deal', 'kantata')).toEqual([
      { canonicalId: 'OPP-1', externalId: 'ws-1a' },
      { canonicalId: 'OPP-1', externalId: 'ws-1b' },
      { canonicalId: 'OPP-2', externalId: 'ws-2' },
    ]);
    expect(await ids.links('deal', 'kantata', ['OPP-2', 'OPP-9'])).toEqual([{ canonicalId: 'OPP-2', externalId: 'ws-2' }]);
    expect(await ids.links('deal', 'kantata', [])).toHaveLength(3); // none named: all
    expect(await ids.links('deal', 'stripe')).toEqual([]);
  });
});
