import type { DealView, DeliveryView, InvoiceSummary } from '../../src/contract';
import { billingQueue } from '../../src/service/console/billing';
import { dealAmounts, dealTimeline, funnel, totalsByCurrency } from '../../src/service/console/deals';
import { renderDealsPage } from '../../src/service/console/deals.page';
import { groupExceptions, parkedItems } from '../../src/service/console/exceptions';
import { kpiSeries } from '../../src/service/console/kpis';
import { renderKpisPage } from '../../src/service/console/kpis.page';
import type { Chrome } from '../../src/service/console/layout';

const chrome: Chrome = { operator: { name: 'ops', scopes: ['operate'] }, csrfToken: 'tok' };
const ui = { baseUrl: 'http://localhost:8233', namespace: 'default' };

const invoice = (over: Partial<InvoiceSummary>): InvoiceSummary => ({
  id: 'i', number: 'INV', invoiceKey: 'k', issueDate: '2026-02-03', dueDate: '2026-03-05', period: { start: '2026-01-01', end: '2026-01-31' },
  subtotalMinor: 0, taxMinor: 0, totalMinor: 0, paidMinor: 0, refundedMinor: 0, writtenOffMinor: 0, status: 'POSTED', system: 'erp', lines: [], ...over,
});
const delivery = (currency: string, invoices: InvoiceSummary[], over: Partial<DeliveryView> = {}): DeliveryView => ({
  asOf: '2026-03-10', currency, totals: { BILLABLE: 0, DEFERRED: 0, CAPPED: 0, EXCLUDED: 0, delivered: 0 }, pending: { time: 0, expenses: 0, milestones: 0 },
  invoices, held: [], excluded: [], attention: [], recognisedByLine: {}, recognisedMinor: 0, recognisedByMonth: {}, revenuePostedThrough: null, intercompanyMinor: 0, unappliedMinor: 0, runs: 1, continuedAsNew: 0, ...over,
});
const view = (over: Partial<DealView>): DealView => ({ opportunityId: 'OPP-1', stage: 'IN_DELIVERY', ids: {}, exceptions: [], timeline: [], ...over });

