import { MockActivityEnvironment } from '@temporalio/testing';
import { withLiveness } from '../../src/activities/liveness';

const quiet = { logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('withLiveness', () => {
  const activities = withLiveness({
    slow: async (ms: number) => {
      await sleep(ms);
      return `slept ${ms}`;
    },
    failing: async () => {
      throw new Error('vendor said no');
    },
  });

  it('heartbeats at once and every third of the heartbeat timeout while the activity runs, and stops when it ends', async () => {
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 300 }, quiet);
    const beats: number[] = [];
    const t0 = Date.now();
    env.on('heartbeat', () => beats.push(Date.now() - t0));
    await expect(env.run(activities.slow, 650)).resolves.toBe('slept 650');
    const after = beats.length;
    // One at the start, then one per 100 ms (300 / 3) during 650 ms: at most 1 + 6 (a busy machine's timers fire late, never early).
    expect(after).toBeGreaterThanOrEqual(3);
    expect(after).toBeLessThanOrEqual(7);
    expect(beats[0]).toBeLessThan(beats[1]! - 50);
    await sleep(250);
    expect(beats).toHaveLength(after); // the ticker is gone
  });

  it('passes a failure through, and stops beating', async () => {
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 300 }, quiet);
    let beats = 0;
    env.on('heartbeat', () => beats++);
    await expect(env.run(activities.failing)).rejects.toThrow('vendor said no');
    const after = beats;
    await sleep(250);
    expect(beats).toBe(after);
  });

  it('does not beat for an activity scheduled without a heartbeat timeout', async () => {
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: undefined }, quiet);
    let beats = 0;
    env.on('heartbeat', () => beats++);
    await env.run(activities.slow, 150);
    expect(beats).toBe(0);
  });
});
