import { currencyRule, divRound, formatMoney, mulDiv, type RoundingMode } from '../canonical/money-math';
import type { RateCard, RateRow } from './ruleset';
import { dateKey } from './dates';

/** A rate card compiled for lookups: role -> region -> rows, newest first. */
export interface RateIndex {
  readonly card: RateCard;
  readonly currency: string;
  readonly rounding: RoundingMode;
  /** The row in force for (role, region, date); blended cards return one synthetic row per date. */
  lookup(role: string, region: string, date: string): RateRow | undefined;
  /** Memoised pricing of a row (with overtime and a discount): shared by every contract using this card. */
  slot(row: RateRow, overtime: boolean, discountBp: number): RateSlot;
  /**
   * lookup + slot in one call for the time-entry hot path; `dk` is dateKey(date).
   * Same answer as `slot(lookup(role, region, date), overtime, discountBp)`.
   */
  timeSlot(role: string, region: string, date: string, dk: number, overtime: boolean, discountBp: number): RateSlot | undefined;
  /**
   * The card as seen by lines with one discount, for the time-entry hot path (memoised per
   * discount); undefined for blended cards, whose rate is computed per date (use timeSlot).
   */
  slotTable(discountBp: number): SlotTable | undefined;
}

/** Invoice-line identity for time at one effective rate: decisions sharing a slot land on the same invoice line. */
export interface RateSlot {
  readonly hourlyRate: number;
  readonly multiplierBp: number;
  /** hourlyRate x multiplierBp x (10000 - discountBp); value = minutes x numerator / 6e9, rounded once. */
  readonly numerator: number;
  /** Unique per card row, overtime and discount; grouping adds the contract line. */
  readonly lineKey: string;
  readonly description: string;
}

const slotMaker = (card: RateCard, rounding: RoundingMode) => {
  const cache = new Map<RateRow, Map<number, RateSlot>>();
  return (row: RateRow, overtime: boolean, discountBp: number): RateSlot => {
    let byDisc = cache.get(row);
    if (byDisc === undefined) cache.set(row, (byDisc = new Map()));
    const k = overtime ? -1 - discountBp : discountBp;
    let slot = byDisc.get(k);
    if (slot === undefined) {
      const multiplierBp = overtime ? card.overtimeMultiplierBp : 10_000;
      const eff = effectiveHourlyRate(row.hourlyRate, multiplierBp, discountBp, rounding);
      const who = row.role === '*' ? 'Blended' : `${row.role} (${row.region})`;
      slot = {
        hourlyRate: row.hourlyRate,
        multiplierBp,
        numerator: row.hourlyRate * multiplierBp * (10_000 - discountBp),
        lineKey: `TIME|${row.role}|${row.region}|${row.from}|${overtime ? 'OT' : 'ST'}|${discountBp}`,
        description: `${who}${overtime ? ' overtime' : ''} @ ${formatMoney({ amountMinor: eff, currency: card.currency })}/h`,
      };
      byDisc.set(k, slot);
    }
    return slot;
  };
};

/** A card row with its dates as dateKeys and its priced slots by (overtime, discount). */
interface RowInfo {
  readonly row: RateRow;
  readonly from: number;
  /** Open-ended rows: +Infinity. */
  readonly to: number;
  readonly slots: Map<number, RateSlot>;
}

/** One candidate row of a (role, region) for one discount, with its two priced slots once used. */
interface RowSlots {
  readonly from: number;
  /** dateKey of `row.to`; 0 for an open-ended row (small integers only: Infinity would make the field a boxed double). */
  readonly to: number;
  readonly open: boolean;
  readonly row: RateRow;
  st: RateSlot | undefined;
  ot: RateSlot | undefined;
}

/**
 * timeSlot for one discount without the per-entry (overtime, discount) map: per (role,
 * region) the candidate rows in lookup order, each holding its standard and overtime slot
 * (the same objects `slot` returns). Built lazily, kept with the card.
 */
