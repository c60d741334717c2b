import { Project } from '../../../src/canonical';
import { ConnectorError } from '../../../src/connectors/errors';
import { bearerTokenAuth, HttpClient, staticSecret } from '../../../src/connectors/http';
import { createKantataHttp, KantataPsaAdapter } from '../../../src/connectors/psa/kantata.adapter';
import { SANDBOX_KANTATA_TOKENS } from '../../../src/sandbox/credentials';
import { startTestSandbox, type TestSandbox } from '../../support/sandbox';

let sandbox: TestSandbox;
let psa: KantataPsaAdapter;
let control: HttpClient;
let base: string;

const project = (id: string) =>
  Project.parse({
    id,
    name: `Acme rollout ${id}`,
    contractId: `contract-${id}`,
    contractVersion: 1,
    customerId: 'cust-1',
    templateId: 'IMPL-STD',
    startDate: '2025-04-01',
    endDate: '2025-09-30',
    phases: [
      { id: `${id}-ph1`, name: 'Discovery', milestones: [{ id: `${id}-m1`, name: 'Blueprint signed off', contractLineId: 'cl-fixed', dueDate: '2025-05-01' }], tasks: [{ id: `${id}-t1`, name: 'Workshops', billable: true, contractLineId: 'cl-tm' }] },
      { id: `${id}-ph2`, name: 'Build', tasks: [{ id: `${id}-t2`, name: 'Configuration', billable: true, contractLineId: 'cl-tm' }, { id: `${id}-t3`, name: 'Internal QA', billable: false }] },
    ],
    rolePlaceholders: [{ id: `${id}-r1`, role: 'Senior Consultant', region: 'EMEA', plannedMinutes: 48_000, phaseId: `${id}-ph1` }],
  });

const failure = async (p: Promise<unknown>): Promise<ConnectorError> => {
  try {
    await p;
  } catch (err) {
    if (err instanceof ConnectorError) return err;
    throw err;
  }
  throw new Error('expected a ConnectorError');
};

const count = async (kind: string, pred: (d: Record<string, unknown>) => boolean = () => true) => (await sandbox.store.list('kantata', kind)).items.filter((r) => pred(r.data)).length;
const seed = async (kind: string, data: Record<string, unknown>) => (await control.request<{ id: string }>({ method: 'POST', path: `/_sandbox/${kind}`, json: data })).body.id;

beforeAll(async () => {
  sandbox = await startTestSandbox();
  base = `${sandbox.url}/kantata/api/v1`;
  psa = new KantataPsaAdapter(createKantataHttp({ baseUrl: base, auth: bearerTokenAuth(staticSecret(SANDBOX_KANTATA_TOKENS[0])), timeoutMs: 2000 }), { perPage: 2 });
  control = new HttpClient({ system: 'kantata-control', baseUrl: `${sandbox.url}/kantata` });
});
afterAll(() => sandbox.close());
afterEach(() => sandbox.faults.clear());

