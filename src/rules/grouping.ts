import type { Invoice, InvoiceLine } from '../canonical';
import type { CompiledContract, CompiledLine, InvoicePeriod } from './compile';
import { addDays, dayNumber, fromDayNumber, isoWeekday, monthEnd, monthIndex, monthStart } from './dates';
import type { Decision } from './billability';

/** FNV-1a 64-bit as 16 hex digits: short, stable ids derived from invoice keys (no crypto needed). */
export const fnv1a64 = (s: string): string => {
  let h1 = 0x84222325 | 0;
  let h2 = 0xcbf29ce4 | 0;
  for (let i = 0; i < s.length; i++) {
    h1 ^= s.charCodeAt(i);
    // multiply the 64-bit value (h2:h1) by the FNV prime 0x100000001b3
    const lo = Math.imul(h1, 0x1b3);
    const carry = Math.floor(((h1 >>> 0) * 0x1b3) / 0x100000000);
    h2 = (Math.imul(h2, 0x1b3) + Math.imul(h1, 0x100) + carry) | 0;
    h1 = lo;
  }
  return (h2 >>> 0).toString(16).padStart(8, '0') + (h1 >>> 0).toString(16).padStart(8, '0');
};

/** Cache key of the invoice period an item falls in: a number for periodic schedules (cheap to hash). */
const periodCacheKey = (cc: CompiledContract, cl: CompiledLine, date: string, milestoneId: string | undefined): number | string => {
  switch (cl.line.invoiceSchedule) {
    case 'MONTHLY':
      return monthIndex(date);
    case 'WEEKLY':
      return dayNumber(date) - ((isoWeekday(date) - cc.contract.billingTerms.weekStartsOn + 7) % 7);
    case 'ON_MILESTONE':
      return milestoneId !== undefined ? `M:${milestoneId}:${date}` : date;
    default:
      return date;
  }
};

/** The invoice period an item's date falls in, per the line's schedule. */
export const invoicePeriod = (cc: CompiledContract, cl: CompiledLine, d: Pick<Decision, 'serviceDate' | 'milestoneId'>): InvoicePeriod => {
  const schedule = cl.line.invoiceSchedule;
  const date = d.serviceDate;
  const cacheKey = periodCacheKey(cc, cl, date, d.milestoneId);
  let p = cl.periodCache.get(cacheKey);
  if (p === undefined) {
    if (schedule === 'MONTHLY') {
      const mi = cacheKey as number;
      p = { start: monthStart(mi), end: monthEnd(mi), key: `MONTHLY:${monthStart(mi).slice(0, 7)}` };
    } else if (schedule === 'WEEKLY') {
      const start = fromDayNumber(cacheKey as number);
      p = { start, end: addDays(start, 6), key: `WEEKLY:${start}` };
    } else if (schedule === 'ON_MILESTONE') {
      p = { start: date, end: date, key: d.milestoneId !== undefined ? `ON_MILESTONE:${d.milestoneId}` : `ON_MILESTONE:${date}` };
    } else {
      p = { start: date, end: date, key: `IMMEDIATE:${date}` };
    }
    cl.periodCache.set(cacheKey, p);
  }
  return p;
};

/** Full invoice key of a decision. */
export const invoiceKeyOf = (cc: CompiledContract, cl: CompiledLine, d: Pick<Decision, 'serviceDate' | 'milestoneId' | 'projectId'>): string =>
  invoiceKeyPrefix(cc, cl, d.projectId) + cl.line.invoiceSchedule + '|' + invoicePeriod(cc, cl, d).key;

/**
 * Deterministic invoice key: bill-to | project | contracting entity | currency | PO | schedule:period.
 * The same items always land on the same key, whatever order they arrive in.
 */
