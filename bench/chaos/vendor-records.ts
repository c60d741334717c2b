/** Reading the sandboxes' own records (the vendors' side), for the driver and the reconciliation. */
import { like } from 'drizzle-orm';
import { schema } from '../../src/db';
import type { RunningSandbox } from '../../src/sandbox/server';
import type { SandboxRecord } from '../../src/sandbox/store';

/** A vendor's records whose external id starts with `prefix`. */
export async function vendorRecords(sandbox: RunningSandbox, vendor: string, kind: string, prefix = ''): Promise<SandboxRecord[]> {
  const where = prefix ? like(schema.sandboxRecords.externalId, `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`) : undefined;
  return (await sandbox.store.list(vendor, kind, { ...(where ? { where } : {}), limit: 1_000_000 })).items;
}
