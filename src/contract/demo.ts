import type { DemoClock } from '../engagement/model';

const DAY_MS = 86_400_000;
/** The shortest business day demo mode accepts: a timer and a workflow task must fit in it. */
export const MIN_DEMO_DAY_MS = 20;

/** The business instant at real instant `realMs`: businessStart + (realMs − realStart) × (1 day / dayMs). */
export function demoBusinessMs(clock: DemoClock, realMs: number): number {
  return Date.parse(clock.businessStart) + Math.floor((realMs - Date.parse(clock.realStart)) * (DAY_MS / clock.dayMs));
}

/** The real instant at which business instant `businessMs` is reached. */
export function demoRealMs(clock: DemoClock, businessMs: number): number {
  return Date.parse(clock.realStart) + Math.ceil((businessMs - Date.parse(clock.businessStart)) / (DAY_MS / clock.dayMs));
}

/** The business date (YYYY-MM-DD in the clock's zone) at real instant `realMs`. */
export function demoBusinessDate(clock: DemoClock, realMs: number): string {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: clock.timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(demoBusinessMs(clock, realMs));
  const get = (t: string) => parts.find((p) => p.type === t)!.value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}