export const invoiceKeyPrefix = (cc: CompiledContract, cl: CompiledLine, projectId: string): string => {
  let p = cl.keyPrefix.get(projectId);
  if (p === undefined) {
    const c = cc.contract;
    p = `${c.billToCustomerId}|${projectId}|${c.contractingLegalEntityId}|${c.currency}|${cl.poNumber ?? '-'}|`;
    cl.keyPrefix.set(projectId, p);
  }
  return p;
};

interface LineAcc {
  lineKey: string;
  contractLineId: string;
  description: string;
  kind: Decision['kind'];
  amountMinor: number;
  minutes: number;
  sourceIds: string[];
}

interface InvoiceAcc {
  key: string;
  projectId: string;
  cl: CompiledLine;
  period: InvoicePeriod;
  /** By full line key (`${contractLineId}|${lineKey}`). */
  lines: Map<string, LineAcc>;
  /** The same lines by contract line id, then by decision line key: keys that are already hashed. */
  byContractLine: Map<string, Map<string, LineAcc>>;
}

export interface InvoiceGrouping {
  /** Accumulators by invoice key, before materialisation (the hot path stops here). */
  readonly groups: Map<string, InvoiceAcc>;
}

/** Invoice accumulator seen from one contract line: that line's accumulators on the invoice, keyed by decision line key. */
interface LineGroup {
  inv: InvoiceAcc;
  lines: Map<string, LineAcc>;
}

/**
 * Assign invoice keys to BILLABLE invoiced decisions and accumulate invoice lines.
 * Hot path: accumulators are found through per-line caches keyed by project and a
 * numeric period key, so no key string is built or hashed per item; the full line key
 * `${contractLineId}|${lineKey}` is built once per pair, since a fresh string per new
 * invoice line (~470 k in the benchmark) costs a flatten and a hash on insert.
 */
export const groupDecisions = (cc: CompiledContract, decisions: readonly Decision[], into?: InvoiceGrouping): InvoiceGrouping => {
  const groups = into?.groups ?? new Map<string, InvoiceAcc>();
  const byLine = new Map<CompiledLine, Map<string, Map<number | string, LineGroup>>>();
  let lastLine: CompiledLine | undefined;
  let lastProject = '';
  let lastGroups: Map<number | string, LineGroup> | undefined;
  const fullKeys = new Map<string, Map<string, string>>();
  for (let i = 0; i < decisions.length; i++) {
    const d = decisions[i]!;
    if (d.lineKey === undefined || d.billingClass !== 'BILLABLE') continue;
    if (lastGroups === undefined || lastLine!.line.id !== d.contractLineId || lastProject !== d.projectId) {
      const cl = cc.lines.get(d.contractLineId)!;
      let byProject = byLine.get(cl);
      if (byProject === undefined) byLine.set(cl, (byProject = new Map()));
      let g = byProject.get(d.projectId);
      if (g === undefined) byProject.set(d.projectId, (g = new Map()));
      lastLine = cl;
      lastProject = d.projectId;
      lastGroups = g;
    }
    const cl = lastLine!;
    const pk = periodCacheKey(cc, cl, d.serviceDate, d.milestoneId);
    let lg = lastGroups.get(pk);
    if (lg === undefined) {
      const period = invoicePeriod(cc, cl, d);
      const key = invoiceKeyPrefix(cc, cl, d.projectId) + cl.line.invoiceSchedule + '|' + period.key;
      let inv = groups.get(key);
      if (inv === undefined) {
        inv = { key, projectId: d.projectId, cl, period, lines: new Map(), byContractLine: new Map() };
        groups.set(key, inv);
      }
      // shared by every period key of this line that lands on this invoice (ON_MILESTONE: several dates)
      let lines = inv.byContractLine.get(cl.line.id);
      if (lines === undefined) inv.byContractLine.set(cl.line.id, (lines = new Map()));
      lg = { inv, lines };
      lastGroups.set(pk, lg);
    }
    let la = lg.lines.get(d.lineKey);
    if (la === undefined) {
      // a miss here is a new invoice line: lg.lines is the invoice's own map for this contract line
      let keys = fullKeys.get(d.contractLineId);
      if (keys === undefined) fullKeys.set(d.contractLineId, (keys = new Map()));
      let fullKey = keys.get(d.lineKey);
      if (fullKey === undefined) keys.set(d.lineKey, (fullKey = `${d.contractLineId}|${d.lineKey}`));
      la = { lineKey: fullKey, contractLineId: d.contractLineId, description: d.lineDescription, kind: d.kind, amountMinor: 0, minutes: 0, sourceIds: [] };
      lg.inv.lines.set(fullKey, la);
      lg.lines.set(d.lineKey, la);
    }
    la.amountMinor += d.amountMinor;
    la.minutes += d.minutes;
    la.sourceIds.push(d.sourceId);
  }
  return { groups };
};

