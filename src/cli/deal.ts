import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { request } from 'undici';
import { parse as parseYaml } from 'yaml';
import { CliError } from './errors';

/*
 * `q2c deal …`: the operator actions as commands, sent to the service's
 * operator API (the same validation, scopes and audit log as any client).
 * The key is the caller's: Q2C_OPERATOR_KEY, or in the dev stack one of its
 * generated keys with the scope the action needs.
 */

export type Scope = 'read' | 'operate' | 'approve';

export interface DealCommandDeps {
  /** The service's base URL. */
  serviceUrl: () => string;
  /** A bearer key allowed `scope`, or a sentence saying why there is none. */
  keyFor: (scope: Scope) => string;
  out?: (line: string) => void;
}

/** A refusal or bad input as the service answered it, in one message naming the fields. */
export class ServiceAnswerError extends CliError {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    const b = (body ?? {}) as { error?: string; message?: string; reason?: string; issues?: Array<{ path: string; message: string }> };
    const issues = b.issues?.map((i) => `\n  ${i.path || '(body)'}: ${i.message}`).join('') ?? '';
    super(`${status} ${b.error ?? 'error'}${b.reason ? ` (${b.reason})` : ''}: ${b.message ?? JSON.stringify(body)}${issues}`);
    this.name = 'ServiceAnswerError';
  }
}

/** A JSON or YAML file as the request body; the error names the file. */
export function readBody(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    return /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new CliError(`${file}: not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'} (${(err as Error).message})`);
  }
}

export function registerDealCommands(program: Command, deps: DealCommandDeps): void {
  const print = deps.out ?? ((line: string) => console.log(line));
  const call = async (scope: Scope, method: 'GET' | 'POST', path: string, body?: unknown): Promise<void> => {
    const url = `${deps.serviceUrl().replace(/\/+$/, '')}${path}`;
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(url, {
        method,
        headers: { authorization: `Bearer ${deps.keyFor(scope)}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        headersTimeout: 60_000,
        bodyTimeout: 60_000,
      });
    } catch (err) {
      throw new CliError(`the service at ${deps.serviceUrl()} does not answer (${(err as Error).message}): start the stack (npm start) or set Q2C_SERVICE_URL`);
    }
    const text = await res.body.text();
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    if (res.statusCode >= 400) throw new ServiceAnswerError(res.statusCode, parsed);
    print(JSON.stringify(parsed, null, 2));
  };
  const deal = (id: string) => `/deals/${encodeURIComponent(id)}`;

  const cmd = program.command('deal').description("operator actions on a deal, through the service's operator API (Q2C_SERVICE_URL, Q2C_OPERATOR_KEY)");
  cmd.command('show <opportunity>').description("the deal's state").action((opp: string) => call('read', 'GET', deal(opp)));
  cmd
    .command('resolve <opportunity> <action>')
    .description('resolve the parked exception: retry, skip, link (--external-id) or cancel (--reason)')
    .option('--note <text>')
    .option('--external-id <id>', 'with link: the record that already exists')
    .option('--reason <text>', 'with cancel')
    .action((opp: string, action: string, o: { note?: string; externalId?: string; reason?: string }) =>
      call('operate', 'POST', `${deal(opp)}/resolve`, { action, ...(o.note ? { note: o.note } : {}), ...(o.externalId ? { externalId: o.externalId } : {}), ...(o.reason ? { reason: o.reason } : {}) }),
    );
  cmd
    .command('amend <opportunity> <file>')
    .description('a change order (JSON or YAML: requestId, by, reason, baseVersion, effectiveDate, changes)')
    .action((opp: string, file: string) => call('operate', 'POST', `${deal(opp)}/amendments`, readBody(file)));
  cmd
    .command('credit <opportunity> <file>')
    .description('a credit memo (JSON or YAML: requestId, invoiceId, by, reason, note, lines)')
    .action((opp: string, file: string) => call('operate', 'POST', `${deal(opp)}/credit-memos`, readBody(file)));
  cmd
    .command('terminate <opportunity>')
    .description('terminate the contract from an effective date')
    .requiredOption('--effective <date>', "the contract's last day, YYYY-MM-DD")
    .requiredOption('--by <who>')
    .requiredOption('--reason <text>')
    .option('--request-id <id>', 'idempotency key (default: terminate-<effective>)')
    .action((opp: string, o: { effective: string; by: string; reason: string; requestId?: string }) =>
      call('operate', 'POST', `${deal(opp)}/termination`, { requestId: o.requestId ?? `terminate-${o.effective}`, by: o.by, reason: o.reason, effectiveDate: o.effective }),
    );
  cmd
    .command('promise <opportunity> <invoice>')
    .description("record the customer's promise to pay an invoice by a date: its dunning pauses until then")
    .requiredOption('--on <date>', 'the promised payment date, YYYY-MM-DD')
    .requiredOption('--by <who>')
    .requiredOption('--note <text>')
    .option('--request-id <id>', 'idempotency key (default: promise-<invoice>-<date>)')
    .action((opp: string, invoice: string, o: { on: string; by: string; note: string; requestId?: string }) =>
      call('operate', 'POST', `${deal(opp)}/invoices/${encodeURIComponent(invoice)}/promise-to-pay`, { requestId: o.requestId ?? `promise-${invoice}-${o.on}`, by: o.by, promisedOn: o.on, note: o.note }),
    );
  for (const decision of ['approve', 'reject'] as const) {
    cmd
      .command(`${decision}-invoice <opportunity> <invoice>`)
      .description(`${decision} an invoice held for approval (an approve-scope key; the decision is made in its holder's name)`)
      .option('--reason <text>')
      .action((opp: string, invoice: string, o: { reason?: string }) => call('approve', 'POST', `${deal(opp)}/invoices/${encodeURIComponent(invoice)}/decision`, { decision, ...(o.reason ? { reason: o.reason } : {}) }));
  }
  cmd
    .command('write-off <opportunity> <invoice>')
    .description("write off an invoice's open balance (an approve-scope key)")
    .requiredOption('--reason <text>')
    .action((opp: string, invoice: string, o: { reason: string }) => call('approve', 'POST', `${deal(opp)}/invoices/${encodeURIComponent(invoice)}/write-off`, { reason: o.reason }));
}
