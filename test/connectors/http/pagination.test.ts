import { collect, paginateCursor, paginateNextUrl, paginateOffset, paginatePages, TokenBucket } from '../../../src/connectors/http';

const items = Array.from({ length: 7 }, (_, i) => ({ id: `r${i + 1}` }));

test('nextRecordsUrl: follows until done', async () => {
  const calls: string[] = [];
  const pages: Record<string, { records: { id: string }[]; done: boolean; nextRecordsUrl?: string }> = {
    '/query?q=x': { records: items.slice(0, 3), done: false, nextRecordsUrl: '/query/01g-3' },
    '/query/01g-3': { records: items.slice(3, 6), done: false, nextRecordsUrl: '/query/01g-6' },
    '/query/01g-6': { records: items.slice(6), done: true },
  };
  const got = await collect(paginateNextUrl('/query?q=x', async (u) => (calls.push(u), pages[u]!)));
  expect(got.map((r) => r.id)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7']);
  expect(calls).toEqual(['/query?q=x', '/query/01g-3', '/query/01g-6']);
});

test('offset/hasMore: advances by page size to the end', async () => {
  const calls: [number, number][] = [];
  const got = await collect(paginateOffset(3, async (offset, limit) => (calls.push([offset, limit]), { items: items.slice(offset, offset + limit), hasMore: offset + limit < items.length })));
  expect(got).toEqual(items);
  expect(calls).toEqual([[0, 3], [3, 3], [6, 3]]);
});

test('starting_after: cursor is the last id of each page', async () => {
  const calls: (string | undefined)[] = [];
  const got = await collect(
    paginateCursor(async (after) => {
      calls.push(after);
      const start = after === undefined ? 0 : items.findIndex((i) => i.id === after) + 1;
      return { data: items.slice(start, start + 3), has_more: start + 3 < items.length };
    }),
  );
  expect(got).toEqual(items);
  expect(calls).toEqual([undefined, 'r3', 'r6']);
});

test('page/per_page: stops when page * per_page reaches count', async () => {
  const calls: number[] = [];
  const got = await collect(paginatePages(3, async (page, per) => (calls.push(page), { items: items.slice((page - 1) * per, page * per), count: items.length })));
  expect(got).toEqual(items);
  expect(calls).toEqual([1, 2, 3]);
});

test('page/per_page: an exact multiple does not ask for an empty page', async () => {
  const six = items.slice(0, 6);
  const calls: number[] = [];
  await collect(paginatePages(3, async (page, per) => (calls.push(page), { items: six.slice((page - 1) * per, page * per), count: 6 })));
  expect(calls).toEqual([1, 2]);
});

test('token bucket: burst of capacity, then one token per 1/rate seconds, FIFO', async () => {
  let clock = 0;
  const sleeps: number[] = [];
  const bucket = new TokenBucket({ capacity: 2, refillPerSecond: 4, now: () => clock, sleep: async (ms) => { sleeps.push(ms); clock += ms; } });
  const order: number[] = [];
  await Promise.all([1, 2, 3, 4].map((n) => bucket.acquire().then(() => order.push(n))));
  expect(order).toEqual([1, 2, 3, 4]);
  expect(sleeps).toEqual([250, 250]);
  expect(clock).toBe(500);
  bucket.pauseFor(1000);
  await bucket.acquire();
  expect(clock).toBe(1500);
});
