import { dealWorkflowId } from '../../contract';
import { replayability, type InboxRepository } from '../../db/inbox';
import { DealNotFoundError, type DealGateway } from '../deal-gateway';
import type { DealLocator } from '../deal-locator';
import { badRequest, HttpProblem } from '../errors';
import type { SourceName, WebhookSource } from './source';

export interface ReplayResult {
  id: number;
  /** dispatched: handed to the deal now; already-dispatched: an earlier replay or delivery did it (nothing sent again). */
  outcome: 'dispatched' | 'already-dispatched';
  workflowId?: string;
  eventId?: string;
}

export interface WebhookReplayDeps {
  inbox: InboxRepository;
  sources: readonly WebhookSource[];
  locator: DealLocator;
  gateway: DealGateway;
  clock: () => Date;
}

/**
 * Replays a stored delivery whose signature verified but which could not reach its deal then
 * (no deal yet, none mapped, or the dispatch failed): parse the stored raw body again -> find
 * the deal -> dispatch -> mark dispatched. The signature is not checked again (its timestamp
 * is old by now): the row's `signatureVerifiedAt` records that it checked out on receipt, and
 * rows without it are never replayed. Idempotent: a dispatched row is not dispatched again,
 * a concurrent replay loses the row's claim, and the deals dedupe by event id besides
 * (payments by event id, delivery items by item, closed-won by workflow id, signatures by envelope).
 */
export function createWebhookReplay(deps: WebhookReplayDeps) {
  const byName = new Map<SourceName, WebhookSource>(deps.sources.map((s) => [s.name, s]));
  return {
    async replay(id: number, correlationId: string): Promise<ReplayResult> {
      const row = await deps.inbox.get(id);
      if (!row) throw new HttpProblem(404, 'NOT_FOUND', `no inbox row ${id}`);
      if (row.status === 'dispatched') return { id, outcome: 'already-dispatched', ...(row.workflowId ? { workflowId: row.workflowId } : {}), ...(row.eventId ? { eventId: row.eventId } : {}) };
      const can = replayability(row);
      if (!can.replayable) throw new HttpProblem(409, 'NOT_REPLAYABLE', `inbox row ${id} cannot be replayed: ${can.reason}`, { id });
      const source = byName.get(row.source as SourceName);
      if (!source) throw new HttpProblem(409, 'NOT_REPLAYABLE', `inbox row ${id} is from an unknown source ${row.source}`, { id });

      const rawBody = Buffer.from(row.rawBody, 'utf8');
      let json: unknown;
      try {
        json = JSON.parse(row.rawBody);
      } catch (err) {
        throw badRequest([{ path: '', message: (err as Error).message }], 'the stored body is not JSON');
      }
      const parsed = source.parse(json, { rawBody, headers: {}, params: row.routeParams ?? {} });
      const opportunityId =
        parsed.opportunityId ?? (parsed.lookup ? await deps.locator.opportunityFor(parsed.lookup.system, parsed.lookup.externalIds) : undefined);
      if (!opportunityId) throw new HttpProblem(422, 'DEAL_UNRESOLVED', 'the event still names no opportunity and none is mapped to its records', { lookup: parsed.lookup });
      const workflowId = dealWorkflowId(opportunityId);

      const claim = await deps.inbox.claimReplay(id, workflowId, correlationId);
      if (claim.kind === 'delivered') {
        await deps.inbox.markRejected(id, { code: 'DUPLICATE', message: `event delivered by inbox row ${claim.original.id}` });
        return { id, outcome: 'already-dispatched', workflowId: claim.original.workflowId ?? workflowId, eventId: parsed.eventId };
      }
      if (claim.kind === 'gone') throw new HttpProblem(409, 'REPLAY_IN_PROGRESS', `inbox row ${id} is being replayed or was redelivered meanwhile`, { id });
      try {
        await parsed.dispatch(deps.gateway, { opportunityId, correlationId, receivedAt: deps.clock() });
      } catch (err) {
        if (err instanceof DealNotFoundError) {
          const problem = new HttpProblem(422, 'DEAL_NOT_FOUND', `no running deal ${workflowId} for this event`, { workflowId });
          await deps.inbox.markRejected(id, problem.body);
          throw problem;
        }
        await deps.inbox.markDispatchFailed(id, { message: (err as Error).message });
        throw new HttpProblem(503, 'DISPATCH_FAILED', 'the event could not be handed to its deal; replay again later', { workflowId });
      }
      await deps.inbox.markDispatched(id);
      return { id, outcome: 'dispatched', workflowId, eventId: parsed.eventId };
    },
  };
}

export type WebhookReplay = ReturnType<typeof createWebhookReplay>;
