import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { createTimeSkippingEnv } from '../support/temporal';
import { contractInput } from './fixtures';
import { parseSamples, type Samples } from './sandbox.workflows';

/*
 * The canonical schemas inside Temporal's workflow sandbox: the samples of
 * sandbox.workflows.ts are parsed by a workflow (webpack bundle, deterministic
 * V8 context) and must come out exactly as they do in Node. Until the ISO
 * formats were taken from zod's `iso` export, the bundle turned `z.iso.date()`
 * into `z.date()` and every business date was refused there.
 */
const noop = () => {};
const TASK_QUEUE = 'canonical-sandbox';

describe('canonical schemas in the workflow sandbox', () => {
  let env: TestWorkflowEnvironment;
  let inSandbox: Samples;

  beforeAll(async () => {
    env = await createTimeSkippingEnv();
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('./sandbox.workflows'),
      logger: { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop },
    });
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUE, workflowBundle });
    inSandbox = await worker.runUntil(env.client.workflow.execute('canonicalSamplesWorkflow', { taskQueue: TASK_QUEUE, workflowId: 'canonical-samples' }));
  }, 120_000);

  afterAll(async () => {
    await env?.teardown();
  });

  it('accepts calendar dates and refuses impossible ones, date-times and Date objects', () => {
    const s = inSandbox.schemas;
    expect(s.dateLeapDay).toEqual({ ok: true, data: '2024-02-29' });
    expect(s.dateNotLeapYear).toEqual({ ok: false, errors: ['(root): Invalid ISO date'] });
    expect(s.dateDay31InApril).toEqual({ ok: false, errors: ['(root): Invalid ISO date'] });
    expect(s.dateMonth13).toEqual({ ok: false, errors: ['(root): Invalid ISO date'] });
    expect(s.dateWithTime).toEqual({ ok: false, errors: ['(root): Invalid ISO date'] });
    expect(s.dateObject).toEqual({ ok: false, errors: ['(root): Invalid input: expected string, received Date'] });
    expect(s.dateRangeBackwards).toEqual({ ok: false, errors: ['end: start must not be after end'] });
  });

  it('accepts instants with a zone or offset and known IANA zones only', () => {
    const s = inSandbox.schemas;
    expect(s.instantUtc).toEqual({ ok: true, data: '2025-03-01T09:30:00Z' });
    expect(s.instantOffset).toEqual({ ok: true, data: '2025-03-01T09:30:00+02:00' });
    expect(s.instantLocal).toEqual({ ok: false, errors: ['(root): Invalid ISO datetime'] });
    expect(s.zoneKnown).toEqual({ ok: true, data: 'Europe/Berlin' });
    expect(s.zoneUnknown).toEqual({ ok: false, errors: ['(root): unknown IANA time zone'] });
  });

  it('accepts integer money in a known currency and refuses fractions, unknown codes and negative prices', () => {
    const s = inSandbox.schemas;
    expect(s.money).toEqual({ ok: true, data: { amountMinor: -12_345, currency: 'JPY' } });
    expect(s.moneyFraction).toEqual({ ok: false, errors: ['amountMinor: Invalid input: expected int, received number'] });
    expect(s.moneyUnknownCurrency).toEqual({ ok: false, errors: ['currency: currency not in the minor-unit table'] });
    expect(s.moneyNegative).toEqual({ ok: false, errors: ['amountMinor: must not be negative'] });
  });

  it('parses amendment changes and amendments (cap tolerance defaulted to 0) and refuses a bad end date', () => {
    const s = inSandbox.schemas;
    const cap = { notToExceed: { amountMinor: 1_200_000, currency: 'USD' }, toleranceBp: 0 };
    const change = { op: 'UPDATE_LINE', lineId: 'CL-TM', set: { endDate: '2026-06-30', cap } };
    expect(s.changeCap).toEqual({ ok: true, data: change });
    expect(s.changeEndLineBadDate).toEqual({ ok: false, errors: ['endDate: Invalid ISO date'] });
    expect(s.amendment).toEqual({
      ok: true,
      data: { id: 'C-1-A2', contractId: 'C-1', baseVersion: 1, effectiveDate: '2025-07-01', reason: 'scope extension', changes: [change] },
    });
  });

  it('parses a contract with its defaults, refuses a bad one by path and applies an amendment', () => {
    const s = inSandbox.schemas;
    const input = contractInput();
    expect(s.contract).toEqual({
      ok: true,
      data: {
        ...input,
        billingTerms: { inArrears: true, weekStartsOn: 1 },
        poRequired: false,
        externalIds: {},
        lines: input.lines.map((l) => ({ ...l, description: '', discountBp: 0 })),
      },
    });
    expect(s.contractInvalid).toEqual({
      ok: false,
      errors: ['endDate: Invalid ISO date', 'lines.0.allocatedValue: currency EUR differs from contract currency USD'],
    });
    expect(inSandbox.amendedLine).toEqual({
      ok: true,
      data: {
        ...input.lines[0],
        description: '',
        discountBp: 0,
        endDate: '2026-06-30',
        cap: { notToExceed: { amountMinor: 1_200_000, currency: 'USD' }, toleranceBp: 0 },
      },
    });
  });

  it('parseAmendmentChanges normalises changes in the contract currency and lists every bad field by request path', () => {
    const c = inSandbox.changes;
    expect(c.inUsd).toEqual({
      ok: true,
      changes: [
        { op: 'UPDATE_LINE', lineId: 'CL-TM', set: { endDate: '2026-06-30', cap: { notToExceed: { amountMinor: 1_200_000, currency: 'USD' }, toleranceBp: 0 } } },
        { op: 'END_LINE', lineId: 'CL-FF', endDate: '2025-11-30' },
      ],
    });
    expect(c.inEur).toEqual({ ok: false, errors: ['changes.0.set.cap.notToExceed: currency USD differs from contract currency EUR'] });
    expect(c.invalid).toEqual({
      ok: false,
      errors: [
        'changes.0.endDate: Invalid ISO date',
        'changes.1.set.discountBp: Too big: expected number to be <=10000',
        'changes.1.set.cap.notToExceed.amountMinor: must not be negative',
        'changes.1.set.cap.toleranceBp: Invalid input: expected int, received number',
        'changes.2.set.endDate: Invalid ISO date',
      ],
    });
    expect(c.empty).toEqual({ ok: false, errors: ['changes: Too small: expected array to have >=1 items'] });
    expect(c.unknownKey).toEqual({ ok: true, changes: [{ op: 'UPDATE_LINE', lineId: 'CL-TM', set: { discountBp: 500 } }] });
  });

  it('gives the same answers as the same schemas in Node', () => {
    expect(inSandbox).toEqual(JSON.parse(JSON.stringify(parseSamples())));
  });
});
