import path from 'node:path';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { toDecimalString } from '../canonical/money-math';
import type { Config } from '../config';
import { connectorsConfigFromEnv } from '../connectors';
import type { ErpPort } from '../connectors/erp/erp.port';
import { createNetSuiteAdapter, type NetSuiteConnectionConfig } from '../connectors/erp/netsuite.adapter';
import { createAvalaraAdapter, type AvalaraConnectionConfig } from '../connectors/tax/avalara.adapter';
import type { TaxPort } from '../connectors/tax/tax.port';
import { openDb, type Db } from '../db';
import { AuditRepository, type AuditTrail } from '../db/audit';
import { AVALARA_VENDOR } from '../sandbox/avalara/avalara.sandbox';
import { NETSUITE_VENDOR } from '../sandbox/netsuite/netsuite.sandbox';
import { startSandbox } from '../sandbox/server';
import { getDealStateQuery, type DealView } from '../contract';
import { getDeliveryStateQuery, type AttentionItem, type DeliveryView } from '../contract';
import { dealVisibilityQuery } from '../service/temporal-deal-gateway';
import { withDealClient } from './deal-client';
import { sandboxConnectorsConfig } from './dev-secrets';
import { REPO_ROOT } from './toolchain';

/** One invoice as the deal workflow holds it. */
export interface DealInvoiceRecord {
  /** The invoice id: its tax document's code in AvaTax. */
  id?: string;
  number: string;
  totalMinor: number;
  paidMinor: number;
  status: string;
  erpCustomerId?: string;
  system?: 'erp' | 'stripe';
  /** False while the deal is still issuing it (tax, post, record); absent: issued. */
  issued?: boolean;
}

/** An open attention item of a deal, with the last failure Temporal holds for the step it is held in (ISSUE_STALLED). */
export type DealAttentionRecord = Pick<AttentionItem, 'id' | 'kind' | 'message'> & { invoiceId?: string; lastFailure?: string };

export interface AuditCommandDeps {
  /** Opens the database (and closes it when the command is done). */
  db: () => Promise<{ db: Db; close(): Promise<void> }>;
  /** The ERP, for `reconcile` (posted and paid as the ERP sees them). */
  erp?: () => ErpPort;
  /** The tax engine, for `reconcile`: documents committed for invoices the ERP does not have. */
  tax?: () => Pick<TaxPort, 'getTaxDocument'>;
  /** Invoices as each deal workflow holds them (approved vs billed vs paid), by deal id. */
  dealInvoices?: (dealId: string) => Promise<DealInvoiceRecord[]>;
  /** The deal's open attention items. */
  dealAttention?: (dealId: string) => Promise<DealAttentionRecord[]>;
  /** Running deals that need attention (`reconcile --all` takes them too: a deal stuck on its first invoice has no audit links yet). */
  attentionDeals?: () => Promise<string[]>;
  out?: (line: string) => void;
}

/** Minor units in the currency's own exponent (JPY 0, USD 2, KWD 3), never through a float. */
const money = (minor: number | null, currency: string | null): string =>
  minor === null ? '-' : currency ? `${currency} ${toDecimalString({ amountMinor: minor, currency })}` : String(minor);

/** The chain for one invoice, one line per hop: invoice line -> billing event -> source item -> contract line -> quote line. */
export function formatTrail(t: AuditTrail): string[] {
  if (t.lines.length === 0 && t.payments.length === 0) return [`no audit links for ${t.documentNumber}`];
  const out = [`invoice ${t.documentNumber}  (deal ${t.dealId ?? '?'})`];
  for (const l of t.lines) {
    out.push(`  line ${l.documentLineId}`);
    for (const i of l.items) out.push(`    ${i.billingEventId ?? '(no event)'} <- ${i.sourceKind} ${i.sourceId}  ${money(i.amountMinor, i.currency)}  contract line ${i.contractLineId ?? '?'} <- quote line ${i.quoteLineId ?? '?'}`);
  }
  for (const p of t.payments) out.push(`  payment ${p.sourceId} (${p.sourceKind})  ${money(p.amountMinor, p.currency)}`);
  for (const c of t.creditMemos) out.push(`  credit memo line ${c.documentLineId} reverses ${c.reversesLineId ?? '?'}  ${money(c.amountMinor, c.currency)}`);
  return out;
}

