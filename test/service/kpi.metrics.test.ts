import type { DbHandle } from '../../src/db';
import { createMetrics } from '../../src/service/metrics';
import { LISTED } from './support/deals';
import { NOW, openTestDb, startHarness, type Harness } from './support/harness';

/** The lines of one metric family (HELP, TYPE, samples) from an exposition. */
const family = (body: string, name: string) => {
  const sample = new RegExp(`^${name}(_bucket|_sum|_count)?[{ ]`);
  return body.split('\n').filter((l) => l.startsWith(`# HELP ${name} `) || l.startsWith(`# TYPE ${name} `) || sample.test(l));
};

const DEAL_GAUGES = (counts: Record<string, number>, needing: number, refreshedAt: Date) => [
  '# HELP q2c_deals_open Open (running) deal workflows by DealStage, from the workflow visibility store',
  '# TYPE q2c_deals_open gauge',
  ...['QUOTE_ACCEPTED', 'CUSTOMER_VALIDATED', 'CONTRACT_OUT_FOR_SIGNATURE', 'CONTRACT_SIGNED', 'PROJECT_PROVISIONED', 'ERP_CONTRACT_POSTED', 'BILLING_SCHEDULED', 'IN_DELIVERY', 'NEEDS_ATTENTION', ...Object.keys(counts).filter((s) => s === 'UNSET')].map(
    (stage) => `q2c_deals_open{stage="${stage}"} ${counts[stage] ?? 0}`,
  ),
  '# HELP q2c_deals_needing_attention Open deal workflows with NeedsAttention = true',
  '# TYPE q2c_deals_needing_attention gauge',
  `q2c_deals_needing_attention ${needing}`,
  '# HELP q2c_deal_kpis_refreshed_timestamp_seconds When the deal gauges were last computed from the visibility store (Unix seconds)',
  '# TYPE q2c_deal_kpis_refreshed_timestamp_seconds gauge',
  `q2c_deal_kpis_refreshed_timestamp_seconds ${refreshedAt.getTime() / 1000}`,
];

