import { randomUUID } from 'node:crypto';
import type { Config } from '../config';
import { seedClosedWonDeal } from '../sandbox/salesforce/seed';
import { signQ2c } from '../service/webhooks/signature';
import { dealWorkflowId, getDealStateQuery, type DealView } from '../workflows/deal.messages';
import type { Stack } from './stack';

const poll = async (stack: Stack, workflowId: string, pred: (v: DealView) => boolean, timeoutMs: number): Promise<DealView> => {
  const handle = stack.client.workflow.getHandle(workflowId);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const view = await handle.query(getDealStateQuery);
      if (pred(view) || Date.now() > deadline) return view;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
};

/**
 * The sample deal, end to end through the real paths: a closed-won opportunity
 * is seeded in the Salesforce sandbox, its signed webhook is posted to the
 * service, the DocuSign sandbox completes the envelope and sends its signed
 * Connect webhook, and the deal runs on to IN_DELIVERY.
 */
export async function runSampleDeal(stack: Stack, config: Config, log: (line: string) => void): Promise<string> {
  const key = `S${Date.now().toString(36).toUpperCase()}`;
  const { opportunityId, accountId } = await seedClosedWonDeal(stack.sandbox.url, { key });
  const workflowId = dealWorkflowId(opportunityId);
  log(`seeded closed-won opportunity ${opportunityId} in the Salesforce sandbox`);

  const body = JSON.stringify({
    eventId: randomUUID(),
    eventType: 'opportunity.closed_won',
    occurredAt: new Date().toISOString(),
    opportunity: { id: opportunityId, accountId, stageName: 'Closed Won', isWon: true },
  });
  const timestamp = Math.floor(Date.now() / 1000);
  const secret = (config.Q2C_WEBHOOK_SECRET_SALESFORCE ?? '').split(',')[0]!.trim();
  const res = await fetch(`${stack.serviceUrl}/webhooks/salesforce/opportunity`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-q2c-timestamp': String(timestamp), 'x-q2c-signature': signQ2c(secret, timestamp, body) },
    body,
  });
  log(`POST /webhooks/salesforce/opportunity -> ${res.status} ${await res.text()}`);

  const out = await poll(stack, workflowId, (v) => v.stage === 'CONTRACT_OUT_FOR_SIGNATURE' || v.stage === 'NEEDS_ATTENTION', 60_000);
  if (out.stage !== 'CONTRACT_OUT_FOR_SIGNATURE' || !out.ids.envelopeId) {
    log(`deal stopped at ${out.stage}: ${JSON.stringify(out.exceptions)}`);
    return workflowId;
  }
  log(`contract out for signature: envelope ${out.ids.envelopeId}; the signer signs in the DocuSign sandbox`);
  const signed = await fetch(`${stack.sandbox.url}/docusign/_sandbox/envelopes/${out.ids.envelopeId}/complete`, { method: 'POST' });
  log(`DocuSign sandbox: envelope completed (${signed.status}); Connect webhook sent to the service`);

  const final = await poll(stack, workflowId, (v) => v.stage === 'IN_DELIVERY' || v.stage === 'NEEDS_ATTENTION', 60_000);
  log(`deal ${workflowId} is ${final.stage}: project ${final.ids.projectId ?? '-'}, ERP contract ${final.ids.erpContractNumber ?? '-'}`);
  return workflowId;
}
