import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SandboxContext, SandboxPlugin, SandboxVendor } from '../context';
import { SANDBOX_KANTATA_TOKENS } from '../credentials';
import type { SandboxRecord } from '../store';

const VENDOR = 'kantata';
type Row = Record<string, unknown> & { id: string };

/** Kantata error body: { errors: [{ type, message }] }. */
const ktErrors = (type: string, ...messages: string[]) => ({ errors: messages.map((message) => ({ type, message })) });

/** Kantata's response format: results point into a map keyed by id, plus meta for paging. */
function envelope(key: string, rows: Row[], total: number, page: number, perPage: number, included: Record<string, Row[]> = {}) {
  const byId = (rs: Row[]) => Object.fromEntries(rs.map((r) => [r.id, r]));
  return {
    count: total,
    results: rows.map((r) => ({ key, id: r.id })),
    [key]: byId(rows),
    ...Object.fromEntries(Object.entries(included).map(([k, rs]) => [k, byId(rs)])),
    meta: { count: total, page_count: Math.max(1, Math.ceil(total / perPage)), page_number: page, page_size: perPage },
  };
}

const paging = (q: Record<string, string | undefined>) => {
  const page = Math.max(1, Number(q.page ?? 1) || 1);
  const perPage = Math.min(200, Math.max(1, Number(q.per_page ?? 20) || 20));
  return { page, perPage };
};

const now = (): string => new Date().toISOString();

/** Kantata story states. */
const STORY_STATES = ['not started', 'started', 'needs feedback', 'blocked', 'completed', 'accepted', 'rejected'];

async function create(ctx: SandboxContext, kind: string, data: Record<string, unknown>): Promise<Row> {
  const t = now();
  const rec = await ctx.store.insert(VENDOR, kind, { idFor: (seq) => String(seq), data: (id) => ({ id, ...data, created_at: t, updated_at: t }) });
  return rec.data as Row;
}

async function listRows(ctx: SandboxContext, kind: string, filter: (r: Row) => boolean): Promise<Row[]> {
  return (await ctx.store.list(VENDOR, kind)).items.map((r: SandboxRecord) => r.data as Row).filter(filter);
}

/** `search=description:'kw' title:'kw2' free` — every term must match (case-insensitive substring). */
function searchMatches(row: Row, search: string | undefined): boolean {
  if (!search) return true;
  const terms = [...search.matchAll(/(\w+):'([^']*)'|(\S+)/g)];
  return terms.every((m) => {
    const [, field, kw, free] = m;
    const hay = (v: unknown) => String(v ?? '').toLowerCase();
    if (field) return hay(row[field]).includes((kw ?? '').toLowerCase());
    return [row.id, row.title, row.description].some((v) => hay(v).includes((free ?? '').toLowerCase()));
  });
}

/**
 * Kantata OX API v1 (subset): workspaces, stories, resources (unnamed role
 * placeholders), time entries, expenses, invoices and custom field values,
 * with Kantata's response envelope and page/per_page paging. No idempotency
 * key exists; the hazard to rehearse is a POST that commits and then times
 * out (fault `timeout_after_commit`).
 */
