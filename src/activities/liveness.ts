import { Context } from '@temporalio/activity';

/**
 * Heartbeats while an activity runs, so Temporal notices a worker that died mid-activity
 * within the activity's heartbeat timeout (seconds) instead of its start-to-close timeout
 * (minutes), and retries it on another worker. A liveness beat only: the activity's
 * own progress is not recorded (activities that resume from heartbeat details, the sweep
 * and the governance preview, heartbeat themselves and are not wrapped). Activities
 * scheduled without a heartbeat timeout run as they are.
 */
export function withLiveness<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  const wrapped: Record<string, (...args: never[]) => Promise<unknown>> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      const ctx = Context.current();
      const timeoutMs = ctx.info.heartbeatTimeoutMs;
      if (!timeoutMs) return fn(...args);
      // A third of the timeout: two beats may be late before the server gives up on the worker.
      const beat = setInterval(() => ctx.heartbeat(), Math.max(200, Math.floor(timeoutMs / 3)));
      try {
        ctx.heartbeat();
        return await fn(...args);
      } finally {
        clearInterval(beat);
      }
    };
  }
  return wrapped as T;
}
