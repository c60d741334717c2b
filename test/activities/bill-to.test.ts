import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import { createDealActivities } from '../../src/activities/deal.activities';
import type { DbHandle } from '../../src/db';
import { IdentityRepository } from '../../src/db/identity';
import { sandboxActivityDeps } from '../support/deal';
import { customer, catalog } from '../support/deal-fixture';
import { useSandboxAndDb, type TestSandbox } from '../support/sandbox';

const quiet = { logger: new DefaultLogger('ERROR') };
const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> => new MockActivityEnvironment({}, quiet).run(fn, ...args);

/* A bill-to change's customer: the CRM account behind the canonical id (identity map), upserted in the ERP. */
describe('resolveBillTo', () => {
  let sandbox: TestSandbox;
  let db: DbHandle;
  useSandboxAndDb((c) => ({ sandbox, db } = c));
  const usEntity = catalog.legalEntities.find((e) => e.id === 'LE-US')!;

  it('reads the account from the CRM and creates the customer in the ERP once', async () => {
    const deps = sandboxActivityDeps(sandbox.url, db.db);
    const account = await deps.connectors.crm.upsertAccount({ customer: { ...customer, id: 'CUS-NEWCO', name: 'NewCo Holdings' } });
    await new IdentityRepository(db.db).link('customer', 'CUS-NEWCO', 'salesforce', account.id);
    const acts = createDealActivities(deps);
    const billTo = await run(acts.resolveBillTo, { customerId: 'CUS-NEWCO', legalEntity: usEntity });
    expect([billTo.customer.id, billTo.customer.name, billTo.customer.externalIds['salesforce']]).toEqual(['CUS-NEWCO', 'NewCo Holdings', account.id]);
    const again = await run(acts.resolveBillTo, { customerId: 'CUS-NEWCO', legalEntity: usEntity });
    expect(again.erpCustomerId).toBe(billTo.erpCustomerId);
    const inErp = (await sandbox.store.list<Record<string, unknown>>('netsuite', 'customer', {})).items.filter((c) => c.externalId === 'CUS-NEWCO');
    expect(inErp.map((c) => [c.id, c.data['companyName']])).toEqual([[billTo.erpCustomerId, 'NewCo Holdings']]);
  });

  it('refuses, without retrying, a customer no CRM account is linked to', async () => {
    const acts = createDealActivities(sandboxActivityDeps(sandbox.url, db.db));
    const err = await run(acts.resolveBillTo, { customerId: 'CUS-NOBODY', legalEntity: usEntity }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect([(err as ApplicationFailure).type, (err as ApplicationFailure).nonRetryable]).toEqual(['CRM.CUSTOMER_UNKNOWN', true]);
  });
});