export interface ReconcileDifference {
  dealId: string;
  invoice: string;
  what: string;
}

/**
 * Compares, per deal, what the workflow billed and collected with the audit
 * trail and with what the ERP and the tax engine hold; every difference is
 * listed. Issuing one invoice is tax commit -> ERP post -> audit record, each
 * retried for up to a day: the gaps between them are named from the vendors'
 * records (tax committed in AvaTax with no ERP invoice; an ERP invoice with no
 * audit links), and the deal's open ISSUE_STALLED item with the step's last failure.
 */
export async function reconcileDeal(dealId: string, deps: AuditCommandDeps, repo: AuditRepository): Promise<ReconcileDifference[]> {
  const diffs: ReconcileDifference[] = [];
  const links = await repo.forDeal(dealId);
  const audited = new Map<string, number>();
  const paidByLinks = new Map<string, number>();
  for (const l of links) {
    if (l.documentKind === 'invoice') audited.set(l.documentNumber, (audited.get(l.documentNumber) ?? 0) + (l.amountMinor ?? 0));
    if (l.documentKind === 'payment') paidByLinks.set(l.documentNumber, (paidByLinks.get(l.documentNumber) ?? 0) + (l.amountMinor ?? 0));
  }
  const billed = (deps.dealInvoices ? await deps.dealInvoices(dealId) : []).filter((inv) => inv.status !== 'REJECTED' && inv.status !== 'AWAITING_APPROVAL');
  // An invoice the deal is still issuing is not billed yet: only the vendors' records of it are compared.
  const issued = (inv: DealInvoiceRecord) => inv.issued !== false;
  for (const inv of billed.filter(issued)) {
    if (!audited.has(inv.number)) diffs.push({ dealId, invoice: inv.number, what: 'billed by the deal but has no audit links' });
    const paid = paidByLinks.get(inv.number) ?? 0;
    if (paid !== inv.paidMinor) diffs.push({ dealId, invoice: inv.number, what: `paid ${inv.paidMinor} in the deal, ${paid} in the audit trail` });
  }
  const erpCustomers = [...new Set(billed.flatMap((b) => (b.erpCustomerId && b.system !== 'stripe' ? [b.erpCustomerId] : [])))];
  if (deps.erp && erpCustomers.length > 0) {
    const erp = deps.erp();
    const tax = deps.tax?.();
    const posted = new Map<string | undefined, { total: number; id: string }>();
    for (const c of erpCustomers) for (const i of await erp.listInvoices(c)) posted.set(i.tranId, { total: i.total.amountMinor, id: i.id });
    for (const inv of billed) {
      if (inv.system === 'stripe') continue;
      const inErp = posted.get(inv.number);
      if (inErp === undefined) {
        const doc = tax && inv.id ? await tax.getTaxDocument(inv.id) : undefined;
        if (doc?.status === 'COMMITTED') {
          const taxed = `${money(doc.totalTax.amountMinor, doc.totalTax.currency)} tax`;
          diffs.push({ dealId, invoice: inv.number, what: `tax committed in AvaTax (document ${doc.documentCode}, ${taxed}), no invoice in the ERP${issued(inv) ? ' (the deal has it as posted)' : ''}` });
        } else if (issued(inv)) {
          diffs.push({ dealId, invoice: inv.number, what: 'billed by the deal, not in the ERP' });
        }
      } else if (!issued(inv)) {
        if (!audited.has(inv.number)) diffs.push({ dealId, invoice: inv.number, what: `in the ERP (${inErp.id}), no audit links: posted, audit not recorded` });
      } else if (inErp.total !== inv.totalMinor) {
        diffs.push({ dealId, invoice: inv.number, what: `total ${inv.totalMinor} in the deal, ${inErp.total} in the ERP` });
      }
    }
  }
  for (const a of deps.dealAttention ? await deps.dealAttention(dealId) : []) {
    if (a.kind !== 'ISSUE_STALLED') continue;
    diffs.push({ dealId, invoice: a.invoiceId ?? '-', what: `open attention item ${a.id}: ${a.message}${a.lastFailure ? `; last failure: ${a.lastFailure}` : ''}` });
  }
  return diffs;
}

