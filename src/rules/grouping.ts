import type { Invoice, InvoiceLine } from '../canonical';
import type { CompiledContract, CompiledLine, InvoicePeriod } from './compile';
import * as dates from './dates';
import { addDays, fromDayNumber, monthEnd, monthStart } from './dates';
import type { Decision } from './billability';

// Per-item helpers read into module constants once (see billability.ts: imports are getter calls under CommonJS).
const { dayNumber, monthIndex, weekdayOf } = dates;

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
    case 'WEEKLY': {
      const day = dayNumber(date);
      return day - ((weekdayOf(day) - cc.contract.billingTerms.weekStartsOn + 7) % 7);
    }
    case 'ON_MILESTONE':
      return milestoneId !== undefined ? `M:${milestoneId}:${date}` : date;
    default:
      return date;
  }
};

/** The invoice period an item's date falls in, per the line's schedule. */
export const invoicePeriod = (cc: CompiledContract, cl: CompiledLine, d: Pick<Decision, 'serviceDate' | 'milestoneId'>): InvoicePeriod =>
  periodOf(cl, d.serviceDate, d.milestoneId, periodCacheKey(cc, cl, d.serviceDate, d.milestoneId));

/** invoicePeriod with the period cache key already computed. */
const periodOf = (cl: CompiledLine, date: string, milestoneId: string | undefined, cacheKey: number | string): InvoicePeriod => {
  const schedule = cl.line.invoiceSchedule;
  let p = cl.periodCache.get(cacheKey);
  if (p === undefined) {
    if (schedule === 'MONTHLY') {
      const mi = cacheKey as number;
      p = { start: monthStart(mi), end: monthEnd(mi), key: `MONTHLY:${monthStart(mi).slice(0, 7)}` };
    } else if (schedule === 'WEEKLY') {
      const start = fromDayNumber(cacheKey as number);
      p = { start, end: addDays(start, 6), key: `WEEKLY:${start}` };
    } else if (schedule === 'ON_MILESTONE') {
      p = { start: date, end: date, key: milestoneId !== undefined ? `ON_MILESTONE:${milestoneId}` : `ON_MILESTONE:${date}` };
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
  /** Full line key `${contractLineId}|${decision lineKey}`: the sort key inside the invoice. */
  lineKey: string;
  /** The decisions' own line key (unique per contract line on one invoice). */
  decisionKey: string;
  contractLineId: string;
  description: string;
  kind: Decision['kind'];
  amountMinor: number;
  minutes: number;
  sourceIds: string[];
  /** Earliest and latest service date of the line's items ('' before the first). */
  serviceStart: string;
  serviceEnd: string;
  /** Scratch for groupDecisions: source ids counted, then written, in the call stamped `mark`. */
  n: number;
  mark: number;
}

interface InvoiceAcc {
  key: string;
  projectId: string;
  cl: CompiledLine;
  period: InvoicePeriod;
  /**
   * Lines in order of creation. An array, not a map by full key: ~470 k lines in the
   * benchmark, and growing a Map per invoice was the hottest spot of grouping. Lookups
   * go through per-call caches in groupDecisions instead.
   */
  lines: LineAcc[];
}

export interface InvoiceGrouping {
  /** Accumulators by invoice key, before materialisation (the hot path stops here). */
  readonly groups: Map<string, InvoiceAcc>;
}

/** One invoice seen from one contract line, in one groupDecisions call; `gid` numbers it within the call. */
interface LineGroup {
  inv: InvoiceAcc;
  gid: number;
}

/**
 * Period cache key -> group for one (contract line, project) in one call. Numeric keys
 * (month index; week-start day number) index a small array around the first key seen;
 * keys outside it, and string keys (IMMEDIATE dates, ON_MILESTONE), use a Map.
 */
class PeriodGroups {
  private base = 0;
  private hasBase = false;
  private readonly dense: (LineGroup | undefined)[] = [];
  private map: Map<number | string, LineGroup> | undefined;
  /** `span` keys from `base` go to the array (64 months; 448 days = 64 weeks of week-start days). */
  constructor(private readonly span: number) {}

  get(pk: number | string): LineGroup | undefined {
    if (typeof pk === 'number') {
      const j = pk - this.base;
      if (j >= 0 && j < this.span) return this.dense[j];
    }
    return this.map?.get(pk);
  }

  set(pk: number | string, lg: LineGroup): void {
    if (typeof pk === 'number') {
      if (!this.hasBase) {
        this.base = pk - (this.span >> 1);
        this.hasBase = true;
      }
      const j = pk - this.base;
      if (j >= 0 && j < this.span) {
        this.dense[j] = lg;
        return;
      }
    }
    (this.map ??= new Map()).set(pk, lg);
  }
}

/** A (contract line, project) pair of one groupDecisions call and its caches. */
interface Pair {
  lineId: string;
  projectId: string;
  cl: CompiledLine;
  lc: LineCaches;
  groups: PeriodGroups;
}

/** Pairs searched linearly before the Maps (mostly one project and a few lines per call). */
const MAX_PAIRS = 8;

/** Per-call caches for one contract line. */
interface LineCaches {
  byProject: Map<string, PeriodGroups>;
  /** Several period keys can land on one invoice (ON_MILESTONE: one invoice per milestone, many dates). */
  byInvoice: Map<InvoiceAcc, LineGroup>;
  /** `${contractLineId}|${lineKey}` by line-key number, built once per pair and call. */
  fullKeys: string[];
}

/**
 * Scratch open-addressing table (group number, line-key number) -> position of the line
 * accumulator in the call's `registered` list, for groupDecisions; reused across calls
 * (no table grown per call or per invoice). A slot belongs to the current call only when
 * its stamp is the call's stamp, so nothing needs clearing, and the table holds integers
 * only (no references from this long-lived table to each call's young objects).
 */
let tableSize = 1 << 12;
let tGid = new Int32Array(tableSize);
let tKid = new Int32Array(tableSize);
let tStamp = new Int32Array(tableSize);
let tRef = new Int32Array(tableSize);
let tUsed = new Int32Array(tableSize >> 1);
let tCount = 0;
let stamp = 0;
/** Scratch: per decision, the position of its accumulator in `registered` (-1: not invoiced). */
let accIndex = new Int32Array(1024);

const slotHash = (gid: number, kid: number): number => (Math.imul(gid, 0x9e3779b1) ^ Math.imul(kid + 1, 0x85ebca77)) & (tableSize - 1);

const findRef = (gid: number, kid: number): number => {
  for (let h = slotHash(gid, kid); ; h = (h + 1) & (tableSize - 1)) {
    if (tStamp[h] !== stamp) return -1;
    if (tGid[h] === gid && tKid[h] === kid) return tRef[h]!;
  }
};

const addRef = (gid: number, kid: number, ref: number): void => {
  if (tCount >= tableSize >> 1) growTable();
  let h = slotHash(gid, kid);
  while (tStamp[h] === stamp) h = (h + 1) & (tableSize - 1);
  tStamp[h] = stamp;
  tGid[h] = gid;
  tKid[h] = kid;
  tRef[h] = ref;
  tUsed[tCount++] = h;
};

const growTable = (): void => {
  const old = { gid: tGid, kid: tKid, ref: tRef, used: tUsed, count: tCount };
  // Allocated first, then swapped in: the table stays consistent if a call is cut short
  // (one table serves every workflow of a worker thread, src/workflows/preload.ts).
  const size = tableSize * 2;
  const gid = new Int32Array(size);
  const kid = new Int32Array(size);
  const stamps = new Int32Array(size);
  const ref = new Int32Array(size);
  const used = new Int32Array(size >> 1);
  tableSize = size;
  tGid = gid;
  tKid = kid;
  tStamp = stamps;
  tRef = ref;
  tUsed = used;
  tCount = 0;
  for (let i = 0; i < old.count; i++) {
    const h = old.used[i]!;
    addRef(old.gid[h]!, old.kid[h]!, old.ref[h]!);
  }
};

/** Starts a call's use of the scratch: a new stamp invalidates every earlier slot. */
const beginScratch = (decisions: number): void => {
  stamp = (stamp + 1) | 0;
  if (stamp === 0) {
    // after 2^32 calls: stamps repeat, so clear them once
    tStamp.fill(0);
    stamp = 1;
  }
  tCount = 0;
  if (accIndex.length < decisions) accIndex = new Int32Array(decisions * 2);
};

/**
 * Assign invoice keys to BILLABLE invoiced decisions and accumulate invoice lines.
 *
 * Hot path (per decision): the period key indexes the (invoice, contract line) group;
 * the group's number and a per-call number for the decision's line key find the line in
 * a reused scratch table. No key string is built per item, one string (the line key) is
 * hashed, and nothing is allocated per item or grown per invoice.
 * Source ids are written in a second pass into arrays of the exact size (counted in
 * the first), instead of pushing into a fresh array per line (a 16-slot backing store
 * for lines that mostly carry one or two ids).
 */
export const groupDecisions = (cc: CompiledContract, decisions: readonly Decision[], into?: InvoiceGrouping): InvoiceGrouping => {
  beginScratch(decisions.length);
  return group(cc, decisions, into);
};

const group = (cc: CompiledContract, decisions: readonly Decision[], into?: InvoiceGrouping): InvoiceGrouping => {
  const groups = into?.groups ?? new Map<string, InvoiceAcc>();
  const caches = new Map<CompiledLine, LineCaches>();
  /** Decision line key -> small integer, shared by all contract lines in this call. */
  const keyIds = new Map<string, number>();
  /** Accumulators in the scratch table for this call, by the position the table stores. */
  const registered: LineAcc[] = [];
  /** Accumulators touched in this call, each once. */
  const touched: LineAcc[] = [];
  let groupCount = 0;
  // (contract line, project) pairs met in this call: items alternate between a few, so a
  // short list compared by id (mostly the same string objects) before the Maps
  const pairs: Pair[] = [];
  let last: Pair | undefined;
  for (let i = 0; i < decisions.length; i++) {
    const d = decisions[i]!;
    accIndex[i] = -1;
    if (d.lineKey === undefined || d.billingClass !== 'BILLABLE') continue;
    if (last === undefined || last.lineId !== d.contractLineId || last.projectId !== d.projectId) {
      last = undefined;
      for (let j = 0; j < pairs.length; j++) {
        const p = pairs[j]!;
        if (p.lineId === d.contractLineId && p.projectId === d.projectId) {
          last = p;
          break;
        }
      }
      if (last === undefined) {
        const cl = cc.lines.get(d.contractLineId)!;
        let lc = caches.get(cl);
        if (lc === undefined) caches.set(cl, (lc = { byProject: new Map(), byInvoice: new Map(), fullKeys: [] }));
        let g = lc.byProject.get(d.projectId);
        if (g === undefined) lc.byProject.set(d.projectId, (g = new PeriodGroups(cl.line.invoiceSchedule === 'WEEKLY' ? 448 : 64)));
        last = { lineId: d.contractLineId, projectId: d.projectId, cl, lc, groups: g };
        if (pairs.length < MAX_PAIRS) pairs.push(last);
      }
    }
    const cl = last.cl;
    const lastCaches = last.lc;
    const lastGroups = last.groups;
    const pk = periodCacheKey(cc, cl, d.serviceDate, d.milestoneId);
    let lg = lastGroups.get(pk);
    if (lg === undefined) {
      const period = periodOf(cl, d.serviceDate, d.milestoneId, pk);
      const key = invoiceKeyPrefix(cc, cl, d.projectId) + cl.line.invoiceSchedule + '|' + period.key;
      let inv = groups.get(key);
      if (inv === undefined) {
        inv = { key, projectId: d.projectId, cl, period, lines: [] };
        groups.set(key, inv);
      }
      lg = lastCaches.byInvoice.get(inv);
      if (lg === undefined) {
        lg = { inv, gid: groupCount++ };
        // an invoice from an earlier call (`into`): its lines for this contract line are found again by line key
        for (const la of inv.lines) if (la.contractLineId === cl.line.id) addRef(lg.gid, keyIdOf(keyIds, la.decisionKey), registered.push(la) - 1);
        lastCaches.byInvoice.set(inv, lg);
      }
      lastGroups.set(pk, lg);
    }
    const kid = keyIdOf(keyIds, d.lineKey);
    let ref = findRef(lg.gid, kid);
    let la: LineAcc;
    if (ref >= 0) la = registered[ref]!;
    else {
      const fullKeys = lastCaches.fullKeys;
      const fullKey = fullKeys[kid] ?? (fullKeys[kid] = `${d.contractLineId}|${d.lineKey}`);
      la = { lineKey: fullKey, decisionKey: d.lineKey, contractLineId: d.contractLineId, description: d.lineDescription, kind: d.kind, amountMinor: 0, minutes: 0, sourceIds: EMPTY, serviceStart: '', serviceEnd: '', n: 0, mark: 0 };
      lg.inv.lines.push(la);
      ref = registered.push(la) - 1;
      addRef(lg.gid, kid, ref);
    }
    if (la.mark !== stamp) {
      la.mark = stamp;
      la.n = 0;
      touched.push(la);
    }
    la.n += 1;
    la.amountMinor += d.amountMinor;
    la.minutes += d.minutes;
    const from = d.periodStart ?? d.serviceDate;
    const to = d.periodEnd ?? d.serviceDate;
    if (la.serviceStart === '' || from < la.serviceStart) la.serviceStart = from;
    if (to > la.serviceEnd) la.serviceEnd = to;
    accIndex[i] = ref;
  }
  // pass 2: exact-size source id arrays, filled in decision order (as the pushes did)
  for (const la of touched) {
    const have = la.sourceIds.length;
    if (have === 0) la.sourceIds = new Array<string>(la.n);
    else la.sourceIds.length = have + la.n;
    la.n = have;
  }
  for (let i = 0; i < decisions.length; i++) {
    const ref = accIndex[i]!;
    if (ref >= 0) {
      const la = registered[ref]!;
      la.sourceIds[la.n++] = decisions[i]!.sourceId;
    }
  }
  return { groups };
};

/** Placeholder for a line that has no source ids yet (never written to: pass 2 replaces it). */
const EMPTY: string[] = [];

const keyIdOf = (keyIds: Map<string, number>, lineKey: string): number => {
  let k = keyIds.get(lineKey);
  if (k === undefined) keyIds.set(lineKey, (k = keyIds.size));
  return k;
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

/**
 * An invoice's lines sorted by full line key. Two contract lines can only produce the
 * same full key when an id contains '|' ("a|b" + "c" vs "a" + "b|c"); the map by full
 * key this replaces kept the line created last for such a key, and so does this.
 */
const linesOf = (acc: InvoiceAcc): LineAcc[] => {
  const sorted = acc.lines.slice().sort((a, b) => cmp(a.lineKey, b.lineKey)); // stable: equal keys stay in creation order
  let w = 0;
  for (let r = 0; r < sorted.length; r++) {
    if (r + 1 < sorted.length && sorted[r + 1]!.lineKey === sorted[r]!.lineKey) continue;
    sorted[w++] = sorted[r]!;
  }
  sorted.length = w;
  return sorted;
};

/** Turn accumulators into canonical draft invoices, sorted by key; lines sorted by line key, source ids sorted. */
export const materializeInvoices = (cc: CompiledContract, grouping: InvoiceGrouping, opts: MaterializeOptions): Invoice[] => {
  const c = cc.contract;
  const invoices: Invoice[] = [];
  const keys = [...grouping.groups.keys()].sort(cmp);
  for (const k of keys) {
    const acc = grouping.groups.get(k)!;
    const key = opts.keySuffix ? `${k}|${opts.keySuffix}` : k;
    const id = `INV-${fnv1a64(key)}`;
    const lineAccs = linesOf(acc);
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
        servicePeriod: { start: la.serviceStart, end: la.serviceEnd },
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
