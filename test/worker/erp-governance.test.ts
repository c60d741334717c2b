import { ConfigError, parseConfig } from '../../src/config';
import { erpSlotsPerWorker } from '../../src/worker';

test("each worker process takes its whole-number share of the ERP account's concurrency, at least one", () => {
  expect(erpSlotsPerWorker({ ERP_CONCURRENCY: 5, ERP_WORKERS: 1 })).toBe(5);
  expect(erpSlotsPerWorker({ ERP_CONCURRENCY: 15, ERP_WORKERS: 3 })).toBe(5);
  // 5 over 2 processes: 2 each, 4 in flight at most; never 3 each (6 would trip the governor).
  expect(erpSlotsPerWorker({ ERP_CONCURRENCY: 5, ERP_WORKERS: 2 })).toBe(2);
  // More processes than slots: each keeps one (the governor's 429s, retried by Temporal, pace the excess).
  expect(erpSlotsPerWorker({ ERP_CONCURRENCY: 2, ERP_WORKERS: 4 })).toBe(1);
});

test('ERP_CONCURRENCY and ERP_WORKERS default to the base tier and one process; no rate limit unless set; bad values name the setting', () => {
  const base = { TEMPORAL_ADDRESS: 'localhost:7233' };
  const cfg = parseConfig(base);
  expect([cfg.ERP_CONCURRENCY, cfg.ERP_WORKERS, cfg.ERP_ACTIVITIES_PER_SECOND]).toEqual([5, 1, undefined]);
  expect(parseConfig({ ...base, ERP_CONCURRENCY: '15', ERP_WORKERS: '3' })).toMatchObject({ ERP_CONCURRENCY: 15, ERP_WORKERS: 3 });
  expect(() => parseConfig({ ...base, ERP_CONCURRENCY: '0' })).toThrow(ConfigError);
  expect(() => parseConfig({ ...base, ERP_WORKERS: '1.5' })).toThrow(/ERP_WORKERS/);
});
