/**
 * Pagination helpers, one per style the reference vendors use. Each is an
 * async generator over items so callers can stop early; each takes a page
 * fetcher so it works with the shared HttpClient and with vendor SDKs alike.
 */

/** Salesforce REST query: follow `nextRecordsUrl` until `done` (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_query.htm). */
export async function* paginateNextUrl<T>(
  first: string,
  fetchPage: (pathOrUrl: string) => Promise<{ records: T[]; done: boolean; nextRecordsUrl?: string | undefined }>,
): AsyncGenerator<T> {
  let next: string | undefined = first;
  while (next !== undefined) {
    const page = await fetchPage(next);
    yield* page.records;
    next = page.done ? undefined : page.nextRecordsUrl;
  }
}

/** NetSuite SuiteQL: `limit`/`offset` with `hasMore` in each page. */
export async function* paginateOffset<T>(
  limit: number,
  fetchPage: (offset: number, limit: number) => Promise<{ items: T[]; hasMore: boolean }>,
): AsyncGenerator<T> {
  let offset = 0;
  for (;;) {
    const page = await fetchPage(offset, limit);
    yield* page.items;
    if (!page.hasMore || page.items.length === 0) return;
    offset += page.items.length;
  }
}

/** Stripe list endpoints: `starting_after` = id of the last item, until `has_more` is false. */
export async function* paginateCursor<T extends { id: string }>(
  fetchPage: (startingAfter: string | undefined) => Promise<{ data: T[]; has_more: boolean }>,
): AsyncGenerator<T> {
  let after: string | undefined;
  for (;;) {
    const page = await fetchPage(after);
    yield* page.data;
    const last = page.data[page.data.length - 1];
    if (!page.has_more || last === undefined) return;
    after = last.id;
  }
}

/** Kantata: `page` (1-based) and `per_page`, with the total `count` in each response. */
export async function* paginatePages<T>(
  perPage: number,
  fetchPage: (page: number, perPage: number) => Promise<{ items: T[]; count: number }>,
): AsyncGenerator<T> {
  for (let page = 1; ; page++) {
    const res = await fetchPage(page, perPage);
    yield* res.items;
    if (res.items.length === 0 || page * perPage >= res.count) return;
  }
}

/** Drains an async iterable into an array. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