test('creates a project from the template: workspace, deliverables, milestones, tasks, role placeholder', async () => {
  const p = project('p1');
  const ref = await psa.createProject({ project: p, currency: 'EUR', idempotencyKey: 'deal-opp-1/create-project/contract-p1', rateCardId: 'rc-7' });
  expect(ref.created).toBe(true);
  expect(Object.keys(ref.ids).sort()).toEqual(['p1', 'p1-m1', 'p1-ph1', 'p1-ph2', 'p1-r1', 'p1-t1', 'p1-t2', 'p1-t3']);
  expect(ref.ids.p1).toBe(ref.id);

  const ws = (await sandbox.store.get('kantata', 'workspaces', ref.id))!.data;
  expect(ws).toMatchObject({ title: 'Acme rollout p1', currency: 'EUR', start_date: '2025-04-01', due_date: '2025-09-30', budgeted: true, rate_card_id: 'rc-7', billing_mode_default: 'time_and_materials', archived: false });
  expect(String(ws.description).split('\n')[0]).toBe('q2c-ref:deal-opp-1/create-project/contract-p1');

  const stories = (await sandbox.store.list('kantata', 'stories')).items.map((r) => r.data).filter((s) => s.workspace_id === ref.id);
  expect(stories.map((s) => [s.title, s.story_type, s.parent_id, s.billable, s.fixed_fee])).toEqual([
    ['Discovery', 'deliverable', null, true, false],
    ['Blueprint signed off', 'milestone', ref.ids['p1-ph1'], true, true],
    ['Workshops', 'task', ref.ids['p1-ph1'], true, false],
    ['Build', 'deliverable', null, true, false],
    ['Configuration', 'task', ref.ids['p1-ph2'], true, false],
    ['Internal QA', 'task', ref.ids['p1-ph2'], false, false],
  ]);
  const res = (await sandbox.store.get('kantata', 'resources', ref.ids['p1-r1']!))!.data;
  expect(res).toMatchObject({ workspace_id: ref.id, role_name: 'Senior Consultant', name: 'Senior Consultant · EMEA q2c-ref:p1-r1', planned_minutes: 48_000, story_id: ref.ids['p1-ph1'], is_unnamed: true });

  const again = await psa.createProject({ project: p, currency: 'EUR', idempotencyKey: 'deal-opp-1/create-project/contract-p1' });
  expect(again).toEqual({ ...ref, created: false });
  expect(await count('workspaces', (d) => String(d.description).includes('contract-p1'))).toBe(1);
  expect(await count('stories', (d) => d.workspace_id === ref.id)).toBe(6);
  expect(await count('resources', (d) => d.workspace_id === ref.id)).toBe(1);
});

test('a workspace POST that commits and then times out: the retry finds it; exactly one workspace', async () => {
  const p = project('p2');
  const key = 'deal-opp-2/create-project/contract-p2';
  sandbox.faults.add({ vendor: 'kantata', kind: 'timeout_after_commit', method: 'POST', path: '^/api/v1/workspaces\\.json$', times: 1 });
  const err = await failure(psa.createProject({ project: p, currency: 'EUR', idempotencyKey: key }));
  expect(['HTTP.TIMEOUT', 'HTTP.CONNECTION']).toContain(err.code);
  expect(await count('workspaces', (d) => String(d.description).includes(key))).toBe(1);
  const retry = await psa.createProject({ project: p, currency: 'EUR', idempotencyKey: key });
  expect(retry.created).toBe(false);
  expect(await count('workspaces', (d) => String(d.description).includes(key))).toBe(1);
  expect(await count('stories', (d) => d.workspace_id === retry.id)).toBe(6);
});

test('a story POST that commits and times out half way: the retry completes without duplicates', async () => {
  const p = project('p3');
  const key = 'deal-opp-3/create-project/contract-p3';
  // The workspace is created; the first story create commits and its response comes too late.
  sandbox.faults.add({ vendor: 'kantata', kind: 'timeout_after_commit', delayMs: 3000, method: 'POST', path: '^/api/v1/stories\\.json$', times: 1 });
  const err = await failure(psa.createProject({ project: p, currency: 'EUR', idempotencyKey: key }));
  expect(err.code).toBe('HTTP.TIMEOUT');
  const wsId = (await sandbox.store.list('kantata', 'workspaces')).items.find((r) => String(r.data.description).includes(key))!.id;
  expect(await count('stories', (d) => d.workspace_id === wsId)).toBe(1);
  const retry = await psa.createProject({ project: p, currency: 'EUR', idempotencyKey: key });
  expect([retry.created, retry.id]).toEqual([false, wsId]);
  expect(await count('stories', (d) => d.workspace_id === wsId)).toBe(6);
});

