import { addDays, dayNumber, isoWeekday } from '../rules/dates';

/*
 * Business dates in a legal entity's time zone, from instants (ms since the
 * epoch). Pure: Intl's zone data and integer arithmetic, no clock.
 */

const DAY_MS = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();
const formatter = (tz: string): Intl.DateTimeFormat => {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(tz, f);
  }
  return f;
};

const localParts = (ms: number, tz: string): { y: number; m: number; d: number; h: number; mi: number; s: number } => {
  const p: Record<string, number> = {};
  for (const part of formatter(tz).formatToParts(ms)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return { y: p.year!, m: p.month!, d: p.day!, h: p.hour! % 24, mi: p.minute!, s: p.second! };
};

const pad = (n: number, w: number): string => String(n).padStart(w, '0');
const isoOf = (y: number, m: number, d: number): string => `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;

/** The business date at instant `ms` in the time zone `tz`. */
export const localDate = (ms: number, tz: string): string => {
  const p = localParts(ms, tz);
  return isoOf(p.y, p.m, p.d);
};

/** UTC milliseconds of a wall-clock reading (Date.UTC without the Date global). */
const utcMs = (y: number, m: number, d: number, h: number, mi: number, s: number): number => dayNumber(isoOf(y, m, d)) * DAY_MS + ((h * 60 + mi) * 60 + s) * 1000;

const offsetAt = (ms: number, tz: string): number => {
  const p = localParts(ms, tz);
  return utcMs(p.y, p.m, p.d, p.h, p.mi, p.s) - Math.floor(ms / 1000) * 1000;
};

/** The instant local midnight starts `date` in `tz` (DST-aware). */
export const localMidnight = (date: string, tz: string): number => {
  const guess = dayNumber(date) * DAY_MS;
  const first = guess - offsetAt(guess, tz);
  return guess - offsetAt(first, tz);
};

/** The first day of the billing week holding `date` (weekStartsOn: ISO weekday, 1 = Monday). */
export const weekStartOf = (date: string, weekStartsOn: number): string => addDays(date, -((isoWeekday(date) - weekStartsOn + 7) % 7));

const INSTANT = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)$/i;

/** Milliseconds since the epoch of an ISO-8601 instant with a zone ('Z' or an offset); throws on anything else. */
export const instantMs = (iso: string): number => {
  const m = INSTANT.exec(iso);
  if (!m) throw new RangeError(`not an ISO-8601 instant with a zone: ${iso}`);
  const [, date, hh, mm, ss, frac, zone] = m;
  const local = dayNumber(date!) * DAY_MS + ((Number(hh) * 60 + Number(mm)) * 60 + Number(ss ?? 0)) * 1000 + Number((frac ?? '').padEnd(3, '0').slice(0, 3));
  if (zone!.toUpperCase() === 'Z') return local;
  const sign = zone![0] === '-' ? -1 : 1;
  const digits = zone!.slice(1).replace(':', '');
  return local - sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || 0)) * 60_000;
};
