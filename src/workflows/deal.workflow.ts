import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { DealSnapshot } from '../contract';
import { annotateExceptionUpdate, applyCustomerOverride, closedWonSignal, contractSignatureSignal, getDealStateQuery, OVERRIDE_FIELDS, overrideProblem, resolveExceptionUpdate, STEP_SYSTEM, type DealException, type DealInput, type DealView, type OperatorAction, type SignatureEvent } from '../contract';
import { assertTransition } from './deal.stages';
import type { DealStage } from '../contract';
import { installDeliveryHandlers, runDelivery } from './delivery';
import { CustomerIdKey, DealStageKey, LegalEntityKey, NeedsAttentionKey } from '../contract';
import { failureCode, failureMessage } from './failures';
import { kpis } from './sinks';

/**
 * Retryable failures (timeouts, 5xx, 429) are retried by Temporal, at most 30 s apart, for up
 * to an hour (STEP_OPTIONS' schedule-to-close); then the deal parks for an operator. Bounded by
 * time, not by a count: a multi-request step (a PSA project is a dozen creates) that meets a
 * vendor failing one request in three resumes where it stopped on each attempt (each create
 * looks up its reference first), and a count of 8 used to park it while the vendor was merely
 * noisy (the chaos run, issue 15). Non-retryable failures (bad data) still park at once.
 */
export const STEP_RETRY: ActivityOptions['retry'] = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' };
/** The heartbeat timeout finds a dead worker in seconds (the activities' liveness beat) instead of waiting out start-to-close. */
export const STEP_OPTIONS: ActivityOptions = { startToCloseTimeout: '2 minutes', heartbeatTimeout: '10 seconds', scheduleToCloseTimeout: '1 hour', retry: STEP_RETRY };
/** Compensations and notifications: more patient (a day), they must not be lost. */
export const COMPENSATION_OPTIONS: ActivityOptions = { ...STEP_OPTIONS, scheduleToCloseTimeout: '24 hours' };
export const DEFAULT_SIGNATURE_TIMEOUT_DAYS = 14;
export const DEFAULT_SIGNATURE_REMINDER_DAYS = 7;
const DAY_MS = 86_400_000;

const acts = proxyActivities<Activities>(STEP_OPTIONS);
const compensating = proxyActivities<Activities>(COMPENSATION_OPTIONS);

type StepName =
  | 'loadDeal'
  | 'syncCustomerMaster'
  | 'sendContractForSignature'
  | 'awaitSignature'
  | 'provisionProject'
  | 'postErpContract'
  | 'scheduleRecurringBilling'
  | 'updateCrmOpportunity';

/** What the operator may do when each step is parked. `link` = use a record that already exists in the target system. */
const ALLOWED_ACTIONS: Record<StepName, OperatorAction['action'][]> = {
  loadDeal: ['retry', 'cancel'],
  syncCustomerMaster: ['retry', 'link', 'override', 'cancel'],
  sendContractForSignature: ['retry', 'link', 'cancel'],
  awaitSignature: ['retry', 'cancel'],
  provisionProject: ['retry', 'link', 'cancel'],
  postErpContract: ['retry', 'link', 'cancel'],
  scheduleRecurringBilling: ['retry', 'skip', 'cancel'],
  updateCrmOpportunity: ['retry', 'skip', 'cancel'],
};

/** Control flow for an operator's cancel: caught in dealWorkflow, never escapes it. */
const DEAL_CANCELLED = 'DEAL.CANCELLED';

/**
 * One workflow per opportunity (id `deal-<opportunityId>`): closed-won to a
 * billable structure. Each step is an idempotent activity; a step that fails
 * for good parks the deal in NEEDS_ATTENTION until an operator resolves it.
 */