describe('console aggregation (pure)', () => {
  it('counts deals per stage, every stage listed', () => {
    const f = funnel([{ stage: 'IN_DELIVERY' }, { stage: 'IN_DELIVERY' }, { stage: 'NEEDS_ATTENTION' }, {}]);
    expect(f.find((s) => s.stage === 'IN_DELIVERY')!.count).toBe(2);
    expect(f.find((s) => s.stage === 'NEEDS_ATTENTION')!.count).toBe(1);
    expect(f.find((s) => s.stage === 'CLOSED')!.count).toBe(0);
    expect(f).toHaveLength(11);
  });

  it("a deal's amounts: issued only, collected net of refunds, open balances after write-offs and credits", () => {
    const d = delivery('USD', [
      invoice({ totalMinor: 1_633_125, paidMinor: 1_633_125, status: 'PAID' }), // 16,331.25 paid
      invoice({ totalMinor: 1_000_000, paidMinor: 400_000, refundedMinor: 50_000, status: 'PARTIALLY_PAID' }), // open 10,000 - 4,000 + 500 = 6,500.00
      invoice({ totalMinor: 200_000, writtenOffMinor: 50_000, creditedMinor: 30_000, status: 'POSTED' }), // open 2,000 - 500 - 300 = 1,200.00
      invoice({ totalMinor: 999_999, status: 'AWAITING_APPROVAL' }),
      invoice({ totalMinor: 777_777, status: 'REJECTED' }),
    ], { recognisedMinor: 2_000_000 });
    expect(dealAmounts(d, { contractValueMinor: 12_000_000 })).toEqual({
      currency: 'USD',
      contractValueMinor: 12_000_000,
      invoicedMinor: 1_633_125 + 1_000_000 + 200_000, // 28,331.25
      collectedMinor: 1_633_125 + 400_000 - 50_000, // 19,831.25
      outstandingMinor: 650_000 + 120_000, // 7,700.00
      awaitingApprovalMinor: 999_999,
      recognisedMinor: 2_000_000,
    });
    const totals = totalsByCurrency([dealAmounts(d), dealAmounts(delivery('EUR', [invoice({ totalMinor: 500 })])), dealAmounts(delivery('USD', [invoice({ totalMinor: 100 })]))]);
    expect(totals.get('USD')!.invoicedMinor).toBe(2_833_125 + 100);
    expect(totals.get('EUR')!.outstandingMinor).toBe(500);
  });

  it('groups parked items by code and system with counts, attempts and first/last seen; old exceptions get defaults', () => {
    const a = parkedItems('A', view({ exceptions: [{ id: 1, step: 'syncCustomerMaster', code: 'ERP.CUSTOMER_INVALID', message: 'x', raisedAt: '2026-01-02T00:00:00Z', allowed: ['retry'], system: 'erp', attempts: 3, firstSeenAt: '2026-01-01T00:00:00Z', lastSeenAt: '2026-01-02T00:00:00Z', notes: [] }] }));
    // Raised before the new fields: system from the code's namespace, one attempt, seen when raised.
    const b = parkedItems('B', view({ exceptions: [{ id: 1, step: 'postErpContract', code: 'ERP.CUSTOMER_INVALID', message: 'y', raisedAt: '2026-01-05T00:00:00Z', allowed: ['retry'] }] }));
    const c = parkedItems('C', view({}), delivery('USD', [], { attention: [{ id: 'OVERDUE:i', kind: 'OVERDUE', invoiceId: 'i', message: 'overdue', raisedOn: '2026-03-01' }] }));
    expect(b[0]).toMatchObject({ system: 'erp', attempts: 1, firstSeenAt: '2026-01-05T00:00:00Z', notes: [] });
    expect(c[0]).toMatchObject({ kind: 'delivery', code: 'DELIVERY.OVERDUE', system: 'payments', allowed: ['promise-to-pay', 'write-off'], invoiceId: 'i' });
    const groups = groupExceptions([...b, ...a, ...c]);
    expect(groups.map((g) => [g.code, g.system, g.count, g.deals, g.attempts, g.firstSeenAt, g.lastSeenAt])).toEqual([
      ['DELIVERY.OVERDUE', 'payments', 1, 1, 1, '2026-03-01', '2026-03-01'],
      ['ERP.CUSTOMER_INVALID', 'erp', 2, 2, 4, '2026-01-01T00:00:00Z', '2026-01-05T00:00:00Z'],
    ]);
    expect(groups[1]!.items.map((i) => i.opportunityId)).toEqual(['A', 'B']);
  });

  it('a stalled invoice is parked under the system of the step it is held in, with nothing to do but wait or look at the vendor', () => {
    const stalled = (step: 'TAX' | 'POST' | 'RECORD') => ({ id: `ISSUE_STALLED:${step}`, kind: 'ISSUE_STALLED' as const, invoiceId: step, issueStep: step, message: `held in ${step}`, raisedOn: '2026-03-01' });
    const items = parkedItems('S', view({}), delivery('USD', [], { attention: [stalled('TAX'), stalled('POST'), stalled('RECORD')] }));
    expect(items.map((i) => [i.code, i.system, i.message, i.invoiceId, i.allowed])).toEqual([
      ['DELIVERY.ISSUE_STALLED', 'tax', 'held in TAX', 'TAX', []],
      ['DELIVERY.ISSUE_STALLED', 'erp', 'held in POST', 'POST', []],
      ['DELIVERY.ISSUE_STALLED', 'crm', 'held in RECORD', 'RECORD', []],
    ]);
  });

  it('billing queue: held invoices and open issued ones, totals per currency', () => {
    const q = billingQueue([
      { opportunityId: 'A', delivery: delivery('USD', [invoice({ number: 'H1', totalMinor: 1_633_125, status: 'AWAITING_APPROVAL' }), invoice({ number: 'P1', totalMinor: 100_000, paidMinor: 40_000, status: 'PARTIALLY_PAID' }), invoice({ number: 'X', totalMinor: 5, paidMinor: 5, status: 'PAID' })]) },
      { opportunityId: 'B', delivery: delivery('EUR', [invoice({ number: 'H2', totalMinor: 250_050, status: 'AWAITING_APPROVAL' })]) },
    ]);
    expect(q.held.map((i) => i.invoice.number)).toEqual(['H1', 'H2']);
    expect(q.unpaid.map((i) => [i.invoice.number, i.amountMinor])).toEqual([['P1', 60_000]]);
    expect(Object.fromEntries(q.heldByCurrency)).toEqual({ USD: 1_633_125, EUR: 250_050 });
  });

  it('a timeline in date order: stages, invoices with what is paid, revenue months', () => {
    const t = dealTimeline(
      view({ timeline: [{ at: '2026-01-15T09:00:00.000Z', stage: 'QUOTE_ACCEPTED' }, { at: '2026-01-20T10:00:00.000Z', stage: 'PROJECT_PROVISIONED' }] }),
      delivery('USD', [invoice({ number: 'INV-9', issueDate: '2026-02-03', totalMinor: 100, paidMinor: 100, status: 'PAID', paidOn: '2026-03-05' })], { recognisedByMonth: { '2026-01': 100 } }),
    );
    expect(t.map((e) => [e.at.slice(0, 10), e.kind])).toEqual([['2026-01-15', 'stage'], ['2026-01-20', 'stage'], ['2026-01-31', 'revenue'], ['2026-02-03', 'invoice'], ['2026-03-05', 'payment']]);
    expect(t[4]).toMatchObject({ text: 'invoice INV-9 paid in full, 30 days after it was issued', amountMinor: 100 }); // Feb 3 -> Mar 5
    expect(t[3]).toMatchObject({ amountMinor: 100, paidMinor: 100 });
  });

  it('KPI series by month from the deals themselves', () => {
    const deals = [
      {
        opportunityId: 'A',
        view: view({ timeline: [{ at: '2026-01-01T00:00:00Z', stage: 'QUOTE_ACCEPTED' }, { at: '2026-01-03T00:00:00Z', stage: 'PROJECT_PROVISIONED' }] }),
        delivery: delivery('USD', [
          invoice({ issueDate: '2026-02-03', paidOn: '2026-03-05', status: 'PAID' }),
          invoice({ issueDate: '2026-02-10', paidOn: '2026-03-02', status: 'PAID' }),
          invoice({ issueDate: '2026-02-20' }), // not paid: no point
        ]),
      },
      { opportunityId: 'B', view: view({ timeline: [{ at: '2026-01-10T00:00:00Z', stage: 'QUOTE_ACCEPTED' }, { at: '2026-01-11T00:00:00Z', stage: 'NEEDS_ATTENTION' }, { at: '2026-01-14T00:00:00Z', stage: 'PROJECT_PROVISIONED' }] }) },
    ];
    const s = Object.fromEntries(kpiSeries(deals).map((x) => [x.id, x]));
    expect(s.cycle!.months).toEqual(['2026-01']);
    expect(s.cycle!.datasets[0]!.values).toEqual([3]); // (2 + 4) / 2 days
    expect(s.exceptions!.datasets[0]!.values).toEqual([50]);
    // Each period ends 2026-01-31; issued Feb 3, 10 and 20: (3 + 10 + 20) / 3 = 11 days.
    expect(s.latency).toMatchObject({ months: ['2026-02'], datasets: [{ label: 'days', values: [11] }] });
    // Days to pay by the month paid: (30 + 20) / 2 = 25 days in March (Feb 3 -> Mar 5 = 30, Feb 10 -> Mar 2 = 20).
    expect(s.toPay).toMatchObject({ months: ['2026-03'], datasets: [{ label: 'days', values: [25] }] });
    // Held money summed in minor units, shown in each currency's unit: USD 1,633,125 + 1 minor = 16,331.26; JPY 5,000.
    const held = kpiSeries([
      { opportunityId: 'U', view: view({}), delivery: delivery('USD', [invoice({ totalMinor: 1_633_125, status: 'AWAITING_APPROVAL' }), invoice({ totalMinor: 1, status: 'AWAITING_APPROVAL' })]) },
      { opportunityId: 'J', view: view({}), delivery: delivery('JPY', [invoice({ totalMinor: 5_000, status: 'AWAITING_APPROVAL' })]) },
    ]).find((x) => x.id === 'backlog')!;
    expect(held.datasets).toEqual([{ label: 'JPY', values: [5000] }, { label: 'USD', values: [16331.26] }]);
  });
});

describe('console rendering (pure)', () => {
  it('escapes every value and loads only same-origin scripts, none inline', () => {
    const html = renderDealsPage({
      chrome,
      rows: [{ summary: { workflowId: 'deal-x', runId: 'r', opportunityId: 'x', status: 'RUNNING', stage: 'IN_DELIVERY', customerId: '<script>alert(1)</script>', needsAttention: false, startedAt: '2026-01-01T00:00:00Z' } }],
      funnel: funnel([]),
      totals: new Map(),
      ui,
    });
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>alert');
    const kpis = renderKpisPage({ chrome, series: kpiSeries([]), deals: 0 });
    expect(kpis.match(/<script[^>]*>/g)).toEqual(['<script src="/console/assets/chart.umd.min.js" defer>', '<script src="/console/assets/console.js" defer>']);
    expect(kpis).not.toMatch(/<script[^>]*>[^<]/);
  });
});
