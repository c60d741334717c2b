import type { DealGateway } from '../deal-gateway';
import type { Headers, VerifyResult } from './signature';

export type SourceName = 'salesforce' | 'docusign' | 'kantata' | 'stripe';

export interface DispatchContext {
  opportunityId: string;
  correlationId: string;
  receivedAt: Date;
}

/** A verified, schema-valid event, ready to be stored and handed to its deal. */
export interface ParsedEvent {
  /** Dedupe key within the source. */
  eventId: string;
  eventType: string;
  /** The opportunity, when the payload names it. */
  opportunityId?: string;
  /** Otherwise: vendor ids to look up in the identity map (kind 'deal'), most specific first. */
  lookup?: { system: string; externalIds: string[] };
  dispatch(gateway: DealGateway, ctx: DispatchContext): Promise<{ workflowId: string }>;
}

export interface IncomingWebhook {
  rawBody: Buffer;
  headers: Headers;
  params: Record<string, string>;
}

/** One webhook source: how it is authenticated and how its body becomes a ParsedEvent. */
export interface WebhookSource {
  name: SourceName;
  verify(req: IncomingWebhook, nowMs: number): VerifyResult;
  /** Throws HttpProblem: 400 with field paths for schema errors, 422 for unknown event types. */
  parse(json: unknown, req: IncomingWebhook): ParsedEvent;
}
