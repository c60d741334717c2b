import { toDecimalString } from '../../canonical/money-math';
import type { DealView, DeliveryView } from '../../contract';

// The KPIs over time, derived from the deals' own state (visibility + queries): no second store.
// Pure. Months are UTC calendar months of the instant or business date named.

export interface KpiDeal {
  opportunityId: string;
  view: DealView;
  delivery?: DeliveryView;
}

export interface KpiSeries {
  id: string;
  title: string;
  unit: string;
  /** What the numbers are, in a sentence. */
  definition: string;
  months: string[];
  /** One dataset per label (a currency for money), aligned with `months`; null where nothing happened. */
  datasets: Array<{ label: string; values: Array<number | null> }>;
}

const DAY_MS = 86_400_000;
const month = (isoDateOrInstant: string) => isoDateOrInstant.slice(0, 7);
const days = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / DAY_MS;
const round1 = (n: number) => Math.round(n * 10) / 10;

/** Collects values per (label, month), then reduces them (average, sum ...). */
function series(id: string, title: string, unit: string, definition: string, points: Array<{ label: string; month: string; value: number }>, reduce: (v: number[]) => number): KpiSeries {
  const months = [...new Set(points.map((p) => p.month))].sort();
  const labels = [...new Set(points.map((p) => p.label))].sort();
  return {
    id,
    title,
    unit,
    definition,
    months,
    datasets: labels.map((label) => ({
      label,
      values: months.map((m) => {
        const v = points.filter((p) => p.label === label && p.month === m).map((p) => p.value);
        return v.length ? round1(reduce(v)) : null;
      }),
    })),
  };
}

const avg = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);

export function kpiSeries(deals: readonly KpiDeal[]): KpiSeries[] {
  const started = deals.filter((d) => d.view.timeline.length > 0);
  const cycle = started.flatMap((d) => {
    const start = d.view.timeline[0]!.at;
    const project = d.view.timeline.find((t) => t.stage === 'PROJECT_PROVISIONED');
    return project ? [{ label: 'days', month: month(start), value: days(start, project.at) }] : [];
  });
  const invoices = deals.flatMap((d) => (d.delivery?.invoices ?? []).map((i) => ({ d, i })));
  const latency = invoices.filter(({ i }) => i.status !== 'AWAITING_APPROVAL' && i.status !== 'REJECTED').map(({ i }) => ({ label: 'days', month: month(i.issueDate), value: Math.max(0, days(i.period.end, i.issueDate)) }));
  const backlog = invoices.filter(({ i }) => i.status === 'AWAITING_APPROVAL').map(({ d, i }) => ({ label: d.delivery!.currency, month: month(i.issueDate), value: i.totalMinor }));
  const exceptionRate = started.map((d) => ({ label: '%', month: month(d.view.timeline[0]!.at), value: d.view.timeline.some((t) => t.stage === 'NEEDS_ATTENTION') ? 100 : 0 }));
  const toPay = invoices.flatMap(({ i }) => (i.paidOn ? [{ label: 'days', month: month(i.paidOn), value: Math.max(0, days(i.issueDate, i.paidOn)) }] : []));
  const leakage = deals.flatMap((d) => {
    const s = d.delivery?.summary;
    return s ? [{ label: s.currency, month: month(s.closedOn), value: s.leakage.totalMinor }] : [];
  });
  return [
    series('cycle', 'Quote-to-project cycle time', 'days', 'Average days from closed-won to the PSA project, by the month the deal started.', cycle, avg),
    series('latency', 'Invoice latency', 'days', 'Average days from the end of the billed period to the invoice date, by invoice month.', latency, avg),
    inMajorUnits(series('backlog', 'Billing backlog', 'amount', 'Invoices held at the approval threshold now, by the month they were raised, per currency.', backlog, sum)),
    series('exceptions', 'Exception rate', '%', 'Share of deals that parked in NEEDS_ATTENTION at least once, by the month they started.', exceptionRate, avg),
    series('toPay', 'Days to pay', 'days', 'Average days from the invoice date to the business date payments settled it in full, by the month it was paid.', toPay, avg),
    inMajorUnits(series('leakage', 'Revenue leakage', 'amount', "Closed deals' leakage (capped, excluded, rejected, written off, credited) by the month they closed, per currency.", leakage, sum)),
  ];
}

/** Money series are summed in minor units, then shown in the currency's own unit (its exponent: JPY 0, USD 2, KWD 3). */
function inMajorUnits(s: KpiSeries): KpiSeries {
  return { ...s, datasets: s.datasets.map((d) => ({ label: d.label, values: d.values.map((v) => (v === null ? null : Number(toDecimalString({ amountMinor: v, currency: d.label })))) })) };
}
