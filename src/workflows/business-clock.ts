import { log } from '@temporalio/workflow';
import { MIN_DEMO_DAY_MS, type DemoClock, type DemoOptions } from '../contract';
import { localMidnight } from '../engagement';
import type { EngagementState } from '../engagement';

const DAY_MS = 86_400_000;

/**
 * The one clock the delivery loop reads. Every business date (today, invoice
 * and due dates, overdue, period ends, contract end) comes from `now()`, and
 * every wait is a timer of `sleepFor(business duration)` real milliseconds.
 */
export interface BusinessClock {
  /** The business instant now (ms since the epoch). */
  now(): number;
  /** Real milliseconds a timer sleeps for `businessMs` of business time to pass (at least 1). */
  sleepFor(businessMs: number): number;
  /** Demo mode: the mapping, published in the deal's state. */
  readonly demo?: DemoClock;
}

/** Production: business time is workflow time (deterministic in the workflow sandbox); a timer sleeps the business duration. */
export const WORKFLOW_CLOCK: BusinessClock = {
  now: () => Date.now(),
  sleepFor: (businessMs) => Math.max(1, businessMs),
};

/**
 * Demo mode: business now = contract start + (workflow now − demo start) × (1 day / dayMs);
 * a timer sleeps the business duration divided by the same scale (rounded up, so the
 * business instant it waits for has passed when it fires). Pure arithmetic on workflow
 * time: deterministic and replay-safe, no extra commands.
 */
export function demoClock(anchor: { realStartMs: number; businessStartMs: number }, dayMs: number, timeZone: string): BusinessClock {
  const scale = DAY_MS / dayMs;
  return {
    now: () => anchor.businessStartMs + Math.floor((Date.now() - anchor.realStartMs) * scale),
    sleepFor: (businessMs) => Math.max(1, Math.ceil(businessMs / scale)),
    demo: { dayMs, realStart: new Date(anchor.realStartMs).toISOString(), businessStart: new Date(anchor.businessStartMs).toISOString(), timeZone },
  };
}

/** A valid demo day length, or undefined (the option is ignored with a warning). */
const demoDayMs = (demo: DemoOptions | undefined): number | undefined => {
  if (!demo) return undefined;
  if (!Number.isFinite(demo.dayMs) || demo.dayMs < MIN_DEMO_DAY_MS || demo.dayMs > DAY_MS) {
    log.warn('demo option ignored: dayMs out of range', { dayMs: demo.dayMs, min: MIN_DEMO_DAY_MS, max: DAY_MS });
    return undefined;
  }
  return Math.floor(demo.dayMs);
};

/** The production clock, or (DeliveryOptions.demo) the accelerated one anchored at the contract start when demo delivery first starts. */
export function clockFor(demo: DemoOptions | undefined, contractStart: string, timeZone: string, state: EngagementState): BusinessClock {
  const dayMs = demoDayMs(demo);
  if (dayMs === undefined) return WORKFLOW_CLOCK;
  state.demoAnchor ??= { realStartMs: Date.now(), businessStartMs: localMidnight(contractStart, timeZone) };
  return demoClock(state.demoAnchor, dayMs, timeZone);
}
