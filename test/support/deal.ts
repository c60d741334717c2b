import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createActivities, type ActivityDeps } from '../../src/activities';
import { loadCatalog } from '../../src/activities/deal/catalog';
import { sandboxConnectorsConfig } from '../../src/cli/dev-secrets';
import { createConnectors } from '../../src/connectors';
import type { Db } from '../../src/db';
import { RuleSetRepository, ensureDefaultRuleSets } from '../../src/db/rulesets';
import { kpiSinks } from '../../src/worker';
import { ERP_TASK_QUEUE } from '../../src/contract';
import { testLogger } from './logger';
import { workflowBundle } from './temporal';
import { getDealStateQuery, type DealView } from '../../src/contract';

export { DEFAULT_LINES, patchSalesforce, seedClosedWonDeal } from '../../src/sandbox/salesforce/seed';

/** The worker's real dependencies, with every vendor pointed at the test sandbox and the bundled rule sets loaded. */
export function sandboxActivityDeps(sandboxUrl: string, db: Db): ActivityDeps {
  let loaded: Promise<unknown> | undefined;
  const repo = new RuleSetRepository(db);
  return {
    db,
    logger: testLogger,
    catalog: loadCatalog(),
    ruleSets: async (ref) => {
      loaded ??= ensureDefaultRuleSets(db);
      await loaded;
      return repo.getRuleSet(ref);
    },
    connectors: createConnectors({ ...sandboxConnectorsConfig(sandboxUrl), logger: testLogger }),
  };
}

/** The deal worker and the rate-limited ERP worker, as production runs them. */
export async function startDealWorkers(env: TestWorkflowEnvironment, taskQueue: string, deps: ActivityDeps): Promise<{ stop(): Promise<void> }> {
  const activities = createActivities(deps);
  const workers = [
    await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities, sinks: kpiSinks() }),
    await Worker.create({ connection: env.nativeConnection, taskQueue: ERP_TASK_QUEUE, activities, maxTaskQueueActivitiesPerSecond: 50 }),
  ];
  const runs = workers.map((w) => w.run());
  return {
    async stop() {
      for (const w of workers) w.shutdown();
      await Promise.all(runs);
    },
  };
}

/** Polls the deal's state query until `pred` holds (activities run in real time; timers are skipped). */
export async function untilDeal(handle: { query: (q: typeof getDealStateQuery) => Promise<DealView> }, pred: (v: DealView) => boolean, what: string): Promise<DealView> {
  for (let i = 0; i < 300; i++) {
    const v = await handle.query(getDealStateQuery);
    if (pred(v)) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`deal never reached: ${what}`);
}
