import { InFlightLimit } from '../../../src/connectors/http';

const tick = () => new Promise<void>((r) => setImmediate(r));

test('slots go to waiting callers in the order they asked; a release hands its slot to the next', async () => {
  const limit = new InFlightLimit(2);
  const order: string[] = [];
  const a = await limit.acquire();
  const b = await limit.acquire();
  const waiting = ['c', 'd', 'e'].map((name) => limit.acquire().then((release) => (order.push(name), release)));
  await tick();
  expect(limit.stats()).toEqual({ inFlight: 2, waiting: 3 });
  expect(order).toEqual([]);
  b();
  b(); // a second call of the same release frees nothing more
  await tick();
  expect(order).toEqual(['c']);
  expect(limit.stats()).toEqual({ inFlight: 2, waiting: 2 });
  a();
  await tick();
  expect(order).toEqual(['c', 'd']);
  for (const r of await Promise.all(waiting.slice(0, 2))) r();
  await tick();
  expect(order).toEqual(['c', 'd', 'e']);
  (await waiting[2]!)();
  expect(limit.stats()).toEqual({ inFlight: 0, waiting: 0 });
});

test("pauseFor holds every new request back until the vendor's Retry-After is over", async () => {
  let clock = 1_000;
  const sleeps: number[] = [];
  const limit = new InFlightLimit(5, { now: () => clock, sleep: async (ms) => void (sleeps.push(ms), (clock += ms)) });
  limit.pauseFor(2_000);
  limit.pauseFor(500); // a shorter pause does not shorten the longer one
  const release = await limit.acquire();
  expect(sleeps).toEqual([2_000]);
  expect(clock).toBe(3_000);
  release();
  await limit.acquire();
  expect(sleeps).toEqual([2_000]);
});

test('a limit is a whole number of at least one', () => {
  expect(() => new InFlightLimit(0)).toThrow('an in-flight limit is a whole number >= 1, not 0');
  expect(() => new InFlightLimit(2.5)).toThrow(RangeError);
});