/** `q2c audit <invoice-number>` and `q2c reconcile <deal|--all>`; the lead wires the deps. */
export function registerAuditCommands(program: Command, deps: AuditCommandDeps): void {
  const print = deps.out ?? ((line: string) => console.log(line));
  program
    .command('audit <invoice-number>')
    .description('print the chain from an invoice line back to the quote line, with payments and credit memos')
    .action(async (number: string) => {
      const h = await deps.db();
      try {
        for (const line of formatTrail(await new AuditRepository(h.db).trail(number))) print(line);
      } finally {
        await h.close();
      }
    });
  program
    .command('reconcile [deal]')
    .option('--all', 'every deal with audit links, and every running deal that needs attention')
    .description('compare approved vs billed vs posted vs paid across the systems and list every difference')
    .action(async (deal: string | undefined, opts: { all?: boolean }) => {
      const h = await deps.db();
      try {
        const repo = new AuditRepository(h.db);
        const deals = opts.all ? [...new Set([...(await repo.dealIds()), ...((await deps.attentionDeals?.()) ?? [])])].sort() : deal ? [deal] : [];
        if (deals.length === 0) throw new Error('give a deal id or --all');
        let n = 0;
        for (const d of deals) {
          for (const diff of await reconcileDeal(d, deps, repo)) {
            n++;
            print(`${diff.dealId}  ${diff.invoice}  ${diff.what}`);
          }
        }
        print(n === 0 ? `reconciled ${deals.length} deal(s): no differences` : `${n} difference(s) in ${deals.length} deal(s)`);
        process.exitCode = n === 0 ? 0 : 1;
      } finally {
        await h.close();
      }
    });
}

// ---------------------------------------------------------------- what the commands run against

/** temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED. */
const PENDING_ACTIVITY_SCHEDULED = 1;

/** The activities of issuing one invoice (src/workflows/invoice-run.workflow.ts). */
const ISSUING_ACTIVITIES = new Set(['taxInvoice', 'postInvoice', 'recordInvoiceIssued']);

/** A pending activity of a deal and its last failure ('<type>: <message>'), as Temporal's describe holds them. */
export interface PendingActivity {
  activityType: string;
  lastFailure?: string;
}

interface DealState {
  view: DealView;
  delivery?: DeliveryView;
  pending: PendingActivity[];
}

/** The pending activities of a workflow's description (`handle.describe().raw`). */
export function pendingActivities(raw: {
  pendingActivities?: Array<{ activityType?: { name?: string | null } | null; state?: number | null; attempt?: number | null; lastFailure?: { message?: string | null; applicationFailureInfo?: { type?: string | null } | null } | null }> | null;
}): PendingActivity[] {
  return (raw.pendingActivities ?? []).map((p) => {
    const f = p.lastFailure;
    const type = f?.applicationFailureInfo?.type;
    const failure = f?.message ? (type ? `${type}: ${f.message}` : f.message) : undefined;
    // Scheduled, never started and never failed: no worker polls its task queue (a misnamed ERP_TASK_QUEUE, the ERP worker down).
    const neverStarted = !failure && (p.attempt ?? 1) <= 1 && p.state === PENDING_ACTIVITY_SCHEDULED;
    return { activityType: p.activityType?.name ?? '', ...(failure ? { lastFailure: failure } : neverStarted ? { lastFailure: 'never started: no worker has taken it from its task queue' } : {}) };
  });
}