test('a change order\'s scope on the same workspace: a story POST that commits and times out is found on retry; removed scope is archived and hidden', async () => {
  const ref = await psa.createProject({ project: project('p21'), currency: 'EUR', idempotencyKey: 'deal-opp-21/create-project/contract-p21' });
  const phases = [{ id: 'cl-new-P1', name: 'Data migration', milestones: [{ id: 'cl-new-M1', name: 'Design signed off', contractLineId: 'cl-new', dueDate: '2025-06-30' }], tasks: [{ id: 'cl-new-T1', name: 'Migration work', billable: true, contractLineId: 'cl-new' }] }];
  // The phase's POST commits and its answer comes too late: the retry takes that story and creates the other two.
  sandbox.faults.add({ vendor: 'kantata', kind: 'timeout_after_commit', delayMs: 3000, method: 'POST', path: '^/api/v1/stories\\.json$', times: 1 });
  const err = await failure(psa.addProjectScope({ projectId: ref.id, phases }));
  expect(err.code).toBe('HTTP.TIMEOUT');
  const retry = await psa.addProjectScope({ projectId: ref.id, phases });
  expect(retry.created).toEqual(['cl-new-M1', 'cl-new-T1']);
  expect(await count('stories', (d) => d.workspace_id === ref.id)).toBe(6 + 3);
  const again = await psa.addProjectScope({ projectId: ref.id, phases });
  expect(again).toEqual({ ids: retry.ids, created: [] });
  const rows = (await sandbox.store.list('kantata', 'stories')).items.map((r) => r.data).filter((d) => d.workspace_id === ref.id && String(d.description).includes('cl-new'));
  expect(rows.map((d) => [d.title, d.story_type, d.parent_id, d.due_date ?? null])).toEqual([
    ['Data migration', 'deliverable', null, null],
    ['Design signed off', 'milestone', retry.ids['cl-new-P1'], '2025-06-30'],
    ['Migration work', 'task', retry.ids['cl-new-P1'], null],
  ]);

  // Removed scope: archived in Kantata, hidden from a plain story list, still mapped for q2c (time on it is excluded, not lost).
  expect(await psa.archiveProjectScope({ projectId: ref.id, refs: ['cl-new-P1', 'cl-new-M1', 'cl-new-T1', 'not-there'], reason: 'removed' })).toEqual({ archived: ['cl-new-P1', 'cl-new-M1', 'cl-new-T1'] });
  const listed = await control.request<{ count: number }>({ method: 'GET', path: '/api/v1/stories.json', query: { workspace_id: ref.id }, headers: { authorization: `Bearer ${SANDBOX_KANTATA_TOKENS[0]}` } });
  expect(listed.body.count).toBe(6);
  expect((await psa.getProjectIds(ref.id))['cl-new-T1']).toBe(retry.ids['cl-new-T1']);
});

test('approved time since a watermark, valued by user custom fields, across pages', async () => {
  const p = project('p4');
  const ref = await psa.createProject({ project: p, currency: 'EUR', idempotencyKey: 'k-p4' });
  const user = await seed('users', { full_name: 'Ana Consultant', email_address: 'ana@firm.example' });
  for (const [name, value] of [['Role', 'Senior Consultant'], ['Region', 'EMEA'], ['Legal Entity', 'le-de']]) {
    await seed('custom_field_values', { subject_type: 'User', subject_id: user, custom_field_name: name, value, display_value: value });
  }
  const since = new Date(Date.now() - 1000).toISOString();
  const te = (story: string | undefined, date: string, minutes: number, approved: boolean, notes?: string) =>
    seed('time_entries', { workspace_id: ref.id, story_id: story ?? null, user_id: user, date_performed: date, time_in_minutes: minutes, approved, billable: true, notes: notes ?? null });
  const a = await te(ref.ids['p4-t1'], '2025-04-02', 450, true, 'Kick-off workshop');
  await te(ref.ids['p4-t1'], '2025-04-03', 120, false);
  const b = await te(ref.ids['p4-t2'], '2025-04-03', 480, true);
  await te(ref.ids['p4-t3'], '2025-04-04', 60, true); // internal QA: no contract line
  const c = await te(ref.ids['p4-t2'], '2025-04-04', 240, true);
  // Marked non-billable in Kantata on a billable task; and an entry without the flag takes its task's.
  const d = await seed('time_entries', { workspace_id: ref.id, story_id: ref.ids['p4-t2'], user_id: user, date_performed: '2025-04-05', time_in_minutes: 30, approved: true, billable: false });
  const e = await seed('time_entries', { workspace_id: ref.id, story_id: ref.ids['p4-t1'], user_id: user, date_performed: '2025-04-05', time_in_minutes: 15, approved: true });

  const entries = await psa.listApprovedTime({ projectId: ref.id, project: p, since });
  const common = { projectId: 'p4', contractId: 'contract-p4', contractLineId: 'cl-tm', resourceId: user, role: 'Senior Consultant', region: 'EMEA', resourceLegalEntityId: 'le-de', approved: true, overtime: false, billable: true };
  expect(entries).toEqual([
    { ...common, id: a, taskId: 'p4-t1', workDate: '2025-04-02', minutes: 450, description: 'Kick-off workshop', externalIds: { kantata: a } },
    { ...common, id: b, taskId: 'p4-t2', workDate: '2025-04-03', minutes: 480, externalIds: { kantata: b } },
    { ...common, id: c, taskId: 'p4-t2', workDate: '2025-04-04', minutes: 240, externalIds: { kantata: c } },
    { ...common, id: d, taskId: 'p4-t2', workDate: '2025-04-05', minutes: 30, externalIds: { kantata: d }, billable: false },
    { ...common, id: e, taskId: 'p4-t1', workDate: '2025-04-05', minutes: 15, externalIds: { kantata: e } },
  ]);
  expect(await psa.listApprovedTime({ projectId: ref.id, project: p, since: new Date(Date.now() + 60_000).toISOString() })).toEqual([]);
});

