import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createBillingActivities } from '../../src/activities/billing.activities';
import { createCreditActivities } from '../../src/activities/credit.activities';
import { createDealActivities } from '../../src/activities/deal.activities';
import type { Connectors } from '../../src/connectors';
import type { Contract, Customer } from '../../src/canonical';
import type { DeliveryItem, ResourceInfo } from '../../src/contract';
import type { BillingPort } from '../../src/connectors/billing/billing.port';
import type { CrmPort, DunningTaskInput, InvoiceStatusInput } from '../../src/connectors/crm/crm.port';
import { NetSuiteAdapter, classifyNetSuite } from '../../src/connectors/erp/netsuite.adapter';
import { NetSuiteM2MAuth } from '../../src/connectors/erp/netsuite.auth';
import { HttpClient, basicAuth, staticSecret } from '../../src/connectors/http';
import type { PsaPort, RecordInvoiceInput } from '../../src/connectors/psa/psa.port';
import { AvalaraAdapter, classifyAvalara } from '../../src/connectors/tax/avalara.adapter';
import { openDb, type Db, type DbHandle } from '../../src/db';
import { kpiSinks, WORKFLOW_BUNDLER_OPTIONS } from '../../src/worker';
import type { KpiRecorder } from '../../src/workflows/sinks';
import { RuleSet } from '../../src/rules/ruleset';
import { AVALARA_SANDBOX, AVALARA_VENDOR } from '../../src/sandbox/avalara/avalara.sandbox';
import type { SandboxVendor } from '../../src/sandbox/context';
import { NETSUITE_VENDOR } from '../../src/sandbox/netsuite/netsuite.sandbox';
import { startTestSandbox, type TestSandbox } from '../support/sandbox';
import { createTimeSkippingEnv } from '../support/temporal';
import { NETSUITE_SANDBOX } from '../../src/sandbox/netsuite/netsuite.credentials';
import { ERP_TASK_QUEUE } from '../../src/workflows/invoice-run.workflow';
import defaultRuleSet from '../../src/rules/rulesets/default.json';
import { testLogger } from '../support/logger';
import { asRetainer, catalog, customer, snapshotFor, usd } from '../support/deal-fixture';

export { asRetainer, catalog, customer, snapshotFor, usd };


let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
export function engagementBundle(): Promise<WorkflowBundleWithSourceMap> {
  const noop = () => {};
  bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('./engagement.workflows'), ...WORKFLOW_BUNDLER_OPTIONS, logger: { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop } });
  return bundle;
}

/** In-memory CRM and PSA write-back targets (their adapters are tested against their own sandboxes). */
export function recordingPorts() {
  const crmStatus = new Map<string, InvoiceStatusInput>();
  const stages: string[] = [];
  const psaInvoices = new Map<string, RecordInvoiceInput>();
  const closedProjects: Array<{ projectId: string; reason: string }> = [];
  const delivered: DeliveryItem[] = [];
  const accounts = new Map<string, Customer>();
  const dunningTasks = new Map<string, DunningTaskInput>();
  const crm = {
    createDunningTask: async (input: DunningTaskInput) => {
      const created = !dunningTasks.has(input.key);
      if (created) dunningTasks.set(input.key, input);
      return { id: input.key, externalId: input.key, created };
    },
    recordInvoiceStatus: async (input: InvoiceStatusInput) => {
      crmStatus.set(input.invoiceNumber, input);
      return { id: input.invoiceNumber, externalId: input.invoiceNumber, created: true };
    },
    getAccount: async (accountId: string) => {
      const account = accounts.get(accountId);
      if (!account) throw new Error(`no account ${accountId}`);
      return account;
    },
    updateOpportunityStage: async (_id: string, stage: string) => {
      stages.push(stage);
    },
  } as unknown as CrmPort;
  const psa = {
    recordInvoice: async (input: RecordInvoiceInput) => {
      const created = !psaInvoices.has(input.invoiceNumber);
      psaInvoices.set(input.invoiceNumber, input);
      return { id: input.invoiceNumber, created };
    },
    closeProject: async (projectId: string, reason: string) => {
      closedProjects.push({ projectId, reason });
    },
    // What the PSA holds now (a credit and rebill reads the credited items again).
    listDeliveredTime: async () => delivered.filter((i) => i.kind === 'timeEntry'),
    listDeliveredExpenses: async () => delivered.filter((i) => i.kind === 'expense'),
    listDeliveredMilestones: async () => ({ items: delivered.filter((i) => i.kind === 'milestone'), foreign: [] }),
  } as unknown as PsaPort;
  const billing = {} as BillingPort;
  return { crm, psa, billing, crmStatus, stages, psaInvoices, closedProjects, dunningTasks, delivered, accounts };
}

export function netsuite(sandboxUrl: string): NetSuiteAdapter {
  const baseUrl = `${sandboxUrl}/netsuite`;
  const auth = new NetSuiteM2MAuth({
    tokenUrl: `${baseUrl}/services/rest/auth/oauth2/v1/token`,
    clientId: NETSUITE_SANDBOX.clientId,
    certificateId: staticSecret(NETSUITE_SANDBOX.certificateId),
    privateKey: staticSecret(NETSUITE_SANDBOX.privateKeyPem),
  });
  const http = new HttpClient({ system: 'netsuite', baseUrl, auth, classify: classifyNetSuite, timeoutMs: 10_000 });
  return new NetSuiteAdapter({ http, mapping: { serviceItemId: NETSUITE_SANDBOX.serviceItemId, deferredRevenueAccountId: NETSUITE_SANDBOX.deferredRevenueAccountId, revenueAccountId: NETSUITE_SANDBOX.revenueAccountId } });
}

