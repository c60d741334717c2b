import { formatTrail } from '../../src/cli/audit';
import { openDb, type DbHandle } from '../../src/db';
import { eq } from 'drizzle-orm';
import { AuditRepository, type AuditLinkInput } from '../../src/db/audit';
import { auditLinks } from '../../src/db/schema';
import { testDatabaseUrl } from '../support/database';

describe('audit links', () => {
  let h: DbHandle;
  beforeAll(async () => {
    h = await openDb({ dataDir: 'memory://' });
  });
  afterAll(async () => h?.close());

  const link = (sourceId: string, amountMinor: number, over: Partial<AuditLinkInput> = {}): AuditLinkInput => ({
    dealId: 'deal-OPP-A', documentKind: 'invoice', documentNumber: 'INV-1', documentLineId: 'INV-1-1', billingEventId: `BE:CTR-A:v1:${sourceId}:1`,
    sourceKind: 'TIME', sourceId, contractLineId: 'CTR-A-L2', quoteLineId: 'QL-2', amountMinor, currency: 'USD', ...over,
  });

  it('writes each (document, line, source) once, however often a retry repeats it, and prints the chain', async () => {
    const repo = new AuditRepository(h.db);
    const links = [link('TE-1', 150_000), link('TE-2', 104_000), link('evt-1', 254_000, { documentKind: 'payment', documentLineId: 'evt-1', billingEventId: null, sourceKind: 'invoice.paid', contractLineId: null, quoteLineId: null })];
    expect(await repo.record(links)).toBe(3);
    expect(await repo.record(links)).toBe(0); // the retried activity changes nothing
    const trail = await repo.trail('INV-1');
    expect(trail.lines.map((l) => [l.documentLineId, l.items.map((i) => [i.sourceId, i.amountMinor])])).toEqual([['INV-1-1', [['TE-1', 150_000], ['TE-2', 104_000]]]]);
    expect(trail.payments.map((p) => [p.sourceId, p.amountMinor])).toEqual([['evt-1', 254_000]]);
    expect(formatTrail(trail)).toEqual([
      'invoice INV-1  (deal deal-OPP-A)',
      '  line INV-1-1',
      '    BE:CTR-A:v1:TE-1:1 <- TIME TE-1  USD 1500.00  contract line CTR-A-L2 <- quote line QL-2',
      '    BE:CTR-A:v1:TE-2:1 <- TIME TE-2  USD 1040.00  contract line CTR-A-L2 <- quote line QL-2',
      '  payment evt-1 (invoice.paid)  USD 2540.00',
    ]);
    expect(await repo.dealIds()).toEqual(['deal-OPP-A']);
  });

  it("formats each amount in its currency's own exponent", () => {
    const link = (sourceId: string, amountMinor: number, currency: string) => ({ id: 1, dealId: 'deal-J', documentKind: 'invoice' as const, documentNumber: 'INV-J', documentLineId: 'INV-J-1', billingEventId: null, sourceKind: 'TIME', sourceId, contractLineId: null, quoteLineId: null, amountMinor, currency });
    const lines = formatTrail({ documentNumber: 'INV-J', dealId: 'deal-J', lines: [{ documentLineId: 'INV-J-1', items: [link('TE-1', 5_000, 'JPY'), link('TE-2', 1_234, 'KWD'), link('TE-3', -5, 'USD')] }], payments: [], creditMemos: [] });
    // JPY has no minor unit (5,000 yen), KWD three (1.234 dinar), USD two (-0.05 dollars).
    expect(lines.slice(2)).toEqual([
      '    (no event) <- TIME TE-1  JPY 5000  contract line ? <- quote line ?',
      '    (no event) <- TIME TE-2  KWD 1.234  contract line ? <- quote line ?',
      '    (no event) <- TIME TE-3  USD -0.05  contract line ? <- quote line ?',
    ]);
  });
});

const url = testDatabaseUrl();
const drivers: Array<[string, () => Promise<DbHandle>]> = [['PGlite (memory)', () => openDb({ dataDir: 'memory://' })]];
if (url) drivers.push(['PostgreSQL (DATABASE_URL)', () => openDb({ databaseUrl: url })]);

describe.each(drivers)('audit links in one statement on %s', (_name, open) => {
  let h: DbHandle;
  const deal = `deal-BULK-${process.pid}-${Date.now()}`;
  beforeAll(async () => {
    h = await open();
  });
  afterAll(async () => {
    await h.db.delete(auditLinks).where(eq(auditLinks.dealId, deal));
    await h.close();
  });

  it('writes 1,200 links of one invoice at once, every field as given (quotes, accents, nulls, a credit line), and a repeat writes none', async () => {
    const links: AuditLinkInput[] = Array.from({ length: 1_200 }, (_, i) => ({
      dealId: deal, documentKind: 'invoice', documentNumber: `INV-B-${deal}`, documentLineId: `L-${i % 3}`, billingEventId: i === 7 ? null : `BE:"q'uote":${i}`,
      sourceKind: 'TIME', sourceId: `TE-${i}-é`, contractLineId: i === 8 ? null : 'CTR-L1', quoteLineId: 'QL-1', amountMinor: i === 9 ? null : 250 * i, currency: 'EUR',
    }));
    const credit: AuditLinkInput = { dealId: deal, documentKind: 'credit_memo', documentNumber: `CM-B-${deal}`, documentLineId: 'CM-1', billingEventId: null, sourceKind: 'TIME', sourceId: 'TE-1-é', contractLineId: 'CTR-L1', quoteLineId: 'QL-1', amountMinor: -250, currency: 'EUR', reversesLineId: 'L-1' };
    const repo = new AuditRepository(h.db);
    expect(await repo.record([...links, credit])).toBe(1_201);
    expect(await repo.record([...links.slice(0, 10), credit])).toBe(0);
    const stored = await repo.forDeal(deal);
    expect(stored).toHaveLength(1_201);
    const byId = new Map(stored.map(({ id: _id, ...l }) => [`${l.documentKind}:${l.sourceId}`, l]));
    expect(byId.get('invoice:TE-7-é')).toMatchObject({ billingEventId: null, amountMinor: 1_750, documentLineId: 'L-1' });
    expect(byId.get('invoice:TE-8-é')).toMatchObject({ contractLineId: null, billingEventId: `BE:"q'uote":8` });
    expect(byId.get('invoice:TE-9-é')?.amountMinor).toBeNull();
    expect(byId.get('credit_memo:TE-1-é')).toMatchObject({ reversesLineId: 'L-1', amountMinor: -250 });
    // 250 x (0 + 1 + ... + 1,199) less the null at i = 9: 250 x (719,400 - 9) = 179,847,750
    expect(stored.filter((l) => l.documentKind === 'invoice').reduce((a, l) => a + (l.amountMinor ?? 0), 0)).toBe(179_847_750);
  });
});
