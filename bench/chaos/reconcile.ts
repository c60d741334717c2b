/**
 * The chaos run's independent reconciliation: what each deal should have
 * billed, computed by hand from its inputs (deals.ts expectedOf), against what
 * the vendors hold — NetSuite invoices and revenue journals, AvaTax documents,
 * Stripe payments — not against q2c's own state. q2c's state is read only to
 * check that it agrees with the vendors (payments applied once, attention).
 */
import type { Client } from '@temporalio/client';
import type { RunningSandbox } from '../../src/sandbox/server';
import type { SandboxRecord } from '../../src/sandbox/store';
import { dealWorkflowId, getDealStateQuery, getDeliveryStateQuery, type DealView, type DeliveryView } from '../../src/contract';
import { expectedOf, type PlannedDeal } from './deals';
import { vendorRecords } from './vendor-records';

const cents = (v: unknown) => Math.round(Number(v ?? 0) * 100);

export interface DealCheck {
  opportunityId: string;
  /** Settled: billed, taxed, paid and applied as the inputs say; a deal whose bad data asks for an operator is settled once it asks (parked with its reason). */
  settled: boolean;
  parkedWithReason: boolean;
  /** Why a deal without findings is not settled yet (an invoice not paid, a payment not applied). */
  waiting: string[];
  /** Everything that is not as the inputs say, one sentence each. */
  findings: string[];
  /** Cents billed beyond the inputs (the same work twice) and short of them (work lost). */
  duplicateCents: number;
  lostCents: number;
  invoices: number;
  taxDocuments: number;
  payments: number;
  revenueJournals: number;
  stage?: string;
}

export interface Reconciliation {
  deals: number;
  settled: number;
  /** Of the settled, those waiting for an operator with a reason (an entry un-approved after billing). */
  parkedWithReason: number;
  expectedCents: number;
  erpCents: number;
  duplicateCents: number;
  lostCents: number;
  duplicateRecords: number;
  invoices: number;
  taxDocuments: number;
  orphanTaxDocuments: number;
  payments: number;
  revenueJournals: number;
  checks: DealCheck[];
  findings: string[];
}

interface Snapshot {
  invoices: SandboxRecord[];
  tax: SandboxRecord[];
  payments: SandboxRecord[];
  journals: SandboxRecord[];
}

async function snapshot(sandbox: RunningSandbox): Promise<Snapshot> {
  return {
    invoices: await vendorRecords(sandbox, 'netsuite', 'invoice', 'deal-'),
    tax: await vendorRecords(sandbox, 'avalara', 'transaction'),
    payments: await vendorRecords(sandbox, 'stripe', 'payment_intent'),
    journals: await vendorRecords(sandbox, 'netsuite', 'journalEntry', 'deal-'),
  };
}

type Line = { amount: number; quantity?: number; contractLineId: string };
const linesOf = (r: SandboxRecord): Line[] =>
  (((r.data['item'] as { items?: Array<Record<string, unknown>> } | undefined)?.items ?? []) as Array<Record<string, unknown>>).map((l) => ({
    amount: cents(l['amount']),
    ...(l['quantity'] !== undefined ? { quantity: Number(l['quantity']) } : {}),
    contractLineId: String(l['custcol_q2c_contract_line_id'] ?? ''),
  }));

