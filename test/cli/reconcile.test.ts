import { Command } from 'commander';
import { entityAddress } from '../../src/activities/boundary';
import { dealAttentionRecords, pendingActivities, registerAuditCommands, reconcileDeal, type AuditCommandDeps, type DealInvoiceRecord } from '../../src/cli/audit';
import { openDb, type DbHandle } from '../../src/db';
import { AuditRepository } from '../../src/db/audit';
import type { Invoice } from '../../src/canonical';
import { AVALARA_VENDOR } from '../../src/sandbox/avalara/avalara.sandbox';
import { NETSUITE_VENDOR } from '../../src/sandbox/netsuite/netsuite.sandbox';
import { catalog, customer } from '../support/deal-fixture';
import { postedInvoice } from '../support/invoice-fixture';
import { startTestSandbox, type TestSandbox } from '../support/sandbox';
import { avalara, netsuite } from '../workflows/engagement.support';

/*
 * `q2c reconcile` names the gaps of issuing one invoice (tax commit -> ERP post -> audit record)
 * from the vendors' own records: the NetSuite and AvaTax sandboxes, the audit trail in PGlite.
 * Deal deal-OPP-REC, four invoices of $14,345.67 (the invoice fixture), bill-to New York:
 *   INV-REC-A  being issued: tax committed in AvaTax, the ERP post still retrying  -> named
 *   INV-REC-B  being issued: tax committed and posted in NetSuite, no audit links   -> named, and the
 *              deal's open ISSUE_STALLED item for it with the last failure Temporal holds -> named
 *   INV-REC-C  issued: tax, ERP and audit links all agree                           -> nothing
 *   INV-REC-D  being issued, its tax call not answered yet: no vendor holds it       -> nothing
 */
const DEAL = 'deal-OPP-REC';
const FIRST_STUCK = 'deal-OPP-REC2';
const us = catalog.legalEntities.find((e) => e.id === 'LE-US')!;

