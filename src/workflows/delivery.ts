import { allHandlersFinished, ApplicationFailure, condition, executeChild, log, patched, proxyActivities, setCurrentDetails, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { BillingActivities } from '../activities/billing.activities';
import {
  amendContractUpdate,
  annotateAttentionUpdate,
  creditInvoiceUpdate,
  decideInvoiceUpdate,
  deliveryBatchSignal,
  getBillingBasisQuery,
  getDeliveryStateQuery,
  getRevenueWaterfallQuery,
  issueProgressSignal,
  paymentSignal,
  promiseToPayUpdate,
  terminateContractUpdate,
  writeOffInvoiceUpdate,
  type AmendContractRequest,
  type AmendContractResult,
  type AmendmentRecord,
  type BillTo,
  type CreditInvoiceRequest,
  type CreditMemoSummary,
  type DealSnapshot,
  type DealView,
  type DeliveryOptions,
  type DeliveryView,
  type IssueContext,
  type IssueResult,
  type TerminateContractRequest,
  type TerminateContractResult,
} from '../contract';
import * as core from '../engagement';
import { initialEngagementState, type Command, type DunningReminder, type CreditBasis, type CreditPlan, type Deal, type DeliveryCarry, type DeliveryInbox, type EngagementState, type InvoiceSummary, type Notice, type Outcome } from '../engagement';
import { clockFor, type BusinessClock } from './business-clock';
import type { DealStage } from '../contract';
import type { Contract } from '../canonical';
import { failureMessage, refusing } from './failures';
import { BILLING_OPTIONS, erpOptions, invoiceRunWorkflow, issueInvoices, type IssueWatch } from './invoice-run.workflow';
import { kpis } from './sinks';

/** Continue-as-new well before Temporal's 10,240-event warning even if the server does not suggest it. */
export const DEFAULT_MAX_HISTORY_EVENTS = 5_000;
const RECENT_BATCHES = 200;

/** What the deal workflow hands to its delivery part. */
export interface DeliveryContext {
  opportunityId: string;
  snapshot: DealSnapshot;
  view: DealView;
  enter(stage: DealStage, note?: string): void;
  key(step: string): string;
  inbox: DeliveryInbox;
  options?: DeliveryOptions;
  /** The deal's ERP task queue (DealInput.erpTaskQueue; absent: ERP_TASK_QUEUE). */
  erpTaskQueue?: string;
  resume?: DeliveryCarry;
  /** Continues the deal as new with this carry; never returns. */
  continueAsNew(carry: DeliveryCarry): Promise<never>;
}

/**
 * Installs the delivery and payment signal handlers at workflow start, so that
 * batches arriving before IN_DELIVERY are buffered, not lost. Repeated batch
 * ids are dropped here; repeated items are dropped when the loop takes them.
 */
export function installDeliveryHandlers(resume?: DeliveryCarry): DeliveryInbox {
  const inbox: DeliveryInbox = resume?.inbox ?? { batches: [], payments: [], recentBatchIds: [] };
  setHandler(deliveryBatchSignal, (batch) => {
    if (inbox.recentBatchIds.includes(batch.batchId)) return;
    inbox.recentBatchIds.push(batch.batchId);
    if (inbox.recentBatchIds.length > RECENT_BATCHES) inbox.recentBatchIds.splice(0, inbox.recentBatchIds.length - RECENT_BATCHES);
    inbox.batches.push(batch);
  });
  setHandler(paymentSignal, (ev) => {
    inbox.payments.push(ev);
  });
  return inbox;
}

const acts = proxyActivities<BillingActivities>(BILLING_OPTIONS);
/** The ERP's activities on the deal's queue: the core's ERP commands, and the operator actions' ERP writes (their audit runs on the main queue). */
const erpActivities = (taskQueue?: string) => proxyActivities<Pick<Activities, 'postIntercompany' | 'postRevenue' | 'postErpContract' | 'postCreditMemo'>>(erpOptions(taskQueue));
type ErpActivities = ReturnType<typeof erpActivities>;
const operatorActs = proxyActivities<Pick<Activities, 'recordCreditMemo' | 'loadInvoiceItems' | 'closeProject' | 'cancelRecurringBilling' | 'resolveBillTo' | 'loadDeliveredItems' | 'addProjectScope' | 'archiveProjectScope'>>(BILLING_OPTIONS);

/** Change orders that add lines (with their PSA scope) and remove unbilled ones. */
const SCOPE_CHANGE_ORDERS = 'scope-change-orders';
/** Dunning: a CRM reminder or a payment retry that fails for good is reported and tried again on a later pass, never fatal to the deal. */
const DUNNING_OPTIONS = { ...BILLING_OPTIONS, retry: { ...BILLING_OPTIONS.retry, maximumAttempts: 5 } };
const dunningActs = proxyActivities<Pick<BillingActivities, 'sendDunningReminder' | 'retryInvoicePayment'>>(DUNNING_OPTIONS);

/** Runs one command of the core as its activity. */
async function run(c: Command, erp: ErpActivities): Promise<void> {
  switch (c.kind) {
    case 'postIntercompany':
      await erp.postIntercompany(c.input);
      return;
    case 'recordPayment':
      await acts.recordPayment(c.input);
      return;
    case 'syncInvoiceStatus':
      await acts.syncInvoiceStatus(c.input);
      return;
    case 'postRevenue':
      await erp.postRevenue(c.input);
      return;
    case 'sendDunningReminder':
      await dunningActs.sendDunningReminder(c.input);
      return;
    case 'retryInvoicePayment':
      // Run by Shell.dun, which feeds the answer back.
      throw ApplicationFailure.nonRetryable('a payment retry runs through Shell.dun', 'DEAL.INTERNAL');
  }
}


/**
 * The IN_DELIVERY part of the deal, as the shell of the engagement core: each
 * pass takes what arrived, asks the core (invoice run, issue, payments, status
 * write-backs, deadlines, revenue, close) and runs the commands it returns as
 * activities; between passes a timer to the next business date races new work.
 * Continues as new when history grows.
 */
export async function runDelivery(ctx: DeliveryContext): Promise<DealView> {
  const setup = await acts.prepareBilling({ snapshot: ctx.snapshot, ...(ctx.view.ids.projectId ? { psaProjectId: ctx.view.ids.projectId } : {}) });
  const s: EngagementState = ctx.resume?.state ?? initialEngagementState();
  // What scope change orders added to the PSA project comes with the state: prepareBilling reads the snapshot's project only.
  const d = core.dealOf({ dealId: workflowInfo().workflowId, opportunityId: ctx.opportunityId, snapshot: ctx.snapshot, setup, ids: ctx.view.ids, ...(ctx.options ? { options: ctx.options } : {}), patched, ...(s.scope ? { scope: s.scope } : {}) });
  const clock = clockFor(ctx.options?.demo, ctx.snapshot.contract.startDate, d.tz, s);
  const today = () => core.localDate(clock.now(), d.tz);
  const { inbox } = ctx;
  const shell = new Shell(ctx, s, d, clock);
  shell.installOperatorHandlers(today);
  const maxHistory = ctx.options?.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
  // An un-approval of a billed item raises an attention item: reported like the core's others.
  const receive = (t: string) => {
    const out = core.outcome();
    core.receive(s, d, inbox.batches.splice(0), inbox.payments.splice(0), { today: t, out });
    shell.report(out.notices);
  };
  const hasWork = () => inbox.batches.length > 0 || inbox.payments.length > 0 || core.hasWork(s);
  for (;;) {
    const t = today();
    receive(t);
    const invoiceRun = core.runDue(s, t) ? core.invoiceRun(s, d, t) : undefined;
    await shell.issue(t);
    if (invoiceRun) await shell.execute(invoiceRun);
    await shell.execute(core.applyPayments(s, d, t));
    for (let c = core.nextStatusSync(s, d); c; c = core.nextStatusSync(s, d)) await shell.run(c);
    await shell.dun(t);
    shell.report(core.checkDeadlines(s, d, t).notices);
    await shell.execute(core.revenueDue(s, d, t));
    shell.syncStage();
    if (core.canClose(s, d, t) && inbox.batches.length + inbox.payments.length === 0 && shell.idle()) {
      await shell.execute(core.revenueDue(s, d, t, true));
      const summary = core.closingSummary(s, d, t);
      await acts.closeEngagement({ opportunityId: ctx.opportunityId, dealId: d.dealId, summary });
      ctx.enter('CLOSED', `invoiced ${summary.invoicedMinor}, collected ${summary.collectedMinor}, leakage ${summary.leakage.totalMinor} (${summary.currency} minor units)`);
      if (clock.demo) shell.publishDemoDetails(t);
      (ctx.view as DealView & { delivery?: DeliveryView }).delivery = { ...core.deliveryView(s, d, today(), clock.demo), summary };
      setHandler(getDeliveryStateQuery, () => ({ ...core.deliveryView(s, d, today(), clock.demo), summary }));
      return ctx.view;
    }
    const info = workflowInfo();
    if ((info.continueAsNewSuggested || info.historyLength >= maxHistory) && !hasWork()) {
      await condition(allHandlersFinished);
      receive(today());
      return ctx.continueAsNew({ state: { ...s, continuedAsNew: s.continuedAsNew + 1 }, inbox });
    }
    const next = core.nextWake(s, d, t);
    const wait = clock.sleepFor(next - clock.now());
    if (clock.demo) {
      // Demo only (no command changes on the production path): the Web UI shows the business calendar.
      const nextDate = core.localDate(next, d.tz);
      shell.publishDemoDetails(t, nextDate);
      await condition(hasWork, wait, { summary: `business day ${nextDate} (demo: ${wait} ms)` });
    } else {
      await condition(hasWork, wait);
    }
  }
}

/** The workflow side of the engagement: runs the core's commands, reports its notices, holds the operator handlers. */
class Shell {
  /** Operator actions running now, by request id (a repeated request joins the running one). */
  private readonly inflight = new Map<string, Promise<unknown>>();
  private readonly erp: ErpActivities;

  constructor(
    private readonly ctx: DeliveryContext,
    private readonly s: EngagementState,
    private readonly d: Deal,
    private readonly clock: BusinessClock,
  ) {
    this.erp = erpActivities(ctx.erpTaskQueue);
  }

  run(c: Command): Promise<void> {
    return run(c, this.erp);
  }

  idle(): boolean {
    return this.inflight.size === 0;
  }

  report(notices: readonly Notice[]): void {
    for (const n of notices) {
      if (n.kind === 'attentionRaised') {
        kpis.recordDealException(`DELIVERY.${n.item.kind}`);
        log.warn('delivery needs attention', { kind: n.item.kind, invoiceId: n.item.invoiceId });
      } else if (n.kind === 'dunningReminder') {
        kpis.recordDunningReminder!(n.step);
        log.info('dunning reminder', { invoiceId: n.invoiceId, step: n.step, openMinor: n.openMinor });
      } else if (n.kind === 'invoicePosted') {
        // Invoice latency: from the day the items became billable (the issue date's local midnight) to posted.
        kpis.recordInvoicePosted(this.clock.now() - core.localMidnight(n.issueDate, this.d.tz));
      } else {
        log.warn(n.message, n.fields);
      }
    }
  }

  async execute(out: Outcome): Promise<void> {
    this.report(out.notices);
    for (const c of out.commands) await this.run(c);
  }

  /**
   * Dunning due today (behind patched('dunning'), asked inside the core): retries first,
   * their answers fed back, then the reminders they leave to send. A reminder the CRM
   * does not take is forgotten by the core and sent on a later pass.
   */
  async dun(today: string): Promise<void> {
    const { s, d } = this;
    for (let out = core.dunningDue(s, d, today); out.commands.length > 0 || out.notices.length > 0; out = core.dunningDue(s, d, today)) {
      this.report(out.notices);
      for (const c of out.commands) {
        if (c.kind === 'retryInvoicePayment') {
          let result: core.PaymentRetryResult;
          try {
            result = await dunningActs.retryInvoicePayment(c.input);
          } catch (err) {
            result = { invoiceId: c.input.invoiceId, step: c.input.step, outcome: 'NOT_RETRIED', detail: failureMessage(err) };
          }
          this.report(core.paymentRetried(s, result).notices);
        } else if (c.kind === 'sendDunningReminder') {
          await this.remind(c.input);
        } else {
          await this.run(c);
        }
      }
    }
  }

  private async remind(reminder: DunningReminder): Promise<void> {
    try {
      await dunningActs.sendDunningReminder(reminder);
    } catch (err) {
      core.dunningReminderFailed(this.s, reminder);
      log.error('dunning reminder not sent', { invoiceId: reminder.invoiceId, step: reminder.step, error: failureMessage(err) });
    }
  }

  /** Taxes, posts and writes back every draft that may go out; a child workflow when there are many. */
  async issue(today: string): Promise<void> {
    const { s, d } = this;
    this.report(core.dropRejected(s, d).notices);
    const requests = core.readyToIssue(s, today);
    if (requests.length === 0) return;
    const ctx = core.issueContext(d, core.contractOf(s, d), s.billTos?.at(-1));
    const results: IssueResult[] = core.issuesInChild(d, requests)
      ? await executeChild(invoiceRunWorkflow, { workflowId: this.ctx.key(`invoice-run:${s.runSeq}:${today}`), args: [{ ctx, runId: `${s.runSeq}`, requests, ...(this.ctx.erpTaskQueue ? { erpTaskQueue: this.ctx.erpTaskQueue } : {}) }] })
      : await issueInvoices(ctx, requests, {
          ...(patched(core.STALLED_ISSUE_PATCH) ? { watch: this.issueWatch(ctx.system, today) } : {}),
          ...(this.ctx.erpTaskQueue ? { erpTaskQueue: this.ctx.erpTaskQueue } : {}),
        });
    this.report(core.invoicesIssued(s, d, results, today).notices);
  }

  /** An invoice held in an issuing step raises ISSUE_STALLED (the deal shows NEEDS_ATTENTION at once); the step completing clears it. */
  private issueWatch(system: IssueContext['system'], today: string): IssueWatch {
    return {
      stalled: (invoiceId, step) => {
        this.report(core.issueStalled(this.s, { invoiceId, step, system }, today).notices);
        this.syncStage();
      },
      // A step that failed for good stays flagged until the run's results replace it with POSTING_FAILED (no stage flicker).
      moved: (invoiceId, completed) => {
        if (completed && core.issueMoved(this.s, invoiceId)) this.syncStage();
      },
    };
  }

  /** NEEDS_ATTENTION while any delivery item is open, IN_DELIVERY otherwise. */
  syncStage(): void {
    const view = this.ctx.view;
    const want = core.wantedStage(this.s);
    if (view.stage === want) return;
    if (want === 'NEEDS_ATTENTION') {
      view.resumeStage = 'IN_DELIVERY';
      this.ctx.enter('NEEDS_ATTENTION', this.s.attention.map((a) => a.id).join(', '));
    } else {
      view.resumeStage = undefined;
      this.ctx.enter('IN_DELIVERY', 'delivery exceptions resolved');
    }
  }

  /** Demo mode: the business date and the money so far, as the workflow's current details in the Web UI. */
  publishDemoDetails(today: string, nextDate?: string): void {
    setCurrentDetails(core.demoDetails(this.s, this.d, this.clock.demo!, this.ctx.view.stage, today, nextDate));
  }

  installOperatorHandlers(today: () => string): void {
    const { s, d } = this;
    setHandler(getDeliveryStateQuery, () => core.deliveryView(s, d, today(), this.clock.demo));
    setHandler(getRevenueWaterfallQuery, () => core.revenueWaterfall(s, d, today()));
    // A child invoice run's stalled invoices (from patched STALLED_ISSUE_PATCH on in the child; older runs send none).
    setHandler(issueProgressSignal, (p) => {
      if (p.stalled) this.issueWatch(d.options.invoiceSystem ?? 'erp', today()).stalled(p.invoiceId, p.step);
      else if (core.issueMoved(s, p.invoiceId)) this.syncStage();
    });
    // A query adds nothing to the history: running deals answer it as soon as their code has it.
    setHandler(getBillingBasisQuery, () => core.billingBasis(s, d, today()));
    setHandler(amendContractUpdate, (req) => this.once(`amend:${req.requestId}`, () => this.amend(req, today())), { validator: (req) => refusing(() => this.validateAmendment(req)) });
    setHandler(creditInvoiceUpdate, (req) => this.once(`credit:${req.requestId}`, () => this.credit(req, today())), { validator: (req) => refusing(() => this.validateCredit(req, today())) });
    setHandler(terminateContractUpdate, (req) => this.once(`terminate:${req.requestId}`, () => this.terminate(req, today())), { validator: (req) => refusing(() => this.validateTermination(req)) });
    setHandler(
      promiseToPayUpdate,
      (req) => {
        const result = core.promiseToPay(s, d, req, today());
        log.info('promise to pay', { invoiceId: result.invoice.id, promisedOn: req.promisedOn, by: req.by, requestId: req.requestId });
        return result;
      },
      { validator: (req) => refusing(() => core.validatePromise(s, d, req, today())) },
    );
    // Notes and assignees on attention items: new requests only, nothing the deal does depends on them.
    setHandler(annotateAttentionUpdate, (req) => core.annotateAttention(s, req, new Date().toISOString()), { validator: (req) => refusing(() => core.validateAnnotation(s, req)) });
    setHandler(
      decideInvoiceUpdate,
      (req) => {
        const inv = core.decideInvoice(s, req);
        log.info('invoice decision', { invoiceId: req.invoiceId, decision: req.decision, by: req.by });
        return inv;
      },
      { validator: (req) => refusing(() => core.validateDecision(s, req)) },
    );
    setHandler(
      writeOffInvoiceUpdate,
      (req) => {
        const inv = core.writeOffInvoice(s, req);
        log.info('invoice written off', { invoiceId: inv.id, by: req.by, reason: req.reason });
        return inv;
      },
      { validator: (req) => refusing(() => core.validateWriteOff(s, req)) },
    );
  }

  /** Runs an operator action once per request id: a repeat while it runs joins it (its result was recorded otherwise). */
  private async once<T>(key: string, action: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key);
    if (running) return (await running) as T;
    const p = action();
    this.inflight.set(key, p);
    try {
      return await p;
    } finally {
      this.inflight.delete(key);
    }
  }

  private validateAmendment(req: AmendContractRequest): void {
    if (core.priorAmendment(this.s, req) || this.inflight.has(`amend:${req.requestId}`)) return;
    if ([...this.inflight.keys()].some((k) => k.startsWith('amend:') || k.startsWith('terminate:'))) core.refuse('DEAL.ACTION_IN_PROGRESS', 'another amendment or a termination is being applied');
    core.amendmentFor(this.s, this.d, req);
  }

  /** Posts a contract version to the ERP (the same sales order, moved to the version); its id, or none when the deal has no ERP customer. */
  private async postVersion(next: Contract, failure: { what: string; code: string }): Promise<string | undefined> {
    const erpCustomerId = this.d.ids.erpCustomerId;
    if (!erpCustomerId) return undefined;
    try {
      return (await this.erp.postErpContract({ idempotencyKey: this.ctx.key('erp-contract'), contract: next, erpCustomerId, legalEntity: this.d.snapshot.contractingEntity })).erpContractId;
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`${failure.what} could not be posted to the ERP: ${failureMessage(err)}`, failure.code);
    }
  }

  private validateTermination(req: TerminateContractRequest): void {
    if (core.priorTermination(this.s, req) || this.inflight.has(`terminate:${req.requestId}`)) return;
    if ([...this.inflight.keys()].some((k) => k.startsWith('amend:') || k.startsWith('terminate:'))) core.refuse('DEAL.ACTION_IN_PROGRESS', 'an amendment or a termination is being applied');
    core.terminationFor(this.s, this.d, req);
  }

  /**
   * The ERP gets the last version first; then the deal moves to it, refundable
   * retainers' unused prepayment is credited, and the PSA project is closed.
   */
  private async terminate(req: TerminateContractRequest, today: string): Promise<TerminateContractResult> {
    const { s, d } = this;
    const done = core.priorTermination(s, req);
    if (done) return { termination: done, contractVersion: core.contractOf(s, d).version };
    const { next, refunds } = refusing(() => core.terminationFor(s, d, req));
    const record = core.terminationRecord(req, next, today);
    const erpContractId = await this.postVersion(next, { what: `the terminated contract v${next.version}`, code: 'DEAL.TERMINATION_ERP_FAILED' });
    if (erpContractId) record.erpContractId = erpContractId;
    core.applyTermination(s, d, next, record);
    log.info('contract terminated', { effectiveDate: req.effectiveDate, version: next.version, by: req.by });
    for (const refund of refunds) {
      for (const inv of core.prepaymentCandidates(s, refund)) {
        const basis = await this.basisOf(inv);
        const line = basis.invoice.lines.find((l) => l.sourceItemIds.includes(refund.sourceId));
        if (!line) continue;
        const creq = core.refundRequest(record, inv, line.id, refund);
        const plan = refusing(() => core.creditMemoFor(s, creq, today, basis, new Map([[refund.sourceId, refund.amountMinor]])));
        const memo = await this.postCredit(creq, plan, false);
        record.refunds.push({ contractLineId: refund.contractLineId, amountMinor: memo.subtotalMinor, creditMemoNumber: memo.number });
        break;
      }
    }
    // Recurring charges the billing system runs on its own schedule stop there too.
    const subscriptionIds = d.ids.subscriptionIds ?? [];
    if (subscriptionIds.length > 0) {
      try {
        await operatorActs.cancelRecurringBilling({ subscriptionIds });
        record.recurringBillingCancelled = true;
      } catch (err) {
        record.recurringBillingCancelled = false;
        log.error('subscriptions not cancelled on termination', { subscriptionIds, error: failureMessage(err) });
      }
    }
    const projectId = d.ids.projectId;
    if (projectId) {
      try {
        await operatorActs.closeProject({ projectId, reason: `contract terminated from ${req.effectiveDate}: ${req.reason}` });
        record.psaProjectClosed = true;
      } catch (err) {
        record.psaProjectClosed = false;
        log.error('PSA project not closed on termination', { projectId, error: failureMessage(err) });
      }
    }
    return { termination: record, contractVersion: next.version };
  }

  /**
   * A change order adding scope puts the new lines' phases, milestones and tasks
   * on the PSA project first (idempotent by q2c reference, so a retried request
   * finds them); the ERP then gets the new version; the deal moves to it only
   * once both have it. Removed lines' PSA records are archived afterwards (a
   * failure there is recorded on the amendment, not a reason to undo it).
   */
  private async amend(req: AmendContractRequest, today: string): Promise<AmendContractResult> {
    const { s, d } = this;
    const done = s.amendments?.find((a) => a.requestId === req.requestId);
    if (done) return core.amendmentResult(s, d, done);
    const { next, scope } = refusing(() => core.changeOrderFor(s, d, req));
    const record = core.amendmentRecord(s, d, req, next, today);
    // A new bill-to customer is set up in the CRM's and the ERP's records first: nothing else changes if it cannot be.
    const billToId = core.billToChange(core.contractOf(s, d), next);
    let billTo: BillTo | undefined;
    if (billToId) {
      try {
        billTo = await operatorActs.resolveBillTo({ customerId: billToId, legalEntity: d.snapshot.contractingEntity });
      } catch (err) {
        throw ApplicationFailure.nonRetryable(`bill-to customer ${billToId} could not be set up: ${failureMessage(err)}`, 'DEAL.AMENDMENT_BILL_TO_FAILED');
      }
    }
    const changesScope = scope.addedLines.length > 0 || scope.removedLines.length > 0;
    // Histories from before scope change orders never got here with one (the validator refused ADD_LINE).
    if (changesScope && !patched(SCOPE_CHANGE_ORDERS)) throw ApplicationFailure.nonRetryable('scope change orders are not supported by this run', 'DEAL.AMENDMENT_UNSUPPORTED');
    const projectId = d.ids.projectId;
    let created: Record<string, string> = {};
    if (scope.phases.length > 0 && projectId) {
      try {
        created = (await operatorActs.addProjectScope({ projectId, phases: scope.phases })).ids;
      } catch (err) {
        throw ApplicationFailure.nonRetryable(`the new scope of contract v${next.version} could not be added to PSA project ${projectId}: ${failureMessage(err)}`, 'DEAL.AMENDMENT_PSA_FAILED');
      }
    }
    const erpContractId = await this.postVersion(next, { what: `contract v${next.version}`, code: 'DEAL.AMENDMENT_ERP_FAILED' });
    if (erpContractId) record.erpContractId = erpContractId;
    const refs = scope.removedLines.flatMap((lineId) => core.scopeRefsOf(d, lineId));
    // Another amendment cannot have run meanwhile (the validator refuses one while this runs).
    if (changesScope) core.recordScope(record, scope, created);
    core.applyScope(s, d, scope.phases, created);
    core.applyAmendment(s, d, req, next, record);
    if (billTo) core.applyBillTo(s, record, billTo);
    log.info('contract amended', { amendmentId: record.id, version: next.version, by: req.by, added: record.addedLines, removed: record.removedLines });
    if (refs.length > 0 && projectId) {
      try {
        const archived = await operatorActs.archiveProjectScope({ projectId, refs, reason: `${record.id}: ${req.reason}` });
        record.psa!.archived = archived.supported && archived.archived.length === refs.length;
        if (!archived.supported) log.warn('the PSA cannot archive single records: close the removed scope there', { projectId, refs });
      } catch (err) {
        record.psa!.archived = false;
        log.error('removed scope not archived in the PSA', { projectId, refs, error: failureMessage(err) });
      }
    }
    await this.rerate(record, today);
    return core.amendmentResult(s, d, record);
  }

  /**
   * A rate change whose effective date reaches work already invoiced: on each
   * such invoice, the time worked since that date is credited and rebilled, so
   * it is billed at the new terms (its cap consumption recomputed).
   */
  private async rerate(record: AmendmentRecord, today: string): Promise<void> {
    const { s, d } = this;
    const invoices = core.rerateCandidates(s, d, record);
    const projectId = d.ids.projectId;
    if (invoices.length === 0) return;
    if (!projectId) {
      log.warn('invoiced work not re-rated: the deal has no PSA project to read it again from', { amendmentId: record.id });
      return;
    }
    const bases: CreditBasis[] = [];
    for (const inv of invoices) bases.push(await this.basisOf(inv));
    const items = await operatorActs.loadDeliveredItems({ snapshot: d.snapshot, contract: core.contractOf(s, d), projectId, until: new Date(this.clock.now()).toISOString(), items: core.rerateItems(record, bases) });
    for (const [i, inv] of invoices.entries()) {
      const basis = bases[i]!;
      const creq = core.rerateRequest(d, record, inv, basis, items);
      if (!creq) continue;
      const plan = refusing(() => core.creditMemoFor(s, creq, today, basis));
      const memo = await this.postCredit(creq, plan);
      core.rebill(s, d, memo, plan, items);
      (record.rerated ??= []).push({ invoiceNumber: inv.number, creditMemoNumber: memo.number, items: memo.rebill?.items ?? [], creditedMinor: memo.subtotalMinor });
    }
    if (record.rerated) log.info('invoiced work re-rated', { amendmentId: record.id, invoices: record.rerated.length });
  }

  private validateCredit(req: CreditInvoiceRequest, today: string): void {
    if (core.priorCredit(this.s, req) || this.inflight.has(`credit:${req.requestId}`)) return;
    const inv = core.creditableInvoice(this.s, req);
    // Source items are checked here when the state keeps the invoice's basis; otherwise by the handler, once it has read them.
    this.rebillProject(req);
    const kept = core.keptCreditBasis(this.s, inv);
    if (kept) core.creditMemoFor(this.s, req, today, kept);
  }

  /** The credit the request asks for, from the invoice as issued. */
  private async credit(req: CreditInvoiceRequest, today: string): Promise<CreditMemoSummary> {
    const { s, d } = this;
    const done = s.creditMemos?.find((m) => m.requestId === req.requestId);
    if (done) return done;
    const inv = refusing(() => core.creditableInvoice(s, req));
    const projectId = refusing(() => this.rebillProject(req));
    const basis = await this.basisOf(inv);
    const plan = refusing(() => core.creditMemoFor(s, req, today, basis));
    const memo = await this.postCredit(req, plan);
    if (!projectId) return memo;
    // Credit and rebill: the credited items as the PSA holds them now, taken again.
    const items = await operatorActs.loadDeliveredItems({ snapshot: d.snapshot, contract: core.contractOf(s, d), projectId, until: new Date(this.clock.now()).toISOString(), items: core.rebillItems(memo) });
    core.rebill(s, d, memo, plan, items);
    log.info('credited items rebilled', { creditMemoId: memo.id, rebilled: memo.rebill?.items.length ?? 0, missing: memo.rebill?.missing.length ?? 0 });
    return memo;
  }

  /** The PSA project a credit and rebill reads the items from; undefined for a plain credit. */
  private rebillProject(req: CreditInvoiceRequest): string | undefined {
    if (!req.rebill) return undefined;
    const projectId = this.d.ids.projectId;
    if (!projectId) core.refuse('DEAL.REBILL_UNSUPPORTED', 'the deal has no PSA project to read the credited items again from');
    return projectId;
  }

  /** What the invoice was issued with: kept in the state by older runs, read from its audit links otherwise. */
  private async basisOf(inv: InvoiceSummary): Promise<CreditBasis> {
    const kept = core.keptCreditBasis(this.s, inv);
    if (kept) return kept;
    if (!patched('credit-basis-from-audit')) throw ApplicationFailure.nonRetryable(`invoice ${inv.number} has no credit basis`, 'DEAL.CREDIT_BASIS_MISSING');
    return core.creditBasisFrom(this.s, this.d, inv, await operatorActs.loadInvoiceItems({ dealId: this.d.dealId, invoiceNumber: inv.number }));
  }

  /** Tax return and ERP credit memo, then the deal's books, then the audit trail. */
  private async postCredit(req: CreditInvoiceRequest, plan: CreditPlan, reversesRevenue = true): Promise<CreditMemoSummary> {
    const { s, d } = this;
    let posted: Awaited<ReturnType<ErpActivities['postCreditMemo']>>;
    try {
      posted = await this.erp.postCreditMemo(core.creditMemoPosting(d, plan, core.billToOf(s, plan.inv)));
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`credit memo ${plan.memo.id} could not be posted: ${failureMessage(err)}`, 'DEAL.CREDIT_POSTING_FAILED');
    }
    const { summary, audit } = core.creditPosted(s, d, req, plan, posted, reversesRevenue);
    try {
      await operatorActs.recordCreditMemo(audit);
    } catch (err) {
      // The credit memo is posted and booked; a missing audit row is reported, not a reason to undo it.
      log.error('credit memo audit links not written', { creditMemoId: plan.memo.id, error: failureMessage(err) });
    }
    log.info('invoice credited', { invoiceId: plan.inv.id, creditMemoId: plan.memo.id, totalMinor: summary.totalMinor, by: req.by });
    return summary;
  }
}