export async function dealWorkflow(input: DealInput): Promise<DealView> {
  const view: DealView = input.resume?.view ?? { opportunityId: input.opportunityId, stage: 'QUOTE_ACCEPTED', ids: {}, exceptions: [], timeline: [] };
  const now = () => new Date().toISOString(); // workflow time: deterministic, replay-safe
  if (!input.resume) view.timeline.push({ at: now(), stage: 'QUOTE_ACCEPTED' });
  // The deal's start (closed-won) as this workflow recorded it; carried across continue-as-new in the view.
  const dealStartMs = Date.parse(view.timeline[0]?.at ?? now());
  if (!input.resume) kpis.recordDealTransition('QUOTE_ACCEPTED', 0);
  // Delivery batches and payments that arrive before IN_DELIVERY are buffered.
  const inbox = installDeliveryHandlers(input.resume?.delivery);
  const signatures = new Map<string, SignatureEvent>();
  let pendingAction: OperatorAction | undefined;
  let exceptionSeq = 0;
  /** What operators learnt about a step's failure, kept when the step parks again with the same code (first seen, attempts, notes, assignee). */
  const seenBefore = new Map<string, Pick<DealException, 'firstSeenAt' | 'attempts' | 'notes' | 'assignee'>>();
  const compensations: Array<{ name: string; run: () => Promise<unknown> }> = [];

  setHandler(getDealStateQuery, () => view);
  // Repeated closed-won webhooks land here and change nothing: the workflow id already deduped them.
  setHandler(closedWonSignal, (ev) => log.info('closed-won seen again', { eventId: ev.eventId }));
  setHandler(contractSignatureSignal, (ev) => {
    if (!signatures.has(ev.envelopeId)) signatures.set(ev.envelopeId, ev);
  });
  setHandler(
    resolveExceptionUpdate,
    async (action) => {
      pendingAction = action;
      await condition(() => pendingAction === undefined);
      return view;
    },
    {
      validator: (action) => {
        const open = view.exceptions[0];
        if (pendingAction) throw ApplicationFailure.nonRetryable('another operator action is being applied', 'DEAL.ACTION_IN_PROGRESS');
        if (view.stage !== 'NEEDS_ATTENTION' || !open) throw ApplicationFailure.nonRetryable(`deal is ${view.stage}, not NEEDS_ATTENTION`, 'DEAL.NO_OPEN_EXCEPTION');
        if (!open.allowed.includes(action.action)) {
          throw ApplicationFailure.nonRetryable(`'${action.action}' is not possible for step ${open.step}; allowed: ${open.allowed.join(', ')}`, 'DEAL.ACTION_NOT_ALLOWED');
        }
        if (action.action === 'link' && !action.externalId?.trim()) throw ApplicationFailure.nonRetryable('link needs externalId', 'DEAL.ACTION_INVALID');
        if (action.action === 'cancel' && !action.reason?.trim()) throw ApplicationFailure.nonRetryable('cancel needs a reason', 'DEAL.ACTION_INVALID');
        if (action.action === 'override') {
          const problem = typeof action.field === 'string' && typeof action.value === 'string' ? overrideProblem(open.step, action.field, action.value) : 'override needs field and value';
          if (problem) throw ApplicationFailure.nonRetryable(problem, 'DEAL.ACTION_INVALID');
        }
      },
    },
  );
  // Notes and assignment: bookkeeping on the open exception, never a change to what the deal does.
  setHandler(
    annotateExceptionUpdate,
    (request) => {
      const open = view.exceptions.find((e) => e.id === request.exceptionId)!;
      const note = request.note?.trim();
      if (note) open.notes = [...(open.notes ?? []), { at: now(), by: request.by.trim(), text: note }];
      if (request.assignee !== undefined) {
        const assignee = request.assignee.trim();
        if (assignee) open.assignee = assignee;
        else delete open.assignee;
      }
      return open;
    },
    {
      validator: (request) => {
        if (!view.exceptions.some((e) => e.id === request.exceptionId)) {
          throw ApplicationFailure.nonRetryable(`no open exception ${request.exceptionId}`, 'DEAL.EXCEPTION_UNKNOWN');
        }
        if (typeof request.by !== 'string' || !request.by.trim() || request.by.length > 200) throw ApplicationFailure.nonRetryable('by: 1-200 characters', 'DEAL.ACTION_INVALID');
        if (request.note === undefined && request.assignee === undefined) throw ApplicationFailure.nonRetryable('give a note or an assignee', 'DEAL.ACTION_INVALID');
        if (request.note !== undefined && (typeof request.note !== 'string' || !request.note.trim() || request.note.length > 2000)) throw ApplicationFailure.nonRetryable('note: 1-2000 characters', 'DEAL.ACTION_INVALID');
        if (request.assignee !== undefined && (typeof request.assignee !== 'string' || request.assignee.length > 200)) throw ApplicationFailure.nonRetryable('assignee: at most 200 characters', 'DEAL.ACTION_INVALID');
      },
    },
  );

  const publish = () => {
    upsertSearchAttributes([
      { key: DealStageKey, value: view.stage },
      { key: NeedsAttentionKey, value: view.stage === 'NEEDS_ATTENTION' },
      ...(view.customerId ? [{ key: CustomerIdKey, value: view.customerId }] : []),
      ...(view.legalEntityId ? [{ key: LegalEntityKey, value: view.legalEntityId }] : []),
    ]);
  };
  const enter = (stage: DealStage, note?: string) => {
    assertTransition(view.stage, stage);
    // Cycle-time KPI: the first time the deal reaches each stage (a resumption after NEEDS_ATTENTION is not a new arrival).
    if (!view.timeline.some((t) => t.stage === stage)) kpis.recordDealTransition(stage, Date.now() - dealStartMs);
    view.stage = stage;
    view.timeline.push({ at: now(), stage, ...(note ? { note } : {}) });
    publish();
  };

  /** Parks the deal with an exception and waits for the operator's decision. */
  const park = async (step: StepName, code: string, message: string): Promise<OperatorAction> => {
    const resume = view.stage;
    const at = now();
    const before = seenBefore.get(`${step}|${code}`);
    view.exceptions.push({
      id: ++exceptionSeq,
      step,
      code,
      message,
      raisedAt: at,
      allowed: ALLOWED_ACTIONS[step],
      ...(STEP_SYSTEM[step] ? { system: STEP_SYSTEM[step] } : {}),
      attempts: (before?.attempts ?? 0) + 1,
      firstSeenAt: before?.firstSeenAt ?? at,
      lastSeenAt: at,
      notes: before?.notes ?? [],
      ...(before?.assignee ? { assignee: before.assignee } : {}),
      ...(OVERRIDE_FIELDS[step] ? { overridable: OVERRIDE_FIELDS[step] } : {}),
    });
    view.resumeStage = resume;
    enter('NEEDS_ATTENTION', `${step}: ${code}`);
    kpis.recordDealException(code);
    log.warn('deal needs attention', { step, code });
    await condition(() => pendingAction !== undefined);
    const action = pendingAction!;
    const closed = view.exceptions.shift();
    if (closed) seenBefore.set(`${step}|${code}`, { firstSeenAt: closed.firstSeenAt, attempts: closed.attempts, notes: closed.notes, assignee: closed.assignee });
    if (action.action !== 'cancel') {
      view.resumeStage = undefined;
      const what = action.action === 'override' ? `override ${action.field}` : action.action;
      enter(resume, `operator: ${what}${action.by ? ` by ${action.by}` : ''}${action.note ? ` (${action.note})` : ''}`);
    }
    return action;
  };

  /** Consumes the operator's action once the workflow has acted on it, releasing the update. */
  const acknowledge = () => {
    pendingAction = undefined;
  };

  type Outcome<T> = { kind: 'done'; value: T } | { kind: 'skipped' };
  const runStep = async <T>(
    step: StepName,
    run: () => Promise<T>,
    link?: (externalId: string) => T,
    /** Corrects a field of the step's input (OVERRIDE_FIELDS) before the retry. */
    override?: (field: string, value: string) => void,
  ): Promise<Outcome<T>> => {
    for (;;) {
      try {
        const value = await run();
        return { kind: 'done', value };
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        const action = await park(step, failureCode(err), failureMessage(err));
        if (action.action === 'cancel') throw ApplicationFailure.create({ type: DEAL_CANCELLED, message: action.reason });
        acknowledge();
        if (action.action === 'skip') return { kind: 'skipped' };
        if (action.action === 'link' && link) return { kind: 'done', value: link(action.externalId) };
        if (action.action === 'override') override?.(action.field, action.value);
      }
    }
  };

  const key = (step: string) => `${workflowInfo().workflowId}:${step}`;
  /** Part 2 (delivery to cash); continues as new carrying only the snapshot, the view and the delivery state. */
  const deliver = (snapshot: DealSnapshot) =>
    runDelivery({
      opportunityId: input.opportunityId,
      snapshot,
      view,
      enter,
      key,
      inbox,
      ...(input.delivery ? { options: input.delivery } : {}),
      ...(input.erpTaskQueue ? { erpTaskQueue: input.erpTaskQueue } : {}),
      ...(input.resume ? { resume: input.resume.delivery } : {}),
      continueAsNew: (carry) => continueAsNew<typeof dealWorkflow>({ ...input, resume: { snapshot, view, delivery: carry } }),
    });
  try {
    if (input.resume) return await deliver(input.resume.snapshot);
    // 1. Opportunity and quote from the CRM, mapped to a canonical quote and contract.
    const loaded = await runStep('loadDeal', () => acts.loadDeal({ opportunityId: input.opportunityId, correlationId: input.correlationId }));
    if (loaded.kind !== 'done') throw ApplicationFailure.nonRetryable('loadDeal cannot be skipped', 'DEAL.ILLEGAL_SKIP');
    let deal: DealSnapshot = loaded.value;
    view.customerId = deal.customer.id;
    view.legalEntityId = deal.contractingEntity.id;
    publish();

    // 2. Customer master in the ERP, golden record, intercompany check.
    const customerOverrides: Record<string, string> = {};
    const synced = await runStep(
      'syncCustomerMaster',
      () =>
        acts.syncCustomerMaster({
          customer: deal.customer,
          contractingEntity: deal.contractingEntity,
          deliveringEntityIds: deal.deliveringEntityIds,
          ...(Object.keys(customerOverrides).length ? { overrides: customerOverrides } : {}),
        }),
      (erpCustomerId) => ({ customer: deal.customer, erpCustomerId, intercompany: deal.deliveringEntityIds.some((id) => id !== deal.contractingEntity.id) }),
      (field, value) => {
        // The activity re-reads the CRM account on every attempt: the override goes with the input.
        customerOverrides[field] = value;
        deal = { ...deal, customer: applyCustomerOverride(deal.customer, field, value) };
      },
    );
    if (synced.kind === 'done') {
      deal = { ...deal, customer: synced.value.customer };
      view.ids.erpCustomerId = synced.value.erpCustomerId;
      view.intercompany = synced.value.intercompany;
    }
    enter('CUSTOMER_VALIDATED', view.intercompany ? 'intercompany delivery' : undefined);

    // 3. Contract out for signature; wait for the Connect webhook, remind once, expire.
    const envelope = await runStep(
      'sendContractForSignature',
      () => acts.sendContractForSignature({ idempotencyKey: key('envelope'), contract: deal.contract, customer: deal.customer }),
      (envelopeId) => ({ envelopeId }),
    );
    if (envelope.kind !== 'done') throw ApplicationFailure.nonRetryable('the contract must be signed', 'DEAL.ILLEGAL_SKIP');
    view.ids.envelopeId = envelope.value.envelopeId;
    compensations.push({ name: 'voidSignatureRequest', run: () => compensating.voidSignatureRequest({ envelopeId: envelope.value.envelopeId, reason: 'deal cancelled' }) });
    enter('CONTRACT_OUT_FOR_SIGNATURE');

    const timeoutMs = (input.signatureTimeoutDays ?? DEFAULT_SIGNATURE_TIMEOUT_DAYS) * DAY_MS;
    const reminderMs = Math.min(timeoutMs, (input.signatureReminderDays ?? DEFAULT_SIGNATURE_REMINDER_DAYS) * DAY_MS);
    let signature: SignatureEvent | undefined;
    for (let attempt = 1; !signature; attempt++) {
      const envelopeId = view.ids.envelopeId!;
      const signed = () => signatures.has(envelopeId);
      if (!(await condition(signed, reminderMs)) && reminderMs < timeoutMs) {
        await acts.remindSigner({ envelopeId, idempotencyKey: key(`reminder:${attempt}`) }).catch((err: unknown) => log.warn('reminder failed', { error: failureMessage(err) }));
        await condition(signed, timeoutMs - reminderMs);
      }
      signature = signatures.get(envelopeId);
      if (signature) break;
      // Expired: an operator resends (retry) or cancels.
      const action = await park('awaitSignature', 'CLM.SIGNATURE_EXPIRED', `no signature within ${timeoutMs / DAY_MS} days`);
      if (action.action === 'cancel') throw ApplicationFailure.create({ type: DEAL_CANCELLED, message: action.reason });
      acknowledge();
      const resent = await acts.sendContractForSignature({ idempotencyKey: key(`envelope:resend:${attempt}`), contract: deal.contract, customer: deal.customer });
      view.ids.envelopeId = resent.envelopeId;
    }
    if (signature.status !== 'completed') {
      // A declined or voided envelope is already final at DocuSign: voiding it again only fails.
      if (patched('declined-envelope-not-voided')) compensations.pop();
      throw ApplicationFailure.create({ type: DEAL_CANCELLED, message: `contract ${signature.status}${signature.reason ? `: ${signature.reason}` : ''}` });
    }
    compensations.pop(); // a signed envelope is not voided
    enter('CONTRACT_SIGNED', `signed ${signature.occurredAt}`);

    // 4. Project in the PSA from the service package's template.
    const project = await runStep(
      'provisionProject',
      () => acts.provisionProject({ idempotencyKey: key('project'), contract: deal.contract, quote: deal.quote, customer: deal.customer }),
      (projectId) => ({ projectId }),
    );
    if (project.kind === 'done') {
      view.ids.projectId = project.value.projectId;
      compensations.push({ name: 'closeProject', run: () => compensating.closeProject({ projectId: project.value.projectId, reason: 'deal cancelled' }) });
    }
    enter('PROJECT_PROVISIONED');

    // 5. Contract metadata to the ERP.
    const erp = await runStep(
      'postErpContract',
      () =>
        acts.postErpContract({
          idempotencyKey: key('erp-contract'),
          contract: deal.contract,
          erpCustomerId: view.ids.erpCustomerId ?? '',
          legalEntity: deal.contractingEntity,
        }),
      (erpContractId) => ({ erpContractId, tranId: erpContractId }),
    );
    if (erp.kind === 'done') {
      view.ids.erpContractId = erp.value.erpContractId;
      view.ids.erpContractNumber = erp.value.tranId;
      compensations.push({ name: 'closeErpContract', run: () => compensating.closeErpContract({ erpContractId: erp.value.erpContractId, reason: 'deal cancelled' }) });
    }
    enter('ERP_CONTRACT_POSTED');

    // 6. Recurring charges for subscription-like lines.
    const subscriptionLines = deal.contract.lines.filter((l) => l.billingModel === 'SUBSCRIPTION');
    if (subscriptionLines.length > 0) {
      const billing = await runStep('scheduleRecurringBilling', () =>
        acts.scheduleRecurringBilling({ idempotencyKey: key('billing-schedule'), contract: deal.contract, customer: deal.customer }),
      );
      if (billing.kind === 'done') {
        view.ids.subscriptionIds = billing.value.subscriptionIds;
        compensations.push({ name: 'cancelRecurringBilling', run: () => compensating.cancelRecurringBilling({ subscriptionIds: billing.value.subscriptionIds }) });
      }
    }
    enter('BILLING_SCHEDULED');

    // 7. Ids and stage back to the CRM.
    await runStep('updateCrmOpportunity', () =>
      acts.updateCrmOpportunity({
        opportunityId: input.opportunityId,
        stage: 'IN_DELIVERY',
        projectId: view.ids.projectId,
        erpContractId: view.ids.erpContractId,
        erpContractNumber: view.ids.erpContractNumber,
      }),
    );
    enter('IN_DELIVERY');
    return await deliver(deal);
  } catch (err) {
    if (!(err instanceof ApplicationFailure && err.type === DEAL_CANCELLED)) throw err;
    const reason = err.message;
    // Saga: undo what was created, newest first; log a failed compensation rather than rethrow.
    for (const c of compensations.reverse()) {
      try {
        await c.run();
      } catch (compErr) {
        log.error('compensation failed', { compensation: c.name, error: failureMessage(compErr) });
      }
    }
    await compensating
      .updateCrmOpportunity({ opportunityId: input.opportunityId, stage: 'CANCELLED', note: reason })
      .catch((crmErr: unknown) => log.error('CRM update failed', { error: failureMessage(crmErr) }));
    view.exceptions = [];
    enter('CANCELLED', reason);
    acknowledge();
    return view;
  }
}