export interface MaterializeOptions {
  /** Issue date of the run; due = issue + net days. */
  asOf: string;
  /** Decide `taxable` per tax code (see tax.ts); defaults to true. */
  taxable?: (taxCode: string) => boolean;
  /** Distinguishes a rebill from the original invoice for the same period (e.g. the amendment id). */
  keySuffix?: string;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Turn accumulators into canonical draft invoices, sorted by key; lines sorted by line key, source ids sorted. */
export const materializeInvoices = (cc: CompiledContract, grouping: InvoiceGrouping, opts: MaterializeOptions): Invoice[] => {
  const c = cc.contract;
  const invoices: Invoice[] = [];
  const keys = [...grouping.groups.keys()].sort(cmp);
  for (const k of keys) {
    const acc = grouping.groups.get(k)!;
    const key = opts.keySuffix ? `${k}|${opts.keySuffix}` : k;
    const id = `INV-${fnv1a64(key)}`;
    const lineAccs = [...acc.lines.values()].sort((a, b) => cmp(a.lineKey, b.lineKey));
    let subtotal = 0;
    const lines: InvoiceLine[] = lineAccs.map((la, n) => {
      const cl = cc.lines.get(la.contractLineId)!;
      subtotal += la.amountMinor;
      const line: InvoiceLine = {
        id: `${id}-${n + 1}`,
        contractLineId: la.contractLineId,
        quoteLineId: cl.line.quoteLineId,
        description: la.description,
        amount: { amountMinor: la.amountMinor, currency: c.currency },
        // default sort = UTF-16 code unit order, the same order as `<` on strings, and faster;
        // in place: the accumulator is not used after materialisation
        sourceItemIds: la.sourceIds.sort(),
        taxCode: cl.line.taxCode,
        taxable: opts.taxable ? opts.taxable(cl.line.taxCode) : true,
      };
      if (la.kind === 'TIME') line.quantity = { value: la.minutes, unit: 'MINUTE' };
      return line;
    });
    invoices.push({
      id,
      invoiceKey: key,
      customerId: c.billToCustomerId,
      contractingLegalEntityId: c.contractingLegalEntityId,
      projectId: acc.projectId,
      contractId: c.id,
      currency: c.currency,
      poNumber: acc.cl.poNumber,
      schedule: acc.cl.line.invoiceSchedule,
      period: { start: acc.period.start, end: acc.period.end },
      issueDate: opts.asOf,
      dueDate: addDays(opts.asOf, c.paymentTerms.netDays),
      status: 'DRAFT',
      lines,
      subtotal: { amountMinor: subtotal, currency: c.currency },
      tax: { amountMinor: 0, currency: c.currency },
      total: { amountMinor: subtotal, currency: c.currency },
      externalIds: {},
    });
  }
  return invoices;
};

/** Group and materialise in one call. */
export const groupInvoices = (cc: CompiledContract, decisions: readonly Decision[], opts: MaterializeOptions): Invoice[] =>
  materializeInvoices(cc, groupDecisions(cc, decisions), opts);