export class SlotTable {
  /** role -> the regions met so far with their rows: a short list compared by string (few regions per role) */
  private readonly byRole = new Map<string, RegionRows[]>();
  constructor(
    private readonly candidates: (role: string, region: string) => readonly RowInfo[],
    private readonly slot: (row: RateRow, overtime: boolean, discountBp: number) => RateSlot,
    readonly discountBp: number,
  ) {}

  /** Same answer as `timeSlot(role, region, date, dk, overtime, discountBp)`. */
  find(role: string, region: string, dk: number, overtime: boolean): RateSlot | undefined {
    let regions = this.byRole.get(role);
    if (regions === undefined) this.byRole.set(role, (regions = []));
    let list: RowSlots[] | undefined;
    for (let j = 0; j < regions.length; j++) {
      if (regions[j]!.region === region) {
        list = regions[j]!.rows;
        break;
      }
    }
    if (list === undefined) {
      list = this.candidates(role, region).map((i) => ({ from: i.from, to: i.to === Infinity ? 0 : i.to, open: i.to === Infinity, row: i.row, st: undefined, ot: undefined }));
      regions.push({ region, rows: list });
    }
    for (let i = 0; i < list.length; i++) {
      const r = list[i]!;
      if (r.from <= dk && (r.open || dk <= r.to)) {
        if (overtime) return r.ot ?? (r.ot = this.slot(r.row, true, this.discountBp));
        return r.st ?? (r.st = this.slot(r.row, false, this.discountBp));
      }
    }
    return undefined;
  }
}

interface RegionRows {
  readonly region: string;
  readonly rows: RowSlots[];
}

const compiled = new WeakMap<RateCard, RateIndex>();

/** compileRateCard, memoised per card object (a parsed rule set is immutable data). */
export const rateIndexFor = (card: RateCard): RateIndex => {
  let idx = compiled.get(card);
  if (idx === undefined) compiled.set(card, (idx = compileRateCard(card)));
  return idx;
};

const pick = (rows: readonly RateRow[] | undefined, date: string): RateRow | undefined => {
  if (!rows) return undefined;
  for (const r of rows) if (r.from <= date && (r.to === undefined || date <= r.to)) return r;
  return undefined;
};

/**
 * Build the lookup structure once per card (at the boundary, not per item).
 * Specificity: exact role+region, then role+'*', then '*'+region, then '*'+'*';
 * within a level the row with the latest `from` that covers the date wins.
 */
