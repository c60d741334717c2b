import type { DbHandle } from '../../src/db';
import { RuleSetRepository, ensureDefaultRuleSets } from '../../src/db/rulesets';
import { FakeGovernance } from './support/fake-governance';
import defaultRuleSet from '../../src/rules/rulesets/default.json';
import { NOW, SECRETS, openTestDb, serviceSecrets, startHarness, type Harness } from './support/harness';

const KEYS = { proposer: 'op-proposer-key-cccccccccccccccc', controller: 'op-controller-key-dddddddddddddd' };

describe('rule-set governance over the operator API', () => {
  let database: DbHandle;
  let h: Harness;
  let governance: FakeGovernance;
  const bearer = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
  const post = (url: string, key: string | undefined, body: unknown) => h.inject({ method: 'POST', url, payload: JSON.stringify(body), headers: key ? bearer(key) : { 'content-type': 'application/json' } });
  const v2 = () => ({ ...JSON.parse(JSON.stringify(defaultRuleSet)), version: 2, description: 'consultant US 165.00/h' });

  beforeAll(async () => {
    database = await openTestDb();
    await ensureDefaultRuleSets(database.db);
  });
  afterAll(() => database.close());
  beforeEach(async () => {
    governance = new FakeGovernance();
    h = await startHarness(database, {
      deps: {
        governance,
        secrets: {
          ...serviceSecrets,
          operatorApiKeys: [
            ...serviceSecrets.operatorApiKeys,
            // alice may propose and approve (just not her own); the controller only approves.
            { name: 'alice', key: KEYS.proposer, scopes: ['operate', 'approve'] },
            { name: 'controller', key: KEYS.controller, scopes: ['approve'] },
          ],
        },
      },
    });
  });
  afterEach(() => h.close());

  it('a bad proposal is a 400 naming every bad field by its path; nothing is started', async () => {
    const bad = v2();
    bad.rateCards[0].rates[0].hourlyRate = 165.5;
    bad.intercompany.markupBp = -1;
    const res = await post('/rulesets/proposals', SECRETS.operatorOperate, { ruleSet: bad, effectiveDate: '2026-02-30', timeZone: 'Mars/Olympus', by: 'someone-else' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('BAD_REQUEST');
    expect(res.json().message).toBe('invalid rule-set proposal');
    expect(res.json().issues.map((i: { path: string }) => i.path)).toEqual(['ruleSet.rateCards.0.rates.0.hourlyRate', 'ruleSet.intercompany.markupBp', 'effectiveDate', 'timeZone', '']);
    expect(res.json().issues.find((i: { path: string }) => i.path === '').message).toContain('"by"');
    expect(governance.inputs).toEqual([]);
  });

  it('scopes: no key 401, a read key cannot propose (403), an operate-only key cannot approve (403)', async () => {
    expect((await post('/rulesets/proposals', undefined, { ruleSet: v2(), effectiveDate: '2026-03-01' })).statusCode).toBe(401);
    const read = await post('/rulesets/proposals', SECRETS.operatorRead, { ruleSet: v2(), effectiveDate: '2026-03-01' });
    expect([read.statusCode, read.json()]).toEqual([403, { error: 'FORBIDDEN', message: "this key lacks the 'operate' scope", requiredScope: 'operate' }]);
    expect((await post('/rulesets/proposals', KEYS.proposer, { ruleSet: v2(), effectiveDate: '2026-03-01' })).statusCode).toBe(202);
    const ops = await post('/rulesets/proposals/ruleset-proposal:default:v2/approval', SECRETS.operatorOperate, {});
    expect([ops.statusCode, ops.json()]).toEqual([403, { error: 'FORBIDDEN', message: "this key lacks the 'approve' scope", requiredScope: 'approve' }]);
    expect(governance.proposals.get('ruleset-proposal:default:v2')!.status).toBe('PROPOSED');
  });

  it('propose, read, self-approval refused, approved by another key, a closed proposal refuses a rejection', async () => {
    const res = await post('/rulesets/proposals', KEYS.proposer, { ruleSet: v2(), effectiveDate: '2026-03-01', timeZone: 'America/New_York', expiresInDays: 10, note: 'rate review' });
    expect([res.statusCode, res.json().proposalId, res.json().status]).toEqual([202, 'ruleset-proposal:default:v2', 'PROPOSED']);
    // The author is the key's holder.
    expect(governance.inputs.map((i) => [i.by, i.ruleSet.id, i.ruleSet.version, i.effectiveDate, i.timeZone, i.expiresInDays])).toEqual([['alice', 'default', 2, '2026-03-01', 'America/New_York', 10]]);
    expect((await post('/rulesets/proposals', KEYS.proposer, { ruleSet: v2(), effectiveDate: '2026-03-01' })).json().error).toBe('PROPOSAL_EXISTS');

    const got = await h.inject({ method: 'GET', url: '/rulesets/proposals/ruleset-proposal:default:v2', headers: bearer(SECRETS.operatorRead) });
    expect([got.statusCode, got.json().status, got.json().author, got.json().activatesAt, got.json().expiresAt]).toEqual([200, 'PROPOSED', 'alice', '2026-03-01T05:00:00.000Z', '2025-04-10T12:00:00.000Z']);

    const self = await post('/rulesets/proposals/ruleset-proposal:default:v2/approval', KEYS.proposer, {});
    expect([self.statusCode, self.json()]).toEqual([
      403,
      { error: 'FORBIDDEN', reason: 'RULESET.SELF_APPROVAL', proposalId: 'ruleset-proposal:default:v2', message: 'alice proposed default@2 and cannot approve it: approval must come from someone other than the author' },
    ]);
    const ok = await post('/rulesets/proposals/ruleset-proposal:default:v2/approval', KEYS.controller, { note: 'fine' });
    expect([ok.statusCode, ok.json().status, ok.json().approval]).toEqual([200, 'APPROVED', { by: 'controller', at: NOW.toISOString(), note: 'fine' }]);
    const late = await post('/rulesets/proposals/ruleset-proposal:default:v2/rejection', KEYS.controller, {});
    expect([late.statusCode, late.json().error, late.json().reason]).toEqual([409, 'ACTION_REJECTED', 'RULESET.PROPOSAL_CLOSED']);

    const missing = await h.inject({ method: 'GET', url: '/rulesets/proposals/ruleset-proposal:default:v9', headers: bearer(SECRETS.operatorRead) });
    expect([missing.statusCode, missing.json().error]).toEqual([404, 'PROPOSAL_NOT_FOUND']);
    const badId = await h.inject({ method: 'GET', url: '/rulesets/proposals/default-v2', headers: bearer(SECRETS.operatorRead) });
    expect([badId.statusCode, badId.json().issues[0].path]).toEqual([400, 'id']);
  });

  it('every stored version stays readable, with its status', async () => {
    await new RuleSetRepository(database.db).saveRuleSet({ ...v2(), version: 3 }, { status: 'rejected', governance: { author: 'alice', status: 'REJECTED' } });
    const list = await h.inject({ method: 'GET', url: '/rulesets', headers: bearer(SECRETS.operatorRead) });
    expect(list.json().items.map((r: { id: string; version: number; status: string }) => `${r.id}@${r.version}:${r.status}`)).toEqual(['default@1:approved', 'default@3:rejected']);
    const v3 = await h.inject({ method: 'GET', url: '/rulesets/default/3', headers: bearer(SECRETS.operatorRead) });
    expect([v3.statusCode, v3.json().status, v3.json().governance, v3.json().ruleSet.version]).toEqual([200, 'rejected', { author: 'alice', status: 'REJECTED' }, 3]);
    expect((await h.inject({ method: 'GET', url: '/rulesets/default/7', headers: bearer(SECRETS.operatorRead) })).statusCode).toBe(404);
  });
});
