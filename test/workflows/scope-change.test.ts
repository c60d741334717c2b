import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { z } from 'zod';
import { createBillingActivities } from '../../src/activities/billing.activities';
import { createCreditActivities } from '../../src/activities/credit.activities';
import { createDealActivities } from '../../src/activities/deal.activities';
import { projectFromContract } from '../../src/activities/deal/mapping';
import type { Connectors } from '../../src/connectors';
import { bearerTokenAuth, staticSecret } from '../../src/connectors/http';
import { createKantataHttp, KantataPsaAdapter } from '../../src/connectors/psa/kantata.adapter';
import { refOf } from '../../src/connectors/psa/kantata.mapper';
import { amendContractUpdate, deliveryBatchSignal, getDeliveryStateQuery, paymentSignal, type AmendContractRequest } from '../../src/contract';
import type { DbHandle } from '../../src/db';
import { RuleSet } from '../../src/rules/ruleset';
import defaultRuleSet from '../../src/rules/rulesets/default.json';
import { AVALARA_VENDOR } from '../../src/sandbox/avalara/avalara.sandbox';
import { SANDBOX_KANTATA_TOKENS } from '../../src/sandbox/credentials';
import { kantataVendor } from '../../src/sandbox/kantata/kantata.sandbox';
import { NETSUITE_VENDOR } from '../../src/sandbox/netsuite/netsuite.sandbox';
import { ERP_TASK_QUEUE } from '../../src/workflows/invoice-run.workflow';
import { DELIVERY_HISTORIES_DIR, maybeRecordHistory } from '../support/histories';
import { testLogger } from '../support/logger';
import type { TestSandbox } from '../support/sandbox';
import { kpiSinks } from '../../src/worker';
import { engagementTestWorkflow } from './engagement.workflows';
import { avalara, catalog, customer, engagementBundle, netsuite, recordingPorts, skipTo, snapshotFor, usd, useEngagementEnv } from './engagement.support';

/*
 * A change order adding a fixed-fee milestone line while the deal is in delivery, on the time-skipping server with
 * the Kantata, NetSuite and AvaTax sandboxes (test/engagement/scope.test.ts is the same on the core). 2030, LE-US
 * (America/New_York), customer in New York, SERVICES taxed 8.875 % in US-NY (AvaTax sandbox, per line, half away
 * from zero):
 *   L1 ADVISORY_TM T&M at RC-STD, not-to-exceed $15,000.00; project provisioned in Kantata, sales order v1 in NetSuite.
 * Feb 10, change order v1 -> v2: L2 "Data migration", $20,000.00 fixed fee, milestones 30 % / 70 %, on acceptance.
 *   L2-M1 = 2,000,000 x 3,000 / 10,000 = 600,000 ($6,000.00); tax 600,000 x 8.875 % = 53,250; total 653,250.
 */
const OPP = 'OPP-SCOPE-WF';
const C = `CTR-${OPP}`;
const L1 = `${C}-L1`;
const L2 = `${C}-L2`;
const DEAL = `deal-${OPP}`;
const TQ = 'scope-change';

const StoryRow = z.looseObject({ id: z.string(), title: z.string(), story_type: z.string(), description: z.string(), parent_id: z.string().nullable(), workspace_id: z.string(), archived: z.boolean().optional() });