/**
 * A deal's open attention items for reconcile. The workflow sees a step's failures only when
 * its retries end; Temporal holds the last one meanwhile. The deal issues one invoice at a
 * time, so the one pending issuing step's last failure is the one stalled invoice's.
 */
export function dealAttentionRecords(attention: readonly AttentionItem[], pending: readonly PendingActivity[]): DealAttentionRecord[] {
  const issuing = pending.filter((p) => ISSUING_ACTIVITIES.has(p.activityType) && p.lastFailure);
  const stalled = attention.filter((a) => a.kind === 'ISSUE_STALLED');
  return attention.map((a) => ({
    id: a.id,
    kind: a.kind,
    message: a.message,
    ...(a.invoiceId ? { invoiceId: a.invoiceId } : {}),
    ...(a.kind === 'ISSUE_STALLED' && stalled.length === 1 && issuing.length === 1 ? { lastFailure: issuing[0]!.lastFailure! } : {}),
  }));
}

const answers = async (url: string): Promise<boolean> => {
  try {
    await fetch(url, { signal: AbortSignal.timeout(1_000) });
    return true;
  } catch {
    return false;
  }
};

/**
 * What `q2c audit` and `q2c reconcile` run against outside the stack process:
 *
 * - the database: DATABASE_URL, or the dev stack's PGlite directory, which only
 *   one process may open: refused while the stack answers on SERVICE_PORT
 *   (`npm start` prints the sample's audit and reconcile itself; stop it, or use
 *   DATABASE_URL, to run them on any deal);
 * - the deal's invoices: from Temporal at TEMPORAL_ADDRESS (a closed deal's
 *   result, a running deal's state query); with the stack stopped, `npm run
 *   temporal` serves the dev server's kept history (.q2c/temporal-dev.sqlite);
 * - the deal's open attention items (a stalled issue with the last failure of the
 *   step Temporal is retrying), and with --all the running deals that need attention;
 * - the ERP and the tax engine: the configured NetSuite and AvaTax, or the sandbox at
 *   Q2C_SANDBOX_URL; otherwise the stack's sandbox when it answers on SANDBOX_PORT,
 *   else their sandboxes served in-process from the same database (their records live there).
 */