test('time by a user without the custom fields is a non-retryable error naming them', async () => {
  const p = project('p5');
  const ref = await psa.createProject({ project: p, currency: 'EUR', idempotencyKey: 'k-p5' });
  const user = await seed('users', { full_name: 'No Fields' });
  await seed('time_entries', { workspace_id: ref.id, story_id: ref.ids['p5-t1'], user_id: user, date_performed: '2025-04-02', time_in_minutes: 60, approved: true });
  const err = await failure(psa.listApprovedTime({ projectId: ref.id, project: p, since: '2000-01-01T00:00:00Z' }));
  expect([err.code, err.retryable]).toEqual(['HTTP.UNEXPECTED_RESPONSE', false]);
  expect(err.message).toContain('role');
  expect(err.message).toContain('resourceLegalEntityId');
});

test('approved expenses, then the invoice reference written back once', async () => {
  const p = project('p6');
  const ref = await psa.createProject({ project: p, currency: 'EUR', idempotencyKey: 'k-p6' });
  const e1 = await seed('expenses', { workspace_id: ref.id, user_id: '77', date: '2025-04-05', category: 'Travel', amount_in_cents: 23_450, currency: 'EUR', approved: true, notes: 'Train Berlin-Munich' });
  await seed('expenses', { workspace_id: ref.id, user_id: '77', date: '2025-04-06', category: 'Meals', amount_in_cents: 3_000, currency: 'EUR', approved: false });
  const e2 = await seed('expenses', { workspace_id: ref.id, user_id: '77', date: '2025-04-07', category: 'Meals', amount_in_cents: 4_200, currency: 'EUR', approved: true, billable: false });
  const expenses = await psa.listApprovedExpenses({ projectId: ref.id, project: p, since: '2000-01-01T00:00:00Z', expenseContractLineId: 'cl-exp' });
  expect(expenses).toEqual([
    { id: e1, projectId: 'p6', contractId: 'contract-p6', contractLineId: 'cl-exp', resourceId: '77', category: 'Travel', amount: { amountMinor: 23_450, currency: 'EUR' }, incurredOn: '2025-04-05', approved: true, description: 'Train Berlin-Munich', externalIds: { kantata: e1 }, billable: true },
    { id: e2, projectId: 'p6', contractId: 'contract-p6', contractLineId: 'cl-exp', resourceId: '77', category: 'Meals', amount: { amountMinor: 4_200, currency: 'EUR' }, incurredOn: '2025-04-07', approved: true, externalIds: { kantata: e2 }, billable: false },
  ]);

  const input = { projectId: ref.id, invoiceNumber: 'INV-2001', invoiceDate: '2025-04-30', timeEntryIds: [], expenseIds: [e1] };
  sandbox.faults.add({ vendor: 'kantata', kind: 'timeout_after_commit', method: 'POST', path: '^/api/v1/invoices\\.json$', times: 1 });
  expect(['HTTP.TIMEOUT', 'HTTP.CONNECTION']).toContain((await failure(psa.recordInvoice(input))).code);
  const retry = await psa.recordInvoice(input);
  expect(retry.created).toBe(false);
  expect(await count('invoices', (d) => d.user_invoice_number === 'INV-2001')).toBe(1);
  expect((await sandbox.store.get('kantata', 'expenses', e1))!.data).toMatchObject({ invoice_id: retry.id, is_invoiced: true });
  expect(await psa.recordInvoice(input)).toEqual({ id: retry.id, created: false });
});

