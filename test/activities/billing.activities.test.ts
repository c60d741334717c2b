import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { request } from 'undici';
import { createBillingActivities, type BillingActivityDeps } from '../../src/activities/billing.activities';
import { loadCatalog } from '../../src/activities/deal/catalog';
import { createDealActivities } from '../../src/activities/deal.activities';
import type { PsaPort } from '../../src/connectors/psa/psa.port';
import type { DbHandle } from '../../src/db';
import { AuditRepository } from '../../src/db/audit';
import { SANDBOX_KANTATA_TOKENS } from '../../src/sandbox/credentials';
import { NETSUITE_SANDBOX } from '../../src/sandbox/netsuite/netsuite.credentials';
import { sandboxActivityDeps, seedClosedWonDeal } from '../support/deal';
import { useSandboxAndDb, type TestSandbox } from '../support/sandbox';

jest.setTimeout(60_000);

let sandbox: TestSandbox;
let db: DbHandle;
useSandboxAndDb((c) => ({ sandbox, db } = c));

/** The failures these tests provoke are expected: the SDK need not print them. */
const quiet = { logger: new DefaultLogger('ERROR') };
const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> => new MockActivityEnvironment({}, quiet).run(fn, ...args);

/** Kantata's API as a person's browser session uses it (bearer token). */
async function kantata<T>(method: 'GET' | 'PUT', path: string, json?: unknown): Promise<T> {
  const res = await request(`${sandbox.url}/kantata/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${SANDBOX_KANTATA_TOKENS[0]}`, 'content-type': 'application/json' },
    ...(json ? { body: JSON.stringify(json) } : {}),
  });
  if (res.statusCode >= 300) throw new Error(`Kantata ${method} ${path}: ${res.statusCode} ${await res.body.text()}`);
  return (await res.body.json()) as T;
}
type Stories = { results: Array<{ id: string }>; stories: Record<string, { id: string; title: string; story_type: string; state: string; parent_id: string | null }> };
const storiesOf = async (workspaceId: string) => {
  const body = await kantata<Stories>('GET', `/stories.json?workspace_id=${workspaceId}&per_page=200`);
  return body.results.map((r) => body.stories[r.id]!);
};

describe('prepareBilling: Kantata story ids mapped back to the q2c project', () => {
  test('a milestone completed in Kantata, known there only by its story id, maps to its q2c milestone and contract line; so does time on a task', async () => {
    // The default deal: L1 TRANSFORMATION (milestones M1 30 %, M2 50 %, M3 20 %), L2 ADVISORY_TM, L3 MANAGED_SUPPORT.
    const { opportunityId } = await seedClosedWonDeal(sandbox.url, { key: 'psa-ids' });
    const deps = sandboxActivityDeps(sandbox.url, db.db);
    const deal = createDealActivities(deps);
    const snapshot = await run(deal.loadDeal, { opportunityId, correlationId: 'psa-ids' });
    const { projectId } = await run(deal.provisionProject, { idempotencyKey: `deal-${opportunityId}:project`, contract: snapshot.contract, quote: snapshot.quote, customer: snapshot.customer });

    // The project lead completes "Build complete" in Kantata; what the PSA reports is the story's own id.
    const build = (await storiesOf(projectId)).find((s) => s.story_type === 'milestone' && s.title === 'Build complete')!;
    await kantata('PUT', `/stories/${build.id}.json`, { story: { state: 'completed' } });
    const completed = (await storiesOf(projectId)).filter((s) => s.state === 'completed');
    expect(completed.map((s) => [s.id, s.title])).toEqual([[build.id, 'Build complete']]);

    const billing = createBillingActivities(deps as BillingActivityDeps);
    const setup = await run(billing.prepareBilling, { snapshot, psaProjectId: projectId });

    // What the workflow does with a milestone item (delivery.ts: psaIds[sourceId] ?? sourceId).
    const milestoneId = setup.psaIds[completed[0]!.id] ?? completed[0]!.id;
    const milestone = setup.project.phases.flatMap((p) => p.milestones).find((m) => m.id === milestoneId);
    const ctr = snapshot.contract.id;
    expect(milestone).toEqual({ id: `${ctr}-L1-M2`, name: 'Build complete', contractLineId: `${ctr}-L1` });
    expect(snapshot.contract.lines.find((l) => l.id === milestone!.contractLineId)?.billingModel).toBe('FIXED_FEE_MILESTONE');

    // Every milestone and task q2c created maps back by its Kantata story id, to the story of the same title.
    const stories = new Map((await storiesOf(projectId)).map((s) => [s.id, s]));
    const canonical = setup.project.phases.flatMap((p) => [...p.milestones, ...p.tasks]);
    expect(Object.keys(setup.psaIds)).toHaveLength(canonical.length);
    expect(Object.entries(setup.psaIds).map(([storyId, id]) => [stories.get(storyId)?.title, id]).sort((a, b) => String(a[1]).localeCompare(String(b[1])))).toEqual(
      canonical.map((c) => [c.name, c.id]).sort((a, b) => String(a[1]).localeCompare(String(b[1]))),
    );
    // Time on the advisory task, reported with its story id, lands on the T&M line.
    const advisory = [...stories.values()].find((s) => s.story_type === 'task' && s.title === 'Advisory hours')!;
    const taskId = setup.psaIds[advisory.id]!;
    expect(setup.project.phases.flatMap((p) => p.tasks).find((t) => t.id === taskId)).toEqual({ id: `${ctr}-L2-T1`, name: 'Advisory hours', billable: true, contractLineId: `${ctr}-L2` });

    // No PSA project yet, or a PSA that cannot list its records: the items keep their own ids.
    expect((await run(billing.prepareBilling, { snapshot })).psaIds).toEqual({});
    const blind = createBillingActivities({ ...(deps as BillingActivityDeps), connectors: { ...deps.connectors, psa: { recordInvoice: async () => ({ id: 'x', created: true }) } as unknown as PsaPort } });
    expect((await run(blind.prepareBilling, { snapshot, psaProjectId: projectId })).psaIds).toEqual({});
  });
});