export function auditCommandDeps(loadConfig: () => Config, logger: Logger): AuditCommandDeps {
  let opened: { db: Awaited<ReturnType<typeof openDb>>; config: Config; sandbox?: Awaited<ReturnType<typeof startSandbox>> } | undefined;
  const cfg = () => (opened?.config ?? loadConfig());
  const dealStates = new Map<string, Promise<DealState>>();
  return {
    db: async () => {
      const config = loadConfig();
      if (!config.DATABASE_URL && (await answers(`http://127.0.0.1:${config.SERVICE_PORT}/healthz`))) {
        throw new Error(
          `the PGlite database (${config.Q2C_DATA_DIR}/pglite) is already in use by the running dev stack: stop it first (Ctrl-C), or run the stack and this command on DATABASE_URL`,
        );
      }
      const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: path.resolve(REPO_ROOT, config.Q2C_DATA_DIR, 'pglite') });
      opened = { db, config };
      return {
        db: db.db,
        close: async () => {
          await opened?.sandbox?.close();
          await db.close();
          opened = undefined;
        },
      };
    },
    erp: () => {
      let port: Promise<ErpPort> | undefined;
      const resolve = async (): Promise<ErpPort> => {
        // Only the ERP: reconcile needs no other vendor configured.
        const erpAt = (netsuite: NetSuiteConnectionConfig) => createNetSuiteAdapter({ ...netsuite, logger: logger.child({ component: 'reconcile' }) });
        const own = connectorsConfigFromEnv(cfg() as unknown as Record<string, string | undefined>).netsuite;
        return erpAt(own ?? sandboxConnectorsConfig(await sandboxUrl()).netsuite);
      };
      return { listInvoices: async (erpCustomerId: string) => (await (port ??= resolve())).listInvoices(erpCustomerId) } as unknown as ErpPort;
    },
    tax: () => {
      let port: Promise<TaxPort> | undefined;
      const resolve = async (): Promise<TaxPort> => {
        const taxAt = (avalara: AvalaraConnectionConfig) => createAvalaraAdapter({ ...avalara, logger: logger.child({ component: 'reconcile' }) });
        const own = connectorsConfigFromEnv(cfg() as unknown as Record<string, string | undefined>).avalara;
        return taxAt(own ?? sandboxConnectorsConfig(await sandboxUrl()).avalara);
      };
      return { getTaxDocument: async (code: string) => (await (port ??= resolve())).getTaxDocument(code) };
    },
    dealInvoices: async (dealId) => {
      const { view, delivery } = await dealState(dealId);
      // An invoice issued after a bill-to change lives under that customer in the ERP.
      return (delivery?.invoices ?? []).map((i) => {
        const erpCustomerId = i.billTo?.erpCustomerId ?? view.ids.erpCustomerId;
        // A draft the deal is still issuing has no external id yet (its number is its id).
        return { id: i.id, number: i.number, totalMinor: i.totalMinor, paidMinor: i.paidMinor, status: i.status, system: i.system, issued: i.externalId !== undefined, ...(erpCustomerId ? { erpCustomerId } : {}) };
      });
    },
    dealAttention: async (dealId) => {
      const { delivery, pending } = await dealState(dealId);
      return dealAttentionRecords(delivery?.attention ?? [], pending);
    },
    attentionDeals: () =>
      withDealClient(cfg(), 'reconcile --all', async (client) => {
        const ids: string[] = [];
        for await (const w of client.workflow.list({ query: dealVisibilityQuery({ openOnly: true, needsAttention: true }) })) ids.push(w.workflowId);
        return ids;
      }),
  };

  /**
   * A sandbox serving NetSuite and AvaTax, for vendors without settings of their own: Q2C_SANDBOX_URL,
   * the stack's when it answers on SANDBOX_PORT, else served in-process from the database (their records live there).
   */
  async function sandboxUrl(): Promise<string> {
    const config = cfg();
    if (config.Q2C_SANDBOX_URL) return config.Q2C_SANDBOX_URL;
    const stackSandbox = `http://127.0.0.1:${config.SANDBOX_PORT}`;
    if (await answers(`${stackSandbox}/_sandbox/health`)) return stackSandbox;
    if (!opened) throw new Error('reconcile: the database is not open');
    opened.sandbox ??= await startSandbox({ port: 0, db: opened.db.db, vendors: [NETSUITE_VENDOR, AVALARA_VENDOR] });
    return opened.sandbox.url;
  }

  /** The deal as Temporal holds it (a closed deal's result, a running deal's queries), and its pending activities; read once per deal. */
  function dealState(dealId: string): Promise<DealState> {
    let state = dealStates.get(dealId);
    if (!state) {
      state = withDealClient(cfg(), `reconcile of ${dealId}`, async (client) => {
        const handle = client.workflow.getHandle(dealId);
        const described = await handle.describe();
        if (described.status.name !== 'RUNNING') {
          const view = (await handle.result()) as DealView;
          return { view, ...(view.delivery ? { delivery: view.delivery } : {}), pending: [] };
        }
        const view = await handle.query(getDealStateQuery);
        const delivery = await handle.query(getDeliveryStateQuery).catch(() => undefined);
        return { view, ...(delivery ? { delivery } : {}), pending: pendingActivities(described.raw) };
      });
      dealStates.set(dealId, state);
    }
    return state;
  }
}