export function avalara(sandboxUrl: string): AvalaraAdapter {
  return new AvalaraAdapter({
    http: new HttpClient({ system: 'avalara', baseUrl: `${sandboxUrl}/avalara`, auth: basicAuth(staticSecret(AVALARA_SANDBOX.accountId), staticSecret(AVALARA_SANDBOX.licenseKey)), classify: classifyAvalara, timeoutMs: 10_000 }),
    companyCode: AVALARA_SANDBOX.companyCode,
  });
}

/** The main worker and the rate-limited ERP worker, both with the billing activities. */
export async function engagementWorkers(args: {
  env: TestWorkflowEnvironment;
  taskQueue: string;
  db: Db;
  connectors: Parameters<typeof createBillingActivities>[0]['connectors'];
  resources?: Record<string, ResourceInfo>;
  /** Where the workflows' KPI sink reports (no-op by default). */
  kpis?: KpiRecorder;
  /** Also the activities of the operator updates: credit memos, and the ERP contract and PSA project writes of amendments and terminations. */
  operatorActions?: boolean;
  /** The queue the ERP worker polls (default ERP_TASK_QUEUE); false: no ERP worker (the test runs its own). */
  erpTaskQueue?: string | false;
}): Promise<{ run<T>(fn: () => Promise<T>): Promise<T> }> {
  const ruleSet = RuleSet.parse(defaultRuleSet);
  const billing = createBillingActivities({ db: args.db, logger: testLogger, catalog, ruleSets: () => ruleSet, connectors: args.connectors, ...(args.resources ? { resources: args.resources } : {}) });
  const deal = args.operatorActions ? createDealActivities({ db: args.db, logger: testLogger, catalog, connectors: args.connectors as unknown as Connectors }) : undefined;
  const activities = deal
    ? { ...billing, ...createCreditActivities({ db: args.db, logger: testLogger, connectors: args.connectors }), postErpContract: deal.postErpContract, closeProject: deal.closeProject, cancelRecurringBilling: deal.cancelRecurringBilling, resolveBillTo: deal.resolveBillTo }
    : billing;
  const main = await Worker.create({ connection: args.env.nativeConnection, taskQueue: args.taskQueue, workflowBundle: await engagementBundle(), activities, sinks: kpiSinks(args.kpis) });
  if (args.erpTaskQueue === false) return { run: (fn) => main.runUntil(fn) };
  const erp = await Worker.create({ connection: args.env.nativeConnection, taskQueue: args.erpTaskQueue ?? ERP_TASK_QUEUE, activities, maxTaskQueueActivitiesPerSecond: 50 });
  return { run: (fn) => main.runUntil(erp.runUntil(fn)) };
}

/**
 * The shared setup of the engagement tests: a time-skipping server, the vendor sandboxes
 * (NetSuite and Avalara unless named) and an in-memory database for the file; `use` receives them.
 */
export function useEngagementEnv(use: (c: { env: TestWorkflowEnvironment; sb: TestSandbox; db: DbHandle }) => void, vendors: readonly SandboxVendor[] = [NETSUITE_VENDOR, AVALARA_VENDOR]): void {
  let env: TestWorkflowEnvironment | undefined;
  let sb: TestSandbox | undefined;
  let db: DbHandle | undefined;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
    sb = await startTestSandbox({ vendors });
    db = await openDb({ dataDir: 'memory://' });
    use({ env, sb, db });
  }, 120_000);
  afterAll(async () => {
    await env?.teardown();
    await sb?.close();
    await db?.close();
  });
}

/** Moves the test server's clock forward to `iso` (no-op when it is already later). */
export async function skipTo(env: TestWorkflowEnvironment, iso: string): Promise<void> {
  const ms = Date.parse(iso) - (await env.currentTimeMs());
  if (ms > 0) await env.sleep(ms);
}

/** The advisory quote line: T&M at RC-STD, $150.00/h, capped at `hours` x $150.00. */
export const advisoryQuoteLine = (hours = 100) => ({ id: 'QL-1', servicePackage: 'ADVISORY_TM', description: 'Advisory', quantity: hours, unit: 'HOUR' as const, listPrice: usd(15_000), netPrice: usd(15_000), discountBp: 0, approvalStatus: 'APPROVED' as const, externalIds: {} });

/** Approved time of consultant r-us on a line's first task, as the Kantata relay delivers it. */
export const approvedTime =
  (projectId: string, lineId: string) =>
  (id: string, workDate: string, minutes: number): DeliveryItem => ({
    kind: 'timeEntry', sourceId: id, projectId, taskId: `${lineId}-T1`, resourceId: 'r-us', role: 'consultant', workDate, minutes, billable: true, approvedAt: `${workDate}T20:00:00Z`,
  });

/**
 * What part 1 of a deal left in NetSuite for the delivery tests: the customer (LE-US) and contract v1 as
 * the sales order, under the key the workflow posts later versions with.
 */
export async function erpDealRecords(erp: NetSuiteAdapter, opportunityId: string, contract: Contract, customerKey: string) {
  const usEntity = catalog.legalEntities.find((e) => e.id === 'LE-US')!;
  const erpCustomer = await erp.upsertCustomer({ customer, legalEntity: usEntity, idempotencyKey: customerKey });
  const so = await erp.postContract({ contract, erpCustomerId: erpCustomer.id, legalEntity: usEntity, idempotencyKey: `${opportunityId}:erp-contract`, tranId: `SO-${opportunityId}` });
  return { usEntity, erpCustomer, so };
}
