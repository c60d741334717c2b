/**
 * Calendar arithmetic on 'YYYY-MM-DD' business dates with plain integers
 * (days since 1970-01-01). No Date objects, no time zones: a business date is
 * already the date in the legal entity's calendar.
 */

const d2 = (s: string, i: number): number => (s.charCodeAt(i) - 48) * 10 + (s.charCodeAt(i + 1) - 48);

export const yearOf = (iso: string): number => d2(iso, 0) * 100 + d2(iso, 2);
export const monthOf = (iso: string): number => d2(iso, 5);
export const dayOfMonth = (iso: string): number => d2(iso, 8);

/**
 * 'YYYY-MM-DD' as the integer YYYYMMDD. Same-length digit strings order like their
 * numbers, so comparing keys is exactly comparing the date strings (also for a
 * calendar-invalid date), with integer compares in the hot path.
 */
export const dateKey = (iso: string): number =>
  // the digits of yearOf * 10_000 + monthOf * 100 + dayOfMonth, in one expression (it runs per item)
  (iso.charCodeAt(0) - 48) * 10_000_000 + (iso.charCodeAt(1) - 48) * 1_000_000 + (iso.charCodeAt(2) - 48) * 100_000 + (iso.charCodeAt(3) - 48) * 10_000 +
  (iso.charCodeAt(5) - 48) * 1_000 + (iso.charCodeAt(6) - 48) * 100 + (iso.charCodeAt(8) - 48) * 10 + (iso.charCodeAt(9) - 48);

/** monthIndex of a dateKey. */
export const monthIndexOfKey = (key: number): number => Math.floor(key / 10_000) * 12 + (Math.floor(key / 100) % 100) - 1;

/** Days since 1970-01-01 (H. Hinnant's days_from_civil). */
export const dayNumber = (iso: string): number => {
  let y = yearOf(iso);
  const m = monthOf(iso);
  const d = dayOfMonth(iso);
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
};

const pad2 = (n: number): string => (n < 10 ? '0' + n : String(n));

export const fromDayNumber = (z: number): string => {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${String(y).padStart(4, '0')}-${pad2(m)}-${pad2(d)}`;
};

export const addDays = (iso: string, days: number): string => fromDayNumber(dayNumber(iso) + days);

/** Inclusive count of days in [start, end]. */
export const daysInclusive = (start: string, end: string): number => dayNumber(end) - dayNumber(start) + 1;

/** ISO weekday, 1 = Monday ... 7 = Sunday. */
export const isoWeekday = (iso: string): number => weekdayOf(dayNumber(iso));

/** ISO weekday of a day number (isoWeekday without parsing the date again). */
export const weekdayOf = (day: number): number => (((day + 3) % 7) + 7) % 7 + 1;

export const isLeapYear = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

export const daysInMonth = (y: number, m: number): number =>
  m === 2 ? (isLeapYear(y) ? 29 : 28) : m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;

/** Months since year 0: a cheap integer key for 'YYYY-MM'. */
export const monthIndex = (iso: string): number =>
  ((iso.charCodeAt(0) - 48) * 1000 + (iso.charCodeAt(1) - 48) * 100 + (iso.charCodeAt(2) - 48) * 10 + (iso.charCodeAt(3) - 48)) * 12 +
  ((iso.charCodeAt(5) - 48) * 10 + (iso.charCodeAt(6) - 48) - 1);

export const monthStart = (mi: number): string => `${String(Math.floor(mi / 12)).padStart(4, '0')}-${pad2((mi % 12) + 1)}-01`;
export const monthEnd = (mi: number): string => {
  const y = Math.floor(mi / 12);
  const m = (mi % 12) + 1;
  return `${String(y).padStart(4, '0')}-${pad2(m)}-${pad2(daysInMonth(y, m))}`;
};

/** Same day-of-month `n` months later, clamped to the month end (Jan 31 + 1 month = Feb 28/29). */
export const addMonths = (iso: string, n: number): string => {
  const mi = monthIndex(iso) + n;
  const y = Math.floor(mi / 12);
  const m = (mi % 12) + 1;
  return `${String(y).padStart(4, '0')}-${pad2(m)}-${pad2(Math.min(dayOfMonth(iso), daysInMonth(y, m)))}`;
};

export const minDate = (a: string, b: string): string => (a <= b ? a : b);
export const maxDate = (a: string, b: string): string => (a >= b ? a : b);
