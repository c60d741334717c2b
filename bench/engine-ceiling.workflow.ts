/**
 * The engine-ceiling workflow of the month-end bench: waits for its signals, then runs
 * `activities` no-op activities one after another. No rules, no state, no vendors: what is
 * left is Temporal's own work per workflow task and activity.
 */
import { condition, proxyActivities, setHandler, defineSignal } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '1 minute' });
const more = defineSignal('more');

export async function engineCeiling(input: { activities: number; signals: number }): Promise<void> {
  let received = 0;
  setHandler(more, () => void (received += 1));
  await condition(() => received >= input.signals);
  for (let i = 0; i < input.activities; i++) await noop();
}