describe('postIntercompany', () => {
  test('LE-DE delivering for LE-US: one intercompany journal in both books, audit links to the time entries; a retry books nothing more', async () => {
    const deps = sandboxActivityDeps(sandbox.url, db.db);
    const billing = createBillingActivities(deps as BillingActivityDeps);
    const entities = new Map(loadCatalog().legalEntities.map((e) => [e.id, e]));
    // Two entries: 8 h + 4 h of a consultant at $60.00/h cost + 8 % = $518.40 + $259.20.
    const input = {
      dealId: 'deal-ic-1',
      key: 'LE-DE-LE-US-2030-01-R0',
      contractId: 'C-ic-1',
      from: entities.get('LE-DE')!,
      to: entities.get('LE-US')!,
      periodEnd: '2030-01-31',
      currency: 'USD',
      amountMinor: 77_760,
      sources: [
        { sourceId: 'TE-101', amountMinor: 51_840 },
        { sourceId: 'TE-102', amountMinor: 25_920 },
      ],
    };
    const posted = await run(billing.postIntercompany, input);
    // $777.60 x 0.905 (USD->EUR from 2026-01-01) = EUR 703.728 -> 703.73.
    expect(posted).toEqual({
      journalId: posted.journalId,
      tranId: posted.tranId,
      seller: { legalEntityId: 'LE-DE', amountMinor: 70_373, currency: 'EUR' },
      buyer: { legalEntityId: 'LE-US', amountMinor: 77_760, currency: 'USD' },
      fxRate: { base: 'USD', quote: 'EUR', rate: '0.905', asOf: '2026-01-01', source: 'netsuite:currencyrate/2' },
    });
    const je = (await sandbox.store.get<Record<string, unknown>>('netsuite', 'intercompanyJournalEntry', posted.journalId))!;
    expect(je.externalId).toBe('deal-ic-1:ic:LE-DE-LE-US-2030-01-R0');
    const IC = NETSUITE_SANDBOX.intercompanyAccounts;
    expect((je.data['line'] as { items: Array<Record<string, unknown>> }).items.map((l) => [(l['lineSubsidiary'] as { id: string }).id, (l['account'] as { id: string }).id, l['debit'] ?? 0, l['credit'] ?? 0])).toEqual([
      ['3', IC.receivable, 777.6, 0],
      ['3', IC.revenue, 0, 777.6],
      ['1', IC.expense, 777.6, 0],
      ['1', IC.payable, 0, 777.6],
    ]);
    const audit = new AuditRepository(db.db);
    const links = (await audit.forDocument('IC-LE-DE-LE-US-2030-01-R0', 'intercompany')).map((l) => [l.dealId, l.documentLineId, l.sourceKind, l.sourceId, l.amountMinor, l.currency]);
    expect(links).toEqual([
      ['deal-ic-1', 'IC-LE-DE-LE-US-2030-01-R0-1', 'TIME', 'TE-101', 51_840, 'USD'],
      ['deal-ic-1', 'IC-LE-DE-LE-US-2030-01-R0-1', 'TIME', 'TE-102', 25_920, 'USD'],
    ]);

    expect(await run(billing.postIntercompany, input)).toEqual(posted);
    expect((await sandbox.store.list('netsuite', 'intercompanyJournalEntry')).items.filter((r) => r.externalId === 'deal-ic-1:ic:LE-DE-LE-US-2030-01-R0')).toHaveLength(1);
    expect(await audit.forDocument('IC-LE-DE-LE-US-2030-01-R0', 'intercompany')).toHaveLength(2);
  });

  test('a charge in a currency neither entity keeps books in is a non-retryable HTTP.VALIDATION failure', async () => {
    const deps = sandboxActivityDeps(sandbox.url, db.db);
    const billing = createBillingActivities(deps as BillingActivityDeps);
    const entities = new Map(loadCatalog().legalEntities.map((e) => [e.id, e]));
    const err = await run(billing.postIntercompany, {
      dealId: 'deal-ic-2',
      key: 'LE-DE-LE-US-2030-02-R0',
      contractId: 'C-ic-2',
      from: entities.get('LE-DE')!,
      to: entities.get('LE-US')!,
      periodEnd: '2030-02-28',
      currency: 'GBP',
      amountMinor: 1_000,
      sources: [{ sourceId: 'TE-201', amountMinor: 1_000 }],
    }).then(
      () => undefined,
      (e: unknown) => e as { type?: string; nonRetryable?: boolean },
    );
    expect([err?.type, err?.nonRetryable]).toEqual(['HTTP.VALIDATION', true]);
    expect(await new AuditRepository(db.db).forDocument('IC-LE-DE-LE-US-2030-02-R0')).toEqual([]);
  });
});