test('close (archive) the project; repeating is harmless; archived projects are still found by their reference', async () => {
  const p = project('p7');
  const ref = await psa.createProject({ project: p, currency: 'EUR', idempotencyKey: 'k-p7' });
  await psa.closeProject(ref.id, 'deal cancelled');
  await psa.closeProject(ref.id, 'deal cancelled');
  expect((await sandbox.store.get('kantata', 'workspaces', ref.id))!.data).toMatchObject({ archived: true, status_message: 'deal cancelled' });
  expect((await psa.createProject({ project: p, currency: 'EUR', idempotencyKey: 'k-p7' })).created).toBe(false);
});

test('auth: the next token is accepted during rotation; a wrong one is HTTP.AUTH', async () => {
  const next = new KantataPsaAdapter(createKantataHttp({ baseUrl: base, auth: bearerTokenAuth(staticSecret(SANDBOX_KANTATA_TOKENS[1])) }));
  expect((await next.createProject({ project: project('p8'), currency: 'EUR', idempotencyKey: 'k-p8' })).created).toBe(true);
  const wrong = new KantataPsaAdapter(createKantataHttp({ baseUrl: base, auth: bearerTokenAuth(staticSecret('nope')) }));
  const err = await failure(wrong.createProject({ project: project('p9'), currency: 'EUR', idempotencyKey: 'k-p9' }));
  expect([err.code, err.retryable, err.meta.vendorCode, err.meta.status]).toEqual(['HTTP.AUTH', false, 'authentication', 401]);
});

test('validation errors carry Kantata messages; 429 carries Retry-After', async () => {
  const err = await failure(psa.createProject({ project: project('p10'), currency: 'eur', idempotencyKey: 'k-p10' }));
  expect([err.code, err.retryable, err.message]).toEqual(['HTTP.VALIDATION', false, 'kantata POST /kantata/api/v1/workspaces.json: 422 Currency is invalid']);
  sandbox.faults.add({ vendor: 'kantata', kind: 'rate_limit', retryAfterSeconds: 10, times: 1 });
  const e429 = await failure(psa.listApprovedExpenses({ projectId: '1', project: project('p11'), since: '2000-01-01T00:00:00Z', expenseContractLineId: 'x' }));
  expect([e429.code, e429.retryAfterMs]).toEqual(['HTTP.RATE_LIMITED', 10_000]);
});

test('getProjectIds reads back the ids createProject gave (every page): the same map, and a story completed in Kantata keeps its id', async () => {
  const p = project('p9');
  const ref = await psa.createProject({ project: p, currency: 'USD', idempotencyKey: 'deal-opp-9/create-project/contract-p9' });
  const { p9: _workspace, ...records } = ref.ids;
  // perPage is 2: the six stories and the placeholder come from several pages.
  expect(await psa.getProjectIds(ref.id)).toEqual(records);

  const milestoneStory = ref.ids['p9-m1']!;
  const http = new HttpClient({ system: 'kantata-lead', baseUrl: base, auth: bearerTokenAuth(staticSecret(SANDBOX_KANTATA_TOKENS[0])) });
  const put = await http.request<{ stories: Record<string, { state: string; completed_at?: string }> }>({ method: 'PUT', path: `/stories/${milestoneStory}.json`, json: { story: { state: 'completed' } } });
  expect(put.body.stories[milestoneStory]?.state).toBe('completed');
  expect(put.body.stories[milestoneStory]?.completed_at).toEqual(expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/));
  expect((await psa.getProjectIds(ref.id))['p9-m1']).toBe(milestoneStory);
  const bad = await http.request({ method: 'PUT', path: `/stories/${milestoneStory}.json`, json: { story: { state: 'done', workspace_id: '1' } }, allowStatus: [422] });
  expect(bad.body).toEqual({ errors: [{ type: 'validation', message: 'workspace_id is not an updatable attribute' }] });
});