describe('q2c reconcile: the gaps between tax committed, invoice posted and audit recorded', () => {
  let sb: TestSandbox;
  let db: DbHandle;
  let deps: AuditCommandDeps;
  const taxMinor = new Map<string, number>();

  beforeAll(async () => {
    sb = await startTestSandbox({ vendors: [NETSUITE_VENDOR, AVALARA_VENDOR] });
    db = await openDb({ dataDir: 'memory://' });
    const erp = netsuite(sb.url);
    const tax = avalara(sb.url);
    const erpCustomer = await erp.upsertCustomer({ customer, legalEntity: us, idempotencyKey: 'CUS-REC' });
    const invoice = (id: string): Invoice => ({ ...postedInvoice(id), customerId: customer.id, contractingLegalEntityId: us.id });
    const commitTax = async (id: string) => {
      const inv = invoice(id);
      const doc = await tax.calculateTax({
        documentCode: id, kind: 'INVOICE', customerCode: customer.id, date: inv.issueDate, currency: 'USD', shipFrom: entityAddress(us), shipTo: customer.billTo.address,
        lines: inv.lines.map((l) => ({ lineId: l.id, amount: l.amount, taxCode: l.taxCode })), commit: true,
      });
      taxMinor.set(id, doc.totalTax.amountMinor);
    };
    // Posted as the workflow posts it: with AvaTax's tax.
    const taxed = (id: string): Invoice => ({ ...invoice(id), tax: { amountMinor: taxMinor.get(id)!, currency: 'USD' }, total: { amountMinor: 1_434_567 + taxMinor.get(id)!, currency: 'USD' } });
    const post = (id: string) => erp.postInvoice({ invoice: taxed(id), erpCustomerId: erpCustomer.id, legalEntity: us, idempotencyKey: `${DEAL}:invoice:${id}`, tranId: id });
    for (const id of ['INV-REC-A', 'INV-REC-B', 'INV-REC-C']) await commitTax(id);
    const postedB = await post('INV-REC-B');
    const postedC = await post('INV-REC-C');
    const c = invoice('INV-REC-C');
    await new AuditRepository(db.db).record(
      c.lines.map((l) => ({ dealId: DEAL, documentKind: 'invoice' as const, documentNumber: c.id, documentLineId: l.id, billingEventId: `BE-${l.id}`, sourceKind: 'TIME', sourceId: l.sourceItemIds[0]!, contractLineId: l.contractLineId, quoteLineId: l.quoteLineId, amountMinor: l.amount.amountMinor, currency: 'USD' })),
    );
    const row = (id: string, issued: boolean): DealInvoiceRecord => ({ id, number: id, totalMinor: 1_434_567 + (taxMinor.get(id) ?? 0), paidMinor: 0, status: 'POSTED', system: 'erp', issued, erpCustomerId: erpCustomer.id });
    deps = {
      db: async () => ({ db: db.db, close: async () => {} }),
      erp: () => erp,
      tax: () => tax,
      dealInvoices: async (dealId) => (dealId === DEAL ? [row('INV-REC-A', false), row('INV-REC-B', false), row('INV-REC-C', true), row('INV-REC-D', false)] : []),
      dealAttention: async (dealId) =>
        dealId === DEAL
          ? [
              { id: 'ISSUE_STALLED:INV-REC-B', kind: 'ISSUE_STALLED', invoiceId: 'INV-REC-B', message: 'invoice INV-REC-B: posted, audit not recorded (audit links and CRM/PSA write-back) after 10 minutes', lastFailure: 'DB.UNAVAILABLE: connection refused' },
              { id: 'OVERDUE:INV-REC-C', kind: 'OVERDUE', invoiceId: 'INV-REC-C', message: 'overdue' }, // not an issuing gap: the console's, not reconcile's
            ]
          : dealId === FIRST_STUCK
            ? [{ id: 'ISSUE_STALLED:INV-REC2-A', kind: 'ISSUE_STALLED', invoiceId: 'INV-REC2-A', message: 'invoice INV-REC2-A: not taxed: the tax commit (AvaTax) has not completed after 10 minutes' }]
            : [],
      // Running deals with NeedsAttention: FIRST_STUCK is held on its first invoice and has no audit links at all.
      attentionDeals: async () => [FIRST_STUCK, DEAL],
    };
    expect([postedB.tranId, postedC.tranId]).toEqual(['INV-REC-B', 'INV-REC-C']);
  }, 60_000);

  afterAll(async () => {
    await sb?.close();
    await db?.close();
  });

  it('names a tax document committed with no ERP invoice, an ERP invoice with no audit links, and the open stalled-issue item', async () => {
    const erpB = (await netsuite(sb.url).listInvoices((await deps.dealInvoices!(DEAL))[0]!.erpCustomerId!)).find((i) => i.tranId === 'INV-REC-B')!;
    expect(taxMinor.get('INV-REC-A')).toBeGreaterThan(0);
    const taxA = (taxMinor.get('INV-REC-A')! / 100).toFixed(2);
    expect(await reconcileDeal(DEAL, deps, new AuditRepository(db.db))).toEqual([
      { dealId: DEAL, invoice: 'INV-REC-A', what: `tax committed in AvaTax (document INV-REC-A, USD ${taxA} tax), no invoice in the ERP` },
      { dealId: DEAL, invoice: 'INV-REC-B', what: `in the ERP (${erpB.id}), no audit links: posted, audit not recorded` },
      { dealId: DEAL, invoice: 'INV-REC-B', what: 'open attention item ISSUE_STALLED:INV-REC-B: invoice INV-REC-B: posted, audit not recorded (audit links and CRM/PSA write-back) after 10 minutes; last failure: DB.UNAVAILABLE: connection refused' },
    ]);
  });

  it('reports an issued invoice missing from the ERP as before, and as tax committed when AvaTax has its document', async () => {
    const rows = (await deps.dealInvoices!(DEAL)).filter((r) => r.id === 'INV-REC-A' || r.id === 'INV-REC-D').map((r) => ({ ...r, issued: true }));
    const diffs = await reconcileDeal(DEAL, { ...deps, dealInvoices: async () => rows, dealAttention: async () => [] }, new AuditRepository(db.db));
    expect(diffs.map((d) => [d.invoice, d.what.replace(/USD [\d.]+ tax/, 'USD … tax')])).toEqual([
      ['INV-REC-A', 'billed by the deal but has no audit links'],
      ['INV-REC-D', 'billed by the deal but has no audit links'],
      ['INV-REC-A', 'tax committed in AvaTax (document INV-REC-A, USD … tax), no invoice in the ERP (the deal has it as posted)'],
      ['INV-REC-D', 'billed by the deal, not in the ERP'],
    ]);
  });

  it("takes a stalled invoice's last failure from the one pending issuing step Temporal describes, or says no worker took it", () => {
    const item = { id: 'ISSUE_STALLED:INV-1', kind: 'ISSUE_STALLED' as const, invoiceId: 'INV-1', message: 'invoice INV-1: tax committed, not posted to the ERP after 10 minutes', raisedOn: '2030-01-10' };
    const failing = pendingActivities({ pendingActivities: [{ activityType: { name: 'postInvoice' }, state: 1, attempt: 7, lastFailure: { message: '503', applicationFailureInfo: { type: 'HTTP.SERVER_ERROR' } } }] });
    expect(dealAttentionRecords([item], failing)).toEqual([{ id: item.id, kind: 'ISSUE_STALLED', invoiceId: 'INV-1', message: item.message, lastFailure: 'HTTP.SERVER_ERROR: 503' }]);
    // Scheduled on a queue nobody polls: never started, never failed.
    const unpolled = pendingActivities({ pendingActivities: [{ activityType: { name: 'postInvoice' }, state: 1, attempt: 1 }] });
    expect(dealAttentionRecords([item], unpolled)[0]!.lastFailure).toBe('never started: no worker has taken it from its task queue');
    // Running its first attempt: nothing known yet; another activity's failure is not the invoice's.
    expect(dealAttentionRecords([item], pendingActivities({ pendingActivities: [{ activityType: { name: 'postInvoice' }, state: 2, attempt: 1 }, { activityType: { name: 'postRevenue' }, state: 1, attempt: 3, lastFailure: { message: 'x' } }] }))[0]!.lastFailure).toBeUndefined();
  });

  it('`q2c reconcile --all` takes running deals that need attention too, prints each gap and exits 1', async () => {
    const lines: string[] = [];
    const program = new Command('q2c').exitOverride();
    registerAuditCommands(program, { ...deps, out: (l) => lines.push(l) });
    const before = process.exitCode;
    try {
      await program.parseAsync(['node', 'q2c', 'reconcile', '--all']);
      expect(process.exitCode).toBe(1);
    } finally {
      process.exitCode = before;
    }
    expect(lines.map((l) => l.split('  ').slice(0, 2).join('  '))).toEqual([`${DEAL}  INV-REC-A`, `${DEAL}  INV-REC-B`, `${DEAL}  INV-REC-B`, `${FIRST_STUCK}  INV-REC2-A`, '4 difference(s) in 2 deal(s)']);
    expect(lines[3]).toBe(`${FIRST_STUCK}  INV-REC2-A  open attention item ISSUE_STALLED:INV-REC2-A: invoice INV-REC2-A: not taxed: the tax commit (AvaTax) has not completed after 10 minutes`);
  });
});