export const kantataSandbox: SandboxPlugin = async (app, ctx) => {
  let accepted: readonly string[] = SANDBOX_KANTATA_TOKENS;

  app.put('/_sandbox/tokens', async (req) => {
    accepted = ((req.body ?? {}) as { tokens?: string[] }).tokens ?? SANDBOX_KANTATA_TOKENS;
    return { tokens: accepted.length };
  });
  /** Seeding: what people do in the Kantata UI (log and approve time, file expenses, maintain users). */
  app.post('/_sandbox/:kind', async (req, reply) => {
    const { kind } = req.params as { kind: string };
    if (!['users', 'time_entries', 'expenses', 'custom_field_values'].includes(kind)) return reply.code(404).send(ktErrors('system', `unknown kind ${kind}`));
    const row = await create(ctx, kind, (req.body ?? {}) as Record<string, unknown>);
    return reply.code(201).send(row);
  });

  app.register(
    async (api) => {
      api.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
        const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
        if (!m || !accepted.includes(m[1]!)) return reply.code(401).send(ktErrors('authentication', 'You must be logged in to access this resource.'));
        return undefined;
      });
      const q = (req: FastifyRequest) => req.query as Record<string, string | undefined>;
      const body = <T>(req: FastifyRequest, key: string): T | undefined => ((req.body ?? {}) as Record<string, unknown>)[key] as T | undefined;
      const listReply = async (req: FastifyRequest, key: string, kind: string, filter: (r: Row) => boolean, include?: (rows: Row[]) => Promise<Record<string, Row[]>>) => {
        const { page, perPage } = paging(q(req));
        const all = await listRows(ctx, kind, filter);
        const rows = all.slice((page - 1) * perPage, page * perPage);
        return envelope(key, rows, all.length, page, perPage, include ? await include(rows) : {});
      };
      const since = (r: Row, after: string | undefined) => after === undefined || Date.parse(String(r.updated_at)) >= Date.parse(after);
      const before = (r: Row, until: string | undefined) => until === undefined || Date.parse(String(r.updated_at)) < Date.parse(until);
      const inWorkspace = (r: Row, ws: string | undefined) => ws === undefined || String(r.workspace_id) === ws;

      api.post('/workspaces.json', async (req, reply) => {
        const w = body<Record<string, unknown>>(req, 'workspace');
        const problems: string[] = [];
        if (!w || typeof w.title !== 'string' || w.title === '') problems.push("Title can't be blank");
        if (!w || !['maven', 'buyer'].includes(String(w.creator_role))) problems.push('Creator role must be maven or buyer');
        if (w && w.currency !== undefined && !/^[A-Z]{3}$/.test(String(w.currency))) problems.push('Currency is invalid');
        if (problems.length) return reply.code(422).send(ktErrors('validation', ...problems));
        const row = await create(ctx, 'workspaces', { title: w!.title, description: w!.description ?? '', currency: w!.currency ?? 'USD', start_date: w!.start_date ?? null, due_date: w!.due_date ?? null, budgeted: w!.budgeted ?? false, price_in_cents: w!.price_in_cents ?? null, rate_card_id: w!.rate_card_id ?? null, billing_mode_default: w!.billing_mode_default ?? 'time_and_materials', archived: false });
        return envelope('workspaces', [row], 1, 1, 1);
      });
      // Archived projects are hidden unless include_archived=true, as in Kantata.
      api.get('/workspaces.json', async (req) => listReply(req, 'workspaces', 'workspaces', (r) => searchMatches(r, q(req).search) && (q(req).include_archived === 'true' || r.archived !== true)));
      api.get('/workspaces/:id.json', async (req, reply) => {
        const rec = await ctx.store.get(VENDOR, 'workspaces', (req.params as { id: string }).id);
        return rec ? envelope('workspaces', [rec.data as Row], 1, 1, 1) : reply.code(404).send(ktErrors('system', 'not found'));
      });
      api.put('/workspaces/:id.json', async (req, reply) => {
        const id = (req.params as { id: string }).id;
        const w = body<Record<string, unknown>>(req, 'workspace') ?? {};
        if (!(await ctx.store.get(VENDOR, 'workspaces', id))) return reply.code(404).send(ktErrors('system', 'not found'));
        const allowed = ['title', 'description', 'archived', 'status_message', 'due_date'];
        const bad = Object.keys(w).filter((k) => !allowed.includes(k));
        if (bad.length) return reply.code(422).send(ktErrors('validation', ...bad.map((k) => `${k} is not an updatable attribute`)));
        const rec = await ctx.store.update(VENDOR, 'workspaces', id, (d) => ({ ...d, ...w, updated_at: now() }));
        return envelope('workspaces', [rec.data as Row], 1, 1, 1);
      });

      api.post('/stories.json', async (req, reply) => {
        const s = body<Record<string, unknown>>(req, 'story');
        if (!s || typeof s.title !== 'string' || s.title === '') return reply.code(422).send(ktErrors('validation', "Title can't be blank"));
        if (!(await ctx.store.get(VENDOR, 'workspaces', String(s.workspace_id)))) return reply.code(422).send(ktErrors('validation', 'Workspace must exist'));
        if (!['task', 'deliverable', 'milestone', 'issue'].includes(String(s.story_type ?? 'task'))) return reply.code(422).send(ktErrors('validation', 'Story type is not included in the list'));
        const row = await create(ctx, 'stories', { story_type: 'task', parent_id: null, description: '', billable: true, fixed_fee: false, state: 'not started', archived: false, ...s, workspace_id: String(s.workspace_id) });
        return envelope('stories', [row], 1, 1, 1);
      });
      // Kantata's story filters the PSA sweep uses: type, the update window (setting a state stamps updated_at), and
      // archived (include | only | exclude; archived stories are left out unless asked for).
      api.get('/stories.json', async (req, reply) => {
        const qq = q(req);
        const archived = qq.archived ?? 'exclude';
        if (!['include', 'only', 'exclude'].includes(archived)) return reply.code(422).send(ktErrors('validation', 'archived must be one of include, only, exclude'));
        const wanted = (r: Row) => archived === 'include' || (archived === 'only') === (r.archived === true);
        return listReply(req, 'stories', 'stories', (r) => inWorkspace(r, qq.workspace_id) && (qq.story_type === undefined || r.story_type === qq.story_type) && since(r, qq.updated_after) && before(r, qq.updated_before) && wanted(r));
      });
      api.get('/stories/:id.json', async (req, reply) => {
        const rec = await ctx.store.get(VENDOR, 'stories', (req.params as { id: string }).id);
        return rec ? envelope('stories', [rec.data as Row], 1, 1, 1) : reply.code(404).send(ktErrors('system', 'not found'));
      });
      // What a project lead does in Kantata: move a story through its states (a milestone completed, then accepted).
      api.put('/stories/:id.json', async (req, reply) => {
        const id = (req.params as { id: string }).id;
        const st = body<Record<string, unknown>>(req, 'story') ?? {};
        if (!(await ctx.store.get(VENDOR, 'stories', id))) return reply.code(404).send(ktErrors('system', 'not found'));
        const allowed = ['title', 'description', 'state', 'due_date', 'percentage_complete', 'archived'];
        const bad = Object.keys(st).filter((k) => !allowed.includes(k));
        if (bad.length) return reply.code(422).send(ktErrors('validation', ...bad.map((k) => `${k} is not an updatable attribute`)));
        if (st.state !== undefined && !STORY_STATES.includes(String(st.state))) return reply.code(422).send(ktErrors('validation', 'State is not included in the list'));
        if (st.archived !== undefined && typeof st.archived !== 'boolean') return reply.code(422).send(ktErrors('validation', 'Archived must be true or false'));
        const t = now();
        const rec = await ctx.store.update(VENDOR, 'stories', id, (d) => ({
          ...d,
          ...st,
          ...(st.state === 'completed' && !d.completed_at ? { completed_at: t } : {}),
          ...(st.state === 'accepted' && !d.accepted_at ? { accepted_at: t } : {}),
          updated_at: t,
        }));
        return envelope('stories', [rec.data as Row], 1, 1, 1);
      });

      api.post('/resources.json', async (req, reply) => {
        const r = body<Record<string, unknown>>(req, 'resource');
        if (!r || !(await ctx.store.get(VENDOR, 'workspaces', String(r.workspace_id)))) return reply.code(422).send(ktErrors('validation', 'Workspace must exist'));
        if (typeof r.role_name !== 'string' || r.role_name === '') return reply.code(422).send(ktErrors('validation', "Role can't be blank"));
        const row = await create(ctx, 'resources', { ...r, workspace_id: String(r.workspace_id), user_id: null, is_unnamed: true });
        return envelope('resources', [row], 1, 1, 1);
      });
      api.get('/resources.json', async (req) => listReply(req, 'resources', 'resources', (r) => inWorkspace(r, q(req).workspace_id)));

      const users = async (rows: Row[]) => {
        const ids = new Set(rows.map((r) => String(r.user_id)));
        return { users: await listRows(ctx, 'users', (u) => ids.has(u.id)) };
      };
      api.get('/time_entries.json', async (req) => {
        const qq = q(req);
        return listReply(
          req,
          'time_entries',
          'time_entries',
          (r) => inWorkspace(r, qq.workspace_id) && (qq.approved === undefined || String(r.approved) === qq.approved) && since(r, qq.updated_after),
          (qq.include ?? '').split(',').includes('user') ? users : undefined,
        );
      });
      api.get('/expenses.json', async (req) => {
        const qq = q(req);
        return listReply(req, 'expenses', 'expenses', (r) => inWorkspace(r, qq.workspace_id) && (qq.approved === undefined || String(r.approved) === qq.approved) && since(r, qq.updated_after));
      });
      api.get('/custom_field_values.json', async (req) => {
        const qq = q(req);
        const ids = new Set((qq.with_subject_id ?? '').split(',').filter(Boolean));
        return listReply(req, 'custom_field_values', 'custom_field_values', (r) => (qq.subject_type === undefined || r.subject_type === qq.subject_type) && (ids.size === 0 || ids.has(String(r.subject_id))));
      });

      api.post('/invoices.json', async (req, reply) => {
        const inv = body<{ workspace_ids?: string[]; time_entry_ids?: string[]; expense_ids?: string[]; invoice_date?: string; user_invoice_number?: string }>(req, 'invoice');
        if (!inv || !inv.workspace_ids?.length) return reply.code(422).send(ktErrors('validation', 'Workspaces must be given'));
        const items: [string, string][] = [...(inv.time_entry_ids ?? []).map((id) => ['time_entries', String(id)] as [string, string]), ...(inv.expense_ids ?? []).map((id) => ['expenses', String(id)] as [string, string])];
        for (const [kind, id] of items) {
          const rec = await ctx.store.get(VENDOR, kind, id);
          if (!rec) return reply.code(422).send(ktErrors('validation', `${kind} ${id} does not exist`));
          if (rec.data.invoice_id) return reply.code(422).send(ktErrors('validation', `${kind} ${id} has already been invoiced`));
        }
        const row = await create(ctx, 'invoices', { workspace_ids: inv.workspace_ids.map(String), time_entry_ids: (inv.time_entry_ids ?? []).map(String), expense_ids: (inv.expense_ids ?? []).map(String), invoice_date: inv.invoice_date ?? now().slice(0, 10), user_invoice_number: inv.user_invoice_number ?? null, status: 'new' });
        for (const [kind, id] of items) await ctx.store.update(VENDOR, kind, id, (d) => ({ ...d, invoice_id: row.id, is_invoiced: true, updated_at: now() }));
        return envelope('invoices', [row], 1, 1, 1);
      });
      api.get('/invoices.json', async (req) => {
        const ws = q(req).workspace_id;
        return listReply(req, 'invoices', 'invoices', (r) => ws === undefined || (r.workspace_ids as string[]).includes(ws));
      });
    },
    { prefix: '/api/v1' },
  );
};

export const kantataVendor: SandboxVendor = {
  vendor: VENDOR,
  prefix: '/kantata',
  plugin: kantataSandbox,
  errorBody: (status, message) => ktErrors(status === 429 ? 'rate_limit' : status >= 500 ? 'system' : 'validation', message),
};