test('milestone events: completed / accepted milestone stories changed in [since, until), read across pages, oldest first', async () => {
  const p = project('p12');
  const ref = await psa.createProject({ project: p, currency: 'USD', idempotencyKey: 'k-p12' });
  const lead = new HttpClient({ system: 'kantata-lead', baseUrl: base, auth: bearerTokenAuth(staticSecret(SANDBOX_KANTATA_TOKENS[0])) });
  const pause = () => new Promise((r) => setTimeout(r, 5));
  const move = async (id: string, state: string) => {
    await lead.request({ method: 'PUT', path: `/stories/${id}.json`, json: { story: { state } } });
    await pause();
  };
  const story = async (title: string, story_type: string) => (await lead.request<{ results: Array<{ id: string }> }>({ method: 'POST', path: '/stories.json', json: { story: { workspace_id: ref.id, title, story_type } } })).body.results[0]!.id;
  const m1 = ref.ids['p12-m1']!;
  const extra = await story('Extra sign-off', 'milestone'); // added in Kantata: no q2c reference
  const other = await story('Later milestone', 'milestone');
  const review = await story('Review', 'milestone');
  await pause();
  const since = new Date().toISOString();
  await pause();
  await move(ref.ids['p12-t1']!, 'completed'); // a task, not a milestone
  await move(m1, 'completed');
  await move(extra, 'accepted'); // accepted straight away: no completion stamp
  await move(m1, 'accepted');
  await move(review, 'completed');
  const until = new Date().toISOString();
  await pause();
  await move(other, 'completed'); // after the window
  const row = async (id: string) => (await sandbox.store.get('kantata', 'stories', id))!.data as { completed_at: string; accepted_at: string };
  const [r1, rx, ro, rr] = [await row(m1), await row(extra), await row(other), await row(review)];

  // perPage is 2: the window's three milestone stories come on two pages.
  expect(await psa.listMilestoneEvents({ projectId: ref.id, since, until })).toEqual([
    { psaId: m1, milestoneId: 'p12-m1', title: 'Blueprint signed off', status: 'completed', at: r1.completed_at },
    { psaId: extra, title: 'Extra sign-off', status: 'accepted', at: rx.accepted_at },
    { psaId: m1, milestoneId: 'p12-m1', title: 'Blueprint signed off', status: 'accepted', at: r1.accepted_at },
    { psaId: review, title: 'Review', status: 'completed', at: rr.completed_at },
  ]);
  expect(await psa.listMilestoneEvents({ projectId: ref.id, since: until, until: new Date(Date.now() + 1000).toISOString() })).toEqual([
    { psaId: other, title: 'Later milestone', status: 'completed', at: ro.completed_at },
  ]);
  // Kantata filters by story type and update window: only the milestone stories changed in the window travel.
  const res = await lead.request<{ count: number }>({ method: 'GET', path: '/stories.json', query: { workspace_id: ref.id, story_type: 'milestone', updated_after: since, updated_before: until } });
  expect(res.body.count).toBe(3);
});

