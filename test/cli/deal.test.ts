import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { registerDealCommands, ServiceAnswerError, type Scope } from '../../src/cli/deal';
import { SECRETS, type Harness, useWebhookHarness } from '../service/support/harness';

/* `q2c deal …` against the real service (its operator routes over loopback HTTP, a fake deal gateway behind them). */
describe('q2c deal', () => {
  let h: Harness;
  useWebhookHarness((current) => ({ h } = current), { 'deal-OPP-1': { stage: 'IN_DELIVERY', correlationId: 'c1' } });
  const keys: Record<Scope, string> = { read: SECRETS.operatorRead, operate: SECRETS.operatorOperate, approve: SECRETS.operatorApprove };
  const dir = mkdtempSync(path.join(tmpdir(), 'q2c-deal-cli-'));

  async function run(...args: string[]): Promise<string[]> {
    const out: string[] = [];
    const program = new Command().exitOverride();
    registerDealCommands(program, { serviceUrl: () => h.baseUrl, keyFor: (scope) => keys[scope], out: (l) => out.push(l) });
    await program.parseAsync(args, { from: 'user' });
    return out;
  }

  it('terminates, credits from a YAML file, approves an invoice and records a promise to pay, each with the key the action needs', async () => {
    const out = await run('deal', 'terminate', 'OPP-1', '--effective', '2030-02-15', '--by', 'ops@firm.example', '--reason', 'customer ends the engagement');
    expect(JSON.parse(out[0]!)).toMatchObject({ workflowId: 'deal-OPP-1', result: { contractVersion: 2, termination: { requestId: 'terminate-2030-02-15', effectiveDate: '2030-02-15' } } });
    const credit = path.join(dir, 'credit.yaml');
    writeFileSync(credit, 'requestId: dispute-7\ninvoiceId: INV-1\nby: ar@firm.example\nreason: DISPUTE\nnote: 60 h of Jan 10 disputed\nlines:\n  - invoiceLineId: INV-1-1\n    sourceItemIds: [TE-1]\n');
    await run('deal', 'credit', 'OPP-1', credit);
    await run('deal', 'approve-invoice', 'OPP-1', 'INV-2');
    await run('deal', 'promise', 'OPP-1', 'INV-3', '--on', '2030-03-31', '--by', 'ar@firm.example', '--note', 'AP run on the 31st');
    expect(h.gateway.calls.map((c) => c.method)).toEqual(['terminateContract', 'creditInvoice', 'decideInvoice', 'promiseToPay']);
    expect(h.gateway.calls[3]).toMatchObject({ request: { requestId: 'promise-INV-3-2030-03-31', invoiceId: 'INV-3', promisedOn: '2030-03-31', by: 'ar@firm.example' } });
    expect(h.gateway.calls[2]).toMatchObject({ decision: { invoiceId: 'INV-2', decision: 'approve', by: 'controller' } });
  });

  it('names the file, and the service\'s field paths, when the input is bad; nothing reaches the deal', async () => {
    await expect(run('deal', 'amend', 'OPP-1', path.join(dir, 'missing.json'))).rejects.toThrow(`${path.join(dir, 'missing.json')}: cannot be read (ENOENT)`);
    const broken = path.join(dir, 'broken.json');
    writeFileSync(broken, '{"requestId": ');
    await expect(run('deal', 'amend', 'OPP-1', broken)).rejects.toThrow(`${broken}: not valid JSON`);
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ requestId: 'co-1', by: 'ops', reason: 'x', baseVersion: 0, effectiveDate: '2030-02-30', changes: [] }));
    const err = await run('deal', 'amend', 'OPP-1', bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceAnswerError);
    expect((err as ServiceAnswerError).status).toBe(400);
    expect((err as Error).message).toMatch(/^400 BAD_REQUEST: invalid amendment\n {2}baseVersion: .*\n {2}effectiveDate: .*\n {2}changes: /);
    expect(h.gateway.calls).toEqual([]);
  });
});
