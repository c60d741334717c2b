import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgSchema,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

/**
 * Cross-system identity map: one canonical id per business object, and the id
 * each system knows it by. A row per (system, kind, externalId) so a record
 * seen twice from the same system can never map to two canonical objects.
 */
export const identityMap = pgTable(
  'identity_map',
  {
    kind: text('kind').notNull(),
    canonicalId: text('canonical_id').notNull(),
    system: text('system').notNull(),
    externalId: text('external_id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.system, t.kind, t.externalId] }),
    index('identity_map_canonical').on(t.kind, t.canonicalId),
  ],
);

/** The golden record per canonical object, with which system each field's value came from. */
export const goldenRecords = pgTable(
  'golden_records',
  {
    kind: text('kind').notNull(),
    canonicalId: text('canonical_id').notNull(),
    data: jsonb('data').notNull(),
    fieldSources: jsonb('field_sources').$type<Record<string, string>>().notNull(),
    version: integer('version').notNull().default(1),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.canonicalId] })],
);

/** Every webhook as received, accepted or not: the raw body is kept for inspection and replay. */
export const webhookInbox = pgTable(
  'webhook_inbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    source: text('source').notNull(),
    eventId: text('event_id'),
    eventType: text('event_type'),
    status: text('status', { enum: ['accepted', 'duplicate', 'rejected', 'dispatched'] }).notNull(),
    error: jsonb('error'),
    rawBody: text('raw_body').notNull(),
    workflowId: text('workflow_id'),
    correlationId: text('correlation_id'),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
    dispatchedAt: timestamp('dispatched_at', { withTimezone: true }),
    /** When the delivery's signature checked out; null for one that failed (or came before this column): never replayed. */
    signatureVerifiedAt: timestamp('signature_verified_at', { withTimezone: true }),
    /** The route's parameters (Kantata's :kind), to parse the stored body again on a replay. */
    routeParams: jsonb('route_params').$type<Record<string, string>>(),
    /** Replays of this delivery by operators (the inbox replay): how many were made. */
    replays: integer('replays').notNull().default(0),
  },
  (t) => [
    // Dedupe key = source + event id; rejected rows carry no event id and never collide.
    uniqueIndex('webhook_inbox_dedupe').on(t.source, t.eventId).where(sql`${t.status} <> 'rejected' and ${t.status} <> 'duplicate'`),
    index('webhook_inbox_received').on(t.receivedAt),
  ],
);

/** Versioned rule sets (rate cards, billing and expense policy, tax mapping, intercompany markup). */
export const ruleSets = pgTable(
  'rule_sets',
  {
    id: text('id').notNull(),
    version: integer('version').notNull(),
    body: jsonb('body').notNull(),
    /** draft: proposed, not in force; approved: what new contracts pin; rejected / expired: a proposal that changed nothing. */
    status: text('status', { enum: ['draft', 'approved', 'retired', 'rejected', 'expired'] }).notNull().default('approved'),
    /** The proposal a version went through (author, effective date, decisions); null for versions loaded directly. */
    governance: jsonb('governance').$type<Record<string, unknown>>(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.id, t.version] })],
);

/** invoice line -> billing event -> source item -> contract line -> quote line. */
export const auditLinks = pgTable(
  'audit_links',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    dealId: text('deal_id').notNull(),
    documentKind: text('document_kind', { enum: ['invoice', 'credit_memo', 'payment', 'intercompany'] }).notNull(),
    documentNumber: text('document_number').notNull(),
    documentLineId: text('document_line_id').notNull(),
    billingEventId: text('billing_event_id'),
    sourceKind: text('source_kind'),
    sourceId: text('source_id'),
    contractLineId: text('contract_line_id'),
    quoteLineId: text('quote_line_id'),
    amountMinor: integer('amount_minor'),
    currency: text('currency'),
    reversesLineId: text('reverses_line_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('audit_links_unique').on(t.documentKind, t.documentNumber, t.documentLineId, t.sourceKind, t.sourceId),
    index('audit_links_deal').on(t.dealId),
  ],
);

/** Where each pull sweep got to, per source system and stream. */
export const syncWatermarks = pgTable(
  'sync_watermarks',
  {
    source: text('source').notNull(),
    stream: text('stream').notNull(),
    cursor: text('cursor').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.source, t.stream] })],
);

/** State of the vendor sandboxes (src/sandbox): a document store per vendor and record kind. */
export const sandbox = pgSchema('sandbox');

export const sandboxRecords = sandbox.table(
  'records',
  {
    vendor: text('vendor').notNull(),
    kind: text('kind').notNull(),
    id: text('id').notNull(),
    externalId: text('external_id'),
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
    version: integer('version').notNull().default(1),
    seq: bigserial('seq', { mode: 'number' }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.vendor, t.kind, t.id] }),
    uniqueIndex('records_external_id').on(t.vendor, t.kind, t.externalId).where(sql`${t.externalId} is not null`),
    index('records_seq').on(t.vendor, t.kind, t.seq),
  ],
);

/** Idempotency keys as the vendor keeps them (Stripe: the first response is replayed). */
export const sandboxIdempotency = sandbox.table(
  'idempotency',
  {
    vendor: text('vendor').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    statusCode: integer('status_code').notNull(),
    response: jsonb('response').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.vendor, t.key] })],
);

/** Outgoing webhooks the sandboxes send, signed as the vendor signs them. */
export const sandboxWebhooks = sandbox.table('webhooks', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  vendor: text('vendor').notNull(),
  eventType: text('event_type').notNull(),
  targetUrl: text('target_url').notNull(),
  body: text('body').notNull(),
  headers: jsonb('headers').$type<Record<string, string>>().notNull(),
  attempts: integer('attempts').notNull().default(0),
  delivered: boolean('delivered').notNull().default(false),
  lastStatus: integer('last_status'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * Every operator action taken through the console or the operator API, with who (the key's
 * holder) and why (the note or reason), and how it ended. Written by the service: one place
 * that covers every action kind (the deals' own histories keep `by` for most updates, but
 * not refusals, inbox replays or the reason of every action) and is readable without a replay.
 */
export const operatorActions = pgTable(
  'operator_actions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    /** The key's holder (OperatorApiKey.name). */
    actor: text('actor').notNull(),
    /** 'console' or 'api'. */
    via: text('via').notNull(),
    /** resolve, override, annotate, decide, write-off, replay, amend, credit, terminate, promise. */
    action: text('action').notNull(),
    /** The deal's opportunity id; null for an inbox replay of an event that names none. */
    opportunityId: text('opportunity_id'),
    /** What the action was on: an exception id, an invoice, an inbox row. */
    target: text('target'),
    reason: text('reason'),
    /** 'ok', or the refusal's code. */
    outcome: text('outcome').notNull(),
    detail: jsonb('detail').$type<Record<string, unknown>>(),
  },
  (t) => [index('operator_actions_deal').on(t.opportunityId, t.at)],
);