test('the same reads as delivery items: Kantata ids, the entry and task billable flags, the role, approval at the last change', async () => {
  const p = project('p13');
  const ref = await psa.createProject({ project: p, currency: 'EUR', idempotencyKey: 'k-p13' });
  const user = await seed('users', { full_name: 'Ana Consultant' });
  for (const [name, value] of [['Role', 'Senior Consultant'], ['Region', 'EMEA'], ['Legal Entity', 'le-de']]) {
    await seed('custom_field_values', { subject_type: 'User', subject_id: user, custom_field_name: name, value, display_value: value });
  }
  const [t1, t2, t3] = [ref.ids['p13-t1']!, ref.ids['p13-t2']!, ref.ids['p13-t3']!];
  const te = (data: Record<string, unknown>) => seed('time_entries', { workspace_id: ref.id, user_id: user, approved: true, ...data });
  const a = await te({ story_id: t1, date_performed: '2025-04-02', time_in_minutes: 450, billable: true, notes: 'Kick-off workshop' });
  await te({ story_id: t3, date_performed: '2025-04-02', time_in_minutes: 60, billable: true }); // internal QA: no contract line, not read
  const b = await te({ story_id: t2, date_performed: '2025-04-03', time_in_minutes: 30, billable: false, notes: null });
  const c = await te({ story_id: t1, date_performed: '2025-04-04', time_in_minutes: 15 }); // no flag: its task's (billable)
  const d = await te({ story_id: t2, date_performed: '2025-04-05', time_in_minutes: 90, billable: true, role_name: 'Architect', approved_at: '2025-04-06T09:00:00+02:00' });
  const x = await seed('expenses', { workspace_id: ref.id, date: '2025-04-05', category: 'Travel', amount_in_cents: 23_450, currency: 'EUR', approved: true }); // no user, no flag
  const updated = async (kind: string, id: string) => String((await sandbox.store.get('kantata', kind, id))!.data['updated_at']);
  const reportedAt = '2025-04-30T00:00:00.000Z';

  const common = { kind: 'timeEntry', projectId: ref.id, resourceId: user, role: 'Senior Consultant' };
  expect(await psa.listDeliveredTime({ projectId: ref.id, project: p, since: '2000-01-01T00:00:00Z', reportedAt })).toEqual([
    { ...common, sourceId: a, taskId: t1, workDate: '2025-04-02', minutes: 450, billable: true, notes: 'Kick-off workshop', approvedAt: await updated('time_entries', a) },
    { ...common, sourceId: b, taskId: t2, workDate: '2025-04-03', minutes: 30, billable: false, approvedAt: await updated('time_entries', b) },
    { ...common, sourceId: c, taskId: t1, workDate: '2025-04-04', minutes: 15, billable: true, approvedAt: await updated('time_entries', c) },
    { ...common, sourceId: d, taskId: t2, workDate: '2025-04-05', minutes: 90, billable: true, role: 'Architect', approvedAt: '2025-04-06T07:00:00.000Z' },
  ]);
  expect(await psa.listDeliveredExpenses({ projectId: ref.id, project: p, since: '2000-01-01T00:00:00Z', reportedAt, expenseContractLineId: 'cl-exp' })).toEqual([
    { kind: 'expense', sourceId: x, projectId: ref.id, resourceId: 'unassigned', category: 'Travel', incurredOn: '2025-04-05', amountMinor: 23_450, currency: 'EUR', billable: true, approvedAt: await updated('expenses', x) },
  ]);

  // A user without the custom fields cannot be valued: the same error as listApprovedTime.
  const nobody = await seed('users', { full_name: 'No Fields' });
  await te({ story_id: t1, user_id: nobody, date_performed: '2025-04-07', time_in_minutes: 60 });
  const err = await failure(psa.listDeliveredTime({ projectId: ref.id, project: p, since: '2000-01-01T00:00:00Z', reportedAt }));
  expect([err.code, err.retryable]).toEqual(['HTTP.UNEXPECTED_RESPONSE', false]);
});

test('milestone states as delivery items keyed by the story id; milestones q2c did not create are named, not delivered', async () => {
  const p = project('p14');
  const ref = await psa.createProject({ project: p, currency: 'USD', idempotencyKey: 'k-p14' });
  const lead = new HttpClient({ system: 'kantata-lead', baseUrl: base, auth: bearerTokenAuth(staticSecret(SANDBOX_KANTATA_TOKENS[0])) });
  const move = async (id: string, state: string) => {
    await lead.request({ method: 'PUT', path: `/stories/${id}.json`, json: { story: { state } } });
    await new Promise((r) => setTimeout(r, 5));
  };
  const extra = (await lead.request<{ results: Array<{ id: string }> }>({ method: 'POST', path: '/stories.json', json: { story: { workspace_id: ref.id, title: 'Extra sign-off', story_type: 'milestone' } } })).body.results[0]!.id;
  const m1 = ref.ids['p14-m1']!;
  const since = new Date(Date.now() - 1000).toISOString();
  await move(m1, 'completed');
  await move(extra, 'accepted');
  await move(m1, 'accepted');
  const until = new Date(Date.now() + 1000).toISOString();
  const r1 = (await sandbox.store.get('kantata', 'stories', m1))!.data as { completed_at: string; accepted_at: string };
  expect(await psa.listDeliveredMilestones({ projectId: ref.id, since, until })).toEqual({
    items: [
      { kind: 'milestone', sourceId: m1, projectId: ref.id, title: 'Blueprint signed off', status: 'completed', at: r1.completed_at },
      { kind: 'milestone', sourceId: m1, projectId: ref.id, title: 'Blueprint signed off', status: 'accepted', at: r1.accepted_at },
    ],
    foreign: [extra],
  });
});