describe('business KPIs on /metrics', () => {
  let database: DbHandle;
  let h: Harness;
  let now: Date;
  const scrape = async () => {
    const res = await h.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    return res.body;
  };
  const dealGauges = (body: string) => [
    ...family(body, 'q2c_deals_open'),
    ...family(body, 'q2c_deals_needing_attention'),
    ...family(body, 'q2c_deal_kpis_refreshed_timestamp_seconds'),
  ];
  const at = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);

  beforeAll(async () => {
    database = await openTestDb();
  });
  afterAll(() => database.close());
  beforeEach(async () => {
    now = NOW;
    h = await startHarness(database, { deps: { clock: () => now, kpiRefreshSeconds: 30 } });
    h.gateway.listed = LISTED;
  });
  afterEach(() => h.close());

  it('exposes open deals per stage and deals needing attention, computed from the deal list', async () => {
    const body = await scrape();
    // LISTED: IN_DELIVERY, NEEDS_ATTENTION (needs attention), CLOSED (completed: not open), no stage yet.
    expect(dealGauges(body).join('\n')).toBe(`# HELP q2c_deals_open Open (running) deal workflows by DealStage, from the workflow visibility store
# TYPE q2c_deals_open gauge
q2c_deals_open{stage="QUOTE_ACCEPTED"} 0
q2c_deals_open{stage="CUSTOMER_VALIDATED"} 0
q2c_deals_open{stage="CONTRACT_OUT_FOR_SIGNATURE"} 0
q2c_deals_open{stage="CONTRACT_SIGNED"} 0
q2c_deals_open{stage="PROJECT_PROVISIONED"} 0
q2c_deals_open{stage="ERP_CONTRACT_POSTED"} 0
q2c_deals_open{stage="BILLING_SCHEDULED"} 0
q2c_deals_open{stage="IN_DELIVERY"} 1
q2c_deals_open{stage="NEEDS_ATTENTION"} 1
q2c_deals_open{stage="UNSET"} 1
# HELP q2c_deals_needing_attention Open deal workflows with NeedsAttention = true
# TYPE q2c_deals_needing_attention gauge
q2c_deals_needing_attention 1
# HELP q2c_deal_kpis_refreshed_timestamp_seconds When the deal gauges were last computed from the visibility store (Unix seconds)
# TYPE q2c_deal_kpis_refreshed_timestamp_seconds gauge
q2c_deal_kpis_refreshed_timestamp_seconds 1743422400`);
    expect(family(body, 'q2c_deal_kpi_refresh_failures_total')).toEqual([
      '# HELP q2c_deal_kpi_refresh_failures_total Deal listings for the KPI gauges that failed (the gauges keep their last values)',
      '# TYPE q2c_deal_kpi_refresh_failures_total counter',
      'q2c_deal_kpi_refresh_failures_total 0',
    ]);
    expect(h.gateway.listQueries).toEqual([{ openOnly: true }]);
  });

  it('lists deals at most once per interval, however often it is scraped; a failure keeps the last values', async () => {
    await Promise.all([scrape(), scrape(), scrape()]);
    now = at(29);
    h.gateway.listed = [...LISTED, { ...LISTED[1]!, workflowId: 'deal-X', opportunityId: 'X' }];
    expect(dealGauges(await scrape())).toEqual(DEAL_GAUGES({ IN_DELIVERY: 1, NEEDS_ATTENTION: 1, UNSET: 1 }, 1, NOW));
    expect(h.gateway.listQueries).toHaveLength(1);

    now = at(30);
    expect(dealGauges(await scrape())).toEqual(DEAL_GAUGES({ IN_DELIVERY: 1, NEEDS_ATTENTION: 2, UNSET: 1 }, 2, at(30)));
    expect(h.gateway.listQueries).toHaveLength(2);

    now = at(60);
    h.gateway.listFailures.push(new Error('14 UNAVAILABLE: connection refused'));
    const failed = await scrape();
    expect(dealGauges(failed)).toEqual(DEAL_GAUGES({ IN_DELIVERY: 1, NEEDS_ATTENTION: 2, UNSET: 1 }, 2, at(30)));
    expect(failed.split('\n')).toContain('q2c_deal_kpi_refresh_failures_total 1');
    expect(h.logs.some((l) => l.includes('metrics: could not list deals') && l.includes('connection refused'))).toBe(true);
    now = at(75);
    await scrape();
    expect(h.gateway.listQueries).toHaveLength(3); // no retry inside the interval
  });

  it('records transitions, exceptions and invoice latency through metrics.kpis, on the same /metrics', async () => {
    await h.close();
    const metrics = createMetrics();
    h = await startHarness(database, { deps: { metrics, kpiRefreshSeconds: 0 } });
    metrics.kpis.recordDealTransition('PROJECT_PROVISIONED', 2.5 * 24 * 3600 * 1000); // 2.5 days
    metrics.kpis.recordDealTransition('PROJECT_PROVISIONED', 20 * 3600 * 1000); // 20 hours
    metrics.kpis.recordDealException('ERP.CUSTOMER_INVALID');
    metrics.kpis.recordInvoicePosted(90 * 60 * 1000); // 90 minutes
    const body = await scrape();
    expect(family(body, 'q2c_deal_stage_reached_seconds').filter((l) => !l.startsWith('#'))).toEqual([
      'q2c_deal_stage_reached_seconds_bucket{le="3600",stage="PROJECT_PROVISIONED"} 0',
      'q2c_deal_stage_reached_seconds_bucket{le="14400",stage="PROJECT_PROVISIONED"} 0',
      'q2c_deal_stage_reached_seconds_bucket{le="43200",stage="PROJECT_PROVISIONED"} 0',
      'q2c_deal_stage_reached_seconds_bucket{le="86400",stage="PROJECT_PROVISIONED"} 1',
      'q2c_deal_stage_reached_seconds_bucket{le="172800",stage="PROJECT_PROVISIONED"} 1',
      'q2c_deal_stage_reached_seconds_bucket{le="259200",stage="PROJECT_PROVISIONED"} 2',
      'q2c_deal_stage_reached_seconds_bucket{le="604800",stage="PROJECT_PROVISIONED"} 2',
      'q2c_deal_stage_reached_seconds_bucket{le="1209600",stage="PROJECT_PROVISIONED"} 2',
      'q2c_deal_stage_reached_seconds_bucket{le="2592000",stage="PROJECT_PROVISIONED"} 2',
      'q2c_deal_stage_reached_seconds_bucket{le="5184000",stage="PROJECT_PROVISIONED"} 2',
      'q2c_deal_stage_reached_seconds_bucket{le="7776000",stage="PROJECT_PROVISIONED"} 2',
      'q2c_deal_stage_reached_seconds_bucket{le="+Inf",stage="PROJECT_PROVISIONED"} 2',
      'q2c_deal_stage_reached_seconds_sum{stage="PROJECT_PROVISIONED"} 288000', // 216000 + 72000
      'q2c_deal_stage_reached_seconds_count{stage="PROJECT_PROVISIONED"} 2',
    ]);
    const lines = body.split('\n');
    expect(lines).toContain('q2c_deal_exceptions_total{code="ERP.CUSTOMER_INVALID"} 1');
    expect(lines).toContain('q2c_invoice_latency_seconds_bucket{le="3600"} 0');
    expect(lines).toContain('q2c_invoice_latency_seconds_bucket{le="14400"} 1');
    expect(lines).toContain('q2c_invoice_latency_seconds_sum 5400');
    // kpiRefreshSeconds: 0 -> no listing at all.
    expect(h.gateway.listQueries).toEqual([]);
    expect(family(body, 'q2c_deals_open').filter((l) => !l.startsWith('#'))).toEqual([]);
  });
});