/** One deal against the vendors' records. */
async function checkDeal(p: PlannedDeal, snap: Snapshot, client: Client): Promise<DealCheck> {
  const findings: string[] = [];
  const waiting: string[] = [];
  const check: DealCheck = { opportunityId: p.opportunityId ?? p.key, settled: false, parkedWithReason: false, waiting, findings, duplicateCents: 0, lostCents: 0, invoices: 0, taxDocuments: 0, payments: 0, revenueJournals: 0 };
  if (p.error) findings.push(`harness could not drive the deal: ${p.error}`);
  if (!p.opportunityId) return check;
  const dealId = dealWorkflowId(p.opportunityId);
  const exp = expectedOf(p);
  const invoices = snap.invoices.filter((r) => r.externalId!.startsWith(`${dealId}:invoice:`));
  check.invoices = invoices.length;

  // Fixed fee: M1 and M2, each on exactly one invoice line.
  const feeLines = invoices.flatMap(linesOf).filter((l) => l.contractLineId.endsWith('-L1'));
  const lost = (amount: number, why: string) => {
    check.lostCents += amount;
    findings.push(why);
  };
  const twice = (amount: number, why: string) => {
    check.duplicateCents += amount;
    findings.push(why);
  };
  for (const want of exp.milestones) {
    const found = feeLines.filter((l) => l.amount === want).length;
    if (found === 0) lost(want, `milestone line of ${want} cents is on no NetSuite invoice`);
    if (found > 1) twice(want * (found - 1), `milestone line of ${want} cents is on ${found} NetSuite invoices`);
  }
  for (const l of feeLines) if (!exp.milestones.includes(l.amount)) twice(l.amount, `unexpected fixed-fee line of ${l.amount} cents`);
  // Time: minutes x 250 cents, to the cent.
  const timeLines = invoices.flatMap(linesOf).filter((l) => l.contractLineId.endsWith('-L2'));
  const timeCents = timeLines.reduce((a, l) => a + l.amount, 0);
  const timeWhy = `time billed ${timeCents} cents, inputs say ${exp.timeCents} (${exp.timeMinutes} min x 250)`;
  if (timeCents > exp.timeCents) twice(timeCents - exp.timeCents, timeWhy);
  if (timeCents < exp.timeCents) lost(exp.timeCents - timeCents, timeWhy);
  const otherLines = invoices.flatMap(linesOf).filter((l) => !/-L[12]$/.test(l.contractLineId));
  for (const l of otherLines) twice(l.amount, `invoice line on ${l.contractLineId || 'no contract line'} for ${l.amount} cents: nothing in the inputs bills it`);

  // Tax: one committed AvaTax document per invoice, with the invoice's tax; none without an invoice.
  // AvaTax documents are coded by invoice id (the run counts the ones no NetSuite invoice of any deal has).
  const invoiceIds = new Set(invoices.map((r) => String(r.data['custbody_q2c_invoice_id'])));
  const dealTax = snap.tax.filter((t) => invoiceIds.has(String(t.data['code'])));
  check.taxDocuments = dealTax.length;
  for (const inv of invoices) {
    const id = String(inv.data['custbody_q2c_invoice_id']);
    const docs = dealTax.filter((t) => t.data['code'] === id);
    const erpTax = cents(inv.data['taxTotal']);
    if (docs.length === 0 && erpTax !== 0) findings.push(`invoice ${id} carries ${erpTax} cents of tax and has no AvaTax document`);
    for (const d of docs) {
      if (d.data['status'] !== 'Committed') findings.push(`AvaTax document ${id} is ${String(d.data['status'])}, not committed`);
      if (cents(d.data['totalTax']) !== erpTax) findings.push(`invoice ${id}: NetSuite tax ${erpTax} cents, AvaTax ${cents(d.data['totalTax'])}`);
    }
  }

  // Payments: what Stripe took per invoice, applied once by the deal.
  const pis = snap.payments.filter((r) => (r.data['metadata'] as Record<string, string> | undefined)?.['q2c_opportunity_id'] === p.opportunityId && r.data['status'] === 'succeeded');
  check.payments = pis.length;
  const paidByInvoice = new Map<string, number>();
  for (const pi of pis) {
    const id = (pi.data['metadata'] as Record<string, string>)['q2c_invoice_id']!;
    paidByInvoice.set(id, (paidByInvoice.get(id) ?? 0) + Number(pi.data['amount']));
  }

  // Revenue journals: none twice (same line, same date in two journals).
  const journals = snap.journals.filter((r) => r.externalId!.startsWith(`${dealId}:revenue:`));
  check.revenueJournals = journals.length;
  const seen = new Set<string>();
  for (const j of journals) {
    const lines = ((j.data['line'] as { items?: Array<Record<string, unknown>> } | undefined)?.items ?? []) as Array<Record<string, unknown>>;
    for (const l of lines) {
      const key = `${String(l['custcol_q2c_contract_line_id'] ?? l['memo'] ?? '')}@${String(j.data['tranDate'])}:${cents(l['credit'] ?? 0)}`;
      if (seen.has(key)) findings.push(`revenue for ${key} is journalled twice`);
      seen.add(key);
    }
  }

  // q2c's side: it applied exactly what Stripe took, and nothing waits.
  let view: DealView | undefined;
  let delivery: DeliveryView | undefined;
  try {
    const handle = client.workflow.getHandle(dealId);
    view = await handle.query(getDealStateQuery);
    delivery = await handle.query(getDeliveryStateQuery);
    // A workflow task failing in a loop (a non-determinism, a bug) never settles: name it.
    const raw = (await handle.describe()).raw;
    const wft = raw.pendingWorkflowTask;
    if (wft && (wft.attempt ?? 0) > 3) findings.push(`workflow task failing in a loop: attempt ${wft.attempt}`);
    for (const a of raw.pendingActivities ?? []) if ((a.attempt ?? 0) > 1) waiting.push(`${a.activityType?.name ?? 'activity'} retrying (attempt ${a.attempt}): ${a.lastFailure?.message ?? ''}`.trim());
  } catch (err) {
    waiting.push(`deal cannot be queried: ${(err as Error).message}`);
  }
  check.stage = view?.stage;
  // A parked step is a finding; NEEDS_ATTENTION for a delivery attention item is judged with the attention below.
  if (view && view.exceptions.length > 0) findings.push(`deal parked: ${JSON.stringify(view.exceptions.map((e) => `${e.code}: ${e.message}`)).slice(0, 300)}`);
  if (!delivery) waiting.push('no delivery state yet');
  for (const inv of invoices) {
    const id = String(inv.data['custbody_q2c_invoice_id']);
    const took = paidByInvoice.get(id) ?? 0;
    if (took < cents(inv.data['total'])) waiting.push(`invoice ${id}: Stripe took ${took} of ${cents(inv.data['total'])} cents`);
  }
  if (delivery) {
    const posted = delivery.invoices.filter((i) => i.externalId !== undefined);
    if (posted.length !== invoices.length) waiting.push(`q2c has ${posted.length} posted invoices, NetSuite ${invoices.length}`);
    for (const inv of delivery.invoices) {
      const took = paidByInvoice.get(inv.id) ?? 0;
      if (inv.paidMinor > took) findings.push(`invoice ${inv.number}: q2c applied ${inv.paidMinor} cents, Stripe took only ${took}`);
      else if (inv.paidMinor < took) waiting.push(`invoice ${inv.number}: q2c applied ${inv.paidMinor} of the ${took} cents Stripe took`);
    }
    // Bad data must be visible where the deal's operators look, with its reason.
    const shown = JSON.stringify({ attention: delivery.attention, excluded: delivery.excluded, conflicts: (delivery as { conflicts?: unknown[] }).conflicts ?? [] });
    const expectShown: Partial<Record<NonNullable<PlannedDeal['bad']>, string>> = { otherCurrencyExpense: 'EXCLUDED.CURRENCY_MISMATCH', conflictingDuplicate: '"differences"', unapprovedAfterBilling: 'UNAPPROVED_AFTER_BILLING' };
    const mark = p.bad && expectShown[p.bad];
    if (mark && !shown.includes(mark)) waiting.push(`the ${p.bad} item is not shown yet (${mark})`);
    const refusal: Partial<Record<NonNullable<PlannedDeal['bad']>, number>> = { negativeMinutes: 400, twentyFiveHours: 400, oversizePayload: 413 };
    if (p.bad && refusal[p.bad] !== undefined && p.badAnswer !== refusal[p.bad]) findings.push(`${p.bad}: the service answered ${p.badAnswer}, not ${refusal[p.bad]}`);
    // Attention is expected only where bad data asks for it.
    for (const a of delivery.attention) if (!(p.bad === 'unapprovedAfterBilling' && a.kind === 'UNAPPROVED_AFTER_BILLING')) findings.push(`attention: ${a.kind} ${a.invoiceId ?? ''} ${a.message}`);
  }
  check.settled = findings.length === 0 && waiting.length === 0 && invoices.length > 0;
  check.parkedWithReason = check.settled && view?.stage === 'NEEDS_ATTENTION';
  return check;
}

