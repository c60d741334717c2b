import path from 'node:path';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { toDecimalString } from '../canonical/money-math';
import type { Config } from '../config';
import { connectorsConfigFromEnv } from '../connectors';
import type { ErpPort } from '../connectors/erp/erp.port';
import { createNetSuiteAdapter, type NetSuiteConnectionConfig } from '../connectors/erp/netsuite.adapter';
import { openDb, type Db } from '../db';
import { AuditRepository, type AuditTrail } from '../db/audit';
import { NETSUITE_VENDOR } from '../sandbox/netsuite/netsuite.sandbox';
import { startSandbox } from '../sandbox/server';
import { getDealStateQuery, type DealView } from '../contract';
import { getDeliveryStateQuery, type DeliveryView } from '../contract';
import { withDealClient } from './deal-client';
import { sandboxConnectorsConfig } from './dev-secrets';
import { REPO_ROOT } from './toolchain';

export interface AuditCommandDeps {
  /** Opens the database (and closes it when the command is done). */
  db: () => Promise<{ db: Db; close(): Promise<void> }>;
  /** The ERP, for `reconcile` (posted and paid as the ERP sees them). */
  erp?: () => ErpPort;
  /** Invoices as each deal workflow holds them (approved vs billed vs paid), by deal id. */
  dealInvoices?: (dealId: string) => Promise<Array<{ number: string; totalMinor: number; paidMinor: number; status: string; erpCustomerId?: string }>>;
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
 * trail and with what the ERP holds; every difference is listed.
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
  const billed = deps.dealInvoices ? await deps.dealInvoices(dealId) : [];
  for (const inv of billed) {
    if (inv.status === 'REJECTED' || inv.status === 'AWAITING_APPROVAL') continue;
    if (!audited.has(inv.number)) diffs.push({ dealId, invoice: inv.number, what: 'billed by the deal but has no audit links' });
    const paid = paidByLinks.get(inv.number) ?? 0;
    if (paid !== inv.paidMinor) diffs.push({ dealId, invoice: inv.number, what: `paid ${inv.paidMinor} in the deal, ${paid} in the audit trail` });
  }
  const erpCustomers = [...new Set(billed.flatMap((b) => (b.erpCustomerId ? [b.erpCustomerId] : [])))];
  if (deps.erp && erpCustomers.length > 0) {
    const erp = deps.erp();
    const posted = new Map<string | undefined, number>();
    for (const c of erpCustomers) for (const i of await erp.listInvoices(c)) posted.set(i.tranId, i.total.amountMinor);
    for (const inv of billed) {
      if (inv.status === 'REJECTED' || inv.status === 'AWAITING_APPROVAL') continue;
      const total = posted.get(inv.number);
      if (total === undefined) diffs.push({ dealId, invoice: inv.number, what: 'billed by the deal, not in the ERP' });
      else if (total !== inv.totalMinor) diffs.push({ dealId, invoice: inv.number, what: `total ${inv.totalMinor} in the deal, ${total} in the ERP` });
    }
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
    .option('--all', 'every deal with audit links')
    .description('compare approved vs billed vs posted vs paid across the systems and list every difference')
    .action(async (deal: string | undefined, opts: { all?: boolean }) => {
      const h = await deps.db();
      try {
        const repo = new AuditRepository(h.db);
        const deals = opts.all ? await repo.dealIds() : deal ? [deal] : [];
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
 * - the ERP: the configured NetSuite, or the sandbox at Q2C_SANDBOX_URL; otherwise the
 *   stack's sandbox when it answers on SANDBOX_PORT, else the NetSuite sandbox
 *   served in-process from the same database (its records live there).
 */
export function auditCommandDeps(loadConfig: () => Config, logger: Logger): AuditCommandDeps {
  let opened: { db: Awaited<ReturnType<typeof openDb>>; config: Config; sandbox?: Awaited<ReturnType<typeof startSandbox>> } | undefined;
  const cfg = () => (opened?.config ?? loadConfig());
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
        const config = cfg();
        // Only the ERP: reconcile needs no other vendor configured.
        const erpAt = (netsuite: NetSuiteConnectionConfig) => createNetSuiteAdapter({ ...netsuite, logger: logger.child({ component: 'reconcile' }) });
        const own = connectorsConfigFromEnv(config as unknown as Record<string, string | undefined>).netsuite;
        if (own) return erpAt(own);
        if (config.Q2C_SANDBOX_URL) return erpAt(sandboxConnectorsConfig(config.Q2C_SANDBOX_URL).netsuite);
        const stackSandbox = `http://127.0.0.1:${config.SANDBOX_PORT}`;
        if (await answers(`${stackSandbox}/_sandbox/health`)) return erpAt(sandboxConnectorsConfig(stackSandbox).netsuite);
        if (!opened) throw new Error('reconcile: the database is not open');
        opened.sandbox = await startSandbox({ port: 0, db: opened.db.db, vendors: [NETSUITE_VENDOR] });
        return erpAt(sandboxConnectorsConfig(opened.sandbox.url).netsuite);
      };
      return { listInvoices: async (erpCustomerId: string) => (await (port ??= resolve())).listInvoices(erpCustomerId) } as unknown as ErpPort;
    },
    dealInvoices: (dealId) =>
      withDealClient(cfg(), `reconcile of ${dealId}`, async (client) => {
        const handle = client.workflow.getHandle(dealId);
        const { status } = await handle.describe();
        let view: DealView;
        let delivery: DeliveryView | undefined;
        if (status.name === 'RUNNING') {
          view = await handle.query(getDealStateQuery);
          delivery = await handle.query(getDeliveryStateQuery).catch(() => undefined);
        } else {
          view = (await handle.result()) as DealView;
          delivery = view.delivery;
        }
        // An invoice issued after a bill-to change lives under that customer in the ERP.
        return (delivery?.invoices ?? []).map((i) => {
          const erpCustomerId = i.billTo?.erpCustomerId ?? view.ids.erpCustomerId;
          return { number: i.number, totalMinor: i.totalMinor, paidMinor: i.paidMinor, status: i.status, ...(erpCustomerId ? { erpCustomerId } : {}) };
        });
      }),
  };
}
