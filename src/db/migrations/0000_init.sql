CREATE SCHEMA "sandbox";
--> statement-breakpoint
CREATE TABLE "audit_links" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"deal_id" text NOT NULL,
	"document_kind" text NOT NULL,
	"document_number" text NOT NULL,
	"document_line_id" text NOT NULL,
	"billing_event_id" text,
	"source_kind" text,
	"source_id" text,
	"contract_line_id" text,
	"quote_line_id" text,
	"amount_minor" integer,
	"currency" text,
	"reverses_line_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "golden_records" (
	"kind" text NOT NULL,
	"canonical_id" text NOT NULL,
	"data" jsonb NOT NULL,
	"field_sources" jsonb NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "golden_records_kind_canonical_id_pk" PRIMARY KEY("kind","canonical_id")
);
--> statement-breakpoint
CREATE TABLE "identity_map" (
	"kind" text NOT NULL,
	"canonical_id" text NOT NULL,
	"system" text NOT NULL,
	"external_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "identity_map_system_kind_external_id_pk" PRIMARY KEY("system","kind","external_id")
);
--> statement-breakpoint
CREATE TABLE "rule_sets" (
	"id" text NOT NULL,
	"version" integer NOT NULL,
	"body" jsonb NOT NULL,
	"status" text DEFAULT 'approved' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "rule_sets_id_version_pk" PRIMARY KEY("id","version")
);
--> statement-breakpoint
CREATE TABLE "sandbox"."idempotency" (
	"vendor" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"status_code" integer NOT NULL,
	"response" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_vendor_key_pk" PRIMARY KEY("vendor","key")
);
--> statement-breakpoint
CREATE TABLE "sandbox"."records" (
	"vendor" text NOT NULL,
	"kind" text NOT NULL,
	"id" text NOT NULL,
	"external_id" text,
	"data" jsonb NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"seq" bigserial NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "records_vendor_kind_id_pk" PRIMARY KEY("vendor","kind","id")
);
--> statement-breakpoint
CREATE TABLE "sandbox"."webhooks" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"vendor" text NOT NULL,
	"event_type" text NOT NULL,
	"target_url" text NOT NULL,
	"body" text NOT NULL,
	"headers" jsonb NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"delivered" boolean DEFAULT false NOT NULL,
	"last_status" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sync_watermarks" (
	"source" text NOT NULL,
	"stream" text NOT NULL,
	"cursor" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sync_watermarks_source_stream_pk" PRIMARY KEY("source","stream")
);
--> statement-breakpoint
CREATE TABLE "webhook_inbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"source" text NOT NULL,
	"event_id" text,
	"event_type" text,
	"status" text NOT NULL,
	"error" jsonb,
	"raw_body" text NOT NULL,
	"workflow_id" text,
	"correlation_id" text,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"dispatched_at" timestamp with time zone
);
--> statement-breakpoint
CREATE UNIQUE INDEX "audit_links_unique" ON "audit_links" USING btree ("document_kind","document_number","document_line_id","source_kind","source_id");--> statement-breakpoint
CREATE INDEX "audit_links_deal" ON "audit_links" USING btree ("deal_id");--> statement-breakpoint
CREATE INDEX "identity_map_canonical" ON "identity_map" USING btree ("kind","canonical_id");--> statement-breakpoint
CREATE UNIQUE INDEX "records_external_id" ON "sandbox"."records" USING btree ("vendor","kind","external_id") WHERE "sandbox"."records"."external_id" is not null;--> statement-breakpoint
CREATE INDEX "records_seq" ON "sandbox"."records" USING btree ("vendor","kind","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_inbox_dedupe" ON "webhook_inbox" USING btree ("source","event_id") WHERE "webhook_inbox"."status" <> 'rejected' and "webhook_inbox"."status" <> 'duplicate';--> statement-breakpoint
CREATE INDEX "webhook_inbox_received" ON "webhook_inbox" USING btree ("received_at");