/** Every deal against the vendors' records, with the run's totals. */
export async function reconcile(deals: PlannedDeal[], sandbox: RunningSandbox, client: Client): Promise<Reconciliation> {
  const snap = await snapshot(sandbox);
  const checks: DealCheck[] = [];
  for (let i = 0; i < deals.length; i += 20) checks.push(...(await Promise.all(deals.slice(i, i + 20).map((p) => checkDeal(p, snap, client)))));
  const externalIds = new Map<string, number>();
  for (const r of [...snap.invoices, ...snap.journals]) externalIds.set(r.externalId!, (externalIds.get(r.externalId!) ?? 0) + 1);
  const expectedCents = deals.reduce((a, p) => a + expectedOf(p).milestones.reduce((x, y) => x + y, 0) + expectedOf(p).timeCents, 0);
  const erpCents = snap.invoices.reduce((a, r) => a + linesOf(r).reduce((x, l) => x + l.amount, 0), 0);
  const opps = new Set(deals.map((p) => p.opportunityId).filter(Boolean));
  const invoiceCodes = new Set(snap.invoices.map((r) => String(r.data['custbody_q2c_invoice_id'])));
  return {
    deals: deals.length,
    settled: checks.filter((c) => c.settled).length,
    parkedWithReason: checks.filter((c) => c.parkedWithReason).length,
    expectedCents,
    erpCents,
    duplicateCents: checks.reduce((a, c) => a + c.duplicateCents, 0),
    lostCents: checks.reduce((a, c) => a + c.lostCents, 0),
    duplicateRecords: [...externalIds.values()].reduce((a, n) => a + n - 1, 0),
    invoices: snap.invoices.length,
    taxDocuments: snap.tax.length,
    orphanTaxDocuments: snap.tax.filter((t) => !invoiceCodes.has(String(t.data['code']))).length,
    payments: snap.payments.filter((r) => r.data['status'] === 'succeeded').length,
    revenueJournals: snap.journals.length,
    checks,
    findings: checks
      .flatMap((c) => [...c.findings, ...(c.settled ? [] : c.waiting.map((w) => `not settled: ${w}`))].map((f) => `${c.opportunityId}: ${f}`))
      .concat(opps.size < deals.length ? [`${deals.length - opps.size} deal(s) never reached Salesforce`] : [])
      .concat(snap.tax.filter((t) => !invoiceCodes.has(String(t.data['code']))).map((t) => `AvaTax document ${String(t.data['code'])} (${String(t.data['status'])}) has no NetSuite invoice`)),
  };
}