export const compileRateCard = (card: RateCard): RateIndex => {
  const byRole = new Map<string, Map<string, RateRow[]>>();
  for (const r of card.rates) {
    let byRegion = byRole.get(r.role);
    if (!byRegion) byRole.set(r.role, (byRegion = new Map()));
    const rows = byRegion.get(r.region) ?? [];
    rows.push(r);
    byRegion.set(r.region, rows);
  }
  for (const byRegion of byRole.values()) for (const rows of byRegion.values()) rows.sort((a, b) => (a.from < b.from ? 1 : a.from > b.from ? -1 : 0));
  const any = byRole.get('*');

  const direct = (role: string, region: string, date: string): RateRow | undefined => {
    const own = byRole.get(role);
    return pick(own?.get(region), date) ?? pick(own?.get('*'), date) ?? pick(any?.get(region), date) ?? pick(any?.get('*'), date);
  };

  const rounding = currencyRule(card.currency).rounding;
  const blend = card.blend;
  const slot = slotMaker(card, rounding);
  if (!blend) {
    // Fast path: per (role, region), the candidate rows of all four specificity levels in
    // one list, in the order `direct` tries them (level by level, newest `from` first), so
    // the first row that covers the date is the row `direct` returns; dates are compared
    // as integers. Built on first use and kept with the card (shared by every contract).
    const infos = new Map<RateRow, RowInfo>();
    const info = (r: RateRow): RowInfo => {
      let i = infos.get(r);
      if (i === undefined) infos.set(r, (i = { row: r, from: dateKey(r.from), to: r.to === undefined ? Infinity : dateKey(r.to), slots: new Map() }));
      return i;
    };
    const candidates = new Map<string, Map<string, RowInfo[]>>();
    const candidatesOf = (role: string, region: string): RowInfo[] => {
      let byRegion = candidates.get(role);
      if (byRegion === undefined) candidates.set(role, (byRegion = new Map()));
      let list = byRegion.get(region);
      if (list === undefined) {
        const own = byRole.get(role);
        list = [own?.get(region), own?.get('*'), any?.get(region), any?.get('*')].flatMap((rows) => (rows ?? []).map(info));
        byRegion.set(region, list);
      }
      return list;
    };
    const timeSlot = (role: string, region: string, _date: string, dk: number, overtime: boolean, discountBp: number): RateSlot | undefined => {
      const list = candidatesOf(role, region);
      for (let i = 0; i < list.length; i++) {
        const r = list[i]!;
        if (r.from <= dk && dk <= r.to) {
          const k = overtime ? -1 - discountBp : discountBp;
          let s = r.slots.get(k);
          if (s === undefined) r.slots.set(k, (s = slot(r.row, overtime, discountBp)));
          return s;
        }
      }
      return undefined;
    };
    const tables = new Map<number, SlotTable>();
    const slotTable = (discountBp: number): SlotTable => {
      let t = tables.get(discountBp);
      if (t === undefined) tables.set(discountBp, (t = new SlotTable(candidatesOf, slot, discountBp)));
      return t;
    };
    return { card, currency: card.currency, rounding, lookup: direct, slot, timeSlot, slotTable };
  }

  // Blended: one weighted-average rate for everybody, computed per date and cached so
  // the same date always yields the same row object (used as a grouping identity).
  const byDate = new Map<string, RateRow | null>();
  let wsum = 0;
  for (const b of blend) wsum += b.weight;
  const lookup = (_role: string, _region: string, date: string): RateRow | undefined => {
    let row = byDate.get(date);
    if (row === undefined) {
      let ok = true;
      let acc = 0;
      for (const b of blend) {
        const r = direct(b.role, b.region, date);
        if (!r) {
          ok = false;
          break;
        }
        acc += r.hourlyRate * b.weight;
      }
      row = ok ? { role: '*', region: '*', from: date, to: date, hourlyRate: divRound(acc, wsum, rounding) } : null;
      byDate.set(date, row);
    }
    return row ?? undefined;
  };
  const timeSlot = (role: string, region: string, date: string, _dk: number, overtime: boolean, discountBp: number): RateSlot | undefined => {
    const row = lookup(role, region, date);
    return row === undefined ? undefined : slot(row, overtime, discountBp);
  };
  return { card, currency: card.currency, rounding, lookup, slot, timeSlot, slotTable: () => undefined };
};

/**
 * Value of `minutes` at `hourlyRate`, with overtime multiplier and discount, one rounding:
 * minutes x rate x multiplierBp x (10000 - discountBp) / (60 x 10000 x 10000).
 * Example: 450 min x 15000 minor/h x 1.0 x 1.0 / 60 = 112500 minor (7.5 h x USD 150.00 = USD 1,125.00).
 */
export const rateMinutes = (
  minutes: number,
  hourlyRate: number,
  multiplierBp: number,
  discountBp: number,
  rounding: RoundingMode,
): number => mulDiv([minutes, hourlyRate, multiplierBp, 10_000 - discountBp], 60 * 10_000 * 10_000, rounding);

/** Rate in force after the overtime multiplier and discount, per hour, for display: round(rate x mult x (1 - disc)). */
export const effectiveHourlyRate = (hourlyRate: number, multiplierBp: number, discountBp: number, rounding: RoundingMode): number =>
  mulDiv([hourlyRate, multiplierBp, 10_000 - discountBp], 10_000 * 10_000, rounding);