describe('a change order adding a milestone line in delivery', () => {
  let env: TestWorkflowEnvironment;
  let sb: TestSandbox;
  let db: DbHandle;
  useEngagementEnv((c) => ({ env, sb, db } = c), [NETSUITE_VENDOR, AVALARA_VENDOR, kantataVendor]);

  it('puts the new milestones and task on the same Kantata project, the sales order at v2, and invoices the accepted milestone in NetSuite', async () => {
    const erp = netsuite(sb.url);
    const kantataHttp = createKantataHttp({ baseUrl: `${sb.url}/kantata/api/v1`, auth: bearerTokenAuth(staticSecret(SANDBOX_KANTATA_TOKENS[0])), timeoutMs: 10_000 });
    const psa = new KantataPsaAdapter(kantataHttp);
    const ports = recordingPorts();
    const usEntity = catalog.legalEntities.find((e) => e.id === 'LE-US')!;
    const erpCustomer = await erp.upsertCustomer({ customer, legalEntity: usEntity, idempotencyKey: 'CUS-SCOPE' });
    const snapshot = snapshotFor(OPP, [{ id: 'QL-1', servicePackage: 'ADVISORY_TM', description: 'Advisory', quantity: 100, unit: 'HOUR', listPrice: usd(15_000), netPrice: usd(15_000), discountBp: 0, approvalStatus: 'APPROVED', externalIds: {} }], '2030-01-01');
    // Part 1 of the deal: the project in Kantata, contract v1 as the sales order (the keys the workflow uses).
    const project = projectFromContract({ contract: snapshot.contract, quote: snapshot.quote, catalog, customer });
    const ws = await psa.createProject({ project, currency: 'USD', idempotencyKey: `${DEAL}:project`, rateCardId: 'RC-STD' });
    const soKey = `${OPP}:erp-contract`;
    const so = await erp.postContract({ contract: snapshot.contract, erpCustomerId: erpCustomer.id, legalEntity: usEntity, idempotencyKey: soKey, tranId: `SO-${OPP}` });
    const stories = async () => (await sb.store.list<Record<string, unknown>>('kantata', 'stories', {})).items.map((r) => StoryRow.parse(r.data)).filter((s) => s.workspace_id === ws.id);
    const storiesBefore = (await stories()).length;
    expect(storiesBefore).toBe(3); // L1's ADVISE phase with its two tasks
    const ruleSet = RuleSet.parse(defaultRuleSet);
    const connectors = { erp, tax: avalara(sb.url), crm: ports.crm, psa, billing: ports.billing };
    const activities = {
      ...createBillingActivities({ db: db.db, logger: testLogger, catalog, ruleSets: () => ruleSet, connectors, resources: { 'r-us': { legalEntityId: 'LE-US', region: 'US' } } }),
      ...createCreditActivities({ db: db.db, logger: testLogger, connectors }),
      postErpContract: createDealActivities({ db: db.db, logger: testLogger, catalog, connectors: connectors as unknown as Connectors }).postErpContract,
    };
    const main = await Worker.create({ connection: env.nativeConnection, taskQueue: TQ, workflowBundle: await engagementBundle(), activities, sinks: kpiSinks() });
    const erpWorker = await Worker.create({ connection: env.nativeConnection, taskQueue: ERP_TASK_QUEUE, activities, maxTaskQueueActivitiesPerSecond: 50 });

    await main.runUntil(
      erpWorker.runUntil(async () => {
        await skipTo(env, '2030-01-02T14:00:00Z');
        const handle = await env.client.workflow.start(engagementTestWorkflow, {
          taskQueue: TQ,
          workflowId: DEAL,
          args: [{ opportunityId: OPP, snapshot, view: { opportunityId: OPP, stage: 'IN_DELIVERY', ids: { erpCustomerId: erpCustomer.id, erpContractId: so.id, projectId: ws.id }, exceptions: [], timeline: [] }, options: { overdueGraceDays: 60 } }],
        });
        const state = () => handle.query(getDeliveryStateQuery);
        const amend = (req: AmendContractRequest) => handle.executeUpdate(amendContractUpdate, { args: [req] });

        // Feb 10: the change order, through the amendContract update (what POST /deals/:id/amendments runs).
        await skipTo(env, '2030-02-10T15:00:00Z');
        const order: AmendContractRequest = {
          requestId: 'co-2',
          by: 'ops@firm.example',
          baseVersion: 1,
          effectiveDate: '2030-02-10',
          reason: 'change order 2: data migration',
          changes: [
            {
              op: 'ADD_LINE',
              line: {
                description: 'Data migration', billingModel: 'FIXED_FEE_MILESTONE', taxCode: 'SERVICES', revenueTreatment: 'POINT_IN_TIME', invoiceSchedule: 'ON_MILESTONE',
                allocatedValue: usd(2_000_000), fee: usd(2_000_000),
                milestones: [{ name: 'Migration design signed off', percentBp: 3_000, dueDate: '2030-02-28' }, { name: 'Cut-over accepted', percentBp: 7_000 }],
              },
              tasks: [{ name: 'Migration work', billable: true }],
            },
          ],
        };
        const amended = await amend(order);
        expect(amended).toMatchObject({ contractVersion: 2, amendment: { id: `${C}-A2`, version: 2, addedLines: [L2], removedLines: [], erpContractId: so.id } });
        expect(await amend(order)).toEqual(amended); // the same request again: nothing applied or created twice

        // Kantata: the same workspace holds L2's phase, its two milestones (fixed fee) and its task, under the phase.
        const all = await stories();
        const byRef = new Map(all.map((s) => [refOf(s.description), s]));
        const phase = byRef.get(`${L2}-P1`)!;
        expect([phase.title, phase.story_type, phase.parent_id]).toEqual(['Data migration', 'deliverable', null]);
        expect([`${L2}-M1`, `${L2}-M2`, `${L2}-T1`].map((ref) => { const s = byRef.get(ref)!; return [s.title, s.story_type, s.parent_id]; })).toEqual([
          ['Migration design signed off', 'milestone', phase.id],
          ['Cut-over accepted', 'milestone', phase.id],
          ['Migration work', 'task', phase.id],
        ]);
        expect(all.length).toBe(storiesBefore + 4);
        expect(amended.amendment.psa!.added).toEqual({ [`${L2}-P1`]: phase.id, [`${L2}-M1`]: byRef.get(`${L2}-M1`)!.id, [`${L2}-M2`]: byRef.get(`${L2}-M2`)!.id, [`${L2}-T1`]: byRef.get(`${L2}-T1`)!.id });

        // NetSuite: the same sales order, at v2, with the new line at its allocated value.
        const sorder = (await sb.store.getByExternalId<Record<string, unknown>>('netsuite', 'salesOrder', soKey))!;
        expect(sorder.id).toBe(so.id);
        expect(sorder.data['custbody_q2c_contract_version']).toBe(2);
        expect((sorder.data['item'] as { items: Array<{ amount: number; custcol_q2c_contract_line_id: string; custcol_q2c_quote_line_id: string }> }).items.map((i) => [i.custcol_q2c_contract_line_id, i.custcol_q2c_quote_line_id, i.amount])).toEqual([
          [L1, 'QL-1', 15_000],
          [L2, `${C}-A2`, 20_000],
        ]);

        // Feb 20: the customer accepts the first migration milestone in Kantata; the relay delivers it with Kantata's story id.
        await skipTo(env, '2030-02-20T15:00:00Z');
        const m1 = byRef.get(`${L2}-M1`)!.id;
        await kantataHttp.request({ method: 'PUT', path: `/stories/${m1}.json`, json: { story: { state: 'accepted' } } });
        await handle.signal(deliveryBatchSignal, { batchId: 'kantata:m1', source: 'kantata', receivedAt: '2030-02-20T15:00:00Z', items: [{ kind: 'milestone', sourceId: m1, projectId: ws.id, status: 'accepted', at: '2030-02-20T15:00:00Z' }] });
        await skipTo(env, '2030-02-21T15:00:00Z');
        const s = await state();
        // 600,000 + 53,250 tax = 653,250 ($6,532.50), on L2, issued the day of acceptance.
        expect(s.invoices.map((i) => [i.issueDate, i.subtotalMinor, i.taxMinor, i.totalMinor, i.status, i.lines.map((l) => l.contractLineId)])).toEqual([['2030-02-20', 600_000, 53_250, 653_250, 'POSTED', [L2]]]);
        const erpInvoices = await erp.listInvoices(erpCustomer.id);
        expect(erpInvoices.map((i) => [i.tranId, i.total.amountMinor])).toEqual([[s.invoices[0]!.number, 653_250]]);

        // Paid; the deal closes at the contract's end with revenue = the 600,000 invoiced on L2 (within its 2,000,000 allocation).
        await handle.signal(paymentSignal, { eventId: 'evt-1', source: 'stripe', kind: 'invoice.paid', occurredAt: '2030-02-25T00:00:00Z', amountMinor: 653_250, currency: 'USD', invoiceNumber: s.invoices[0]!.number });
        const view = await handle.result();
        await maybeRecordHistory(handle, 'scope-change-order', DELIVERY_HISTORIES_DIR);
        expect(view.stage).toBe('CLOSED');
        const summary = (await state()).summary!;
        expect([summary.invoicedMinor, summary.collectedMinor, summary.recognisedMinor]).toEqual([653_250, 653_250, 600_000]);
        expect(summary.totals).toEqual({ BILLABLE: 600_000, DEFERRED: 0, CAPPED: 0, EXCLUDED: 0, delivered: 600_000 });
      }),
    );
  }, 300_000);
});
