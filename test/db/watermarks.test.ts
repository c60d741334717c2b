import { openDb, type DbHandle } from '../../src/db';
import { WatermarkRepository } from '../../src/db/watermarks';

describe('WatermarkRepository', () => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await openDb({ dataDir: 'memory://' });
  });
  afterAll(() => handle.close());

  it('stores a cursor per (source, stream) and moves it forward only', async () => {
    const marks = new WatermarkRepository(handle.db);
    expect(await marks.cursors('kantata', ['time:1', 'expenses:1'])).toEqual({});
    await marks.advance('kantata', 'time:1', '2026-10-05T10:00:00.000Z');
    await marks.advance('kantata', 'expenses:1', '2026-10-05T09:00:00.000Z');
    await marks.advance('stripe', 'time:1', '2026-12-01T00:00:00.000Z'); // another source, same stream name
    expect(await marks.cursors('kantata', ['time:1', 'expenses:1', 'milestones:1'])).toEqual({ 'time:1': '2026-10-05T10:00:00.000Z', 'expenses:1': '2026-10-05T09:00:00.000Z' });

    // A slower reader finishing last with an older window cannot move the cursor back.
    await marks.advance('kantata', 'time:1', '2026-10-05T08:00:00.000Z');
    await marks.advance('kantata', 'expenses:1', '2026-10-06T09:00:00.000Z');
    expect(await marks.cursors('kantata', ['time:1', 'expenses:1'])).toEqual({ 'time:1': '2026-10-05T10:00:00.000Z', 'expenses:1': '2026-10-06T09:00:00.000Z' });
    expect(await marks.cursors('kantata', [])).toEqual({});
    expect(await marks.cursors('stripe', ['time:1'])).toEqual({ 'time:1': '2026-12-01T00:00:00.000Z' });
  });
});
